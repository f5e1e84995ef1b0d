"""What ArtifactRegistry declares, from the stack config (through the program) and as a library with inputs from
other resources: every input, secret and output."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from components.artifact_registry import (
    ArtifactRegistry,
    ArtifactRegistryArgs,
    github_condition,
)
from tests.support.pulumi_runtime import StackOutput, contains_secret, is_secret, run_program
from tests.support.recording_mocks import RecordingMocks
from tests.unit.test_artifact_registry_schema import AR, HOOK_URL, ar_config

REPO = "gcp:artifactregistry/repository:Repository"
REPO_IAM = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember"
POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
PROJECT_NUMBER = "987654321098"
AR_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"


class GcpMocks(RecordingMocks):
    """RecordingMocks that answer as pulumi-gcp does: resource ids and computed names, and getProject's number."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        ident, outs = super().new_resource(args)
        inputs = args.inputs
        if args.typ == REPO:
            path = f"projects/{inputs['project']}/locations/{inputs['location']}/repositories/{inputs['repositoryId']}"
            outs.update(name=inputs["repositoryId"], id=path)
            return path, outs
        if args.typ == TOPIC:
            path = f"projects/{inputs['project']}/topics/{inputs['name']}"
            return path, outs
        if args.typ == SUBSCRIPTION:
            return f"projects/{inputs['project']}/subscriptions/{inputs['name']}", outs
        if args.typ == ACCOUNT:
            email = f"{inputs['accountId']}@{inputs['project']}.iam.gserviceaccount.com"
            outs.update(email=email, name=f"projects/{inputs['project']}/serviceAccounts/{email}")
            return outs["name"], outs
        if args.typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            # pulumi-gcp's outputs: the agent of the project (service-<number>@gcp-sa-<service>.iam...).
            agent = inputs["service"].split(".", 1)[0]
            email = f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            outs.update(email=email, member=f"serviceAccount:{email}")
            return f"projects/{inputs['project']}/services/{inputs['service']}", outs
        if args.typ == POOL:
            pool_id = inputs["workloadIdentityPoolId"]
            outs["name"] = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{pool_id}"
            return outs["name"], outs
        return ident, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "gcp:organizations/getProject:getProject":
            return {"number": PROJECT_NUMBER, "projectId": args.args.get("projectId"), "name": "acme"}, []
        return super().call(args)


def run_ar(config: dict[str, Any], stack: str = "dev", secret: bool = True) -> tuple[GcpMocks, dict[str, Any]]:
    """The program with this artifactRegistry section (set with --secret, as hook URLs require)."""
    mocks = GcpMocks()
    key = "registries:artifactRegistry"
    outputs = run_program(mocks, stack=stack, config={key: json.dumps(config)}, secret_keys=[key] if secret else [])
    return mocks, outputs


def by_name(mocks: GcpMocks, typ: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.plain for r in mocks.of_type(typ)}


