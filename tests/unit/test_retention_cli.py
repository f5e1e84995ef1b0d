"""`python -m registryctl retention simulate|compile`, run as a script would: exit codes and JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.retention_output import digests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-31T00:00:00Z"
IMAGES = [
    {"repository": "app", "digest": "sha256:old-release", "tags": ["v1.0.0"], "pushedAt": "2025-01-01T00:00:00Z"},
    {"repository": "app", "digest": "sha256:old-nightly", "tags": ["nightly-1"], "pushedAt": "2025-06-01T00:00:00Z"},
    {"repository": "app", "digest": "sha256:new-nightly", "tags": ["nightly-2"], "pushedAt": "2026-01-30T00:00:00Z"},
    {"repository": "app", "digest": "sha256:dangling-old", "tags": [], "pushedAt": "2026-01-01T00:00:00Z"},
    {"repository": "app", "digest": "sha256:dangling-new", "tags": [], "pushedAt": "2026-01-29T12:00:00Z"},
]
INTENT = {"protect": ["v*"], "untaggedDays": 7, "taggedDays": 90}
EXPECTED = {
    "expire": ["sha256:dangling-old", "sha256:old-nightly"],
    "keep": ["sha256:dangling-new", "sha256:new-nightly", "sha256:old-release"],
}


def registryctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registryctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def simulate(tmp_path: Path, platform: str, policy: Any, images: Any = IMAGES) -> subprocess.CompletedProcess[str]:
    return registryctl(
        "retention", "simulate", "--platform", platform, "--policy", write(tmp_path, "policy.json", policy),
        "--images", write(tmp_path, "images.json", images), "--now", NOW,
    )  # fmt: skip


def test_simulate_intent_prints_sorted_expire_and_keep(tmp_path: Path) -> None:
    result = simulate(tmp_path, "intent", INTENT)
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == EXPECTED


def test_compile_then_simulate_ecr_gives_the_intent_outcome(tmp_path: Path) -> None:
    compiled = registryctl("retention", "compile", "--platform", "ecr", "--intent", write(tmp_path, "i.json", INTENT))
    assert compiled.returncode == 0, compiled.stderr
    policy = json.loads(compiled.stdout)
    assert [rule["selection"].get("tagPatternList") for rule in policy["rules"]] == [["v*"], None, ["*"]]
    result = simulate(tmp_path, "ecr", compiled.stdout)
    assert result.returncode == 0, result.stderr
    assert digests(result.stdout) == EXPECTED


def test_compile_then_simulate_artifact_registry_gives_the_intent_outcome(tmp_path: Path) -> None:
    intent_file = write(tmp_path, "i.json", INTENT)
    compiled = registryctl("retention", "compile", "--platform", "artifact-registry", "--intent", intent_file)
    assert compiled.returncode == 0, compiled.stderr
    assert json.loads(compiled.stdout)["protect"]["condition"]["tagPrefixes"] == ["v"]
    result = simulate(tmp_path, "artifact-registry", compiled.stdout)
    assert digests(result.stdout) == EXPECTED


def test_compile_then_simulate_acr_gives_the_intent_outcome(tmp_path: Path) -> None:
    intent = {"untaggedDays": 7, "taggedDays": 90}
    compiled = registryctl("retention", "compile", "--platform", "acr", "--intent", write(tmp_path, "i.json", intent))
    assert compiled.returncode == 0, compiled.stderr
    result = simulate(tmp_path, "acr", compiled.stdout)
    assert digests(result.stdout) == {
        "expire": ["sha256:dangling-old", "sha256:old-nightly", "sha256:old-release"],
        "keep": ["sha256:dangling-new", "sha256:new-nightly"],
    }


def test_compile_rejects_what_the_platform_cannot_express_with_exit_2(tmp_path: Path) -> None:
    intent_file = write(tmp_path, "i.json", {"keepLatest": [{"tag": "pr-*", "count": 5}]})
    result = registryctl("retention", "compile", "--platform", "artifact-registry", "--intent", intent_file)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "retention.keepLatest[0]" in result.stderr
    assert "cannot keep the newest N images of a tag pattern" in result.stderr


def test_compile_rejects_an_invalid_intent_naming_the_key(tmp_path: Path) -> None:
    intent_file = write(tmp_path, "i.json", {"untaggedDays": 0})
    result = registryctl("retention", "compile", "--platform", "ecr", "--intent", intent_file)
    assert result.returncode == 2
    assert "retention.untaggedDays" in result.stderr


@pytest.mark.parametrize(
    ("platform", "policy", "field"),
    [
        ("ecr", {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged"}, "action": {"type": "expire"}}]},
         "policy.rules[0].selection.countType"),
        ("ecr", INTENT, "policy.protect: unknown field"),
        ("artifact-registry", {"d": {"action": "DELETE", "condition": {"olderThan": "7d"}}},
         "cleanupPolicies.d.condition.olderThan"),
        ("acr", {"retentionDays": 7, "purge": [{"filters": ["app:.*"], "ago": "soon"}]}, "policy.purge[0].ago"),
        ("intent", {"keepLatest": [{"tag": "pr-*", "count": 0}]}, "retention.keepLatest[0].count"),
        ("intent", "{not json", "not JSON"),
    ],
)  # fmt: skip
def test_malformed_policy_exits_2_naming_the_field(tmp_path: Path, platform: str, policy: Any, field: str) -> None:
    result = simulate(tmp_path, platform, policy)
    assert result.returncode == 2
    assert result.stdout == ""
    assert field in result.stderr


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ([{**IMAGES[0], "pushedAt": "2026-01-01T00:00:00"}], "images[0].pushedAt"),
        ([{**IMAGES[0], "tag": ["x"]}], "images[0].tag"),
        ([IMAGES[0], IMAGES[0]], "images[1].digest"),
        ([IMAGES[0], {**IMAGES[1], "tags": ["v1.0.0"]}], "images[1].tags"),
    ],
)
def test_malformed_images_exit_2_naming_the_field(tmp_path: Path, images: Any, field: str) -> None:
    result = simulate(tmp_path, "intent", INTENT, images)
    assert result.returncode == 2
    assert field in result.stderr


def test_now_defaults_to_the_current_time_and_must_carry_a_zone(tmp_path: Path) -> None:
    policy, images = write(tmp_path, "p.json", INTENT), write(tmp_path, "images.json", IMAGES)
    result = registryctl("retention", "simulate", "--platform", "intent", "--policy", policy, "--images", images)
    assert result.returncode == 0, result.stderr
    assert "sha256:old-nightly" in digests(result.stdout)["expire"]  # pushed long before today
    naive = registryctl(
        "retention", "simulate", "--platform", "intent", "--policy", policy, "--images", images,
        "--now", "2026-01-31T00:00:00",
    )  # fmt: skip
    assert naive.returncode == 2
    assert "--now needs a time zone" in naive.stderr


def test_retention_sits_beside_the_existing_commands() -> None:
    listing = registryctl("--help")
    assert listing.returncode == 0, listing.stderr
    assert all(name in listing.stdout for name in ("validate", "up", "verify", "retention"))
    assert registryctl("validate", "--help").returncode == 0
    assert "simulate" in registryctl("retention", "--help").stdout


def test_simulate_names_each_referrer_with_its_subject_and_expires_it_with_that_subject(tmp_path: Path) -> None:
    """examples/retention/signed-images.json: cosign tags, an attestation, a subject-field referrer, a referrers
    index; the protected image keeps all of them, the expired nightly takes its own, an orphan signature goes."""
    images = json.loads((ROOT / "examples/retention/signed-images.json").read_text())
    result = simulate(tmp_path, "intent", {"protect": ["latest"], "taggedDays": 180}, images)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    subject_of = {e["digest"]: e.get("subject") for entries in document.values() for e in entries}
    kept, nightly, gone = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    assert {e["digest"] for e in document["expire"]} == {nightly} | {
        d for d, s in subject_of.items() if s in (nightly, gone)
    }
    assert {e["digest"] for e in document["keep"]} == {kept} | {d for d, s in subject_of.items() if s == kept}
    assert sorted(s for s in subject_of.values() if s) == [kept] * 4 + [nightly] * 2 + [gone]
    rules = {e["digest"]: e["rule"] for e in document["expire"]}
    assert rules["sha256:" + "c1" * 32] == f"refers to {gone}, which is gone"
    assert rules["sha256:" + "b1" * 32] == f"goes with its subject {nightly}"


def test_images_file_subject_is_checked(tmp_path: Path) -> None:
    images = [
        {"repository": "app", "digest": "sha256:aa", "tags": [], "pushedAt": NOW, "subject": "not a digest"},
        {"repository": "app", "digest": "sha256:bb", "tags": [], "pushedAt": NOW, "subject": "sha256:bb"},
    ]
    result = simulate(tmp_path, "intent", INTENT, images)
    assert result.returncode == 2
    assert "images[0].subject" in result.stderr
    result = simulate(tmp_path, "intent", INTENT, images[1:])
    assert result.returncode == 2
    assert "images[0].subject" in result.stderr
    assert "its own subject" in result.stderr


@pytest.mark.parametrize("platform", ["ecr", "artifact-registry", "acr"])
def test_compile_with_referrers_names_the_first_deleting_rule(tmp_path: Path, platform: str) -> None:
    policy = write(tmp_path, "i.json", {"protect": ["v*"], "untaggedDays": 7, "taggedDays": 90})
    result = registryctl("retention", "compile", "--platform", platform, "--referrers", "--intent", policy)
    assert result.returncode == 2
    assert f"{platform} cannot express retention.untaggedDays: the repositories hold signatures" in result.stderr
