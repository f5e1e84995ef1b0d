"""The `registries:acr` config: one Azure Container Registry, validated before any resource is declared.

Names and limits follow the ARM API (Microsoft.ContainerRegistry, the api-versions pulumi-azure-native 3 uses) and
ACR's service tiers (learn.microsoft.com/azure/container-registry/container-registry-skus)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

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
from components.retention.acr import compile_acr_policy
from components.retention.model import PolicyError, RetentionIntent
from registries.config.base import (
    CamelModel,
    ConfigProblem,
    is_production_stack,
    pattern,
    repeated,
    repeated_problems,
    unique,
)
from registries.config.retention import RetentionSpec
from registries.config.signing import SigningSpec

# Upstreams of the artifact cache (learn.microsoft.com/azure/container-registry/artifact-cache-overview).
CACHE_UPSTREAMS = ("docker.io", "mcr.microsoft.com", "ghcr.io", "quay.io", "registry.k8s.io", "nvcr.io",
                   "public.ecr.aws")  # fmt: skip
UPSTREAMS_NEEDING_CREDENTIALS = ("docker.io",)  # Docker Hub: ACR requires a credential set
SCOPE_ACTIONS = ("content/read", "content/write", "content/delete", "metadata/read", "metadata/write")
# Per-SKU webhook limits (container-registry-skus).
MAX_WEBHOOKS = {"Basic": 2, "Standard": 10, "Premium": 500}
MAX_RETENTION_DAYS = 365


Location = Annotated[str, pattern(LOCATION, "must be an Azure region name such as westeurope or eastus2")]
RepositoryName = Annotated[
    str,
    pattern(REPOSITORY_NAME, "must be lowercase letters and digits separated by . _ - or / (e.g. team/api)"),
]
ChildName = Annotated[str, pattern(CHILD_NAME, "must be 5-50 letters, digits or - (ARM name rule)")]


class AcrResourceGroup(CamelModel):
    """The resource group holding the registry: an existing one, or one this stack creates."""

    name: Annotated[str, pattern(RESOURCE_GROUP, "must be 1-90 letters, digits, - _ . ( ), not ending in a period")]
    """Resource group name."""
    create: bool = False
    """Declare the resource group (it is deleted with the stack). Default: false (it exists)."""
    location: Location | None = None
    """Region of a created resource group (required with create: true). Default: none."""

    @model_validator(mode="after")
    def _location_with_create(self) -> AcrResourceGroup:
        if self.create and self.location is None:
            raise ValueError("create: true needs location (e.g. westeurope)")
        if not self.create and self.location is not None:
            raise ValueError("location is only used with create: true (an existing group keeps its own)")
        return self


class AcrGeoReplication(CamelModel):
    """A replica of the registry in another region (Premium)."""

    location: Location
    """Region of the replica; not the registry's own."""
    regional_endpoint_enabled: bool = True
    """The replica answers on its own regional endpoint as well. Default: true."""
    zone_redundancy: bool = False
    """Spread the replica over availability zones (set at creation; a change replaces it). Default: false."""


class AcrRepositorySpec(CamelModel):
    """One repository (ACR creates it on first push; declaring it scopes retention, URLs and scope maps)."""

    name: RepositoryName
    """Repository name, e.g. team/api."""
    immutable_tags: bool = False
    """Must stay false: ACR has no declarative tag immutability (its write-enabled=false lock is set per
    repository or tag through the data plane after a push, and a locked repository refuses new tags too).
    Default: false."""
    retention: RetentionSpec | None = None
    """Overrides the registry's `retention` as a whole ({} for none)."""


class AcrPurge(CamelModel):
    """How the scheduled ACR Task that runs `acr purge` (the compiled retention) is run."""

    schedule: Annotated[str, pattern(CRON, "must be a 5-field cron expression in UTC, e.g. '0 3 * * *'")] = "0 3 * * *"
    """When the purge task runs (cron, UTC). Default: '0 3 * * *' (daily at 03:00)."""
    dry_run: bool = False
    """Only log what would be deleted (acr purge --dry-run). Default: false."""
    timeout: int = Field(default=3600, ge=300, le=28800)
    """Seconds the task may run (300-28800). Default: 3600."""


