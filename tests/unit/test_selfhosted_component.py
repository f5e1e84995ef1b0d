"""What SelfHostedRegistry declares, for every stack file and for each config key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import bcrypt
import pulumi
import pytest
import yaml

from components.selfhosted.credentials import bcrypt_hash_with_salt
from tests.support.engine_random import apply_random
from tests.support.pulumi_runtime import contains_secret, is_secret, run_program, unwrap
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import STACK_FILES, TEST_KEY, record_options, stack_config

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
PASSWORD = "random:index/randomPassword:RandomPassword"


def _upload(container: Any, path: str) -> str:
    uploads = container.plain["uploads"]
    return next(u["content"] for u in uploads if u["file"] == path)


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_every_stack_file_declares_what_its_config_says(path):
    stack, config, secret_keys = stack_config(path)
    spec = yaml.safe_load(path.read_text())["config"]["registries:selfHosted"]
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)

    registry = mocks.find(CONTAINER, "selfhosted-registry").plain
    assert registry["name"] == spec["name"]
    assert registry["restart"] == "unless-stopped"
    assert registry["ports"] == [{"internal": 5000, "external": spec["port"], "ip": spec["bindAddress"]}]
    assert registry["networksAdvanced"] == [{"name": f"{spec['name']}-net", "aliases": ["registry"]}]
    assert registry["volumes"] == [{"volumeName": f"{spec['name']}-data", "containerPath": "/var/lib/registry"}]
    assert registry["healthcheck"]["tests"][:2] == ["CMD", "wget"]
    config_yml = yaml.safe_load(
        _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/etc/docker/registry/config.yml")
    )
    assert config_yml["http"]["host"] == f"https://{spec['hostname']}:{spec['port']}"
    htpasswd = _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/auth/htpasswd")
    assert [line.split(":")[0] for line in htpasswd.splitlines()] == [u["name"] for u in spec["users"]]

    assert outputs["endpoint"].value == f"{spec['hostname']}:{spec['port']}"
    assert set(outputs["users"].value) == {u["name"] for u in spec["users"]}
    ui_declared = any(r.name == "selfhosted-ui" for r in mocks.of_type(CONTAINER))
    assert ui_declared == spec.get("ui", {}).get("enabled", False)
    tls_mode = spec.get("tls", {}).get("mode", "selfSigned")
    assert bool(mocks.of_type("tls:index/locallySignedCert:LocallySignedCert")) == (tls_mode == "selfSigned")
    endpoints = config_yml.get("notifications", {}).get("endpoints", [])
    assert [e["name"] for e in endpoints] == [n["name"] for n in spec.get("notifications", [])]


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_secrets_are_secret_in_outputs_and_inputs(path):
    stack, config, secret_keys = stack_config(path)
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
    assert outputs["users"].secret
    assert outputs["dockerConfigJson"].secret
    for public in ("endpoint", "loginCommand", "caCertPem", "uiUrl"):
        assert not outputs[public].secret, public
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert is_secret(registry.inputs["envs"]), "REGISTRY_HTTP_SECRET must travel as a secret"
    assert is_secret(registry.inputs["uploads"]), "htpasswd and the TLS key must travel as secrets"
    passwords = outputs["users"].value.values()
    rendered = str({k: v for k, v in registry.plain.items() if k not in ("envs", "uploads")})
    assert not any(p in rendered for p in passwords)
    assert all(p not in outputs["loginCommand"].value for p in passwords)


def test_provided_tls_uploads_the_given_pem_and_declares_no_tls_resources():
    stack, config, secret_keys = stack_config(next(p for p in STACK_FILES if p.name == "Pulumi.prod.yaml"))
    mocks = RecordingMocks()
    run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
    assert not [r for r in mocks.resources if r.typ.startswith("tls:")]
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert _upload(registry, "/certs/server.key") == TEST_KEY


def test_self_signed_tls_chain_has_sans_validity_and_uses(run):
    mocks, outputs = run(
        selfHosted={
            "hostname": "registry.internal",
            "tls": {
                "extraDnsNames": ["reg"],
                "ipAddresses": ["127.0.0.1", "::1"],
                "validityHours": 100,
                "earlyRenewalHours": 10,
                "keyAlgorithm": "RSA",
            },
        }
    )
    csr = mocks.find("tls:index/certRequest:CertRequest", "selfhosted-server-csr").plain
    assert csr["dnsNames"] == ["registry.internal", "reg"]
    assert csr["ipAddresses"] == ["127.0.0.1", "::1"]
    assert csr["subject"]["commonName"] == "registry.internal"
    cert = mocks.find("tls:index/locallySignedCert:LocallySignedCert", "selfhosted-server-cert").plain
    assert cert["validityPeriodHours"] == 100
    assert cert["earlyRenewalHours"] == 10
    assert set(cert["allowedUses"]) == {"digital_signature", "key_encipherment", "server_auth"}
    ca = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-ca-cert").plain
    assert ca["isCaCertificate"] is True
    assert "cert_signing" in ca["allowedUses"]
    key = mocks.find("tls:index/privateKey:PrivateKey", "selfhosted-server-key").plain
    assert key == {"algorithm": "RSA", "rsaBits": 4096}
    assert outputs["caCertPem"].value.startswith("-----BEGIN CERTIFICATE-----")


# (selfHosted config, resource type, resource name, input path, expected value)
KEY_TO_INPUT = [
    ({"port": 5443}, CONTAINER, "selfhosted-registry", ("ports", 0, "external"), 5443),
    ({"bindAddress": "0.0.0.0"}, CONTAINER, "selfhosted-registry", ("ports", 0, "ip"), "0.0.0.0"),
    ({"name": "acme"}, CONTAINER, "selfhosted-registry", ("name",), "acme"),
    ({"name": "acme"}, VOLUME, "selfhosted-data", ("name",), "acme-data"),
    ({"name": "acme"}, "docker:index/network:Network", "selfhosted-network", ("name",), "acme-net"),
    (
        {"image": "registry:2.8.2"},
        "docker:index/remoteImage:RemoteImage",
        "selfhosted-image",
        ("name",),
        "registry:2.8.2",
    ),
    ({"networkMode": "host"}, CONTAINER, "selfhosted-registry", ("networkMode",), "host"),
    ({"passwordLength": 48}, PASSWORD, "selfhosted-password-admin", ("length",), 48),
    ({"ui": {"enabled": True, "port": 9090}}, CONTAINER, "selfhosted-ui", ("ports", 0, "external"), 9090),
    (
        {"ui": {"enabled": True, "image": "joxit/docker-registry-ui:2.5.2"}},
        "docker:index/remoteImage:RemoteImage",
        "selfhosted-ui-image",
        ("name",),
        "joxit/docker-registry-ui:2.5.2",
    ),
]


def _dig(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@pytest.mark.parametrize(("config", "typ", "name", "path", "expected"), KEY_TO_INPUT)
def test_config_key_lands_on_the_resource_input(run, config, typ, name, path, expected):
    mocks, _ = run(selfHosted=config)
    assert _dig(mocks.find(typ, name).plain, path) == expected


def test_ui_is_same_origin_and_tied_to_delete(run):
    mocks, outputs = run(
        selfHosted={
            "ui": {"enabled": True, "title": "Acme", "catalogElementsLimit": 500},
            "storage": {"deleteEnabled": False},
        }
    )
    envs = dict(e.split("=", 1) for e in mocks.find(CONTAINER, "selfhosted-ui").plain["envs"])
    assert envs["NGINX_PROXY_PASS_URL"] == "https://registry:5000"
    assert envs["SINGLE_REGISTRY"] == "true"
    assert envs["REGISTRY_TITLE"] == "Acme"
    assert envs["DELETE_IMAGES"] == "false"
    assert envs["NGINX_RESOLVER"] == "127.0.0.11"
    assert envs["CATALOG_ELEMENTS_LIMIT"] == "500"
    assert "REGISTRY_URL" not in envs  # same origin: no CORS
    assert outputs["uiUrl"].value == "http://127.0.0.1:8080"


def test_v3_image_uploads_config_to_distribution_path_and_disables_tracing(run):
    mocks, _ = run(selfHosted={"image": "registry:3.0.0"})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert _upload(registry, "/etc/distribution/config.yml").startswith("version: 0.1")
    assert "OTEL_TRACES_EXPORTER=none" in registry.plain["envs"]


def test_given_password_is_used_and_generated_ones_are_declared(run):
    mocks, outputs = run(
        selfHosted={"users": [{"name": "ci", "password": "a-given-password-42"}, {"name": "admin"}]}, secret=True
    )
    assert outputs["users"].value["ci"] == "a-given-password-42"
    assert [r.name for r in mocks.of_type(PASSWORD)] == ["selfhosted-password-admin", "selfhosted-http-secret"]
    htpasswd = _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/auth/htpasswd")
    assert "a-given-password-42" not in htpasswd
    assert htpasswd.startswith("ci:$2b$10$")


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_rerun_with_same_provider_outputs_declares_identical_inputs(path):
    stack, config, secret_keys = stack_config(path)
    first, second = RecordingMocks(), RecordingMocks()
    run_program(first, stack=stack, config=config, secret_keys=secret_keys)
    run_program(second, stack=stack, config=config, secret_keys=secret_keys)
    declared = {(r.typ, r.name): r.inputs for r in first.resources}
    assert len(declared) == len(first.resources)
    assert declared == {(r.typ, r.name): r.inputs for r in second.resources}


def test_data_volume_is_retained_everywhere_and_protected_in_prod(monkeypatch):
    import components.selfhosted.registry as registry_module

    seen = record_options(monkeypatch, registry_module.docker, "Volume")
    for path in STACK_FILES:
        stack, config, secret_keys = stack_config(path)
        run_program(RecordingMocks(), stack=stack, config=config, secret_keys=secret_keys)
        opts = seen.pop("selfhosted-data")
        assert opts.retain_on_delete is True, path.name
        assert bool(opts.protect) == stack.startswith("prod"), path.name


def test_no_secret_in_public_outputs_even_when_config_is_secret(run):
    _, outputs = run(selfHosted={"users": [{"name": "ci", "password": "a-given-password-42"}]}, secret=True)
    assert not contains_secret(outputs["endpoint"].value)
    assert "a-given-password-42" not in outputs["loginCommand"].value


def test_named_docker_objects_are_deleted_before_they_are_replaced(run, monkeypatch):
    import components.selfhosted.registry as registry_module

    containers = record_options(monkeypatch, registry_module.docker, "Container")
    networks = record_options(monkeypatch, registry_module.docker, "Network")
    run(selfHosted={"ui": {"enabled": True}})
    assert containers["selfhosted-registry"].delete_before_replace is True
    assert containers["selfhosted-ui"].delete_before_replace is True
    assert networks["selfhosted-network"].delete_before_replace is True


GIVEN_PASSWORD = "a-given-password-42"
SALT = "random:index/randomBytes:RandomBytes"


def _hash_of(mocks: Any, user: str) -> str:
    htpasswd = _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/auth/htpasswd")
    return next(line.split(":", 1)[1] for line in htpasswd.splitlines() if line.startswith(f"{user}:"))


def _salt_derived_from_password(password: str, context: str) -> str:
    """The salt an attacker recomputes from the password and public context (the review's H1 attack)."""
    digest = hmac.new(password.encode(), context.encode(), hashlib.sha256).digest()
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % 64] for b in digest[:21]) + alphabet[(digest[21] % 4) * 16]


