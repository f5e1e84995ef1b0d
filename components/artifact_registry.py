"""ArtifactRegistry: Google Artifact Registry Docker repositories (standard, gcr.io-named, Docker Hub mirrors, virtual)
with cleanup policies compiled from a retention intent, IAM members, Pub/Sub push notifications of the `gcr` topic
with a dead-letter topic, and a CI service account with Workload Identity Federation for GitHub Actions."""

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from components.artifact_registry_names import (
    GCR_DOMAIN_LOCATIONS,
    KMS_KEY,
    LOCATION,
    MEMBER,
    NOTIFICATION_NAME,
    POOL_ID,
    PROJECT_ID,
    PROJECT_NUMBER,
    REPOSITORY_ID,
    SECRET_VERSION,
    SERVICE_ACCOUNT_EMAIL,
    SERVICE_ACCOUNT_ID,
    github_ref_problem,
    labels_problem,
)
from components.retention.args import RetentionArgs, retention_intent
from components.retention.artifact_registry import compile_cleanup_policies
from components.retention.model import PolicyError

READER_ROLE = "roles/artifactregistry.reader"
WRITER_ROLE = "roles/artifactregistry.writer"
# Artifact Registry publishes Docker events to this topic of the project (Artifact Registry docs, "Configuring
# Pub/Sub notifications").
GCR_TOPIC = "gcr"
DEAD_LETTER_TOPIC = "gcr-dead-letters"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# Repositories named after a Container Registry host serve gcr.io/<project>/<image>, each only in its multi-region
# (transition guide, "gcr.io domain support"; GCR_DOMAIN_LOCATIONS in components/artifact_registry_names.py).
GCR_DOMAINS = frozenset(GCR_DOMAIN_LOCATIONS)
ARTIFACT_REGISTRY_SERVICE = "artifactregistry.googleapis.com"
KMS_ENCRYPTER_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
WEEK = "604800s"
# What Artifact Registry accepts: the patterns of components/artifact_registry_names.py, which registries.config checks
# for stack config too (library users bypass it).
LOCATIONS_ALLOWED = "a region such as europe-west1, or us/europe/asia"
REPOSITORY_ID_ALLOWED = (
    "must be 1-63 lowercase letters, digits and -, starting with a letter, ending in a letter or digit"
)


class ArtifactRegistryRepositoryArgs(TypedDict):
    """One standard Docker repository."""

    name: str
    """Repository id, e.g. apps; a Container Registry host (gcr.io, eu.gcr.io, ...) serves gcr.io paths."""
    location: NotRequired[str]
    """Location of this repository. Default: the registry's location (a gcr.io-named one: its multi-region)."""
    description: NotRequired[str]
    """Description. Default: empty."""
    immutable_tags: NotRequired[bool]
    """Tags cannot be moved or deleted once pushed. Default: False."""
    vulnerability_scanning: NotRequired[bool]
    """Scanning INHERITED from the project (True) or DISABLED (False). Default: True."""
    retention: NotRequired[RetentionArgs]
    """Which images the cleanup policies delete. Default: none (no cleanup policies)."""
    readers: NotRequired[list[pulumi.Input[str]]]
    """IAM principals granted roles/artifactregistry.reader. Default: none."""
    writers: NotRequired[list[pulumi.Input[str]]]
    """IAM principals granted roles/artifactregistry.writer. Default: none."""
    labels: NotRequired[dict[str, str]]
    """Labels. Default: none."""
    kms_key_name: NotRequired[pulumi.Input[str]]
    """Cloud KMS key (CMEK) in the repository's location; the Artifact Registry service agent is granted
    roles/cloudkms.cryptoKeyEncrypterDecrypter on it first. A change replaces the repository. Default: none."""
    protect: NotRequired[bool]
    """Pulumi protect on the repository (set on production stacks). Default: False."""


class ArtifactRegistryMirrorArgs(TypedDict):
    """A REMOTE repository caching Docker Hub."""

    name: str
    """Repository id of the mirror."""
    description: NotRequired[str]
    """Description. Default: empty."""
    username: NotRequired[pulumi.Input[str]]
    """Docker Hub user name; with password_secret_version. Default: anonymous pulls."""
    password_secret_version: NotRequired[pulumi.Input[str]]
    """Secret Manager version (projects/<p>/secrets/<s>/versions/<v>) holding the Docker Hub token; the Artifact
    Registry service agent is granted roles/secretmanager.secretAccessor on its secret. Default: none."""
    readers: NotRequired[list[pulumi.Input[str]]]
    """IAM principals granted roles/artifactregistry.reader. Default: none."""
    labels: NotRequired[dict[str, str]]
    """Labels. Default: none."""
    retention: NotRequired[RetentionArgs]
    """Which cached images the cleanup policies delete. Default: none."""


