"""The provider constructs the real components from what the engine sends (camelCase, nested, secrets and
values computed by other resources), and it hosts the very classes the stack program and the library example use."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest
import yaml

from plugin.provider import COMPONENTS, RegistriesProvider
from tests.support.component_provider import OUTPUT_VALUE_SIG, construct, run_under_mocks, wire_secret_output
from tests.support.pulumi_runtime import SECRET_SIG, contains_secret, run_program
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import ALL_STACK_FILES, stack_config
from tests.unit.test_acr_component import AzureMocks
from tests.unit.test_artifact_registry_component import GcpMocks

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_EXAMPLE = ROOT / "examples" / "library" / "__main__.py"
PET_URN = "urn:pulumi:dev::consumer::random:index/randomPet:RandomPet::host"


def computed(value: Any, *dependencies: str) -> dict[str, Any]:
    """A value another resource computed, as the engine sends it (an output value with its dependencies)."""
    return {SECRET_SIG: OUTPUT_VALUE_SIG, "value": value, "dependencies": list(dependencies)}


def test_self_hosted_registry_from_engine_inputs():
    mocks = RecordingMocks()
    provider = RegistriesProvider()
    wire = {
        "hostname": computed("pet-42.registry.internal", PET_URN),
        "port": 5443.0,
        "users": [{"name": "ci", "password": wire_secret_output("ci-password-123456")}, {"name": "admin"}],
        "tls": {"mode": "selfSigned", "validityHours": 4380.0},
        "notifications": [
            {"name": "ci", "url": computed("https://ci.example.test/hook", PET_URN), "ignoredActions": ["pull"]}
        ],
    }
    outputs = run_under_mocks(mocks, lambda: construct(provider, "registries:index:SelfHostedRegistry", "reg", wire))

    csr = mocks.find("tls:index/certRequest:CertRequest", "reg-server-csr").plain
    assert csr["dnsNames"][0] == "pet-42.registry.internal"
    cert = mocks.find("tls:index/locallySignedCert:LocallySignedCert", "reg-server-cert").plain
    assert cert["validityPeriodHours"] == 4380
    container = mocks.find("docker:index/container:Container", "reg-registry")
    assert {"internal": 5000, "external": 5443, "ip": "127.0.0.1"} in container.plain["ports"]
    assert contains_secret(container.inputs["uploads"])  # the htpasswd file travels as a secret
    config = yaml.safe_load(next(u["content"] for u in container.plain["uploads"] if u["file"].endswith("config.yml")))
    [endpoint] = config["notifications"]["endpoints"]
    assert (endpoint["url"], endpoint["ignore"]["actions"]) == ("https://ci.example.test/hook", ["pull"])
    htpasswd = next(u["content"] for u in container.plain["uploads"] if u["file"].endswith("htpasswd"))
    hashes = dict(line.split(":", 1) for line in htpasswd.splitlines())
    assert bcrypt.checkpw(b"ci-password-123456", hashes["ci"].encode())
    # Only the user without a password gets a generated one.
    generated = [r.name for r in mocks.of_type("random:index/randomPassword:RandomPassword")]
    assert [name for name in generated if name.startswith("reg-password-")] == ["reg-password-admin"]

    assert outputs["endpoint"].value == "pet-42.registry.internal:5443"
    assert outputs["userPasswords"].secret
    assert outputs["userPasswords"].value["ci"] == "ci-password-123456"
    assert outputs["dockerConfigJson"].secret


ROLE_URN = "urn:pulumi:dev::consumer::aws:iam/role:Role::ci"


def test_kubernetes_registry_from_engine_inputs():
    mocks = CloudMocks()
    wire = {
        "hostname": computed("pet-42.registry.internal", PET_URN),
        "replicas": 2.0,
        "storage": {"s3": {"bucket": computed("acme-images", ROLE_URN), "region": "eu-west-1", "create": False}},
        "s3RoleArn": computed("arn:aws:iam::111122223333:role/registry-s3", ROLE_URN),
        "users": [{"name": "ci", "password": wire_secret_output("ci-password-123456")}],
    }
    outputs = run_under_mocks(
        mocks, lambda: construct(RegistriesProvider(), "registries:index:KubernetesRegistry", "k8s", wire)
    )

    assert mocks.find("kubernetes:apps/v1:Deployment", "k8s-deployment").plain["spec"]["replicas"] == 2
    account = mocks.find("kubernetes:core/v1:ServiceAccount", "k8s-service-account").plain
    assert (
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::111122223333:role/registry-s3"
    )
    ingress = mocks.find("kubernetes:networking.k8s.io/v1:Ingress", "k8s-ingress").plain
    assert ingress["spec"]["rules"][0]["host"] == "pet-42.registry.internal"
    secret = mocks.find("kubernetes:core/v1:Secret", "k8s-secret")
    assert contains_secret(secret.inputs)
    assert outputs["endpoint"].value == "pet-42.registry.internal"
    assert outputs["bucket"].value == "acme-images"


def test_ecr_registry_from_engine_inputs():
    mocks = CloudMocks()
    wire = {
        "region": "eu-west-1",
        "repositories": [
            {
                "name": "team/api",
                "readers": [computed("arn:aws:iam::123456789012:role/ci", ROLE_URN)],
                "encryptionType": "AES256",
                "retention": {"untaggedDays": 7.0},
            }
        ],
    }
    outputs = run_under_mocks(
        mocks, lambda: construct(RegistriesProvider(), "registries:index:EcrRegistry", "ecr", wire)
    )

    repository = mocks.find("aws:ecr/repository:Repository", "ecr-repo-team--api").plain
    assert (repository["name"], repository["region"]) == ("team/api", "eu-west-1")
    policy = json.loads(mocks.find("aws:ecr/repositoryPolicy:RepositoryPolicy", "ecr-policy-team--api").plain["policy"])
    assert policy["Statement"][0]["Principal"]["AWS"] == ["arn:aws:iam::123456789012:role/ci"]
    lifecycle = json.loads(
        mocks.find("aws:ecr/lifecyclePolicy:LifecyclePolicy", "ecr-lifecycle-team--api").plain["policy"]
    )
    assert lifecycle["rules"][0]["selection"]["countNumber"] == 7
    assert outputs["repositoryUrls"].value == {"team/api": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api"}


def test_docker_hub_from_engine_inputs():
    mocks = CloudMocks()
    wire = {
        "namespace": "acme",
        "repositories": [
            {
                "name": "api",
                "description": computed("The API", ROLE_URN),
                "webhooks": [{"name": "ci", "url": wire_secret_output("https://ci.example.test/hook?token=abc")}],
            }
        ],
    }
    outputs = run_under_mocks(mocks, lambda: construct(RegistriesProvider(), "registries:index:DockerHub", "hub", wire))

    repository = mocks.find("pulumi-python:dynamic/dockerhub:Repository", "hub-repo-acme-api").plain
    assert (repository["namespace"], repository["name"], repository["description"]) == ("acme", "api", "The API")
    hook = mocks.find("pulumi-python:dynamic/dockerhub:Webhook", "hub-hook-acme-api-ci")
    assert contains_secret(hook.inputs["hookUrl"])
    assert hook.plain["hookUrl"] == "https://ci.example.test/hook?token=abc"
    assert outputs["repositories"].value == ["acme/api"]


def test_artifact_registry_from_engine_inputs():
    mocks = CloudMocks()
    account = "urn:pulumi:dev::consumer::gcp:serviceaccount/account:Account::ci"
    wire = {
        "project": computed("acme-prod", account),
        "location": "europe-west1",
        "repositories": [
            {"name": "apps", "readers": [computed("serviceAccount:ci@acme-prod.iam.gserviceaccount.com", account)]}
        ],
    }
    outputs = run_under_mocks(
        mocks, lambda: construct(RegistriesProvider(), "registries:index:ArtifactRegistry", "ar", wire)
    )

    repository = mocks.find("gcp:artifactregistry/repository:Repository", "ar-repo-apps").plain
    assert (repository["project"], repository["location"], repository["repositoryId"]) == (
        "acme-prod",
        "europe-west1",
        "apps",
    )
    [member] = mocks.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert (member.plain["role"], member.plain["member"]) == (
        "roles/artifactregistry.reader",
        "serviceAccount:ci@acme-prod.iam.gserviceaccount.com",
    )
    assert outputs["repositoryUrls"].value == {"apps": "europe-west1-docker.pkg.dev/acme-prod/apps"}


def test_acr_from_engine_inputs():
    mocks = CloudMocks()
    wire = {
        "name": "acmeregistry",
        "resourceGroup": {"name": "rg-registries", "location": "westeurope"},
        "sku": "Premium",
        "webhooks": [
            {
                "name": "cihook",
                "url": wire_secret_output("https://ci.example.test/acr?t=1"),
                "actions": ["push", "delete"],
            }
        ],
    }
    outputs = run_under_mocks(mocks, lambda: construct(RegistriesProvider(), "registries:index:Acr", "acr", wire))

    registry = mocks.find("azure-native:containerregistry:Registry", "acr-registry").plain
    assert (registry["registryName"], registry["sku"]) == ("acmeregistry", {"name": "Premium"})
    [webhook] = mocks.of_type("azure-native:containerregistry:Webhook")
    # A list of enum values: the SDK's own mapping would have turned each action into {}.
    assert webhook.plain["actions"] == ["push", "delete"]
    assert contains_secret(webhook.inputs["serviceUri"])
    assert outputs["loginServer"].value == "acmeregistry.azurecr.io"


def test_a_bad_input_is_refused_before_any_resource_naming_it():
    mocks = RecordingMocks()
    provider = RegistriesProvider()
    wire = {"users": [{"name": "a:b"}]}
    with pytest.raises(Exception, match=r"users\[0\]\.name"):
        run_under_mocks(mocks, lambda: construct(provider, "registries:index:SelfHostedRegistry", "reg", wire))
    assert [r.typ for r in mocks.resources if not r.typ.startswith("registries:")] == []


@pytest.fixture
def constructed(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """Records the class of every `registries:*` component constructed, whatever class it is."""
    built: list[type] = []
    original = pulumi.ComponentResource.__init__

    def recording_init(self: pulumi.ComponentResource, t: str, *args: Any, **kwargs: Any) -> None:
        if t.startswith("registries:"):
            built.append(type(self))
        original(self, t, *args, **kwargs)

    monkeypatch.setattr(pulumi.ComponentResource, "__init__", recording_init)
    return built


def _not_hosted(classes: list[type]) -> list[str]:
    hosted = set(COMPONENTS)
    return sorted({f"{cls.__module__}.{cls.__qualname__}" for cls in classes if cls not in hosted})


COMPONENT_OF_CONFIG_KEY = {
    "registries:selfHosted": "SelfHostedRegistry",
    "registries:dockerHub": "DockerHub",
    "registries:ecr": "EcrRegistry",
    "registries:artifactRegistry": "ArtifactRegistry",
    "registries:acr": "Acr",
}


class CloudMocks(AzureMocks, GcpMocks):
    """The recording mocks answering as pulumi-azure-native and pulumi-gcp do (ids, provider functions), as the
    Acr and ArtifactRegistry tests use them: the cloud stack files run only against those answers."""


def test_the_stack_program_constructs_the_hosted_classes(constructed: list[type]):
    expected: set[str] = set()
    for path in ALL_STACK_FILES:
        stack, config, secret_keys = stack_config(path)
        expected |= {COMPONENT_OF_CONFIG_KEY[key] for key in config if key in COMPONENT_OF_CONFIG_KEY}
        run_program(CloudMocks(), stack=stack, config=config, secret_keys=secret_keys)
    assert {"SelfHostedRegistry", "DockerHub", "EcrRegistry", "Acr"} <= expected
    # Every component the program declares is one the provider hosts: the same class object, not a copy.
    assert _not_hosted(constructed) == []
    assert {cls.__name__ for cls in constructed} >= expected


def test_the_library_example_constructs_the_hosted_class(constructed: list[type]):
    def program() -> dict[str, pulumi.Output[Any]]:
        runpy.run_path(str(LIBRARY_EXAMPLE), run_name="__main__")
        return {}

    run_under_mocks(RecordingMocks(), program)
    assert [cls.__name__ for cls in constructed] == ["SelfHostedRegistry"]
    assert _not_hosted(constructed) == []


def test_the_provider_hosts_the_library_classes():
    from components.acr import Acr
    from components.artifact_registry import ArtifactRegistry
    from components.dockerhub import DockerHub
    from components.ecr import EcrRegistry
    from components.kubernetes_registry import KubernetesRegistry
    from components.selfhosted.registry import SelfHostedRegistry
    from components.signing import SigningKeys

    hosted = RegistriesProvider()._components
    assert hosted == {
        "SelfHostedRegistry": SelfHostedRegistry,
        "KubernetesRegistry": KubernetesRegistry,
        "DockerHub": DockerHub,
        "EcrRegistry": EcrRegistry,
        "ArtifactRegistry": ArtifactRegistry,
        "Acr": Acr,
        "SigningKeys": SigningKeys,
    }
