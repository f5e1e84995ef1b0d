"""The package schema the plugin serves, component by component: what a TypeScript/YAML user relies on (input
names, types, which inputs are secret, required or plain, descriptions; outputs), and the checked-in snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.package_schema import SNAPSHOT, render
from plugin.provider import RegistriesProvider

SELF_HOSTED = "registries:index:SelfHostedRegistry"
KUBERNETES = "registries:index:KubernetesRegistry"
DOCKER_HUB = "registries:index:DockerHub"
ECR = "registries:index:EcrRegistry"
ARTIFACT_REGISTRY = "registries:index:ArtifactRegistry"
ACR = "registries:index:Acr"
SIGNING = "registries:index:SigningKeys"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return RegistriesProvider().package_schema()


def _type(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref") or prop.get("items", {}).get("$ref") or prop.get("additionalProperties", {}).get("$ref")
    if not (ref and ref.startswith("#/types/")):
        raise AssertionError(f"not an object or enum property: {prop}")
    return schema["types"][ref.removeprefix("#/types/")]


def prop(schema: dict[str, Any], token: str, path: str, *, output: bool = False) -> dict[str, Any]:
    """A property by dotted path through nested types; `users[].password` goes through a list's items."""
    properties = schema["resources"][token]["properties" if output else "inputProperties"]
    names = path.replace("[]", "").split(".")
    found = properties[names[0]]
    for name in names[1:]:
        found = _type(schema, found)["properties"][name]
    return found


def required(schema: dict[str, Any], token: str, path: str) -> list[str]:
    """requiredInputs of a component (path ""), or `required` of the object type at `path`."""
    if not path:
        return schema["resources"][token]["requiredInputs"]
    return _type(schema, prop(schema, token, path)).get("required", [])


def enum_values(schema: dict[str, Any], token: str, path: str) -> list[Any]:
    return [member["value"] for member in _type(schema, prop(schema, token, path))["enum"]]


def _all_properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for token, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            found += [(f"{token} {kind} {name}", p) for name, p in resource[kind].items()]
    for token, complex_type in schema["types"].items():
        found += [(f"{token} {name}", p) for name, p in complex_type.get("properties", {}).items()]
    return found


def test_the_snapshot_is_current():
    assert SNAPSHOT.read_text() == render(), "run: .venv/bin/python -m plugin.package_schema --write"


def test_the_package_hosts_every_component_as_a_component(schema: dict[str, Any]):
    assert schema["name"] == "registries"
    assert set(schema["resources"]) == {SELF_HOSTED, KUBERNETES, DOCKER_HUB, ECR, ARTIFACT_REGISTRY, ACR, SIGNING}
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token


@pytest.mark.parametrize(
    "token",
    [
        SELF_HOSTED,
        KUBERNETES,
        DOCKER_HUB,
        ECR,
        ARTIFACT_REGISTRY,
        ACR,
        SIGNING,
    ],
)
def test_every_component_is_described(schema: dict[str, Any], token: str):
    # The class docstring is what SDK users see on the constructor.
    assert len(schema["resources"][token].get("description", "")) > 20, f"{token}: no description"


def test_every_property_and_type_is_described(schema: dict[str, Any]):
    undescribed = [where for where, p in _all_properties(schema) if not p.get("description", "").strip()]
    assert undescribed == []
    for token, complex_type in schema["types"].items():
        assert complex_type.get("description", "").strip(), f"{token}: no description"


