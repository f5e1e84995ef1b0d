"""registryctl's backend and secrets defaults, seen from the `pulumi` the Automation API runs.

Boundary tests: the real CLI cannot be installed here, so a recording stand-in named `pulumi` is first on
PATH (tests/support/fake_pulumi_cli.py). It answers like the CLI and refuses what the CLI refuses (no
backend and no token; a self-managed backend without a passphrase), and records argv and environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import registryctl.cli
from registryctl.cli import EXIT_CONFIG, main
from registryctl.stack_files import PROJECT_DIR
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.pulumi_events import LOCAL_OUTPUTS, local_preview_events


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return use_fake_pulumi(tmp_path, monkeypatch, events={"preview": local_preview_events()}, outputs=LOCAL_OUTPUTS)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project (Pulumi.yaml and the stack files) that registryctl runs in."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.local.yaml", root / "stacks" / "Pulumi.local.yaml")
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", root)
    return root


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _default_state_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".local" / "state" / "registries"


def _passphrase_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config" / "registries" / "passphrase"


def _engine_env(fake: FakePulumi, command: str = "preview") -> dict[str, str]:
    return next(c.env for c in fake.calls() if c.args[:1] == [command])


def test_first_run_keeps_state_in_a_per_user_file_backend_with_a_generated_passphrase(fake, tmp_path, capsys):
    assert main(["preview", "-s", "local"]) == 0
    out, err = capsys.readouterr()
    state = _default_state_dir(tmp_path)
    env = _engine_env(fake)
    assert env["PULUMI_BACKEND_URL"] == f"file://{state}"
    passphrase_file = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert passphrase_file == _passphrase_file(tmp_path)  # not beside the state it encrypts (review L4)
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    passphrase = passphrase_file.read_text()
    assert len(passphrase) >= 32
    # Never printed, never on a command line, never in an environment, never in the repo.
    assert passphrase not in out + err
    for call in fake.calls():
        assert passphrase not in " ".join(call.argv)
        assert passphrase not in json.dumps(call.env)
    assert not passphrase_file.is_relative_to(PROJECT_DIR)
    # Said where, once.
    assert err.count(str(state)) == 1


def test_later_runs_reuse_the_same_passphrase(fake, tmp_path, capsys):
    assert main(["preview", "-s", "local"]) == 0
    first = (_passphrase_file(tmp_path)).read_text()
    assert main(["preview", "-s", "local"]) == 0
    assert (_passphrase_file(tmp_path)).read_text() == first
    # The second run selected the stack the first one created instead of creating another.
    assert fake.commands().count(["stack", "init"]) == 1


def test_xdg_state_home_is_where_state_goes(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert main(["preview", "-s", "local"]) == 0
    assert _engine_env(fake)["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'xdg' / 'registries'}"


def test_a_passphrase_from_the_environment_is_used_and_none_is_generated(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "users-own-passphrase")
    assert main(["preview", "-s", "local"]) == 0
    env = _engine_env(fake)
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "users-own-passphrase"
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env
    assert not (_passphrase_file(tmp_path)).exists()


def test_a_passphrase_file_from_the_environment_is_used(fake, tmp_path, monkeypatch):
    own = tmp_path / "own-passphrase"
    own.write_text("from-a-file")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(own))
    assert main(["preview", "-s", "local"]) == 0
    assert _engine_env(fake)["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(own)
    assert not (_passphrase_file(tmp_path)).exists()


def test_a_user_logged_in_to_pulumi_cloud_keeps_that_backend(fake, tmp_path, capsys):
    credentials = tmp_path / "home" / ".pulumi" / "credentials.json"
    credentials.parent.mkdir(parents=True)
    credentials.write_text(json.dumps({"current": "https://api.pulumi.com", "accessTokens": {}}))
    fake.add_stack("https://api.pulumi.com", "local")
    assert main(["preview", "-s", "local"]) == 0
    env = _engine_env(fake)
    assert "PULUMI_BACKEND_URL" not in env
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env  # Pulumi Cloud encrypts secrets itself
    assert not _default_state_dir(tmp_path).exists()
    assert "state" not in capsys.readouterr().err


def test_a_user_logged_in_to_a_self_managed_backend_keeps_it_and_gets_a_passphrase(fake, tmp_path, monkeypatch):
    own_state = tmp_path / "own-state"
    own_state.mkdir()
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    credentials = tmp_path / "pulumi-home" / "credentials.json"
    credentials.parent.mkdir()
    credentials.write_text(json.dumps({"current": f"file://{own_state}"}))
    assert main(["preview", "-s", "local"]) == 0
    env = _engine_env(fake)
    assert "PULUMI_BACKEND_URL" not in env
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(_passphrase_file(tmp_path))


def test_an_access_token_means_pulumi_cloud(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-not-a-real-token")
    fake.add_stack("https://api.pulumi.com", "local")
    assert main(["preview", "-s", "local"]) == 0
    assert "PULUMI_BACKEND_URL" not in _engine_env(fake)
    assert not _default_state_dir(tmp_path).exists()


def test_pulumi_backend_url_from_the_environment_is_kept(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://team-state")
    assert main(["preview", "-s", "local"]) == 0
    env = _engine_env(fake)
    assert env["PULUMI_BACKEND_URL"] == "s3://team-state"
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(_passphrase_file(tmp_path))


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "azblob://container", "gs://bucket", "https://api.pulumi.com"])
def test_backend_flag_overrides_the_environment(fake, monkeypatch, url):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://other")
    assert main(["preview", "-s", "local", "--backend", url]) == 0
    env = _engine_env(fake)
    assert env["PULUMI_BACKEND_URL"] == url
    assert ("PULUMI_CONFIG_PASSPHRASE_FILE" in env) == (not url.startswith("https://"))


def test_backend_flag_with_a_file_url_uses_that_directory(fake, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    assert main(["preview", "-s", "local", "--backend", f"file://{target}"]) == 0
    assert _engine_env(fake)["PULUMI_BACKEND_URL"] == f"file://{target}"


def test_an_unknown_backend_scheme_is_refused_before_the_cli_runs(fake, capsys):
    assert main(["preview", "-s", "local", "--backend", "ftp://host/state"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "--backend" in err
    assert "ftp://host/state" in err
    assert "s3://" in err
    assert "file://" in err
    assert not any(c.args[:1] == ["preview"] for c in fake.calls())


def test_a_passphrase_file_others_can_read_is_refused(fake, tmp_path, capsys):
    state = _default_state_dir(tmp_path)
    state.mkdir(parents=True)
    (state / "passphrase").write_text("leaked?")
    os.chmod(state / "passphrase", 0o644)
    assert main(["preview", "-s", "local"]) != 0
    err = capsys.readouterr().err
    assert str(state / "passphrase") in err
    assert "chmod 600" in err
    assert "leaked?" not in err
    assert not any(c.args[:1] == ["preview"] for c in fake.calls())


def test_outputs_of_a_default_backend_stack_are_read_with_its_passphrase(fake, tmp_path, capsys):
    assert main(["outputs", "-s", "local"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "caCertPem": LOCAL_OUTPUTS["caCertPem"]["value"],
        "endpoint": "localhost:5000",
        "users": "[secret]",
    }
    shown = next(c for c in fake.calls() if "--show-secrets" in c.args)
    assert shown.env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(_passphrase_file(tmp_path))


def test_registryctl_writes_nothing_into_the_project(fake, project, tmp_path):
    before = _tree(project)
    fake.set_scenario(events={"preview": local_preview_events(), "up": []}, outputs=LOCAL_OUTPUTS)
    assert main(["preview", "-s", "local"]) == 0
    assert main(["up", "-s", "local"]) == 0
    assert _tree(project) == before
    assert (_passphrase_file(tmp_path)).exists()


def test_a_stack_salted_by_another_passphrase_is_refused_with_what_to_do(fake, project, tmp_path, capsys):
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text("encryptionsalt: v1:c2FsdA==:v1:AAAA:BBBB\n" + stack_file.read_text())
    assert main(["preview", "-s", "local"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(stack_file) in err
    assert "PULUMI_CONFIG_PASSPHRASE" in err
    assert "encryptionsalt" in err
    assert not (_passphrase_file(tmp_path)).exists()
    assert not any(c.args[:1] == ["preview"] for c in fake.calls())


def test_a_salted_stack_opens_with_the_passphrase_file_that_salted_it(fake, project, tmp_path):
    assert main(["preview", "-s", "local"]) == 0  # generates the passphrase (the real CLI would salt now)
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text("encryptionsalt: v1:c2FsdA==:v1:AAAA:BBBB\n" + stack_file.read_text())
    assert main(["preview", "-s", "local"]) == 0


def test_a_stack_with_its_own_secrets_provider_gets_no_passphrase(fake, project, tmp_path):
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text("secretsprovider: awskms://alias/registries\n" + stack_file.read_text())
    assert main(["preview", "-s", "local"]) == 0
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in _engine_env(fake)
    assert not (_passphrase_file(tmp_path)).exists()


def test_a_backend_in_pulumi_yaml_is_kept(fake, project, tmp_path):
    team_state = tmp_path / "team-state"
    team_state.mkdir()
    with (project / "Pulumi.yaml").open("a") as stream:
        stream.write(f"backend:\n  url: file://{team_state}\n")
    assert main(["preview", "-s", "local"]) == 0
    env = _engine_env(fake)
    assert "PULUMI_BACKEND_URL" not in env  # the CLI reads Pulumi.yaml itself
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(_passphrase_file(tmp_path))


def test_a_passphrase_generated_beside_the_state_moves_out_of_it_intact(fake, project, tmp_path, capsys):
    state = _default_state_dir(tmp_path)
    state.mkdir(parents=True, mode=0o755)  # as an older mkdir or a restore may leave it
    state.chmod(0o755)
    old = state / "passphrase"
    old.write_text("the-passphrase-that-salted-the-stack")
    old.chmod(0o600)
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text("encryptionsalt: v1:c2FsdA==:v1:AAAA:BBBB\n" + stack_file.read_text())
    assert main(["preview", "-s", "local"]) == 0
    err = capsys.readouterr().err
    new = _passphrase_file(tmp_path)
    assert new.read_text() == "the-passphrase-that-salted-the-stack"
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert stat.S_IMODE(new.parent.stat().st_mode) == 0o700
    assert not old.exists()
    assert f"moved the generated secrets passphrase from {old} to {new}" in err
    assert stat.S_IMODE(state.stat().st_mode) == 0o700  # tightened
    assert _engine_env(fake)["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(new)
    assert main(["preview", "-s", "local"]) == 0  # the next run finds it where it went
    assert new.read_text() == "the-passphrase-that-salted-the-stack"


def test_two_different_generated_passphrases_are_refused_and_both_kept(fake, tmp_path, capsys):
    old = _default_state_dir(tmp_path) / "passphrase"
    new = _passphrase_file(tmp_path)
    for path, text in ((old, "one"), (new, "two")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
    assert main(["preview", "-s", "local"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(old) in err
    assert str(new) in err
    assert (old.read_text(), new.read_text()) == ("one", "two")