class AcrScopeMapRepository(CamelModel):
    """What a scope map allows on one repository (or on every repository under a namespace/*)."""

    repository: Annotated[
        str, pattern(SCOPE_REPOSITORY, "must be a repository name, optionally ending in /* (e.g. team/*)")
    ]
    """Repository name, or namespace/* for every repository below it."""
    actions: Annotated[list[Literal[SCOPE_ACTIONS]], AfterValidator(unique)] = Field(min_length=1)  # type: ignore[valid-type]
    """content/read (pull), content/write (push), content/delete, metadata/read, metadata/write."""


class AcrScopeMap(CamelModel):
    """A named set of repository permissions that tokens get."""

    name: Annotated[str, pattern(SCOPE_MAP_NAME, "must be 5-50 letters, digits, - or _ (ARM name rule)")]
    """Scope map name (5-50 letters, digits, -, _)."""
    description: str = Field(default="", max_length=256)
    """What the scope map is for. Default: empty."""
    repositories: list[AcrScopeMapRepository] = Field(min_length=1)
    """Repositories and their allowed actions."""


class AcrTokenPassword(CamelModel):
    """A password of a token, generated by ACR (its value is a secret output, never config)."""

    name: Literal["password1", "password2"]
    """Which of the token's two password slots."""
    expiry: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    """When it expires, UTC, e.g. 2027-01-31T00:00:00Z (a change generates a new password). Default: never."""


class AcrToken(CamelModel):
    """Repository-scoped credentials (docker login with the token name and a generated password)."""

    name: ChildName
    """Token name, the user name of docker login (5-50 letters, digits, -)."""
    scope_map: str
    """Name of one of the declared scopeMaps."""
    enabled: bool = True
    """Whether the token can log in. Default: true."""
    passwords: list[AcrTokenPassword] = Field(default=[AcrTokenPassword(name="password1")], max_length=2)
    """Passwords to generate (at most password1 and password2). Default: [{name: password1}]."""


class AcrWebhookHeader(CamelModel):
    """A header ACR sends with each webhook call (e.g. the receiver's token)."""

    name: Annotated[str, pattern(HEADER_NAME, "must be 1-64 letters, digits or - (an HTTP header name)")]
    """Header name, e.g. Authorization."""
    secret: SecretStr
    """Header value. Set it as a secret (pulumi config set --secret --path ...)."""


class AcrWebhook(CamelModel):
    """A native ACR webhook: ACR POSTs an event to `url` on each action."""

    name: Annotated[str, pattern(WEBHOOK_NAME, "must be 5-50 letters or digits (ARM webhook name rule)")]
    """Webhook name (5-50 letters and digits)."""
    url: SecretStr
    """https:// endpoint receiving the events (a secret: it often carries a token)."""
    actions: Annotated[list[Literal["push", "delete", "quarantine"]], AfterValidator(unique)] = Field(min_length=1)
    """Which events: push, delete, quarantine."""
    scope: str = Field(default="", pattern=r"^$|^[a-z0-9._/-]+(:([A-Za-z0-9_][A-Za-z0-9._-]{0,127}|\*))?$")
    """repository:tag the events come from ('team/api:*' every tag of team/api; 'team/api' means team/api:latest).
    Default: empty (every repository)."""
    enabled: bool = True
    """Whether ACR calls the webhook. Default: true."""
    custom_headers: list[AcrWebhookHeader] = []
    """Headers sent with each call: [{name, secret}]. Default: none."""


class AcrCredentialSet(CamelModel):
    """Upstream credentials of the artifact cache, read by the registry from Key Vault secrets."""

    name: ChildName
    """Credential set name (5-50 letters, digits, -)."""
    login_server: Literal[CACHE_UPSTREAMS]  # type: ignore[valid-type]
    """The upstream registry, e.g. docker.io."""
    username_secret_uri: Annotated[
        str, pattern(KEY_VAULT_SECRET, "must be a Key Vault secret URI https://<vault>.vault.azure.net/secrets/<name>")
    ]
    """Key Vault secret holding the upstream user name."""
    password_secret_uri: Annotated[
        str, pattern(KEY_VAULT_SECRET, "must be a Key Vault secret URI https://<vault>.vault.azure.net/secrets/<name>")
    ]
    """Key Vault secret holding the upstream password or access token."""
    key_vault_id: (
        Annotated[
            str,
            pattern(
                KEY_VAULT_ID,
                "must be a Key Vault resource id /subscriptions/<id>/resourceGroups/<rg>/providers/"
                "Microsoft.KeyVault/vaults/<name>",
            ),
        ]
        | None
    ) = None
    """Resource id of that Key Vault: grant the credential set's identity Key Vault Secrets User on it (RBAC
    vaults). Default: none (grant it yourself)."""