def test_self_hosted_registry_inputs(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, SELF_HOSTED, path)

    # Everything has a default: `new SelfHostedRegistry("r", {})` is a registry on localhost:5000.
    assert required(schema, SELF_HOSTED, "") == []
    # Values that can come from other resources are inputs (not plain) in every SDK.
    for path in ("hostname", "bindAddress", "users[].password", "tls.certificate", "tls.privateKey"):
        assert (p(path)["type"], p(path).get("plain")) == ("string", None), path
    for path in ("storage.s3.bucket", "storage.s3.regionEndpoint", "notifications[].url"):
        assert (p(path)["type"], p(path).get("plain")) == ("string", None), path
    assert p("port")["type"] == "integer"
    # Users shape the resources (one password and htpasswd line each): a plain list of objects with a name.
    assert (p("users")["type"], p("users").get("plain")) == ("array", True)
    assert required(schema, SELF_HOSTED, "users") == ["name"]
    assert "url" in required(schema, SELF_HOSTED, "notifications")
    assert "bucket" in required(schema, SELF_HOSTED, "storage.s3")
    assert set(enum_values(schema, SELF_HOSTED, "tls.mode")) == {"selfSigned", "provided", "none"}
    # Secrets the user passes are secret in the schema; names and addresses are not (they must stay readable).
    for path in ("users[].password", "tls.privateKey", "storage.s3.secretKey", "notifications[].authorization"):
        assert p(path).get("secret") is True, path
    for path in ("hostname", "users[].name", "notifications[].url", "storage.s3.bucket"):
        assert "secret" not in p(path), path


def test_self_hosted_registry_outputs(schema: dict[str, Any]):
    def out(name: str) -> dict[str, Any]:
        return prop(schema, SELF_HOSTED, name, output=True)

    for name in ("endpoint", "loginCommand", "caCertPem", "uiUrl"):
        assert (out(name)["type"], out(name).get("secret")) == ("string", None), name
    assert (out("dockerConfigJson")["type"], out("dockerConfigJson").get("secret")) == ("string", True)
    assert out("userPasswords")["additionalProperties"]["type"] == "string"
    assert out("userPasswords")["secret"] is True


def _is_input_string(p: dict[str, Any]) -> bool:
    """A string that may come from another resource: an Input in every SDK, not a plain value."""
    return p.get("type") == "string" and not p.get("plain")


def test_ecr_registry(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, ECR, path)

    assert set(required(schema, ECR, "")) == {"region", "repositories"}
    assert required(schema, ECR, "repositories") == ["name"]
    assert set(enum_values(schema, ECR, "repositories[].encryptionType")) == {"AES256", "KMS"}
    # A key or a principal is often another resource's ARN.
    assert _is_input_string(p("repositories[].kmsKey"))
    assert _is_input_string(p("repositories[].readers")["items"])
    assert _is_input_string(p("repositories[].writers")["items"])
    assert p("repositories[].retention")["$ref"] == "#/types/registries:index:RetentionArgs"
    for path in (
        "notifications[].url",
        "notifications[].authHeaderValue",
        "registrySettings.pullThroughCache[].credentials",
    ):
        assert p(path).get("secret") is True, path
    assert "secret" not in p("notifications[].authHeaderName")
    outputs = schema["resources"][ECR]["properties"]
    assert outputs["repositoryUrls"]["additionalProperties"]["type"] == "string"
    assert {"registry", "loginCommand", "dockerConfigJson"} <= set(outputs)


def test_artifact_registry(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, ARTIFACT_REGISTRY, path)

    assert set(required(schema, ARTIFACT_REGISTRY, "")) == {"project", "location"}
    assert required(schema, ARTIFACT_REGISTRY, "repositories") == ["name"]
    assert _is_input_string(p("project"))
    assert _is_input_string(p("repositories[].kmsKeyName"))
    assert _is_input_string(p("repositories[].readers")["items"])
    assert p("repositories[].retention")["$ref"] == "#/types/registries:index:RetentionArgs"
    assert p("notifications[].url").get("secret") is True
    outputs = schema["resources"][ARTIFACT_REGISTRY]["properties"]
    assert outputs["repositoryUrls"]["additionalProperties"]["type"] == "string"
    assert {"loginCommand", "dockerConfigJson"} <= set(outputs)


