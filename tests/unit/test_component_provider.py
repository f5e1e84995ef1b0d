"""The component provider's machinery on a probe component: secret marking in the served schema, and construction
from the engine's wire shape (camelCase, nested, secrets, integers as floats, enums as strings)."""

# No `from __future__ import annotations`: the analyzer reads the probe's annotations as objects.
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_random as random
import pytest
from pulumi.errors import InputPropertyError

from plugin.provider import RegistriesProvider, mark_secrets
from tests.support.component_provider import construct, run_under_mocks, wire_secret, wire_secret_output
from tests.support.recording_mocks import RecordingMocks

PROBE = "registries:index:Probe"


class ProbeMode(StrEnum):
    """How the probe serves."""

    FAST = "fast"
    SAFE = "safe"


class ProbeUserArgs(TypedDict):
    """One user of the probe."""

    name: str
    """User name. Required."""
    password: NotRequired[pulumi.Input[str]]
    """Secret. The user's password; generated when absent."""
    uid: NotRequired[int]
    """Numeric user id. Default: 1000."""


class ProbeArgs(TypedDict):
    """Inputs of the probe."""

    hostname: pulumi.Input[str]
    """Name clients use. Not secret, although this sentence says Secret. somewhere."""
    port: NotRequired[int]
    """Host port. Default: 5000."""
    mode: NotRequired[ProbeMode]
    """How it serves. Default: fast."""
    users: NotRequired[list[ProbeUserArgs]]
    """Users. Default: none."""
    api_token: NotRequired[pulumi.Input[str]]
    """Secret. A token for the API."""
    timeout_seconds: NotRequired[pulumi.Input[int]]
    """Request timeout, possibly another resource's output. Default: 30."""
    fallback_modes: NotRequired[list[ProbeMode]]
    """Modes to try after `mode`. Default: none."""
    mode_by_region: NotRequired[dict[str, ProbeMode]]
    """Mode per region. Default: none."""


