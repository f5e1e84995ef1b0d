"""Token authentication (auth.token) of the self-hosted registry: config validation, config.yml, the uploaded
root certificate bundle, outputs without htpasswd users, and a second run that declares the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.selfhosted.args import SelfHostedTokenAuthArgs
from components.selfhosted.config_file import (
    HTPASSWD_PATH,
    PUBLIC_FILE_MODE,
    TOKEN_ROOT_CERT_BUNDLE_PATH,
    RegistrySettings,
    TokenAuthSettings,
    render_registry_config,
)
from components.selfhosted.settings import registry_settings, validate_args
from registries.config import ConfigError, load_stack_spec
from tests.support.pulumi_runtime import env_element, is_secret, run_program, unwrap
from tests.support.recording_mocks import RecordingMocks
from tests.support.selfhosted import rendered_config

CONTAINER = "docker:index/container:Container"
PASSWORD = "random:index/randomPassword:RandomPassword"
BUNDLE = "-----BEGIN CERTIFICATE-----\nMIIBtoken0signer0certificate0base64==\n-----END CERTIFICATE-----\n"
TOKEN_AUTH = {
    "realm": "https://auth.example.com/jwt/auth",
    "service": "container_registry",
    "issuer": "acme-token-issuer",
    "rootCertBundle": BUNDLE,
}


def _spec(**extra: Any) -> dict[str, Any]:
    return {"name": "tokened", "tokenAuth": dict(TOKEN_AUTH), **extra}


def _problems(raw: dict[str, Any]) -> dict[str, tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec(raw, "dev")
    return {problem.path: (problem.value, problem.allowed) for problem in caught.value.problems}


def test_config_yml_has_auth_token_naming_the_uploaded_bundle_and_no_htpasswd():
    config = yaml.safe_load(rendered_config(_spec()))
    assert config["auth"] == {
        "token": {
            "realm": "https://auth.example.com/jwt/auth",
            "service": "container_registry",
            "issuer": "acme-token-issuer",
            "rootcertbundle": TOKEN_ROOT_CERT_BUNDLE_PATH,
        }
    }
    # The same keys in registry 3.x: only the file the config is read from moves.
    v3 = yaml.safe_load(rendered_config(_spec(image="registry:3.0.0")))
    assert v3["auth"] == config["auth"]
    assert yaml.safe_load(render_registry_config(RegistrySettings(name="r")))["auth"] == {
        "htpasswd": {"realm": "r registry", "path": HTPASSWD_PATH}
    }


def test_the_bundle_is_not_in_config_yml():
    assert "BEGIN CERTIFICATE" not in rendered_config(_spec())
    settings = registry_settings(
        {"token_auth": {"realm": "https://a.example/t", "service": "s", "issuer": "i", "root_cert_bundle": BUNDLE}}
    )
    assert settings.token_auth == TokenAuthSettings("https://a.example/t", "s", "i")


def test_one_error_names_every_key_that_conflicts_with_token_auth():
    problems = _problems(
        {"selfHosted": _spec(users=[{"name": "admin"}], passwordLength=40, ui={"enabled": True}, platform="kubernetes")}
    )
    root = "registries:selfHosted"
    # platform kubernetes refuses the UI itself too; the token-auth rules add theirs.
    assert {f"{root}.users", f"{root}.passwordLength", f"{root}.ui.enabled", f"{root}.tokenAuth"} <= set(problems)
    assert "not with tokenAuth" in problems[f"{root}.users"][1]
    assert problems[f"{root}.passwordLength"][0] == "40"
    assert "platform: docker only" in problems[f"{root}.tokenAuth"][1]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("realm", "http://auth.example.com/jwt/auth", "https:// URL"),
        ("realm", "ftp://auth.example.com", "http:// or https:// URL"),
        ("rootCertBundle", "not a pem", "at least one -----BEGIN CERTIFICATE-----"),
        ("rootCertBundle", BUNDLE + "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", "certificates only"),
        ("service", "", "at least 1 character"),
    ],
)
def test_a_bad_token_auth_value_is_named_with_what_is_allowed(key, value, expected):
    spec = _spec()
    spec["tokenAuth"][key] = value
    problems = _problems({"selfHosted": spec})
    path = f"registries:selfHosted.tokenAuth.{key}"
    assert set(problems) == {path}
    assert expected in problems[path][1]


def test_a_missing_token_auth_key_is_named():
    spec = _spec()
    del spec["tokenAuth"]["issuer"]
    assert set(_problems({"selfHosted": spec})) == {"registries:selfHosted.tokenAuth.issuer"}


def test_an_http_realm_on_loopback_is_accepted():
    spec = _spec()
    spec["tokenAuth"]["realm"] = "http://127.0.0.1:5999/token"
    stack = load_stack_spec({"selfHosted": spec}, "dev")
    assert stack.self_hosted is not None
    assert stack.self_hosted.token_auth is not None


def test_mirrors_take_token_auth_too():
    mirror = {"name": "m", "port": 5100, "mirror": {"upstream": "https://registry-1.docker.io"}, **_spec(name="m")}
    stack = load_stack_spec({"mirrors": [mirror]}, "dev")
    assert stack.mirrors is not None
    assert stack.mirrors[0].token_auth is not None
    problems = _problems({"mirrors": [{**mirror, "users": [{"name": "x"}]}]})
    assert set(problems) == {"registries:mirrors[0].users"}


def _declare(spec: dict[str, Any]) -> tuple[RecordingMocks, dict[str, Any]]:
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="dev", config={"registries:selfHosted": json.dumps(spec)})
    return mocks, outputs


def test_the_bundle_is_uploaded_world_readable_and_no_htpasswd_or_password_is_declared():
    mocks, outputs = _declare(_spec())
    container = mocks.find(CONTAINER, "selfhosted-registry")
    uploads = {upload["file"]: upload for upload in container.plain["uploads"]}
    assert uploads[TOKEN_ROOT_CERT_BUNDLE_PATH]["content"] == BUNDLE
    assert uploads[TOKEN_ROOT_CERT_BUNDLE_PATH]["permissions"] == PUBLIC_FILE_MODE
    assert HTPASSWD_PATH not in uploads
    config = yaml.safe_load(uploads["/etc/distribution/config.yml"]["content"])
    assert config["auth"]["token"]["rootcertbundle"] == TOKEN_ROOT_CERT_BUNDLE_PATH
    # Only the http secret is generated: no user passwords, salts or hashes.
    assert [resource.name for resource in mocks.of_type(PASSWORD)] == ["selfhosted-http-secret"]
    assert not mocks.of_type("random:index/randomBytes:RandomBytes")
    assert outputs["users"].value == {}
    assert outputs["users"].secret
    assert outputs["dockerConfigJson"].value == ""
    assert outputs["loginCommand"].value == "docker login localhost:5000"


def test_a_registry_3_reads_the_bundle_from_the_same_path():
    mocks, _outputs = _declare(_spec(image="registry:3.0.0"))
    uploads = {u["file"]: u for u in mocks.find(CONTAINER, "selfhosted-registry").plain["uploads"]}
    assert TOKEN_ROOT_CERT_BUNDLE_PATH in uploads
    config = yaml.safe_load(uploads["/etc/distribution/config.yml"]["content"])
    assert config["auth"]["token"]["rootcertbundle"] == TOKEN_ROOT_CERT_BUNDLE_PATH


def test_a_second_run_declares_exactly_the_same():
    first, first_outputs = _declare(_spec())
    second, second_outputs = _declare(_spec())

    def declared(mocks: RecordingMocks) -> dict[tuple[str, str], Any]:
        return {(r.typ, r.name): r.inputs for r in mocks.resources}

    assert declared(first) == declared(second)
    assert len(declared(first)) == len(first.resources)
    assert {k: v.value for k, v in first_outputs.items()} == {k: v.value for k, v in second_outputs.items()}


def test_envs_stay_secret_and_hold_no_bundle():
    mocks, _outputs = _declare(_spec())
    inputs = mocks.find(CONTAINER, "selfhosted-registry").inputs
    assert is_secret(env_element(inputs, "REGISTRY_HTTP_SECRET"))
    assert not any("BEGIN CERTIFICATE" in env for env in unwrap(inputs["envs"]))


def test_library_args_refuse_users_with_token_auth():
    token: SelfHostedTokenAuthArgs = {
        "realm": "https://a.example/t",
        "service": "s",
        "issuer": "i",
        "root_cert_bundle": BUNDLE,
    }
    with pytest.raises(ValueError, match=r"^users: not with token_auth"):
        validate_args({"token_auth": token, "users": [{"name": "admin"}]})
    with pytest.raises(ValueError, match=r"^token_auth\.issuer: required"):
        validate_args({"token_auth": {k: v for k, v in token.items() if k != "issuer"}})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match=r"^ui\.enabled: not with token_auth"):
        validate_args({"token_auth": token, "ui": {"enabled": True}})
