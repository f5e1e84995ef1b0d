"""Show what the Pulumi engine does, from its event stream (the Automation API's `on_event`).

Human mode: one line per resource step as it starts and ends (elapsed time, how many done, how many
running), warnings and errors on stderr, and a table of the changes and the stack outputs (secrets
masked) at the end. JSON mode: one JSON object per line per event, then one `result` object.
Step state (inputs, outputs) is never printed, so no secret can leak through the display.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # `registryctl validate` imports this module without loading the Pulumi SDK
    from pulumi.automation import EngineEvent

# op -> (while running, when done, in a preview)
VERBS: dict[str, tuple[str, str, str]] = {
    "create": ("creating", "created", "+ create"),
    "update": ("updating", "updated", "~ update"),
    "replace": ("replacing", "replaced", "+- replace"),
    "create-replacement": ("creating replacement", "created replacement", "++ create replacement"),
    "delete-replaced": ("deleting replaced", "deleted replaced", "-- delete replaced"),
    "delete": ("deleting", "deleted", "- delete"),
    "read": ("reading", "read", "> read"),
    "refresh": ("refreshing", "refreshed", "~ refresh"),
    "import": ("importing", "imported", "= import"),
}
# Table rows: (label after an operation, label in a preview, the engine's op name in resourceChanges)
SUMMARY_ROWS = (
    ("created", "to create", "create"),
    ("updated", "to update", "update"),
    ("replaced", "to replace", "replace"),
    ("deleted", "to delete", "delete"),
    ("unchanged", "unchanged", "same"),
)


def resource_name(urn: str) -> str:
    """The name a program gave a resource: the last `::` part of its URN."""
    return urn.rsplit("::", 1)[-1]


def resource_changes(summary: Any) -> dict[str, int]:
    """A summary event's counts by operation name ("create", "same", ...)."""
    return {str(getattr(k, "value", k)): v for k, v in summary.resource_changes.items()}


def event_record(event: EngineEvent) -> dict[str, Any]:
    """The machine-readable form of one engine event (no step inputs or outputs)."""
    record: dict[str, Any] = {"sequence": event.sequence, "timestamp": event.timestamp}
    step = event.resource_pre_event or event.res_outputs_event or event.res_op_failed_event
    if step is not None:
        kind = "resourcePre" if event.resource_pre_event else "resOutputs" if event.res_outputs_event else "resOpFailed"
        meta = step.metadata
        record.update(type=kind, op=meta.op.value, urn=meta.urn, resourceType=meta.type)
        planning = getattr(step, "planning", None)
        if planning:
            record["planning"] = True
        if meta.diffs:
            record["diffs"] = list(meta.diffs)
    elif event.diagnostic_event is not None:
        diag = event.diagnostic_event
        record.update(type="diagnostic", severity=diag.severity, message=diag.message.rstrip("\n"))
        if diag.urn:
            record["urn"] = diag.urn
    elif event.summary_event is not None:
        summary = event.summary_event
        changes = resource_changes(summary)
        record.update(type="summary", resourceChanges=changes, durationSeconds=summary.duration_seconds)
        if summary.maybe_corrupt:
            record["maybeCorrupt"] = True
    elif event.prelude_event is not None:
        record["type"] = "prelude"
    elif event.cancel_event is not None:
        record["type"] = "cancel"
    elif event.stdout_event is not None:
        record.update(type="stdout", message=event.stdout_event.message.rstrip("\n"))
    elif event.policy_event is not None:
        policy = event.policy_event
        record.update(type="policy", policy=policy.policy_name, level=policy.enforcement_level, message=policy.message)
    else:
        record["type"] = "other"
    return record


def masked(outputs: Mapping[str, tuple[Any, bool]], show_secrets: bool = False) -> dict[str, Any]:
    """Stack outputs for printing: secret values replaced by "[secret]" unless asked for."""
    return {k: (v if show_secrets or not secret else "[secret]") for k, (v, secret) in outputs.items()}


def _show(value: Any) -> str:
    if isinstance(value, str):
        lines = value.strip().splitlines() or [""]
        return lines[0] + (f" … ({len(lines)} lines)" if len(lines) > 1 else "")
    return json.dumps(value, sort_keys=True)