def test_standard_repositories_carry_the_effective_settings():
    mocks, _ = run_ar(AR)
    repos = by_name(mocks, REPO)
    apps = repos["artifact-registry-repo-apps"]
    assert apps["project"] == "acme-prod-1"
    assert apps["location"] == "europe-west1"
    assert apps["repositoryId"] == "apps"
    assert apps["format"] == "DOCKER"
    assert apps["mode"] == "STANDARD_REPOSITORY"
    assert apps["description"] == "Application images"
    assert apps["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    # Dev stack: tags stay mutable, and no docker_config is sent at all (a declared false diffs on every run).
    assert "dockerConfig" not in apps
    assert apps["cleanupPolicyDryRun"] is False
    assert apps["cleanupPolicies"] == [
        {"id": "protect", "action": "KEEP", "condition": {"tagState": "TAGGED", "tagPrefixes": ["v"]}},
        {"id": "delete-untagged", "action": "DELETE", "condition": {"tagState": "UNTAGGED", "olderThan": "604800s"}},
        {"id": "delete-tagged", "action": "DELETE", "condition": {"tagState": "TAGGED", "olderThan": "7776000s"}},
    ]
    scratch = repos["artifact-registry-repo-scratch"]
    assert scratch["vulnerabilityScanningConfig"] == {"enablementConfig": "DISABLED"}
    assert "cleanupPolicies" not in scratch
    assert "cleanupPolicyDryRun" not in scratch
    assert "kmsKeyName" not in scratch
    assert "labels" not in scratch


def test_gcr_domains_become_repositories_in_their_multi_regions_with_the_defaults():
    mocks, outputs = run_ar(AR)
    repos = by_name(mocks, REPO)
    gcr, eu = repos["artifact-registry-repo-gcr.io"], repos["artifact-registry-repo-eu.gcr.io"]
    assert (gcr["repositoryId"], gcr["location"]) == ("gcr.io", "us")
    assert (eu["repositoryId"], eu["location"]) == ("eu.gcr.io", "europe")
    assert gcr["cleanupPolicies"] == repos["artifact-registry-repo-apps"]["cleanupPolicies"]
    urls = outputs["artifactRegistry"].value["repositories"]
    assert urls["gcr.io"] == "gcr.io/acme-prod-1"
    assert urls["eu.gcr.io"] == "eu.gcr.io/acme-prod-1"
    assert urls["apps"] == "europe-west1-docker.pkg.dev/acme-prod-1/apps"


def test_prod_stacks_get_immutable_tags_and_protected_repositories(monkeypatch: pytest.MonkeyPatch):
    protected: dict[str, bool] = {}
    original = pulumi.CustomResource.__init__

    def recording_init(
        self: Any, t: str, name: str, props: Any = None, opts: Any = None, *rest: Any, **kw: Any
    ) -> None:
        if t == REPO:
            protected[name] = bool(opts is not None and opts.protect)
        original(self, t, name, props, opts, *rest, **kw)

    monkeypatch.setattr(pulumi.CustomResource, "__init__", recording_init)
    # Without taggedDays: prod repositories have immutable tags, which a cleanup policy cannot delete.
    prod_config = ar_config(defaults={"retention": {"protect": ["v*"], "untaggedDays": 7}})
    mocks, _ = run_ar(prod_config, stack="prod")
    repos = by_name(mocks, REPO)
    assert repos["artifact-registry-repo-apps"]["dockerConfig"] == {"immutableTags": True}
    assert "dockerConfig" not in repos["artifact-registry-repo-scratch"]  # immutableTags: false stays false
    assert repos["artifact-registry-repo-gcr.io"]["dockerConfig"] == {"immutableTags": True}
    assert protected["artifact-registry-repo-apps"]
    assert protected["artifact-registry-repo-gcr.io"]
    _, _ = run_ar(AR, stack="dev")
    assert protected["artifact-registry-repo-apps"] is False


def test_readers_and_writers_are_non_authoritative_members_of_each_repository():
    mocks, _ = run_ar(AR)
    grants = {(g["repository"], g["role"], g["member"]) for g in by_name(mocks, REPO_IAM).values()}
    assert ("apps", "roles/artifactregistry.reader", "group:devs@acme.com") in grants
    assert ("apps", "roles/artifactregistry.writer", "serviceAccount:ci@acme-prod-1.iam.gserviceaccount.com") in grants
    assert ("gcr.io", "roles/artifactregistry.reader", "group:devs@acme.com") in grants
    assert (
        "scratch",
        "roles/artifactregistry.writer",
        "serviceAccount:ci@acme-prod-1.iam.gserviceaccount.com",
    ) not in grants
    for grant in by_name(mocks, REPO_IAM).values():
        assert grant["project"] == "acme-prod-1"
        assert grant["location"] in ("europe-west1", "us", "europe")


def test_the_mirror_reads_docker_hub_with_credentials_its_service_agent_may_read():
    mocks, _ = run_ar(AR)
    mirror = by_name(mocks, REPO)["artifact-registry-mirror-dockerhub"]
    assert mirror["mode"] == "REMOTE_REPOSITORY"
    assert mirror["remoteRepositoryConfig"] == {
        "description": "Docker Hub",
        "dockerRepository": {"publicRepository": "DOCKER_HUB"},
        "upstreamCredentials": {
            "usernamePasswordCredentials": {
                "username": "acme",
                "passwordSecretVersion": "projects/acme-prod-1/secrets/dockerhub-token/versions/latest",
            }
        },
    }
    grant = by_name(mocks, SECRET_IAM)["artifact-registry-mirror-dockerhub-secret-access"]
    assert grant == {
        "secretId": "projects/acme-prod-1/secrets/dockerhub-token",
        "role": "roles/secretmanager.secretAccessor",
        "member": AR_AGENT,
    }
    assert ("gcp:organizations/getProject:getProject", {"projectId": "acme-prod-1"}) in mocks.calls


def test_a_given_project_number_needs_no_lookup():
    mocks, _ = run_ar(ar_config(projectNumber="111111111111"))
    assert mocks.calls == []
    # The Pub/Sub agent is named from the number; the Artifact Registry agent comes from its declared identity
    # (test_artifact_registry_service_agent).
    publisher = by_name(mocks, TOPIC_IAM)["artifact-registry-dead-letters-publisher"]
    assert publisher["member"] == "serviceAccount:service-111111111111@gcp-sa-pubsub.iam.gserviceaccount.com"
    grant = by_name(mocks, SECRET_IAM)["artifact-registry-mirror-dockerhub-secret-access"]
    assert grant["member"] == AR_AGENT


def test_the_virtual_repository_points_at_the_declared_repositories_by_priority():
    mocks, outputs = run_ar(AR)
    virtual = by_name(mocks, REPO)["artifact-registry-virtual-all"]
    assert virtual["mode"] == "VIRTUAL_REPOSITORY"
    assert virtual["virtualRepositoryConfig"] == {
        "upstreamPolicies": [
            {
                "id": "apps",
                "repository": "projects/acme-prod-1/locations/europe-west1/repositories/apps",
                "priority": 100,
            },
            {
                "id": "dockerhub",
                "repository": "projects/acme-prod-1/locations/europe-west1/repositories/dockerhub",
                "priority": 10,
            },
        ]
    }
    assert outputs["artifactRegistry"].value["repositories"]["all"] == "europe-west1-docker.pkg.dev/acme-prod-1/all"


def test_notifications_push_the_gcr_topic_with_a_secret_url_and_dead_letters():
    mocks, _ = run_ar(AR)
    topics = by_name(mocks, TOPIC)
    assert {t["name"] for t in topics.values()} == {"gcr", "gcr-dead-letters"}
    subscriptions = {r.name: r for r in mocks.of_type(SUBSCRIPTION)}
    hook = subscriptions["artifact-registry-hook-deploy"]
    assert is_secret(hook.inputs["pushConfig"]) or is_secret(hook.inputs["pushConfig"]["pushEndpoint"])
    plain = hook.plain
    assert plain["name"] == "gcr-deploy"
    assert plain["topic"] == "projects/acme-prod-1/topics/gcr"
    assert plain["pushConfig"] == {"pushEndpoint": HOOK_URL}
    assert plain["deadLetterPolicy"] == {
        "deadLetterTopic": "projects/acme-prod-1/topics/gcr-dead-letters",
        "maxDeliveryAttempts": 5,
    }
    assert plain["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    dead = subscriptions["artifact-registry-dead-letters-sub"].plain
    assert dead["topic"] == "projects/acme-prod-1/topics/gcr-dead-letters"
    assert dead["expirationPolicy"] == {"ttl": ""}
    assert dead["messageRetentionDuration"] == "604800s"
    # Pub/Sub's service agent publishes dead letters and acknowledges them on the source subscription.
    assert list(by_name(mocks, TOPIC_IAM).values()) == [
        {
            "project": "acme-prod-1",
            "topic": "gcr-dead-letters",
            "role": "roles/pubsub.publisher",
            "member": PUBSUB_AGENT,
        }
    ]
    assert list(by_name(mocks, SUBSCRIPTION_IAM).values()) == [
        {
            "project": "acme-prod-1",
            "subscription": "gcr-deploy",
            "role": "roles/pubsub.subscriber",
            "member": PUBSUB_AGENT,
        }
    ]


def test_oidc_pushes_and_an_existing_gcr_topic():
    hooks = [
        {
            "name": "signed",
            "url": "https://hooks.example.com/ar",
            "oidc": {"serviceAccountEmail": "pusher@acme-prod-1.iam.gserviceaccount.com", "audience": "ar-hooks"},
            "maxDeliveryAttempts": 20,
        }
    ]
    mocks, _ = run_ar(ar_config(notifications=hooks, createGcrTopic=False))
    assert {t["name"] for t in by_name(mocks, TOPIC).values()} == {"gcr-dead-letters"}
    hook = by_name(mocks, SUBSCRIPTION)["artifact-registry-hook-signed"]
    assert hook["topic"] == "projects/acme-prod-1/topics/gcr"
    assert hook["pushConfig"]["oidcToken"] == {
        "serviceAccountEmail": "pusher@acme-prod-1.iam.gserviceaccount.com",
        "audience": "ar-hooks",
    }
    assert hook["deadLetterPolicy"]["maxDeliveryAttempts"] == 20


def test_ci_service_account_pushes_to_standard_repositories_through_github_federation():
    mocks, outputs = run_ar(AR)
    account = by_name(mocks, ACCOUNT)["artifact-registry-ci"]
    assert account["accountId"] == "registry-ci"
    assert account["project"] == "acme-prod-1"
    email = "registry-ci@acme-prod-1.iam.gserviceaccount.com"
    writers = {g["repository"] for g in by_name(mocks, REPO_IAM).values() if g["member"] == f"serviceAccount:{email}"}
    assert writers == {"apps", "scratch", "gcr.io", "eu.gcr.io"}  # not the mirror nor the virtual repository
    pool = by_name(mocks, POOL)["artifact-registry-github-pool"]
    assert pool["workloadIdentityPoolId"] == "github"
    provider = by_name(mocks, PROVIDER)["artifact-registry-github-provider"]
    assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider["attributeMapping"]["attribute.repository"] == "assertion.repository"
    assert provider["attributeCondition"] == (
        "assertion.repository == 'acme/app' && (assertion.ref == 'refs/heads/main' || "
        "assertion.ref.startsWith('refs/tags/v'))"
    )
    impersonation = by_name(mocks, ACCOUNT_IAM)["artifact-registry-ci-github-impersonation"]
    assert impersonation == {
        "serviceAccountId": f"projects/acme-prod-1/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"principalSet://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/"
        "workloadIdentityPools/github/attribute.repository/acme/app",
    }
    assert outputs["artifactRegistry"].value["ciServiceAccount"] == email


def test_github_ref_patterns_become_cel():
    condition = github_condition("o/r", ["refs/tags/v*.*", "refs/heads/main"])
    assert condition == (
        "assertion.repository == 'o/r' && (assertion.ref.matches('^refs/tags/v.*\\\\..*$') || "
        "assertion.ref == 'refs/heads/main')"
    )
    # The CEL literal holds \\. (CEL has no \. escape); unescaped, it is the RE2 pattern for a literal dot.
    literal = re.search(r"matches\('(.*?)'\)", condition)
    assert literal is not None
    pattern = re.compile(literal.group(1).replace("\\\\", "\\"))
    assert pattern.fullmatch("refs/tags/v1.2")
    assert not pattern.fullmatch("refs/tags/v12")


def test_stack_outputs_are_exactly_the_keys_registryctl_reads():
    _, outputs = run_ar(AR)
    out: StackOutput = outputs["artifactRegistry"]
    assert set(out.value) == {
        "registries",
        "repositories",
        "pushRepositories",
        "immutableRepositories",
        "loginCommand",
        "dockerConfigJson",
        "ciServiceAccount",
        "scanResults",  # read by people, not registryctl (tests/unit/test_scan_results.py)
        "scanFindingsCommand",
    }
    # Mirrors and virtual repositories are listed among the repositories, but only standard ones take pushes.
    assert set(out.value["pushRepositories"]) < set(out.value["repositories"])
    assert not set(out.value["pushRepositories"]) & ({m["name"] for m in AR["mirrors"]} | {AR["virtual"][0]["name"]})
    assert out.value["registries"] == {
        "europe-west1": "europe-west1-docker.pkg.dev",
        "us": "us-docker.pkg.dev",
        "europe": "europe-docker.pkg.dev",
    }
    assert out.value["loginCommand"] == (
        "gcloud auth configure-docker europe-west1-docker.pkg.dev,us-docker.pkg.dev,europe-docker.pkg.dev,"
        "eu.gcr.io,gcr.io"
    )
    assert json.loads(out.value["dockerConfigJson"]) == {
        "credHelpers": {
            host: "gcloud"
            for host in (
                "europe-west1-docker.pkg.dev",
                "us-docker.pkg.dev",
                "europe-docker.pkg.dev",
                "gcr.io",
                "eu.gcr.io",
            )
        }
    }
    # Nothing in the outputs is a credential, and no hook URL leaks into them.
    assert HOOK_URL not in json.dumps(out.value)


def test_without_ci_the_service_account_output_is_none_and_nothing_ci_is_declared():
    config = ar_config()
    del config["ci"]
    mocks, outputs = run_ar(config)
    assert outputs["artifactRegistry"].value["ciServiceAccount"] is None
    assert mocks.of_type(ACCOUNT) == []
    assert mocks.of_type(POOL) == []


def test_a_second_run_declares_identical_inputs():
    first, _ = run_ar(AR)
    second, _ = run_ar(AR)
    declared = [{(r.typ, r.name): r.plain for r in mocks.resources} for mocks in (first, second)]
    assert declared[0] == declared[1]
    assert len(declared[0]) == len(first.resources)  # no two resources share a type and name


def test_hook_urls_given_in_plain_text_stop_the_program_before_any_resource():
    with pytest.raises(Exception, match=r"notifications\[0\]\.url: must be set as a secret") as caught:
        run_ar(AR, secret=False)
    assert "s3cr3t" not in str(caught.value)


# -- as a library -------------------------------------------------------------------------------------------------


def _library(args_of: Any) -> tuple[GcpMocks, dict[str, StackOutput]]:
    mocks = GcpMocks()

    def program() -> dict[str, Any]:
        registry = ArtifactRegistry("lib", args_of())
        return {"urls": registry.repository_urls, "login": registry.login_command}

    return mocks, run_program(mocks, stack="dev", config={}, program=program)


def test_inputs_from_other_resources_flow_into_the_declarations():
    import pulumi_gcp as gcp

    def args() -> ArtifactRegistryArgs:
        reader = gcp.serviceaccount.Account("runner", account_id="cloud-run", project="acme-prod-1")
        return {
            "project": "acme-prod-1",
            "location": "us-east1",
            "project_number": "222222222222",
            "repositories": [{"name": "apps", "readers": [reader.email.apply(lambda e: f"serviceAccount:{e}")]}],
            "notifications": [{"name": "hook", "url": pulumi.Output.from_input("https://h.example.com/x?t=1")}],
        }

    mocks, outputs = _library(args)
    grant = by_name(mocks, REPO_IAM)["lib-apps-reader-0"]
    assert grant["member"] == "serviceAccount:cloud-run@acme-prod-1.iam.gserviceaccount.com"
    # A URL given as a plain Output is still sent as a secret.
    hook = next(r for r in mocks.of_type(SUBSCRIPTION) if r.name == "lib-hook-hook")
    assert contains_secret(hook.inputs["pushConfig"])
    assert outputs["urls"].value == {"apps": "us-east1-docker.pkg.dev/acme-prod-1/apps"}
    assert outputs["login"].value == "gcloud auth configure-docker us-east1-docker.pkg.dev"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"project": "acme-prod-1", "location": "us"}, "declare at least one of"),
        (
            {"project": "acme-prod-1", "location": "us", "repositories": [{"name": "a"}], "mirrors": [{"name": "a"}]},
            r"mirrors\[0\]\.name: 'a' is declared twice",
        ),
        (
            {
                "project": "acme-prod-1",
                "location": "us",
                "repositories": [{"name": "a", "retention": {"keep_latest": [{"tag": "v*", "count": 3}]}}],
            },
            r"repositories\[0\]\.retention\.keepLatest\[0\]: Artifact Registry cannot express it",
        ),
        (
            {
                "project": "acme-prod-1",
                "location": "us",
                "virtual": [{"name": "v", "upstreams": [{"repository": "x", "priority": 1}]}],
            },
            r"virtual\[0\]\.upstreams\[0\]\.repository: 'x' is not a repository",
        ),
        (
            {
                "project": "acme-prod-1",
                "location": "us",
                "notifications": [{"name": "hook", "url": "https://x/?t", "max_delivery_attempts": 3}],
            },
            r"notifications\[0\]\.max_delivery_attempts: 3 must be 5-100",
        ),
        (
            {"project": "acme-prod-1", "location": "us", "mirrors": [{"name": "m", "username": "u"}]},
            r"mirrors\[0\]: username and password_secret_version go together",
        ),
    ],
)
def test_library_args_are_checked_at_run_time_naming_the_arg(args: dict[str, Any], message: str):
    with pytest.raises(Exception, match=message):
        _library(lambda: args)