def test_acr(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, ACR, path)

    assert set(required(schema, ACR, "")) == {"name", "resourceGroup", "sku"}
    assert set(enum_values(schema, ACR, "sku")) == {"Basic", "Standard", "Premium"}
    assert set(required(schema, ACR, "tokens")) == {"name", "scopeMap"}
    assert p("repositories[].retention")["$ref"] == "#/types/registries:index:RetentionArgs"
    for path in ("webhooks[].url", "webhooks[].customHeaders[].value"):
        assert p(path).get("secret") is True, path
    outputs = schema["resources"][ACR]["properties"]
    assert (outputs["loginServer"]["type"], outputs["loginServer"].get("secret")) == ("string", None)
    assert outputs["repositoryUrls"]["additionalProperties"]["type"] == "string"
    # Token name -> a docker config holding that token's password.
    assert outputs["dockerConfigJson"].get("secret") is True


def test_docker_hub(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, DOCKER_HUB, path)

    assert required(schema, DOCKER_HUB, "") == ["namespace"]
    assert required(schema, DOCKER_HUB, "repositories") == ["name"]
    assert set(required(schema, DOCKER_HUB, "repositories[].webhooks")) == {"name", "url"}
    assert set(required(schema, DOCKER_HUB, "accessTokens")) == {"label", "scopes"}
    # Descriptions may be rendered by other resources (a README file, a template).
    assert _is_input_string(p("repositories[].description"))
    assert _is_input_string(p("repositories[].fullDescription"))
    # Hub webhooks carry no signature: the secret is in the URL.
    assert p("repositories[].webhooks[].url").get("secret") is True
    assert "secret" not in p("repositories[].name")
    outputs = schema["resources"][DOCKER_HUB]["properties"]
    assert outputs["repositories"]["items"]["type"] == "string"
    for name in ("accessTokens", "orgAccessTokens"):
        assert (outputs[name]["additionalProperties"]["type"], outputs[name].get("secret")) == ("string", True)


def test_kubernetes_registry(schema: dict[str, Any]):
    def p(path: str) -> dict[str, Any]:
        return prop(schema, KUBERNETES, path)

    assert required(schema, KUBERNETES, "") == []
    assert _is_input_string(p("hostname"))
    assert _is_input_string(p("s3RoleArn"))  # often an IAM role declared next to it
    assert (p("replicas")["type"], p("replicas").get("plain")) == ("integer", True)
    # The same users, TLS and storage shapes as the Docker target.
    assert p("users")["items"]["$ref"] == "#/types/registries:index:SelfHostedUserArgs"
    assert p("users[].password").get("secret") is True
    assert p("storage.s3.secretKey").get("secret") is True
    outputs = schema["resources"][KUBERNETES]["properties"]
    assert (outputs["endpoint"]["type"], outputs["endpoint"].get("secret")) == ("string", None)
    assert outputs["dockerConfigJson"].get("secret") is True
    assert outputs["userPasswords"].get("secret") is True


def test_signing_keys_private_keys_are_secret_inputs_and_outputs(schema: dict[str, Any]):
    """Other languages get each private key as a secret on its own; the public parts and commands stay plain."""
    resource = schema["resources"][SIGNING]
    assert resource["requiredInputs"] == ["registry"]
    secret_outputs = sorted(name for name, p in resource["properties"].items() if p.get("secret"))
    assert secret_outputs == ["cosignPrivateKeyPem", "notationPrivateKeyPem"]
    assert set(resource["properties"]) == {
        "cosignPublicKeyPem",
        "cosignPrivateKeyPem",
        "cosignCommands",
        "notationCertificateChainPem",
        "notationCaCertificatePem",
        "notationPrivateKeyPem",
        "notationTrustPolicyJson",
        "notationCommands",
    }
    for kind in ("CosignKeyArgs", "NotationKeyArgs"):
        properties = schema["types"][f"registries:index:{kind}"]["properties"]
        assert [name for name, p in properties.items() if p.get("secret")] == ["privateKeyPem"], kind
