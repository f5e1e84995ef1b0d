"""Run the guardrails pack the way the engine does, on resources a program declared under the SDK's mocks.

pulumi-policy has no test runtime of its own (its tests call `policy.validate(args, report)` by hand), so this
harness drives pulumi-policy's real gRPC servicer in process with the requests the CLI 3.276 sends
(pkg/resource/plugin/analyzer_plugin.go, pkg/engine/update.go, pkg/resource/deploy/step_generator.go):
ConfigureStack (stack name and decrypted config), GetAnalyzerInfo, Configure (every policy's level: the pack's
default unless the config file names it), Analyze once per registered resource with its inputs, AnalyzeStack
once with every resource's outputs, parent and property dependencies. Properties go over the wire as the SDK
serialized them (secret markers and unknowns kept, `__`-keys dropped, as FilterProperties with
KeepSecrets/KeepUnknowns/SkipInternalKeys does)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2
from pulumi.runtime.sync_await import _sync_await
from pulumi_policy import policy as policy_module

from policy import guardrails
from tests.support.pulumi_runtime import SecretKeepingMonitor, run_program
from tests.unit.test_acr_component import AzureMocks
from tests.unit.test_artifact_registry_component import GcpMocks

POLICY_DIR = Path(guardrails.__file__).resolve().parent
"""The pack's directory: what `pulumi preview --policy-pack` is given."""


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct
    property_dependencies: dict[str, list[str]]
    protect: bool = False


class PolicyMocks(GcpMocks, AzureMocks):
    """The unit tests' recording mocks (with Google's and Azure's computed ids and invokes) whose monitor also keeps
    what the engine would hand the analyzer."""

    def __init__(self) -> None:
        super().__init__()
        self.registered: list[Registered] = []

    def monitor(self) -> SecretKeepingMonitor:
        return _RecordingMonitor(self)


class _RecordingMonitor(SecretKeepingMonitor):
    def __init__(self, mocks: PolicyMocks) -> None:
        super().__init__(mocks)
        self.policy_mocks = mocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        state = self.resources[response.urn].state
        outputs = _sync_await(rpc.serialize_properties(state, {}))
        self.policy_mocks.registered.append(
            Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                inputs=_without_internal_keys(request.object),
                outputs=_without_internal_keys(outputs),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=bool(request.protect),
            )
        )
        return response


def _without_internal_keys(props: struct_pb2.Struct) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    for key in props:
        if not key.startswith("__"):
            out[key] = props[key]
    return out


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str
    level: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)

    def of(self, policy: str) -> list[Violation]:
        return [v for v in self.violations if v.policy == policy]

    def describe(self) -> str:
        return "\n".join(f"{v.level} {v.policy}: {v.message}" for v in self.violations) or "(none)"


_LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVELS = {name: value for value, name in _LEVEL_NAMES.items()}


def _options(resource: Registered) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent, protect=resource.protect)


def analyze(
    resources: list[Registered],
    stack: str,
    config: Mapping[str, str] | None = None,
    policy_config: Mapping[str, Any] | None = None,
) -> Report:
    """Load the pack as the engine does for `stack` and analyze `resources`; `policy_config` is what a
    --policy-pack-config file holds (rule id -> level, or {"enforcementLevel": ..., other properties})."""
    policies = guardrails.build_policies(stack="")  # the engine's ConfigureStack sets the stack's level
    guardrails.install_engine_hooks(policies)
    servicer = policy_module._PolicyAnalyzerServicer(
        guardrails.PACK_NAME, "0.1.0", policies, policy_module.EnforcementLevel.ADVISORY
    )
    servicer.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project="registries", config=dict(config or {})),
        None,
    )
    info = servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    configured: dict[str, analyzer_pb2.PolicyConfig] = {}
    for policy in info.policies:  # ReconcilePolicyPackConfig: the file's entry, else the pack's default level
        entry = (policy_config or {}).get(policy.name, (policy_config or {}).get("all"))
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        entry = dict(entry or {})
        level = _LEVELS[entry.pop("enforcementLevel", _LEVEL_NAMES[policy.enforcementLevel])]
        properties = struct_pb2.Struct()
        properties.update(entry)
        configured[policy.name] = analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=properties)
    servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=configured), None)

    report = Report()

    def collect(response: Any) -> None:
        for d in response.diagnostics:
            report.violations.append(Violation(d.policyName, d.message, d.urn, _LEVEL_NAMES[d.enforcementLevel]))
        report.not_applicable.extend(n.policy_name for n in response.not_applicable)

    for resource in resources:
        request = analyzer_pb2.AnalyzeRequest(
            urn=resource.urn,
            type=resource.type,
            name=resource.name,
            properties=resource.inputs,
            options=_options(resource),
        )
        response = servicer.Analyze(request, None)
        for d in response.diagnostics:  # Analyze diagnostics carry no URN: the engine adds the resource's
            d.urn = d.urn or resource.urn
        collect(response)
    stack_request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                urn=r.urn,
                type=r.type,
                name=r.name,
                properties=r.outputs,
                options=_options(r),
                parent=r.parent,
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )
    collect(servicer.AnalyzeStack(stack_request, None))
    return report


def declare(
    program: Callable[[], Mapping[str, Any]] | None = None,
    *,
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
) -> list[Registered]:
    """The resources `program` (default: our program under `config`) declares, as the engine would see them."""
    mocks = PolicyMocks()
    run_program(
        mocks, stack=stack, config=dict(config or {}), secret_keys=secret_keys, preview=preview, program=program
    )
    return mocks.registered


def config_json(**sections: Any) -> dict[str, str]:
    """registries:<key> -> JSON, as the runtime (and ConfigureStack) carries object config."""
    return {f"registries:{key}": json.dumps(value) for key, value in sections.items()}
