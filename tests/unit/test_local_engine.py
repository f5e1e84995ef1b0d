"""The local engine itself: loud on unknown types, and the Pulumi engine's semantics for up / preview /
refresh / destroy (options from the program, diff every run, replacement order, protect, retain,
unknowns, secrets), checked against an in-memory backend that records every call it gets."""

from __future__ import annotations

import importlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import bcrypt
import docker.errors as docker_errors
import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pytest
import yaml
from cryptography import x509
from pulumi._types import input_type_py_to_pulumi_names
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from tests.support.engine_aws import _lifecycle_rule, _lifecycle_rule_read
from tests.support.engine_aws import _shaped_like as _aws_shaped_like
from tests.support.engine_docker import E2E_LABEL, DockerApplier, _ns, container_read_back, go_duration
from tests.support.engine_dynamic import dynamic_backend
from tests.support.engine_tls import issue_chain
from tests.support.local_engine import (
    ALL_INPUTS,
    REPLACE_ON_CHANGE,
    Applied,
    Backend,
    EngineError,
    LocalEngine,
    Read,
    _apply_ignore_changes,
    parse_property_path,
    table_diff,
)
from tests.support.pulumi_runtime import StackOutput, is_secret, run_program, unwrap

ROOT = Path(__file__).resolve().parents[2]
VOLUME, CONTAINER, NETWORK = (
    "docker:index/volume:Volume",
    "docker:index/container:Container",
    "docker:index/network:Network",
)


def _args(typ: str, name: str, inputs: dict) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(typ=typ, name=name, inputs=inputs, custom=True)