class ArtifactRegistryVirtualUpstreamArgs(TypedDict):
    """One upstream of a virtual repository."""

    repository: str
    """Name of a repository or mirror of this component."""
    priority: int
    """Pull order: greater first."""


class ArtifactRegistryVirtualArgs(TypedDict):
    """A VIRTUAL repository over repositories and mirrors of this component."""

    name: str
    """Repository id."""
    upstreams: list[ArtifactRegistryVirtualUpstreamArgs]
    """Upstreams with distinct priorities."""
    description: NotRequired[str]
    """Description. Default: empty."""
    readers: NotRequired[list[pulumi.Input[str]]]
    """IAM principals granted roles/artifactregistry.reader. Default: none."""
    labels: NotRequired[dict[str, str]]
    """Labels. Default: none."""


class ArtifactRegistryNotificationArgs(TypedDict):
    """A push subscription of the `gcr` topic."""

    name: str
    """Name; the subscription is gcr-<name>."""
    url: pulumi.Input[str]
    """Secret. The receiver's URL (it may carry a token in its query string)."""
    oidc_service_account_email: NotRequired[pulumi.Input[str]]
    """Service account whose OIDC token signs each push. Default: none (unsigned pushes)."""
    oidc_audience: NotRequired[pulumi.Input[str]]
    """Audience of the OIDC token. Default: the push URL."""
    max_delivery_attempts: NotRequired[int]
    """Deliveries before a message goes to the dead-letter topic (5-100). Default: 5."""


class ArtifactRegistryGithubOidcArgs(TypedDict):
    """GitHub Actions of one repository impersonate the CI service account."""

    repository: str
    """GitHub repository, owner/name."""
    refs: list[str]
    """Refs allowed to push (refs/heads/main, refs/tags/v*; `*` matches any sequence)."""
    pool_id: NotRequired[str]
    """Workload identity pool id. Default: github."""


class ArtifactRegistryCiArgs(TypedDict):
    """A CI service account with push access to every standard repository."""

    service_account_id: NotRequired[str]
    """Account id. Default: registry-ci."""
    github_oidc: NotRequired[ArtifactRegistryGithubOidcArgs]
    """Workload Identity Federation for GitHub Actions. Default: none."""


class ArtifactRegistryArgs(TypedDict):
    """Artifact Registry Docker repositories of one project and location."""

    project: pulumi.Input[str]
    """Google Cloud project id."""
    location: str
    """Location of the repositories, e.g. europe-west1."""
    project_number: NotRequired[pulumi.Input[str]]
    """Project number, naming the Google service agents. Default: looked up with organizations.getProject."""
    repositories: NotRequired[list[ArtifactRegistryRepositoryArgs]]
    """Standard Docker repositories. Default: none."""
    mirrors: NotRequired[list[ArtifactRegistryMirrorArgs]]
    """Docker Hub mirrors. Default: none."""
    virtual: NotRequired[list[ArtifactRegistryVirtualArgs]]
    """Virtual repositories. Default: none."""
    cleanup_dry_run: NotRequired[bool]
    """Cleanup policies only log what they would delete. Default: False."""
    notifications: NotRequired[list[ArtifactRegistryNotificationArgs]]
    """Push subscriptions of the `gcr` topic. Default: none."""
    create_gcr_topic: NotRequired[bool]
    """Declare the `gcr` topic (False when the project has it). Default: True."""
    ci: NotRequired[ArtifactRegistryCiArgs]
    """CI service account. Default: none."""
    signed_images: NotRequired[bool]
    """The repositories hold signatures, attestations or SBOMs (a `signing:` block sets it): a retention rule that
    deletes is refused, naming the rule, where Artifact Registry cannot keep those exactly as long as their subject.
    Default: false."""


def repository_location(repo: ArtifactRegistryRepositoryArgs, location: str) -> str:
    """Where a repository lives: its own location, else the registry's; a gcr.io-named one in its multi-region."""
    return repo.get("location", GCR_DOMAIN_LOCATIONS.get(repo["name"], location))


def registry_host(location: str) -> str:
    return f"{location}-docker.pkg.dev"


def artifact_registry_scan_results_url(project: str, location: str, repository: str) -> str:
    """The console page of a Docker repository: its images, each with its vulnerabilities (Artifact Analysis)."""
    return f"https://console.cloud.google.com/artifacts/docker/{project}/{location}/{repository}?project={project}"


def repository_url(location: str, project: str, name: str) -> str:
    """Where images of repository `name` are pushed: gcr.io-named repositories keep the Container Registry path."""
    return f"{name}/{project}" if name in GCR_DOMAINS else f"{registry_host(location)}/{project}/{name}"