class AcrCacheRule(CamelModel):
    """Pull `target` from the registry and ACR fetches and caches `source` from the upstream."""

    name: ChildName
    """Cache rule name (5-50 letters, digits, -)."""
    source: str = Field(pattern=r"^[a-z0-9.-]+(/[a-z0-9._-]+)+(/\*)?$")
    """Upstream repository, e.g. docker.io/library/nginx or docker.io/library/* (Docker Hub official images need
    library/)."""
    target: str = Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(/\*)?$")
    """Repository in this registry, e.g. hub/nginx (or hub/* with a source ending in /*)."""
    credential_set: str | None = None
    """Name of one of the declared credentialSets; required for docker.io. Default: anonymous."""


class AcrRoleAssignment(CamelModel):
    """An Azure RBAC role on the registry for a principal (a managed identity, app, user or group)."""

    principal_id: Annotated[str, pattern(GUID, "must be an object id (GUID) of a Microsoft Entra principal")]
    """Object id of the principal."""
    role: Literal["AcrPull", "AcrPush", "AcrDelete"]
    """AcrPull: pull; AcrPush: push and pull; AcrDelete: delete images."""
    principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    """Kind of principal (managed identities are ServicePrincipal). Default: ServicePrincipal."""


class AcrSpec(CamelModel):
    """Azure Container Registry: one registry with its repositories, credentials, webhooks and cache."""

    resource_group: AcrResourceGroup
    """{name} of an existing resource group, or {name, create: true, location}."""
    name: Annotated[str, pattern(REGISTRY_NAME, "must be 5-50 letters or digits (no - or _); globally unique in Azure")]
    """Registry name; the login server is <name lowercased>.azurecr.io."""
    location: Location | None = None
    """Region of the registry. Default: the resource group's."""
    sku: Literal["Basic", "Standard", "Premium"]
    """Service tier. Premium is needed for geoReplications, zoneRedundancy, publicNetworkAccess: false and
    untaggedRetentionDays."""
    admin_user: bool = False
    """Enable the shared admin account (refused on prod stacks: use tokens or roleAssignments). Default: false."""
    public_network_access: bool = True
    """Reachable from the internet (false needs Premium and private endpoints). Default: true."""
    zone_redundancy: bool = False
    """Spread the registry over availability zones (Premium; set at creation). Default: false."""
    geo_replications: list[AcrGeoReplication] = []
    """Replicas in other regions (Premium). Default: none."""
    untagged_retention_days: int | None = Field(default=None, ge=0, le=MAX_RETENTION_DAYS)
    """ACR's registry-wide retention policy (Premium): delete a manifest this many days (0-365) after it lost its
    last tag. Counted from untagging, not from push, so it is separate from `retention`. Default: off."""
    retention: RetentionSpec | None = None
    """Retention every repository inherits, run as a scheduled `acr purge` task (see Retention in README).
    Default: none."""
    purge: AcrPurge = AcrPurge()
    """Schedule, dry run and timeout of the purge task."""
    repositories: list[AcrRepositorySpec] = []
    """The repositories: [{name, retention}]. Default: none (the registry only)."""
    scope_maps: list[AcrScopeMap] = []
    """Repository permission sets for tokens. Default: none."""
    tokens: list[AcrToken] = []
    """Repository-scoped credentials with generated passwords. Default: none."""
    webhooks: list[AcrWebhook] = []
    """Native webhooks (at most 2 on Basic, 10 on Standard, 500 on Premium). Default: none."""
    credential_sets: list[AcrCredentialSet] = []
    """Upstream credentials of the artifact cache (Key Vault secrets). Default: none."""
    cache_rules: list[AcrCacheRule] = []
    """Artifact cache rules (a Docker Hub mirror, ...). Default: none."""
    role_assignments: list[AcrRoleAssignment] = []
    """AcrPull/AcrPush/AcrDelete for principals. Default: none."""
    signing: SigningSpec | None = None
    """Keys CI signs this registry's images with (cosign key pair, Notation certificate chain), handed out as the
    output signing.acr, private keys as secrets. Default: none."""

    def effective_retention(self, repository: AcrRepositorySpec) -> RetentionIntent | None:
        """The repository's own retention, else the registry's; None when neither deletes anything."""
        chosen = repository.retention if repository.retention is not None else self.retention
        intent = chosen.intent() if chosen is not None else None
        return intent if intent is not None and not intent.is_empty else None


