"""What SelfHostedRegistry declares, for every stack file and for each config key."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.selfhosted.credentials import bcrypt_hash_with_salt
from tests.support.engine_random import apply_random
from tests.support.engine_tls import RealTlsMocks
from tests.support.pulumi_runtime import (
    contains_secret,
    env_element,
    is_secret,
    run_program,
    unwrap,
    upload_content,
)
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
    # The debug server is published only when debugPort is given (its /debug/vars shows config secrets, review M1).
    debug = [{"internal": 5001, "external": spec["debugPort"], "ip": "127.0.0.1"}] if "debugPort" in spec else []
    assert registry["ports"] == [{"internal": 5000, "external": spec["port"], "ip": spec["bindAddress"]}, *debug]
    assert registry["networksAdvanced"] == [{"name": f"{spec['name']}-net", "aliases": ["registry"]}]
    volume = spec.get("volumeName", f"{spec['name']}-data")
    assert registry["volumes"] == [{"volumeName": volume, "containerPath": "/var/lib/registry"}]
    assert registry["healthcheck"]["tests"][0] == "CMD-SHELL"
    assert "http://127.0.0.1:5000/v2/ 2>&1 | grep -q 'HTTP/1.0 400 '" in registry["healthcheck"]["tests"][1]
    v2 = spec["image"].startswith("registry:2")
    path = "/etc/docker/registry/config.yml" if v2 else "/etc/distribution/config.yml"
    assert registry["command"] == ["registry", "serve", path]
    config_yml = yaml.safe_load(_upload(mocks.find(CONTAINER, "selfhosted-registry"), path))
    assert config_yml["http"]["host"] == f"https://{spec['hostname']}:{spec['port']}"
    htpasswd = _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/auth/htpasswd")
    assert [line.split(":")[0] for line in htpasswd.splitlines()] == [u["name"] for u in spec["users"]]

    assert outputs["endpoint"].value == f"{spec['hostname']}:{spec['port']}"
    assert set(outputs["users"].value) == {u["name"] for u in spec["users"]}
    ui_declared = any(r.name == "selfhosted-ui" for r in mocks.of_type(CONTAINER))
    assert ui_declared == spec.get("ui", {}).get("enabled", False)
    if ui_declared and spec["ui"].get("bindAddress", "127.0.0.1") != "127.0.0.1":
        assert outputs["uiUrl"].value.startswith("https://"), "a UI off loopback carries passwords: HTTPS only"
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
    # Per element, as the engine keeps them: each secret env and upload is itself a secret.
    assert is_secret(env_element(registry.inputs, "REGISTRY_HTTP_SECRET")), "REGISTRY_HTTP_SECRET must be a secret"
    files = [u["file"] for u in unwrap(registry.inputs["uploads"])]
    private = [file for file in files if file.endswith(("htpasswd", "config.yml", ".key"))]
    assert len(private) >= 2
    for file in private:
        assert is_secret(upload_content(registry.inputs, file)), f"{file} must travel as a secret"
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
    assert csr["dnsNames"] == ["registry.internal", "reg", "registry"]  # the network alias the UI verifies
    assert csr["ipAddresses"] == ["127.0.0.1", "::1"]
    assert csr["subject"]["commonName"] == "registry.internal"
    cert = mocks.find("tls:index/locallySignedCert:LocallySignedCert", "selfhosted-server-cert").plain
    assert cert["validityPeriodHours"] == 100
    assert cert["earlyRenewalHours"] == 10
    assert set(cert["allowedUses"]) == {"digital_signature", "key_encipherment", "server_auth"}
    assert cert["setSubjectKeyId"] is True
    ca = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-ca-cert").plain
    assert ca["isCaCertificate"] is True
    assert ca["setSubjectKeyId"] is True
    assert ca["setAuthorityKeyId"] is True
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
    assert outputs["uiUrl"].value == "https://127.0.0.1:8080"


def test_v3_image_uploads_config_to_distribution_path_and_disables_tracing(run):
    mocks, _ = run(selfHosted={"image": "registry:3.0.0"})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert _upload(registry, "/etc/distribution/config.yml").startswith("version: 0.1")
    assert "OTEL_TRACES_EXPORTER=none" in registry.plain["envs"]


@pytest.mark.parametrize(
    ("image", "path"),
    [
        ("registry:3.1.2", "/etc/distribution/config.yml"),
        ("registry:3.0.0", "/etc/distribution/config.yml"),
        ("registry:2.8.3", "/etc/docker/registry/config.yml"),
    ],
)
def test_the_container_command_names_the_uploaded_config_never_the_images_default(run, image, path):
    """A 3.0.0 image whose default command named 2.x's path ran its built-in config (plain HTTP, no auth)."""
    mocks, _ = run(selfHosted={"image": image})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert registry.plain["command"] == ["registry", "serve", path]
    assert _upload(registry, path).startswith("version: 0.1")


