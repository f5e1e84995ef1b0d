"""The GitHub Actions push role: trusted only for the repository and refs given, allowed to log in and to push
exactly the declared repositories."""

from __future__ import annotations

import copy
import fnmatch
import json
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec
from tests.unit.conftest import problem_at

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
HOST = "token.actions.githubusercontent.com"
ECR: dict[str, Any] = {
    "region": "eu-west-1",
    "repositories": [{"name": "team/api"}, {"name": "team/worker"}],
    "ci": {
        "githubOidc": {"repository": "acme/app", "refs": ["refs/heads/main", "refs/tags/v*"], "createProvider": True}
    },
}


def _trusted(trust: dict[str, Any], federated: str, claims: dict[str, str]) -> bool:
    """Whether a web identity token with `claims`, from `federated`, may assume the role (StringEquals/StringLike)."""
    for statement in trust["Statement"]:
        if statement["Principal"] != {"Federated": federated} or statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        ok = True
        for operator, pairs in statement["Condition"].items():
            for key, expected in pairs.items():
                values = [expected] if isinstance(expected, str) else expected
                actual = claims.get(key)
                if operator == "StringEquals":
                    ok &= actual in values
                elif operator == "StringLike":
                    ok &= actual is not None and any(fnmatch.fnmatchcase(actual, v) for v in values)
                else:
                    raise NotImplementedError(operator)
        if ok and statement["Effect"] == "Allow":
            return True
    return False


def _claims(sub: str, aud: str = "sts.amazonaws.com") -> dict[str, str]:
    return {f"{HOST}:sub": sub, f"{HOST}:aud": aud}


def test_the_role_trusts_only_the_repository_and_refs(run):
    mocks, outputs = run(ecr=ECR)
    provider = mocks.find(PROVIDER, "ecr-github-oidc").plain
    assert provider == {"url": f"https://{HOST}", "clientIdLists": ["sts.amazonaws.com"]}
    trust = json.loads(mocks.find(ROLE, "ecr-ci-role").plain["assumeRolePolicy"])
    federated = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
    assert _trusted(trust, federated, _claims("repo:acme/app:ref:refs/heads/main"))
    assert _trusted(trust, federated, _claims("repo:acme/app:ref:refs/tags/v1.2.3"))
    assert not _trusted(trust, federated, _claims("repo:acme/app:ref:refs/heads/feature"))
    assert not _trusted(trust, federated, _claims("repo:acme/app:pull_request"))  # forks' PRs
    assert not _trusted(trust, federated, _claims("repo:evil/app:ref:refs/heads/main"))
    assert not _trusted(trust, federated, _claims("repo:acme/app:ref:refs/heads/main", aud="sigstore"))
    assert not _trusted(
        trust, "arn:aws:iam::123456789012:oidc-provider/other.example", _claims("repo:acme/app:ref:refs/heads/main")
    )
    assert outputs["ecr"].value["ciRoleArn"] == "arn:aws:iam::123456789012:role/ecr-ci-role"


def test_the_role_pushes_exactly_the_declared_repositories(run):
    mocks, _ = run(ecr=ECR)
    policy = json.loads(mocks.find(ROLE_POLICY, "ecr-ci-push").plain["policy"])
    login, push = policy["Statement"]
    assert login == {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    assert push["Resource"] == [
        "arn:aws:ecr:eu-west-1:123456789012:repository/team/api",
        "arn:aws:ecr:eu-west-1:123456789012:repository/team/worker",
    ]
    assert push["Action"] == [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    ]


def test_an_existing_provider_is_referenced_not_declared(run):
    config = copy.deepcopy(ECR)
    config["ci"]["githubOidc"]["createProvider"] = False
    mocks, _ = run(ecr=config)
    assert mocks.of_type(PROVIDER) == []
    trust = json.loads(mocks.find(ROLE, "ecr-ci-role").plain["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{HOST}"}


def test_no_ci_no_role(run):
    mocks, outputs = run(ecr={"region": "eu-west-1", "repositories": [{"name": "app"}]})
    assert mocks.of_type(ROLE) == []
    assert outputs["ecr"].value["ciRoleArn"] is None


@pytest.mark.parametrize(
    ("github", "key", "message"),
    [
        ({"repository": "acme", "refs": ["refs/heads/main"]}, "repository", "should match pattern"),
        ({"repository": "acme/app", "refs": []}, "refs", "at least 1"),
        ({"repository": "acme/app", "refs": ["main"]}, "refs", "refs/heads/<branch>"),
        ({"repository": "acme/app", "refs": ["refs/heads/*"]}, "refs", "matches every branch"),
        ({"repository": "acme/app", "refs": ["refs/tags/v*", "refs/tags/v*"]}, "refs", "repeats"),
    ],
)
def test_bad_github_settings_are_named(github: dict[str, Any], key: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": {**ECR, "ci": {"githubOidc": github}}}, "dev")
    assert message in problem_at(caught.value, f"registries:ecr.ci.githubOidc.{key}").allowed
