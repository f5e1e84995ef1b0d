"""examples/automation/promote.py: dev is previewed, deployed and verified before prod is previewed and gated.

Boundary tests with the recording `pulumi` stand-in (see test_registryctl_engine.py); `verify_dev` is the
example's own parameter, given a recorder here because the stand-in deploys no registry to push to.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from examples.automation.promote import deploy_dev, main, promote
from registries.config import ConfigError
from registryctl.automation import EngineError, NotConfirmed
from registryctl.cli import EXIT_CONFIG
from registryctl.registry_client import RegistryCtlError
from registryctl.stack_files import PROJECT_DIR
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.pulumi_events import LOCAL_OUTPUTS, failing_up_events, local_preview_events, local_up_events

EVENTS = {"preview": local_preview_events(), "up": local_up_events()}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class VerifyRecorder:
    """Stands in for verify_stack: records the outputs it was given; fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, outputs: Mapping[str, tuple[Any, bool]]) -> str:
        self.seen.append({k: v for k, (v, _secret) in outputs.items()})
        if self.fail:
            raise RegistryCtlError("pushed digest sha256:aaa but pulled sha256:bbb")
        return "sha256:probe"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return use_fake_pulumi(tmp_path, monkeypatch, events=EVENTS, outputs=LOCAL_OUTPUTS)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project with a prod stack whose secrets need no CLI (a copy of the local stack)."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.dev.yaml", root / "stacks" / "Pulumi.dev.yaml")
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.local.yaml", root / "stacks" / "Pulumi.prod-eu.yaml")
    return root


def _operations(fake: FakePulumi) -> list[tuple[str, str]]:
    """(command, stack) of each engine operation the stand-in ran, in order."""
    return [
        (c.args[0], c.args[c.args.index("--stack") + 1]) for c in fake.calls() if c.args[:1] in (["preview"], ["up"])
    ]


def test_promote_with_yes_deploys_and_verifies_dev_then_previews_and_deploys_prod(fake, project):
    verify = VerifyRecorder()
    outputs = promote("dev", "prod-eu", yes=True, project_dir=project, verify_dev=verify, out=io.StringIO())
    assert _operations(fake) == [("preview", "dev"), ("up", "dev"), ("preview", "prod-eu"), ("up", "prod-eu")]
    assert verify.seen == [{k: v["value"] for k, v in LOCAL_OUTPUTS.items()}]
    assert outputs["endpoint"] == ("localhost:5000", False)
    assert outputs["users"][1] is True  # still marked secret for the caller


def test_promote_stops_after_the_prod_preview_without_a_terminal(fake, project):
    with pytest.raises(NotConfirmed, match="--yes"):
        promote("dev", "prod-eu", project_dir=project, verify_dev=VerifyRecorder(), stdin=io.StringIO("y\n"))
    assert _operations(fake)[-1] == ("preview", "prod-eu")
    assert ("up", "prod-eu") not in _operations(fake)


def test_promote_asks_at_the_terminal_and_deploys_prod_on_yes(fake, project):
    err = io.StringIO()
    promote("dev", "prod-eu", project_dir=project, verify_dev=VerifyRecorder(), stdin=Terminal("yes\n"), err=err)
    assert _operations(fake)[-2:] == [("preview", "prod-eu"), ("up", "prod-eu")]
    assert "Deploy these changes to prod-eu? [y/N]" in err.getvalue()


def test_promote_asks_and_stops_on_no(fake, project):
    with pytest.raises(NotConfirmed, match="not deployed"):
        promote("dev", "prod-eu", project_dir=project, verify_dev=VerifyRecorder(), stdin=Terminal("n\n"))
    assert ("up", "prod-eu") not in _operations(fake)


def test_a_dev_that_does_not_verify_never_reaches_prod(fake, project):
    with pytest.raises(RegistryCtlError, match="pulled"):
        promote("dev", "prod-eu", yes=True, project_dir=project, verify_dev=VerifyRecorder(fail=True))
    assert [stack for _command, stack in _operations(fake)] == ["dev", "dev"]


def test_a_failed_dev_deploy_is_not_verified(tmp_path, monkeypatch, project):
    fake = use_fake_pulumi(
        tmp_path, monkeypatch, events={"preview": local_preview_events(), "up": failing_up_events()}, fail={"up": "x"}
    )
    verify = VerifyRecorder()
    with pytest.raises(EngineError, match="up"):
        promote("dev", "prod-eu", yes=True, project_dir=project, verify_dev=verify, out=io.StringIO())
    assert verify.seen == []
    assert _operations(fake) == [("preview", "dev"), ("up", "dev")]


def test_a_prod_config_error_stops_before_dev_is_touched(fake, project):
    (project / "stacks" / "Pulumi.prod-eu.yaml").write_text("config:\n  registries:selfHosted:\n    port: 0\n")
    with pytest.raises(ConfigError, match=r"registries:selfHosted\.port"):
        promote("dev", "prod-eu", yes=True, project_dir=project, verify_dev=VerifyRecorder())
    assert fake.calls() == []


def test_deploy_dev_refuses_a_production_stack(fake, project):
    with pytest.raises(RegistryCtlError, match="production"):
        deploy_dev("prod-eu", project_dir=project)
    assert fake.calls() == []


def test_main_exits_2_when_the_repositorys_prod_stack_still_needs_its_secrets(fake, monkeypatch, capsys):
    verify = VerifyRecorder(fail=True)  # never the real one: it would write /etc/docker/certs.d
    monkeypatch.setattr("examples.automation.promote.verify_stack", verify)
    assert main(["--yes"]) == EXIT_CONFIG
    assert verify.seen == []
    assert "registries:selfHosted.tls.certificate" in capsys.readouterr().err
    assert fake.calls() == []
