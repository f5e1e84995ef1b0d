"""Cross-account replication, destination side: `replicationSources` declares the registry policy that lets other
accounts replicate into this registry (ecr:CreateRepository and ecr:ReplicateImage, nothing else), behind
manageRegistrySettings; bad account ids are named before anything is declared."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from components import ecr as ecr_component
from components.ecr import (
    EcrRegistryArgs,
    EcrRegistrySettingsArgs,
    EcrReplicationSourceArgs,
    EcrRepositoryArgs,
    registry_policy_document,
)
from registries.config import ConfigError, load_stack_spec
from tests.unit.conftest import problem_at

REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
OWN_ACCOUNT = "123456789012"  # the mocks' account (tests/support/recording_mocks.py)
SOURCE_ALL = "111122223333"
SOURCE_TEAM = "444455556666"
DESTINATION: dict[str, Any] = {
    "region": "eu-west-1",
    "repositories": [{"name": "team/api"}],
    "manageRegistrySettings": True,
    "replicationSources": [{"account": SOURCE_ALL}, {"account": SOURCE_TEAM, "prefixes": ["team/"]}],
}
REPLICATION = ("ecr:CreateRepository", "ecr:ReplicateImage")


def decision(policy: dict[str, Any], account: str, action: str, repository: str, region: str = "eu-west-1") -> str:
    """Allow or ImplicitDeny, as IAM evaluates a resource policy for a request of `account`'s root on a repository
    of this registry (principal, action and resource must all match one Allow statement)."""
    resource = f"arn:aws:ecr:{region}:{OWN_ACCOUNT}:repository/{repository}"
    for statement in policy["Statement"]:
        principals = statement["Principal"]["AWS"]
        principals = [principals] if isinstance(principals, str) else principals
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        if (
            statement["Effect"] == "Allow"
            and f"arn:aws:iam::{account}:root" in principals
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
        ):
            return "Allow"
    return "ImplicitDeny"


def declared_policy(run: Any, config: dict[str, Any]) -> dict[str, Any]:
    mocks, _ = run(ecr=config)
    policy = mocks.find(REGISTRY_POLICY, "ecr-registry-policy").plain
    assert policy["region"] == "eu-west-1"
    return json.loads(policy["policy"])


def test_sources_may_replicate_into_this_registry_and_nothing_else(run):
    policy = declared_policy(run, DESTINATION)
    for action in REPLICATION:
        assert decision(policy, SOURCE_ALL, action, "any/name") == "Allow"
        assert decision(policy, SOURCE_TEAM, action, "team/api") == "Allow"
        assert decision(policy, SOURCE_TEAM, action, "other/api") == "ImplicitDeny"  # only its prefixes
        assert decision(policy, "999988887777", action, "team/api") == "ImplicitDeny"  # an undeclared account
        assert decision(policy, SOURCE_ALL, action, "team/api", region="us-east-1") == "ImplicitDeny"  # this region
    for action in ("ecr:PutImage", "ecr:BatchGetImage", "ecr:DeleteRepository", "ecr:SetRepositoryPolicy"):
        assert decision(policy, SOURCE_ALL, action, "team/api") == "ImplicitDeny"


def test_the_policy_is_aws_documented_shape_and_stable_across_runs(run):
    policy = declared_policy(run, DESTINATION)
    assert policy == declared_policy(run, DESTINATION)  # same config, same inputs: no diff
    assert policy["Version"] == "2012-10-17"
    assert [s["Principal"] for s in policy["Statement"]] == [
        {"AWS": f"arn:aws:iam::{SOURCE_ALL}:root"},
        {"AWS": f"arn:aws:iam::{SOURCE_TEAM}:root"},
    ]
    assert [s["Resource"] for s in policy["Statement"]] == [
        [f"arn:aws:ecr:eu-west-1:{OWN_ACCOUNT}:repository/*"],
        [f"arn:aws:ecr:eu-west-1:{OWN_ACCOUNT}:repository/team/*"],
    ]
    assert all(s["Action"] == list(REPLICATION) for s in policy["Statement"])


def test_without_sources_no_registry_policy_is_declared(run):
    config = {**DESTINATION, "replicationSources": [], "replication": [{"destinations": [{"region": "us-east-1"}]}]}
    mocks, _ = run(ecr=config)
    assert [r for r in mocks.resources if r.typ == REGISTRY_POLICY] == []


def test_sources_need_the_registry_settings_flag():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": {**DESTINATION, "manageRegistrySettings": False}}, "dev")
    assert "needs manageRegistrySettings: true" in problem_at(caught.value, "registries:ecr.replicationSources").allowed


def test_malformed_sources_are_named_with_value_and_what_is_allowed():
    config = {
        **DESTINATION,
        "replicationSources": [{"account": "11112222333"}, {"account": SOURCE_TEAM, "prefixes": ["Team/"]}],
    }
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    error = caught.value
    short = problem_at(error, "registries:ecr.replicationSources[0].account")
    assert short.value == "'11112222333'"
    assert "12-digit AWS account id" in short.allowed
    assert "repository name prefix" in problem_at(error, "registries:ecr.replicationSources[1].prefixes[0]").allowed
    assert len(error.problems) == 2, error.paths


def test_repeated_and_own_accounts_are_refused():
    config = {
        **DESTINATION,
        "accountId": OWN_ACCOUNT,
        "replicationSources": [{"account": SOURCE_ALL}, {"account": SOURCE_ALL, "prefixes": ["team/"]},
                               {"account": OWN_ACCOUNT}],
        "replication": [{"destinations": [{"region": "eu-west-1", "registryId": OWN_ACCOUNT}]}],
    }  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    error = caught.value
    root = "registries:ecr"
    repeated = problem_at(error, f"{root}.replicationSources[1].account")
    assert repeated.value == f"'{SOURCE_ALL}'"
    assert "repeats an account" in repeated.allowed
    own = problem_at(error, f"{root}.replicationSources[2].account")
    assert own.value == f"'{OWN_ACCOUNT}'"
    assert "this stack's own account" in own.allowed
    destination = problem_at(error, f"{root}.replication[0].destinations[0].region")
    assert "own region and account" in destination.allowed
    assert len(error.problems) == 3, error.paths


def test_account_id_must_be_twelve_digits():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": {**DESTINATION, "accountId": "1234"}}, "dev")
    assert "12-digit AWS account id" in problem_at(caught.value, "registries:ecr.accountId").allowed


def test_the_document_for_library_users():
    document = registry_policy_document(
        "arn:aws-cn:ecr:cn-north-1:123456789012:repository/x", [(SOURCE_ALL, ()), (SOURCE_TEAM, ("a/", "b/"))]
    )
    assert document["Statement"][1] == {
        "Sid": f"ReplicationFrom{SOURCE_TEAM}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws-cn:iam::{SOURCE_TEAM}:root"},
        "Action": list(REPLICATION),
        "Resource": [
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/a/*",
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/b/*",
        ],
    }
    with pytest.raises(ValueError, match="declared twice"):
        registry_policy_document(
            "arn:aws:ecr:eu-west-1:123456789012:repository/x", [(SOURCE_ALL, ()), (SOURCE_ALL, ())]
        )
    with pytest.raises(ValueError, match="own account"):
        registry_policy_document("arn:aws:ecr:eu-west-1:123456789012:repository/x", [(OWN_ACCOUNT, ())])


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (
            [EcrReplicationSourceArgs(account_id="1234")],
            r"replication_sources\[0\].account_id: '1234' must be a 12-digit",
        ),
        (
            [EcrReplicationSourceArgs(account_id=SOURCE_ALL), EcrReplicationSourceArgs(account_id=SOURCE_ALL)],
            r"replication_sources\[1\].account_id: '111122223333' is declared twice",
        ),
    ],
)
def test_library_args_are_checked_naming_the_arg(sources: list[EcrReplicationSourceArgs], message: str):
    args = EcrRegistryArgs(
        region="eu-west-1",
        repositories=[EcrRepositoryArgs(name="team/api")],
        registry_settings=EcrRegistrySettingsArgs(replication_sources=sources),
    )
    with pytest.raises(ValueError, match=message):
        ecr_component._check(args)
