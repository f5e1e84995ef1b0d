"""`registryctl retention simulate --platform ecr` on what the AWS CLI prints: `aws ecr describe-images` dumps,
`aws ecr get-lifecycle-policy` output, and the declared policy of a stack's repository (--stack/--repository)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.retention_output import digests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-31T00:00:00Z"
ACCOUNT = "123456789012"


def detail(repository: str, digest: str, pushed_at: Any, tags: list[str] | None = None) -> dict[str, Any]:
    """One imageDetails entry as `aws ecr describe-images --output json` prints it (no imageTags when untagged)."""
    entry: dict[str, Any] = {
        "registryId": ACCOUNT,
        "repositoryName": repository,
        "imageDigest": digest,
        "imageSizeInBytes": 31457280,
        "imagePushedAt": pushed_at,
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactMediaType": "application/vnd.oci.image.config.v1+json",
        "lastRecordedPullTime": "2026-01-30T08:15:02.123000+00:00",
    }
    if tags is not None:
        entry["imageTags"] = tags
        entry["imageScanStatus"] = {"status": "COMPLETE", "description": "The scan was completed successfully."}
    return entry


# team/api in stacks/Pulumi.aws.yaml inherits: protect release-*, keep the newest 50 v*, untagged after 7 days.
API_PAGE = {
    "imageDetails": [
        detail("team/api", "sha256:v1", "2025-01-01T10:00:00+01:00", ["v1.0.0"]),
        detail("team/api", "sha256:latest", "2025-06-01T00:00:00+02:00", ["latest", "nightly-5"]),
        detail("team/api", "sha256:release", "2024-03-01T00:00:00+00:00", ["release-2024"]),
        # 2026-01-23T23:30Z: 7 days and 30 minutes before NOW only if the +01:00 offset is honoured.
        detail("team/api", "sha256:untagged-offset", "2026-01-24T00:30:00+01:00"),
        detail("team/api", "sha256:untagged-old", "2026-01-20T09:00:00.512000+00:00"),
        # Epoch seconds (some SDK dumps): 2026-01-29T12:00:00Z.
        detail("team/api", "sha256:untagged-new", 1769688000),
    ]
}
API_EXPECTED = {
    "expire": ["sha256:untagged-offset", "sha256:untagged-old"],
    "keep": ["sha256:latest", "sha256:release", "sha256:untagged-new", "sha256:v1"],
}
# team/worker overrides retention as a whole: untagged after 1 day, nothing else.
WORKER_PAGE = {
    "imageDetails": [
        detail("team/worker", "sha256:w-untagged", 1769688000.25),
        detail("team/worker", "sha256:w-tagged", "2024-01-01T00:00:00+00:00", ["v0.1.0"]),
    ],
    "nextToken": None,
}


def registryctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registryctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return str(path)


def simulate(tmp_path: Path, images: Any, *source: str) -> subprocess.CompletedProcess[str]:
    return registryctl(
        "retention", "simulate", "--platform", "ecr", *source, "--images", write(tmp_path, "images.json", images),
        "--now", NOW,
    )  # fmt: skip


def compiled_policy(tmp_path: Path, intent: dict[str, Any]) -> str:
    result = registryctl("retention", "compile", "--platform", "ecr", "--intent", write(tmp_path, "i.json", intent))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_declared_policy_of_a_stack_repository_runs_on_a_describe_images_dump(tmp_path: Path) -> None:
    result = simulate(tmp_path, API_PAGE, "--stack", "aws", "--repository", "team/api")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == API_EXPECTED


def test_a_repository_override_replaces_the_default_retention(tmp_path: Path) -> None:
    # Two pages of two repositories; only team/worker's images are evaluated, with its own untaggedDays: 1.
    result = simulate(tmp_path, [API_PAGE, WORKER_PAGE], "--stack", "aws", "--repository", "team/worker")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == {"expire": ["sha256:w-untagged"], "keep": ["sha256:w-tagged"]}
    assert "6 images of other repositories" in result.stderr


def test_get_lifecycle_policy_output_gives_the_same_outcome_as_the_stack(tmp_path: Path) -> None:
    text = compiled_policy(tmp_path, {"protect": ["release-*"], "keepLatest": [{"tag": "v*", "count": 50}],
                                      "untaggedDays": 7})  # fmt: skip
    answer = {
        "registryId": ACCOUNT,
        "repositoryName": "team/api",
        "lifecyclePolicyText": json.dumps(json.loads(text)),  # the CLI prints it as one compact string
        "lastEvaluatedAt": "2026-01-30T00:00:00+00:00",
    }
    result = simulate(tmp_path, API_PAGE, "--policy", write(tmp_path, "policy.json", answer))
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == API_EXPECTED


def test_the_plain_images_list_and_policy_document_still_work(tmp_path: Path) -> None:
    images = [{"repository": "r", "digest": "sha256:a", "tags": [], "pushedAt": "2026-01-01T00:00:00Z"}]
    policy = compiled_policy(tmp_path, {"untaggedDays": 7})
    result = simulate(tmp_path, images, "--policy", write(tmp_path, "policy.json", policy))
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == {"expire": ["sha256:a"], "keep": []}


def test_a_stack_file_path_and_a_repository_without_retention(tmp_path: Path) -> None:
    stack = {
        "config": {
            "registries:ecr": {
                "region": "eu-west-1",
                "defaults": {"retention": {"untaggedDays": 3}},
                "repositories": [{"name": "a/one"}, {"name": "a/two", "retention": {}}],
            }
        }
    }
    stack_path = write(tmp_path, "Pulumi.dev.yaml", yaml.safe_dump(stack))
    page = {"imageDetails": [detail("a/one", "sha256:1", "2026-01-01T00:00:00+00:00"),
                             detail("a/two", "sha256:2", "2026-01-01T00:00:00+00:00")]}  # fmt: skip
    one = simulate(tmp_path, page, "--stack-file", stack_path, "--repository", "a/one")
    assert one.returncode == 0, one.stderr
    assert digests(one.stdout) == {"expire": ["sha256:1"], "keep": []}
    two = simulate(tmp_path, page, "--stack-file", stack_path, "--repository", "a/two")
    assert two.returncode == 0, two.stderr
    assert digests(two.stdout) == {"expire": [], "keep": ["sha256:2"]}
    assert "no lifecycle policy" in two.stderr


def test_an_incomplete_dump_is_reported(tmp_path: Path) -> None:
    page = {**API_PAGE, "nextToken": "eyJ0b2tlbiI6IjEifQ=="}
    result = simulate(tmp_path, page, "--stack", "aws", "--repository", "team/api")
    assert result.returncode == 0, result.stderr
    assert "nextToken" in result.stderr
    assert "--starting-token" in result.stderr


def entry(**changes: Any) -> dict[str, Any]:
    base = detail("team/api", "sha256:x", "2026-01-01T00:00:00+00:00", ["v1"])
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ({"imageDetails": [entry(), entry(imageDigest=..., imageTags=None)]}, "images.imageDetails[1].imageDigest"),
        ({"imageDetails": [entry(imagePushedAt="2026-01-01T00:00:00")]}, "images.imageDetails[0].imagePushedAt"),
        ({"imageDetails": [entry(imagePushedAt="yesterday")]}, "images.imageDetails[0].imagePushedAt"),
        ({"imageDetails": [entry(imagePushedAt=True)]}, "images.imageDetails[0].imagePushedAt"),
        ({"imageDetails": [entry(imagePushedAt=1e300)]}, "images.imageDetails[0].imagePushedAt"),
        ([API_PAGE, {"imageDetails": [entry(imageTags="v1")]}], "images[1].imageDetails[0].imageTags"),
        ([API_PAGE, {"imageDetails": [entry(repositoryName=...)]}], "images[1].imageDetails[0].repositoryName"),
        ({"imageDetails": "none"}, "images.imageDetails"),
        ({"imageDetails": [entry(), entry()]}, "images.imageDetails[1].imageDigest"),
        ({"imageDetails": [entry(), entry(imageDigest="sha256:y")]}, "images.imageDetails[1].imageTags"),
    ],
)  # fmt: skip
def test_a_malformed_dump_exits_2_naming_the_field(tmp_path: Path, images: Any, field: str) -> None:
    result = simulate(tmp_path, images, "--stack", "aws", "--repository", "team/api")
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert field in result.stderr


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"registryId": ACCOUNT, "repositoryName": "r", "lifecyclePolicyText": "{rules"}, "lifecyclePolicyText"),
        ({"registryId": ACCOUNT, "repositoryName": "r", "lifecyclePolicyText": {"rules": []}}, "lifecyclePolicyText"),
        ({"repositoryName": "r", "lifecyclePolicyText": json.dumps({"rules": []})}, "policy.rules"),
    ],
)
def test_malformed_get_lifecycle_policy_output_exits_2_naming_the_field(
    tmp_path: Path, policy: Any, field: str
) -> None:
    result = simulate(tmp_path, API_PAGE, "--policy", write(tmp_path, "policy.json", policy))
    assert result.returncode == 2, result.stdout
    assert field in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "aws", "--repository", "team/nope"], "--repository 'team/nope'"),
        (["--stack", "aws"], "--repository"),
        (["--stack", "no-such-stack", "--repository", "team/api"], "no-such-stack"),
        (["--repository", "team/api"], "--repository needs -s/--stack"),
    ],
)
def test_wrong_stack_arguments_exit_2_saying_what_is_allowed(tmp_path: Path, args: list[str], message: str) -> None:
    result = simulate(tmp_path, API_PAGE, *args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr


def test_stack_and_policy_cannot_both_be_given_and_intent_names_a_hub_repository(tmp_path: Path) -> None:
    policy = write(tmp_path, "policy.json", compiled_policy(tmp_path, {"untaggedDays": 7}))
    both = simulate(tmp_path, API_PAGE, "--stack", "aws", "--repository", "team/api", "--policy", policy)
    assert both.returncode == 2
    # --platform intent --stack reads selfHosted.retention, or with --repository a dockerHub repository's.
    intent = registryctl(
        "retention", "simulate", "--platform", "intent", "--stack", "aws", "--repository", "team/api",
        "--images", write(tmp_path, "images.json", API_PAGE), "--now", NOW,
    )  # fmt: skip
    assert intent.returncode == 2
    assert "not a registries:dockerHub repository" in intent.stderr


def test_an_invalid_stack_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    stack = {"config": {"registries:ecr": {"region": "eu-west-1", "repositories": [{"name": "a/one"}],
                                           "defaults": {"retention": {"untaggedDays": 0}}}}}  # fmt: skip
    stack_path = write(tmp_path, "Pulumi.dev.yaml", yaml.safe_dump(stack))
    result = simulate(tmp_path, API_PAGE, "--stack-file", stack_path, "--repository", "a/one")
    assert result.returncode == 2
    assert "registries:ecr.defaults.retention.untaggedDays" in result.stderr


@pytest.mark.parametrize("text", ["config: [unclosed", "- just\n- a list\n", "config: 3\n"])
def test_a_stack_file_that_is_not_one_exits_2(tmp_path: Path, text: str) -> None:
    stack_path = write(tmp_path, "Pulumi.dev.yaml", text)
    result = simulate(tmp_path, API_PAGE, "--stack-file", stack_path, "--repository", "a/one")
    assert result.returncode == 2, result.stderr
    assert "not a stack file" in result.stderr
