"""The guardrails pack (policy/): each rule fails its violating case and passes its compliant one, on resources our
program declares and on raw provider resources someone else declares, run through pulumi-policy's own servicer
with the engine's requests (tests/policy/harness.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_docker as docker
import pulumi_gcp as gcp
import pulumi_policy.deserialize as policy_deserialize
import pulumi_policy.policy as policy_module
import pulumi_random as random
import pytest
import yaml

from registries.config.base import is_production_stack
from tests.policy.harness import Registered, Report, analyze, config_json, declare, guardrails
from tests.unit.conftest import ALL_STACK_FILES, stack_config

RULE_IDS = [rule.id for rule in guardrails.RULES]


def _raw(build: Any) -> Any:
    """A program of someone else's: declares what `build` declares, exports nothing."""

    def program() -> dict[str, Any]:
        build()
        return {}

    return program


def judge(build: Any, stack: str = "prod", **kwargs: Any) -> Report:
    return analyze(declare(_raw(build), stack=stack), stack, **kwargs)


def ours(stack: str = "dev", secret: bool = False, **sections: Any) -> tuple[list[Registered], dict[str, str]]:
    config = config_json(**sections)
    return declare(stack=stack, config=config, secret_keys=list(config) if secret else []), config


def judge_ours(stack: str = "dev", secret: bool = False, **sections: Any) -> Report:
    resources, config = ours(stack, secret, **sections)
    return analyze(resources, stack, config)


def only(report: Report, rule: str, count: int = 1) -> list[str]:
    """The messages of `rule`, asserting there are `count` and nothing else was reported."""
    assert all(v.policy == rule for v in report.violations), report.describe()
    messages = [v.message for v in report.of(rule)]
    assert len(messages) == count, report.describe()
    return messages


def clean(report: Report) -> None:
    assert report.violations == [], report.describe()


# -- The pack itself ---------------------------------------------------------------------------------------------
def test_every_rule_has_an_id_a_description_and_a_policy() -> None:
    policies = guardrails.build_policies(stack="dev")
    assert [p.name for p in policies] == RULE_IDS
    assert len(set(RULE_IDS)) == len(RULE_IDS) == 10
    assert all(p.description for p in policies)


@pytest.mark.parametrize("stack", ["prod", "prod-eu", "production", "dev", "local", "staging-prod", "Prod"])
def test_production_is_the_projects_rule(stack: str) -> None:
    assert guardrails.is_production_stack(stack) == is_production_stack(stack)


def test_levels_follow_the_stack_and_a_config_file_overrides_a_rule() -> None:
    build = _acr_admin_registry
    assert {v.level for v in judge(build, stack="prod").of("no-acr-admin-user")} == {"mandatory"}
    assert {v.level for v in judge(build, stack="dev").of("no-acr-admin-user")} == {"advisory"}
    overridden = judge(build, stack="prod", policy_config={"no-acr-admin-user": "advisory"})
    assert {v.level for v in overridden.of("no-acr-admin-user")} == {"advisory"}
    assert (
        judge(build, stack="prod", policy_config={"no-acr-admin-user": {"enforcementLevel": "disabled"}}).of(
            "no-acr-admin-user"
        )
        == []
    )
    assert {v.level for v in judge(build, stack="dev", policy_config={"all": "mandatory"}).violations} == {"mandatory"}


def test_a_violation_names_the_rule_the_resource_and_our_component() -> None:
    acr = {"resourceGroup": {"name": "rg"}, "name": "acmeregistry01", "sku": "Basic", "adminUser": True}
    report = judge_ours(
        acr={**acr, "retention": {"untaggedDays": 7, "taggedDays": 30}, "repositories": [{"name": "a"}]}
    )
    (message,) = only(report, "no-acr-admin-user")
    assert "[no-acr-admin-user]" in message
    assert "azure-native:containerregistry:Registry 'acr-registry' (in registries:index:Acr 'acr')" in message
    assert report.of("no-acr-admin-user")[0].urn.endswith("::acr-registry")


# -- Every example stack passes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_STACK_FILES, ids=lambda p: p.name)
def test_example_stack_passes(path: Path) -> None:
    stack, config, secret_keys = stack_config(path)
    resources = declare(stack=stack, config=config, secret_keys=secret_keys)
    assert resources
    clean(analyze(resources, stack, config))


