"""What Acr declares from the stack config (every input, secret and output), and as a library with Outputs."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pulumi
import pytest
import yaml

from components.acr import Acr, AcrArgs, AcrRole, AcrSku, AcrWebhookAction, purge_document
from components.retention.acr import parse_acr_policy, simulate
from components.retention.model import Image
from tests.support.pulumi_runtime import (
    StackOutput,
    config_from_stack_file,
    is_secret,
    run_program,
    unwrap,
    wrap_secret,
)
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import ROOT as PROJECT_ROOT
from tests.unit.conftest import record_options
from tests.unit.test_acr_schema import ACR, HOOK_HEADER, HOOK_URL, PULL_PRINCIPAL, VAULT_ID, acr_config

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
ARM_TOKEN = "arm-access-token-from-getClientToken"
CR = "azure-native:containerregistry"
REGISTRY = f"{CR}:Registry"
TOKEN_PASSWORD = "pulumi-python:dynamic/acr:TokenPassword"
# Where each child type lives under the registry's ARM id.
CHILD_SEGMENTS = {
    f"{CR}:Replication": ("replications", "replicationName"),
    f"{CR}:Webhook": ("webhooks", "webhookName"),
    f"{CR}:ScopeMap": ("scopeMaps", "scopeMapName"),
    f"{CR}:Token": ("tokens", "tokenName"),
    f"{CR}:CacheRule": ("cacheRules", "cacheRuleName"),
    f"{CR}:CredentialSet": ("credentialSets", "credentialSetName"),
    f"{CR}:Task": ("tasks", "taskName"),
}


def password_of(token_id: str, slot: str) -> str:
    return f"generated-{token_id.rsplit('/', 1)[-1]}-{slot}"


class AzureMocks(RecordingMocks):
    """RecordingMocks plus what Azure answers: ARM ids, the login server, identities, generated token passwords."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outs = super().new_resource(args)
        inputs = unwrap(args.inputs)
        group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{inputs.get('resourceGroupName')}"
        registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/{inputs.get('registryName')}"
        if args.typ == "azure-native:resources:ResourceGroup":
            outs["name"] = inputs["resourceGroupName"]
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{outs['name']}", outs
        if args.typ == REGISTRY:
            outs.update(
                name=inputs["registryName"],
                loginServer=f"{inputs['registryName'].lower()}.azurecr.io",
                location=inputs.get("location", "westeurope"),  # Azure: the resource group's region
            )
            return registry, outs
        if args.typ in CHILD_SEGMENTS:
            segment, key = CHILD_SEGMENTS[args.typ]
            outs["name"] = inputs[key]
            if args.typ == f"{CR}:CredentialSet":
                outs["identity"] = {**inputs["identity"], "principalId": f"principal-of-{inputs[key]}"}
            return f"{registry}/{segment}/{inputs[key]}", outs
        if args.typ == TOKEN_PASSWORD:
            token_id, slot = inputs["tokenId"], inputs["name"]
            outs.update(username=token_id.rsplit("/", 1)[-1], value=wrap_secret(password_of(token_id, slot)))
            outs.pop("accessToken", None)
            return f"{token_id}/{slot}", outs
        return resource_id, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "azure-native:authorization:getClientToken":
            return {"token": ARM_TOKEN}, []
        return super().call(args)


def run_acr(
    config: dict[str, Any], stack: str = "dev", secret: bool = True
) -> tuple[AzureMocks, dict[str, StackOutput]]:
    mocks = AzureMocks()
    outputs = run_program(
        mocks,
        stack=stack,
        config={"registries:acr": json.dumps(config)},
        secret_keys=["registries:acr"] if secret else [],
    )
    return mocks, outputs


def one(mocks: AzureMocks, typ: str, name: str) -> dict[str, Any]:
    return mocks.find(typ, name).plain