class FakeDocker:
    """Docker objects in memory, with Docker's rule that matters here: names are unique."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._next = 0

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_name = inputs.get("name", name)
        if any(o["typ"] == typ and o["name"] == object_name for o in self.objects.values()):
            raise RuntimeError(f"Conflict. The name {object_name!r} is already in use")
        self._next += 1
        ident = f"id-{self._next}"
        self.objects[ident] = {"typ": typ, "name": object_name, "inputs": inputs}
        self.calls.append(("create", object_name))
        return ident, {**inputs, "name": object_name, "computed": f"made-{self._next}"}

    def delete(self, applied: Applied) -> None:
        self.calls.append(("delete", self.objects[applied.ident]["name"]))
        del self.objects[applied.ident]

    def update(self, applied: Applied, news: dict[str, Any]) -> None:
        self.calls.append(("update", self.objects[applied.ident]["name"]))
        self.objects[applied.ident]["inputs"] = news

    def backend(self) -> Backend:
        return Backend(
            ("docker:",),
            self.create,
            delete=self.delete,
            update=self.update,
            read=lambda a: Read(a.ident, a.outputs) if a.ident in self.objects else None,
        )


def _engine() -> tuple[LocalEngine, FakeDocker]:
    engine, fake = LocalEngine(), FakeDocker()
    engine.add_backend(fake.backend())
    return engine, fake


def _up(
    engine: LocalEngine, program: Callable[[], Mapping[str, Any]], *, preview: bool = False, stack: str = "dev"
) -> dict[str, StackOutput]:
    engine.begin_run()
    outputs = run_program(
        engine, stack=stack, config={"registries:dockerHubSecret": "s3cret"}, preview=preview, program=program
    )
    engine.end_run()
    return outputs


def _data_volume(**opts: Any) -> Callable[[], dict[str, Any]]:
    def program() -> dict[str, Any]:
        volume = docker.Volume("data", name=opts.pop("volume_name", "reg-data"), opts=pulumi.ResourceOptions(**opts))
        return {"volume": volume.name}

    return program


# -- basics -----------------------------------------------------------------------------------------
def test_unknown_resource_type_fails_loudly():
    with pytest.raises(NotImplementedError, match="no backend applies resources of type gcp:"):
        LocalEngine().new_resource(_args("gcp:artifactregistry/repository:Repository", "r", {}))


def test_unchanged_inputs_keep_outputs_changed_inputs_replace_and_dropped_ones_delete():
    engine = LocalEngine()
    engine.begin_run()
    first = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 20}))
    engine.end_run()
    password = unwrap(first[1]["result"])
    assert len(password) == 20
    assert bcrypt.checkpw(password.encode(), unwrap(first[1]["bcryptHash"]).encode())

    engine.begin_run()
    assert engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 20})) == first
    engine.end_run()
    assert engine.changed() == []

    engine.begin_run()
    longer = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 24}))
    engine.end_run()
    assert len(unwrap(longer[1]["result"])) == 24
    assert engine.changed() == [("replace", "random:index/randomPassword:RandomPassword", "pw")]

    engine.begin_run()
    engine.end_run()
    assert engine.changed() == [("delete", "random:index/randomPassword:RandomPassword", "pw")]


def test_password_honours_character_classes():
    engine = LocalEngine()
    inputs = {"length": 40, "special": True, "overrideSpecial": "-_", "minUpper": 3, "minNumeric": 3}
    _, outs = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", inputs))
    result = unwrap(outs["result"])
    assert set(result) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert sum(c.isupper() for c in result) >= 3
    assert sum(c.isdigit() for c in result) >= 3


@pytest.mark.parametrize(
    "algorithm",
    [{"algorithm": "ECDSA", "ecdsaCurve": "P256"}, {"algorithm": "RSA", "rsaBits": 2048}, {"algorithm": "ED25519"}],
)
def test_locally_signed_certificate_chains_to_the_ca_with_sans_and_uses(algorithm):
    chain = issue_chain(algorithm, "localhost", ca_hours=10, cert_hours=5)
    cert, ca = chain["cert"], chain["ca"]
    issued = x509.load_pem_x509_certificate(cert["certPem"].encode())
    authority = x509.load_pem_x509_certificate(ca["certPem"].encode())
    issued.verify_directly_issued_by(authority)
    sans = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    eku = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert (issued.not_valid_after_utc - issued.not_valid_before_utc).total_seconds() == 5 * 3600


# -- options come from the program --------------------------------------------------------------------
def test_resource_options_reach_the_engine_from_the_register_request():
    engine, _fake = _engine()

    def program() -> dict[str, Any]:
        parent = pulumi.ComponentResource("registries:test:Parent", "parent")
        net = docker.Network("net", name="n1", opts=pulumi.ResourceOptions(parent=parent))
        vol = docker.Volume(
            "vol",
            name="v1",
            opts=pulumi.ResourceOptions(
                parent=parent,
                protect=True,
                retain_on_delete=True,
                delete_before_replace=True,
                ignore_changes=["labels"],
                replace_on_changes=["driver"],
                additional_secret_outputs=["mountpoint"],
                depends_on=[net],
            ),
        )
        return {"v": vol.name}

    _up(engine, program)
    vol = engine.find(VOLUME, "vol")
    net = engine.find(NETWORK, "net")
    options = vol.options
    assert (options.protect, options.retain_on_delete, options.delete_before_replace) == (True, True, True)
    assert options.ignore_changes == ("labels",)
    assert options.replace_on_changes == ("driver",)
    assert options.additional_secret_outputs == ("mountpoint",)
    assert net.urn in options.dependencies
    assert options.parent == engine.find("registries:test:Parent", "parent").urn
    assert vol.urn == "urn:pulumi:dev::registries::registries:test:Parent$docker:index/volume:Volume::vol"


def test_an_alias_keeps_the_resource_instead_of_replacing_it():
    engine, fake = _engine()
    _up(engine, lambda: {"v": docker.Volume("old-name", name="v1").name})
    _up(
        engine,
        lambda: {
            "v": docker.Volume(
                "new-name", name="v1", opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-name")])
            ).name
        },
    )
    assert engine.changed() == []
    assert fake.calls == [("create", "v1")]
    assert engine.find(VOLUME, "new-name").ident == "id-1"


# -- diff every run -----------------------------------------------------------------------------------
class StampProvider(ResourceProvider):
    """A dynamic provider that remembers what the engine called, and whose diff looks at old *outputs*."""

    serialize_as_secret_always = False
    calls: list[tuple[str, Any]] = []

    def configure(self, req: Any) -> None:
        StampProvider.calls.append(("configure", req.config.get("dockerHubSecret")))
        self.secret = req.config.get("dockerHubSecret")

    def create(self, props: dict[str, Any]) -> CreateResult:
        StampProvider.calls.append(("create", dict(props)))
        return CreateResult("stamp-1", {**props, "stamp": "v1", "token": f"tok-{self.secret}"})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        StampProvider.calls.append(("diff", (dict(olds), dict(news))))
        drifted = olds.get("stamp") != "v1" or olds.get("size") != news.get("size")
        replace = olds.get("owner") != news.get("owner")
        return DiffResult(changes=drifted or replace, replaces=["owner"] if replace else [])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        StampProvider.calls.append(("update", dict(news)))
        return UpdateResult({**news, "stamp": "v1", "token": olds["token"]})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        StampProvider.calls.append(("read", id_))
        return ReadResult(id_, {**props, "stamp": StampProvider.remote_stamp})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        StampProvider.calls.append(("delete", _id))

    remote_stamp = "v1"


class Stamp(Resource, module="test", name="Stamp"):
    stamp: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            StampProvider(), name, {"stamp": None, "token": None, **props}, pulumi.ResourceOptions.merge(opts, secret)
        )


STAMP = "pulumi-python:dynamic/test:Stamp"


@pytest.fixture
def stamp_engine() -> LocalEngine:
    StampProvider.calls = []
    StampProvider.remote_stamp = "v1"
    engine = LocalEngine()
    engine.add_backend(dynamic_backend())
    return engine


def _stamp_program(size: int = 1, owner: str = "me", **opts: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"token": Stamp("s", {"size": size, "owner": owner}, pulumi.ResourceOptions(**opts)).token}


def test_dynamic_providers_are_configured_like_the_host_and_diffed_every_run_with_old_outputs(stamp_engine):
    outputs = _up(stamp_engine, _stamp_program())
    assert ("configure", "s3cret") in StampProvider.calls  # Config(raw_config={"registries:dockerHubSecret": ...})
    assert outputs["token"].value == "tok-s3cret"
    assert outputs["token"].secret
    StampProvider.calls = []
    _up(stamp_engine, _stamp_program())
    diffs = [args for op, args in StampProvider.calls if op == "diff"]
    assert len(diffs) == 1, "the provider's diff runs even though the program's inputs did not change"
    olds, news = diffs[0]
    assert olds["stamp"] == "v1", "diff gets the old outputs"
    assert olds["token"] == "tok-s3cret", "secrets unwrapped, as the host passes them"
    assert "__provider" in olds
    assert "__provider" in news
    assert stamp_engine.changed() == []


def test_a_diff_that_reports_changes_for_equal_inputs_updates_every_run(stamp_engine):
    _up(stamp_engine, _stamp_program())
    stamp_engine.resources[stamp_engine.find(STAMP, "s").urn].outputs["stamp"] = "v0"  # what a provider bug does
    _up(stamp_engine, _stamp_program())
    assert stamp_engine.changed() == [("update", STAMP, "s")]


def test_ignore_changes_keeps_the_old_input_before_the_diff(stamp_engine):
    _up(stamp_engine, _stamp_program(size=1))
    _up(stamp_engine, _stamp_program(size=2, ignore_changes=["size"]))
    assert stamp_engine.changed() == []
    _up(stamp_engine, _stamp_program(size=2))
    assert stamp_engine.changed() == [("update", STAMP, "s")]


def test_replace_on_changes_turns_an_update_into_a_replacement(stamp_engine):
    _up(stamp_engine, _stamp_program(size=1))
    _up(stamp_engine, _stamp_program(size=2, replace_on_changes=["size"]))
    assert stamp_engine.changed() == [("replace", STAMP, "s")]


def _snake_to_args_class(typ: str) -> type:
    package, module, name = typ.split(":")
    module = module.split("/")[0]
    sdk = importlib.import_module(f"pulumi_{package}" + ("" if module == "index" else f".{module}"))
    return getattr(sdk, f"{name}InitArgs", None) or getattr(sdk, f"{name}Args")


@pytest.mark.parametrize("typ", sorted(REPLACE_ON_CHANGE))
def test_every_replace_on_change_entry_names_real_inputs_and_drives_the_diff(typ):
    inputs = set(input_type_py_to_pulumi_names(_snake_to_args_class(typ)).values())
    table = REPLACE_ON_CHANGE[typ]
    force_new = inputs if table is ALL_INPUTS else table
    assert force_new <= inputs, f"not an input of {typ}: {sorted(force_new - inputs)}"
    old = Applied(typ, "r", "id", {k: "old" for k in inputs}, {k: "old" for k in inputs})
    for key in sorted(inputs):
        diff = table_diff(typ, old, {**old.inputs, key: "new"})
        assert diff.changes
        assert diff.changed_keys == (key,)
        assert bool(diff.replaces) == (key in force_new), f"{typ}.{key}"
    assert not table_diff(typ, old, dict(old.inputs)).changes


def test_docker_container_inputs_that_force_a_new_container_match_pulumi_docker():
    table = REPLACE_ON_CHANGE[CONTAINER]
    assert {"name", "image", "ports", "uploads", "envs", "volumes", "networksAdvanced", "labels"} <= table
    assert not {"restart", "healthcheck", "mustRun", "wait", "waitTimeout", "memory"} & table


# -- replacement order ----------------------------------------------------------------------------------
def test_replacement_creates_first_by_default_so_a_fixed_name_conflicts():
    engine, fake = _engine()
    _up(
        engine,
        _data_volume(labels=None) if False else lambda: {"v": docker.Volume("data", name="v1", driver="local").name},
    )
    with pytest.raises(Exception, match="already in use"):
        _up(engine, lambda: {"v": docker.Volume("data", name="v1", driver="other").name})
    assert fake.calls == [("create", "v1")], "the old volume was not deleted first"


def test_replacement_with_delete_before_replace_deletes_first():
    engine, fake = _engine()
    dbr = pulumi.ResourceOptions(delete_before_replace=True)
    _up(engine, lambda: {"v": docker.Volume("data", name="v1", driver="local", opts=dbr).name})
    _up(engine, lambda: {"v": docker.Volume("data", name="v1", driver="other", opts=dbr).name})
    assert fake.calls == [("create", "v1"), ("delete", "v1"), ("create", "v1")]
    assert engine.changed() == [("replace", VOLUME, "data")]


def test_a_container_is_deleted_before_its_replacement_as_pulumi_docker_asks():
    """pulumi-docker's provider/resources.go sets DeleteBeforeReplace on docker_container, so tfbridge's diff asks
    the engine to delete first on every replacement (here with a fixed name, which create-first would break)."""
    engine, fake = _engine()
    _up(engine, lambda: {"c": docker.Container("box", name="box", image="img:1").name})
    _up(engine, lambda: {"c": docker.Container("box", name="box", image="img:2").name})
    assert fake.calls == [("create", "box"), ("delete", "box"), ("create", "box")]


def test_delete_before_replace_false_overrides_the_provider_and_creates_the_container_first():
    """The engine lets an explicit deleteBeforeReplace (true or false) override the provider's request."""
    engine, fake = _engine()
    first = pulumi.ResourceOptions(delete_before_replace=False)
    _up(engine, lambda: {"c": docker.Container("box", name="box-a", image="img:1", opts=first).name})
    _up(engine, lambda: {"c": docker.Container("box", name="box-b", image="img:2", opts=first).name})
    assert fake.calls == [("create", "box-a"), ("create", "box-b"), ("delete", "box-a")]


