"""Acr: an Azure Container Registry (pulumi-azure-native 3) with geo-replicas, retention run as a scheduled
`acr purge` task, repository-scoped tokens with generated passwords, native webhooks, an artifact cache with
Key Vault credentials, and AcrPull/AcrPush role assignments."""

import base64
import json
import re
import uuid
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure

from components.acr_names import (
    CHILD_NAME,
    CRON,
    GUID,
    HEADER_NAME,
    KEY_VAULT_ID,
    KEY_VAULT_SECRET,
    LOCATION,
    REGISTRY_NAME,
    REPOSITORY_NAME,
    RESOURCE_GROUP,
    SCOPE_MAP_NAME,
    SCOPE_REPOSITORY,
    WEBHOOK_NAME,
)
from components.arg_checks import enum_value
from components.retention.acr import ACR_CLI_IMAGE, compile_acr_policy
from components.retention.args import RetentionArgs, retention_intent
from components.retention.model import PolicyError, RetentionIntent
from providers.acr.token_password import TokenPassword

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
ROLE_DEFINITIONS = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AcrDelete": "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
# What the artifact cache's credential set needs on the vault holding its secrets (RBAC vaults).
KEY_VAULT_SECRETS_USER = "Key Vault Secrets User"
# Role assignment names are GUIDs; derived from what they grant, so a re-run declares the same name.
ASSIGNMENT_NAMESPACE = uuid.UUID("6f1c2a52-8a0e-4c35-9a55-0e3f8f0b7a11")
PURGE_TASK_YAML_VERSION = "v1.1.0"


class AcrSku(StrEnum):
    """ACR service tier."""

    BASIC = "Basic"
    STANDARD = "Standard"
    PREMIUM = "Premium"


class AcrRole(StrEnum):
    """Built-in registry roles."""

    ACR_PULL = "AcrPull"
    ACR_PUSH = "AcrPush"
    ACR_DELETE = "AcrDelete"


class AcrWebhookAction(StrEnum):
    """Registry events a webhook is called for."""

    PUSH = "push"
    DELETE = "delete"
    QUARANTINE = "quarantine"


class AcrResourceGroupArgs(TypedDict):
    """The resource group of the registry."""

    name: pulumi.Input[str]
    """Resource group name."""
    create: NotRequired[bool]
    """Declare the group (needs location). Default: False (it exists)."""
    location: NotRequired[pulumi.Input[str]]
    """Region of a created group. Default: none."""


class AcrGeoReplicationArgs(TypedDict):
    """A replica in another region (Premium)."""

    location: str
    """Region of the replica."""
    regional_endpoint_enabled: NotRequired[bool]
    """Serve the replica's own regional endpoint. Default: True."""
    zone_redundancy: NotRequired[bool]
    """Spread the replica over availability zones. Default: False."""


class AcrRepositoryArgs(TypedDict):
    """A repository the registry serves (created by ACR on first push)."""

    name: str
    """Repository name, e.g. team/api."""
    retention: NotRequired[RetentionArgs]
    """Its retention, replacing the registry's. Default: the registry's retention."""


class AcrPurgeArgs(TypedDict):
    """The scheduled ACR Task running `acr purge`."""

    schedule: NotRequired[str]
    """Cron expression (UTC). Default: "0 3 * * *"."""
    dry_run: NotRequired[bool]
    """Only log what would be deleted. Default: False."""
    timeout: NotRequired[int]
    """Seconds the task may run. Default: 3600."""


class AcrScopeMapRepositoryArgs(TypedDict):
    """Allowed actions on one repository (or namespace/*)."""

    repository: str
    """Repository name, or namespace/*."""
    actions: list[str]
    """content/read, content/write, content/delete, metadata/read, metadata/write."""


class AcrScopeMapArgs(TypedDict):
    """A set of repository permissions for tokens."""

    name: str
    """Scope map name (5-50 letters, digits, -)."""
    description: NotRequired[str]
    """What it is for. Default: empty."""
    repositories: list[AcrScopeMapRepositoryArgs]
    """Repositories and actions."""


class AcrTokenPasswordArgs(TypedDict):
    """A generated password slot of a token."""

    name: str
    """password1 or password2."""
    expiry: NotRequired[str]
    """Expiry, UTC (2027-01-31T00:00:00Z). Default: never."""