def test_immutable_repositories_are_an_output_so_verify_can_avoid_them(monkeypatch: pytest.MonkeyPatch):
    # Dev stack: only the repository that says so; prod stack: every standard repository but the mutable `scratch`.
    _, dev = run_ar(ar_config(defaults={}, repositories=[{"name": "apps", "immutableTags": True}, {"name": "scratch"}]))
    assert dev["artifactRegistry"].value["immutableRepositories"] == ["apps"]
    config = ar_config(
        defaults={"retention": {"untaggedDays": 7}},
        repositories=[{"name": "apps"}, {"name": "scratch", "immutableTags": False}],
    )
    _, prod = run_ar(config, stack="prod")
    assert prod["artifactRegistry"].value["immutableRepositories"] == ["apps", "gcr.io", "eu.gcr.io"]


def _lib_args(**changes: Any) -> dict[str, Any]:
    return {"project": "acme-prod-1", "location": "us", **changes}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            # One id in two locations: both resources would be named lib-repo-apps (a duplicate URN).
            _lib_args(repositories=[{"name": "apps"}, {"name": "apps", "location": "europe"}]),
            r"repositories\[1\]\.name: 'apps' is declared twice \(also repositories\[0\] in us\); each repository "
            r"name may be used once",
        ),
        (_lib_args(repositories=[{"name": "Apps"}]), r"repositories\[0\]\.name: 'Apps' must be 1-63 lowercase"),
        (_lib_args(mirrors=[{"name": "hub_1"}]), r"mirrors\[0\]\.name: 'hub_1' must be 1-63 lowercase"),
        (
            _lib_args(virtual=[{"name": "-v", "upstreams": [{"repository": "x", "priority": 1}]}]),
            r"virtual\[0\]\.name: '-v' must be 1-63 lowercase",
        ),
        (
            _lib_args(location="mars-north", repositories=[{"name": "a"}]),
            r"location: 'mars-north' must be an Artifact Registry location",
        ),
        (
            _lib_args(repositories=[{"name": "a", "location": "Europe"}]),
            r"repositories\[0\]\.location: 'Europe' must be an Artifact Registry location",
        ),
        (_lib_args(project="Acme", repositories=[{"name": "a"}]), r"project: 'Acme' must be a Google Cloud project id"),
        (
            _lib_args(repositories=[{"name": "a", "immutable_tags": True, "retention": {"tagged_days": 30}}]),
            r"repositories\[0\]\.retention\.tagged_days: 30 cannot delete anything: repository 'a' has immutable tags",
        ),
    ],
)
def test_repository_ids_locations_and_project_are_checked_before_anything_is_declared(
    args: dict[str, Any], message: str
):
    mocks = GcpMocks()
    with pytest.raises(ValueError, match=message):
        run_program(mocks, stack="dev", config={}, program=lambda: {"x": ArtifactRegistry("lib", args).login_command})  # type: ignore[arg-type]
    assert mocks.resources == []
