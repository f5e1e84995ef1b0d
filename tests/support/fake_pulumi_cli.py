"""A recording stand-in for the `pulumi` executable, for boundary tests of registryctl.

The Pulumi CLI cannot be installed on these machines, so the Automation API never runs for real here.
`FakePulumi.install(tmp_path)` writes an executable named `pulumi` into a directory the tests put first on
PATH. Every call appends its argv, environment, working directory and stdin to `calls.jsonl`, and answers
the way the CLI does for the commands the Automation API runs (see pulumi/automation/_local_workspace.py
and _stack.py): `version`, `whoami --json`, `stack select/init/output/history`, `config get`, `plugin install`,
`preview`/`up`/`refresh`/`destroy` with `--event-log FILE` (engine events as JSON lines, ended by a
cancelEvent, which is what the Automation API's log watcher waits for), or, when the scenario's version
is after v3.205, `--event-log tcp://HOST:PORT` (the same events over the Automation API's Events gRPC
service, as newer CLIs send them).

It also refuses what the CLI refuses, so a test fails the way a user's first run would:
- no backend (no PULUMI_BACKEND_URL, no `backend.url` in Pulumi.yaml, no current account in
  credentials.json) and no PULUMI_ACCESS_TOKEN: the non-interactive login error;
- a self-managed backend (file://, s3://, azblob://, gs://) without PULUMI_CONFIG_PASSPHRASE(_FILE):
  the passphrase error; a file:// backend whose directory does not exist: the bucket error;
- `plugin install` of a plugin listed as unreachable: the download error.
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FAKE_DIR_ENV = "FAKE_PULUMI_DIR"
CLOUD_URL = "https://api.pulumi.com"
SELF_MANAGED = ("file://", "s3://", "azblob://", "gs://")
ROOT = Path(__file__).resolve().parents[2]


def _fail(message: str, code: int = 255) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _available_stdin() -> str:
    """What is waiting on stdin, without blocking on a terminal or an idle pipe."""
    try:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return ""
    return os.read(sys.stdin.fileno(), 65536).decode(errors="replace") if ready else ""


def _credentials_current() -> str:
    folder = os.environ.get("PULUMI_CREDENTIALS_PATH") or os.environ.get("PULUMI_HOME")
    path = Path(folder) / "credentials.json" if folder else Path.home() / ".pulumi" / "credentials.json"
    if not path.exists():
        return ""
    return str(json.loads(path.read_text()).get("current") or "")


def _backend_url() -> str:
    """The CLI's order: PULUMI_BACKEND_URL, Pulumi.yaml backend.url, the current account of credentials.json."""
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    project = Path.cwd() / "Pulumi.yaml"
    if project.exists():
        url = ((yaml.safe_load(project.read_text()) or {}).get("backend") or {}).get("url")
        if url:
            return str(url)
    current = _credentials_current()
    if current:
        return current
    return CLOUD_URL if os.environ.get("PULUMI_ACCESS_TOKEN") else ""


def _stack_secrets_provider(stack: str | None) -> str:
    """`secretsprovider:` of the stack file (in Pulumi.yaml's stackConfigDir), or ""."""
    project = Path.cwd() / "Pulumi.yaml"
    config_dir = (yaml.safe_load(project.read_text()) or {}).get("stackConfigDir", "") if project.exists() else ""
    path = Path.cwd() / config_dir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) if stack and path.exists() else None
    return str(document.get("secretsprovider") or "") if isinstance(document, dict) else ""


def _passphrase_missing() -> bool:
    if "PULUMI_CONFIG_PASSPHRASE" in os.environ:
        return False
    phrase_file = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE", "")
    return not (phrase_file and Path(phrase_file).is_file())


def _option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