class AcrTokenArgs(TypedDict):
    """Repository-scoped credentials."""

    name: str
    """Token name: the docker login user name."""
    scope_map: str
    """Name of one of scope_maps."""
    enabled: NotRequired[bool]
    """Whether the token can log in. Default: True."""
    passwords: NotRequired[list[AcrTokenPasswordArgs]]
    """Password slots to generate. Default: [{"name": "password1"}]."""


class AcrWebhookHeaderArgs(TypedDict):
    """A header sent with each webhook call."""

    name: str
    """Header name."""
    value: pulumi.Input[str]
    """Secret. Header value."""


class AcrWebhookArgs(TypedDict):
    """A native ACR webhook."""

    name: str
    """Webhook name (5-50 letters and digits)."""
    url: pulumi.Input[str]
    """Secret. The https:// endpoint ACR POSTs to."""
    actions: list[AcrWebhookAction]
    """Events: push, delete, quarantine."""
    scope: NotRequired[str]
    """repository:tag filter ("team/api:*"). Default: "" (every repository)."""
    enabled: NotRequired[bool]
    """Whether ACR calls it. Default: True."""
    custom_headers: NotRequired[list[AcrWebhookHeaderArgs]]
    """Headers sent with each call. Default: none."""


class AcrCredentialSetArgs(TypedDict):
    """Upstream credentials of the artifact cache, in Key Vault."""

    name: str
    """Credential set name."""
    login_server: str
    """Upstream registry, e.g. docker.io."""
    username_secret_uri: pulumi.Input[str]
    """Key Vault secret URI of the user name."""
    password_secret_uri: pulumi.Input[str]
    """Key Vault secret URI of the password or access token."""
    key_vault_id: NotRequired[pulumi.Input[str]]
    """Vault resource id: grant the set's identity Key Vault Secrets User there. Default: no grant."""


class AcrCacheRuleArgs(TypedDict):
    """An artifact cache rule."""

    name: str
    """Cache rule name."""
    source: str
    """Upstream repository, e.g. docker.io/library/nginx."""
    target: str
    """Repository in this registry, e.g. hub/nginx."""
    credential_set: NotRequired[str]
    """Name of one of credential_sets. Default: anonymous."""


class AcrRoleAssignmentArgs(TypedDict):
    """A registry role for a principal."""

    principal_id: pulumi.Input[str]
    """Object id of the principal (e.g. a managed identity's principal_id)."""
    role: AcrRole
    """AcrPull, AcrPush or AcrDelete."""
    principal_type: NotRequired[str]
    """ServicePrincipal, User or Group. Default: "ServicePrincipal"."""


class AcrArgs(TypedDict):
    """One Azure Container Registry."""

    resource_group: AcrResourceGroupArgs
    """Where the registry lives."""
    name: str
    """Registry name (5-50 letters and digits, globally unique)."""
    location: NotRequired[pulumi.Input[str]]
    """Region. Default: the resource group's."""
    sku: AcrSku
    """Basic, Standard or Premium."""
    admin_user_enabled: NotRequired[bool]
    """Enable the shared admin account. Default: False."""
    public_network_access: NotRequired[bool]
    """Reachable from the internet. Default: True."""
    zone_redundancy: NotRequired[bool]
    """Availability-zone redundancy (Premium). Default: False."""
    geo_replications: NotRequired[list[AcrGeoReplicationArgs]]
    """Replicas (Premium). Default: none."""
    untagged_retention_days: NotRequired[int]
    """Registry retention policy for untagged manifests, days after untagging (Premium). Default: off."""
    retention: NotRequired[RetentionArgs]
    """Retention every repository inherits, run by the purge task. Default: none."""
    purge: NotRequired[AcrPurgeArgs]
    """Schedule of the purge task. Default: daily at 03:00 UTC."""
    repositories: NotRequired[list[AcrRepositoryArgs]]
    """Repositories. Default: none."""
    scope_maps: NotRequired[list[AcrScopeMapArgs]]
    """Scope maps. Default: none."""
    tokens: NotRequired[list[AcrTokenArgs]]
    """Tokens with generated passwords. Default: none."""
    webhooks: NotRequired[list[AcrWebhookArgs]]
    """Webhooks. Default: none."""
    credential_sets: NotRequired[list[AcrCredentialSetArgs]]
    """Cache credential sets. Default: none."""
    cache_rules: NotRequired[list[AcrCacheRuleArgs]]
    """Cache rules. Default: none."""
    role_assignments: NotRequired[list[AcrRoleAssignmentArgs]]
    """Role assignments on the registry. Default: none."""
    protect: NotRequired[bool]
    """Pulumi protect on the registry (production stacks). Default: False."""
    signed_images: NotRequired[bool]
    """The repositories hold signatures, attestations or SBOMs (a `signing:` block sets it): a retention rule that
    deletes is refused, naming the rule, where ACR cannot keep those exactly as long as their subject.
    Default: false."""