def test_registry_inputs_follow_the_config():
    mocks, _ = run_acr(ACR)
    group = one(mocks, "azure-native:resources:ResourceGroup", "acr-rg")
    assert group == {"resourceGroupName": "rg-registries", "location": "westeurope"}
    registry = one(mocks, REGISTRY, "acr-registry")
    assert registry == {
        "registryName": "acmeregistry01",
        "resourceGroupName": "rg-registries",
        "location": "westeurope",
        "sku": {"name": "Premium"},
        "adminUserEnabled": False,
        "publicNetworkAccess": "Enabled",
        "zoneRedundancy": "Enabled",
        "policies": {"retentionPolicy": {"days": 30, "status": "enabled"}},
        # The SDK's own defaults, sent as they are.
        "anonymousPullEnabled": False,
        "networkRuleBypassOptions": "AzureServices",
    }
    replica = one(mocks, f"{CR}:Replication", "acr-replica-northeurope")
    assert replica == {
        "registryName": "acmeregistry01",
        "resourceGroupName": "rg-registries",
        "replicationName": "northeurope",
        "location": "northeurope",
        "regionEndpointEnabled": True,
        "zoneRedundancy": "Disabled",
    }


def test_an_existing_group_and_a_basic_tier_send_no_premium_settings():
    mocks, outputs = run_acr({"resourceGroup": {"name": "rg-existing"}, "name": "acme12345", "sku": "Basic"})
    assert mocks.of_type("azure-native:resources:ResourceGroup") == []
    registry = one(mocks, REGISTRY, "acr-registry")
    assert registry["resourceGroupName"] == "rg-existing"
    assert "location" not in registry  # Azure takes the group's region
    assert "policies" not in registry  # a retention policy on Basic/Standard fails the deployment (AVM #96)
    assert registry["zoneRedundancy"] == "Disabled"
    # No retention, tokens or hooks: nothing else, and no ARM token is fetched.
    assert sorted({r.typ for r in mocks.resources}) == [REGISTRY, "registries:index:Acr"]
    scanning = {key: outputs["acr"].value.pop(key) for key in ("scanResults", "scanFindingsCommand")}
    assert outputs["acr"].value == {
        "loginServer": "acme12345.azurecr.io",
        "repositories": {},
        "loginCommand": "az acr login -n acme12345",
        "dockerConfigJson": {},
        "pushTokens": [],
    }
    assert list(scanning["scanResults"]) == ["acme12345.azurecr.io"]  # tests/unit/test_scan_results.py: the rest


def decoded_task(mocks: AzureMocks) -> tuple[dict[str, Any], dict[str, Any]]:
    task = one(mocks, f"{CR}:Task", "acr-purge")
    return task, yaml.safe_load(base64.b64decode(task["step"]["encodedTaskContent"]))


