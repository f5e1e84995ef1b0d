"""Every repository the program declares, checked against Artifact Registry's own API model.

pulumi-gcp accepts any string for enums and durations; the API does not. Each declared Repository (cleanup
policies included) is turned into the CreateRepositoryRequest the provider sends (REST JSON: the same field names,
cleanup policies as a map keyed by id) and parsed by protobuf's strict JSON parser into
google.cloud.artifactregistry_v1's message: an unknown field, an enum value the API lacks or a duration that is not
"<seconds>s" fails. IAM members go through google.iam.v1's SetIamPolicyRequest the same way."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from google.cloud import artifactregistry_v1
from google.iam.v1 import iam_policy_pb2
from google.protobuf import json_format

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


def parse_request(body: dict[str, Any]) -> artifactregistry_v1.CreateRepositoryRequest:
    message = artifactregistry_v1.CreateRepositoryRequest.pb(artifactregistry_v1.CreateRepositoryRequest())
    json_format.ParseDict(body, message)  # strict: unknown fields, bad enums and durations raise ParseError
    return artifactregistry_v1.CreateRepositoryRequest.wrap(message)


def declared_repositories(config: dict[str, Any], stack: str = "dev") -> dict[str, dict[str, Any]]:
    mocks, _ = run_ar(config, stack)
    return {r.name: r.plain for r in mocks.of_type(REPO)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_declared_repository_is_a_valid_create_repository_request(stack: str):
    repositories = declared_repositories(AR, stack)
    assert len(repositories) == 6  # apps, scratch, gcr.io, eu.gcr.io, the mirror, the virtual repository
    for name, inputs in repositories.items():
        request = parse_request(create_repository_request(inputs))
        repository = request.repository
        assert repository.format_ == artifactregistry_v1.Repository.Format.DOCKER, name
        if inputs["mode"] == "STANDARD_REPOSITORY":
            assert repository.docker_config.immutable_tags is (
                stack == "prod" and name != "artifact-registry-repo-scratch"
            )
    apps = parse_request(create_repository_request(repositories["artifact-registry-repo-apps"])).repository
    # The durations arrive as the API's Duration, in seconds (7 and 90 days), not as the "7d" the API refuses.
    policies = apps.cleanup_policies
    assert policies["delete-untagged"].condition.older_than == timedelta(days=7)
    assert policies["delete-tagged"].condition.older_than == timedelta(days=90)
    assert policies["protect"].action == artifactregistry_v1.CleanupPolicy.Action.KEEP
    assert list(policies["protect"].condition.tag_prefixes) == ["v"]
    assert apps.vulnerability_scanning_config.enablement_config.name == "INHERITED"
    mirror = parse_request(create_repository_request(repositories["artifact-registry-mirror-dockerhub"])).repository
    assert mirror.mode == artifactregistry_v1.Repository.Mode.REMOTE_REPOSITORY
    assert mirror.remote_repository_config.docker_repository.public_repository.name == "DOCKER_HUB"
    credentials = mirror.remote_repository_config.upstream_credentials.username_password_credentials
    assert credentials.password_secret_version == "projects/acme-prod-1/secrets/dockerhub-token/versions/latest"
    virtual = parse_request(create_repository_request(repositories["artifact-registry-virtual-all"])).repository
    assert [(p.id, p.priority) for p in virtual.virtual_repository_config.upstream_policies] == [
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
    for inputs in declared_repositories(config).values():
        repository = parse_request(create_repository_request(inputs)).repository
        if "cleanupPolicies" in inputs:
            assert repository.cleanup_policy_dry_run is True
        if inputs["mode"] == "STANDARD_REPOSITORY":
            assert repository.kms_key_name.endswith("/cryptoKeys/images")
            assert dict(repository.labels) == {"team": "platform", "env": "dev"}


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        # What the provider would take without a word, and the API refuses.
        (lambda p: p[0]["condition"].update(olderThan="7d"), 'Duration must end with letter "s"'),
        (lambda p: p[0]["condition"].update(tagState="UNTAGGD"), "Invalid enum value UNTAGGD"),
        (lambda p: p[0].update(action="EXPIRE"), "Invalid enum value EXPIRE"),
        (lambda p: p[0]["condition"].update(tagPrefix=["v"]), 'no field named "tagPrefix"'),
        # A policy with both a condition and mostRecentVersions: the API's oneof allows one.
        (lambda p: p[0].update(mostRecentVersions={"keepCount": 3}), 'multiple "condition_type" oneof fields'),
        (
            lambda p: p.__setitem__(0, {"id": "k", "action": "KEEP", "mostRecentVersions": {"keepCount": "3x"}}),
            "keepCount",
        ),
    ],
)
def test_a_policy_the_provider_accepts_but_the_api_refuses_fails_this_check(mutate: Any, complaint: str):
    inputs = declared_repositories(AR)["artifact-registry-repo-apps"]
    mutate(inputs["cleanupPolicies"])
    with pytest.raises(json_format.ParseError, match=complaint):
        parse_request(create_repository_request(inputs))


def test_iam_members_are_valid_set_iam_policy_bindings():
    mocks, _ = run_ar(AR)
    grants = [r.plain for r in mocks.of_type(REPO_IAM)]
    assert grants
    for grant in grants:
        resource = f"projects/{grant['project']}/locations/{grant['location']}/repositories/{grant['repository']}"
        body = {"resource": resource, "policy": {"bindings": [{"role": grant["role"], "members": [grant["member"]]}]}}
        request = json_format.ParseDict(body, iam_policy_pb2.SetIamPolicyRequest())
        assert request.policy.bindings[0].role in ("roles/artifactregistry.reader", "roles/artifactregistry.writer")