def repository_regex(repository: str) -> str:
    """acr purge anchors the repository regex; a name's only regex metacharacter is `.` (RE2 and Python agree)."""
    return repository.replace(".", r"\.")


def repository_intents(args: AcrArgs) -> list[tuple[str, str, RetentionIntent]]:
    """(arg path of its retention, repository, effective intent) for each repository whose retention deletes
    something; ValueError naming the arg of a bad rule."""
    default = retention_intent(args.get("retention"), "AcrArgs.retention")
    intents = []
    for index, repo in enumerate(args.get("repositories", [])):
        if "retention" in repo:
            where = f"AcrArgs.repositories[{index}].retention"
            intent = retention_intent(repo["retention"], where)
        else:
            where, intent = "AcrArgs.retention", default  # inherited: the rule is the registry's
        if not intent.is_empty:
            intents.append((where, repo["name"], intent))
    return intents


def purge_document(args: AcrArgs) -> dict[str, Any]:
    """The ACR retention document of the registry ({"retentionDays", "purge"}, what `registryctl retention
    simulate --platform acr` takes): each repository's compiled purge tasks with its filters, repositories with the
    same retention grouped into one command per task."""
    groups: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for where, repository, intent in repository_intents(args):
        try:
            compiled = compile_acr_policy(intent, referrers=bool(args.get("signed_images", False)))["purge"]
        except PolicyError as error:
            raise ValueError(f"{where}.{error}") from None
        tasks, repositories = groups.setdefault(json.dumps(compiled, sort_keys=True), (compiled, []))
        repositories.append(repository)
    purge = []
    for tasks, repositories in groups.values():
        for task in tasks:
            tag_regexes = [f.split(":", 1)[1] for f in task["filters"]]
            filters = [f"{repository_regex(repo)}:{tag}" for repo in repositories for tag in tag_regexes]
            purge.append({**task, "filters": filters})
    return {"retentionDays": args.get("untagged_retention_days"), "purge": purge}


def purge_commands(document: dict[str, Any], dry_run: bool) -> list[str]:
    """One `acr purge` command line per purge task of the document (acr-cli flags)."""
    commands = []
    for task in document["purge"]:
        words = ["acr", "purge"]
        words += [f"--filter '{f}'" for f in task["filters"]]
        if task.get("ago"):
            words.append(f"--ago {task['ago']}")
        if task.get("keep"):
            words.append(f"--keep {task['keep']}")
        if task.get("untagged"):
            words.append("--untagged")
        if task.get("untaggedOnly"):
            words.append("--untagged-only")
        if dry_run:
            words.append("--dry-run")
        commands.append(" ".join(words))
    return commands


def purge_task_yaml(commands: list[str], timeout: int) -> str:
    """The ACR Tasks YAML running each command in turn. `acr` is an image alias: the task's own alias values come
    before the built-in ones (acr-builder graph/preprocessor.go), so this pins the acr-cli release the retention
    simulator models instead of whatever the built-in alias points at that day."""
    lines = [f"version: {PURGE_TASK_YAML_VERSION}", "alias:", "  values:", f"    acr: {ACR_CLI_IMAGE}", "steps:"]
    for command in commands:
        lines += [f"  - cmd: {command}", "    disableWorkingDirectoryOverride: true", f"    timeout: {timeout}"]
    return "\n".join(lines) + "\n"


def push_tokens(args: AcrArgs) -> list[str]:
    """Enabled tokens whose scope map allows content/write on some repository."""
    writers = {
        scope_map["name"]
        for scope_map in args.get("scope_maps", [])
        if any("content/write" in entry["actions"] for entry in scope_map["repositories"])
    }
    return [t["name"] for t in args.get("tokens", []) if t.get("enabled", True) and t["scope_map"] in writers]