def test_create_before_delete_deletes_the_old_object_at_the_end():
    engine, fake = _engine()
    _up(engine, lambda: {"v": docker.Volume("data", name="v1").name})
    _up(engine, lambda: {"v": docker.Volume("data", name="v2").name})
    assert fake.calls == [("create", "v1"), ("create", "v2"), ("delete", "v1")]
    assert [o["name"] for o in fake.objects.values()] == ["v2"]


def test_delete_before_replace_first_deletes_dependents_an_unknown_input_would_replace():
    engine, fake = _engine()

    def program(network_name: str) -> Callable[[], dict[str, Any]]:
        def body() -> dict[str, Any]:
            dbr = pulumi.ResourceOptions(delete_before_replace=True)
            net = docker.Network("net", name=network_name, opts=dbr)
            box = docker.Container(
                "box",
                name="box",
                image="img",
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
                opts=dbr,
            )
            return {"box": box.name}

        return body

    _up(engine, program("n1"))
    _up(engine, program("n2"))
    assert fake.calls[2:] == [("delete", "box"), ("delete", "n1"), ("create", "n2"), ("create", "box")]
    assert sorted(engine.changed()) == [("replace", CONTAINER, "box"), ("replace", NETWORK, "net")]


# -- protect and retain -------------------------------------------------------------------------------
def test_a_protected_resource_cannot_be_replaced_deleted_or_destroyed():
    engine, fake = _engine()
    protect = pulumi.ResourceOptions(protect=True)
    _up(engine, lambda: {"v": docker.Volume("data", name="v1", opts=protect).name})
    urn = engine.find(VOLUME, "data").urn
    with pytest.raises(
        Exception, match=re.escape(f'unable to replace resource "{urn}"\nas it is currently marked for protection')
    ):
        _up(engine, lambda: {"v": docker.Volume("data", name="v2", opts=protect).name})
    with pytest.raises(EngineError, match=re.escape(f'resource "{urn}" cannot be deleted\nbecause it is protected')):
        _up(engine, lambda: {})
    with pytest.raises(EngineError, match="pulumi state unprotect"):
        engine.destroy()
    assert fake.calls == [("create", "v1")]
    # Unprotected in the program and replaced in the same run: allowed, as the engine allows it.
    _up(engine, lambda: {"v": docker.Volume("data", name="v2").name})
    assert [o["name"] for o in fake.objects.values()] == ["v2"]


