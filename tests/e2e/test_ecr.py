"""registries:ecr applied by the local engine to moto's ECR API (IAM enforcement on), then checked with boto3."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from components.ecr import EcrRepositoryArgs, tag_is_mutable
from components.retention.ecr import lifecycle_policy_text
from components.retention.model import KeepLatest, RetentionIntent
from tests.support.engine_aws import AwsApplier, EcrApplier, NotificationApplier
from tests.support.local_engine import EngineError, LocalEngine
from tests.support.moto_server import MotoServer
from tests.support.pulumi_runtime import run_program
from tests.unit.test_ecr_policy import evaluate

pytestmark = pytest.mark.e2e

REGION = "eu-west-1"
KMS_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b6f2a4e-0000-4000-8000-000000000001"


def _engine(moto: MotoServer) -> LocalEngine:
    engine = LocalEngine()
    engine.add_backend(EcrApplier(moto.endpoint, moto.admin_key, moto.admin_secret, REGION).backend())
    engine.add_backend(NotificationApplier(moto.endpoint, moto.admin_key, moto.admin_secret, REGION).backend())
    engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret, REGION).backend())
    return engine


def _apply(engine: LocalEngine, ecr: dict[str, Any], stack: str = "dev") -> dict[str, Any]:
    engine.begin_run()
    # Set as `pulumi config set --secret --path` leaves it: the whole key encrypted (it may hold tokens).
    outputs = run_program(
        engine, stack=stack, config={"registries:ecr": json.dumps(ecr)}, secret_keys=["registries:ecr"]
    )
    engine.end_run()
    return {key: value.value for key, value in outputs.items()}


def _client(moto: MotoServer, service: str, key: str | None = None, secret: str | None = None) -> Any:
    return moto.client(service, REGION, key, secret)


def _manifest(seed: str) -> str:
    """A distinct image manifest per seed (ECR tells images apart by the manifest's digest)."""
    digest = "sha256:" + (seed.encode().hex() * 64)[:64]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": digest},
            "layers": [],
        }
    )


def _config(prefix: str, **defaults: Any) -> dict[str, Any]:
    return {
        "region": REGION,
        "defaults": {
            "mutableTags": ["latest", "dev-*"],
            "retention": {"untaggedDays": 7, "keepLatest": [{"tag": "v*", "count": 50}]},
            "readers": ["arn:aws:iam::111122223333:role/reader"],
            "writers": ["arn:aws:iam::444455556666:role/ci"],
            **defaults,
        },
        "repositories": [
            {"name": f"{prefix}/api", "encryption": {"kind": "kms", "kmsKeyId": KMS_ARN}, "lambdaReaders": True},
            {"name": f"{prefix}/scratch", "immutableTags": False, "mutableTags": [], "scanOnPush": False},
            {"name": f"{prefix}/plain", "retention": {}, "readers": [], "writers": []},
        ],
    }


@pytest.fixture
def prefix() -> str:
    return f"e2e{uuid.uuid4().hex[:8]}"