def test_example_stack_preview_passes_with_unknowns() -> None:
    stack, config, secret_keys = stack_config(next(p for p in ALL_STACK_FILES if p.name == "Pulumi.local.yaml"))
    clean(analyze(declare(stack=stack, config=config, secret_keys=secret_keys, preview=True), stack, config))


# -- no-public-registry-access -----------------------------------------------------------------------------------
def _ecr_policy(principal: Any) -> None:
    scanning = aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True)
    repo = aws.ecr.Repository(
        "repo", name="team/app", image_tag_mutability="IMMUTABLE", image_scanning_configuration=scanning
    )
    aws.ecr.LifecyclePolicy("lifecycle", repository=repo.name, policy="{}")
    aws.ecr.RepositoryPolicy(
        "pull",
        repository=repo.name,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": principal, "Action": ["ecr:BatchGetImage"]}],
            }
        ),
    )


def test_public_ecr_policy_is_refused_on_prod() -> None:
    (message,) = only(judge(lambda: _ecr_policy("*")), "no-public-registry-access")
    assert "Statement[0] allows the principal '*'" in message
    only(judge(lambda: _ecr_policy({"AWS": ["*"]})), "no-public-registry-access")
    clean(judge(lambda: _ecr_policy({"AWS": "arn:aws:iam::111122223333:root"})))


def test_public_access_is_not_judged_off_production() -> None:
    report = judge(lambda: _ecr_policy("*"), stack="dev")
    clean(report)
    assert "no-public-registry-access" in report.not_applicable


def test_public_artifact_registry_and_anonymous_acr_pull() -> None:
    def build(public: bool) -> None:
        gcp.artifactregistry.RepositoryIamMember(
            "readers",
            repository="apps",
            location="europe-west1",
            role="roles/artifactregistry.reader",
            member="allUsers" if public else "group:dev@acme.example",
        )
        azure.containerregistry.Registry(
            "acr",
            registry_name="acme01",
            resource_group_name="rg",
            sku=azure.containerregistry.SkuArgs(name="Premium"),
            anonymous_pull_enabled=public,
            policies=azure.containerregistry.PoliciesArgs(
                retention_policy=azure.containerregistry.RetentionPolicyArgs(days=7, status="enabled")
            ),
        )

    messages = only(judge(lambda: build(True)), "no-public-registry-access", count=2)
    assert any("member allUsers" in m for m in messages)
    assert any("anonymousPullEnabled" in m for m in messages)
    clean(judge(lambda: build(False)))


def test_public_docker_hub_repository_of_ours_on_prod() -> None:
    hub = {"namespace": "acme", "repositories": [{"name": "api", "immutableTags": {"enabled": True}}]}
    clean(judge_ours("prod", dockerHub=hub))
    public = {**hub, "repositories": [{**hub["repositories"][0], "private": False}]}
    (message,) = only(judge_ours("prod", dockerHub=public), "no-public-registry-access")
    assert "Docker Hub repository is public" in message


# -- immutable-tags ----------------------------------------------------------------------------------------------
def _ecr_repository(mutability: str | None, scan: bool = True) -> None:
    repo = aws.ecr.Repository(
        "repo",
        name="team/app",
        image_tag_mutability=mutability,
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=scan),
    )
    aws.ecr.LifecyclePolicy("lifecycle", repository=repo.name, policy="{}")


def test_mutable_ecr_tags_are_refused_on_prod() -> None:
    (message,) = only(judge(lambda: _ecr_repository("MUTABLE")), "immutable-tags")
    assert "imageTagMutability is MUTABLE" in message
    only(judge(lambda: _ecr_repository(None)), "immutable-tags")
    clean(judge(lambda: _ecr_repository("IMMUTABLE")))
    clean(judge(lambda: _ecr_repository("IMMUTABLE_WITH_EXCLUSION")))
    assert "immutable-tags" in judge(lambda: _ecr_repository("MUTABLE"), stack="dev").not_applicable


def test_mutable_artifact_registry_and_hub_tags_on_prod() -> None:
    ar = {
        "project": "acme-registries",
        "location": "europe-west1",
        "projectNumber": "123456789012",
        "defaults": {"retention": {"untaggedDays": 7}},
        "repositories": [{"name": "apps", "immutableTags": False}],
    }
    (message,) = only(judge_ours("prod", artifactRegistry=ar), "immutable-tags")
    assert "dockerConfig.immutableTags is not true" in message
    clean(judge_ours("prod", artifactRegistry={**ar, "repositories": [{"name": "apps"}]}))
    (message,) = only(
        judge_ours("prod", dockerHub={"namespace": "acme", "repositories": [{"name": "api"}]}), "immutable-tags"
    )
    assert "immutableTags.enabled is not true" in message