def test_a_retained_resource_leaves_state_but_stays_in_the_backend():
    engine, fake = _engine()
    _up(
        engine, lambda: {"v": docker.Volume("data", name="v1", opts=pulumi.ResourceOptions(retain_on_delete=True)).name}
    )
    _up(engine, lambda: {})
    assert engine.changed() == [("delete", VOLUME, "data")]
    assert [o["name"] for o in fake.objects.values()] == ["v1"]
    assert not [a for a in engine.resources.values() if a.custom]


def test_destroy_deletes_dependents_first_and_stops_at_a_protected_resource_before_its_group():
    engine, fake = _engine()

    def program() -> dict[str, Any]:
        vol = docker.Volume("vol", name="vol", opts=pulumi.ResourceOptions(protect=True))
        net = docker.Network("net", name="net")
        box = docker.Container(
            "box",
            name="box",
            image="img",
            volumes=[docker.ContainerVolumeArgs(volume_name=vol.name, container_path="/data")],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        )
        return {"box": box.name}

    _up(engine, program)
    with pytest.raises(EngineError, match="cannot be deleted\nbecause it is protected"):
        engine.destroy()
    # The container goes first (it depends on both); then the volume's group: the network beside it is deleted (the
    # real engine deletes it in parallel, measured on v3.276.0), the volume stays.
    assert fake.calls[3:] == [("delete", "box"), ("delete", "net")]
    assert {a.name for a in engine.resources.values()} == {"vol"}


