"""The cloud example stacks on the real engine (issue 23 §2.2, issue 28): `pulumi preview --policy-pack policy/` of
the aws, gcp, azure and k8s stacks plans only creates, reports no policy violation and writes nothing; a production
stack of raw ECR, Artifact Registry and ACR resources fails naming each rule only those kinds exercise.

Providers: aws is the moto stand-in, wired as a user wires pulumi-aws to an emulator (`aws:endpoints` with --path,
credentials in the AWS_* variables); the caller-identity lookup goes to moto, and the preview touches no backend.
gcp, azure-native and kubernetes are the preview-only stand-ins (tests/support/README.md, "Provider plugins"): no
backend exists here, and any step that would touch a cloud fails.

The clouds' SDKs (requirements-{gcp,azure,k8s}.txt, ~700 MB installed) are not pip-installed again into the clone's
virtualenv: the test run's own copies (the versions the stand-ins serve) are linked into it through a .pth file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Project, with_backend
from tests.engine.test_engine_operations import remove_stack
from tests.support.moto_server import MotoServer
from tests.support.plugins.client import running_moto

CLOUD_SDKS = ("pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes")
STACKS = {
    # stack -> a type its preview must plan (the stack's own registry resource)
    "aws": "aws:ecr/repository:Repository",
    "gcp": "gcp:artifactregistry/repository:Repository",
    "azure": "azure-native:containerregistry:Registry",
    "k8s": "kubernetes:apps/v1:Deployment",
}
REGION = "eu-west-1"
RAW_PROGRAM = '''"""Someone else's registries on three clouds, each breaking the production rules."""
import json

import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp

