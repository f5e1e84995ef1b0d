"""registryctl up/preview through the Automation API: plugins, the live display, --json, --yes, exit codes.

Boundary tests: a recording stand-in named `pulumi` (tests/support/fake_pulumi_cli.py) is first on PATH;
it answers like the CLI and replays engine events (tests/support/pulumi_events.py) into the event log the
Automation API watches. What the real engine would do is not tested here (no CLI on these machines).
"""

from __future__ import annotations

import io
import json
import shutil
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import registryctl.cli
from registries.config import load_stack_spec
from registryctl.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_NOT_CONFIRMED, EXIT_USAGE, main
from registryctl.plugins import required_plugins
from registryctl.progress import Progress
from registryctl.stack_files import PROJECT_DIR
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.pulumi_events import (
    CONTAINER,
    LOCAL_OUTPUTS,
    VOLUME,
    done,
    failing_up_events,
    local_preview_events,
    local_up_events,
    pre,
    summary,
)

SECRET_PASSWORD = LOCAL_OUTPUTS["users"]["value"]["admin"]
EVENTS = {"preview": local_preview_events(), "up": local_up_events()}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return use_fake_pulumi(tmp_path, monkeypatch, events=EVENTS, outputs=LOCAL_OUTPUTS)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project (Pulumi.yaml + stack files) that tests may add stacks to."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    for stack in (PROJECT_DIR / "stacks").glob("Pulumi.*.yaml"):
        shutil.copy(stack, root / "stacks" / stack.name)
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.local.yaml", root / "stacks" / "Pulumi.prod-eu.yaml")
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", root)
    return root


class Terminal(io.StringIO):
    """Stdin attached to a terminal, with the user's typed answer."""

    def isatty(self) -> bool:
        return True


def _plugin_installs(fake: FakePulumi) -> list[list[str]]:
    return [c.args[2:5] for c in fake.calls() if c.args[:2] == ["plugin", "install"]]


# --- plugins -------------------------------------------------------------------------------------------


def test_preview_first_installs_exactly_the_plugins_of_the_stack_at_the_sdk_versions(fake):
    assert main(["preview", "-s", "local"]) == 0
    assert _plugin_installs(fake) == [
        ["resource", "docker", metadata.version("pulumi-docker")],
        ["resource", "tls", metadata.version("pulumi-tls")],
        ["resource", "random", metadata.version("pulumi-random")],
    ]
    commands = fake.commands()
    assert commands.index(["preview"]) > max(i for i, c in enumerate(commands) if c == ["plugin", "install"])


def test_the_plugin_versions_are_those_the_provider_sdks_drive(fake):
    """The SDK's pulumi-plugin.json names the plugin version its resources ask the engine for."""
    assert main(["preview", "-s", "local"]) == 0
    assert len(_plugin_installs(fake)) == 3
    for _kind, name, version in _plugin_installs(fake):
        files = metadata.files(f"pulumi-{name}") or []
        plugin_json = next(f for f in files if f.name == "pulumi-plugin.json")
        assert json.loads(plugin_json.read_text())["version"] == version


def test_a_docker_hub_only_stack_needs_no_plugin(fake):
    assert main(["preview", "-s", "hub"]) == 0
    assert _plugin_installs(fake) == []


def test_s3_storage_that_creates_its_bucket_needs_the_aws_plugin():
    raw = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    self_hosted = raw["registries:selfHosted"]
    self_hosted["storage"] = {"kind": "s3", "region": "eu-west-1", "create": True, "bucket": "acme-registry-images"}
    spec = load_stack_spec({"selfHosted": self_hosted}, "s3", PROJECT_DIR)
    assert [p.name for p in required_plugins(spec)] == ["docker", "tls", "random", "aws"]
    assert next(p for p in required_plugins(spec) if p.name == "aws").version == metadata.version("pulumi-aws")
    self_hosted["storage"] = {"kind": "s3", "region": "eu-west-1", "create": False, "bucket": "existing"}
    spec = load_stack_spec({"selfHosted": self_hosted}, "s3", PROJECT_DIR)
    assert "aws" not in [p.name for p in required_plugins(spec)]


def test_tls_plugin_only_for_a_self_signed_certificate():
    raw = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    self_hosted = {**raw["registries:selfHosted"], "tls": {"mode": "none"}, "insecure": True}
    spec = load_stack_spec({"selfHosted": self_hosted}, "plain", PROJECT_DIR)
    assert [p.name for p in required_plugins(spec)] == ["docker", "random"]


def test_an_unreachable_plugin_stops_before_the_engine_with_what_to_do(tmp_path, monkeypatch, capsys):
    fake = use_fake_pulumi(tmp_path, monkeypatch, events=EVENTS, unreachable_plugins=["tls"])
    assert main(["up", "-s", "local"]) == EXIT_FAILED
    err = capsys.readouterr().err
    version = metadata.version("pulumi-tls")
    assert f"tls {version}" in err
    assert "no such host" in err  # the CLI's reason
    assert f"pulumi plugin install resource tls {version}" in err
    assert ["up"] not in fake.commands()


