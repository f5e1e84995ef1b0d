"""SelfHostedRegistry used as a library: Inputs from other resources, plain nested dicts (the component provider's
shape), the analyzer's view of the args, run-time errors naming the arg, and the library example."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import bcrypt
import pulumi
import pulumi_random as random
import pytest
import yaml
from pulumi.provider.experimental.analyzer import Analyzer

from components.selfhosted import SelfHostedRegistry, SelfHostedRegistryArgs
from registries.config.selfhosted import SelfHostedSpec
from registries.mapping.selfhosted import selfhosted_args
from tests.support.pulumi_runtime import is_secret, run_program, unwrap, upload_content, without_secrets
from tests.support.recording_mocks import RecordingMocks
from tests.unit.test_selfhosted_unchanged import VARIANTS

CONTAINER = "docker:index/container:Container"
CSR = "tls:index/certRequest:CertRequest"
PET = "random:index/randomPet:RandomPet"
CONFIG_YML = "/etc/distribution/config.yml"


def _upload(mocks: RecordingMocks, path: str, container: str = "selfhosted-registry") -> Any:
    """An upload's content as declared (a secret one stays wrapped)."""
    return upload_content(mocks.find(CONTAINER, container).inputs, path)


def _secret_upload(mocks: RecordingMocks, path: str, container: str = "selfhosted-registry") -> bool:
    """Whether the upload's content reaches the provider as a secret (per element, as the engine keeps it)."""
    return is_secret(_upload(mocks, path, container))


def _pet_name(mocks: RecordingMocks) -> str:
    """The name the mocks' RandomPet returned (its ID)."""
    pet = next(r for r in mocks.resources if r.typ == PET)
    return f"{pet.name}-{hashlib.sha256(f'{pet.name}/pet'.encode()).hexdigest()[:6]}"


def _declare(build: Any) -> tuple[RecordingMocks, dict[str, Any]]:
    """Run `build()` (returns the outputs) as a program of its own, under inert mocks."""
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="library", config={}, program=build)
    return mocks, outputs


def test_the_analyzer_reads_the_args_and_marks_secret_inputs():
    result = Analyzer("registries").analyze([SelfHostedRegistry])
    component = result["component_definitions"]["SelfHostedRegistry"]
    types = result["type_definitions"]
    assert {"hostname", "bindAddress", "tls", "users", "storage", "ui", "notifications"} <= set(component.inputs)
    assert component.inputs["hostname"].plain is None  # an Input: another resource's output is accepted
    assert component.inputs["port"].plain is True  # shapes the resources: plain
    assert types["SelfHostedTlsMode"].enum is not None
    assert [member.value for member in types["SelfHostedTlsMode"].enum] == ["selfSigned", "provided", "none"]
    secret_fields = {
        (name, key)
        for name, typ in types.items()
        for key, prop in (typ.properties or {}).items()
        if (prop.description or "").startswith("Secret.")
    }
    assert secret_fields == {
        ("SelfHostedTlsArgs", "certificate"),
        ("SelfHostedTlsArgs", "privateKey"),
        ("SelfHostedUserArgs", "password"),
        ("SelfHostedS3Args", "accessKey"),
        ("SelfHostedS3Args", "secretKey"),
        ("SelfHostedNotificationArgs", "authorization"),
        ("SelfHostedMirrorArgs", "password"),
    }
    assert {"endpoint", "userPasswords", "dockerConfigJson", "loginCommand", "bucket"} <= set(component.outputs)


