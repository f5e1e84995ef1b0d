"""Account-wide ECR settings behind manageRegistrySettings: scanning, replication, pull-through cache (with the
upstream login in Secrets Manager, secret end to end) and the creation template of cached repositories."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.retention.ecr import lifecycle_policy_text
from components.retention.model import RetentionIntent
from registries.config import ConfigError, load_stack_spec
from tests.support.pulumi_runtime import is_secret, without_secrets
from tests.unit.conftest import problem_at

SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
REPLICATION = "aws:ecr/replicationConfiguration:ReplicationConfiguration"
PTC = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
HUB_TOKEN = "dckr_pat_not-a-real-token-1234"

SETTINGS: dict[str, Any] = {
    "region": "eu-west-1",
    "defaults": {"mutableTags": ["latest"], "retention": {"untaggedDays": 3}},
    "repositories": [{"name": "team/api"}],
    "manageRegistrySettings": True,
    "scanning": {"type": "ENHANCED", "continuous": ["team/*"], "onPush": ["*"]},
    "replication": [
        {
            "destinations": [{"region": "us-east-1"}, {"region": "eu-west-1", "registryId": "444455556666"}],
            "filters": ["team/"],
        }
    ],
    "pullThroughCache": [
        {"prefix": "dockerhub", "upstream": "docker-hub", "credentials": {"username": "acmebot", "token": HUB_TOKEN}},
        {"prefix": "k8s", "upstream": "registry.k8s.io"},
    ],
}


def test_scanning_rules(run):
    mocks, _ = run(ecr=SETTINGS, secret=True)
    scanning = mocks.find(SCANNING, "ecr-scanning").plain
    assert scanning["scanType"] == "ENHANCED"
    assert scanning["region"] == "eu-west-1"
    assert scanning["rules"] == [
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}]},
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]},
    ]


def test_replication_defaults_to_this_account(run):
    mocks, _ = run(ecr=SETTINGS, secret=True)
    (rule,) = mocks.find(REPLICATION, "ecr-replication").plain["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [
        {"region": "us-east-1", "registryId": "123456789012"},  # the repositories' own account
        {"region": "eu-west-1", "registryId": "444455556666"},
    ]
    assert rule["repositoryFilters"] == [{"filter": "team/", "filterType": "PREFIX_MATCH"}]


def test_pull_through_cache_login_is_a_secret_in_secrets_manager(run):
    mocks, outputs = run(ecr=SETTINGS, secret=True)
    secret = mocks.find(SECRET, "ecr-ptc-secret-dockerhub").plain
    assert secret["name"] == "ecr-pullthroughcache/dockerhub"  # ECR reads only secrets with this prefix
    # A fixed name: with the default 30-day recovery window, the next up after a destroy could not create it.
    assert secret["recoveryWindowInDays"] == 0
    version = mocks.find(SECRET_VERSION, "ecr-ptc-secret-value-dockerhub")
    assert is_secret(version.inputs["secretString"])
    assert json.loads(version.plain["secretString"]) == {"username": "acmebot", "accessToken": HUB_TOKEN}
    hub = mocks.find(PTC, "ecr-ptc-dockerhub").plain
    assert hub["ecrRepositoryPrefix"] == "dockerhub"
    assert hub["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert hub["credentialArn"].startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/")
    k8s = mocks.find(PTC, "ecr-ptc-k8s").plain
    assert k8s["upstreamRegistryUrl"] == "registry.k8s.io"
    assert "credentialArn" not in k8s
    assert [r.name for r in mocks.of_type(SECRET)] == ["ecr-ptc-secret-dockerhub"]
    # The token is nowhere in plain: not in any resource input, not in the outputs.
    assert HUB_TOKEN not in json.dumps([without_secrets(r.inputs) for r in mocks.resources])
    assert HUB_TOKEN not in json.dumps({k: v.value for k, v in outputs.items()})


def test_cached_repositories_get_the_defaults_through_a_creation_template(run):
    mocks, _ = run(ecr=SETTINGS, secret=True)
    template = mocks.find(TEMPLATE, "ecr-template-dockerhub").plain
    assert template["prefix"] == "dockerhub"
    assert template["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert template["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert template["imageTagMutabilityExclusionFilters"] == [{"filter": "latest", "filterType": "WILDCARD"}]
    assert template["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert template["lifecyclePolicy"] == lifecycle_policy_text(RetentionIntent(untagged_days=3))
    assert mocks.find(TEMPLATE, "ecr-template-k8s").plain["prefix"] == "k8s"


TEMPLATE_ROLE = "aws:iam/role:Role"
TEMPLATE_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TEMPLATE_KMS_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b6f2a4e-0000-4000-8000-000000000001"


def test_a_kms_encrypted_creation_template_gets_the_role_ecr_creates_repositories_with(run):
    # ECR refuses a creation template with KMS encryption (or tags) without a role it can assume to use the key.
    config = copy.deepcopy(SETTINGS)
    config["defaults"]["encryption"] = {"kind": "kms", "kmsKeyId": TEMPLATE_KMS_ARN}
    mocks, _ = run(ecr=config, secret=True)
    template = mocks.find(TEMPLATE, "ecr-template-dockerhub").plain
    assert template["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": TEMPLATE_KMS_ARN}]
    role = mocks.find(TEMPLATE_ROLE, "ecr-template-role-dockerhub").plain
    assert template["customRoleArn"] == "arn:aws:iam::123456789012:role/ecr-template-role-dockerhub"
    # The trust policy of AWS's "Create an IAM role for repository creation templates".
    assert json.loads(role["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    policy = json.loads(mocks.find(TEMPLATE_ROLE_POLICY, "ecr-template-role-policy-dockerhub").plain["policy"])
    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["ecr:CreateRepository", "ecr:TagResource"],
            "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/dockerhub/*",  # only what the rule caches
        },
        {
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
            "Resource": TEMPLATE_KMS_ARN,
        },
    ]
    assert mocks.find(TEMPLATE, "ecr-template-k8s").plain["customRoleArn"].endswith("/ecr-template-role-k8s")
    # The AWS-managed key (no kmsKeyId): its ARN is not known here, so the KMS grant is on any key, as AWS's example.
    config["defaults"]["encryption"] = {"kind": "kms"}
    mocks, _ = run(ecr=config, secret=True)
    policy = json.loads(mocks.find(TEMPLATE_ROLE_POLICY, "ecr-template-role-policy-k8s").plain["policy"])
    assert policy["Statement"][1]["Resource"] == "*"
    assert policy["Statement"][0]["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/k8s/*"


def test_an_aes256_creation_template_needs_no_role(run):
    mocks, _ = run(ecr=SETTINGS, secret=True)
    assert "customRoleArn" not in mocks.find(TEMPLATE, "ecr-template-dockerhub").plain
    assert not [r for r in mocks.of_type(TEMPLATE_ROLE) if r.name.startswith("ecr-template-role")]


def test_without_the_flag_nothing_account_wide_is_declared(run):
    config = {"region": "eu-west-1", "repositories": [{"name": "team/api"}]}
    mocks, _ = run(ecr=config)
    assert [r for r in mocks.resources if r.typ in (SCANNING, REPLICATION, PTC, TEMPLATE, SECRET)] == []


def test_registry_settings_without_the_flag_are_refused_saying_why():
    config = {**SETTINGS, "manageRegistrySettings": False}
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    for key in ("scanning", "replication", "pullThroughCache"):
        assert "needs manageRegistrySettings: true" in problem_at(caught.value, f"registries:ecr.{key}").allowed
    assert "one setting per account and region" in str(caught.value)


def test_invalid_registry_settings_are_named_without_echoing_secrets():
    config = {
        **SETTINGS,
        "scanning": {"type": "BASIC", "continuous": ["team/*"]},
        "pullThroughCache": [
            {"prefix": "x", "upstream": "harbor", "credentials": {"username": "u", "token": 1234567}},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    error = caught.value
    root = "registries:ecr"
    assert "needs type: ENHANCED" in problem_at(error, f"{root}.scanning").allowed
    assert "at least 2" in problem_at(error, f"{root}.pullThroughCache[0].prefix").allowed
    assert problem_at(error, f"{root}.pullThroughCache[0].upstream").allowed.startswith("Input should be")
    token = problem_at(error, f"{root}.pullThroughCache[0].credentials.token")
    assert token.value == "a secret value (not shown)"
    assert "1234567" not in str(error)


def test_registry_settings_that_ecr_would_refuse():
    config = {
        **SETTINGS,
        "replication": [{"destinations": [{"region": "eu-west-1"}]}],
        "pullThroughCache": [
            {"prefix": "dockerhub", "upstream": "docker-hub"},
            {"prefix": "k8s", "upstream": "registry.k8s.io", "credentials": {"username": "u", "token": "t0ken-1"}},
            {"prefix": "dockerhub", "upstream": "quay"},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    error = caught.value
    root = "registries:ecr"
    assert "own region and account" in problem_at(error, f"{root}.replication[0].destinations[0].region").allowed
    assert "required for upstream docker-hub" in problem_at(error, f"{root}.pullThroughCache[0].credentials").allowed
    assert "not allowed" in problem_at(error, f"{root}.pullThroughCache[1].credentials").allowed
    assert "repeats" in problem_at(error, f"{root}.pullThroughCache[2].prefix").allowed
    assert "t0ken-1" not in str(error)
    assert len(error.problems) == 4, error.paths


def test_an_upstream_token_in_plain_text_is_refused(run):
    with pytest.raises(ConfigError) as caught:
        run(ecr=SETTINGS, secret=False)
    assert caught.value.paths == ["registries:ecr.pullThroughCache[0].credentials.token"]
    assert HUB_TOKEN not in str(caught.value)
