"""Run registryctl in a subprocess, as a user runs it, but on a project directory of the test's own (its Pulumi.yaml
and stack files) instead of this checkout: `python -m tests.support.registryctl_process PROJECT ARGS...`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from registryctl.stack_files import PROJECT_DIR


def start(project: Path, env: dict[str, str], *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """Start `registryctl ARGS` on `project` with `env` (secrets go there, never on the command line)."""
    command = [sys.executable, "-m", __name__, str(project), *args]
    pipe = subprocess.PIPE
    return subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=pipe, stderr=pipe, text=True, start_new_session=new_session
    )


def kill_at_first(process: subprocess.Popen[str], prefix: str) -> str:
    """SIGKILL the process as soon as it prints a stdout line starting with `prefix`; that line ("" if none)."""
    assert process.stdout is not None
    assert process.stderr is not None
    seen = next((line for line in process.stdout if line.startswith(prefix)), "")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    process.stderr.close()
    return seen


def main(argv: list[str]) -> int:
    from registryctl import cli  # late: a test imports this module only to start the process

    cli.PROJECT_DIR = Path(argv[0])
    return cli.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