def test_repositories_exist_as_declared_and_a_second_apply_changes_nothing(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    outputs = _apply(engine, _config(prefix))["ecr"]
    ecr = _client(moto, "ecr")
    found = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    api, scratch, plain = found[f"{prefix}/api"], found[f"{prefix}/scratch"], found[f"{prefix}/plain"]
    assert api["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert api["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"},
        {"filterType": "WILDCARD", "filter": "dev-*"},
    ]
    assert api["imageScanningConfiguration"] == {"scanOnPush": True}
    assert api["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": KMS_ARN}
    assert scratch["imageTagMutability"] == "MUTABLE"
    assert scratch["imageScanningConfiguration"] == {"scanOnPush": False}
    assert plain["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert plain["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    # The outputs are what ECR reports.
    assert outputs["repositories"] == {
        name: repo["repositoryUri"] for name, repo in found.items() if name in outputs["repositories"]
    }
    assert len(outputs["repositories"]) == 3
    assert outputs["registry"] == api["repositoryUri"].split("/")[0]
    assert outputs["registry"] in outputs["loginCommand"]

    # moto accepted the compiled lifecycle policy, and holds exactly it.
    expected = lifecycle_policy_text(RetentionIntent(keep_latest=(KeepLatest("v*", 50),), untagged_days=7))
    assert ecr.get_lifecycle_policy(repositoryName=f"{prefix}/api")["lifecyclePolicyText"] == expected
    assert outputs["lifecyclePolicies"][f"{prefix}/api"] == expected
    with pytest.raises(ClientError, match="LifecyclePolicyNotFoundException"):
        ecr.get_lifecycle_policy(repositoryName=f"{prefix}/plain")  # retention {}: no policy at all
    with pytest.raises(ClientError, match="RepositoryPolicyNotFoundException"):
        ecr.get_repository_policy(repositoryName=f"{prefix}/plain")  # nobody granted: no policy

    engine.begin_run()
    run_program(engine, stack="dev", config={"registries:ecr": json.dumps(_config(prefix))})
    engine.end_run()
    assert {step.op for step in engine.plan} == {"same"}, [(s.op, s.urn) for s in engine.plan if s.op != "same"]


def test_changing_mutability_updates_in_place_and_new_encryption_loses_no_image(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    ecr = _client(moto, "ecr")
    config = {"region": REGION, "repositories": [{"name": f"{prefix}/app", "forceDelete": True}]}
    _apply(engine, config)
    ecr.put_image(repositoryName=f"{prefix}/app", imageManifest=_manifest("a1"), imageTag="v1")
    # ECR cannot re-encrypt a repository: the replacement creates first, fails on the taken name, and even with
    # forceDelete the repository and its images stay as they were.
    config["repositories"][0]["encryption"] = {"kind": "kms"}
    with pytest.raises(ClientError, match="RepositoryAlreadyExistsException"):
        _apply(engine, config)
    repo = ecr.describe_repositories(repositoryNames=[f"{prefix}/app"])["repositories"][0]
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert [image["imageTag"] for image in ecr.list_images(repositoryName=f"{prefix}/app")["imageIds"]] == ["v1"]
    del config["repositories"][0]["encryption"]
    config["repositories"][0]["mutableTags"] = ["latest", "nightly"]
    _apply(engine, config)
    ops = {step.urn.rsplit("::", 1)[1]: step.op for step in engine.plan}
    assert ops[f"ecr-repo-{prefix}--app"] == "update"
    repo = ecr.describe_repositories(repositoryNames=[f"{prefix}/app"])["repositories"][0]
    assert [f["filter"] for f in repo["imageTagMutabilityExclusionFilters"]] == ["latest", "nightly"]
    engine.destroy()


def test_refresh_shows_settings_changed_out_of_band_and_up_repairs_them(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    ecr = _client(moto, "ecr")
    config = {"region": REGION, "repositories": [{"name": f"{prefix}/app"}, {"name": f"{prefix}/other"}]}
    _apply(engine, config)
    # Someone turns scan-on-push off and makes the tags mutable in the console.
    ecr.put_image_scanning_configuration(
        repositoryName=f"{prefix}/app", imageScanningConfiguration={"scanOnPush": False}
    )
    ecr.put_image_tag_mutability(repositoryName=f"{prefix}/app", imageTagMutability="MUTABLE")
    drifted = {step.urn.rsplit("::", 1)[1] for step in engine.refresh() if step.op != "same"}
    assert drifted == {f"ecr-repo-{prefix}--app"}
    _apply(engine, config)  # `up`: the program's settings again, in place
    ops = {step.urn.rsplit("::", 1)[1]: step.op for step in engine.plan if step.op != "same"}
    assert ops == {f"ecr-repo-{prefix}--app": "update"}
    repo = ecr.describe_repositories(repositoryNames=[f"{prefix}/app"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert {step.op for step in engine.refresh()} == {"same"}
    engine.destroy()


def test_immutable_tags_refuse_a_second_push_except_excluded_tags(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    _apply(engine, _config(prefix))
    ecr = _client(moto, "ecr")
    api = EcrRepositoryArgs(name=f"{prefix}/api", mutable_tags=["latest", "dev-*"])
    # Tags on which moto's regex matching (re.match) and AWS's wildcards agree; where they differ
    # (`devx` matches the regex dev-* but not the wildcard) our own semantics are unit-tested.
    for tag in ("v1.0.0", "latest", "dev-42", "release"):
        ecr.put_image(repositoryName=api["name"], imageManifest=_manifest(f"{tag}-first"), imageTag=tag)
        if tag_is_mutable(api, tag):
            ecr.put_image(repositoryName=api["name"], imageManifest=_manifest(f"{tag}-second"), imageTag=tag)
        else:
            with pytest.raises(ClientError, match="ImageAlreadyExistsException"):
                ecr.put_image(repositoryName=api["name"], imageManifest=_manifest(f"{tag}-second"), imageTag=tag)
    # A mutable repository takes the same tag twice.
    scratch = f"{prefix}/scratch"
    ecr.put_image(repositoryName=scratch, imageManifest=_manifest("s1"), imageTag="v1")
    ecr.put_image(repositoryName=scratch, imageManifest=_manifest("s2"), imageTag="v1")


def test_repository_policy_lets_a_reader_pull_and_not_push(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    _apply(engine, _config(prefix))
    ecr = _client(moto, "ecr")
    name = f"{prefix}/api"
    ecr.put_image(repositoryName=name, imageManifest=_manifest("r1"), imageTag="v1")
    policy = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
    account = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["registryId"]
    reader = {"AWS": "arn:aws:iam::111122223333:role/reader"}
    # The document moto stores, evaluated as IAM evaluates a resource policy.
    assert evaluate(policy, reader, "ecr:BatchGetImage", {}) == "Allow"
    assert evaluate(policy, reader, "ecr:PutImage", {}) == "ImplicitDeny"
    assert evaluate(policy, {"AWS": "arn:aws:iam::444455556666:role/ci"}, "ecr:PutImage", {}) == "Allow"
    lambda_service = {"Service": "lambda.amazonaws.com"}
    # Lambda's own image pull is conditioned on the function's ARN (cloud review 7, the developer guide's form).
    function = f"arn:aws:lambda:{REGION}:{account}:function:app"
    assert evaluate(policy, lambda_service, "ecr:BatchGetImage", {"aws:SourceArn": function}) == "Allow"
    other = f"arn:aws:lambda:{REGION}:999999999999:function:app"
    assert evaluate(policy, lambda_service, "ecr:BatchGetImage", {"aws:SourceArn": other}) != "Allow"
    assert evaluate(policy, lambda_service, "ecr:BatchGetImage", {"aws:SourceAccount": account}) != "Allow"

    # moto enforces identity policies only (its access control: "TODO add support for resource-based
    # policies"): a principal with no IAM policy of its own is refused both, whatever the repository
    # policy says. If this starts to pass, moto evaluates resource policies and this test should use it.
    iam = _client(moto, "iam")
    user = f"{prefix}-reader"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_reader = _client(moto, "ecr", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (
        lambda: as_reader.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}]),
        lambda: as_reader.put_image(repositoryName=name, imageManifest=_manifest("r2"), imageTag="v2"),
    ):
        with pytest.raises(ClientError, match="AccessDenied"):
            call()
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


def test_destroy_keeps_a_repository_holding_images_unless_force_delete(moto: MotoServer, prefix: str):
    ecr = _client(moto, "ecr")
    kept = _engine(moto)
    _apply(kept, {"region": REGION, "repositories": [{"name": f"{prefix}/kept"}]})
    ecr.put_image(repositoryName=f"{prefix}/kept", imageManifest=_manifest("k1"), imageTag="v1")
    with pytest.raises(ClientError, match="RepositoryNotEmptyException"):
        kept.destroy()
    images = ecr.list_images(repositoryName=f"{prefix}/kept")["imageIds"]
    assert [image["imageTag"] for image in images] == ["v1"]

    forced = _engine(moto)
    _apply(forced, {"region": REGION, "repositories": [{"name": f"{prefix}/forced", "forceDelete": True}]})
    ecr.put_image(repositoryName=f"{prefix}/forced", imageManifest=_manifest("f1"), imageTag="v1")
    forced.destroy()
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        ecr.describe_repositories(repositoryNames=[f"{prefix}/forced"])

    empty = _engine(moto)  # an empty repository goes, as on AWS
    _apply(empty, {"region": REGION, "repositories": [{"name": f"{prefix}/empty"}]})
    empty.destroy()
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        ecr.describe_repositories(repositoryNames=[f"{prefix}/empty"])
    ecr.delete_repository(repositoryName=f"{prefix}/kept", force=True)  # leave nothing behind


def test_prod_repositories_are_protected(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    _apply(engine, {"region": REGION, "repositories": [{"name": f"{prefix}/prod"}]}, stack="prod")
    with pytest.raises(EngineError, match="because it is protected"):
        engine.destroy()
    assert _client(moto, "ecr").describe_repositories(repositoryNames=[f"{prefix}/prod"])["repositories"]
    _client(moto, "ecr").delete_repository(repositoryName=f"{prefix}/prod", force=True)


@pytest.mark.parametrize(
    "typ",
    [
        "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
    ],
)
def test_what_moto_lacks_fails_loudly(moto: MotoServer, typ: str):
    applier = EcrApplier(moto.endpoint, moto.admin_key, moto.admin_secret, REGION)
    with pytest.raises(NotImplementedError, match="moto does not implement"):
        applier.create(typ, "x", {"region": REGION})


def test_registry_scanning_and_replication_on_moto_and_pull_through_cache_refused(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    config: dict[str, Any] = {
        "region": REGION,
        "repositories": [{"name": f"{prefix}/api"}],
        "manageRegistrySettings": True,
        "scanning": {"type": "ENHANCED", "continuous": [f"{prefix}/*"], "onPush": ["*"]},
        "replication": [{"destinations": [{"region": "us-east-1"}], "filters": [f"{prefix}/"]}],
    }
    _apply(engine, config)
    ecr = _client(moto, "ecr")
    scanning = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert scanning["scanType"] == "ENHANCED"
    assert {rule["scanFrequency"]: rule["repositoryFilters"] for rule in scanning["rules"]} == {
        "CONTINUOUS_SCAN": [{"filter": f"{prefix}/*", "filterType": "WILDCARD"}],
        "SCAN_ON_PUSH": [{"filter": "*", "filterType": "WILDCARD"}],
    }
    (rule,) = ecr.describe_registry()["replicationConfiguration"]["rules"]
    account = ecr.describe_repositories(repositoryNames=[f"{prefix}/api"])["repositories"][0]["registryId"]
    assert rule["destinations"] == [{"region": "us-east-1", "registryId": account}]
    assert rule["repositoryFilters"] == [{"filter": f"{prefix}/", "filterType": "PREFIX_MATCH"}]

    engine.begin_run()
    run_program(engine, stack="dev", config={"registries:ecr": json.dumps(config)})
    engine.end_run()
    assert {step.op for step in engine.plan} == {"same"}

    # moto has no pull-through cache: the engine refuses the rule instead of pretending it exists.
    with_cache = {**config, "pullThroughCache": [{"prefix": "k8s", "upstream": "registry.k8s.io"}]}
    with pytest.raises(Exception, match="moto does not implement aws:ecr/pullThroughCacheRule"):
        _apply(engine, with_cache)

    engine.destroy()  # the account-wide settings go back to ECR's defaults
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["scanType"] == "BASIC"
    assert ecr.describe_registry()["replicationConfiguration"]["rules"] == []


def test_replication_sources_become_the_registry_policy_moto_accepts(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    config: dict[str, Any] = {
        "region": REGION,
        "repositories": [{"name": f"{prefix}/api"}],
        "manageRegistrySettings": True,
        "replicationSources": [{"account": "111122223333"}, {"account": "444455556666", "prefixes": [f"{prefix}/"]}],
    }
    _apply(engine, config)
    ecr = _client(moto, "ecr")
    account = ecr.describe_repositories(repositoryNames=[f"{prefix}/api"])["repositories"][0]["registryId"]
    # moto validates it as an IAM document and allows only CreateRepository and ReplicateImage, as ECR does.
    stored = ecr.get_registry_policy()
    assert stored["registryId"] == account
    policy = json.loads(stored["policyText"])
    assert [(s["Principal"], s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (
            {"AWS": "arn:aws:iam::111122223333:root"},
            ["ecr:CreateRepository", "ecr:ReplicateImage"],
            [f"arn:aws:ecr:{REGION}:{account}:repository/*"],
        ),
        (
            {"AWS": "arn:aws:iam::444455556666:root"},
            ["ecr:CreateRepository", "ecr:ReplicateImage"],
            [f"arn:aws:ecr:{REGION}:{account}:repository/{prefix}/*"],
        ),
    ]

    engine.begin_run()
    run_program(engine, stack="dev", config={"registries:ecr": json.dumps(config)})
    engine.end_run()
    assert {step.op for step in engine.plan} == {"same"}

    fewer = {**config, "replicationSources": [{"account": "111122223333"}]}
    _apply(engine, fewer)
    assert len(json.loads(ecr.get_registry_policy()["policyText"])["Statement"]) == 1

    engine.destroy()
    with pytest.raises(ClientError, match="RegistryPolicyNotFoundException"):
        ecr.get_registry_policy()


def test_notifications_and_ci_role_apply_to_eventbridge_sqs_and_iam(moto: MotoServer, prefix: str):
    engine = _engine(moto)
    hook_url = f"https://hooks.example.com/{prefix}?key=e2e-not-a-secret"
    config: dict[str, Any] = {
        "region": REGION,
        "repositories": [{"name": f"{prefix}/api"}],
        "notifications": [
            {
                "name": "ci",
                "url": hook_url,
                "events": ["push", "scan"],
                "authHeader": {"name": "X-Hook-Token", "token": "e2e-header-token"},
            }
        ],
        "ci": {"githubOidc": {"repository": "acme/app", "refs": ["refs/heads/main"], "createProvider": True}},
    }
    outputs = _apply(engine, config)["ecr"]
    events, sqs, iam = _client(moto, "events"), _client(moto, "sqs"), _client(moto, "iam")
    rules = {rule["Name"]: rule for rule in events.list_rules()["Rules"] if rule["Name"].startswith("ecr-hook-ci-rule")}
    # Scanning is not managed here, so the account's scans may be basic (ECR's events) or enhanced (Inspector's).
    assert sorted(name.rsplit("-", 1)[0] for name in rules) == [
        "ecr-hook-ci-rule-action",
        "ecr-hook-ci-rule-scan",
        "ecr-hook-ci-rule-scan-enhanced",
    ]
    (destination,) = [
        d for d in events.list_api_destinations()["ApiDestinations"] if d["Name"].startswith("ecr-hook-ci")
    ]
    assert destination["InvocationEndpoint"] == hook_url
    assert destination["HttpMethod"] == "POST"
    queue_arn: str | None = None
    for rule_name, rule in rules.items():
        by_name = json.loads(rule["EventPattern"])["detail"]["repository-name"]
        assert by_name in ([f"{prefix}/api"], [{"suffix": f":repository/{prefix}/api"}])  # Inspector names the ARN
        (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
        assert target["Arn"] == destination["ApiDestinationArn"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        queue_arn = target["DeadLetterConfig"]["Arn"]
        role_name = target["RoleArn"].rsplit("/", 1)[1]
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document["Statement"] == [
            {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": destination["ApiDestinationArn"]}
        ]
    assert queue_arn is not None, "no rule targets the destination"
    queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
    queue_policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert sorted(queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        rule["Arn"] for rule in rules.values()
    )
    # The CI role: moto holds the trust policy pinned to the repository and ref, and the OIDC provider.
    ci_role = iam.get_role(RoleName=outputs["ciRoleArn"].rsplit("/", 1)[1])["Role"]
    trust = ci_role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    condition = trust["Statement"][0]["Condition"]
    assert condition["StringLike"] == {"token.actions.githubusercontent.com:sub": ["repo:acme/app:ref:refs/heads/main"]}
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert trust["Statement"][0]["Principal"]["Federated"] in providers

    _apply(engine, config)
    assert {step.op for step in engine.plan} == {"same"}
    engine.destroy()
    assert not [r for r in events.list_rules()["Rules"] if r["Name"].startswith("ecr-hook-ci-rule")]
    assert not [d for d in events.list_api_destinations()["ApiDestinations"] if d["Name"].startswith("ecr-hook-ci")]