def test_destroy_honours_retain_and_empties_state():
    engine, fake = _engine()

    def program() -> dict[str, Any]:
        vol = docker.Volume("vol", name="vol", opts=pulumi.ResourceOptions(retain_on_delete=True))
        box = docker.Container(
            "box",
            name="box",
            image="img",
            volumes=[docker.ContainerVolumeArgs(volume_name=vol.name, container_path="/d")],
        )
        return {"box": box.name}

    _up(engine, program)
    engine.destroy()
    assert fake.calls[2:] == [("delete", "box")]
    assert [o["name"] for o in fake.objects.values()] == ["vol"]
    assert engine.resources == {}


# -- preview --------------------------------------------------------------------------------------------
def test_preview_plans_creates_changes_nothing_and_leaves_computed_outputs_unknown():
    engine, fake = _engine()

    def program() -> dict[str, Any]:
        vol = docker.Volume("vol", name="vol")
        return {"name": vol.name, "mountpoint": vol.mountpoint}

    outputs = _up(engine, program, preview=True)
    assert fake.calls == []
    assert engine.resources == {}
    assert [(s.op, s.typ) for s in engine.plan if s.typ == VOLUME] == [("create", VOLUME)]
    assert outputs["name"].value == "vol"  # an input: known
    assert outputs["mountpoint"].value is None  # computed by the provider: unknown in a preview


def test_preview_hands_dynamic_providers_unknown_inputs_and_plans_what_they_say(stamp_engine):
    def program(size: int) -> Callable[[], dict[str, Any]]:
        def body() -> dict[str, Any]:
            first = Stamp("first", {"size": size, "owner": "me"})
            second = Stamp("second", {"size": 1, "owner": first.stamp})
            return {"second": second.stamp}

        return body

    _up(stamp_engine, program(1))
    StampProvider.calls = []
    _up(stamp_engine, program(2), preview=True)
    assert [c[0] for c in StampProvider.calls if c[0] in ("create", "update", "delete")] == []
    _olds, news = [args for op, args in StampProvider.calls if op == "diff"][1]
    assert isinstance(news["owner"], pulumi.output.Unknown)  # what the host passes for an unknown input
    plan = {s.name: s.op for s in stamp_engine.plan if s.typ == STAMP}
    assert plan == {"first": "update", "second": "replace"}


# -- refresh ----------------------------------------------------------------------------------------------
def test_refresh_drops_what_is_gone_and_reads_drift_that_the_next_up_repairs(stamp_engine):
    engine, fake = _engine()
    _up(engine, lambda: {"v": docker.Volume("data", name="v1").name})
    fake.objects.clear()  # deleted out of band
    assert [(s.op, s.name) for s in engine.refresh() if s.typ == VOLUME] == [("delete", "data")]
    _up(engine, lambda: {"v": docker.Volume("data", name="v1").name})
    assert engine.changed() == [("create", VOLUME, "data")]

    _up(stamp_engine, _stamp_program())
    StampProvider.remote_stamp = "edited-on-hub"
    assert [(s.op, s.name) for s in stamp_engine.refresh() if s.typ == STAMP] == [("update", "s")]
    _up(stamp_engine, _stamp_program())
    assert stamp_engine.changed() == [("update", STAMP, "s")]


# -- secrets ----------------------------------------------------------------------------------------------
def test_additional_secret_outputs_are_secret_in_state_and_the_state_file_holds_no_secret_in_plain(stamp_engine):
    _up(stamp_engine, _stamp_program())
    stamp = stamp_engine.find(STAMP, "s")
    assert is_secret(stamp.outputs["token"])
    assert not is_secret(stamp.outputs["stamp"])
    engine, _fake = _engine()

    def program() -> dict[str, Any]:
        pw = random.RandomPassword("pw", length=24)
        vol = docker.Volume("v", name="v", labels=[docker.VolumeLabelArgs(label="pw", value=pw.result)])
        return {"v": vol.name}

    _up(engine, program)
    password = unwrap(engine.find("random:index/randomPassword:RandomPassword", "pw").outputs["result"])
    document = engine.state_document() + stamp_engine.state_document()
    for secret in (password, "tok-s3cret"):
        assert secret not in document
    assert '"v"' in document
    assert "ciphertext" in document