def docker_hosts(locations: Sequence[str], names: Sequence[str]) -> list[str]:
    """The hosts Docker logs in to: each location's pkg.dev host, then each gcr.io-named repository's host."""
    hosts = [registry_host(location) for location in dict.fromkeys(locations)]
    return hosts + sorted(name for name in set(names) if name in GCR_DOMAINS)


def docker_config(hosts: Sequence[str]) -> str:
    """~/.docker/config.json that lets gcloud's credential helper log in to each host (no stored password)."""
    return json.dumps({"credHelpers": {host: "gcloud" for host in hosts}}, indent=2, sort_keys=True)


def cleanup_policy_inputs(document: dict[str, Any]) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """The compiled `cleanupPolicies` map (REST shape) as the provider's cleanup_policies list."""
    policies = []
    for policy_id, policy in document.items():
        condition = policy.get("condition")
        recent = policy.get("mostRecentVersions")
        policies.append(
            gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                id=policy_id,
                action=policy["action"],
                condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                    tag_state=condition.get("tagState"),
                    tag_prefixes=condition.get("tagPrefixes"),
                    version_name_prefixes=condition.get("versionNamePrefixes"),
                    package_name_prefixes=condition.get("packageNamePrefixes"),
                    older_than=condition.get("olderThan"),
                    newer_than=condition.get("newerThan"),
                )
                if condition is not None
                else None,
                most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                    keep_count=recent.get("keepCount"), package_name_prefixes=recent.get("packageNamePrefixes")
                )
                if recent is not None
                else None,
            )
        )
    return policies


def compiled_cleanup(retention: RetentionArgs | None, where: str, signed: bool = False) -> dict[str, Any]:
    """The cleanup policies of a retention arg ({} for none); ValueError naming the rule Artifact Registry cannot
    express (`signed`: the repository holds signatures, ArtifactRegistryArgs.signed_images)."""
    try:
        intent = retention_intent(retention, where)
        return {} if intent.is_empty else compile_cleanup_policies(intent, referrers=signed)
    except PolicyError as error:
        where_rule = error.where if error.where.startswith(where) else f"{where}.{error.where}"
        raise ValueError(f"{where_rule}: Artifact Registry cannot express it: {error.problem}") from None


def ref_condition(refs: Sequence[str]) -> str:
    """CEL over the GitHub token's `ref`: exact refs compare, PREFIX* refs use startsWith, others a full regex."""
    terms = []
    for ref in refs:
        if "*" not in ref:
            terms.append(f"assertion.ref == '{ref}'")
        elif ref.endswith("*") and "*" not in ref[:-1]:
            terms.append(f"assertion.ref.startsWith('{ref[:-1]}')")
        else:
            regex = ".*".join(re.escape(part) for part in ref.split("*"))
            # CEL string literals take \\ for one backslash (a bare \. is an invalid escape there).
            cel_literal = regex.replace("\\", "\\\\")
            terms.append(f"assertion.ref.matches('^{cel_literal}$')")
    return " || ".join(terms)


def github_condition(repository: str, refs: Sequence[str]) -> str:
    """Which GitHub tokens the provider accepts: workflows of `repository` running on one of `refs`."""
    return f"assertion.repository == '{repository}' && ({ref_condition(refs)})"


def _member_key(member: pulumi.Input[str], index: int) -> str:
    """A child name part per member: stable under reordering for plain members (a hash), the index otherwise."""
    if isinstance(member, str):
        return hashlib.sha256(member.encode()).hexdigest()[:8]
    return str(index)


