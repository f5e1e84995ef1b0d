"""What EcrRegistry declares, from the stack config and as a library with inputs from other resources."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components import ecr as ecr_component
from components.ecr import EcrEncryptionType, EcrRegistry, EcrRegistryArgs, EcrRepositoryArgs
from components.retention.ecr import lifecycle_policy_text, parse_lifecycle_policy
from components.retention.model import KeepLatest, RetentionIntent
from tests.support.pulumi_runtime import contains_secret, run_program
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import record_options
from tests.unit.test_ecr_schema import ECR, ecr_config

REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"]
KMS_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"


def test_repository_inputs_follow_the_effective_settings(run):
    mocks, _ = run(ecr=ECR)
    api = mocks.find(REPO, "ecr-repo-team--api").plain
    assert api["name"] == "team/api"
    assert api["region"] == "eu-west-1"
    assert api["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert api["imageTagMutabilityExclusionFilters"] == [{"filter": "latest", "filterType": "WILDCARD"}]
    assert api["imageScanningConfiguration"] == {"scanOnPush": True}
    assert api["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KMS_ARN}]
    assert api["forceDelete"] is False
    worker = mocks.find(REPO, "ecr-repo-team--worker").plain
    assert worker["imageScanningConfiguration"] == {"scanOnPush": False}


def test_mutability_without_exclusions_and_default_encryption(run):
    config = {
        "region": "us-east-1",
        "repositories": [{"name": "locked"}, {"name": "loose", "immutableTags": False, "forceDelete": True}],
    }
    mocks, _ = run(ecr=config)
    locked = mocks.find(REPO, "ecr-repo-locked").plain
    assert locked["imageTagMutability"] == "IMMUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in locked
    assert locked["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    loose = mocks.find(REPO, "ecr-repo-loose").plain
    assert loose["imageTagMutability"] == "MUTABLE"
    assert loose["forceDelete"] is True
    # No retention, no principals: no lifecycle policy (ECR refuses one under 100 characters) and no policy.
    assert mocks.of_type(LIFECYCLE) == []
    assert mocks.of_type(POLICY) == []


def test_lifecycle_policy_is_the_compiled_retention(run):
    mocks, outputs = run(ecr=ECR)
    api = mocks.find(LIFECYCLE, "ecr-lifecycle-team--api").plain
    expected = lifecycle_policy_text(RetentionIntent(keep_latest=(KeepLatest("v*", 50),), untagged_days=7))
    assert api["policy"] == expected
    assert api["repository"] == "team/api"
    assert api["region"] == "eu-west-1"
    assert len(api["policy"]) >= 100
    rules = parse_lifecycle_policy(json.loads(api["policy"]))
    assert [(r.tag_status, r.count_type, r.count_number) for r in rules] == [
        ("tagged", "imageCountMoreThan", 50),
        ("untagged", "sinceImagePushed", 7),
    ]
    worker = mocks.find(LIFECYCLE, "ecr-lifecycle-team--worker").plain
    assert worker["policy"] == lifecycle_policy_text(RetentionIntent(untagged_days=1))
    assert outputs["ecr"].value["lifecyclePolicies"] == {"team/api": expected, "team/worker": worker["policy"]}


def test_repository_policy_grants_exactly_pull_push_and_lambda(run):
    config = ecr_config(
        defaults={
            "readers": ["arn:aws:iam::111122223333:root", "444455556666"],
            "writers": ["arn:aws:iam::111122223333:role/ci"],
            "lambdaReaders": True,
        },
        repositories=[{"name": "app"}, {"name": "private", "readers": [], "writers": [], "lambdaReaders": False}],
    )
    mocks, _ = run(ecr=config)
    policy = json.loads(mocks.find(POLICY, "ecr-policy-app").plain["policy"])
    assert mocks.find(POLICY, "ecr-policy-app").plain["repository"] == "app"
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["Pull"] == {
        "Sid": "Pull",
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]},
        "Action": PULL,
    }
    assert statements["PushPull"]["Principal"] == {"AWS": ["arn:aws:iam::111122223333:role/ci"]}
    assert statements["PushPull"]["Action"] == PULL + PUSH
    assert statements["LambdaPull"] == {
        "Sid": "LambdaPull",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        # Functions of the repository's own account and region (the condition AWS documents for Lambda's pull).
        "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:lambda:eu-west-1:123456789012:function:*"}},
    }
    assert all("*" not in action for s in policy["Statement"] for action in s["Action"])
    assert [r.name for r in mocks.of_type(POLICY)] == ["ecr-policy-app"]  # nothing granted on `private`


def test_outputs_registry_urls_login_and_credential_helper(run):
    _, outputs = run(ecr=ECR)
    ecr = outputs["ecr"].value
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert ecr["registry"] == host
    assert ecr["repositories"] == {"team/api": f"{host}/team/api", "team/worker": f"{host}/team/worker"}
    assert ecr["loginCommand"] == (
        f"aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin {host}"
    )
    assert json.loads(ecr["dockerConfigJson"]) == {"credHelpers": {host: "ecr-login"}}
    assert not outputs["ecr"].secret  # nothing secret in it: no password is stored


def test_repositories_are_protected_on_prod_stacks(run, monkeypatch: pytest.MonkeyPatch):
    seen = record_options(monkeypatch, aws.ecr, "Repository")
    run(ecr=ECR, stack="prod")
    assert {name: opts.protect for name, opts in seen.items()} == {
        "ecr-repo-team--api": True,
        "ecr-repo-team--worker": True,
    }
    seen.clear()
    run(ecr=ECR, stack="dev")
    assert {opts.protect for opts in seen.values()} == {False}


def test_a_replacement_never_deletes_the_repository_first(run, monkeypatch: pytest.MonkeyPatch):
    # Delete-first with forceDelete would drop every image before the new repository exists; create-first fails
    # on the taken name instead, and nothing is lost.
    seen = record_options(monkeypatch, aws.ecr, "Repository")
    config = ecr_config(repositories=[{"name": "kept"}, {"name": "scratch", "forceDelete": True}])
    run(ecr=config, stack="dev")
    assert {name: bool(opts.delete_before_replace) for name, opts in seen.items()} == {
        "ecr-repo-kept": False,
        "ecr-repo-scratch": False,
    }


def test_children_are_parented_named_and_the_component_is_typed(run):
    mocks, _ = run(ecr=ECR)
    component = [r for r in mocks.resources if r.typ == "registries:index:EcrRegistry"]
    assert [r.name for r in component] == ["ecr"]
    for resource in mocks.resources:
        if resource.typ.startswith("aws:"):
            assert resource.name.startswith("ecr-"), resource.name


def test_same_config_declares_identical_inputs(run):
    first, _ = run(ecr=ECR)
    second, _ = run(ecr=ECR)
    # Registration order is asynchronous; what each resource receives must not change.
    assert {(r.typ, r.name): r.plain for r in first.resources} == {(r.typ, r.name): r.plain for r in second.resources}
    assert len(first.resources) == len(second.resources) == 6


def _library_program() -> dict[str, Any]:
    """A program that is not ours: the KMS key and a reader come from other resources' outputs."""
    key_arn = pulumi.Output.secret(KMS_ARN)  # as another stack's output marked secret
    reader = pulumi.Output.from_input("arn:aws:iam::111122223333:role").apply(lambda arn: f"{arn}/deployer")
    registry = EcrRegistry(
        "lib",
        EcrRegistryArgs(
            region=pulumi.Output.from_input("ap-south-1"),
            repositories=[
                EcrRepositoryArgs(name="svc", encryption_type=EcrEncryptionType.KMS, kms_key=key_arn, readers=[reader])
            ],
        ),
    )
    return {"urls": registry.repository_urls, "login": registry.login_command}


