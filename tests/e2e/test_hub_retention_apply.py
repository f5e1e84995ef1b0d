"""`registryctl retention apply -s STACK` on Docker Hub, run as a user runs it (`python -m registryctl` in a
subprocess) against the Hub API emulator: the stack is deployed by the real providers through the local engine,
tags are pushed with chosen digests and push times, and apply deletes exactly what the evaluator expires."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.retention.intent import evaluate
from registries.config.retention import load_retention
from registryctl.stack_files import PROJECT_DIR
from tests.e2e.test_dockerhub import apply as deploy
from tests.e2e.test_dockerhub import engine
from tests.support import registryctl_process
from tests.support.hub_emulator import HubEmulator
from tests.support.hub_retention_scenario import (
    EXPIRED_TAGS,
    FIRST,
    NOW,
    RETENTION,
    TOOLS_RETENTION,
    expected_images,
    hub_config,
    seed,
    tags_on,
    without_expired,
)

pytestmark = pytest.mark.e2e
USER, PASSWORD = "acmebot", "hub-password-e2e-retention"
STACK = "hub"


@dataclass
class Scenario:
    hub: HubEmulator
    project: Path
    env: dict[str, str]
    journal: Path

    def run(self, *args: str) -> tuple[str, str]:
        """`registryctl ARGS` on this scenario's project; Hub credentials come from the environment, as in CI."""
        process = registryctl_process.start(self.project, self.env, *args)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"registryctl {' '.join(args)} exited {process.returncode}:\n{out}\n{err}"
        assert PASSWORD not in out + err
        return out, err


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
    with HubEmulator(users={USER: PASSWORD}) as hub:
        monkeypatch.setenv("DOCKER_USERNAME", USER)
        monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
        config = hub_config(hub.url)
        deploy(engine(), config, stack=STACK)  # the repositories, created by the real providers
        seed(hub)
        project = tmp_path / "project"
        (project / "stacks").mkdir(parents=True)
        (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
        (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(
            yaml.safe_dump({"config": {"registries:dockerHub": config}})
        )
        state = tmp_path / "state"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "XDG_STATE_HOME": str(state)}
        yield Scenario(hub, project, env, state / "registries" / "retention" / f"{STACK}.dockerhub.json")


def test_apply_plans_then_deletes_exactly_the_evaluators_expire_set(scenario: Scenario):
    images = expected_images()
    expired = set()
    for repository, block in (("acme/app", RETENTION), ("acme/tools", TOOLS_RETENTION)):
        own = [i for i in images if i.repository == repository]
        expired |= evaluate(load_retention(block), own, NOW).expire
    assert {(i.repository, t) for i in images if i.key in expired for t in i.tags} == {
        (r, t) for r, tags in EXPIRED_TAGS.items() for t in tags
    }
    before = tags_on(scenario.hub)

    plan, _ = scenario.run("retention", "apply", "-s", STACK, "--now", NOW.isoformat())
    assert f"{len(expired)} to delete, {len(images) - len(expired)} to keep" in plan
    assert tags_on(scenario.hub) == before, "a plan without --yes deleted something"

    out, err = scenario.run("retention", "apply", "-s", STACK, "--now", NOW.isoformat(), "--yes")
    assert {line.split()[1] for line in out.splitlines() if line.startswith("deleted acme/")} == {
        f"{r}:{t}" for r, tags in EXPIRED_TAGS.items() for t in tags
    }
    assert "[2/2] acme/tools" in err  # the progress display
    assert tags_on(scenario.hub) == without_expired(before)  # kept and protected tags still name their digests
    assert not scenario.journal.exists()


def test_apply_killed_after_its_first_tag_delete_keeps_kept_images_and_a_rerun_finishes(scenario: Scenario):
    before = tags_on(scenario.hub)
    args = ("retention", "apply", "-s", STACK, "--now", NOW.isoformat(), "--yes", "--delete-interval", "30")
    process = registryctl_process.start(scenario.project, scenario.env, *args, new_session=True)
    first = registryctl_process.kill_at_first(process, "deleted ")
    # The first expired image has two tags; the kill comes between them.
    assert first.split()[1] == "acme/app:pr-1", first
    after_kill = tags_on(scenario.hub)
    assert after_kill["acme/app"] == {t: d for t, d in before["acme/app"].items() if t != "pr-1"}
    assert after_kill["acme/tools"] == before["acme/tools"]
    assert scenario.journal.exists()

    plan, _ = scenario.run(*args[:-3])  # without --yes: shows the unfinished image, deletes nothing
    assert f"expire acme/app@{FIRST}" in plan
    assert tags_on(scenario.hub) == after_kill

    scenario.run(*args[:-2])
    assert tags_on(scenario.hub) == without_expired(before)
    assert not scenario.journal.exists()
