"""`registryctl retention simulate --platform artifact-registry --stack gcp --repository R`: the cleanup policies the
example stack declares for one Artifact Registry repository, evaluated on that repository's images (each image's
`repository` is its package, i.e. the image name inside the repository)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.retention_output import digests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-31T00:00:00Z"


def image(package: str, digest: str, pushed_at: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {"repository": package, "digest": digest, "tags": tags or [], "pushedAt": pushed_at}


# stacks/Pulumi.gcp.yaml: apps inherits {protect: [v*, release-*], untaggedDays: 7, taggedDays: 180};
# scratch has {untaggedDays: 1, taggedDays: 14}.
IMAGES = [
    image("api", "sha256:untagged-10d", "2026-01-21T00:00:00Z"),
    image("api", "sha256:untagged-3d", "2026-01-28T00:00:00Z"),
    image("api", "sha256:v1-400d", "2024-12-27T00:00:00Z", ["v1"]),
    image("api", "sha256:release-400d", "2024-12-27T00:00:00Z", ["release-7"]),
    image("api", "sha256:pr-200d", "2025-07-15T00:00:00Z", ["pr-12"]),
    image("worker", "sha256:pr-20d", "2026-01-11T00:00:00Z", ["pr-13"]),
    image("worker", "sha256:untagged-2d", "2026-01-29T00:00:00Z"),
]


def registryctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registryctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def simulate(tmp_path: Path, *source: str, platform: str = "artifact-registry") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "images.json"
    path.write_text(json.dumps(IMAGES))
    return registryctl("retention", "simulate", "--platform", platform, *source, "--images", str(path), "--now", NOW)


def test_the_policies_a_stack_declares_for_a_repository_are_evaluated_on_its_images(tmp_path: Path):
    result = simulate(tmp_path, "--stack", "gcp", "--repository", "apps")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == {
        "expire": ["sha256:pr-200d", "sha256:untagged-10d"],
        "keep": sorted(
            ["sha256:untagged-3d", "sha256:v1-400d", "sha256:release-400d", "sha256:pr-20d", "sha256:untagged-2d"]
        ),
    }
    assert "skipping" not in result.stderr  # packages are not repositories: every image counts


def test_the_declared_policies_do_what_the_retention_intent_says(tmp_path: Path):
    for repository, intent in (
        ("apps", {"protect": ["v*", "release-*"], "untaggedDays": 7, "taggedDays": 180}),
        ("scratch", {"untaggedDays": 1, "taggedDays": 14}),
        ("gcr.io", {"protect": ["v*", "release-*"], "untaggedDays": 7, "taggedDays": 180}),
    ):
        declared = simulate(tmp_path, "--stack", "gcp", "--repository", repository)
        intent_path = tmp_path / "intent.json"
        intent_path.write_text(json.dumps(intent))
        expected = simulate(tmp_path, "--policy", str(intent_path), platform="intent")
        assert declared.returncode == 0, declared.stderr
        assert digests(declared.stdout) == digests(expected.stdout), repository


def test_a_mirror_without_retention_deletes_nothing(tmp_path: Path):
    result = simulate(tmp_path, "--stack", "gcp", "--repository", "dockerhub")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout)["expire"] == []
    assert "declares no retention" in result.stderr


def test_an_unknown_repository_exits_2_listing_the_declared_ones(tmp_path: Path):
    result = simulate(tmp_path, "--stack", "gcp", "--repository", "nope")
    assert result.returncode == 2
    assert "'nope': not a repository" in result.stderr
    assert "apps, scratch, gcr.io, eu.gcr.io, dockerhub" in result.stderr


def test_a_repository_is_required_with_a_stack(tmp_path: Path):
    result = simulate(tmp_path, "--stack", "gcp")
    assert result.returncode == 2
    assert "needs --repository NAME" in result.stderr


def test_a_stack_without_artifact_registry_exits_2(tmp_path: Path):
    result = simulate(tmp_path, "--stack", "aws", "--repository", "apps")
    assert result.returncode == 2
    assert "declares no registries:artifactRegistry" in result.stderr