def test_retention_runs_as_a_scheduled_purge_task_with_the_compiled_filters():
    mocks, _ = run_acr(ACR)
    task, steps = decoded_task(mocks)
    assert task["taskName"] == "retention-purge"
    assert task["location"] == "westeurope"
    assert task["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert task["status"] == "Enabled"
    assert task["timeout"] == 1800
    assert task["trigger"] == {"timerTriggers": [{"name": "retention", "schedule": "0 4 * * Sun", "status": "Enabled"}]}
    assert task["step"]["type"] == "EncodedTask"
    assert task["step"]["contextPath"] == "/dev/null"
    # team/api inherits {untaggedDays: 7, taggedDays: 180}; team/worker has {untaggedDays: 1}; team/docs.site none.
    assert steps["version"] == "v1.1.0"
    assert [step["cmd"] for step in steps["steps"]] == [
        "acr purge --filter 'team/api:.*' --ago 7d --untagged-only --dry-run",
        "acr purge --filter 'team/api:.*' --ago 180d --untagged --dry-run",
        "acr purge --filter 'team/worker:.*' --ago 1d --untagged-only --dry-run",
    ]
    assert all(step["timeout"] == 1800 and step["disableWorkingDirectoryOverride"] for step in steps["steps"])


def test_the_purge_document_simulates_what_each_repository_declares():
    args: AcrArgs = {
        "resource_group": {"name": "rg"},
        "name": "acme12345",
        "sku": AcrSku.PREMIUM,
        "untagged_retention_days": 30,
        "retention": {"untagged_days": 7, "tagged_days": 180},
        "repositories": [{"name": "team/api"}, {"name": "team/api.v2", "retention": {"untagged_days": 1}}],
    }
    document = purge_document(args)
    assert document["retentionDays"] == 30
    from datetime import UTC, datetime

    now = datetime(2026, 1, 31, tzinfo=UTC)
    images = [
        Image("team/api", "sha256:a-untagged-3d", (), datetime(2026, 1, 28, tzinfo=UTC)),
        Image("team/api", "sha256:a-old-tag", ("v1",), datetime(2025, 1, 1, tzinfo=UTC)),
        Image("team/api.v2", "sha256:b-untagged-3d", (), datetime(2026, 1, 28, tzinfo=UTC)),
        # The dot is escaped: team/apixv2 is not team/api.v2 (and team/api's filter is anchored).
        Image("team/apixv2", "sha256:c-untagged-old", (), datetime(2025, 1, 1, tzinfo=UTC)),
    ]
    outcome = simulate(parse_acr_policy({**document, "retentionDays": None}), images, now)
    assert sorted(d for _, d in outcome.expire) == ["sha256:a-old-tag", "sha256:b-untagged-3d"]


def test_scope_maps_and_tokens_with_generated_passwords_as_secret_docker_configs():
    mocks, outputs = run_acr(ACR)
    scope_map = one(mocks, f"{CR}:ScopeMap", "acr-scopemap-team-push")
    assert scope_map["actions"] == ["repositories/team/*/content/read", "repositories/team/*/content/write"]
    assert scope_map["description"] == "CI pushes"
    token = one(mocks, f"{CR}:Token", "acr-token-ci-push")
    registry_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-registries/providers/Microsoft.ContainerRegistry/"
        "registries/acmeregistry01"
    )
    assert token == {
        "registryName": "acmeregistry01",
        "resourceGroupName": "rg-registries",
        "tokenName": "ci-push",
        "scopeMapId": f"{registry_id}/scopeMaps/team-push",
        "status": "enabled",
    }
    assert one(mocks, f"{CR}:Token", "acr-token-ci-disabled")["status"] == "disabled"
    first = mocks.find(TOKEN_PASSWORD, "acr-token-ci-push-password1")
    assert first.plain["registryId"] == registry_id
    assert first.plain["tokenId"] == f"{registry_id}/tokens/ci-push"
    assert first.plain["expiry"] == "2027-06-30T00:00:00Z"
    assert is_secret(first.inputs["accessToken"])
    assert first.plain["accessToken"] == ARM_TOKEN
    assert mocks.find(TOKEN_PASSWORD, "acr-token-ci-push-password2").plain.get("expiry") is None
    configs = outputs["acr"]
    assert configs.secret
    docker = json.loads(configs.value["dockerConfigJson"]["ci-push"])
    auth = base64.b64decode(docker["auths"]["acmeregistry01.azurecr.io"]["auth"]).decode()
    assert auth == f"ci-push:{password_of(f'{registry_id}/tokens/ci-push', 'password1')}"
    # A disabled token cannot log in: it gets no docker config (login and verify would otherwise pick it).
    assert set(configs.value["dockerConfigJson"]) == {"ci-push"}
    assert configs.value["pushTokens"] == ["ci-push"]


