"""Ctrl-C during an engine operation: let the Pulumi CLI cancel cleanly, then exit 130 saying what to do.

The terminal sends SIGINT to the whole foreground process group: registryctl and its `pulumi` child. The CLI
answers the first one by cancelling gracefully (it finishes the operations in flight, writes the state, releases
the lock). Python's default answer, KeyboardInterrupt, would unwind the Automation API's `subprocess.Popen` while
the CLI is still cancelling: its __exit__ closes the child's pipes without waiting, and the CLI's next write to
its stdout kills it (SIGPIPE) half-way, with pending operations and a stale lock left in the state. So while the
engine runs, SIGINT only sets a flag; the CLI's exit then ends the operation, and registryctl reports it."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from registryctl.errors import Interrupted


def interrupted_message(command: str, stack: str) -> str:
    return (
        f"interrupted: the Pulumi CLI was asked to cancel `{command}` of stack {stack} and has stopped. "
        f"Resources it had started may exist outside the state: run `registryctl refresh -s {stack}`, then "
        f"`registryctl {command if command != 'preview' else 'up'} -s {stack}` again. If a later command says the "
        "stack is locked by this update, run `pulumi cancel` on the same backend (only when no other update runs)"
    )


@contextmanager
def cancel_on_interrupt(command: str, stack: str) -> Iterator[None]:
    """Run an engine operation with SIGINT turned into a flag; Interrupted (exit 130) when it was set."""
    seen: list[int] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if not seen:
            print(
                "\nregistryctl: Ctrl-C: the Pulumi CLI is cancelling and finishing what is in flight; wait for it",
                file=sys.stderr,
                flush=True,
            )
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    except Exception:
        if not seen:
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise Interrupted(interrupted_message(command, stack))