# -- vulnerability-scanning --------------------------------------------------------------------------------------
ECR = {"region": "eu-west-1", "repositories": [{"name": "team/api", "retention": {"untaggedDays": 7}}]}


def test_ecr_without_scan_on_push() -> None:
    unscanned = {**ECR, "defaults": {"scanOnPush": False}}
    (message,) = only(judge_ours(ecr=unscanned), "vulnerability-scanning")
    assert "scanOnPush is not true" in message
    clean(judge_ours(ecr=ECR))
    covered = {
        **unscanned,
        "manageRegistrySettings": True,
        "scanning": {"type": "ENHANCED", "onPush": ["team/*"]},
    }
    clean(judge_ours(ecr=covered))


def test_artifact_registry_scanning_disabled() -> None:
    def build(enabled: bool) -> None:
        gcp.artifactregistry.Repository(
            "apps",
            project="acme-registries",
            repository_id="apps",
            location="europe-west1",
            format="DOCKER",
            cleanup_policies=[gcp.artifactregistry.RepositoryCleanupPolicyArgs(id="untagged", action="DELETE")],
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
            vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                enablement_config="INHERITED" if enabled else "DISABLED"
            ),
        )

    (message,) = only(judge(lambda: build(False)), "vulnerability-scanning")
    assert "enablementConfig is DISABLED" in message
    clean(judge(lambda: build(True)))


# -- retention-rule-set ------------------------------------------------------------------------------------------
def test_ecr_repository_without_retention() -> None:
    bare = {"region": "eu-west-1", "repositories": [{"name": "team/api"}]}
    (message,) = only(judge_ours(ecr=bare), "retention-rule-set")
    assert "repository team/api has no lifecycle policy" in message
    clean(judge_ours(ecr=ECR))


def test_explicit_empty_retention_passes() -> None:
    """`retention: {}` declares no lifecycle policy; the pack reads it from the stack config the engine sends."""
    clean(judge_ours(ecr={"region": "eu-west-1", "repositories": [{"name": "team/api", "retention": {}}]}))
    inherited = {"region": "eu-west-1", "defaults": {"retention": {}}, "repositories": [{"name": "team/api"}]}
    clean(judge_ours(ecr=inherited))


def test_a_config_file_can_exempt_a_repository() -> None:
    report = judge(_ecr_repository_without_lifecycle, stack="dev")
    only(report, "retention-rule-set")
    clean(
        judge(
            _ecr_repository_without_lifecycle,
            stack="dev",
            policy_config={"retention-rule-set": {"exempt": ["scratch"]}},
        )
    )


def _ecr_repository_without_lifecycle() -> None:
    aws.ecr.Repository(
        "scratch",
        name="scratch",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
    )


def test_acr_and_artifact_registry_retention() -> None:
    acr = {"resourceGroup": {"name": "rg"}, "name": "acmeregistry01", "sku": "Standard"}
    (message,) = only(judge_ours(acr=acr), "retention-rule-set")
    assert "neither a retention policy nor an `acr purge` task" in message
    clean(judge_ours(acr={**acr, "retention": {"untaggedDays": 7}, "repositories": [{"name": "team/api"}]}))
    ar = {"project": "acme-registries", "location": "europe-west1", "repositories": [{"name": "apps"}]}
    (message,) = only(judge_ours(artifactRegistry=ar), "retention-rule-set")
    assert "repository apps has no cleanupPolicies" in message


# -- no-acr-admin-user -------------------------------------------------------------------------------------------
def _acr_admin_registry(admin: bool = True) -> None:
    azure.containerregistry.Registry(
        "acr",
        registry_name="acme01",
        resource_group_name="rg",
        sku=azure.containerregistry.SkuArgs(name="Premium"),
        admin_user_enabled=admin,
        policies=azure.containerregistry.PoliciesArgs(
            retention_policy=azure.containerregistry.RetentionPolicyArgs(days=7, status="enabled")
        ),
    )


def test_acr_admin_user() -> None:
    (message,) = only(judge(_acr_admin_registry), "no-acr-admin-user")
    assert "adminUserEnabled" in message
    clean(judge(lambda: _acr_admin_registry(admin=False)))