def test_webhooks_carry_their_url_and_headers_as_secrets():
    mocks, _ = run_acr(ACR)
    declared = mocks.find(f"{CR}:Webhook", "acr-webhook-deployhook")
    assert is_secret(declared.inputs["serviceUri"])
    assert is_secret(declared.inputs["customHeaders"]) or is_secret(declared.inputs["customHeaders"]["Authorization"])
    assert declared.plain == {
        "registryName": "acmeregistry01",
        "resourceGroupName": "rg-registries",
        "webhookName": "deployhook",
        "location": "westeurope",
        "serviceUri": HOOK_URL,
        "actions": ["push", "delete"],
        "scope": "team/api:*",
        "status": "enabled",
        "customHeaders": {"Authorization": HOOK_HEADER},
    }


def test_artifact_cache_with_key_vault_credentials_and_the_vault_grant():
    mocks, _ = run_acr(ACR)
    credentials = one(mocks, f"{CR}:CredentialSet", "acr-credentials-dockerhub")
    assert credentials["loginServer"] == "docker.io"
    assert credentials["identity"] == {"type": "SystemAssigned"}
    assert credentials["authCredentials"] == [
        {
            "name": "Credential1",
            "usernameSecretIdentifier": "https://acme-kv.vault.azure.net/secrets/dockerhub-user",
            "passwordSecretIdentifier": "https://acme-kv.vault.azure.net/secrets/dockerhub-token",
        }
    ]
    grant = one(mocks, "azure-native:authorization:RoleAssignment", "acr-credentials-dockerhub-keyvault")
    assert grant["scope"] == VAULT_ID
    assert grant["principalId"] == "principal-of-dockerhub"
    assert grant["roleDefinitionId"].endswith("/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6")
    assert grant["roleDefinitionId"].startswith("/subscriptions/00000000-0000-0000-0000-000000000000/")
    hub = one(mocks, f"{CR}:CacheRule", "acr-cache-hub-library")
    assert hub["sourceRepository"] == "docker.io/library/*"
    assert hub["targetRepository"] == "hub/library/*"
    assert hub["credentialSetResourceId"].endswith("/credentialSets/dockerhub")
    pause = one(mocks, f"{CR}:CacheRule", "acr-cache-k8s-pause")
    assert "credentialSetResourceId" not in pause


def test_role_assignments_grant_the_built_in_roles_with_stable_names():
    mocks, _ = run_acr(ACR)
    pull = one(mocks, "azure-native:authorization:RoleAssignment", f"acr-role-AcrPull-{PULL_PRINCIPAL}")
    assert pull["scope"].endswith("/registries/acmeregistry01")
    assert pull["principalId"] == PULL_PRINCIPAL
    assert pull["principalType"] == "ServicePrincipal"
    assert pull["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    )
    push = one(
        mocks, "azure-native:authorization:RoleAssignment", "acr-role-AcrPush-66666666-7777-8888-9999-000000000000"
    )
    assert push["roleDefinitionId"].endswith("/8311e382-0749-4cb8-b61a-304f252e45ec")
    assert push["principalType"] == "Group"
    again, _ = run_acr(ACR)  # a re-run declares identical inputs (GUID names derived, not random)
    assert {r.name: r.plain for r in again.resources} == {r.name: r.plain for r in mocks.resources}


def test_outputs_under_the_acr_key():
    _, outputs = run_acr(ACR)
    acr = outputs["acr"].value
    assert acr["loginServer"] == "acmeregistry01.azurecr.io"
    assert acr["loginCommand"] == "az acr login -n acmeregistry01"
    assert acr["repositories"] == {
        "team/api": "acmeregistry01.azurecr.io/team/api",
        "team/worker": "acmeregistry01.azurecr.io/team/worker",
        "team/docs.site": "acmeregistry01.azurecr.io/team/docs.site",
    }


def test_the_registry_is_protected_on_production_stacks(monkeypatch: pytest.MonkeyPatch):
    import pulumi_azure_native.containerregistry as cr

    options = record_options(monkeypatch, cr, "Registry")
    run_acr(acr_config(), stack="prod")
    assert options["acr-registry"].protect is True
    run_acr(acr_config(), stack="dev")
    assert options["acr-registry"].protect is False


def test_plain_webhook_secrets_in_the_stack_config_stop_the_program():
    from registries.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        run_acr(ACR, secret=False)
    assert "registries:acr.webhooks[0].url" in str(caught.value)
    assert HOOK_URL not in str(caught.value)


def test_the_example_stack_file_deploys_under_mocks():
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / "Pulumi.azure.yaml").read_text())
    mocks = AzureMocks()
    outputs = run_program(mocks, stack="azure", config=config_from_stack_file(document))
    assert outputs["acr"].value["loginServer"] == "acmeregistry01.azurecr.io"
    assert set(outputs["acr"].value["dockerConfigJson"]) == {"ci-push", "cluster-pull"}
    assert len(mocks.of_type(f"{CR}:CacheRule")) == 2