def _check(args: ArtifactRegistryArgs) -> None:
    """Run-time checks of what the args alone can tell, naming the arg (library users bypass the config schema)."""
    repositories = args.get("repositories", [])
    mirrors = args.get("mirrors", [])
    virtual = args.get("virtual", [])
    notifications = args.get("notifications", [])
    if not (repositories or mirrors or virtual or notifications):
        raise ValueError("ArtifactRegistryArgs: declare at least one of repositories, mirrors, virtual, notifications")
    project = args["project"]
    if isinstance(project, str) and not PROJECT_ID.fullmatch(project):
        raise ValueError(f"project: {project!r} must be a Google Cloud project id (6-30 of [a-z0-9-], from a letter)")
    entries = [
        (f"repositories[{i}]", repository_location(r, args["location"]), r["name"]) for i, r in enumerate(repositories)
    ]
    entries += [(f"mirrors[{i}]", args["location"], m["name"]) for i, m in enumerate(mirrors)]
    entries += [(f"virtual[{i}]", args["location"], v["name"]) for i, v in enumerate(virtual)]
    if not LOCATION.fullmatch(args["location"]):
        raise ValueError(f"location: {args['location']!r} must be an Artifact Registry location ({LOCATIONS_ALLOWED})")
    # Resource names carry the repository id but not its location: an id may be used once, in one location.
    seen: dict[str, tuple[str, str]] = {}
    for where, location, name in entries:
        if where.startswith("repositories") and not LOCATION.fullmatch(location):
            raise ValueError(
                f"{where}.location: {location!r} must be an Artifact Registry location ({LOCATIONS_ALLOWED})"
            )
        if where.startswith("repositories") and GCR_DOMAIN_LOCATIONS.get(name, location) != location:
            raise ValueError(
                f"{where}.location: {location!r} cannot hold repository {name!r}: Artifact Registry serves "
                f"{name} only in {GCR_DOMAIN_LOCATIONS[name]!r} (leave location unset)"
            )
        if not (REPOSITORY_ID.fullmatch(name) or (where.startswith("repositories") and name in GCR_DOMAINS)):
            raise ValueError(f"{where}.name: {name!r} {REPOSITORY_ID_ALLOWED} (or a gcr.io host for a repository)")
        if name in seen:
            first, first_location = seen[name]
            raise ValueError(
                f"{where}.name: {name!r} is declared twice (also {first} in {first_location}); each repository name "
                "may be used once"
            )
        seen[name] = (where, location)
    signed = bool(args.get("signed_images", False))
    for index, repo in enumerate(repositories):
        compiled_cleanup(repo.get("retention"), f"repositories[{index}].retention", signed)  # before any resource
        tagged_days = (repo.get("retention") or {}).get("tagged_days")
        # Immutable tags cannot be deleted: a DELETE TAGGED cleanup policy there would never delete anything.
        if repo.get("immutable_tags", False) and tagged_days is not None:
            raise ValueError(
                f"repositories[{index}].retention.tagged_days: {tagged_days} cannot delete anything: repository "
                f"{repo['name']!r} has immutable tags, which Artifact Registry never deletes; set immutable_tags "
                "False or drop tagged_days"
            )
    upstream_names = {r["name"] for r in repositories if repository_location(r, args["location"]) == args["location"]}
    upstream_names |= {m["name"] for m in mirrors}
    for index, repo in enumerate(virtual):
        for up_index, upstream in enumerate(repo["upstreams"]):
            if upstream["repository"] not in upstream_names:
                raise ValueError(
                    f"virtual[{index}].upstreams[{up_index}].repository: {upstream['repository']!r} is not a "
                    f"repository or mirror of this component in {args['location']}"
                )
        priorities = [u["priority"] for u in repo["upstreams"]]
        if len(set(priorities)) != len(priorities):
            raise ValueError(f"virtual[{index}].upstreams: priorities {priorities} must be distinct")
    for index, mirror in enumerate(mirrors):
        compiled_cleanup(mirror.get("retention"), f"mirrors[{index}].retention")
        if ("username" in mirror) != ("password_secret_version" in mirror):
            raise ValueError(f"mirrors[{index}]: username and password_secret_version go together")
    _check_values(args)
    for index, hook in enumerate(notifications):
        attempts = hook.get("max_delivery_attempts", 5)
        if not 5 <= attempts <= 100:
            raise ValueError(
                f"notifications[{index}].max_delivery_attempts: {attempts} must be 5-100 (Pub/Sub's range)"
            )


def _match(value: object, regex: re.Pattern[str], where: str, allowed: str) -> None:
    """ValueError naming `where` when a plain `value` does not match (an Output is left to the API)."""
    if isinstance(value, str) and not regex.fullmatch(value):
        raise ValueError(f"{where}: {value!r} {allowed}")


