"""The toolchain's language hosts on the real CLI: our own pulumi-language-python (tools/pulumi/cmd/pulumi-language-
python, the real one's module is not served) and pulumi-language-yaml, with a file:// backend in a temporary
directory. Each program is outside any checkout and uses no provider plugin, so only the hosts are under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.conftest import clean_environ

PASSPHRASE = "language-host-passphrase"
SECRET = "language-host-s3cr3t-value"

DYNAMIC_PROGRAM = """\
import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Shout(ResourceProvider):
    def create(self, props):
        return CreateResult(id_="shout-1", outs={"value": props["value"].upper()})


class Shouted(Resource):
    value: pulumi.Output[str]

    def __init__(self, name, value):
        super().__init__(Shout(), name, {"value": value})


config = pulumi.Config()
shouted = Shouted("shout", config.require("word"))
pulumi.export("shouted", shouted.value)
pulumi.export("token", config.require_secret("token"))
pulumi.export("stack", pulumi.get_stack())
"""


def _python_project(directory: Path, name: str, program: str, virtualenv: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {virtualenv}\n"
    )
    (directory / "__main__.py").write_text(program)
    return directory


def _pulumi(toolchain_bin: Path, tmp_path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "state").mkdir(exist_ok=True)
    env = {
        **clean_environ(os.environ),
        "PATH": f"{toolchain_bin}:{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "1",
    }
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_python_program_with_a_dynamic_resource_up_preview_destroy(toolchain_bin: Path, tmp_path: Path) -> None:
    program = _python_project(tmp_path / "app", "hosts-python", DYNAMIC_PROGRAM, sys.prefix)
    run = lambda *args: _pulumi(toolchain_bin, tmp_path, program, *args)  # noqa: E731
    _ok(run("stack", "init", "dev"))
    _ok(run("config", "set", "word", "hello"))
    _ok(run("config", "set", "--secret", "token", SECRET))

    up = _ok(run("up", "--yes", "--skip-preview"))
    assert "+ 2 created" in up
    outputs = json.loads(_ok(run("stack", "output", "--json", "--show-secrets")))
    assert outputs == {"shouted": "HELLO", "token": SECRET, "stack": "dev"}
    plain = json.loads(_ok(run("stack", "output", "--json")))
    assert plain["token"] == "[secret]"
    state = _ok(run("stack", "export"))
    assert SECRET not in state, "the secret config value is in the state in plain text"
    assert '"type": "pulumi-python:dynamic:Resource"' in state

    _ok(run("preview", "--expect-no-changes"))
    _ok(run("config", "set", "word", "changed"))
    changed = run("preview", "--expect-no-changes")
    assert changed.returncode != 0, "preview --expect-no-changes passed although an input changed"

    about = _ok(run("about"))
    assert "registries stand-in" in about  # the language host in use is ours, from the toolchain

    destroyed = _ok(run("destroy", "--yes", "--skip-preview"))
    assert "- 2 deleted" in destroyed


def test_python_program_error_is_reported_once_and_fails_the_update(toolchain_bin: Path, tmp_path: Path) -> None:
    failing = 'import pulumi\nraise ValueError("registries:selfHosted.port is 0; allowed: 1-65535")\n'
    program = _python_project(tmp_path / "app", "hosts-error", failing, sys.prefix)
    _ok(_pulumi(toolchain_bin, tmp_path, program, "stack", "init", "dev"))
    up = _pulumi(toolchain_bin, tmp_path, program, "up", "--yes", "--skip-preview")
    output = up.stdout + up.stderr
    assert up.returncode != 0
    assert "ValueError: registries:selfHosted.port is 0; allowed: 1-65535" in output
    # Exit code 32 of the runner (error already shown) must not add the generic message.
    assert "non-zero exit code" not in output


def test_install_creates_the_virtualenv_of_the_runtime_options(toolchain_bin: Path, tmp_path: Path) -> None:
    program = _python_project(tmp_path / "app", "hosts-install", "import pulumi\n", "venv")
    (program / "requirements.txt").write_text("# nothing to install: the test runs offline\n")
    install = _ok(_pulumi(toolchain_bin, tmp_path, program, "install"))
    assert "Finished installing dependencies" in install
    assert (program / "venv" / "bin" / "python").exists()
    assert (program / "venv" / "pyvenv.cfg").exists()


def test_yaml_program_with_config_and_outputs(toolchain_bin: Path, tmp_path: Path) -> None:
    program = tmp_path / "yaml"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(
        "name: hosts-yaml\nruntime: yaml\n"
        "config:\n  greeting:\n    type: string\n    default: hi\n"
        "outputs:\n  message: ${greeting}\n  project: ${pulumi.project}\n"
    )
    run = lambda *args: _pulumi(toolchain_bin, tmp_path, program, *args)  # noqa: E731
    _ok(run("stack", "init", "dev"))
    _ok(run("config", "set", "greeting", "bonjour"))
    _ok(run("up", "--yes", "--skip-preview"))
    assert json.loads(_ok(run("stack", "output", "--json"))) == {"message": "bonjour", "project": "hosts-yaml"}
    _ok(run("preview", "--expect-no-changes"))
    _ok(run("destroy", "--yes", "--skip-preview"))
