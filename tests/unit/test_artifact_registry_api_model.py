"""Every repository the program declares, checked against Artifact Registry's own API model.

pulumi-gcp accepts any string for enums and durations; the API does not. Each declared Repository (cleanup
policies included) is turned into the CreateRepositoryRequest the provider sends (REST JSON: the same field names,
cleanup policies as a map keyed by id) and parsed by protobuf's strict JSON parser into
google.cloud.artifactregistry_v1's message: an unknown field, an enum value the API lacks or a duration that is not
"<seconds>s" fails. IAM members go through google.iam.v1's SetIamPolicyRequest the same way. (The parsing runs in a
subprocess: tests/support/artifact_registry_api.py says why.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.artifact_registry_api import check_in_subprocess
from tests.unit.test_artifact_registry_component import REPO, REPO_IAM, run_ar
from tests.unit.test_artifact_registry_schema import AR, ar_config

# Provider inputs that address the resource rather than describe it (they become the request's parent and id).
ADDRESS_KEYS = ("project", "location", "repositoryId")


def create_repository_request(inputs: dict[str, Any]) -> dict[str, Any]:
    """The REST body pulumi-gcp sends for one Repository: its inputs minus the address, cleanup policies keyed by id."""
    repository = {k: copy.deepcopy(v) for k, v in inputs.items() if k not in ADDRESS_KEYS}
    if "cleanupPolicies" in repository:
        repository["cleanupPolicies"] = {policy["id"]: policy for policy in repository["cleanupPolicies"]}
    parent = f"projects/{inputs['project']}/locations/{inputs['location']}"
    repository["name"] = f"{parent}/repositories/{inputs['repositoryId']}"
    return {"parent": parent, "repositoryId": inputs["repositoryId"], "repository": repository}


def parsed_repositories(config: dict[str, Any], stack: str = "dev") -> dict[str, dict[str, Any]]:
    """Resource name -> the Repository as the API's message holds it; fails naming each request the API refuses."""
    mocks, _ = run_ar(config, stack)
    declared = {r.name: r.plain for r in mocks.of_type(REPO)}
    results = check_in_subprocess([("createRepository", create_repository_request(i)) for i in declared.values()])
    refused = {name: r["error"] for name, r in zip(declared, results, strict=True) if "error" in r}
    assert not refused, refused
    return {name: r["parsed"]["repository"] for name, r in zip(declared, results, strict=True)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_declared_repository_is_a_valid_create_repository_request(stack: str):
    # On prod, repositories have immutable tags, where taggedDays is refused (a cleanup policy cannot delete them).
    prod_defaults = {**AR["defaults"], "retention": {"protect": ["v*"], "untaggedDays": 7}}
    repositories = parsed_repositories(AR if stack == "dev" else ar_config(defaults=prod_defaults), stack)
    assert len(repositories) == 6  # apps, scratch, gcr.io, eu.gcr.io, the mirror, the virtual repository
    for name, repository in repositories.items():
        assert repository["format"] == "DOCKER", name
        if repository["mode"] == "STANDARD_REPOSITORY":
            immutable = stack == "prod" and name != "artifact-registry-repo-scratch"
            assert repository.get("dockerConfig", {}).get("immutableTags", False) is immutable, name
    if stack != "dev":
        return  # the cleanup policies below are the dev stack's (taggedDays)
    apps = repositories["artifact-registry-repo-apps"]
    # The durations reach the API as Durations in seconds (7 and 90 days), not as the "7d" it refuses.
    policies = apps["cleanupPolicies"]
    assert policies["delete-untagged"]["condition"] == {"tagState": "UNTAGGED", "olderThan": "604800s"}
    assert policies["delete-tagged"]["condition"] == {"tagState": "TAGGED", "olderThan": "7776000s"}
    assert policies["protect"] == {
        "id": "protect",
        "action": "KEEP",
        "condition": {"tagState": "TAGGED", "tagPrefixes": ["v"]},
    }
    assert apps["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    mirror = repositories["artifact-registry-mirror-dockerhub"]
    assert mirror["mode"] == "REMOTE_REPOSITORY"
    assert mirror["remoteRepositoryConfig"]["dockerRepository"] == {"publicRepository": "DOCKER_HUB"}
    credentials = mirror["remoteRepositoryConfig"]["upstreamCredentials"]["usernamePasswordCredentials"]
    assert credentials["passwordSecretVersion"] == "projects/acme-prod-1/secrets/dockerhub-token/versions/latest"
    virtual = repositories["artifact-registry-virtual-all"]
    assert [(p["id"], p["priority"]) for p in virtual["virtualRepositoryConfig"]["upstreamPolicies"]] == [
        ("apps", 100),
        ("dockerhub", 10),
    ]


def test_repositories_with_labels_kms_and_dry_run_are_valid_requests():
    config = ar_config(
        cleanupDryRun=True,
        defaults={
            "labels": {"team": "platform", "env": "dev"},
            "kmsKeyName": "projects/acme-prod-1/locations/europe-west1/keyRings/ar/cryptoKeys/images",
            "retention": {"untaggedDays": 1},
        },
        gcrDomains=[],
    )
    for repository in parsed_repositories(config).values():
        if "cleanupPolicies" in repository:
            assert repository["cleanupPolicyDryRun"] is True
        if repository["mode"] == "STANDARD_REPOSITORY":
            assert repository["kmsKeyName"].endswith("/cryptoKeys/images")
            assert repository["labels"] == {"team": "platform", "env": "dev"}


MUTATIONS = [
    # What the provider would take without a word, and the API refuses.
    (lambda p: p[0]["condition"].update(olderThan="7d"), 'Duration must end with letter "s"'),
    (lambda p: p[0]["condition"].update(tagState="UNTAGGD"), "Invalid enum value UNTAGGD"),
    (lambda p: p[0].update(action="EXPIRE"), "Invalid enum value EXPIRE"),
    (lambda p: p[0]["condition"].update(tagPrefix=["v"]), 'no field named "tagPrefix"'),
    # A policy with both a condition and mostRecentVersions: the API's oneof allows one.
    (lambda p: p[0].update(mostRecentVersions={"keepCount": 3}), 'multiple "condition_type" oneof fields'),
    (lambda p: p.__setitem__(0, {"id": "k", "action": "KEEP", "mostRecentVersions": {"keepCount": "3x"}}), "keepCount"),
]


def test_policies_the_provider_accepts_but_the_api_refuses_fail_this_check():
    mocks, _ = run_ar(AR)
    apps = next(r.plain for r in mocks.of_type(REPO) if r.name == "artifact-registry-repo-apps")
    bodies = []
    for mutate, _complaint in MUTATIONS:
        inputs = copy.deepcopy(apps)
        mutate(inputs["cleanupPolicies"])
        bodies.append(("createRepository", create_repository_request(inputs)))
    results = check_in_subprocess([("createRepository", create_repository_request(apps)), *bodies])
    assert "parsed" in results[0]  # the declared one passes...
    for (_mutate, complaint), result in zip(MUTATIONS, results[1:], strict=True):
        assert complaint in result.get("error", ""), result  # ...each wrong shape is refused, saying why


def test_iam_members_are_valid_set_iam_policy_bindings():
    mocks, _ = run_ar(AR)
    grants = [r.plain for r in mocks.of_type(REPO_IAM)]
    assert grants
    bodies = []
    for grant in grants:
        resource = f"projects/{grant['project']}/locations/{grant['location']}/repositories/{grant['repository']}"
        policy = {"bindings": [{"role": grant["role"], "members": [grant["member"]]}]}
        bodies.append(("setIamPolicy", {"resource": resource, "policy": policy}))
    for grant, result in zip(grants, check_in_subprocess(bodies), strict=True):
        assert result["parsed"]["policy"]["bindings"][0]["members"] == [grant["member"]]