class _RealRandomMocks(RecordingMocks):
    """Recording mocks whose random:* resources draw real random bytes, as pulumi-random does on create."""

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        ident, outs = super().new_resource(args)
        if args.typ.startswith("random:"):
            ident, outs = apply_random(args.typ, unwrap({k: v for k, v in args.inputs.items() if k != "__provider"}))
        return ident, outs


def test_given_password_salt_cannot_be_recomputed_from_password_and_context():
    config = {"registries:selfHosted": json.dumps({"users": [{"name": "ci", "password": GIVEN_PASSWORD}]})}
    hashes = []
    for _ in range(2):  # two fresh stacks with the same password, stack, project and user
        mocks = _RealRandomMocks()
        run_program(mocks, stack="prod", config=config, secret_keys=list(config))
        hashes.append(_hash_of(mocks, "ci"))
    salts = [h[7:29] for h in hashes]
    assert all(bcrypt.checkpw(GIVEN_PASSWORD.encode(), h.encode()) for h in hashes)
    assert _salt_derived_from_password(GIVEN_PASSWORD, "registries/prod/ci") not in salts
    assert salts[0] != salts[1], "the salt is a function of the password and public context"


def test_given_password_salt_is_kept_in_state_and_renewed_with_the_password(run):
    users = {"users": [{"name": "ci", "password": GIVEN_PASSWORD}]}
    mocks, _ = run(selfHosted=users, secret=True)
    salt = mocks.find(SALT, "selfhosted-salt-ci")
    assert salt.plain == {"length": 16, "keepers": {"password": GIVEN_PASSWORD}}
    assert contains_secret(salt.inputs["keepers"]), "the keeper is the password: it must stay secret in state"
    drawn = base64.b64decode(unwrap(RecordingMocks().new_resource(_bytes_args("selfhosted-salt-ci"))[1]["base64"]))
    assert _hash_of(mocks, "ci") == bcrypt_hash_with_salt(GIVEN_PASSWORD, drawn)  # the salt is the state's bytes

    again, _ = run(selfHosted=users, secret=True)  # same state (same bytes): same line, no restart
    assert _hash_of(again, "ci") == _hash_of(mocks, "ci")
    changed, _ = run(selfHosted={"users": [{"name": "ci", "password": "another-password-43"}]}, secret=True)
    assert changed.find(SALT, "selfhosted-salt-ci").plain["keepers"] != salt.plain["keepers"]  # -> new salt
    assert _hash_of(changed, "ci") != _hash_of(mocks, "ci")


def _bytes_args(name: str) -> Any:
    return pulumi.runtime.MockResourceArgs(SALT, name, {"length": 16}, None, None, True)
