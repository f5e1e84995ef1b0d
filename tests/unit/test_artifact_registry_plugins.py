"""A stack that declares registries:artifactRegistry needs the gcp resource plugin, at the installed pulumi-gcp's
version, and nothing else."""

from __future__ import annotations

from importlib import metadata

from registries.config import load_stack_spec
from registryctl.plugins import required_plugins
from tests.unit.test_artifact_registry_schema import AR


def test_the_gcp_plugin_at_the_sdk_version_is_required():
    spec = load_stack_spec({"artifactRegistry": AR}, "dev")
    plugins = required_plugins(spec)
    assert [(p.name, p.package, p.version) for p in plugins] == [("gcp", "pulumi-gcp", metadata.version("pulumi-gcp"))]
    assert "registries:artifactRegistry" in plugins[0].needed_for
