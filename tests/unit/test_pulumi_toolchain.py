"""The contract of scripts/pulumi-toolchain.sh, which the engine tier and CI depend on.

`bash scripts/pulumi-toolchain.sh` prints its cache's bin directory as the last line of stdout and exits 0; a
second run builds nothing; the bin directory holds the CLI, both language hosts, the SDK's Python scripts and the
provider-plugin wrappers that exec the checkout's stand-ins. scripts/test.sh builds the toolchain before pytest, so
these tests run it against a present cache: they fail (never skip) when it is missing or broken.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pulumi-toolchain.sh"
STANDIN_PLUGINS = ("docker", "random", "tls", "aws", "gcp", "azure-native", "kubernetes")
EXECUTABLES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-language-yaml",
    "pulumi-resource-pulumi-python",
    *(f"pulumi-resource-{name}" for name in STANDIN_PLUGINS),
)
# A cold build takes minutes; scripts/test.sh has built the cache before pytest starts.
BUILD_TIMEOUT = 3600


def _pinned(module_dir: str, module: str) -> str:
    go_mod = ROOT / "tools" / module_dir / "go.mod"
    match = re.search(rf"^(?:require)?\s*{re.escape(module)} (v\S+)", go_mod.read_text(), re.M)
    assert match, f"{go_mod} does not require {module}"
    return match.group(1)


def _run_script(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def toolchain_bin() -> Path:
    """The bin directory the script prints (building the cache if scripts/test.sh has not)."""
    result = _run_script()
    assert result.returncode == 0, f"pulumi-toolchain.sh failed:\n{result.stderr[-4000:]}"
    last = result.stdout.strip().splitlines()[-1]
    return Path(last)


def test_last_line_is_a_bin_directory_with_every_executable(toolchain_bin: Path) -> None:
    assert toolchain_bin.is_absolute()
    assert toolchain_bin.name == "bin"
    assert toolchain_bin.is_dir()
    assert not toolchain_bin.is_relative_to(ROOT), "the cache must live outside the checkout"
    missing = [name for name in EXECUTABLES if not os.access(toolchain_bin / name, os.X_OK)]
    assert missing == [], f"not executable in {toolchain_bin}: {missing}"


def test_second_run_builds_nothing_and_prints_the_same_directory(toolchain_bin: Path) -> None:
    start = time.monotonic()
    result = _run_script()
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(toolchain_bin)
    assert "go build" not in result.stderr, result.stderr
    assert "reusing" in result.stderr
    assert elapsed < 10, f"a warm run took {elapsed:.1f}s"


def test_a_present_cache_is_used_without_go_or_network(toolchain_bin: Path) -> None:
    """No Go on PATH and a network namespace of our own with only a down loopback: the cache is still printed."""
    system_path = "/usr/sbin:/usr/bin:/sbin:/bin"
    no_go = subprocess.run(["bash", "-c", "command -v go"], env={"PATH": system_path}, check=False)
    assert no_go.returncode != 0, "go is on the system PATH: the test would not prove anything"
    result = subprocess.run(
        ["unshare", "--net", "bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": system_path},
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(toolchain_bin)


def test_cli_and_hosts_report_the_pinned_versions(toolchain_bin: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PULUMI_HOME": str(tmp_path), "PULUMI_SKIP_UPDATE_CHECK": "1"}
    pulumi_version = _pinned("pulumi", "github.com/pulumi/pulumi/pkg/v3")
    cli = subprocess.run([toolchain_bin / "pulumi", "version"], capture_output=True, text=True, env=env, check=True)
    assert cli.stdout.strip() == pulumi_version
    python_host = subprocess.run(
        [toolchain_bin / "pulumi-language-python", "-version"], capture_output=True, text=True, check=True
    )
    assert python_host.stdout.strip() == pulumi_version
    versions = (toolchain_bin.parent / "VERSIONS").read_text()
    assert f"github.com/pulumi/pulumi/pkg/v3 {pulumi_version}" in versions
    assert f"github.com/pulumi/pulumi-yaml {_pinned('pulumi-yaml', 'github.com/pulumi/pulumi-yaml')}" in versions


def _fake_checkout(root: Path, plugin: str) -> Path:
    """A directory laid out like a checkout whose stand-in plugin prints its arguments and working directory."""
    stand_in = root / "tests/support/plugins/bin" / f"pulumi-resource-{plugin}"
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text(f'#!/bin/sh\necho "{plugin} stand-in in $PWD: $*"\n')
    stand_in.chmod(0o755)
    return root


@pytest.mark.parametrize("plugin", STANDIN_PLUGINS)
def test_plugin_wrapper_finds_the_checkout_above_the_program_directory(
    toolchain_bin: Path, tmp_path: Path, plugin: str
) -> None:
    checkout = _fake_checkout(tmp_path / "clone", plugin)
    program = checkout / "examples" / "app"
    program.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "REGISTRIES_REPO"}
    out = subprocess.run(
        [toolchain_bin / f"pulumi-resource-{plugin}", "127.0.0.1:1234"],
        capture_output=True,
        text=True,
        cwd=program,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == f"{plugin} stand-in in {program}: 127.0.0.1:1234"


def test_plugin_wrapper_prefers_registries_repo_and_names_it_when_nothing_is_found(
    toolchain_bin: Path, tmp_path: Path
) -> None:
    checkout = _fake_checkout(tmp_path / "elsewhere", "docker")
    outside = tmp_path / "program"
    outside.mkdir()
    wrapper = toolchain_bin / "pulumi-resource-docker"
    env = {k: v for k, v in os.environ.items() if k != "REGISTRIES_REPO"}
    found = subprocess.run(
        [wrapper],
        capture_output=True,
        text=True,
        cwd=outside,
        env={**env, "REGISTRIES_REPO": str(checkout)},
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == f"docker stand-in in {outside}:"
    lost = subprocess.run([wrapper], capture_output=True, text=True, cwd=outside, env=env, check=False)
    assert lost.returncode == 1
    assert "set REGISTRIES_REPO" in lost.stderr
    assert "tests/support/plugins/bin/pulumi-resource-docker" in lost.stderr


def test_an_incomplete_cache_directory_is_refused_not_used(tmp_path: Path) -> None:
    half = tmp_path / "toolchain"
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "pulumi").write_text("#!/bin/sh\n")
    result = _run_script({"REGISTRIES_TOOLCHAIN_DIR": str(half)})
    assert result.returncode == 1
    assert f"{half} exists but is not a complete toolchain" in result.stderr
    assert result.stdout == ""


def test_a_directory_holding_another_pinned_toolchain_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "toolchain"
    (other / "bin").mkdir(parents=True)
    for name in EXECUTABLES:
        (other / "bin" / name).write_text("#!/bin/sh\n")
        (other / "bin" / name).chmod(0o755)
    (other / "VERSIONS").write_text("key: pulumi-v3.0.0_yaml-v1.0.0_000000000000\n")
    result = _run_script({"REGISTRIES_TOOLCHAIN_DIR": str(other)})
    assert result.returncode == 1
    assert f"{other} holds the toolchain pulumi-v3.0.0_yaml-v1.0.0_000000000000, this checkout pins" in result.stderr
    assert result.stdout == ""