def docker_config(login_server: str, username: str, password: str) -> str:
    """~/.docker/config.json content logging in to the registry with a token."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {login_server: {"auth": auth}}}, indent=2)


def assignment_name(*parts: str) -> str:
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, "/".join(parts)))


def role_definition_id(scope_id: str, role: str) -> str:
    """The subscription-level id of a built-in role, in the subscription of `scope_id` (an ARM resource id)."""
    subscription = scope_id.split("/")[2]
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_DEFINITIONS[role]}"


def _match(value: object, regex: re.Pattern[str], where: str, allowed: str, secret: bool = False) -> None:
    """ValueError naming `where` when a plain `value` does not match (an Output is checked by ARM)."""
    if isinstance(value, str) and not regex.fullmatch(value):
        shown = "a secret value (not shown)" if secret else repr(value)
        raise ValueError(f"{where}: {shown} {allowed}")


def _no_repeats(values: list[Any], where: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: {values} repeats an entry")


def _check_names(args: AcrArgs) -> None:
    """The ARM name and value rules of registries.config.acr (components.acr_names), for library users."""
    location = "must be an Azure region name such as westeurope or eastus2"
    child = "must be 5-50 letters, digits or - (ARM name rule)"
    _match(args["name"], REGISTRY_NAME, "AcrArgs.name", "must be 5-50 letters and digits (ARM name rule)")
    group = args["resource_group"]
    _match(group["name"], RESOURCE_GROUP, "AcrArgs.resource_group.name", "must be 1-90 of [-\\w._()], not ending in .")
    _match(group.get("location"), LOCATION, "AcrArgs.resource_group.location", location)
    _match(args.get("location"), LOCATION, "AcrArgs.location", location)
    for i, replica in enumerate(args.get("geo_replications", [])):
        _match(replica["location"], LOCATION, f"AcrArgs.geo_replications[{i}].location", location)
    for i, repo in enumerate(args.get("repositories", [])):
        where = f"AcrArgs.repositories[{i}].name"
        _match(repo["name"], REPOSITORY_NAME, where, "must be lowercase letters and digits separated by . _ - or /")
    schedule = (args.get("purge") or {}).get("schedule")
    _match(schedule, CRON, "AcrArgs.purge.schedule", "must be a 5-field cron expression (UTC)")
    for i, scope_map in enumerate(args.get("scope_maps", [])):
        where = f"AcrArgs.scope_maps[{i}]"
        _match(scope_map["name"], SCOPE_MAP_NAME, f"{where}.name", "must be 5-50 letters, digits, _ or -")
        for j, entry in enumerate(scope_map["repositories"]):
            allowed = "must be a repository name, optionally ending in /*"
            _match(entry["repository"], SCOPE_REPOSITORY, f"{where}.repositories[{j}].repository", allowed)
            _no_repeats(list(entry["actions"]), f"{where}.repositories[{j}].actions")
    for i, token in enumerate(args.get("tokens", [])):
        _match(token["name"], CHILD_NAME, f"AcrArgs.tokens[{i}].name", child)
    for i, hook in enumerate(args.get("webhooks", [])):
        where = f"AcrArgs.webhooks[{i}]"
        _match(hook["name"], WEBHOOK_NAME, f"{where}.name", "must be 5-50 letters and digits (ARM name rule)")
        _no_repeats([str(a) for a in hook["actions"]], f"{where}.actions")
        for j, header in enumerate(hook.get("custom_headers", [])):
            _match(header["name"], HEADER_NAME, f"{where}.custom_headers[{j}].name", "must be 1-64 of [A-Za-z0-9-]")
    for i, credential_set in enumerate(args.get("credential_sets", [])):
        where = f"AcrArgs.credential_sets[{i}]"
        _match(credential_set["name"], CHILD_NAME, f"{where}.name", child)
        identifier = "must be a Key Vault secret identifier https://<vault>.vault.azure.net/secrets/<name>"
        for key in ("username_secret_uri", "password_secret_uri"):
            _match(credential_set[key], KEY_VAULT_SECRET, f"{where}.{key}", identifier, secret=True)
        vault = "must be a Key Vault resource id /subscriptions/<id>/resourceGroups/<g>/providers/..."
        _match(credential_set.get("key_vault_id"), KEY_VAULT_ID, f"{where}.key_vault_id", vault)
    for i, rule in enumerate(args.get("cache_rules", [])):
        _match(rule["name"], CHILD_NAME, f"AcrArgs.cache_rules[{i}].name", child)
    for i, assignment in enumerate(args.get("role_assignments", [])):
        where = f"AcrArgs.role_assignments[{i}].principal_id"
        _match(assignment["principal_id"], GUID, where, "must be an Entra object id (a GUID)")


def _check(args: AcrArgs) -> None:
    """Run-time checks of what the args alone can tell, naming the arg (library users bypass the config schema)."""
    _check_names(args)
    sku = AcrSku(enum_value(AcrSku, args["sku"], "AcrArgs.sku"))
    premium_only = {
        "geo_replications": bool(args.get("geo_replications")),
        "zone_redundancy": args.get("zone_redundancy", False) is True,
        "untagged_retention_days": args.get("untagged_retention_days") is not None,  # 0 days is a policy too
        "public_network_access": args.get("public_network_access", True) is False,
    }
    for key, used in premium_only.items():
        if used and sku != AcrSku.PREMIUM:
            raise ValueError(f"AcrArgs.{key}: needs sku Premium (got {sku.value})")
    resource_group = args["resource_group"]
    if resource_group.get("create") and "location" not in resource_group:
        raise ValueError("AcrArgs.resource_group.location: required with create=True")
    scope_maps = {m["name"] for m in args.get("scope_maps", [])}
    for index, token in enumerate(args.get("tokens", [])):
        if token["scope_map"] not in scope_maps:
            raise ValueError(f"AcrArgs.tokens[{index}].scope_map: {token['scope_map']!r} is not in scope_maps")
    credential_sets = {c["name"] for c in args.get("credential_sets", [])}
    for index, rule in enumerate(args.get("cache_rules", [])):
        if "credential_set" in rule and rule["credential_set"] not in credential_sets:
            raise ValueError(
                f"AcrArgs.cache_rules[{index}].credential_set: {rule['credential_set']!r} is not in credential_sets"
            )
    for index, hook in enumerate(args.get("webhooks", [])):
        for action_index, action in enumerate(hook["actions"]):
            enum_value(AcrWebhookAction, action, f"AcrArgs.webhooks[{index}].actions[{action_index}]")
        if not hook["actions"]:
            raise ValueError(f"AcrArgs.webhooks[{index}].actions: at least one of push, delete, quarantine")
    for index, assignment in enumerate(args.get("role_assignments", [])):
        enum_value(AcrRole, assignment["role"], f"AcrArgs.role_assignments[{index}].role")


DEFENDER_ACR_ASSESSMENT = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
"""Defender for Cloud's "Azure registry container images should have vulnerabilities resolved" (MDVM)."""
DEFENDER_ACR_RECOMMENDATION = (
    "https://portal.azure.com/#view/Microsoft_Azure_Security_CloudNativeCompute/"
    f"AzureContainerRegistryRecommendationDetailsBlade/assessmentKey/{DEFENDER_ACR_ASSESSMENT}"
)


