"""`registryctl retention apply` on Docker Hub, in process, against the Hub API emulator (127.0.0.1): the tag
API client, how tags become images, the plan, the deletes, and the journal that lets a re-run finish."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import registryctl.cli
from components.retention.intent import evaluate
from providers.dockerhub.client import Credentials, HubClient
from registries.config import load_stack_spec
from registries.config.dockerhub import DockerHubSpec
from registries.config.retention import load_retention
from registryctl.cli import EXIT_USAGE, main
from registryctl.hub_retention import Journal, run_hub_apply
from registryctl.registry_client import RegistryCtlError
from tests.support.hub_emulator import HubEmulator
from tests.support.hub_retention_scenario import (
    EXPIRED_TAGS,
    FIRST,
    NOW,
    REPOSITORIES,
    RETENTION,
    SEED,
    TOOLS_RETENTION,
    digest,
    expected_images,
    hub_config,
    seed,
    tags_on,
    without_expired,
)

USER, PASSWORD = "acmebot", "hub-password-unit"


def hub_spec(url: str) -> DockerHubSpec:
    spec = load_stack_spec({"dockerHub": hub_config(url)}, "hub").docker_hub
    assert spec is not None
    return spec


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    with HubEmulator(users={USER: PASSWORD}) as emulator:
        for name in REPOSITORIES:
            emulator.state.repositories[name] = {"name": name.split("/")[1], "namespace": "acme"}
        seed(emulator)
        yield emulator


@pytest.fixture
def client(hub: HubEmulator) -> Iterator[HubClient]:
    hub_client = HubClient(hub.url, Credentials(USER, PASSWORD), sleep=lambda _s: None)
    yield hub_client
    hub_client.close()


def apply(hub: HubEmulator, client: HubClient, journal: Journal, yes: bool, out: Any = None) -> str:
    stream = out or io.StringIO()
    run_hub_apply(hub_spec(hub.url), client, journal, now=NOW, yes=yes, out=stream, err=io.StringIO())
    return stream.getvalue()


def test_list_tags_follows_next_pages_and_answers_with_hub_fields(hub: HubEmulator, client: HubClient):
    for number in range(130):
        hub.push_tag("acme/docs", f"n{number}", digest(f"n{number}"), NOW)
    tags = list(client.list_tags("acme", "docs"))
    assert len(tags) == 131
    pages = [path for method, path in hub.state.requests if path.endswith("/repositories/docs/tags")]
    assert len(pages) == 2  # page_size 100, then the absolute `next` URL
    assert set(tags[0]) >= {"name", "digest", "images", "tag_last_pushed", "last_updated", "media_type"}
    assert tags[-1]["tag_last_pushed"] == "2025-04-27T00:00:00.000000Z"  # d1, 400 days before NOW, Hub's form


def test_delete_tag_is_idempotent_also_when_the_answer_is_lost(hub: HubEmulator, client: HubClient):
    assert client.delete_tag("acme", "tools", "t1") is True
    assert client.delete_tag("acme", "tools", "t1") is False
    hub.fail_after_delete(503)  # Hub applies it, the answer is lost; the retry finds the tag gone
    assert client.delete_tag("acme", "tools", "t2") is False
    assert hub.tag_digests("acme/tools") == {"t3": digest("t3")}
    hub.answer_429, hub.retry_after = 2, "0"
    assert client.delete_tag("acme", "tools", "t3") is True


def test_the_plan_deletes_nothing_and_matches_the_evaluator(hub: HubEmulator, client: HubClient, tmp_path: Path):
    before = tags_on(hub)
    plan = apply(hub, client, Journal(tmp_path / "j.json", hub.url), yes=False)
    assert tags_on(hub) == before
    assert not [m for m, _ in hub.state.requests if m == "DELETE"]
    images = expected_images()
    intent = load_retention(RETENTION)
    outcome = evaluate(intent, [i for i in images if i.repository == "acme/app"], NOW)
    expired = outcome.expire | evaluate(load_retention(TOOLS_RETENTION), images, NOW).expire & {
        i.key for i in images if i.repository == "acme/tools"
    }
    assert {(r, t) for r, d in expired for i in images if i.key == (r, d) for t in i.tags} == {
        (r, t) for r, tags in EXPIRED_TAGS.items() for t in tags
    }
    for image in images:
        action = "expire" if image.key in expired else "keep  "
        assert f"{action} {image.repository}@{image.digest}" in plan
    assert f"{len(expired)} to delete, {len(images) - len(expired)} to keep" in plan
    assert "dry run: nothing deleted" in plan
    assert "acme/docs" not in plan  # retention: {} is not listed at all
    assert f"keep   acme/app@{digest('build-7')} pushed {(NOW - timedelta(days=3)).isoformat()}" in plan


def test_yes_deletes_exactly_the_expired_tags(hub: HubEmulator, client: HubClient, tmp_path: Path):
    before = tags_on(hub)
    journal = Journal(tmp_path / "j.json", hub.url)
    out = apply(hub, client, journal, yes=True)
    after = tags_on(hub)
    assert after == without_expired(before)
    assert {"latest", "v1.0.0", "pr-0"} <= set(after["acme/app"])  # protected images keep every tag
    deleted = {line.split()[1] for line in out.splitlines() if line.startswith("deleted acme/")}
    assert deleted == {f"{r}:{t}" for r, tags in EXPIRED_TAGS.items() for t in tags}
    assert "deleted 7 tags of 6 images" in out
    assert not journal.path.exists()
    deletes = len([m for m, _ in hub.state.requests if m == "DELETE"])
    again = apply(hub, client, journal, yes=True)
    assert "0 to delete" in again
    assert len([m for m, _ in hub.state.requests if m == "DELETE"]) == deletes


class CrashAfterFirstDelete(io.StringIO):
    """An output stream that makes Hub unreachable right after the first delete is reported (the run then
    stops with an error, as a killed run would, leaving its journal)."""

    def __init__(self, hub: HubEmulator) -> None:
        super().__init__()
        self.hub = hub

    def write(self, text: str) -> int:
        if text.startswith("deleted "):
            self.hub.answer_html = 1000
        return super().write(text)


def _crash(hub: HubEmulator, client: HubClient, journal: Journal) -> None:
    with pytest.raises(RegistryCtlError, match="non-JSON page"):
        apply(hub, client, journal, yes=True, out=CrashAfterFirstDelete(hub))
    hub.answer_html = 0
    assert set(hub.tag_digests("acme/app")) == {t for r, _, tags in SEED if r == "acme/app" for t in tags} - {"pr-1"}


def test_a_rerun_after_a_crash_finishes_the_interrupted_plan(hub: HubEmulator, client: HubClient, tmp_path: Path):
    journal = Journal(tmp_path / "j.json", hub.url)
    before = tags_on(hub)
    _crash(hub, client, journal)
    assert journal.path.exists()
    plan = apply(hub, client, journal, yes=False)
    assert tags_on(hub)["acme/app"] == {t: d for t, d in before["acme/app"].items() if t != "pr-1"}
    assert f"expire acme/app@{FIRST}" in plan
    apply(hub, client, journal, yes=True)
    after = tags_on(hub)
    assert after == without_expired(before)
    assert not journal.path.exists()


def test_without_the_journal_a_rerun_would_leave_an_expired_image(hub: HubEmulator, client: HubClient, tmp_path: Path):
    """Why the journal exists: with pr-1 gone, the first image no longer counts among the newest pr-* images, so
    pr-2 moves up and a fresh evaluation keeps it."""
    journal = Journal(tmp_path / "j.json", hub.url)
    _crash(hub, client, journal)
    journal.remove()
    apply(hub, client, journal, yes=True)
    assert "pr-2" in hub.tag_digests("acme/app")


def test_an_interrupted_image_that_was_tagged_again_is_evaluated_afresh(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    journal = Journal(tmp_path / "j.json", hub.url)
    _crash(hub, client, journal)
    hub.push_tag("acme/app", "v2.0.0", FIRST, NOW)  # protected now: it must keep release-1
    out = apply(hub, client, journal, yes=True)
    assert "tagged again since: evaluated afresh" in out
    assert hub.tag_digests("acme/app")["release-1"] == FIRST


def test_a_rerun_finishes_only_the_journaled_images_todays_retention_still_expires(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    """Interrupted, then `protect: [release-1]` is added: the rest of the first image (release-1) is kept and
    reported, the journaled images still expired are deleted."""
    journal = Journal(tmp_path / "j.json", hub.url)
    before = tags_on(hub)
    _crash(hub, client, journal)
    config = hub_config(hub.url)
    config["retention"] = {**RETENTION, "protect": [*RETENTION["protect"], "release-1"]}
    spec = load_stack_spec({"dockerHub": config}, "hub").docker_hub
    assert spec is not None
    out = io.StringIO()
    run_hub_apply(spec, client, journal, now=NOW, yes=True, out=out, err=io.StringIO())
    assert hub.tag_digests("acme/app")["release-1"] == FIRST
    assert f"acme/app@{FIRST}" in out.getvalue().split("no longer expired", 1)[1]
    expected = without_expired(before)
    expected["acme/app"]["release-1"] = FIRST
    assert tags_on(hub) == expected
    assert not journal.path.exists()


def test_a_tag_pushed_again_after_the_listing_is_left_alone(hub: HubEmulator, client: HubClient, tmp_path: Path):
    class PushAfterPlan(io.StringIO):
        def write(self, text: str) -> int:
            if "dry run" not in text and " to delete, " in text:  # the plan is out, the deletes follow
                hub.push_tag("acme/app", "pr-3", digest("pr-3-new"), NOW)
            return super().write(text)

    out = apply(hub, client, Journal(tmp_path / "j.json", hub.url), yes=True, out=PushAfterPlan())
    assert f"left alone (pushed again as {digest('pr-3-new')}) acme/app:pr-3" in out
    assert hub.tag_digests("acme/app")["pr-3"] == digest("pr-3-new")


def test_journal_of_another_hub_is_ignored_and_a_broken_one_is_an_error(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    other = Journal(tmp_path / "j.json", "https://hub.example.com")
    other.write({("acme/app", digest("latest")): ("latest",)}, NOW)
    apply(hub, client, Journal(other.path, hub.url), yes=True)
    assert "latest" in hub.tag_digests("acme/app")
    other.path.write_text("{not json")
    with pytest.raises(RegistryCtlError, match=r"retention journal .* unreadable"):
        apply(hub, client, Journal(other.path, hub.url), yes=False)


def test_a_repository_missing_on_hub_is_named(hub: HubEmulator, client: HubClient, tmp_path: Path):
    del hub.state.repositories["acme/tools"]
    with pytest.raises(RegistryCtlError, match=r"no repository acme/tools: deploy the stack"):
        apply(hub, client, Journal(tmp_path / "j.json", hub.url), yes=False)


def test_a_refused_delete_names_the_credentials_and_keeps_the_journal(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    hub.forbid_tag_deletes = "access is forbidden with a JWT issued from a personal access token"
    journal = Journal(tmp_path / "j.json", hub.url)
    with pytest.raises(RegistryCtlError, match=r"403 access is forbidden .* repo:admin scope") as raised:
        apply(hub, client, journal, yes=True)
    assert PASSWORD not in str(raised.value)
    assert journal.path.exists()  # the next run (with rights) finishes the same plan
    hub.forbid_tag_deletes = None
    apply(hub, client, journal, yes=True)
    assert not journal.path.exists()


def test_apply_without_any_retention_block_says_where_to_put_one(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "stacks").mkdir()
    stack = {"config": {"registries:dockerHub": {"namespace": "acme", "repositories": [{"name": "app"}]}}}
    (tmp_path / "stacks" / "Pulumi.hub.yaml").write_text(yaml.safe_dump(stack))
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", tmp_path)
    assert main(["retention", "apply", "-s", "hub"]) == EXIT_USAGE  # nothing to apply: a usage error, nothing ran
    assert "registries:dockerHub.retention, or retention on a registries:dockerHub repository" in (
        capsys.readouterr().err
    )


def test_tags_without_a_digest_or_a_push_time_are_never_deleted_for_it(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    old = NOW - timedelta(days=400)
    legacy = hub.push_tag("acme/app", "legacy", digest("legacy"), old)
    legacy["digest"] = None  # an old tag Hub lists with its single platform image only: grouped by that digest
    broken = hub.push_tag("acme/app", "broken", digest("broken"), old, platforms=("amd64", "arm64"))
    broken["digest"] = None  # several platform images and no digest: which image it is cannot be told
    undated = hub.push_tag("acme/app", "undated", digest("undated"), old)
    undated["tag_last_pushed"] = undated["last_updated"] = None
    relisted = hub.push_tag("acme/app", "relisted", digest("relisted"), old)
    relisted["tag_last_pushed"] = None  # falls back to last_updated (old): expires under taggedDays
    out = apply(hub, client, Journal(tmp_path / "j.json", hub.url), yes=True)
    assert "tag acme/app:broken has no digest on Docker Hub: left alone" in out
    assert f"keep   acme/app@{digest('undated')} pushed unknown" in out
    assert f"deleted acme/app:legacy ({digest('legacy')})" in out
    assert f"deleted acme/app:relisted ({digest('relisted')})" in out
    assert {"broken", "undated"} <= set(hub.tag_digests("acme/app"))


def sign(hub: HubEmulator, repository: str, subject: str, age: int, *suffixes: str) -> dict[str, str]:
    """What `cosign sign` / `cosign attest` / an OCI client without the referrers API push next to `subject` on Hub:
    tags named after its digest. Returns tag -> digest."""
    pushed = {}
    for suffix in suffixes:
        tag = f"sha256-{subject.removeprefix('sha256:')}{suffix}"
        pushed[tag] = digest(f"{subject}{suffix}")
        hub.push_tag(repository, tag, pushed[tag], NOW - timedelta(days=age))
    return pushed


def test_signatures_go_with_their_image_and_stay_with_a_kept_one(hub: HubEmulator, client: HubClient, tmp_path: Path):
    """feature-x (60 days) expires under taggedDays 30 and takes its .sig/.att/.sbom and referrers index; the
    protected v1.0.0's 90-day-old signature stays; a signature of an image with no tag left on Hub stays (Hub keeps
    the untagged manifest); none of them is counted by keepLatest or aged by taggedDays."""
    gone_with = sign(hub, "acme/app", digest("feature-x"), 60, ".sig", ".att", ".sbom", "")
    kept = sign(hub, "acme/app", digest("v1"), 90, ".sig", ".att")
    untagged = sign(hub, "acme/app", digest("retagged-away"), 90, ".sig")
    tools_sig = sign(hub, "acme/tools", digest("t1"), 1, ".sig")  # keepLatest * 2: the signature is not counted
    before = tags_on(hub)
    journal = Journal(tmp_path / "j.json", hub.url)
    out = apply(hub, client, journal, yes=True)
    after = tags_on(hub)
    expired = {"acme/app": EXPIRED_TAGS["acme/app"] | set(gone_with), "acme/tools": EXPIRED_TAGS["acme/tools"]}
    assert after == {r: {t: d for t, d in own.items() if t not in expired.get(r, set())} for r, own in before.items()}
    assert set(kept) | set(untagged) <= set(after["acme/app"])
    assert set(tools_sig) <= set(after["acme/tools"])
    lines = [line for line in out.splitlines() if line.startswith("deleted acme/app:")]
    feature = lines.index("deleted acme/app:feature-x " + f"({digest('feature-x')})")
    signatures = [i for i, line in enumerate(lines) if line.split()[1].split(":", 1)[1] in gone_with]
    assert len(signatures) == 4
    assert min(signatures) > feature  # the subject's tags first, then what refers to it
    assert f"(with its subject {digest('feature-x')})" in out
    assert "untagged on Docker Hub, kept" in out


def test_a_signature_of_a_subject_journaled_as_expired_is_finished_after_a_crash(
    hub: HubEmulator, client: HubClient, tmp_path: Path
):
    """A run killed after the subject's last tag and before its signature's: the subject is no longer listed, but
    the journal holds it, so the re-run deletes the signature instead of keeping it for an untagged subject."""
    journal = Journal(tmp_path / "j.json", hub.url)
    signature = sign(hub, "acme/app", digest("feature-x"), 60, ".sig")
    planned = {
        ("acme/app", digest("feature-x")): ("feature-x",),
        ("acme/app", next(iter(signature.values()))): tuple(signature),
    }
    journal.write(planned, NOW, {key: NOW - timedelta(days=60) for key in planned})
    client.delete_tag("acme", "app", "feature-x")  # the interrupted run got this far
    apply(hub, client, journal, yes=True)
    assert not set(signature) & set(tags_on(hub)["acme/app"])
    assert not journal.path.exists()