def _names_problems(root: str, key: str, names: list[str]) -> list[ConfigProblem]:
    return repeated_problems(f"{root}.{key}" + "[{}].name", names, "repeats a name")


def _premium_problems(spec: AcrSpec, root: str) -> list[ConfigProblem]:
    if spec.sku == "Premium":
        return []
    needs = f"needs sku: Premium (sku is {spec.sku})"
    problems = []
    if spec.geo_replications:
        problems.append(ConfigProblem(f"{root}.geoReplications", f"{len(spec.geo_replications)} replica(s)", needs))
    if spec.zone_redundancy:
        problems.append(ConfigProblem(f"{root}.zoneRedundancy", "true", needs))
    if not spec.public_network_access:
        problems.append(ConfigProblem(f"{root}.publicNetworkAccess", "false", needs))
    if spec.untagged_retention_days is not None:
        problems.append(ConfigProblem(f"{root}.untaggedRetentionDays", repr(spec.untagged_retention_days), needs))
    return problems


def _retention_problems(spec: AcrSpec, root: str) -> list[ConfigProblem]:
    problems = []
    owners = [(f"{root}.retention", spec.retention)] + [
        (f"{root}.repositories[{i}].retention", repo.retention) for i, repo in enumerate(spec.repositories)
    ]
    for where, retention in owners:
        if retention is None or retention.intent().is_empty:
            continue
        try:
            compile_acr_policy(retention.intent(), referrers=spec.signing is not None)
        except PolicyError as error:
            problems.append(
                ConfigProblem(f"{where}.{error.where}", "this rule", f"ACR cannot express it: {error.problem}")
            )
    if spec.retention is not None and not spec.retention.intent().is_empty and not spec.repositories:
        problems.append(
            ConfigProblem(
                f"{root}.repositories",
                "none",
                "retention is applied per declared repository (acr purge filters name them); declare repositories",
            )
        )
    return problems