def test_library_use_with_outputs_from_other_resources():
    principal = pulumi.Output.from_input("abcdef01-2345-6789-abcd-ef0123456789")
    secret_uri = pulumi.Output.secret("https://kv1.vault.azure.net/secrets/hub-token")

    def program() -> dict[str, Any]:
        acr = Acr(
            "lib",
            {
                "resource_group": {"name": pulumi.Output.from_input("rg-from-output")},
                "name": "libregistry",
                "sku": AcrSku.STANDARD,
                "webhooks": [
                    {
                        "name": "hookone",
                        "url": pulumi.Output.from_input("https://h"),
                        "actions": [AcrWebhookAction.PUSH],
                    }
                ],
                "credential_sets": [
                    {
                        "name": "hub-creds",
                        "login_server": "docker.io",
                        "username_secret_uri": "https://kv1.vault.azure.net/secrets/hub-user",
                        "password_secret_uri": secret_uri,
                    }
                ],
                "role_assignments": [{"principal_id": principal, "role": AcrRole.ACR_PULL}],
            },
        )
        return {"server": acr.login_server}

    mocks = AzureMocks()
    outputs = run_program(mocks, stack="dev", config={}, program=program)
    assert outputs["server"].value == "libregistry.azurecr.io"
    assert one(mocks, REGISTRY, "lib-registry")["resourceGroupName"] == "rg-from-output"
    assert is_secret(mocks.find(f"{CR}:Webhook", "lib-webhook-hookone").inputs["serviceUri"])
    # An Output principal names its assignment by position; its GUID name still derives from the principal.
    assignment = one(mocks, "azure-native:authorization:RoleAssignment", "lib-role-AcrPull-0")
    assert assignment["principalId"] == "abcdef01-2345-6789-abcd-ef0123456789"


def test_library_args_are_checked_naming_the_arg():
    def program(args: AcrArgs) -> Any:
        return lambda: {"x": Acr("bad", args).login_server}

    cases = [
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.BASIC, "zone_redundancy": True},
         "AcrArgs.zone_redundancy: needs sku Premium"),
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.STANDARD, "public_network_access": False},
         "AcrArgs.public_network_access: needs sku Premium (got Standard)"),
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.BASIC, "untagged_retention_days": 0},
         "AcrArgs.untagged_retention_days: needs sku Premium (got Basic)"),
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": "Ultra"}, "AcrArgs.sku: 'Ultra' must be"),
        ({"resource_group": {"name": "rg", "create": True}, "name": "abcde", "sku": AcrSku.BASIC},
         "AcrArgs.resource_group.location"),
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.BASIC,
          "tokens": [{"name": "tok12", "scope_map": "none1"}]}, "AcrArgs.tokens[0].scope_map"),
        ({"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.BASIC,
          "repositories": [{"name": "a", "retention": {"keep_latest": [{"tag": "v*", "count": 2}]}}]},
         "AcrArgs.repositories[0].retention.keepLatest[0]"),
    ]  # fmt: skip
    for args, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            run_program(AzureMocks(), stack="dev", config={}, program=program(args))  # type: ignore[arg-type]