class Progress:
    """Renders one engine operation (preview, up, refresh, destroy) as it happens."""

    def __init__(
        self,
        command: str,
        stack: str,
        as_json: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = command
        self.stack = stack
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = clock
        self.started = clock()
        self.running: dict[str, str] = {}  # urn -> op of steps started and not yet finished
        self.done = 0
        self.counted: dict[str, int] = {}  # op -> steps finished, when no summary event arrives
        self.changes: dict[str, int] | None = None  # the engine's own counts, from its summary event
        self.duration: int | None = None
        self._lock = threading.Lock()  # events arrive on the Automation API's log-watcher thread
        self.closed = False

    @property
    def dry_run(self) -> bool:
        return self.command == "preview"

    def _elapsed(self) -> str:
        seconds = int(self.clock() - self.started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def on_event(self, event: EngineEvent) -> None:
        with self._lock:
            if event.summary_event is not None:
                summary = event.summary_event
                self.changes = resource_changes(summary)
                self.duration = summary.duration_seconds
            if self.closed:
                return
            try:
                if self.as_json:
                    print(json.dumps(event_record(event)), file=self.out, flush=True)
                else:
                    self._render(event)
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        """The reader of our output went away (`| head`): stop printing, let the operation finish."""
        self.closed = True
        # What Python's docs advise, so that the flush at exit does not raise again.
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())

    def _render(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = meta.op.value
            if op == "same":
                return
            label = f"{resource_name(meta.urn)} ({meta.type})"
            if event.resource_pre_event.planning or self.dry_run:
                print(f"  {VERBS.get(op, ('', '', op))[2]:<22} {label}", file=self.out, flush=True)
                self.counted[op] = self.counted.get(op, 0) + 1
                return
            self.running[meta.urn] = op
            print(f"[{self._elapsed()}] {VERBS.get(op, (op,))[0]:<20} {label}", file=self.out, flush=True)
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            op = meta.op.value
            self.counted[op] = self.counted.get(op, 0) + 1
            if op == "same" or self.dry_run:
                return
            self.running.pop(meta.urn, None)
            self.done += 1
            print(
                f"[{self._elapsed()}] {VERBS.get(op, ('', op))[1]:<20} {resource_name(meta.urn)} ({meta.type})"
                f"  {self.done} done, {len(self.running)} running",
                file=self.out,
                flush=True,
            )
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.running.pop(meta.urn, None)
            print(
                f"[{self._elapsed()}] {'FAILED ' + meta.op.value:<20} {resource_name(meta.urn)} ({meta.type})",
                file=self.err,
                flush=True,
            )
        elif event.diagnostic_event is not None:
            diag = event.diagnostic_event
            message = diag.message.rstrip("\n")
            where = f" ({resource_name(diag.urn)})" if diag.urn else ""
            if diag.severity in ("error", "warning"):
                print(f"  {diag.severity}{where}: {message}", file=self.err, flush=True)
            elif diag.severity == "info":
                print(f"  {message}", file=self.out, flush=True)

    def change_counts(self) -> dict[str, int]:
        """Changes by op: the engine's summary when it sent one, else what the stream showed."""
        return dict(self.changes if self.changes is not None else self.counted)

    def finish(self, outputs: Mapping[str, tuple[Any, bool]] | None = None, status: str = "succeeded") -> None:
        """The final summary: a table of changes and the outputs, or one JSON `result` object."""
        if self.closed:
            return
        try:
            self._finish(outputs, status)
        except BrokenPipeError:
            self._reader_gone()

    def _finish(self, outputs: Mapping[str, tuple[Any, bool]] | None, status: str) -> None:
        changes = self.change_counts()
        shown = masked(outputs) if outputs is not None else None
        if self.as_json:
            result: dict[str, Any] = {
                "type": "result",
                "command": self.command,
                "stack": self.stack,
                "status": status,
                "resourceChanges": changes,
                "durationSeconds": self.duration,
            }
            if shown is not None:
                result["outputs"] = shown
            print(json.dumps(result, sort_keys=True), file=self.out, flush=True)
            return
        took = f", {self.duration}s" if self.duration is not None else ""
        print(f"\n{self.command} {self.stack}: {status}{took}", file=self.out)
        for after, before, op in SUMMARY_ROWS:
            print(f"  {before if self.dry_run else after:<12} {changes.get(op, 0):>4}", file=self.out)
        if shown:
            width = max(len(k) for k in shown)
            print("outputs:", file=self.out)
            for key in sorted(shown):
                print(f"  {key:<{width}}  {_show(shown[key])}", file=self.out)
        self.out.flush()