def acr_findings_command(login_server: str) -> str:
    """Azure Resource Graph: Defender's vulnerability sub-assessments of images in `login_server`."""
    query = (
        'securityresources | where type =~ "microsoft.security/assessments/subassessments" '
        f'| where id contains "{DEFENDER_ACR_ASSESSMENT}" '
        f'| where properties.additionalData.artifactDetails.registryHost =~ "{login_server}" '
        "| project cve=properties.id, severity=properties.additionalData.vulnerabilityDetails.severity, "
        "repository=properties.additionalData.artifactDetails.repositoryName, "
        "digest=properties.additionalData.artifactDetails.digest"
    )
    return f"az graph query -q '{query}'"


class Acr(pulumi.ComponentResource):
    """An Azure Container Registry with retention, tokens, webhooks, artifact cache and role assignments."""

    login_server: pulumi.Output[str]
    """Registry host, <name>.azurecr.io."""
    registry_id: pulumi.Output[str]
    """ARM resource id of the registry."""
    repository_urls: pulumi.Output[dict[str, str]]
    """Repository name -> <login server>/<name>."""
    login_command: pulumi.Output[str]
    """Shell command logging Docker in with the caller's Azure CLI login (az acr login -n <name>)."""
    docker_config_json: pulumi.Output[dict[str, str]]
    """Secret. Enabled token name -> ~/.docker/config.json logging in with its first password."""
    push_tokens: pulumi.Output[list[str]]
    """Enabled tokens whose scope map allows content/write (the ones a push can log in with)."""
    purge_task_yaml: pulumi.Output[str | None]
    """The ACR Tasks YAML of the purge task (None without retention)."""

    scan_results: pulumi.Output[dict[str, str]]
    """Repository name (or the login server, without repositories) -> where Microsoft Defender for Containers lists
    its images' vulnerabilities (ACR has no scanner of its own; Defender is a subscription-wide plan)."""
    scan_findings_command: pulumi.Output[str]
    """`az graph query` listing this registry's vulnerability findings (Defender's sub-assessments)."""

    def __init__(self, name: str, args: AcrArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)  # before any resource: a bad arg declares nothing
        document = purge_document(args)
        super().__init__("registries:index:Acr", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_group = args["resource_group"]
        group_name: pulumi.Input[str] = resource_group["name"]
        if resource_group.get("create"):
            group = azure.resources.ResourceGroup(
                f"{name}-rg",
                resource_group_name=resource_group["name"],
                location=resource_group.get("location"),
                opts=child,
            )
            group_name = group.name
        sku = AcrSku(args["sku"])
        premium = sku == AcrSku.PREMIUM
        enabled = azure.containerregistry.PolicyStatus
        policies = None
        if premium:  # the retention policy is Premium only; sending it on other tiers fails (AVM #96)
            days = args.get("untagged_retention_days")
            policies = azure.containerregistry.PoliciesArgs(
                retention_policy=azure.containerregistry.RetentionPolicyArgs(
                    days=days if days is not None else 7,
                    status=enabled.ENABLED if days is not None else enabled.DISABLED,
                )
            )
        zones = azure.containerregistry.ZoneRedundancy
        registry = azure.containerregistry.Registry(
            f"{name}-registry",
            registry_name=args["name"],
            resource_group_name=group_name,
            location=args.get("location"),
            sku=azure.containerregistry.SkuArgs(name=sku.value),
            admin_user_enabled=args.get("admin_user_enabled", False),
            public_network_access=azure.containerregistry.PublicNetworkAccess.ENABLED
            if args.get("public_network_access", True)
            else azure.containerregistry.PublicNetworkAccess.DISABLED,
            zone_redundancy=zones.ENABLED if args.get("zone_redundancy", False) else zones.DISABLED,
            policies=policies,
            opts=pulumi.ResourceOptions(parent=self, protect=args.get("protect", False)),
        )
        registry_child = pulumi.ResourceOptions(parent=self, depends_on=[registry])
        names = {"registry_name": registry.name, "resource_group_name": group_name}
        for replica in args.get("geo_replications", []):
            azure.containerregistry.Replication(
                f"{name}-replica-{replica['location']}",
                replication_name=replica["location"],
                location=replica["location"],
                region_endpoint_enabled=replica.get("regional_endpoint_enabled", True),
                zone_redundancy=zones.ENABLED if replica.get("zone_redundancy", False) else zones.DISABLED,
                opts=registry_child,
                **names,
            )
        self._purge_task(name, args, document, registry, names, registry_child)
        scope_map_ids = {
            scope_map["name"]: azure.containerregistry.ScopeMap(
                f"{name}-scopemap-{scope_map['name']}",
                scope_map_name=scope_map["name"],
                description=scope_map.get("description") or None,
                actions=[
                    f"repositories/{entry['repository']}/{action}"
                    for entry in scope_map["repositories"]
                    for action in entry["actions"]
                ],
                opts=registry_child,
                **names,
            ).id
            for scope_map in args.get("scope_maps", [])
        }
        configs = self._tokens(name, args, registry, names, scope_map_ids, registry_child)
        for hook in args.get("webhooks", []):
            headers = {h["name"]: pulumi.Output.secret(h["value"]) for h in hook.get("custom_headers", [])}
            status = azure.containerregistry.WebhookStatus
            azure.containerregistry.Webhook(
                f"{name}-webhook-{hook['name']}",
                webhook_name=hook["name"],
                location=registry.location,
                service_uri=pulumi.Output.secret(hook["url"]),
                actions=[AcrWebhookAction(action).value for action in hook["actions"]],
                scope=hook.get("scope", ""),
                status=status.ENABLED if hook.get("enabled", True) else status.DISABLED,
                custom_headers=pulumi.Output.all(**headers).apply(dict) if headers else None,
                opts=registry_child,
                **names,
            )
        credential_sets = self._credential_sets(name, args, names, registry_child)
        for rule in args.get("cache_rules", []):
            credential = credential_sets.get(rule.get("credential_set", ""))
            azure.containerregistry.CacheRule(
                f"{name}-cache-{rule['name']}",
                cache_rule_name=rule["name"],
                source_repository=rule["source"],
                target_repository=rule["target"],
                credential_set_resource_id=credential[0] if credential is not None else None,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[registry, *(credential[1] if credential is not None else [])]
                ),
                **names,
            )
        for index, assignment in enumerate(args.get("role_assignments", [])):
            role = AcrRole(assignment["role"]).value
            principal = pulumi.Output.from_input(assignment["principal_id"])
            azure.authorization.RoleAssignment(
                f"{name}-role-{role}-{_label(assignment['principal_id'], index)}",
                scope=registry.id,
                principal_id=principal,
                principal_type=assignment.get("principal_type", "ServicePrincipal"),
                role_definition_id=registry.id.apply(lambda scope, role=role: role_definition_id(scope, role)),
                role_assignment_name=principal.apply(lambda p, role=role: assignment_name(args["name"], p, role)),
                opts=registry_child,
            )

        self.login_server = registry.login_server
        self.registry_id = registry.id
        self.repository_urls = registry.login_server.apply(
            lambda host: {repo["name"]: f"{host}/{repo['name']}" for repo in args.get("repositories", [])}
        )
        self.login_command = pulumi.Output.concat("az acr login -n ", registry.name)
        names = [repo["name"] for repo in args.get("repositories", [])]
        self.scan_results = registry.login_server.apply(
            lambda host: dict.fromkeys(names or [host], DEFENDER_ACR_RECOMMENDATION)
        )
        self.scan_findings_command = registry.login_server.apply(acr_findings_command)
        self.docker_config_json = pulumi.Output.secret(pulumi.Output.all(**configs).apply(dict))
        self.push_tokens = pulumi.Output.from_input(push_tokens(args))
        self.purge_task_yaml = pulumi.Output.from_input(
            purge_task_yaml(purge_commands(document, args.get("purge", {}).get("dry_run", False)),
                            args.get("purge", {}).get("timeout", 3600))
            if document["purge"] else None
        )  # fmt: skip
        self.register_outputs(
            {
                "loginServer": self.login_server,
                "registryId": self.registry_id,
                "repositoryUrls": self.repository_urls,
                "loginCommand": self.login_command,
                "dockerConfigJson": self.docker_config_json,
                "pushTokens": self.push_tokens,
                "purgeTaskYaml": self.purge_task_yaml,
                "scanResults": self.scan_results,
                "scanFindingsCommand": self.scan_findings_command,
            }
        )

    def _purge_task(
        self,
        name: str,
        args: AcrArgs,
        document: dict[str, Any],
        registry: azure.containerregistry.Registry,
        names: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        if not document["purge"]:
            return
        purge = args.get("purge", {})
        timeout = purge.get("timeout", 3600)
        text = purge_task_yaml(purge_commands(document, purge.get("dry_run", False)), timeout)
        cr = azure.containerregistry
        cr.Task(
            f"{name}-purge",
            task_name="retention-purge",
            location=registry.location,
            platform=cr.PlatformPropertiesArgs(os=cr.OS.LINUX, architecture=cr.Architecture.AMD64),
            agent_configuration=cr.AgentPropertiesArgs(cpu=2),
            step=cr.EncodedTaskStepArgs(
                type="EncodedTask",
                encoded_task_content=base64.b64encode(text.encode()).decode(),
                context_path="/dev/null",  # purge needs no source context (as `az acr task create --context /dev/null`)
            ),
            trigger=cr.TriggerPropertiesArgs(
                timer_triggers=[
                    cr.TimerTriggerArgs(
                        name="retention", schedule=purge.get("schedule", "0 3 * * *"), status=cr.TriggerStatus.ENABLED
                    )
                ]
            ),
            status=cr.TaskStatus.ENABLED,
            timeout=timeout,
            is_system_task=False,
            opts=opts,
            **names,
        )

    def _tokens(
        self,
        name: str,
        args: AcrArgs,
        registry: azure.containerregistry.Registry,
        names: dict[str, Any],
        scope_map_ids: dict[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions,
    ) -> dict[str, pulumi.Output[str]]:
        """Declare each token and its generated passwords; token name -> docker config.json (secret)."""
        tokens = args.get("tokens", [])
        if not tokens:
            return {}
        # ARM hands out a password only from generateCredentials, called with the deploying identity's token.
        access_token = pulumi.Output.secret(azure.authorization.get_client_token_output().token)
        configs: dict[str, pulumi.Output[str]] = {}
        for token in tokens:
            status = azure.containerregistry.TokenStatus
            resource = azure.containerregistry.Token(
                f"{name}-token-{token['name']}",
                token_name=token["name"],
                scope_map_id=scope_map_ids[token["scope_map"]],
                status=status.ENABLED if token.get("enabled", True) else status.DISABLED,
                opts=opts,
                **names,
            )
            values = []
            for slot in token.get("passwords", [{"name": "password1"}]):
                password = TokenPassword(
                    f"{name}-token-{token['name']}-{slot['name']}",
                    {
                        "registryId": registry.id,
                        "tokenId": resource.id,
                        "name": slot["name"],
                        "expiry": slot.get("expiry"),
                        "accessToken": access_token,
                    },
                    pulumi.ResourceOptions(parent=self, depends_on=[resource]),
                )
                values.append(password.value)
            if values and token.get("enabled", True):  # a disabled token cannot log in
                configs[token["name"]] = pulumi.Output.secret(
                    pulumi.Output.all(registry.login_server, values[0]).apply(
                        lambda v, user=token["name"]: docker_config(v[0], user, v[1])
                    )
                )
        return configs

    def _credential_sets(
        self, name: str, args: AcrArgs, names: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> dict[str, tuple[pulumi.Output[str], list[pulumi.Resource]]]:
        """Declare each credential set (system identity) and its Key Vault grant; name -> (id, what rules wait for)."""
        declared: dict[str, tuple[pulumi.Output[str], list[pulumi.Resource]]] = {}
        cr = azure.containerregistry
        for credential in args.get("credential_sets", []):
            resource = cr.CredentialSet(
                f"{name}-credentials-{credential['name']}",
                credential_set_name=credential["name"],
                login_server=credential["login_server"],
                auth_credentials=[
                    cr.AuthCredentialArgs(
                        name=cr.CredentialName.CREDENTIAL1,
                        username_secret_identifier=credential["username_secret_uri"],
                        password_secret_identifier=credential["password_secret_uri"],
                    )
                ],
                identity=cr.IdentityPropertiesArgs(type=cr.ResourceIdentityType.SYSTEM_ASSIGNED),
                opts=opts,
                **names,
            )
            waits: list[pulumi.Resource] = [resource]
            if "key_vault_id" in credential:
                vault = pulumi.Output.from_input(credential["key_vault_id"])
                principal = resource.identity.apply(lambda identity: identity.principal_id if identity else None)
                waits.append(
                    azure.authorization.RoleAssignment(
                        f"{name}-credentials-{credential['name']}-keyvault",
                        scope=vault,
                        principal_id=principal,
                        principal_type="ServicePrincipal",
                        role_definition_id=vault.apply(lambda scope: role_definition_id(scope, KEY_VAULT_SECRETS_USER)),
                        role_assignment_name=pulumi.Output.all(vault, principal).apply(
                            lambda v: assignment_name(v[0], str(v[1]), KEY_VAULT_SECRETS_USER)
                        ),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[resource]),
                    )
                )
            declared[credential["name"]] = (resource.id, waits)
        return declared


def _label(principal: pulumi.Input[str], index: int) -> str:
    """A resource-name part per assignment: the principal's GUID, or its position when it comes from an Output."""
    return principal.lower() if isinstance(principal, str) else str(index)
