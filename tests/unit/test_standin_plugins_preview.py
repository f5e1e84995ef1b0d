"""The preview-only stand-ins pulumi-resource-{gcp,azure-native,kubernetes} over gRPC (no CLI), started as the engine
starts them: the version their installed SDK requests, Check as given, a preview's Create with computed outputs
unknown, Diff of old inputs against new ones, and every step that would touch a cloud refused, naming the plugin.
The aws stand-in previews what moto lacks (a pull-through cache rule) and refuses to apply it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.support.plugins.client import PluginProcess, start_plugin, urn
from tests.support.plugins.server import UNKNOWN
from tests.support.pulumi_runtime import is_secret, wrap_secret

CASES: dict[str, tuple[str, dict[str, object], str | None, str]] = {
    "gcp": (
        "gcp:artifactregistry/repository:Repository",
        {"repositoryId": "apps", "location": "europe-west1", "format": "DOCKER", "project": "acme"},
        "registryUri",
        "Google Cloud",
    ),
    "azure-native": (
        "azure-native:containerregistry:Registry",
        {"registryName": "acme01", "resourceGroupName": "rg", "sku": {"name": "Premium"}, "adminUserEnabled": False},
        "loginServer",
        "Azure",
    ),
    "kubernetes": (
        "kubernetes:core/v1:Namespace",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "registry"}},
        None,  # the SDK declares every output (status too) as an input: nothing is computed
        "Kubernetes cluster",
    ),
}


@pytest.fixture(scope="module")
def started() -> Iterator[dict[str, PluginProcess]]:
    """Each preview-only plugin started once for the module (a start costs seconds: the SDK's imports)."""
    running: dict[str, PluginProcess] = {}
    try:
        for name in sorted(CASES):
            running[name] = start_plugin(name)
            running[name].configure({})
        yield running
    finally:
        for process in running.values():
            process.stop()


@pytest.fixture(params=sorted(CASES))
def plugin(started: dict[str, PluginProcess], request: pytest.FixtureRequest) -> PluginProcess:
    return started[request.param]


def _refused(error: pytest.ExceptionInfo[grpc.RpcError]) -> str:
    return str(error.value.details())  # pyright: ignore[reportAttributeAccessIssue]


def test_preview_only_plugin_checks_previews_diffs_and_refuses_to_apply(plugin: PluginProcess) -> None:
    typ, inputs, computed, cloud = CASES[plugin.name]
    package = plugin.name.replace("-", "_")
    requested = json.loads(resources.files(f"pulumi_{package}").joinpath("pulumi-plugin.json").read_text())
    assert plugin.stub.GetPluginInfo(empty_pb2.Empty()).version == (requested["version"])
    target = urn(typ, "thing")
    assert plugin.check(target, inputs) == inputs  # no default invented

    ident, planned = plugin.create(target, inputs, preview=True)
    assert ident == ""
    assert {k: planned[k] for k in inputs} == inputs
    if computed is None:
        assert planned == inputs
    else:
        assert planned[computed] == UNKNOWN

    assert plugin.diff(target, "id-1", inputs, inputs, inputs).changes == provider_pb2.DiffResponse.DIFF_NONE
    changed_key = sorted(inputs)[-1]
    changed = {**inputs, changed_key: UNKNOWN}
    diff = plugin.diff(target, "id-1", inputs, inputs, changed)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.diffs) == [changed_key]
    assert not diff.replaces

    message = f"stand-in pulumi-resource-{plugin.name} {requested['version']}: preview only, no {cloud} backend"
    for call in (
        lambda: plugin.create(target, inputs),
        lambda: plugin.update(target, "id-1", inputs, inputs, changed),
        lambda: plugin.delete(target, "id-1", inputs, inputs),
        lambda: plugin.read(target, "id-1", inputs, inputs),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert message in _refused(refused)


def test_preview_only_plugin_refuses_a_type_its_sdk_does_not_have(plugin: PluginProcess) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        plugin.check(urn(f"{plugin.name}:index/nothing:Nothing", "x"), {})
    assert "does not serve" in _refused(refused)


def test_kubernetes_secret_data_previews_secret(started: dict[str, PluginProcess]) -> None:
    """The SDK marks a Secret's data secret (additional_secret_outputs): so does the preview's plan."""
    inputs = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}}
    _, planned = started["kubernetes"].create(urn("kubernetes:core/v1:Secret", "s"), inputs, preview=True)
    assert is_secret(planned["stringData"])


def test_azure_client_token_invoke_names_itself_as_a_stand_in(started: dict[str, PluginProcess]) -> None:
    azure = started["azure-native"]
    answer = azure.stub.Invoke(provider_pb2.InvokeRequest(tok="azure-native:authorization:getClientToken"))
    assert dict(getattr(answer, "return"))["token"].startswith("stand-in-preview-only")
    with pytest.raises(grpc.RpcError) as refused:
        azure.stub.Invoke(provider_pb2.InvokeRequest(tok="azure-native:authorization:getClientConfig"))
    assert "is not served" in _refused(refused)


def test_aws_previews_what_moto_lacks_and_refuses_to_apply_it() -> None:
    """No moto needed: a preview touches no backend; a real create fails before any call."""
    aws = start_plugin("aws")
    try:
        aws.configure(
            {
                "region": "eu-west-1",
                "accessKey": "k",
                "secretKey": wrap_secret("s"),
                "endpoints": [{"ecr": "http://127.0.0.1:9"}],
            }
        )
        target = urn("aws:ecr/pullThroughCacheRule:PullThroughCacheRule", "ptc")
        inputs = {"ecrRepositoryPrefix": "k8s", "upstreamRegistryUrl": "registry.k8s.io", "region": "eu-west-1"}
        assert aws.check(target, inputs) == inputs
        _, planned = aws.create(target, inputs, preview=True)
        assert planned["registryId"] == UNKNOWN
        with pytest.raises(grpc.RpcError) as refused:
            aws.create(target, inputs)
        assert "preview only, moto (the AWS backend here) does not implement it" in _refused(refused)
    finally:
        aws.stop()