def test_the_default_image_is_the_pinned_distribution_3(run):
    from components.selfhosted.versions import DEFAULT_IMAGE, DISTRIBUTION_3_VERSION

    mocks, _ = run(selfHosted={})
    assert f"registry:{DISTRIBUTION_3_VERSION}" == DEFAULT_IMAGE
    assert mocks.find("docker:index/remoteImage:RemoteImage", "selfhosted-image").plain["name"] == DEFAULT_IMAGE
    assert mocks.find(CONTAINER, "selfhosted-registry").plain["command"][-1] == "/etc/distribution/config.yml"


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


def _uploads(container: Any) -> dict[str, dict[str, Any]]:
    return {u["file"]: u for u in container.plain["uploads"]}


def test_keys_htpasswd_and_config_are_readable_by_root_only_and_certificates_by_all(run):
    mocks, _ = run(
        selfHosted={"notifications": [{"name": "a", "url": "http://x", "authorization": "Bearer t"}]}, secret=True
    )
    modes = {
        path: upload.get("permissions")
        for path, upload in _uploads(mocks.find(CONTAINER, "selfhosted-registry")).items()
    }
    assert modes == {
        "/etc/distribution/config.yml": "0400",  # holds the webhook's Authorization header
        "/auth/htpasswd": "0400",
        "/certs/server.key": "0400",
        "/certs/server.crt": "0444",
    }


def test_ui_off_loopback_is_served_over_https_with_the_registry_certificate_and_verifies_the_registry(run):
    mocks, outputs = run(
        selfHosted={"hostname": "reg.example.internal", "ui": {"enabled": True, "bindAddress": "0.0.0.0"}}
    )
    ui = mocks.find(CONTAINER, "selfhosted-ui")
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert ui.plain["ports"] == [{"internal": 8443, "external": 8080, "ip": "0.0.0.0"}]
    assert outputs["uiUrl"].value == "https://reg.example.internal:8080"
    files = _uploads(ui)
    assert files["/etc/nginx/registry-tls/server.crt"]["content"] == _upload(registry, "/certs/server.crt")
    assert files["/etc/nginx/registry-tls/server.key"]["content"] == _upload(registry, "/certs/server.key")
    assert files["/etc/nginx/registry-tls/server.key"]["permissions"] == "0400"
    assert files["/etc/nginx/registry-tls/ca.crt"]["content"] == outputs["caCertPem"].value
    ui_key = upload_content(ui.inputs, "/etc/nginx/registry-tls/server.key")
    assert is_secret(ui_key), "the UI's copy of the server key must travel as a secret"
    assert not is_secret(upload_content(ui.inputs, "/etc/nginx/registry-tls/server.crt"))
    server = files["/etc/nginx/conf.d/registry-ui-tls.conf"]["content"]
    assert "listen 8443 ssl;" in server
    assert "ssl_certificate_key /etc/nginx/registry-tls/server.key;" in server
    assert 'set $registry_server "https://registry:5000";' in server
    upstream = files["/etc/nginx/conf.d/00-registry-upstream-tls.conf"]["content"]
    # The UI->registry hop checks the registry's certificate for the alias it connects to (a SAN of it).
    assert "proxy_ssl_verify on;" in upstream
    assert "proxy_ssl_trusted_certificate /etc/nginx/registry-tls/ca.crt;" in upstream
    assert "proxy_ssl_name registry;" in upstream
    assert "registry" in mocks.find("tls:index/certRequest:CertRequest", "selfhosted-server-csr").plain["dnsNames"]
    config_yml = yaml.safe_load(_upload(registry, "/etc/distribution/config.yml"))
    assert "Strict-Transport-Security" in config_yml["http"]["headers"]  # the UI is on https: HSTS is harmless


def test_plain_ui_on_loopback_gets_no_certificate_and_turns_hsts_off(run):
    mocks, outputs = run(selfHosted={"ui": {"enabled": True, "tls": False}})
    ui = mocks.find(CONTAINER, "selfhosted-ui")
    assert ui.plain["ports"] == [{"internal": 80, "external": 8080, "ip": "127.0.0.1"}]
    assert outputs["uiUrl"].value == "http://127.0.0.1:8080"
    files = _uploads(ui)
    assert "/etc/nginx/registry-tls/server.key" not in files
    assert "proxy_ssl_verify on;" in files["/etc/nginx/conf.d/00-registry-upstream-tls.conf"]["content"]
    config_yml = yaml.safe_load(_upload(mocks.find(CONTAINER, "selfhosted-registry"), "/etc/distribution/config.yml"))
    # HSTS for the registry's host would make browsers upgrade the UI's http:// URL to https, where nothing answers.
    assert "Strict-Transport-Security" not in config_yml["http"]["headers"]


