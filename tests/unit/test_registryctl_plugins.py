"""registryctl and ambient plugins: a `pulumi-resource-NAME` on PATH is what the CLI runs, so it needs no install.

The CLI's lookup (sdk/go/common/workspace/plugins.go, getPluginInfoAndPath, v3.276.0) takes an executable found on
$PATH before the plugin cache, whatever its version, unless PULUMI_IGNORE_AMBIENT_PLUGINS is `1` or `true`.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest

from registryctl.cli import EXIT_FAILED, main
from registryctl.plugins import ambient_plugin
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.pulumi_events import LOCAL_OUTPUTS, local_preview_events, local_up_events

EVENTS = {"preview": local_preview_events(), "up": local_up_events()}


def _ambient(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        plugin = directory / f"pulumi-resource-{name}"
        plugin.write_text("#!/bin/sh\nexit 1\n")
        plugin.chmod(0o755)
    return directory


def _installs(fake: FakePulumi) -> list[str]:
    return [c.args[3] for c in fake.calls() if c.args[:2] == ["plugin", "install"]]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    monkeypatch.delenv("PULUMI_IGNORE_AMBIENT_PLUGINS", raising=False)
    return use_fake_pulumi(tmp_path, monkeypatch, events=EVENTS, outputs=LOCAL_OUTPUTS)


def _put_on_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")


def test_a_plugin_on_path_is_not_installed_the_others_are(fake, tmp_path, monkeypatch):
    _put_on_path(monkeypatch, _ambient(tmp_path / "plugins", "tls"))
    assert main(["preview", "-s", "local"]) == 0
    assert sorted(_installs(fake)) == ["docker", "random"]


def test_every_plugin_on_path_means_no_install_even_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("PULUMI_IGNORE_AMBIENT_PLUGINS", raising=False)
    fake = use_fake_pulumi(
        tmp_path, monkeypatch, events=EVENTS, outputs=LOCAL_OUTPUTS, unreachable_plugins=["docker", "tls", "random"]
    )
    _put_on_path(monkeypatch, _ambient(tmp_path / "plugins", "docker", "tls", "random"))
    assert main(["preview", "-s", "local"]) == 0
    assert _installs(fake) == []
    assert ["preview"] in fake.commands()


@pytest.mark.parametrize("value", ["1", "true", "TRUE"])
def test_ignore_ambient_plugins_installs_them_and_keeps_the_offline_message(tmp_path, monkeypatch, capsys, value):
    fake = use_fake_pulumi(tmp_path, monkeypatch, events=EVENTS, outputs=LOCAL_OUTPUTS, unreachable_plugins=["tls"])
    _put_on_path(monkeypatch, _ambient(tmp_path / "plugins", "docker", "tls", "random"))
    monkeypatch.setenv("PULUMI_IGNORE_AMBIENT_PLUGINS", value)
    assert main(["up", "-s", "local"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert f"pulumi plugin install resource tls {metadata.version('pulumi-tls')}" in err
    assert "tls" in _installs(fake)
    assert ["up"] not in fake.commands()


def test_only_1_or_true_opt_out_as_the_cli_reads_the_variable(tmp_path):
    directory = _ambient(tmp_path / "plugins", "docker")
    path = f"{directory}{os.pathsep}/usr/bin"
    assert ambient_plugin("docker", {"PATH": path}) == str(directory / "pulumi-resource-docker")
    assert ambient_plugin("docker", {"PATH": path, "PULUMI_IGNORE_AMBIENT_PLUGINS": "yes"}) is not None
    assert ambient_plugin("docker", {"PATH": path, "PULUMI_IGNORE_AMBIENT_PLUGINS": "True"}) is None
    assert ambient_plugin("random", {"PATH": path}) is None


def test_a_file_on_path_that_is_not_executable_is_not_a_plugin(tmp_path):
    directory = _ambient(tmp_path / "plugins", "docker")
    (directory / "pulumi-resource-docker").chmod(0o644)
    assert ambient_plugin("docker", {"PATH": str(directory)}) is None