class _Cli:
    def __init__(self, home: Path, args: list[str]) -> None:
        self.home = home
        self.args = args
        self.scenario: dict[str, Any] = json.loads((home / "scenario.json").read_text())
        state_path = home / "state.json"
        self.state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {"stacks": {}}

    def save(self) -> None:
        (self.home / "state.json").write_text(json.dumps(self.state))

    def backend(self, needs_secrets: bool, stack: str | None = None) -> str | int:
        """The backend URL, or the CLI's exit code after printing its error."""
        stack = stack or _option(self.args, "--stack")
        provider = _option(self.args, "--secrets-provider") or _stack_secrets_provider(stack)
        needs_secrets = needs_secrets and provider in ("", "passphrase")
        url = _backend_url()
        if not url:
            return _fail("PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions")
        if url.startswith("file://") and not Path(url.removeprefix("file://")).is_dir():
            return _fail(f"problem logging in: unable to open bucket {url}: no such file or directory")
        if needs_secrets and url.startswith(SELF_MANAGED) and _passphrase_missing():
            return _fail(
                'constructing secrets manager of type "passphrase": passphrase must be set with '
                "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
            )
        return url

    def stacks(self, url: str) -> list[str]:
        return self.state["stacks"].setdefault(url, [])

    def run(self) -> int:
        args = self.args
        if args[:1] == ["version"]:
            print(self.scenario.get("version", "v3.200.0"))
            return 0
        if args[:2] == ["plugin", "install"]:
            kind, name, version = args[2:5]
            if not re.fullmatch(r"v?\d+\.\d+\.\d+([-+].*)?", version):  # the CLI's semver.ParseTolerant
                return _fail(f"invalid plugin semver: {version}")
            if name in self.scenario.get("unreachable_plugins", []):
                return _fail(
                    f"[{kind} plugin {name}-{version}] downloading from "
                    f"https://api.github.com/repos/pulumi/pulumi-{name}/releases/tags/v{version}: "
                    'Get "https://api.github.com": dial tcp: lookup api.github.com: no such host'
                )
            print(f"[{kind} plugin {name}-{version}] installing")
            return 0
        if args[:1] == ["whoami"]:
            url = self.backend(needs_secrets=False)
            if isinstance(url, int):
                return url
            print(json.dumps({"user": "tester", "url": url, "organizations": []}))
            return 0
        stack = _option(args, "--stack")
        if args[:2] == ["stack", "select"]:
            url = self.backend(needs_secrets=False)
            if isinstance(url, int):
                return url
            if stack not in self.stacks(url):
                return _fail(f"no stack named '{stack}' found")
            return 0
        if args[:2] == ["stack", "init"]:
            url = self.backend(needs_secrets=True, stack=args[2])
            if isinstance(url, int):
                return url
            name = args[2]
            if name in self.stacks(url):
                return _fail(f"stack '{name}' already exists")
            self.stacks(url).append(name)
            self.save()
            print(f"Created stack '{name}'")
            return 0
        if args[:2] == ["stack", "output"]:
            url = self.backend(needs_secrets="--show-secrets" in args)
            if isinstance(url, int):
                return url
            outputs: dict[str, dict[str, Any]] = self.scenario.get("outputs", {})
            shown = "--show-secrets" in args
            print(json.dumps({k: v["value"] if shown or not v["secret"] else "[secret]" for k, v in outputs.items()}))
            return 0
        if args[:2] == ["config", "get"]:
            url = self.backend(needs_secrets=True)
            if isinstance(url, int):
                return url
            key = args[2]
            config: dict[str, dict[str, Any]] = self.scenario.get("config", {})
            if key not in config:
                return _fail(f"configuration key '{key}' not found for stack '{stack}'")
            print(json.dumps(config[key]))
            return 0
        if args[:2] == ["stack", "history"]:
            print(json.dumps([self.scenario.get("history", _HISTORY)]))
            return 0
        if args[:1] and args[0] in ("preview", "up", "refresh", "destroy"):
            # A destroy preview (`destroy --preview-only`) has events and failures of its own.
            preview_only = args[0] == "destroy" and "--preview-only" in args
            return self.operation("destroy-preview" if preview_only else args[0])
        return _fail(f"the stand-in does not know `pulumi {' '.join(args)}`")

    def operation(self, command: str) -> int:
        url = self.backend(needs_secrets=True)
        if isinstance(url, int):
            return url
        log = _option(self.args, "--event-log")
        if command in self.scenario.get("trap_sigint", []):
            return self.cancel_on_sigint(command, log)
        events: list[dict[str, Any]] = self.scenario.get("events", {}).get(command, [])
        if not any("summaryEvent" in event for event in events):  # the CLI always closes with a summary
            events = [*events, {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 0, "resourceChanges": {}}}]
        records = [
            json.dumps({"sequence": sequence, "timestamp": int(time.time()), **event})
            for sequence, event in enumerate([*events, {"cancelEvent": {}}])
        ]
        if log is not None and log.startswith("tcp://"):
            _stream_over_grpc(log.removeprefix("tcp://"), records)
        elif log is not None:
            with open(log, "a", encoding="utf-8") as stream:
                for record in records:
                    stream.write(record + "\n")
                    stream.flush()
        print(f"{'Previewing' if command == 'preview' else 'Updating'} ({_option(self.args, '--stack')})")
        failure = self.scenario.get("fail", {}).get(command)
        if failure:
            return _fail(failure)
        return 0

    def cancel_on_sigint(self, command: str, log: str | None) -> int:
        """As the CLI answers a first Ctrl-C: keep running, take 1 s to cancel, say so on stdout, then fail.
        `started` tells the test when to send SIGINT; `cancelled` is written only after the stdout write worked."""
        import signal

        got: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
        print(f"Updating ({_option(self.args, '--stack')})", flush=True)
        (self.home / "started").write_text(command)
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
        print("^C received; cancelling. If you would like to terminate immediately, press ^C again.", flush=True)
        if log is not None and not log.startswith("tcp://"):
            with open(log, "a", encoding="utf-8") as stream:
                stream.write(json.dumps({"sequence": 0, "timestamp": int(time.time()), "cancelEvent": {}}) + "\n")
        (self.home / "cancelled").write_text(command)
        return _fail("update canceled")