def test_ui_with_a_provided_certificate_verifies_the_registry_by_hostname_against_the_given_ca(run):
    ca = "-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n"
    tls = {"mode": "provided", "certificate": TEST_KEY.replace("PRIVATE KEY", "CERTIFICATE"), "privateKey": TEST_KEY}
    mocks, _ = run(
        selfHosted={"hostname": "reg.example.com", "tls": {**tls, "caCertificate": ca}, "ui": {"enabled": True}},
        secret=True,
    )
    files = _uploads(mocks.find(CONTAINER, "selfhosted-ui"))
    assert files["/etc/nginx/registry-tls/ca.crt"]["content"] == ca
    assert "proxy_ssl_name reg.example.com;" in files["/etc/nginx/conf.d/00-registry-upstream-tls.conf"]["content"]


def test_debug_server_is_published_on_host_loopback_only(run):
    mocks, _ = run(selfHosted={"bindAddress": "0.0.0.0", "port": 5443, "debugPort": 9101})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert registry.plain["ports"][1] == {"internal": 5001, "external": 9101, "ip": "127.0.0.1"}
    config_yml = yaml.safe_load(_upload(registry, "/etc/distribution/config.yml"))
    assert config_yml["http"]["debug"] == {"addr": ":5001", "prometheus": {"enabled": True, "path": "/metrics"}}
    host, _ = run(selfHosted={"networkMode": "host", "bindAddress": "0.0.0.0", "port": 5443})
    host_yml = yaml.safe_load(_upload(host.find(CONTAINER, "selfhosted-registry"), "/etc/distribution/config.yml"))
    assert host_yml["http"]["debug"]["addr"] == "127.0.0.1:5444"  # pprof stays on the host's loopback


def test_renaming_the_registry_keeps_its_volume_and_an_explicit_volume_name_is_followed(run, monkeypatch):
    import components.selfhosted.registry as registry_module

    volumes = record_options(monkeypatch, registry_module.docker, "Volume")
    mocks, _ = run(selfHosted={"name": "renamed"})
    # The derived name is fixed at creation: a later rename does not switch to a new, empty volume.
    assert volumes["selfhosted-data"].ignore_changes == ["name"]
    assert mocks.find(VOLUME, "selfhosted-data").plain["name"] == "renamed-data"
    ca_before = run(selfHosted={"name": "registry"})[0].find(
        "tls:index/selfSignedCert:SelfSignedCert", "selfhosted-ca-cert"
    )
    ca_after = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-ca-cert")
    assert ca_after.inputs == ca_before.inputs  # a rename does not replace the CA clients trust
    mocks, outputs = run(selfHosted={"name": "renamed", "volumeName": "registry-data"})
    assert not volumes["selfhosted-data"].ignore_changes
    assert mocks.find(VOLUME, "selfhosted-data").plain["name"] == "registry-data"
    volume_mount = mocks.find(CONTAINER, "selfhosted-registry").plain["volumes"][0]["volumeName"]
    assert volume_mount == outputs["volumeName"].value == "registry-data"


def _strict_handshake(ca_pem: str, chain_pem: str, key_pem: str, hostname: str, workdir: Path) -> None:
    """A TLS handshake whose client is Python 3.13's default context: VERIFY_X509_STRICT on."""
    (workdir / "chain.pem").write_text(chain_pem)
    (workdir / "key.pem").write_text(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(workdir / "chain.pem", workdir / "key.pem")
    client_context = ssl.create_default_context(cadata=ca_pem)
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    server_end, client_end = socket.socketpair()

    def serve() -> None:
        with (
            contextlib.suppress(ssl.SSLError, OSError),
            server_context.wrap_socket(server_end, server_side=True) as tls,
        ):
            tls.recv(1)

    server = threading.Thread(target=serve)
    server.start()
    try:
        with client_context.wrap_socket(client_end, server_hostname=hostname) as tls:
            tls.sendall(b"x")
    finally:
        client_end.close()
        server.join(timeout=10)


def test_generated_chain_carries_key_identifiers_and_passes_a_strict_verifier(tmp_path):
    mocks = RealTlsMocks()
    outputs = run_program(mocks, stack="local", config={"registries:selfHosted": "{}"})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    chain, key = _upload(registry, "/certs/server.crt"), _upload(registry, "/certs/server.key")
    leaf, ca = x509.load_pem_x509_certificates(chain.encode())
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    for name in ("localhost", "registry"):  # clients on the host, and the UI on the registry's network
        _strict_handshake(outputs["caCertPem"].value, chain, key, name, tmp_path)


def test_strict_verifier_refuses_a_chain_without_key_identifiers(tmp_path):
    # The negative control: the same handshake check fails on a chain that lacks SKI/AKI.
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no-ski CA")])

    def certificate(subject: x509.Name, public_key: Any, is_ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if not is_ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key.public_key(), is_ca=True)
    leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), leaf_key.public_key(), False)
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, ca)]
    key = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ssl.SSLCertVerificationError, match=r"(?i)key identifier"):
        _strict_handshake(pem[1], pem[0] + pem[1], key, "localhost", tmp_path)