class Probe(pulumi.ComponentResource):
    """A component that exists to test the provider's machinery."""

    endpoint: pulumi.Output[str]
    """host:port clients use."""
    first_password: pulumi.Output[str]
    """Secret. The first user's password."""

    def __init__(self, name: str, args: ProbeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PROBE, name, {}, opts)
        port = args.get("port", 5000)
        mode = args.get("mode", ProbeMode.FAST)
        users = args.get("users", [])
        uids = [user.get("uid", 1000) for user in users]
        if not isinstance(port, int) or not isinstance(mode, ProbeMode) or not all(isinstance(u, int) for u in uids):
            raise TypeError(f"port {port!r} and uids {uids!r} must be int, mode {mode!r} a ProbeMode")
        timeout = pulumi.Output.from_input(args.get("timeout_seconds", 30)).apply(_int_text)
        fallbacks = args.get("fallback_modes", [])
        by_region = args.get("mode_by_region", {})
        if not all(isinstance(m, ProbeMode) for m in [*fallbacks, *by_region.values()]):
            raise TypeError(f"fallback modes {fallbacks!r} and modes by region {by_region!r} must be ProbeModes")
        passwords: list[pulumi.Output[str]] = []
        for user in users:
            given = user.get("password")
            if given is not None:
                passwords.append(pulumi.Output.secret(given))
                continue
            generated = random.RandomPassword(
                f"{name}-{user['name']}", length=20, opts=pulumi.ResourceOptions(parent=self)
            )
            passwords.append(generated.result)
        # The child that shows what the component received.
        random.RandomPet(
            f"{name}-pet",
            keepers={
                "hostname": args["hostname"],
                "port": str(port),
                "mode": mode.value,
                "token": pulumi.Output.secret(args.get("api_token", "")),
                "users": ",".join(
                    f"{user['name']}:{uid}" for user, uid in zip(args.get("users", []), uids, strict=True)
                ),
                "timeout": timeout,
                "fallbacks": ",".join(m.value for m in fallbacks),
                "regions": ",".join(f"{region}={m.value}" for region, m in sorted(by_region.items())),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = pulumi.Output.concat(args["hostname"], ":", str(port))
        self.first_password = pulumi.Output.secret(passwords[0] if passwords else "")
        self.register_outputs({"endpoint": self.endpoint, "firstPassword": self.first_password})


def _int_text(value: Any) -> str:
    if not isinstance(value, int):
        raise TypeError(f"timeout {value!r} must be an int")
    return str(value)


def probe_schema() -> dict[str, Any]:
    return RegistriesProvider([Probe]).package_schema()


def test_secret_docstrings_become_secret_properties():
    schema = probe_schema()
    resource = schema["resources"][PROBE]
    inputs = resource["inputProperties"]
    assert inputs["apiToken"].get("secret") is True
    assert schema["types"]["registries:index:ProbeUserArgs"]["properties"]["password"].get("secret") is True
    assert resource["properties"]["firstPassword"].get("secret") is True
    # Only a description that starts with the marker counts.
    assert "secret" not in inputs["hostname"]
    assert "secret" not in inputs["port"]
    assert "secret" not in resource["properties"]["endpoint"]
    assert "secret" not in schema["types"]["registries:index:ProbeUserArgs"]["properties"]["name"]


def test_mark_secrets_leaves_its_argument_alone():
    unmarked = {"resources": {PROBE: {"inputProperties": {"token": {"type": "string", "description": "Secret. x"}}}}}
    marked = mark_secrets(unmarked)
    assert marked["resources"][PROBE]["inputProperties"]["token"]["secret"] is True
    assert "secret" not in unmarked["resources"][PROBE]["inputProperties"]["token"]


def test_probe_schema_shape():
    schema = probe_schema()
    assert schema["name"] == "registries"
    resource = schema["resources"][PROBE]
    assert resource["isComponent"] is True
    assert resource["description"] == "A component that exists to test the provider's machinery."
    assert resource["requiredInputs"] == ["hostname"]
    assert resource["inputProperties"]["mode"]["$ref"] == "#/types/registries:index:ProbeMode"
    enum = schema["types"]["registries:index:ProbeMode"]["enum"]
    assert [(member["name"], member["value"]) for member in enum] == [("FAST", "fast"), ("SAFE", "safe")]
    assert resource["inputProperties"]["users"]["items"]["$ref"] == "#/types/registries:index:ProbeUserArgs"


def test_probe_is_constructed_from_wire_inputs():
    mocks = RecordingMocks()
    provider = RegistriesProvider([Probe])
    wire = {
        "hostname": "registry.example.test",
        "port": 5443.0,  # numbers travel as floats
        "mode": "safe",
        "apiToken": wire_secret("tok-123"),
        "timeoutSeconds": wire_secret_output(45.0),
        "fallbackModes": ["safe", "fast"],
        "modeByRegion": {"eu": "safe", "us": "fast"},
        "users": [{"name": "ci", "password": wire_secret_output("ci-password-1"), "uid": 1001.0}, {"name": "admin"}],
    }

    def program() -> dict[str, Any]:
        return construct(provider, PROBE, "probe", wire)

    outputs = run_under_mocks(mocks, program)

    pet = mocks.find("random:index/randomPet:RandomPet", "probe-pet")
    assert pet.plain["keepers"] == {
        "hostname": "registry.example.test",
        "port": "5443",
        "mode": "safe",
        "token": "tok-123",
        "users": "ci:1001,admin:1000",
        "timeout": "45",
        "fallbacks": "safe,fast",
        "regions": "eu=safe,us=fast",
    }
    assert mocks.find("random:index/randomPassword:RandomPassword", "probe-admin").plain["length"] == 20
    assert [r.name for r in mocks.of_type("random:index/randomPassword:RandomPassword")] == ["probe-admin"]
    assert outputs["endpoint"].value == "registry.example.test:5443"
    assert outputs["firstPassword"].value == "ci-password-1"
    assert outputs["firstPassword"].secret


def test_missing_required_input_names_it():
    provider = RegistriesProvider([Probe])

    def program() -> dict[str, Any]:
        return construct(provider, PROBE, "probe", {"users": [{"password": "x"}]})

    with pytest.raises(InputPropertyError, match="hostname"):
        run_under_mocks(RecordingMocks(), program)


def test_a_fractional_integer_input_is_refused_naming_it():
    provider = RegistriesProvider([Probe])

    def program() -> dict[str, Any]:
        return construct(provider, PROBE, "probe", {"hostname": "h", "users": [{"name": "ci", "uid": 1.5}]})

    with pytest.raises(InputPropertyError, match=r"users\[0\]\.uid: 1\.5 is not an integer"):
        run_under_mocks(RecordingMocks(), program)


@pytest.mark.parametrize(
    ("wire", "refused"),
    [
        (
            {"hostname": "h", "users": [wire_secret_output({"name": "ci"})]},
            r"users\[0\]: cannot be secret .* whole object",
        ),
        ({"hostname": "h", "users": wire_secret([{"name": "ci"}])}, r"users: cannot be secret .* whole object"),
        ({"hostname": "h", "mode": wire_secret("safe")}, "mode: must be a plain value"),
        ({"hostname": "h", "port": wire_secret_output(5000.0)}, "port: must be a plain value"),
        ({"hostname": "h", "users": [{"name": wire_secret_output("ci")}]}, r"users\[0\]\.name: must be a plain value"),
        (
            {"hostname": "h", "fallbackModes": ["safe", "slow"]},
            r"fallbackModes\[1\]: 'slow' is not one of 'fast', 'safe'",
        ),
        (
            {"hostname": "h", "modeByRegion": {"eu": wire_secret_output("safe")}},
            r"modeByRegion\.eu: must be a plain value",
        ),
    ],
)
def test_a_bad_object_or_enum_input_is_refused_naming_it(wire: dict[str, Any], refused: str):
    provider = RegistriesProvider([Probe])

    def program() -> dict[str, Any]:
        return construct(provider, PROBE, "probe", wire)

    with pytest.raises(InputPropertyError, match=refused):
        run_under_mocks(RecordingMocks(), program)
