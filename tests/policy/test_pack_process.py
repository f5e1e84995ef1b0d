"""The pack as a process, started the way a Python language host starts a policy pack for the CLI
(`python -u -m pulumi.policy <engine address> <pack dir>`, the SDK's runner, as pulumi-analyzer-policy-python did):
it prints its gRPC port, and answers the Analyzer service the engine calls. No CLI here (tests/engine has that)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.policy.harness import POLICY_DIR


@pytest.fixture
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(  # the engine address is only passed through; nothing dials it
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(POLICY_DIR)],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), (
            f"the pack printed {port!r} instead of its port: {process.stderr and process.stderr.read()}"
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait(timeout=10)


def _acr_registry(admin: bool) -> analyzer_pb2.AnalyzeRequest:
    properties = struct_pb2.Struct()
    properties.update({"registryName": "acme01", "adminUserEnabled": admin})
    return analyzer_pb2.AnalyzeRequest(
        urn="urn:pulumi:prod::p::azure-native:containerregistry:Registry::acr",
        type="azure-native:containerregistry:Registry",
        name="acr",
        properties=properties,
    )


def test_the_pack_serves_the_engine_its_rules_at_the_stacks_level(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    analyzer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack="prod", project="registries"))
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "registries-guardrails"
    assert info.supportsConfig
    assert {p.name: p.enforcementLevel for p in info.policies}["no-acr-admin-user"] == analyzer_pb2.MANDATORY
    assert len(info.policies) == 10

    violating = analyzer.Analyze(_acr_registry(admin=True))
    assert [(d.policyName, d.enforcementLevel) for d in violating.diagnostics] == [
        ("no-acr-admin-user", analyzer_pb2.MANDATORY)
    ]
    assert "adminUserEnabled" in violating.diagnostics[0].message
    assert list(analyzer.Analyze(_acr_registry(admin=False)).diagnostics) == []


def test_off_production_the_rules_are_advisory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    analyzer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack="dev", project="registries"))
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.ADVISORY}
    assert [d.enforcementLevel for d in analyzer.Analyze(_acr_registry(admin=True)).diagnostics] == [
        analyzer_pb2.ADVISORY
    ]