def _check_values(args: ArtifactRegistryArgs) -> None:
    """The value rules of registries.config.artifact_registry (components/artifact_registry_names.py), for library
    users: IAM members, labels, KMS keys, secret versions, notification and CI names, GitHub refs."""
    member = "must be an IAM principal such as user:<email>, serviceAccount:<email> or group:<email>"
    owners: list[tuple[str, Any]] = [(f"repositories[{i}]", r) for i, r in enumerate(args.get("repositories", []))]
    owners += [(f"mirrors[{i}]", m) for i, m in enumerate(args.get("mirrors", []))]
    owners += [(f"virtual[{i}]", v) for i, v in enumerate(args.get("virtual", []))]
    for where, owner in owners:
        for kind in ("readers", "writers"):
            for index, principal in enumerate(owner.get(kind, [])):
                _match(principal, MEMBER, f"{where}.{kind}[{index}]", member)
        if problem := labels_problem(owner.get("labels") or {}):
            raise ValueError(f"{where}.labels: {problem}")
        allowed = "must be a Cloud KMS key name projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>"
        _match(owner.get("kms_key_name"), KMS_KEY, f"{where}.kms_key_name", allowed)
        allowed = "must be a Secret Manager version name projects/<p>/secrets/<s>/versions/<n|latest>"
        _match(owner.get("password_secret_version"), SECRET_VERSION, f"{where}.password_secret_version", allowed)
    _match(args.get("project_number"), PROJECT_NUMBER, "project_number", "must be the project's number (digits)")
    for index, hook in enumerate(args.get("notifications", [])):
        where = f"notifications[{index}]"
        allowed = "must be 3-32 lowercase letters, digits and -, starting with a letter"
        _match(hook["name"], NOTIFICATION_NAME, f"{where}.name", allowed)
        allowed = "must be a service account email"
        _match(
            hook.get("oidc_service_account_email"),
            SERVICE_ACCOUNT_EMAIL,
            f"{where}.oidc_service_account_email",
            allowed,
        )
    ci = args.get("ci")
    if ci is not None:
        allowed = "must be 6-30 lowercase letters, digits and -, starting with a letter"
        _match(ci.get("service_account_id"), SERVICE_ACCOUNT_ID, "ci.service_account_id", allowed)
        github = ci.get("github_oidc")
        if github is not None:
            allowed = "must be 4-32 lowercase letters, digits and -, starting with a letter"
            _match(github.get("pool_id"), POOL_ID, "ci.github_oidc.pool_id", allowed)
            for index, ref in enumerate(github["refs"]):
                if problem := github_ref_problem(ref):
                    raise ValueError(f"ci.github_oidc.refs[{index}]: {problem}")


