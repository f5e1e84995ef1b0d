"""registries:selfHosted.platform / kubernetes: what the stack config accepts and refuses, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from components.kubernetes_registry import KubernetesRegistryArgs, validate_kubernetes_args
from registries.config import ConfigError, load_stack_spec
from registryctl.plugins import required_plugins
from tests.unit.conftest import ROOT

S3 = {"kind": "s3", "create": False, "bucket": "acme-registry-images", "region": "eu-west-1"}


def _problems(self_hosted: dict[str, Any], stack: str = "k8s") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": self_hosted}, stack, ROOT)
    return {problem.path: problem.allowed for problem in caught.value.problems}


def _spec(self_hosted: dict[str, Any]) -> Any:
    return load_stack_spec({"selfHosted": self_hosted}, "k8s", ROOT).self_hosted


def test_platform_defaults_to_docker_and_kubernetes_block_defaults_apply():
    assert _spec({}).platform == "docker"
    spec = _spec({"platform": "kubernetes"})
    assert spec.kubernetes is None  # the block's defaults apply (mapping uses KubernetesSpec())


def test_two_replicas_on_a_volume_are_refused_saying_why():
    problems = _problems({"platform": "kubernetes", "kubernetes": {"replicas": 2}})
    assert "volume cannot be shared by replicas" in problems["registries:selfHosted.kubernetes.replicas"]
    assert "storage.kind: s3" in problems["registries:selfHosted.kubernetes.replicas"]


def test_an_autoscaler_that_can_reach_two_pods_needs_s3_too():
    problems = _problems({"platform": "kubernetes", "kubernetes": {"autoscaling": {"enabled": True}}})
    assert "volume cannot be shared" in problems["registries:selfHosted.kubernetes.autoscaling.maxReplicas"]


def test_replicas_on_s3_are_accepted():
    spec = _spec({"platform": "kubernetes", "storage": S3, "kubernetes": {"replicas": 3}})
    assert spec.kubernetes.replicas == 3


@pytest.mark.parametrize(
    ("key", "value"),
    [("port", 5443), ("bindAddress", "0.0.0.0"), ("networkMode", "host"), ("debugPort", 5002), ("volumeName", "v")],
)
def test_docker_only_keys_are_refused_on_kubernetes_naming_the_key(key, value):
    problems = _problems({"platform": "kubernetes", key: value})
    assert "not with platform: kubernetes" in problems[f"registries:selfHosted.{key}"]


def test_the_ui_is_refused_on_kubernetes():
    problems = _problems({"platform": "kubernetes", "ui": {"enabled": True}})
    assert "Docker target only" in problems["registries:selfHosted.ui.enabled"]


def test_a_kubernetes_block_on_docker_is_refused():
    problems = _problems({"kubernetes": {"replicas": 1}})
    assert problems["registries:selfHosted.kubernetes"] == "only with platform: kubernetes"


def test_irsa_needs_an_existing_bucket_without_keys():
    role = "arn:aws:iam::111122223333:role/registry-s3"
    created = {**S3, "create": True}
    problems = _problems({"platform": "kubernetes", "storage": created, "kubernetes": {"s3RoleArn": role}})
    assert "create: false" in problems["registries:selfHosted.kubernetes.s3RoleArn"]
    assert _spec({"platform": "kubernetes", "storage": S3, "kubernetes": {"s3RoleArn": role}}) is not None


def test_every_problem_is_reported_at_once():
    problems = _problems(
        {
            "platform": "kubernetes",
            "port": 5443,
            "kubernetes": {"replicas": 2, "autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 3}},
        }
    )
    assert {
        "registries:selfHosted.port",
        "registries:selfHosted.kubernetes.replicas",
        "registries:selfHosted.kubernetes.autoscaling.minReplicas",
    } <= set(problems)


def test_an_existing_tls_secret_only_replaces_the_generated_certificate():
    problems = _problems(
        {
            "platform": "kubernetes",
            "insecure": True,
            "tls": {"mode": "none"},
            "kubernetes": {"ingress": {"tlsSecretName": "registry-cert"}},
        }
    )
    assert "only with tls.mode: selfSigned" in problems["registries:selfHosted.kubernetes.ingress.tlsSecretName"]


def test_quantities_and_names_are_checked():
    problems = _problems(
        {"platform": "kubernetes", "kubernetes": {"namespace": "Registry", "resources": {"limits": {"memory": "1 GB"}}}}
    )
    assert "registries:selfHosted.kubernetes.namespace" in problems
    assert "registries:selfHosted.kubernetes.resources.limits.memory" in problems


def test_the_component_refuses_replicas_on_a_volume_itself():
    # A library user bypasses the stack config: the component says the same, naming its arg.
    args: KubernetesRegistryArgs = {"replicas": 2}
    with pytest.raises(ValueError, match=r"^replicas: 2 pods need storage.s3: a volume cannot be shared"):
        validate_kubernetes_args(args)
    with pytest.raises(ValueError, match=r"^namespace: 'Bad_ns'"):
        validate_kubernetes_args({"namespace": "Bad_ns"})


def test_a_kubernetes_stack_needs_the_kubernetes_plugin_not_docker():
    spec = load_stack_spec({"selfHosted": {"platform": "kubernetes", "storage": {**S3, "create": True}}}, "k8s", ROOT)
    plugins = {plugin.name: plugin for plugin in required_plugins(spec)}
    assert "kubernetes" in plugins
    assert "docker" not in plugins
    assert {"tls", "random", "aws"} <= set(plugins)
    docker = load_stack_spec({"selfHosted": {}}, "k8s", ROOT)
    assert "kubernetes" not in {plugin.name for plugin in required_plugins(docker)}


# The API server's Ingress host rules (pkg/apis/networking/validation validateIngressRules): no IP address
# (net.ParseIP), then IsDNS1123Subdomain (lower case). Both passed the hostname pattern before.
REFUSED_HOSTS = {
    "10.0.0.5": "not an IP address",
    "Registry.Example.com": "lower-case DNS name",
    "REGISTRY": "lower-case DNS name",
}


@pytest.mark.parametrize(("hostname", "why"), sorted(REFUSED_HOSTS.items()))
def test_an_ingress_host_the_api_server_refuses_is_refused_by_the_spec_and_the_component(hostname, why):
    problems = _problems({"platform": "kubernetes", "hostname": hostname})
    assert why in problems["registries:selfHosted.hostname"]
    with pytest.raises(ValueError, match=rf"^hostname: '{hostname}' must be .*{why}"):
        validate_kubernetes_args({"hostname": hostname})


def test_lower_case_names_pass_and_without_an_ingress_the_host_is_only_http_host():
    for hostname in ("registry.example.com", "localhost", "r-1.example"):
        assert _spec({"platform": "kubernetes", "hostname": hostname}).hostname == hostname
        validate_kubernetes_args({"hostname": hostname})
    spec = {"platform": "kubernetes", "hostname": "10.0.0.5", "kubernetes": {"ingress": {"enabled": False}}}
    assert _spec(spec).hostname == "10.0.0.5"
    validate_kubernetes_args({"hostname": "10.0.0.5", "ingress": {"enabled": False}})
    # The Docker target serves any DNS name or address; the rule is the Ingress's.
    assert _spec({"hostname": "Registry.Example.com"}).hostname == "Registry.Example.com"