# -- selfhosted-tls ----------------------------------------------------------------------------------------------
LOCAL = {
    "name": "reg",
    "image": "registry:2.8.3",
    "hostname": "localhost",
    "users": [{"name": "admin"}],
    "ui": {"enabled": False},
}


def test_plain_http_registry_off_loopback() -> None:
    clean(judge_ours(selfHosted=LOCAL))
    plain = {**LOCAL, "bindAddress": "0.0.0.0", "tls": {"mode": "none"}, "insecure": True}
    (message,) = only(judge_ours(selfHosted=plain), "selfhosted-tls")
    assert "serves plain HTTP on 0.0.0.0:5000;" in message
    clean(judge_ours(selfHosted={**plain, "bindAddress": "127.0.0.1"}))


def test_plain_http_ui_off_loopback() -> None:
    ui = {"enabled": True, "tls": False, "bindAddress": "0.0.0.0"}
    (message,) = only(judge_ours(selfHosted={**LOCAL, "ui": ui, "insecure": True}), "selfhosted-tls")
    assert "UI serves plain HTTP on 0.0.0.0:8080," in message
    clean(judge_ours(selfHosted={**LOCAL, "ui": {**ui, "bindAddress": "127.0.0.1"}}))
    clean(judge_ours(selfHosted={**LOCAL, "ui": {**ui, "tls": True}}))


def _registry_container(minimum_tls: str | None) -> None:
    tls: dict[str, Any] = {"certificate": "/certs/tls.crt", "key": "/certs/tls.key"}
    if minimum_tls:
        tls["minimumtls"] = minimum_tls
    config = {"version": 0.1, "storage": {"filesystem": {}}, "http": {"addr": ":5000", "tls": tls}}
    docker.Container(
        "registry",
        image="registry:2.8.3",
        ports=[docker.ContainerPortArgs(internal=5000, external=5000)],
        uploads=[docker.ContainerUploadArgs(file="/etc/docker/registry/config.yml", content=yaml.safe_dump(config))],
    )


def test_someone_elses_registry_container_tls_version() -> None:
    (message,) = only(judge(lambda: _registry_container("tls1.0")), "selfhosted-tls")
    assert "minimumtls is tls1.0" in message
    only(judge(lambda: _registry_container(None)), "selfhosted-tls")
    clean(judge(lambda: _registry_container("tls1.2")))
    clean(judge(lambda: _registry_container("tls1.3")))