def _declared_inputs(mocks: RecordingMocks) -> dict[str, Any]:
    return {f"{r.typ} {r.name}": r.inputs for r in mocks.resources}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_plain_nested_dicts_with_string_enums_declare_what_the_mapping_declares(variant):
    """The component provider passes args as plain dicts (enums as their strings): same resources, same inputs."""
    args = selfhosted_args(SelfHostedSpec.model_validate(VARIANTS[variant]), production=False)
    plain = json.loads(json.dumps(args))
    assert "SelfHostedTlsMode" not in repr(plain)
    typed, _ = _declare(lambda: {"endpoint": SelfHostedRegistry("selfhosted", args).endpoint})
    dicts, _ = _declare(lambda: {"endpoint": SelfHostedRegistry("selfhosted", plain).endpoint})
    assert _declared_inputs(dicts) == _declared_inputs(typed)


def test_hostname_bucket_and_webhook_from_other_resources_reach_every_place_they_are_used():
    def build() -> dict[str, Any]:
        pet = random.RandomPet("dns-name")
        hostname = pulumi.Output.concat(pet.id, ".example.test")
        args: SelfHostedRegistryArgs = {
            "hostname": hostname,
            "tls": {"extra_dns_names": [pulumi.Output.concat("alt-", pet.id)]},
            "ui": {"enabled": True, "bind_address": pulumi.Output.from_input("0.0.0.0")},
            "storage": {
                "s3": {"bucket": pulumi.Output.concat(pet.id, "-images"), "region": "eu-west-1", "create": False}
            },
            "notifications": [
                {
                    "name": "audit",
                    "url": pulumi.Output.concat("https://", hostname, "/hook"),
                    "headers": {"X-Pet": pet.id},
                    "authorization": pulumi.Output.from_input("Bearer from-a-secret-store"),
                }
            ],
        }
        registry = SelfHostedRegistry("selfhosted", args)
        return {"endpoint": registry.endpoint, "login": registry.login_command, "ui": registry.ui_url}

    mocks, outputs = _declare(build)
    name = _pet_name(mocks)
    host = f"{name}.example.test"
    assert outputs["endpoint"].value == f"{host}:5000"
    assert outputs["login"].value == f"docker login {host}:5000 --username admin --password-stdin"
    assert outputs["ui"].value == f"https://{host}:8080"
    assert _secret_upload(mocks, CONFIG_YML)  # it holds the Authorization header
    config = yaml.safe_load(unwrap(_upload(mocks, CONFIG_YML)))
    assert config["http"]["host"] == f"https://{host}:5000"
    assert config["storage"]["s3"]["bucket"] == f"{name}-images"
    (hook,) = config["notifications"]["endpoints"]
    assert hook["url"] == f"https://{host}/hook"
    assert hook["headers"] == {"X-Pet": [name], "Authorization": ["Bearer from-a-secret-store"]}
    csr = mocks.find(CSR, "selfhosted-server-csr").plain
    assert csr["dnsNames"] == [host, f"alt-{name}", "registry"]
    assert csr["subject"]["commonName"] == host
    ui_env = unwrap(mocks.find(CONTAINER, "selfhosted-ui").inputs["envs"])
    assert f"PULL_URL={host}:5000" in ui_env