def test_the_state_of_the_local_stack_holds_no_secret_in_plain():
    """The real program on the engine (Docker in memory): every password, hash and key is encrypted in state."""
    engine, _fake = _engine()
    spec = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]["registries:selfHosted"]
    spec["users"] = [{"name": "admin"}, {"name": "ci", "password": "a-given-password-for-ci"}]
    engine.begin_run()
    config = {"registries:selfHosted": json.dumps(spec)}
    outputs = run_program(engine, stack="local", config=config, secret_keys=list(config))
    engine.end_run()
    secrets = [*outputs["users"].value.values(), outputs["dockerConfigJson"].value]
    for applied in engine.resources.values():
        secrets += [unwrap(v) for v in applied.outputs.values() if is_secret(v) and isinstance(unwrap(v), str)]
    assert len(secrets) > 5
    document = engine.state_document()
    leaked = [s[:6] + "..." for s in secrets if s in document]
    assert not leaked
    assert "selfhosted-registry" in document


def test_after_a_failed_step_the_engine_applies_nothing_more_and_deletes_nothing():
    engine, fake = _engine()
    _up(engine, lambda: {"old": docker.Volume("old", name="old").name})
    engine.begin_run()
    engine.new_resource(_args(VOLUME, "first", {"name": "taken"}))
    with pytest.raises(RuntimeError, match="already in use"):
        engine.new_resource(_args(VOLUME, "second", {"name": "taken"}))  # Docker answers 409
    with pytest.raises(EngineError, match=r"stopped at an earlier error: .*already in use"):
        engine.new_resource(_args(VOLUME, "third", {"name": "later"}))
    assert ("create", "later") not in fake.calls
    with pytest.raises(EngineError, match="nothing it would delete was deleted"):
        engine.end_run()
    assert ("delete", "old") not in fake.calls


# -- ignoreChanges: Pulumi property paths ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("labels", ["labels"]),
        ("labels[0].value", ["labels", 0, "value"]),
        ("healthcheck.interval", ["healthcheck", "interval"]),
        ("tags.Owner", ["tags", "Owner"]),
        ('tags["team.name"]', ["tags", "team.name"]),
        ("ports[*].external", ["ports", "*", "external"]),
        ("*", ["*"]),
    ],
)
def test_property_paths_parse_as_pulumi_writes_them(path, segments):
    assert parse_property_path(path) == segments


def _labelled_container(value: str, interval: str, retries: int, **opts: Any) -> Callable[[], dict[str, Any]]:
    def program() -> dict[str, Any]:
        container = docker.Container(
            "c",
            name="c1",
            image="sha256:abc",
            labels=[docker.ContainerLabelArgs(label="team", value=value)],
            healthcheck=docker.ContainerHealthcheckArgs(tests=["CMD", "true"], interval=interval, retries=retries),
            opts=pulumi.ResourceOptions(**opts),
        )
        return {"c": container.name}

    return program


def test_ignore_changes_below_the_top_level_keeps_only_that_path():
    engine, fake = _engine()
    ignore = ["labels[0].value", "healthcheck.interval"]
    _up(engine, _labelled_container("a", "5s", 3, ignore_changes=ignore))
    _up(engine, _labelled_container("b", "9s", 3, ignore_changes=ignore))
    assert engine.changed() == [], "the ignored paths kept their old values"
    _up(engine, _labelled_container("b", "9s", 4, ignore_changes=ignore))
    assert engine.changed() == [("update", CONTAINER, "c")], "a sibling of an ignored path still diffs"
    kept = engine.find(CONTAINER, "c").inputs["healthcheck"]
    assert (kept["interval"], kept["retries"]) == ("5s", 4)
    assert engine.find(CONTAINER, "c").inputs["labels"] == [{"label": "team", "value": "a"}]
    assert ("update", "c1") in fake.calls


def test_ignore_changes_of_a_map_key_and_a_wildcard():
    olds = {"tags": {"Owner": "ops", "Env": "dev"}, "ports": [{"internal": 1, "external": 10}]}
    news = {"tags": {"Owner": "me", "Env": "prod"}, "ports": [{"internal": 1, "external": 11}]}
    kept = _apply_ignore_changes(olds, news, ["tags.Owner", "ports[*].external"])
    assert kept == {"tags": {"Owner": "ops", "Env": "prod"}, "ports": [{"internal": 1, "external": 10}]}
    # A path the old inputs lack is dropped from the new ones, as PropertyPath.Reset does.
    assert _apply_ignore_changes({"tags": {}}, {"tags": {"Owner": "me"}}, ["tags.Owner"]) == {"tags": {}}


def test_ignore_changes_of_a_path_whose_parent_the_new_inputs_lack_fails_as_pulumi_does():
    with pytest.raises(EngineError, match=r'one or more elements of the path are missing: "healthcheck\.interval"'):
        _apply_ignore_changes({"healthcheck": {"interval": "5s"}}, {}, ["healthcheck.interval"])