# -- s3-storage-hardened -----------------------------------------------------------------------------------------
def _bucket(encrypted: bool, blocked: bool) -> None:
    bucket = aws.s3.Bucket("images", bucket="acme-images")
    if encrypted:
        aws.s3.BucketServerSideEncryptionConfiguration(
            "sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms"
                    )
                )
            ],
        )
    aws.s3.BucketPublicAccessBlock(
        "pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=blocked,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )


def test_s3_bucket_encryption_and_public_access_block() -> None:
    (message,) = only(judge(lambda: _bucket(encrypted=False, blocked=True)), "s3-storage-hardened")
    assert "no default encryption" in message
    (message,) = only(judge(lambda: _bucket(encrypted=True, blocked=False)), "s3-storage-hardened")
    assert "public access is not blocked" in message
    clean(judge(lambda: _bucket(encrypted=True, blocked=True)))


def test_our_s3_storage_passes() -> None:
    storage = {"kind": "s3", "bucket": "acme-registry-images", "region": "eu-west-1", "create": True}
    clean(judge_ours(selfHosted={**LOCAL, "storage": storage}))


# -- webhook-https -----------------------------------------------------------------------------------------------
def test_registry_notification_url_must_be_https() -> None:
    hook = {"name": "audit", "url": "http://audit.example.com/events"}
    report = judge_ours(selfHosted={**LOCAL, "notifications": [hook]}, secret=True)
    (message,) = only(report, "webhook-https")
    assert "notifications.endpoints[0].url is not an https:// URL" in message
    assert "audit.example.com" not in message  # the URL may carry a token: never shown
    clean(
        judge_ours(selfHosted={**LOCAL, "notifications": [{**hook, "url": "https://audit.example.com/e"}]}, secret=True)
    )


def test_someone_elses_event_api_destination_and_acr_webhook() -> None:
    def build(scheme: str) -> None:
        aws.cloudwatch.EventApiDestination(
            "hook",
            connection_arn="arn:aws:events:eu-west-1:123456789012:connection/c",
            http_method="POST",
            invocation_endpoint=f"{scheme}://hooks.example.com/ecr",
        )
        azure.containerregistry.Webhook(
            "acr-hook",
            webhook_name="deploy",
            registry_name="acme01",
            resource_group_name="rg",
            actions=["push"],
            service_uri=pulumi.Output.secret(f"{scheme}://hooks.example.com/acr"),
        )

    messages = only(judge(lambda: build("http")), "webhook-https", count=2)
    assert any("invocationEndpoint" in m for m in messages)
    assert any("serviceUri" in m for m in messages)
    clean(judge(lambda: build("https")))


# -- secret-inputs-marked ----------------------------------------------------------------------------------------
def _container_env(secret: bool) -> None:
    value = "REGISTRY_HTTP_SECRET=s3cr3t-value"
    docker.Container(
        "registry",
        image="registry:2.8.3",
        envs=[pulumi.Output.secret(value) if secret else value, "REGISTRY_LOG_LEVEL=info"],
    )


def test_plain_secret_env_of_a_container() -> None:
    (message,) = only(judge(lambda: _container_env(secret=False)), "secret-inputs-marked")
    assert "envs[0] (REGISTRY_HTTP_SECRET) is a secret in plain text" in message
    assert "s3cr3t-value" not in message
    clean(judge(lambda: _container_env(secret=True)))


def test_plain_password_input() -> None:
    def build(secret: bool) -> None:
        value: Any = pulumi.Output.secret("a-person-chose-this") if secret else "a-person-chose-this"
        random.RandomBytes("salt", length=16, keepers={"password": value})
        # pulumi-aws's schema makes secret_string secret whatever the program passes: compliant either way.
        aws.secretsmanager.SecretVersion("upstream", secret_id="arn:aws:secretsmanager:::secret:x", secret_string="t")

    (message,) = only(judge(lambda: build(False)), "secret-inputs-marked")
    assert "random:index/randomBytes:RandomBytes 'salt': input keepers.password is a secret in plain text" in message
    assert "a-person-chose-this" not in message
    clean(judge(lambda: build(True)))


def test_pulumi_policy_alone_cannot_see_secretness(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the pack swaps pulumi-policy's deserializer: with pulumi-policy 1.21's own, a secret input reaches the
    policy as a plain string (pulumi-policy#241), and the same secret env entry reads as plain text."""
    resources = declare(_raw(lambda: _container_env(secret=True)), stack="prod")
    clean(analyze(resources, "prod"))
    install = guardrails.install_engine_hooks

    def without_secret_markers(policies: list[Any]) -> None:
        install(policies)
        monkeypatch.setattr(policy_module, "deserialize_properties", policy_deserialize.deserialize_properties)

    monkeypatch.setattr(guardrails, "install_engine_hooks", without_secret_markers)
    only(analyze(resources, "prod"), "secret-inputs-marked")


# -- htpasswd-cost -----------------------------------------------------------------------------------------------
def _htpasswd_container(cost: int) -> None:
    line = f"alice:{bcrypt.hashpw(b'correct horse battery staple', bcrypt.gensalt(rounds=cost)).decode()}\n"
    docker.Container(
        "registry",
        image="registry:2.8.3",
        uploads=[docker.ContainerUploadArgs(file="/auth/htpasswd", content=pulumi.Output.secret(line))],
    )


def test_given_password_hashed_below_cost_10() -> None:
    (message,) = only(judge(lambda: _htpasswd_container(4)), "htpasswd-cost")
    assert "user alice's htpasswd entry is bcrypt cost 4 for a password a person gave" in message
    clean(judge(lambda: _htpasswd_container(10)))


def test_generated_password_at_cost_4_passes_and_ours_too() -> None:
    def build(length: int) -> None:
        password = random.RandomPassword("alice", length=length)
        docker.Container(
            "registry",
            image="registry:2.8.3",
            uploads=[
                docker.ContainerUploadArgs(
                    file="/auth/htpasswd",
                    content=password.result.apply(
                        lambda p: f"alice:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                    ),
                )
            ],
        )

    clean(judge(lambda: build(32)))
    (message,) = only(judge(lambda: build(8)), "htpasswd-cost")
    assert "generated password is 8 characters" in message
    given = {**LOCAL, "users": [{"name": "admin", "password": "a-person-chose-this-1"}, {"name": "ci"}]}
    clean(judge_ours("prod", selfHosted={**given, "protect": True}, secret=True))
