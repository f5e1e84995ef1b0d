"""Pull-through cache mirror (issue 15): config validation, config.yml, secrets, outputs, side by side."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import yaml

from components.selfhosted.args import SelfHostedRegistryArgs
from components.selfhosted.config_file import (
    CLIENT_CA_PATH,
    HTPASSWD_PATH,
    UPSTREAM_CA_PATH,
    ProxySettings,
    RegistrySettings,
    StorageSettings,
    mirror_containerd_hosts_toml,
    render_registry_config,
)
from components.selfhosted.settings import validate_args
from registries.config import ConfigError, load_stack_spec
from tests.support.pulumi_runtime import env_element, is_secret, run_program, unwrap
from tests.support.recording_mocks import RecordingMocks

CONTAINER = "docker:index/container:Container"
UPSTREAM_PASSWORD = "upstream-token-" + "x" * 20
UPSTREAM_CA = "-----BEGIN CERTIFICATE-----\nupstream-ca\n-----END CERTIFICATE-----\n"
CONFIG_PATH = "/etc/distribution/config.yml"  # the default image is registry 3.x


def _mirror(**mirror: Any) -> dict[str, Any]:
    return {"name": "hub-mirror", "mode": "mirror", "port": 5100, "mirror": mirror}


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec(raw, "dev")
    return {problem.path: problem.allowed for problem in caught.value.problems}


def test_one_error_names_every_bad_mirror_key():
    spec = {
        **_mirror(upstream="ftp://hub", username="acme", ttl="168h"),
        "image": "registry:2.8.3",
        "storage": {"kind": "filesystem", "deleteEnabled": True},
        "retention": {"untaggedDays": 7},
    }
    problems = _problems({"selfHosted": spec})
    assert "registries:selfHosted.mirror.upstream" in problems  # field and cross-field problems at once
    spec["mirror"]["upstream"] = "https://registry-1.docker.io"
    problems = _problems({"selfHosted": spec})
    assert set(problems) == {
        "registries:selfHosted.mirror.password",
        "registries:selfHosted.mirror.ttl",
        "registries:selfHosted.storage.deleteEnabled",
        "registries:selfHosted.retention",
    }
    assert "distribution 3.0" in problems["registries:selfHosted.mirror.ttl"]


def test_a_mirror_runs_as_one_instance():
    # Replicas would overwrite each other's scheduler-state.json in the shared bucket (distribution#3251).
    s3 = {"kind": "s3", "bucket": "acme-mirror-cache", "region": "eu-west-1"}
    problems = _problems(
        {"selfHosted": {**_mirror(upstream="https://registry-1.docker.io"), "replicas": 2, "storage": s3}}
    )
    assert set(problems) == {"registries:selfHosted.replicas"}
    assert "per instance" in problems["registries:selfHosted.replicas"]


def test_mirror_block_and_mode_go_together():
    problems = _problems(
        {"selfHosted": {"mode": "mirror"}, "mirrors": [{"name": "m", "mode": "registry", "port": 5100}]}
    )
    assert set(problems) == {"registries:selfHosted.mirror", "registries:mirrors[0].mode"}
    problems = _problems({"selfHosted": {"mirror": {"upstream": "https://registry-1.docker.io"}}})
    assert set(problems) == {"registries:selfHosted.mirror"}


def test_ttl_is_accepted_with_registry_3_and_rendered():
    spec = load_stack_spec({"selfHosted": {**_mirror(ttl="72h"), "image": "registry:3.0.0"}}, "dev").self_hosted
    assert spec is not None
    assert spec.mirror is not None
    assert spec.mirror.ttl == "72h"
    settings = RegistrySettings(major_version=3, proxy=ProxySettings("https://registry-1.docker.io", "72h"))
    assert yaml.safe_load(render_registry_config(settings))["proxy"] == {
        "remoteurl": "https://registry-1.docker.io",
        "ttl": "72h",
    }
    with pytest.raises(ValueError, match=r"mirror\.ttl"):
        render_registry_config(RegistrySettings(major_version=2, proxy=ProxySettings(ttl="72h")))


def test_registry_and_mirrors_side_by_side_need_distinct_names_and_ports():
    problems = _problems(
        {"selfHosted": {"name": "reg", "port": 5000}, "mirrors": [_mirror(), {**_mirror(), "port": 5001}]}
    )
    # the second mirror repeats the first's name, and its port 5001 is selfHosted's debug port
    assert set(problems) == {"registries:mirrors[1].name", "registries:mirrors[1].port"}
    spec = load_stack_spec({"selfHosted": {"name": "reg"}, "mirrors": [_mirror()]}, "dev")
    assert [m.mode for m in spec.mirrors or []] == ["mirror"]


def test_config_yml_proxies_the_upstream_with_deletes_off():
    settings = RegistrySettings(proxy=ProxySettings("https://upstream.example:5443"), storage=StorageSettings(False))
    config = yaml.safe_load(render_registry_config(settings))
    assert config["proxy"] == {"remoteurl": "https://upstream.example:5443"}
    assert config["storage"]["delete"] == {"enabled": True}  # the proxy's cache expiry deletes through it
    assert "proxy" not in yaml.safe_load(render_registry_config(RegistrySettings()))


def _declare_mirror(**mirror: Any) -> tuple[RecordingMocks, dict[str, Any]]:
    spec = _mirror(upstream="https://upstream.example:5443", **mirror)
    mocks = RecordingMocks()
    config = {"registries:selfHosted": json.dumps(spec)}
    outputs = run_program(mocks, stack="dev", config=config, secret_keys=list(config) if "password" in mirror else [])
    return mocks, {key: output for key, output in outputs.items()}


def test_upstream_credentials_only_by_secret_env_and_the_ca_uploaded():
    mocks, outputs = _declare_mirror(username="acme", password=UPSTREAM_PASSWORD, upstreamCaCertificate=UPSTREAM_CA)
    container = mocks.find(CONTAINER, "selfhosted-registry")
    envs = container.inputs["envs"]
    assert is_secret(env_element(container.inputs, "REGISTRY_PROXY_PASSWORD"))  # per element, as the engine keeps it
    assert f"REGISTRY_PROXY_PASSWORD={UPSTREAM_PASSWORD}" in unwrap(envs)
    assert "REGISTRY_PROXY_USERNAME=acme" in unwrap(envs)
    uploads = {upload["file"]: upload["content"] for upload in container.plain["uploads"]}
    config_text = uploads[CONFIG_PATH]
    assert UPSTREAM_PASSWORD not in config_text
    assert "acme" not in config_text
    assert yaml.safe_load(config_text)["proxy"] == {"remoteurl": "https://upstream.example:5443"}
    assert uploads[UPSTREAM_CA_PATH] == UPSTREAM_CA
    for key, output in outputs.items():
        assert UPSTREAM_PASSWORD not in json.dumps(output.value), key


def test_outputs_tell_docker_and_containerd_hosts_how_to_use_the_mirror():
    _mocks, outputs = _declare_mirror()
    assert outputs["mirrorUrl"].value == "https://localhost:5100"
    # Users (htpasswd): dockerd cannot log in to a mirror and would bypass it to Hub (review M3): no daemon.json.
    assert outputs["daemonJson"].value == ""
    assert outputs["mirrorClientCertPem"].value == ""
    assert outputs["mirrorCaPath"].value == "/etc/docker/certs.d/localhost:5100/ca.crt"
    toml = outputs["containerdHostsToml"].value
    assert toml.splitlines()[0] == "# /etc/containerd/certs.d/upstream.example:5443/hosts.toml"
    assert 'server = "https://upstream.example:5443"' in toml
    assert '[host."https://localhost:5100"]' in toml
    assert 'ca = "/etc/docker/certs.d/localhost:5100/ca.crt"' in toml
    hub = mirror_containerd_hosts_toml("https://registry-1.docker.io", "https://m:1", "m:1", tls=True)
    assert hub.startswith('# /etc/containerd/certs.d/docker.io/hosts.toml\nserver = "https://registry-1.docker.io"')


def test_a_registry_has_no_mirror_outputs_and_renders_as_before():
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="dev", config={"registries:selfHosted": json.dumps({"name": "reg"})})
    assert "mirrorUrl" not in outputs
    container = mocks.find(CONTAINER, "selfhosted-registry")
    assert not any("REGISTRY_PROXY" in env for env in unwrap(container.inputs["envs"]))
    assert UPSTREAM_CA_PATH not in {upload["file"] for upload in container.plain["uploads"]}


def test_a_mirror_of_the_stacks_own_registry_trusts_its_generated_ca():
    config = {
        "registries:selfHosted": json.dumps({"name": "upstream", "port": 5443}),
        "registries:mirrors": json.dumps(
            [{"name": "mirror", "port": 5100, "networkMode": "host", "mirror": {"upstream": "https://localhost:5443"}}]
        ),
    }
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="dev", config=config)
    mirror = mocks.find(CONTAINER, "mirror-mirror-registry")
    uploads = {upload["file"]: upload["content"] for upload in mirror.plain["uploads"]}
    assert uploads[UPSTREAM_CA_PATH] == outputs["caCertPem"].value
    assert outputs["mirrors"].value["mirror"]["mirrorUrl"] == "https://localhost:5100"
    # On in the storage, for the proxy's cache expiry; clients still cannot delete (the proxy's stores refuse).
    assert yaml.safe_load(uploads[CONFIG_PATH])["storage"]["delete"] == {"enabled": True}


def test_client_certificate_mirror_has_no_passwords_and_verifies_clients_against_its_own_ca():
    mocks, outputs = _declare_mirror(clientAuth="certificate")
    container = mocks.find(CONTAINER, "selfhosted-registry")
    uploads = {upload["file"]: upload["content"] for upload in container.plain["uploads"]}
    config = yaml.safe_load(uploads[CONFIG_PATH])
    assert "auth" not in config  # the certificate is the credential: no password challenge for dockerd
    assert config["http"]["tls"]["clientcas"] == [CLIENT_CA_PATH]
    assert HTPASSWD_PATH not in uploads
    client_ca = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-client-ca-cert")
    server_ca = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-ca-cert")
    assert client_ca.plain["isCaCertificate"] is True
    assert uploads[CLIENT_CA_PATH] != uploads.get("/certs/server.crt")
    assert client_ca.name != server_ca.name
    client = mocks.find("tls:index/locallySignedCert:LocallySignedCert", "selfhosted-client-cert")
    assert client.plain["allowedUses"] == ["digital_signature", "key_encipherment", "client_auth"]
    assert outputs["users"].value == {}
    assert outputs["dockerConfigJson"].value == ""
    assert json.loads(outputs["daemonJson"].value) == {"registry-mirrors": ["https://localhost:5100"]}
    assert outputs["mirrorClientCertPem"].value
    assert outputs["mirrorClientKeyPem"].secret
    toml = outputs["containerdHostsToml"].value
    assert (
        'client = [["/etc/docker/certs.d/localhost:5100/client.cert", "/etc/docker/certs.d/localhost:5100/client.key"]]'
        in toml
    )


def test_client_certificate_refuses_passwords_plain_http_and_a_registry():
    problems = _problems(
        {
            "selfHosted": {
                **_mirror(clientAuth="certificate"),
                "users": [{"name": "reader"}],
                "tls": {"mode": "none"},
                "insecure": True,
            }
        }
    )
    assert set(problems) == {"registries:selfHosted.mirror.clientAuth", "registries:selfHosted.users"}
    assert "needs TLS" in problems["registries:selfHosted.mirror.clientAuth"]
    assert "no passwords" in problems["registries:selfHosted.users"]
    bad = _problems({"selfHosted": _mirror(clientAuth="password")})
    assert set(bad) == {"registries:selfHosted.mirror.clientAuth"}
    # The component holds the same rule for its own callers (the library and the plugin).
    plain = {"mode": "mirror", "mirror": {"client_auth": "certificate"}}
    with pytest.raises(ValueError, match=r"mirror\.client_auth: certificate needs TLS"):
        validate_args(cast(SelfHostedRegistryArgs, {**plain, "tls": {"mode": "none"}}))
    with pytest.raises(ValueError, match=r"users: not with mirror\.client_auth certificate"):
        validate_args(cast(SelfHostedRegistryArgs, {**plain, "users": [{"name": "a"}]}))
    validate_args(cast(SelfHostedRegistryArgs, plain))