def test_library_args_take_outputs_of_other_resources_and_keep_secrets():
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="dev", config={}, program=_library_program)
    repository = mocks.find(REPO, "lib-repo-svc")
    assert contains_secret(repository.inputs["encryptionConfigurations"])  # the secret input stays secret
    assert repository.plain["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KMS_ARN}]
    policy = json.loads(mocks.find(POLICY, "lib-policy-svc").plain["policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::111122223333:role/deployer"]}
    assert outputs["urls"].value == {"svc": "123456789012.dkr.ecr.ap-south-1.amazonaws.com/svc"}
    assert "--region ap-south-1" in outputs["login"].value


@pytest.mark.parametrize(
    ("repositories", "message"),
    [
        ([], "EcrRegistryArgs.repositories: declare at least one"),
        ([EcrRepositoryArgs(name="a1"), EcrRepositoryArgs(name="a1")], "repositories[1].name: 'a1' is declared twice"),
        ([EcrRepositoryArgs(name="a1", immutable_tags=False, mutable_tags=["x"])], "repositories[0].mutable_tags"),
        ([EcrRepositoryArgs(name="a1", kms_key="arn:aws:kms:x")], "repositories[0].kms_key"),
    ],
)
def test_library_args_are_checked_naming_the_arg(repositories: list[EcrRepositoryArgs], message: str):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ecr_component._check(EcrRegistryArgs(region="eu-west-1", repositories=repositories))


def test_resource_suffix_is_unique_for_names_ecr_allows():
    # team/api and team-api are both valid ECR names; their child resources must not collide.
    assert ecr_component.resource_suffix("team/api") != ecr_component.resource_suffix("team-api")


def test_the_example_stack_declares_its_repositories_and_registry_settings():
    from tests.unit.conftest import ALL_STACK_FILES, stack_config

    stack, config, secret_keys = stack_config(next(p for p in ALL_STACK_FILES if p.name == "Pulumi.aws.yaml"))
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
    assert sorted(outputs["ecr"].value["repositories"]) == ["team/api", "team/scratch", "team/worker"]
    assert sorted(r.name for r in mocks.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")) == [
        "ecr-ptc-ecr-public",
        "ecr-ptc-k8s",
    ]
    assert mocks.find(REPO, "ecr-repo-team--scratch").plain["forceDelete"] is True
    registry_policy = json.loads(
        mocks.find("aws:ecr/registryPolicy:RegistryPolicy", "ecr-registry-policy").plain["policy"]
    )
    assert [s["Resource"] for s in registry_policy["Statement"]] == [
        ["arn:aws:ecr:eu-west-1:123456789012:repository/team/*"]
    ]