class ArtifactRegistry(pulumi.ComponentResource):
    """Google Artifact Registry Docker repositories of one project and location, with cleanup policies, IAM, Docker
    Hub mirrors, virtual repositories, Pub/Sub push notifications and a CI service account."""

    registries: pulumi.Output[dict[str, str]]
    """Location -> Docker host (<location>-docker.pkg.dev)."""
    repository_urls: pulumi.Output[dict[str, str]]
    """Repository name -> image path prefix (gcr.io-named repositories: <host>/<project>)."""
    login_command: pulumi.Output[str]
    """`gcloud auth configure-docker <hosts>`: makes Docker use gcloud's credentials for every host."""
    docker_config_json: pulumi.Output[str]
    """~/.docker/config.json content with the gcloud credential helper for every host (no stored password)."""
    push_repositories: pulumi.Output[list[str]]
    """Names of the standard repositories, the ones that accept pushes (mirrors and virtual ones are pull-only)."""
    immutable_repositories: pulumi.Output[list[str]]
    """Names of the standard repositories with immutable tags (a pushed tag can never be deleted there)."""
    ci_service_account_email: pulumi.Output[str | None]
    """Email of the CI service account (None without ci)."""
    scan_results: pulumi.Output[dict[str, str]]
    """Standard repository with vulnerability scanning -> the console page listing its images and their
    vulnerabilities. Scanning runs only where the project has the Container Scanning API
    (containerscanning.googleapis.com) enabled: INHERITED means "on when the API is"."""
    scan_findings_command: pulumi.Output[str]
    """`gcloud artifacts docker images describe ... --show-package-vulnerability` for one image (fill in
    <repository>, <image> and <digest>), on the host of `location`; a gcr.io-named repository's images are under
    its own host (repository_urls)."""

    def __init__(self, name: str, args: ArtifactRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)  # before any resource: a bad arg declares nothing
        super().__init__("registries:index:ArtifactRegistry", name, None, opts)
        self._name = name
        self._project = args["project"]
        location = args["location"]
        dry_run = args.get("cleanup_dry_run", False)
        number_input = args.get("project_number")
        self._number: pulumi.Output[str] | None = (
            pulumi.Output.from_input(number_input) if number_input is not None else None
        )
        urls: dict[str, pulumi.Output[str]] = {}
        locations: list[str] = []
        standard: list[tuple[str, gcp.artifactregistry.Repository]] = []
        upstreams: dict[str, gcp.artifactregistry.Repository] = {}
        self._agent: pulumi.Output[str] | None = None
        self._key_grants: dict[str, gcp.kms.CryptoKeyIAMMember] = {}

        for index, repo in enumerate(args.get("repositories", [])):
            repo_location = repository_location(repo, location)
            cleanup = compiled_cleanup(
                repo.get("retention"), f"repositories[{index}].retention", bool(args.get("signed_images", False))
            )
            key = repo.get("kms_key_name")
            # Artifact Registry encrypts with the key as its service agent: granted before the repository is created.
            key_grants = [self._key_grant(key, index)] if key is not None else []
            repository = gcp.artifactregistry.Repository(
                f"{name}-repo-{repo['name']}",
                project=self._project,
                location=repo_location,
                repository_id=repo["name"],
                format="DOCKER",
                mode="STANDARD_REPOSITORY",
                description=repo.get("description") or None,
                labels=repo.get("labels") or None,
                kms_key_name=repo.get("kms_key_name"),
                # Only `true` is sent: the API omits a false immutableTags, so declaring false diffs on every run
                # (Fabric's docker_config permadiff).
                docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True)
                if repo.get("immutable_tags", False)
                else None,
                vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                    enablement_config="INHERITED" if repo.get("vulnerability_scanning", True) else "DISABLED"
                ),
                cleanup_policies=cleanup_policy_inputs(cleanup) or None,
                cleanup_policy_dry_run=dry_run if cleanup else None,
                opts=pulumi.ResourceOptions(parent=self, protect=repo.get("protect", False), depends_on=key_grants),
            )
            standard.append((repo["name"], repository))
            if repo_location == location:
                upstreams[repo["name"]] = repository
            locations.append(repo_location)
            urls[repo["name"]] = self._url(repository, repo_location, repo["name"])
            self._grant(repository, repo["name"], READER_ROLE, repo.get("readers", []))
            self._grant(repository, repo["name"], WRITER_ROLE, repo.get("writers", []))

        for index, mirror in enumerate(args.get("mirrors", [])):
            cleanup = compiled_cleanup(mirror.get("retention"), f"mirrors[{index}].retention")
            credentials = None
            depends: list[pulumi.Resource] = []
            if "password_secret_version" in mirror:
                credentials = gcp.artifactregistry.RepositoryRemoteRepositoryConfigUpstreamCredentialsArgs(
                    username_password_credentials=gcp.artifactregistry.RepositoryRemoteRepositoryConfigUpstreamCredentialsUsernamePasswordCredentialsArgs(
                        username=mirror.get("username"), password_secret_version=mirror["password_secret_version"]
                    )
                )
                depends.append(self._secret_grant(mirror["name"], mirror["password_secret_version"]))
            repository = gcp.artifactregistry.Repository(
                f"{name}-mirror-{mirror['name']}",
                project=self._project,
                location=location,
                repository_id=mirror["name"],
                format="DOCKER",
                mode="REMOTE_REPOSITORY",
                description=mirror.get("description") or None,
                labels=mirror.get("labels") or None,
                remote_repository_config=gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
                    description="Docker Hub",
                    docker_repository=gcp.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(
                        public_repository="DOCKER_HUB"
                    ),
                    upstream_credentials=credentials,
                ),
                cleanup_policies=cleanup_policy_inputs(cleanup) or None,
                cleanup_policy_dry_run=dry_run if cleanup else None,
                # Artifact Registry checks the credentials at creation: the service agent must read them first.
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            upstreams[mirror["name"]] = repository
            locations.append(location)
            urls[mirror["name"]] = self._url(repository, location, mirror["name"])
            self._grant(repository, mirror["name"], READER_ROLE, mirror.get("readers", []))

        for virtual in args.get("virtual", []):
            repository = gcp.artifactregistry.Repository(
                f"{name}-virtual-{virtual['name']}",
                project=self._project,
                location=location,
                repository_id=virtual["name"],
                format="DOCKER",
                mode="VIRTUAL_REPOSITORY",
                description=virtual.get("description") or None,
                labels=virtual.get("labels") or None,
                virtual_repository_config=gcp.artifactregistry.RepositoryVirtualRepositoryConfigArgs(
                    upstream_policies=[
                        gcp.artifactregistry.RepositoryVirtualRepositoryConfigUpstreamPolicyArgs(
                            id=upstream["repository"],
                            repository=upstreams[upstream["repository"]].id,
                            priority=upstream["priority"],
                        )
                        for upstream in virtual["upstreams"]
                    ]
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            locations.append(location)
            urls[virtual["name"]] = self._url(repository, location, virtual["name"])
            self._grant(repository, virtual["name"], READER_ROLE, virtual.get("readers", []))

        notifications = args.get("notifications", [])
        if notifications:
            self._notifications(notifications, args.get("create_gcr_topic", True))

        ci = args.get("ci")
        self.ci_service_account_email = self._ci(ci, standard) if ci is not None else pulumi.Output.from_input(None)

        hosts = docker_hosts(locations, list(urls))
        self.registries = pulumi.Output.from_input({loc: registry_host(loc) for loc in dict.fromkeys(locations)})
        self.repository_urls = pulumi.Output.all(**urls).apply(dict) if urls else pulumi.Output.from_input({})
        self.push_repositories = pulumi.Output.from_input([repo_name for repo_name, _ in standard])
        self.immutable_repositories = pulumi.Output.from_input(
            [repo["name"] for repo in args.get("repositories", []) if repo.get("immutable_tags", False)]
        )
        self.login_command = pulumi.Output.from_input(
            f"gcloud auth configure-docker {','.join(hosts)}" if hosts else ""
        )
        self.docker_config_json = pulumi.Output.from_input(docker_config(hosts))
        scanned = [
            (repo["name"], repository_location(repo, location))
            for repo in args.get("repositories", [])
            if repo.get("vulnerability_scanning", True)
        ]
        project = pulumi.Output.from_input(self._project)
        self.scan_results = project.apply(
            lambda p: {repo: artifact_registry_scan_results_url(p, where, repo) for repo, where in scanned}
        )
        self.scan_findings_command = project.apply(
            lambda p: (
                f"gcloud artifacts docker images describe {registry_host(location)}/{p}/<repository>/<image>"
                "@<digest> --show-package-vulnerability"
            )
        )
        self.register_outputs(
            {
                "registries": self.registries,
                "repositoryUrls": self.repository_urls,
                "pushRepositories": self.push_repositories,
                "immutableRepositories": self.immutable_repositories,
                "loginCommand": self.login_command,
                "dockerConfigJson": self.docker_config_json,
                "ciServiceAccountEmail": self.ci_service_account_email,
                "scanResults": self.scan_results,
                "scanFindingsCommand": self.scan_findings_command,
            }
        )

    def _url(self, repository: gcp.artifactregistry.Repository, location: str, name: str) -> pulumi.Output[str]:
        # From the resource's own outputs, so the URL exists only once the repository does.
        return pulumi.Output.all(repository.project, repository.repository_id).apply(
            lambda values: repository_url(location, str(values[0]), name)
        )

    def _project_number(self) -> pulumi.Output[str]:
        if self._number is None:
            project = gcp.organizations.get_project_output(
                project_id=self._project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self._number = project.number
        return self._number

    def _service_agent(self, service: str) -> pulumi.Output[str]:
        """The member of a Google service agent of the project, e.g. gcp-sa-pubsub."""
        return self._project_number().apply(
            lambda number: f"serviceAccount:service-{number}@{service}.iam.gserviceaccount.com"
        )

    def _artifact_registry_agent(self) -> pulumi.Output[str]:
        """The member of the project's Artifact Registry service agent, declared: a fresh project gets the agent
        only with its first repository, and an IAM grant naming an agent that does not exist yet is refused."""
        if self._agent is None:
            identity = gcp.projects.ServiceIdentity(
                f"{self._name}-artifact-registry-agent",
                project=self._project,
                service=ARTIFACT_REGISTRY_SERVICE,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._agent = identity.member
        return self._agent

    def _key_grant(self, key: pulumi.Input[str], index: int) -> gcp.kms.CryptoKeyIAMMember:
        """roles/cloudkms.cryptoKeyEncrypterDecrypter on a CMEK key for the service agent (once per key)."""
        cache_key = key if isinstance(key, str) else f"repositories[{index}]"
        if cache_key not in self._key_grants:
            self._key_grants[cache_key] = gcp.kms.CryptoKeyIAMMember(
                f"{self._name}-cmek-{_member_key(key, index)}",
                crypto_key_id=key,
                role=KMS_ENCRYPTER_ROLE,
                member=self._artifact_registry_agent(),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._key_grants[cache_key]

    def _grant(
        self, repository: gcp.artifactregistry.Repository, repo: str, role: str, members: Sequence[pulumi.Input[str]]
    ) -> None:
        kind = "reader" if role == READER_ROLE else "writer"
        for index, member in enumerate(dict.fromkeys(members) if all(isinstance(m, str) for m in members) else members):
            gcp.artifactregistry.RepositoryIamMember(
                f"{self._name}-{repo}-{kind}-{_member_key(member, index)}",
                project=repository.project,
                location=repository.location,
                repository=repository.name,
                role=role,
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _secret_grant(self, mirror: str, secret_version: pulumi.Input[str]) -> gcp.secretmanager.SecretIamMember:
        """Let the Artifact Registry service agent read the mirror's upstream password."""
        secret = pulumi.Output.from_input(secret_version).apply(lambda version: version.split("/versions/", 1)[0])
        return gcp.secretmanager.SecretIamMember(
            f"{self._name}-mirror-{mirror}-secret-access",
            secret_id=secret,
            role="roles/secretmanager.secretAccessor",
            member=self._artifact_registry_agent(),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _notifications(self, hooks: Sequence[ArtifactRegistryNotificationArgs], create_topic: bool) -> None:
        name, child = self._name, pulumi.ResourceOptions(parent=self)
        if create_topic:
            topic_id: pulumi.Input[str] = gcp.pubsub.Topic(
                f"{name}-gcr-topic", name=GCR_TOPIC, project=self._project, opts=child
            ).id
        else:
            topic_id = pulumi.Output.concat("projects/", self._project, f"/topics/{GCR_TOPIC}")
        dead_letters = gcp.pubsub.Topic(
            f"{name}-dead-letters", name=DEAD_LETTER_TOPIC, project=self._project, opts=child
        )
        # A topic keeps nothing without a subscription: this one holds dead letters for a week, and never expires.
        gcp.pubsub.Subscription(
            f"{name}-dead-letters-sub",
            name=DEAD_LETTER_TOPIC,
            project=self._project,
            topic=dead_letters.id,
            message_retention_duration=WEEK,
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
            opts=child,
        )
        pubsub_agent = self._service_agent("gcp-sa-pubsub")
        # Pub/Sub forwards undeliverable messages as its service agent: it publishes to the dead-letter topic.
        gcp.pubsub.TopicIAMMember(
            f"{name}-dead-letters-publisher",
            project=self._project,
            topic=dead_letters.name,
            role="roles/pubsub.publisher",
            member=pubsub_agent,
            opts=child,
        )
        for hook in hooks:
            oidc = None
            if "oidc_service_account_email" in hook:
                oidc = gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=hook["oidc_service_account_email"], audience=hook.get("oidc_audience")
                )
            subscription = gcp.pubsub.Subscription(
                f"{name}-hook-{hook['name']}",
                name=f"{GCR_TOPIC}-{hook['name']}",
                project=self._project,
                topic=topic_id,
                ack_deadline_seconds=60,
                message_retention_duration=WEEK,
                expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
                push_config=gcp.pubsub.SubscriptionPushConfigArgs(
                    push_endpoint=pulumi.Output.secret(hook["url"]), oidc_token=oidc
                ),
                dead_letter_policy=gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
                    dead_letter_topic=dead_letters.id, max_delivery_attempts=hook.get("max_delivery_attempts", 5)
                ),
                retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
                opts=child,
            )
            # ...and acknowledges the forwarded message on the source subscription as that agent.
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-hook-{hook['name']}-dead-letter-subscriber",
                project=self._project,
                subscription=subscription.name,
                role="roles/pubsub.subscriber",
                member=pubsub_agent,
                opts=child,
            )

    def _ci(
        self, ci: ArtifactRegistryCiArgs, repositories: Sequence[tuple[str, gcp.artifactregistry.Repository]]
    ) -> pulumi.Output[str | None]:
        name, child = self._name, pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{name}-ci",
            project=self._project,
            account_id=ci.get("service_account_id", "registry-ci"),
            display_name="Pushes images to Artifact Registry from CI",
            opts=child,
        )
        member = account.email.apply(lambda email: f"serviceAccount:{email}")
        for repo, repository in repositories:
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-ci-writer-{repo}",
                project=repository.project,
                location=repository.location,
                repository=repository.name,
                role=WRITER_ROLE,
                member=member,
                opts=child,
            )
        github = ci.get("github_oidc")
        if github is not None:
            pool = gcp.iam.WorkloadIdentityPool(
                f"{name}-github-pool",
                project=self._project,
                workload_identity_pool_id=github.get("pool_id", "github"),
                display_name="GitHub Actions",
                opts=child,
            )
            provider = gcp.iam.WorkloadIdentityPoolProvider(
                f"{name}-github-provider",
                project=self._project,
                workload_identity_pool_id=pool.workload_identity_pool_id,
                workload_identity_pool_provider_id="github-actions",
                display_name="GitHub Actions OIDC",
                oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
                attribute_mapping={
                    "google.subject": "assertion.sub",
                    "attribute.repository": "assertion.repository",
                    "attribute.ref": "assertion.ref",
                },
                # Tokens of other repositories or refs are refused by the provider itself.
                attribute_condition=github_condition(github["repository"], github["refs"]),
                opts=child,
            )
            gcp.serviceaccount.IAMMember(
                f"{name}-ci-github-impersonation",
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                member=pulumi.Output.concat(
                    "principalSet://iam.googleapis.com/", pool.name, f"/attribute.repository/{github['repository']}"
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[provider]),
            )
        return account.email.apply(lambda email: email)