def test_bad_config_stops_before_the_cli_runs(fake, project, capsys):
    (project / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  registries:selfHosted:\n    port: 99999\n")
    assert main(["up", "-s", "broken"]) == EXIT_CONFIG
    assert "registries:selfHosted.port" in capsys.readouterr().err
    assert fake.calls() == []


# --- the live display ----------------------------------------------------------------------------------


# The Automation API reads engine events from a file for CLIs up to v3.205, over gRPC after that.
@pytest.mark.parametrize("cli_version", ["v3.200.0", "v3.210.0"])
def test_up_shows_each_change_as_it_happens_and_a_summary_with_masked_outputs(fake, capsys, cli_version):
    fake.set_scenario(version=cli_version, events=EVENTS, outputs=LOCAL_OUTPUTS)
    assert main(["up", "-s", "local"]) == 0
    event_log = next(c for c in fake.calls() if c.args[:1] == ["up"]).args
    assert event_log[event_log.index("--event-log") + 1].startswith("tcp://" if cli_version > "v3.205" else "/")
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert any(
        "replacing" in line and "selfhosted-container (docker:index/container:Container)" in line for line in lines
    )
    created = next(line for line in lines if "created" in line and "selfhosted-user-ci" in line)
    assert "1 done, 1 running" in created  # the password is done while the container is being replaced
    replaced = next(line for line in lines if "replaced" in line and "selfhosted-container" in line)
    assert "2 done, 0 running" in replaced
    assert replaced.startswith("[00:")
    assert not any("selfhosted-network" in line for line in lines)  # unchanged resources are only counted
    assert "warning (selfhosted-container): container restarted" in err
    labels = ("created", "updated", "replaced", "deleted", "unchanged")
    table = {line.split()[0]: line.split()[1] for line in lines if line.split()[:1] in ([x] for x in labels)}
    assert table == {"created": "1", "updated": "0", "replaced": "1", "deleted": "0", "unchanged": "4"}
    assert "up local: succeeded, 7s" in out
    assert any(line.split() == ["endpoint", "localhost:5000"] for line in lines)
    assert any(line.split() == ["users", "[secret]"] for line in lines)
    assert SECRET_PASSWORD not in out + err


def test_preview_lists_what_would_change(fake, capsys):
    assert main(["preview", "-s", "local"]) == 0
    out = capsys.readouterr().out
    assert "+ create" in out
    assert "selfhosted-user-ci (random:index/randomPassword:RandomPassword)" in out
    assert "+- replace" in out
    assert any(line.split() == ["to", "create", "1"] for line in out.splitlines())
    assert any(line.split() == ["to", "replace", "1"] for line in out.splitlines())


@pytest.mark.parametrize("cli_version", ["v3.200.0", "v3.210.0"])
def test_json_prints_one_event_per_line_then_the_result(fake, capsys, cli_version):
    fake.set_scenario(version=cli_version, events=EVENTS, outputs=LOCAL_OUTPUTS)
    assert main(["up", "-s", "local", "--json"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds[0] == "prelude"
    assert kinds[-1] == "result"
    assert kinds.count("resourcePre") == 6  # "same" steps too: JSON shows everything
    replaced = next(r for r in records if r["type"] == "resOutputs" and r["op"] == "replace")
    assert replaced["resourceType"] == "docker:index/container:Container"
    assert replaced["urn"].endswith("::selfhosted-container")
    summary = next(r for r in records if r["type"] == "summary")
    assert summary["resourceChanges"] == {"same": 4, "create": 1, "replace": 1}
    assert records[-1]["outputs"]["users"] == "[secret]"
    assert records[-1]["status"] == "succeeded"
    assert SECRET_PASSWORD not in out + err


def test_a_failed_up_shows_the_engine_error_and_exits_1(tmp_path, monkeypatch, capsys):
    use_fake_pulumi(tmp_path, monkeypatch, events={"up": failing_up_events()}, fail={"up": "update failed"}, outputs={})
    assert main(["up", "-s", "local"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert "port 5000 is already allocated" in err
    assert "FAILED create" in err
    assert "update failed" in err
    assert "up local: failed" in out


def test_elapsed_time_comes_from_the_clock():
    from pulumi.automation import EngineEvent

    from tests.support.pulumi_events import CONTAINER, pre

    now = [100.0]
    out = io.StringIO()
    progress = Progress("up", "local", out=out, err=io.StringIO(), clock=lambda: now[0])
    now[0] = 165.0
    progress.on_event(EngineEvent.from_json(pre("create", CONTAINER, "c")))
    assert out.getvalue().startswith("[01:05] creating")


# --- confirmation on prod* stacks, exit codes ----------------------------------------------------------


def test_up_on_prod_without_a_terminal_or_yes_refuses_before_anything_runs(fake, project, capsys):
    assert main(["up", "-s", "prod-eu"]) == EXIT_NOT_CONFIRMED
    err = capsys.readouterr().err
    assert "--yes" in err
    assert "not a terminal" in err
    assert fake.calls() == []


def test_up_on_prod_with_yes_deploys_without_a_preview(fake, project):
    assert main(["up", "-s", "prod-eu", "--yes"]) == 0
    assert ["preview"] not in fake.commands()
    assert ["up"] in fake.commands()


def test_up_on_prod_previews_then_asks_and_deploys_on_yes(fake, project, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["up", "-s", "prod-eu"]) == 0
    out, err = capsys.readouterr()
    commands = fake.commands()
    assert commands.index(["preview"]) < commands.index(["up"])
    assert "Deploy these changes to prod-eu? [y/N]" in err
    assert out.index("to replace") < out.index("replaced")  # the preview's table came before the update


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])
def test_up_on_prod_stops_unless_the_answer_is_yes(fake, project, monkeypatch, capsys, answer):
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["up", "-s", "prod-eu"]) == EXIT_NOT_CONFIRMED
    assert ["preview"] in fake.commands()
    assert ["up"] not in fake.commands()
    assert "not deployed" in capsys.readouterr().err


def test_up_on_other_stacks_never_asks(fake, capsys):
    assert main(["up", "-s", "local"]) == 0
    assert ["preview"] not in fake.commands()
    assert "[y/N]" not in capsys.readouterr().err


def test_destroy_still_needs_yes(fake, capsys):
    assert main(["destroy", "-s", "local"]) == EXIT_USAGE  # a usage error: nothing ran
    assert "destroy needs --yes" in capsys.readouterr().err
    assert fake.calls() == []


def test_destroy_shows_the_deletions_and_installs_no_plugin(fake, capsys):
    events = [
        pre("delete", CONTAINER, "selfhosted-container"),
        done("delete", CONTAINER, "selfhosted-container"),
        summary(duration=3, delete=1),
    ]
    fake.set_scenario(events={"destroy": events}, outputs={})
    assert main(["destroy", "-s", "local", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "deleting" in out
    assert "deleted" in out
    assert any(line.split() == ["deleted", "1"] for line in out.splitlines())
    assert _plugin_installs(fake) == []


def test_destroy_previews_first_so_a_protected_resource_stops_it_before_any_deletion(fake, capsys):
    protected = 'error: unable to delete resource "urn:pulumi:prod::registries::docker:index/volume:Volume::data"'
    fake.set_scenario(fail={"destroy-preview": protected}, outputs={})
    assert main(["destroy", "-s", "prod", "--yes"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "nothing was deleted" in err
    assert "unable to delete resource" in err
    destroys = [c.args for c in fake.calls() if c.args[:1] == ["destroy"]]
    assert destroys
    assert all("--preview-only" in args for args in destroys)


def test_refresh_installs_the_plugins_and_shows_the_refresh(fake, capsys):
    events = [pre("refresh", VOLUME, "selfhosted-volume"), done("refresh", VOLUME, "selfhosted-volume"), summary()]
    fake.set_scenario(events={"refresh": events}, outputs={})
    assert main(["refresh", "-s", "local"]) == 0
    assert "refreshed" in capsys.readouterr().out
    assert len(_plugin_installs(fake)) == 3


@pytest.mark.parametrize("cli_version", ["v3.0.0", "v4.0.0"])
def test_an_unusable_cli_version_exits_1_and_says_why(fake, capsys, cli_version):
    fake.set_scenario(version=cli_version)
    assert main(["preview", "-s", "local"]) == EXIT_FAILED  # exit 3 is for a missing CLI only (review L2)
    err = capsys.readouterr().err
    assert "Pulumi CLI" in err
    assert cli_version.removeprefix("v") in err


class ClosedPipe(io.StringIO):
    """An output whose reader went away after `lines` lines (`registryctl up --json | head -2`)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines = lines

    def write(self, text: str) -> int:
        if self.getvalue().count("\n") >= self.lines:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_closed_output_stops_the_display_not_the_operation():
    from pulumi.automation import EngineEvent

    out = ClosedPipe(lines=2)
    progress = Progress("up", "local", as_json=True, out=out, err=io.StringIO())
    for event in local_up_events():
        progress.on_event(EngineEvent.from_json(event))
    progress.finish({"endpoint": ("localhost:5000", False)})
    assert progress.closed
    assert out.getvalue().count("\n") == 2
    assert progress.change_counts() == {"same": 4, "create": 1, "replace": 1}


def test_an_ecr_stack_needs_the_aws_plugin_once():
    raw = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.aws.yaml").read_text())["config"]
    ecr_only = load_stack_spec({"ecr": raw["registries:ecr"]}, "aws", PROJECT_DIR)
    assert [p.name for p in required_plugins(ecr_only)] == ["aws"]
    local = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    self_hosted = local["registries:selfHosted"]
    self_hosted["storage"] = {"kind": "s3", "region": "eu-west-1", "create": True, "bucket": "acme-registry-images"}
    both = load_stack_spec({"selfHosted": self_hosted, "ecr": raw["registries:ecr"]}, "aws", PROJECT_DIR)
    assert [p.name for p in required_plugins(both)].count("aws") == 1


def test_verify_of_an_ecr_stack_never_reports_success_for_what_it_did_not_check(fake, capsys):
    fake.set_scenario(outputs={})  # declared but not deployed
    assert main(["verify", "-s", "aws"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert "ECR: the stack output ecr is missing" in err
    assert out == ""
