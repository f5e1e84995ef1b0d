"""Ctrl-C during `registryctl up` (review 8b2eaff self-hosted L1): the terminal sends SIGINT to registryctl and the
`pulumi` child together. The stand-in CLI traps it as the real one does, takes 1 s to cancel and then writes to its
stdout; registryctl must keep reading its pipes until the CLI has finished cancelling, then exit 130 with what to do.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from registryctl.errors import EXIT_INTERRUPTED
from registryctl.stack_files import PROJECT_DIR
from tests.support import registryctl_process
from tests.support.fake_pulumi_cli import use_fake_pulumi


@pytest.mark.parametrize("command", ["up", "refresh"])
def test_ctrl_c_lets_the_cli_cancel_and_exits_130_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    fake = use_fake_pulumi(tmp_path, monkeypatch, trap_sigint=[command])
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.local.yaml", project / "stacks" / "Pulumi.local.yaml")
    process = registryctl_process.start(project, dict(os.environ), command, "-s", "local", new_session=True)
    deadline = time.monotonic() + 120
    while not (fake.home / "started").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the stand-in CLI never started the operation"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as the terminal does: the whole foreground process group
    _out, err = process.communicate(timeout=120)
    assert (fake.home / "cancelled").exists(), f"the CLI died while cancelling:\n{err}"
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    assert "registryctl refresh -s local" in err
    assert "pulumi cancel" in err
