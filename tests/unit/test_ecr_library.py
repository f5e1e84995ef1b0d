"""EcrRegistry as a library (issue 10): TypedDict args that the component-provider analyzer reads, the same
resources from plain nested dicts (what the provider passes) as from the stack config, and run-time checks that
name the arg before any resource is declared."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.analyzer import Analyzer

from components.ecr import (
    EcrEncryptionType,
    EcrEventKind,
    EcrNotificationArgs,
    EcrRegistry,
    EcrRegistryArgs,
    EcrRepositoryArgs,
)
from plugin.provider import RegistriesProvider
from registries.config import load_stack_spec
from registries.mapping.ecr import ecr_args
from tests.support.component_provider import construct, run_under_mocks, wire_secret_output
from tests.support.pulumi_runtime import is_secret
from tests.support.recording_mocks import RecordingMocks
from tests.unit.test_ecr_notifications import ECR as NOTIFIED_ECR
from tests.unit.test_ecr_notifications import HOOK_TOKEN, HOOK_URL

KMS_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"
READER = "arn:aws:iam::111122223333:root"

# The notification tests' config with a KMS key, retention and a reader: what the wire inputs below spell.
CONFIG: dict[str, Any] = {
    **NOTIFIED_ECR,
    "defaults": {
        "mutableTags": ["latest"],
        "encryption": {"kind": "kms", "kmsKeyId": KMS_ARN},
        "retention": {"untaggedDays": 7, "keepLatest": [{"tag": "v*", "count": 50}]},
        "readers": [READER],
    },
}
# The same registry as the engine sends it to the component provider: camelCase, nested secrets as output values.
WIRE: dict[str, Any] = {
    "region": "eu-west-1",
    "repositories": [
        {
            "name": name,
            "mutableTags": ["latest"],
            "encryptionType": "KMS",
            "kmsKey": KMS_ARN,
            "retention": {"untaggedDays": 7, "keepLatest": [{"tag": "v*", "count": 50}]},
            "readers": [READER],
        }
        for name in ("team/api", "team/worker")
    ],
    "notifications": [
        {
            "name": "ci",
            "url": wire_secret_output(HOOK_URL),
            "authHeaderName": "X-Hook-Token",
            "authHeaderValue": wire_secret_output(HOOK_TOKEN),
            "events": ["push", "scan"],
            "repositories": ["team/api"],
        },
        {
            "name": "audit",
            "url": wire_secret_output(HOOK_URL),
            "authHeaderName": "X-Audit",
            "authHeaderValue": wire_secret_output("t"),
            "events": ["delete"],
        },
    ],
}


def _declared(mocks: RecordingMocks) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.typ, r.name): r.inputs for r in mocks.resources if r.typ.startswith("aws:")}


def test_plain_dicts_from_the_component_provider_declare_what_the_stack_config_declares():
    spec = load_stack_spec({"ecr": CONFIG}, "dev").ecr
    assert spec is not None
    from_config = RecordingMocks()
    run_under_mocks(from_config, lambda: {"urls": EcrRegistry("ecr", ecr_args(spec, False)).repository_urls})
    from_wire = RecordingMocks()
    provider = RegistriesProvider([EcrRegistry])
    outputs = run_under_mocks(
        from_wire, lambda: construct(provider, "registries:index:EcrRegistry", "ecr", json.loads(json.dumps(WIRE)))
    )
    assert outputs["repositoryUrls"].value == {
        "team/api": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api",
        "team/worker": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker",
    }
    declared = _declared(from_wire)
    assert len(declared) > 10  # repositories, lifecycle and repository policies, notification plumbing
    assert declared == _declared(from_config)
    endpoint = from_wire.find("aws:cloudwatch/eventApiDestination:EventApiDestination", "ecr-hook-ci-destination")
    assert is_secret(endpoint.inputs["invocationEndpoint"])


def test_typed_args_with_enum_members_or_their_strings_declare_the_same():
    def program(encryption: Any, event: Any) -> dict[str, pulumi.Output[Any]]:
        hook = EcrNotificationArgs(
            name="ci", url=HOOK_URL, auth_header_name="X-Token", auth_header_value=HOOK_TOKEN, events=[event]
        )
        repo = EcrRepositoryArgs(name="svc", encryption_type=encryption)
        registry = EcrRegistry("lib", EcrRegistryArgs(region="eu-west-1", repositories=[repo], notifications=[hook]))
        return {"urls": registry.repository_urls}

    members, strings = RecordingMocks(), RecordingMocks()
    run_under_mocks(members, lambda: program(EcrEncryptionType.KMS, EcrEventKind.DELETE))
    run_under_mocks(strings, lambda: program("KMS", "delete"))
    assert _declared(members) == _declared(strings)
    repository = members.find("aws:ecr/repository:Repository", "lib-repo-svc").plain
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]


def _registry(**changes: Any) -> EcrRegistryArgs:
    args: dict[str, Any] = {"region": "eu-west-1", "repositories": [{"name": "team/api"}], **changes}
    return args  # type: ignore[return-value]  # deliberately bad values: what a library user may pass


HOOK: dict[str, Any] = {"name": "ci", "url": HOOK_URL, "auth_header_name": "X-T", "auth_header_value": "t"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (_registry(repositories=[{"name": "Team/API"}]), "EcrRegistryArgs.repositories[0].name: 'Team/API' must be"),
        (_registry(repositories=[{"name": "a"}]), "EcrRegistryArgs.repositories[0].name: 'a' must be 2-256"),
        (_registry(repositories=[{"name": "team//api"}]), "repositories[0].name: 'team//api' must be"),
        (
            _registry(repositories=[{"name": "app", "encryption_type": "kms"}]),
            "EcrRegistryArgs.repositories[0].encryption_type: 'kms' must be one of 'AES256', 'KMS'",
        ),
        (
            _registry(repositories=[{"name": "app", "retention": {"keep_latest": [{"tag": "v*", "count": 0}]}}]),
            "EcrRegistryArgs.repositories[0].retention.keepLatest[0].count: 0 must be >= 1",
        ),
        (
            _registry(notifications=[{**HOOK, "url": "http://ci.example.com/?key=plain-http-key"}]),
            "EcrRegistryArgs.notifications[0].url: must be an https:// URL",
        ),
        (
            _registry(notifications=[{**HOOK, "events": ["push", "pull"]}]),
            "EcrRegistryArgs.notifications[0].events[1]: 'pull' must be one of 'push', 'delete', 'scan'",
        ),
        (
            _registry(registry_settings={"scan_type": "DEEP"}),
            "EcrRegistryArgs.registry_settings.scan_type: 'DEEP' must be one of 'BASIC', 'ENHANCED'",
        ),
        (
            _registry(registry_settings={"cached_repositories": {"immutable_tags": False, "mutable_tags": ["x"]}}),
            "EcrRegistryArgs.registry_settings.cached_repositories.mutable_tags: only allowed with immutable_tags",
        ),
        # PutRegistryScanningConfiguration refuses CONTINUOUS_SCAN rules with BASIC (the spec's
        # EcrScanning._continuous_needs_enhanced); without scan_type nothing would be declared at all.
        (
            _registry(registry_settings={"scan_type": "BASIC", "continuous_scan": ["*"]}),
            "EcrRegistryArgs.registry_settings.continuous_scan: ['*'] needs scan_type ENHANCED, not 'BASIC'",
        ),
        (
            _registry(registry_settings={"continuous_scan": ["team/*"]}),
            "EcrRegistryArgs.registry_settings.continuous_scan: ['team/*'] needs scan_type ENHANCED, not unset",
        ),
    ],
)
def test_bad_args_name_the_arg_and_declare_nothing(args: EcrRegistryArgs, message: str):
    mocks = RecordingMocks()
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        run_under_mocks(mocks, lambda: {"urls": EcrRegistry("lib", args).repository_urls})
    assert mocks.resources == []  # not even the component
    assert "plain-http-key" not in message


def test_a_hook_url_from_another_resource_is_checked_once_known_without_showing_it():
    def program() -> dict[str, pulumi.Output[Any]]:
        url = pulumi.Output.secret("http://ci.example.com/?key=plain-http-key")  # another resource's output
        registry = EcrRegistry("lib", _registry(notifications=[{**HOOK, "url": url}]))
        return {"urls": registry.repository_urls}

    with pytest.raises(Exception, match=r"EcrRegistryArgs\.notifications\[0\]\.url: must be an https:// URL") as caught:
        run_under_mocks(RecordingMocks(), program)
    assert "plain-http-key" not in str(caught.value)


def test_the_analyzer_reads_the_args_types_secrets_and_defaults():
    result = Analyzer("registries").analyze([EcrRegistry])
    component = result["component_definitions"]["EcrRegistry"]
    assert {k for k, v in component.inputs.items() if not v.optional} == {"region", "repositories"}
    assert component.inputs["region"].plain is None  # an Input: may come from another resource
    assert component.inputs["repositories"].plain  # shapes which resources are declared
    types = result["type_definitions"]
    assert all(name.startswith(("Ecr", "Retention", "KeepLatest")) for name in types)  # names are package-global
    notification = types["EcrNotificationArgs"].properties
    assert {k for k, v in notification.items() if str(v.description).startswith("Secret.")} == {
        "url",
        "authHeaderValue",
    }
    assert [member.value for member in types["EcrEncryptionType"].enum or []] == ["AES256", "KMS"]
    assert "Default: AES256." in str(types["EcrRepositoryArgs"].properties["encryptionType"].description)
    assert types["EcrRepositoryArgs"].properties["retention"].ref == "#/types/registries:index:RetentionArgs"
    assert set(component.outputs) >= {"registry", "repositoryUrls", "loginCommand", "dockerConfigJson"}