def _stream_over_grpc(address: str, records: list[str]) -> None:
    """CLIs after v3.205 send events to the Automation API's Events gRPC service instead of a file."""
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        events_pb2_grpc.EventsStub(channel).StreamEvents(iter([events_pb2.EventRequest(event=r) for r in records]))


_HISTORY = {
    "kind": "update",
    "startTime": "2026-01-01T00:00:00.000000Z",
    "endTime": "2026-01-01T00:00:05.000000Z",
    "message": "",
    "environment": {},
    "config": {},
    "result": "succeeded",
    "resourceChanges": {},
}


def main() -> int:
    home = Path(os.environ[FAKE_DIR_ENV])
    args = [a for a in sys.argv[1:] if a != "--non-interactive"]
    record = {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(), "stdin": _available_stdin()}
    with (home / "calls.jsonl").open("a", encoding="utf-8") as calls:
        calls.write(json.dumps(record) + "\n")
    return _Cli(home, args).run()


@dataclass
class Call:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    stdin: str

    @property
    def args(self) -> list[str]:
        """argv without the `--non-interactive` the Automation API puts in front."""
        return [a for a in self.argv if a != "--non-interactive"]


class FakePulumi:
    """The stand-in's directory: write its scenario, read what it was called with."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.bin_dir = home / "bin"

    @classmethod
    def install(cls, directory: Path, **scenario: Any) -> FakePulumi:
        fake = cls(directory)
        fake.bin_dir.mkdir(parents=True, exist_ok=True)
        executable = fake.bin_dir / "pulumi"
        executable.write_text(
            textwrap.dedent(
                f"""\
                #!{sys.executable}
                import sys
                sys.path.insert(0, {str(ROOT)!r})
                from tests.support.fake_pulumi_cli import main
                sys.exit(main())
                """
            )
        )
        executable.chmod(0o755)
        fake.set_scenario(**scenario)
        return fake

    def set_scenario(self, **scenario: Any) -> None:
        (self.home / "scenario.json").write_text(json.dumps(scenario))

    def add_stack(self, backend_url: str, name: str) -> None:
        state_path = self.home / "state.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {"stacks": {}}
        state["stacks"].setdefault(backend_url, []).append(name)
        state_path.write_text(json.dumps(state))

    def calls(self) -> list[Call]:
        path = self.home / "calls.jsonl"
        if not path.exists():
            return []
        return [Call(**json.loads(line)) for line in path.read_text().splitlines()]

    def commands(self) -> list[list[str]]:
        """Each call's first words (`stack select`, `plugin install`, `up`), in order."""
        return [c.args[:2] if c.args[:1] in (["stack"], ["plugin"]) else c.args[:1] for c in self.calls()]


# What the user's shell may already say about Pulumi; each test starts from none of it.
_PULUMI_ENV = (
    "PULUMI_BACKEND_URL",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_HOME",
    "PULUMI_CREDENTIALS_PATH",
    "XDG_STATE_HOME",
)


def use_fake_pulumi(tmp_path: Path, monkeypatch: Any, **scenario: Any) -> FakePulumi:
    """Put the stand-in first on PATH, with a fresh HOME and no Pulumi settings in the environment."""
    fake = FakePulumi.install(tmp_path / "fake-pulumi", **scenario)
    monkeypatch.setenv("PATH", f"{fake.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv(FAKE_DIR_ENV, str(fake.home))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in _PULUMI_ENV:
        monkeypatch.delenv(name, raising=False)
    return fake
