"""`registryctl retention simulate --platform acr --stack azure`: what the example stack's registry declares (the
registry retention policy plus the purge task's per-repository filters), evaluated on an image listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.retention_output import digests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-31T00:00:00Z"


def image(repository: str, digest: str, pushed_at: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {"repository": repository, "digest": digest, "tags": tags or [], "pushedAt": pushed_at}


# stacks/Pulumi.azure.yaml: untaggedRetentionDays 30 registry-wide; team/api inherits {untaggedDays: 7,
# taggedDays: 180}; team/worker {untaggedDays: 1}; team/scratch {untaggedDays: 1, taggedDays: 14}.
IMAGES = [
    image("team/api", "sha256:api-untagged-10d", "2026-01-21T00:00:00Z"),
    image("team/api", "sha256:api-untagged-3d", "2026-01-28T00:00:00Z"),
    image("team/api", "sha256:api-v1-200d", "2025-07-15T00:00:00Z", ["v1"]),
    image("team/api", "sha256:api-v2-100d", "2025-10-23T00:00:00Z", ["v2", "latest"]),
    image("team/worker", "sha256:worker-untagged-2d", "2026-01-29T00:00:00Z"),
    image("team/worker", "sha256:worker-tagged-400d", "2024-12-27T00:00:00Z", ["v0"]),
    image("team/scratch", "sha256:scratch-tagged-20d", "2026-01-11T00:00:00Z", ["pr-1"]),
    # Not declared: no purge filter names it, only the registry's retention policy (30 days) applies.
    image("other/x", "sha256:other-untagged-40d", "2025-12-22T00:00:00Z"),
    image("other/x", "sha256:other-untagged-20d", "2026-01-11T00:00:00Z"),
    image("other/x", "sha256:other-tagged-400d", "2024-12-27T00:00:00Z", ["old"]),
]


def registryctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registryctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def simulate(tmp_path: Path, images: Any, *source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "images.json"
    path.write_text(json.dumps(images))
    return registryctl("retention", "simulate", "--platform", "acr", *source, "--images", str(path), "--now", NOW)


def test_the_example_stack_registry_is_evaluated_on_every_image(tmp_path: Path):
    result = simulate(tmp_path, IMAGES, "--stack", "azure")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == {
        "expire": sorted(
            ["sha256:api-untagged-10d", "sha256:api-v1-200d", "sha256:worker-untagged-2d",
             "sha256:scratch-tagged-20d", "sha256:other-untagged-40d"]
        ),
        "keep": sorted(
            ["sha256:api-untagged-3d", "sha256:api-v2-100d", "sha256:worker-tagged-400d",
             "sha256:other-untagged-20d", "sha256:other-tagged-400d"]
        ),
    }  # fmt: skip


def test_one_repository_of_the_stack(tmp_path: Path):
    result = simulate(tmp_path, IMAGES, "--stack", "azure", "--repository", "team/worker")
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == {"expire": ["sha256:worker-untagged-2d"], "keep": ["sha256:worker-tagged-400d"]}
    assert "skipping 8 images of other repositories" in result.stderr


def test_a_declared_repository_matches_its_retention_intent(tmp_path: Path):
    # What the stack declares for team/api (compiled to purge filters) deletes what its intent says it should.
    api = [i for i in IMAGES if i["repository"] == "team/api"]
    declared = simulate(tmp_path, api, "--stack", "azure", "--repository", "team/api")
    intent_path = tmp_path / "intent.json"
    intent_path.write_text(json.dumps({"untaggedDays": 7, "taggedDays": 180}))
    images_path = tmp_path / "images.json"
    intent = registryctl("retention", "simulate", "--platform", "intent", "--policy", str(intent_path),
                         "--images", str(images_path), "--now", NOW)  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    assert intent.returncode == 0, intent.stderr
    assert digests(declared.stdout) == digests(intent.stdout)


def test_a_stack_file_without_retention_or_acr_and_an_unknown_repository(tmp_path: Path):
    plain = {"config": {"registries:acr": {"resourceGroup": {"name": "rg"}, "name": "acme12345", "sku": "Basic",
                                           "repositories": [{"name": "app"}]}}}  # fmt: skip
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump(plain))
    nothing = simulate(tmp_path, IMAGES[:2], "--stack-file", str(stack))
    assert nothing.returncode == 0, nothing.stderr
    assert digests(nothing.stdout)["expire"] == []
    assert "declares no retention" in nothing.stderr
    unknown = simulate(tmp_path, IMAGES, "--stack", "azure", "--repository", "team/nope")
    assert unknown.returncode == 2
    assert "'team/nope': not a repository" in unknown.stderr
    assert "team/api" in unknown.stderr
    other = simulate(tmp_path, IMAGES, "--stack", "aws")
    assert other.returncode == 2
    assert "declares no registries:acr" in other.stderr
    both = simulate(tmp_path, IMAGES, "--stack", "azure", "--policy", str(stack))
    assert both.returncode == 2
    assert "not both" in both.stderr