ecr = aws.ecr.Repository(
    "raw-ecr",
    name="raw/app",
    image_tag_mutability="MUTABLE",
    image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=False),
)
aws.ecr.RepositoryPolicy(
    "raw-ecr-policy",
    repository=ecr.name,
    policy=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}]}
    ),
)
aws.s3.Bucket("raw-bucket", bucket="theirs-registry-storage")
gcp.artifactregistry.Repository(
    "raw-ar",
    project="theirs",
    repository_id="app",
    location="europe-west1",
    format="DOCKER",
    docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=False),
    vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
        enablement_config="DISABLED"
    ),
)
gcp.artifactregistry.RepositoryIamMember(
    "raw-ar-public",
    project="theirs",
    location="europe-west1",
    repository="app",
    role="roles/artifactregistry.reader",
    member="allUsers",
)
azure.containerregistry.Registry(
    "raw-acr",
    registry_name="theirs01",
    resource_group_name="rg-theirs",
    sku=azure.containerregistry.SkuArgs(name="Premium"),
    admin_user_enabled=True,
    anonymous_pull_enabled=True,
)
'''
EXPECTED = {
    # (rule, the message the CLI prints for it), on a prod* stack: all mandatory
    ("no-public-registry-access", "aws:ecr/repositoryPolicy:RepositoryPolicy 'raw-ecr-policy': policy Statement[0] "
     "allows the principal '*' (anyone)"),
    ("no-public-registry-access", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember 'raw-ar-public': "
     "member allUsers makes the repository public"),
    ("no-public-registry-access", "azure-native:containerregistry:Registry 'raw-acr': anonymousPullEnabled lets "
     "anyone pull"),
    ("no-acr-admin-user", "azure-native:containerregistry:Registry 'raw-acr': adminUserEnabled gives one shared "
     "full-access password"),
    ("immutable-tags", "aws:ecr/repository:Repository 'raw-ecr': imageTagMutability is MUTABLE"),
    ("immutable-tags", "gcp:artifactregistry/repository:Repository 'raw-ar': dockerConfig.immutableTags is not true"),
    ("vulnerability-scanning", "aws:ecr/repository:Repository 'raw-ecr': images are not scanned"),
    ("vulnerability-scanning", "gcp:artifactregistry/repository:Repository 'raw-ar': "
     "vulnerabilityScanningConfig.enablementConfig is DISABLED"),
    ("retention-rule-set", "aws:ecr/repository:Repository 'raw-ecr': repository raw/app has no lifecycle policy"),
    ("retention-rule-set", "gcp:artifactregistry/repository:Repository 'raw-ar': repository app has no "
     "cleanupPolicies"),
    ("retention-rule-set", "azure-native:containerregistry:Registry 'raw-acr': registry theirs01 has neither a "
     "retention policy nor an `acr purge` task"),
    ("s3-storage-hardened", "aws:s3/bucket:Bucket 'raw-bucket': no default encryption (declare a "
     "BucketServerSideEncryptionConfiguration with AES256 or aws:kms for it)"),
    ("s3-storage-hardened", "aws:s3/bucket:Bucket 'raw-bucket': public access is not blocked (declare a "
     "BucketPublicAccessBlock for it with"),
}  # fmt: skip


@pytest.fixture(scope="module")
def cloud_sdks(project: Project) -> None:
    """The gcp, azure-native and kubernetes SDKs of this test run, visible in the clone's virtualenv (a .pth file
    naming a directory of links to them and their dist-info), after the clone's own packages."""
    links = project.home / "cloud-sdks"
    links.mkdir(exist_ok=True)
    for name in CLOUD_SDKS:
        module = __import__(name)
        source = Path(module.__file__).parent
        for path in [source, *source.parent.glob(f"{name}-*.dist-info")]:
            link = links / path.name
            if not link.exists():
                link.symlink_to(path)
    site = next((project.dir / "venv" / "lib").glob("python3*/site-packages"))
    (site / "engine-tier-cloud-sdks.pth").write_text(f"{links}\n")
    project.run(project.python, "-c", "import " + ", ".join(CLOUD_SDKS))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from running_moto(tmp_path_factory)


def aws_env(moto: MotoServer) -> dict[str, str]:
    """pulumi-aws's credentials and region from the environment, as the aws stack file says."""
    return {"AWS_ACCESS_KEY_ID": moto.admin_key, "AWS_SECRET_ACCESS_KEY": moto.admin_secret, "AWS_REGION": REGION}


def wire_endpoints(project: Project, moto: MotoServer, env: dict[str, str], *where: str) -> None:
    """`pulumi config set --path aws:endpoints[0].<service> <url>`, as a user points pulumi-aws at an emulator."""
    for service in ("ecr", "iam", "sts", "s3", "sqs", "events"):
        project.run("pulumi", "config", "set", "--path", f"aws:endpoints[0].{service}", moto.endpoint, *where, env=env)


def policy_preview(
    project: Project, pack: Path, log: Path, *args: str, env: dict[str, str], check: bool = True
) -> tuple[Any, list[dict]]:
    """`pulumi preview --policy-pack` as the docs show it, and the engine's events (`--event-log`, the flag the
    Automation API uses, offered when PULUMI_DEBUG_COMMANDS is set)."""
    result = project.run(
        "pulumi", "preview", *args, "--policy-pack", str(pack), "--event-log", str(log),
        "--non-interactive", "--color", "never", env={**env, "PULUMI_DEBUG_COMMANDS": "true"}, check=check,
    )  # fmt: skip
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return result, events


def ecr_repositories(moto: MotoServer) -> list[str]:
    ecr = moto.client("ecr", region=REGION)
    return [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_preview_of_a_cloud_example_stack_plans_creates_passes_the_pack_and_writes_nothing(
    stack: str, project: Project, pack: Path, cloud_sdks: None, moto: MotoServer, tmp_path: Path
):
    env = {**with_backend(project, f"cloud-{stack}"), **aws_env(moto)}
    project.pulumi("stack", "init", stack, env=env)
    try:
        if stack == "aws":
            wire_endpoints(project, moto, env, "-s", stack)
        ecr_before = ecr_repositories(moto)
        result, events = policy_preview(project, pack, tmp_path / "events.jsonl", "-s", stack, env=env)

        steps = [e["resourcePreEvent"]["metadata"] for e in events if "resourcePreEvent" in e]
        assert STACKS[stack] in {s["type"] for s in steps}, result.stdout[-3000:]
        assert {s["op"] for s in steps} == {"create"}, {(s["op"], s["urn"]) for s in steps if s["op"] != "create"}
        assert [e["policyEvent"] for e in events if "policyEvent" in e] == []
        assert "registries-guardrails" in result.stdout
        # Nothing written: no state, no ECR repository on moto (the only backend these stacks' plugins have; none of
        # them declares a Docker object).
        assert not json.loads(project.export(stack, env=env))["deployment"].get("resources")
        assert ecr_repositories(moto) == ecr_before
    finally:
        remove_stack(project, env, stack)


def test_raw_ecr_ar_and_acr_resources_on_a_production_stack_fail_naming_each_rule(
    project: Project, pack: Path, cloud_sdks: None, moto: MotoServer, tmp_path: Path
):
    program = tmp_path / "theirs"
    program.mkdir()
    runtime = {"name": "python", "options": {"virtualenv": str(project.dir / "venv")}}
    (program / "Pulumi.yaml").write_text(json.dumps({"name": "theirs-clouds", "runtime": runtime}))
    (program / "__main__.py").write_text(RAW_PROGRAM)
    # The stand-in plugins are found through the checkout; their program lives outside it.
    env = {**with_backend(project, "policy-clouds"), **aws_env(moto), "REGISTRIES_REPO": str(project.dir)}
    where = ("-s", "prod", "--cwd", str(program))
    project.run("pulumi", "stack", "init", *where, env=env)
    try:
        wire_endpoints(project, moto, env, *where)
        result, events = policy_preview(project, pack, tmp_path / "events.jsonl", *where, env=env, check=False)
        assert result.returncode != 0
        printed = re.sub(r"\s+", " ", result.stdout)
        for rule, message in EXPECTED:
            assert f"[mandatory] {rule}" in printed, rule
            assert f"[{rule}] {message}" in printed, message
        reported = {(e["policyEvent"]["policyName"], e["policyEvent"]["enforcementLevel"]) for e in events
                    if "policyEvent" in e}  # fmt: skip
        assert reported == {(rule, "mandatory") for rule, _ in EXPECTED}
        assert ecr_repositories(moto) == []
    finally:
        project.run("pulumi", "stack", "rm", "--yes", "--force", *where, env=env, check=False)
