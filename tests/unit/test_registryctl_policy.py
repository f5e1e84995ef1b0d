"""`registryctl preview`/`up` run the guardrails policy pack (policy/) by default: `--policy-pack DIR` picks another,
`--no-policy` runs none. Boundary tests against the recording `pulumi` stand-in (tests/support/fake_pulumi_cli.py):
the argv the Automation API hands the CLI, and what registryctl makes of the CLI's policy events. What the real
engine does with the pack is tests/engine/test_policy_pack.py's and tests/policy's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from registryctl import automation
from registryctl.cli import main
from registryctl.stack_files import PROJECT_DIR
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.registryctl_project import project_copy

VIOLATION = {
    "policyEvent": {
        "resourceUrn": "urn:pulumi:prod::registries::docker:index/container:Container::prod-registry-ui",
        "message": "A self-hosted registry accepts TLS 1.2 or newer only...\n[selfhosted-tls] docker:index/container:"
        "Container 'prod-registry-ui': the registry UI serves plain HTTP on 0.0.0.0:8080, off loopback",
        "color": "never",
        "policyName": "selfhosted-tls",
        "policyPackName": "registries-guardrails",
        "policyPackVersion": "0.1.0",
        "policyPackVersionTag": "0.1.0",
        "enforcementLevel": "mandatory",
    }
}


def _with_pack(root: Path) -> Path:
    """The project's policy pack copied into the project copy, its virtualenv standing in as already created."""
    pack = root / "policy"
    shutil.copytree(PROJECT_DIR / "policy", pack, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    marker = pack / "venv" / "lib" / "python3.11" / "site-packages" / "pulumi_policy" / "__init__.py"
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    return pack


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_stack: str = "local") -> Path:
    """A copy of the project with the local stack file (as `as_stack`), without the encryptionsalt a run of the
    real CLI in the checkout may have written into it."""
    root = project_copy(tmp_path, monkeypatch, "local", as_stack=as_stack)
    stack_file = root / "stacks" / f"Pulumi.{as_stack}.yaml"
    lines = stack_file.read_text().splitlines(keepends=True)
    stack_file.write_text("".join(line for line in lines if not line.startswith("encryptionsalt:")))
    return root


def _policy_args(fake: FakePulumi, command: str) -> list[str]:
    call = next(c for c in fake.calls() if c.args[:1] == [command])
    return [call.args[i + 1] for i, arg in enumerate(call.args) if arg == "--policy-pack"]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    return use_fake_pulumi(tmp_path, monkeypatch, outputs={})


def test_preview_runs_the_projects_guardrails_by_default(fake, tmp_path, monkeypatch):
    pack = _with_pack(_project(tmp_path, monkeypatch))
    assert main(["preview", "-s", "local"]) == 0
    assert _policy_args(fake, "preview") == [str(pack)]


def test_no_policy_runs_none_and_a_project_without_policy_dir_runs_none(fake, tmp_path, monkeypatch):
    root = _project(tmp_path, monkeypatch)
    assert main(["preview", "-s", "local"]) == 0
    assert _policy_args(fake, "preview") == []
    _with_pack(root)
    assert main(["up", "-s", "local", "--no-policy"]) == 0
    assert _policy_args(fake, "up") == []


def test_policy_pack_names_another_pack(fake, tmp_path, monkeypatch):
    _project(tmp_path, monkeypatch)
    other = _with_pack(tmp_path / "elsewhere")
    assert main(["up", "-s", "local", "--policy-pack", str(other)]) == 0
    assert _policy_args(fake, "up") == [str(other)]


def test_a_directory_without_pulumipolicy_yaml_is_refused_before_the_cli_runs(fake, tmp_path, monkeypatch, capsys):
    _project(tmp_path, monkeypatch)
    assert main(["preview", "-s", "local", "--policy-pack", str(tmp_path)]) != 0
    assert "holds no PulumiPolicy.yaml" in capsys.readouterr().err
    assert not [c for c in fake.calls() if c.args[:1] == ["preview"]]


def test_a_violating_production_preview_exits_non_zero_naming_the_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    fake = use_fake_pulumi(
        tmp_path,
        monkeypatch,
        outputs={},
        events={"preview": [VIOLATION]},
        fail={"preview": "error: preview failed"},
    )
    pack = _with_pack(_project(tmp_path, monkeypatch, as_stack="prod"))
    assert main(["preview", "-s", "prod"]) != 0
    err = capsys.readouterr().err
    assert "policy violations" in err
    assert "mandatory selfhosted-tls:" in err
    assert "[selfhosted-tls] docker:index/container:Container 'prod-registry-ui'" in err
    assert _policy_args(fake, "preview") == [str(pack)]


def test_advisory_violations_are_shown_after_a_passing_preview(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    advisory = {"policyEvent": {**VIOLATION["policyEvent"], "enforcementLevel": "advisory"}}
    use_fake_pulumi(tmp_path, monkeypatch, outputs={}, events={"preview": [advisory]})
    _with_pack(_project(tmp_path, monkeypatch))
    assert main(["preview", "-s", "local"]) == 0
    assert "advisory selfhosted-tls:" in capsys.readouterr().err


def test_a_virtualenv_that_cannot_be_created_names_the_command_and_no_policy(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("name: p\nruntime: python\n")
    (pack / "requirements.txt").write_text(f"{tmp_path / 'no-such-package-dir'}\n")
    with pytest.raises(automation.RegistryCtlError) as raised:
        automation.policy_packs("preview", str(pack), False)
    message = str(raised.value)
    assert (
        f"python3 -m venv {pack / 'venv'} && {pack / 'venv'}/bin/pip install -r {pack / 'requirements.txt'}" in message
    )
    assert "--no-policy" in message
    assert automation.policy_packs("refresh", str(pack), False) == []