# -- refresh reads Docker objects back as pulumi-docker does -------------------------------------------------
class FakeDockerApi:
    """The inspect documents of FakeDocker's objects, as the Docker Engine API returns them; a test edits
    them to make out-of-band drift."""

    def __init__(self, fake: FakeDocker, session: str) -> None:
        self.fake, self.session = fake, session
        self.documents: dict[str, dict[str, Any]] = {}

    def document(self, ident: str) -> dict[str, Any]:
        if ident not in self.fake.objects:
            raise docker_errors.NotFound(f"No such object: {ident}")
        obj = self.fake.objects[ident]
        if ident not in self.documents or self.documents[ident]["_inputs"] is not obj["inputs"]:
            self.documents[ident] = self._inspect(obj["typ"], obj["name"], obj["inputs"])
        return self.documents[ident]

    def _inspect(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        labels = {item["label"]: item["value"] for item in inputs.get("labels") or []} | {E2E_LABEL: self.session}
        doc: dict[str, Any] = {"_inputs": inputs, "Name": name, "Labels": labels}
        if typ == CONTAINER:
            ports: dict[str, list[dict[str, str]]] = {}
            for port in inputs.get("ports") or []:
                ip = port.get("ip", "0.0.0.0")
                bindings = [{"HostIp": ip, "HostPort": str(int(port["external"]))}]
                bindings += [{"HostIp": "::", "HostPort": str(int(port["external"]))}] if ip == "0.0.0.0" else []
                ports[f"{int(port['internal'])}/{port.get('protocol', 'tcp')}"] = bindings
            check = inputs.get("healthcheck") or {}
            doc = {
                "_inputs": inputs,
                "Name": f"/{name}",
                "Image": inputs["image"],
                "State": {"Running": True},
                "Config": {
                    "Labels": labels,
                    "Env": list(inputs.get("envs") or []),
                    "Healthcheck": {
                        "Test": check.get("tests"),
                        "Interval": _ns(check.get("interval", "30s")),
                        "Timeout": _ns(check.get("timeout", "30s")),
                        "StartPeriod": _ns(check.get("startPeriod", "0s")),
                        "Retries": check.get("retries", 3),
                    },
                },
                "HostConfig": {"RestartPolicy": {"Name": inputs.get("restart", "no")}, "NetworkMode": "bridge"},
                "NetworkSettings": {"Ports": ports, "Networks": {}},
            }
        elif typ == NETWORK:
            doc |= {"Driver": inputs.get("driver", "bridge"), "Internal": bool(inputs.get("internal")), "Options": {}}
        else:
            doc |= {"Driver": inputs.get("driver", "local"), "Options": None}
        return doc

    inspect_container = inspect_volume = inspect_network = document


class FakeDockerClient:
    """Just enough of docker.DockerClient for DockerApplier's read and delete."""

    def __init__(self, fake: FakeDocker, session: str) -> None:
        self.api = FakeDockerApi(fake, session)
        self.containers = self

    def get(self, ident: str) -> Any:
        fake = self.api.fake
        return type("Handle", (), {"remove": lambda _self, **_kw: fake.objects.pop(ident)})()


def _read_back_engine() -> tuple[LocalEngine, FakeDocker, FakeDockerApi]:
    engine, fake = LocalEngine(), FakeDocker()
    client = FakeDockerClient(fake, "session-1")
    applier = DockerApplier(client, "session-1")  # type: ignore[arg-type] - the fake has what read uses
    engine.add_backend(replace(fake.backend(), read=applier.read))
    return engine, fake, client.api


def _registry_like() -> dict[str, Any]:
    replace_first = pulumi.ResourceOptions(delete_before_replace=True)  # fixed names, as the program declares them
    network = docker.Network(
        "net",
        name="reg-net",
        internal=False,
        labels=[docker.NetworkLabelArgs(label="managed", value="pulumi")],
        opts=replace_first,
    )
    volume = docker.Volume(
        "data", name="reg-data", labels=[docker.VolumeLabelArgs(label="managed", value="pulumi")], opts=replace_first
    )
    container = docker.Container(
        "registry",
        name="reg",
        image="sha256:abc",
        restart="unless-stopped",
        must_run=True,
        envs=["A=1"],
        ports=[
            docker.ContainerPortArgs(internal=5000, external=5000, ip="0.0.0.0"),
            docker.ContainerPortArgs(internal=5001, external=5001, ip="127.0.0.1"),
        ],
        healthcheck=docker.ContainerHealthcheckArgs(tests=["CMD", "true"], interval="1m30s", timeout="3s", retries=3),
        labels=[docker.ContainerLabelArgs(label="managed", value="pulumi")],
        opts=pulumi.ResourceOptions(delete_before_replace=True, depends_on=[network, volume]),
    )
    return {"c": container.name}


def _object(fake: FakeDocker, name: str) -> str:
    return next(ident for ident, obj in fake.objects.items() if obj["name"] == name)


def test_a_clean_refresh_of_docker_objects_reads_them_back_without_drift():
    engine, _fake, _api = _read_back_engine()
    _up(engine, _registry_like)
    assert [s for s in engine.refresh() if s.op != "same"] == []
    _up(engine, _registry_like)
    assert engine.changed() == []


@pytest.mark.parametrize(
    ("name", "edit", "typ", "keys"),
    [
        ("reg", lambda d: d["HostConfig"]["RestartPolicy"].update(Name="no"), CONTAINER, ["restart"]),
        ("reg", lambda d: d.update(Image="sha256:other"), CONTAINER, ["image"]),
        ("reg", lambda d: d["NetworkSettings"]["Ports"]["5001/tcp"][0].update(HostPort="6001"), CONTAINER, ["ports"]),
        ("reg", lambda d: d["Config"]["Healthcheck"].update(Retries=9), CONTAINER, ["healthcheck"]),
        ("reg-data", lambda d: d["Labels"].update(managed="by-hand"), VOLUME, ["labels"]),
        ("reg-net", lambda d: d.update(Internal=True), NETWORK, ["internal"]),
    ],
    ids=["restart", "image", "ports", "healthcheck", "volume-labels", "network-internal"],
)
def test_docker_drift_is_read_by_refresh_for_that_resource_alone_and_the_next_up_repairs_it(name, edit, typ, keys):
    engine, fake, api = _read_back_engine()
    _up(engine, _registry_like)
    edit(api.document(_object(fake, name)))  # out of band

    assert [(s.op, s.typ) for s in engine.refresh() if s.op != "same"] == [("update", typ)]
    _up(engine, _registry_like)
    step = next(s for s in engine.plan if s.typ == typ)
    expected = "update" if keys[0] in ("restart", "healthcheck") else "replace"  # not ForceNew
    assert (step.op, list(step.keys)) == (expected, keys)
    assert [s for s in engine.refresh() if s.op != "same"] == [], "up repaired it"


def test_docker_refresh_does_not_read_env_or_labels_of_a_container_as_pulumi_docker_does_not():
    engine, fake, api = _read_back_engine()
    _up(engine, _registry_like)
    doc = api.document(_object(fake, "reg"))
    doc["Config"]["Env"] = ["A=2"]
    doc["Config"]["Labels"] = {}
    assert [s for s in engine.refresh() if s.op != "same"] == []


def test_refresh_removes_a_must_run_container_that_stopped_and_up_creates_it_again():
    engine, fake, api = _read_back_engine()
    _up(engine, _registry_like)
    api.document(_object(fake, "reg"))["State"]["Running"] = False
    assert [(s.op, s.name) for s in engine.refresh() if s.op != "same"] == [("delete", "registry")]
    assert "reg" not in {o["name"] for o in fake.objects.values()}, "the provider's read deletes it"
    _up(engine, _registry_like)
    assert engine.changed() == [("create", CONTAINER, "registry")]


def test_container_read_back_maps_inspect_to_the_declared_inputs_only():
    inspect = {
        "Name": "/reg",
        "Image": "sha256:abc",
        "Config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 90_000_000_000, "Retries": 3}},
        "HostConfig": {"RestartPolicy": {"Name": "always"}, "NetworkMode": "reg-net"},
        "NetworkSettings": {
            "Ports": {"5000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5000"}, {"HostIp": "::", "HostPort": "5000"}]}
        },
    }
    declared = {
        "name": "reg",
        "restart": "unless-stopped",
        "ports": [{"internal": 5000, "external": 5000}],
        "healthcheck": {"tests": ["CMD", "true"], "interval": "1m30s"},
    }
    assert container_read_back(inspect, declared) == {
        "name": "reg",
        "restart": "always",
        "ports": [{"internal": 5000, "external": 5000}],  # Docker's IPv6 twin of 0.0.0.0 is one binding
        "healthcheck": {"tests": ["CMD", "true"], "interval": "1m30s"},
    }
    assert [go_duration(n) for n in (0, 250_000_000, 5_000_000_000, 90_000_000_000, 3_600_000_000_000)] == [
        "0s",
        "250ms",
        "5s",
        "1m30s",
        "1h0m0s",
    ]


def test_a_lifecycle_rule_read_back_from_s3_is_the_declared_rule():
    declared = {
        "id": "abort-uploads",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0},  # numbers reach providers as floats
    }
    as_s3_returns_it = _lifecycle_rule(declared)
    assert _aws_shaped_like([_lifecycle_rule_read(as_s3_returns_it)], [declared]) == [declared]
    as_s3_returns_it["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] = 30
    assert _aws_shaped_like([_lifecycle_rule_read(as_s3_returns_it)], [declared]) != [declared]