def test_a_plain_authorization_header_given_by_a_library_user_still_travels_as_a_secret():
    def build() -> dict[str, Any]:
        args: SelfHostedRegistryArgs = {
            "notifications": [{"name": "audit", "url": "https://hooks.test/x", "authorization": "Bearer plain-given"}]
        }
        return {"endpoint": SelfHostedRegistry("selfhosted", args).endpoint}

    mocks, _ = _declare(build)
    assert _secret_upload(mocks, CONFIG_YML)
    plain_inputs = json.dumps(without_secrets(mocks.find(CONTAINER, "selfhosted-registry").inputs))
    assert "plain-given" not in plain_inputs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"users": [{"name": "ci"}, {"name": "ci"}]}, "users[1].name: 'ci' is given twice"),
        ({"users": [{"name": "a:b"}]}, "users[0].name: 'a:b' must be"),
        ({"tls": {"mode": "provided", "certificate": "pem"}}, "tls.private_key: required with tls.mode provided"),
        ({"tls": {"mode": "sometimes"}}, "tls.mode: 'sometimes' must be selfSigned, provided or none"),
        ({"network_mode": "host", "ui": {"enabled": True}}, "ui.enabled: the UI reaches the registry"),
        ({"port": 70000}, "port: 70000 must be a port number"),
        ({"debug_port": 5000}, "debug_port: 5000 must differ from port (5000)"),
        (
            {"volume_name": "v", "storage": {"s3": {"bucket": "b", "region": "eu-west-1"}}},
            "volume_name: 'v' only without storage.s3",
        ),
        (
            {"storage": {"s3": {"bucket": "b", "region": "eu-west-1", "access_key": "k", "secret_key": "s"}}},
            "storage.s3.access_key: not with storage.s3.create",
        ),
        (
            {"notifications": [{"name": "a", "url": "https://x.test"}, {"name": "a", "url": "https://y.test"}]},
            "notifications[1].name: 'a' is given twice",
        ),
    ],
)
def test_bad_args_fail_before_any_resource_naming_the_arg_path(args, message):
    mocks = RecordingMocks()
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        run_program(mocks, stack="library", config={}, program=lambda: {"r": SelfHostedRegistry("bad", args).endpoint})
    assert [r.typ for r in mocks.resources if not r.typ.startswith("registries:")] == []


def test_the_library_example_feeds_the_pet_hostname_and_the_random_password_to_the_registry():
    from examples.library.__main__ import USER, library_program

    mocks, outputs = _declare(library_program)
    hostname = f"{_pet_name(mocks)}.localhost"
    assert outputs["endpoint"].value == f"{hostname}:5443"
    assert not outputs["endpoint"].secret
    config = yaml.safe_load(unwrap(_upload(mocks, CONFIG_YML, "library-registry")))
    assert config["http"]["host"] == f"https://{hostname}:5443"
    assert mocks.find(CSR, "library-server-csr").plain["dnsNames"][0] == hostname

    password = outputs["password"].value
    assert outputs["password"].secret
    htpasswd = _upload(mocks, "/auth/htpasswd", "library-registry")
    assert _secret_upload(mocks, "/auth/htpasswd", "library-registry")
    (line,) = unwrap(htpasswd).splitlines()
    user, hashed = line.split(":", 1)
    assert user == USER
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"another-password", hashed.encode())


@pytest.fixture
def abandoned_failures() -> Iterator[list[dict[str, Any]]]:
    """A run that fails inside an apply leaves every dependent resource's output futures failed and unread;
    collect them here instead of letting asyncio print each one at exit."""
    loop = asyncio.get_event_loop()
    previous = loop.get_exception_handler()
    abandoned: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: abandoned.append(context))
    try:
        yield abandoned
        gc.collect()
    finally:
        loop.set_exception_handler(previous)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"hostname": "bad host!"}, "hostname: 'bad host!' must be a DNS name"),
        ({"bind_address": "localhost"}, "bind_address: 'localhost' must be an IPv4 or IPv6 address"),
        ({"ui": {"enabled": True, "bind_address": "everywhere"}}, "ui.bind_address: 'everywhere' must be an IPv4"),
        ({"notifications": [{"name": "a", "url": "ftp://token@x"}]}, "notifications.0..url: must be an http"),
    ],
)
def test_an_input_that_resolves_to_a_bad_value_fails_the_run_naming_the_arg(args, message, abandoned_failures):
    """Values from other resources are checked once they resolve (the update fails, naming the arg)."""

    def as_outputs(value: Any) -> Any:  # every leaf arrives as another resource's output would
        if isinstance(value, dict):
            return {k: v if k in ("name", "enabled") else as_outputs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_outputs(v) for v in value]
        return pulumi.Output.from_input(value)

    with pytest.raises(Exception, match=message) as failure:
        _declare(lambda: {"r": SelfHostedRegistry("bad", as_outputs(args)).endpoint})
    assert "token@x" not in str(failure.value)