def test_an_acr_stack_installs_the_azure_native_plugin_of_the_installed_sdk():
    from importlib import metadata

    from registries.config import load_stack_spec
    from registryctl.plugins import required_plugins

    plugins = required_plugins(load_stack_spec({"acr": ACR}, "dev"))
    assert [(p.name, p.version, p.package) for p in plugins] == [
        ("azure-native", metadata.version("pulumi-azure-native"), "pulumi-azure-native")
    ]


def _lib(**changes: Any) -> dict[str, Any]:
    return {"resource_group": {"name": "rg"}, "name": "abcde", "sku": AcrSku.PREMIUM, **changes}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            _lib(role_assignments=[{"principal_id": "00000000-0000-0000-0000-000000000001", "role": "AcrAdmin"}]),
            "AcrArgs.role_assignments[0].role: 'AcrAdmin' must be one of 'AcrPull', 'AcrPush', 'AcrDelete'",
        ),
        (
            _lib(webhooks=[{"name": "hookone", "url": "https://h", "actions": ["push", "pull"]}]),
            "AcrArgs.webhooks[0].actions[1]: 'pull' must be one of 'push', 'delete', 'quarantine'",
        ),
        (
            # The bad rule is on the second repository: its own index, not its place among those with retention.
            _lib(
                repositories=[{"name": "a"}, {"name": "b", "retention": {"keep_latest": [{"tag": "v*", "count": 2}]}}]
            ),
            "AcrArgs.repositories[1].retention.keepLatest[0]",
        ),
        (
            # Inherited from the registry's retention: named there, not as a repository's.
            _lib(retention={"keep_latest": [{"tag": "v*", "count": 2}]}, repositories=[{"name": "a"}]),
            "AcrArgs.retention.keepLatest[0]",
        ),
        # The spec's ARM name and value rules hold for library users too (components/acr_names.py, one definition).
        (_lib(name="acme_registry"), "AcrArgs.name: 'acme_registry' must be 5-50 letters and digits"),
        (_lib(repositories=[{"name": "Team/API"}]), "AcrArgs.repositories[0].name: 'Team/API' must be lowercase"),
        (_lib(tokens=[{"name": "ci", "scope_map": "x"}]), "AcrArgs.tokens[0].name: 'ci' must be 5-50"),
        (_lib(geo_replications=[{"location": "West Europe"}]), "AcrArgs.geo_replications[0].location: 'West Europe'"),
        (_lib(purge={"schedule": "daily"}), "AcrArgs.purge.schedule: 'daily' must be a 5-field cron expression"),
        (
            _lib(role_assignments=[{"principal_id": "ci-bot", "role": "AcrPull"}]),
            "AcrArgs.role_assignments[0].principal_id: 'ci-bot' must be an Entra object id",
        ),
        (
            _lib(
                credential_sets=[
                    {
                        "name": "hubcreds",
                        "login_server": "docker.io",
                        "username_secret_uri": "https://acme-vault.vault.azure.net/secrets/hub-user",
                        "password_secret_uri": "dckr_pat_not-a-uri",
                    }
                ]
            ),
            "AcrArgs.credential_sets[0].password_secret_uri: a secret value (not shown) must be a Key Vault secret",
        ),
    ],
)
def test_bad_enum_values_and_purge_rules_name_the_arg_and_declare_nothing(args: dict[str, Any], message: str):
    mocks = AzureMocks()
    with pytest.raises(ValueError, match=re.escape(message)):
        run_program(mocks, stack="dev", config={}, program=lambda: {"x": Acr("bad", args).login_server})  # type: ignore[arg-type]
    assert mocks.resources == []  # not even the component


def test_a_second_run_declares_identical_inputs():
    first, first_outputs = run_acr(ACR)
    second, second_outputs = run_acr(ACR)
    declared = [{(r.typ, r.name): r.plain for r in mocks.resources} for mocks in (first, second)]
    assert declared[0] == declared[1]
    assert len(declared[0]) == len(first.resources)  # no two resources share a type and name
    assert first_outputs["acr"].value == second_outputs["acr"].value