def acr_problems(spec: AcrSpec, stack: str) -> list[ConfigProblem]:
    """Cross-field rules of `registries:acr`: tier features, references between lists, production safety."""
    root = "registries:acr"
    problems = _premium_problems(spec, root)
    if spec.admin_user and is_production_stack(stack):
        problems.append(
            ConfigProblem(
                f"{root}.adminUser", "true", f"refused on production stack {stack!r}: use tokens or roleAssignments"
            )
        )
    home = spec.location or spec.resource_group.location
    replicas = [replica.location for replica in spec.geo_replications]
    for index, location in enumerate(replicas):
        if location == home:
            problems.append(
                ConfigProblem(
                    f"{root}.geoReplications[{index}].location", repr(location), "is the registry's own region"
                )
            )
    problems += repeated_problems(root + ".geoReplications[{}].location", replicas, "repeats a region")
    repositories = [repo.name for repo in spec.repositories]
    problems += _names_problems(root, "repositories", repositories)
    for index, repo in enumerate(spec.repositories):
        if repo.immutable_tags:
            problems.append(
                ConfigProblem(
                    f"{root}.repositories[{index}].immutableTags",
                    "true",
                    "ACR has no declarative tag immutability (write-enabled=false is a data-plane lock per tag or "
                    "repository, set after a push); leave it false and lock with `az acr repository update "
                    "--write-enabled false`",
                )
            )
    problems += _retention_problems(spec, root)
    problems += _names_problems(root, "scopeMaps", [m.name for m in spec.scope_maps])
    problems += _names_problems(root, "tokens", [t.name for t in spec.tokens])
    problems += _names_problems(root, "webhooks", [w.name for w in spec.webhooks])
    problems += _names_problems(root, "credentialSets", [c.name for c in spec.credential_sets])
    problems += _names_problems(root, "cacheRules", [c.name for c in spec.cache_rules])
    scope_maps = {m.name for m in spec.scope_maps}
    for index, token in enumerate(spec.tokens):
        if token.scope_map not in scope_maps:
            problems.append(
                ConfigProblem(
                    f"{root}.tokens[{index}].scopeMap",
                    repr(token.scope_map),
                    f"must name one of the declared scopeMaps: {sorted(scope_maps)}",
                )
            )
        slots = [password.name for password in token.passwords]
        problems += repeated_problems(
            f"{root}.tokens[{index}]" + ".passwords[{}].name", slots, "repeats a password slot"
        )
    if len(spec.webhooks) > MAX_WEBHOOKS[spec.sku]:
        problems.append(
            ConfigProblem(
                f"{root}.webhooks",
                f"{len(spec.webhooks)} webhooks",
                f"sku {spec.sku} allows at most {MAX_WEBHOOKS[spec.sku]} (Basic 2, Standard 10, Premium 500)",
            )
        )
    for index, hook in enumerate(spec.webhooks):
        # The URL is a secret: the problem never shows it.
        if not hook.url.get_secret_value().startswith("https://"):
            problems.append(ConfigProblem(f"{root}.webhooks[{index}].url", "a secret value (not shown)",
                                          "must be an https:// URL"))  # fmt: skip
        headers = [header.name.lower() for header in hook.custom_headers]
        for header in repeated(headers):
            problems.append(ConfigProblem(f"{root}.webhooks[{index}].customHeaders[{header}].name",
                                          repr(hook.custom_headers[header].name), "repeats a header"))  # fmt: skip
    credential_sets = {c.name: c for c in spec.credential_sets}
    for index, rule in enumerate(spec.cache_rules):
        where = f"{root}.cacheRules[{index}]"
        host = rule.source.split("/", 1)[0]
        if host not in CACHE_UPSTREAMS:
            problems.append(ConfigProblem(f"{where}.source", repr(rule.source),
                                          f"upstream must be one of {list(CACHE_UPSTREAMS)}"))  # fmt: skip
        if rule.source.endswith("/*") != rule.target.endswith("/*"):
            problems.append(ConfigProblem(f"{where}.target", repr(rule.target),
                                          "must end in /* exactly when source does (a wildcard rule)"))  # fmt: skip
        if rule.credential_set is None:
            if host in UPSTREAMS_NEEDING_CREDENTIALS:
                problems.append(ConfigProblem(f"{where}.credentialSet", "nothing",
                                              f"required for {host}: name a credentialSet"))  # fmt: skip
        elif rule.credential_set not in credential_sets:
            declared = sorted(credential_sets)
            problems.append(ConfigProblem(f"{where}.credentialSet", repr(rule.credential_set),
                                          f"must name one of the declared credentialSets: {declared}"))  # fmt: skip
        elif credential_sets[rule.credential_set].login_server != host:
            problems.append(ConfigProblem(f"{where}.credentialSet", repr(rule.credential_set),
                                          f"logs in to {credential_sets[rule.credential_set].login_server}, "
                                          f"not to {host}"))  # fmt: skip
    targets = [rule.target for rule in spec.cache_rules]
    problems += repeated_problems(root + ".cacheRules[{}].target", targets, "repeats a target repository")
    assignments = [(a.principal_id.lower(), a.role) for a in spec.role_assignments]
    for index in repeated(assignments):
        problems.append(ConfigProblem(f"{root}.roleAssignments[{index}]", repr(list(assignments[index])),
                                      "repeats a principal and role"))  # fmt: skip
    return problems


def secret_value_paths(spec: AcrSpec) -> list[str]:
    """The keys of `registries:acr` holding secrets (webhook URLs and header values)."""
    root = "registries:acr"
    paths = [f"{root}.webhooks[{i}].url" for i, _ in enumerate(spec.webhooks)]
    paths += [
        f"{root}.webhooks[{i}].customHeaders[{j}].secret"
        for i, hook in enumerate(spec.webhooks)
        for j, _ in enumerate(hook.custom_headers)
    ]
    return paths


__all__ = ["AcrRepositorySpec", "AcrSpec", "acr_problems", "secret_value_paths"]
