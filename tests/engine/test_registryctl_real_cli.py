"""registryctl against the real Pulumi CLI: plugin handling (ambient plugins, nothing downloaded; the offline message
when the CLI must install one), exit codes, the prod* confirmation at a terminal, and examples/automation/promote.py
across two stacks. (Backend and passphrase defaults, the progress display and --json: tests/engine/
test_readme_local.py, on the README's own command.)"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from importlib import metadata

import pytest

from tests.engine.conftest import Project, docker_names, with_backend
from tests.engine.test_engine_operations import remove_stack
from tests.support.e2e_stack import provided_certificate

EXIT_FAILED, EXIT_CONFIG, EXIT_NO_CLI, EXIT_NOT_CONFIRMED = 1, 2, 3, 4


def test_without_the_cli_on_path_registryctl_exits_3_and_says_so(project: Project):
    result = project.registryctl("preview", "-s", "local", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, check=False)
    assert result.returncode == EXIT_NO_CLI, result.stderr
    assert "needs the Pulumi CLI" in result.stderr


def test_bad_config_exits_2_before_the_cli_runs(project: Project):
    bad = project.dir / "stacks" / "Pulumi.bad.yaml"
    bad.write_text("config:\n  registries:selfHosted:\n    port: seventy\n")
    try:
        result = project.registryctl("up", "-s", "bad", env=with_backend(project, "bad"), check=False)
    finally:
        bad.unlink()
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "port" in result.stderr
    assert not (project.home / "backends" / "bad" / ".pulumi" / "stacks").exists(), "the CLI ran"


def test_plugins_come_from_path_and_nothing_is_downloaded(project: Project):
    """After the stacks the tier deployed, PULUMI_HOME holds no downloaded plugin: the CLI ran the toolchain's."""
    env = with_backend(project, "plugins")
    project.pulumi("stack", "init", "local", env=env)
    try:
        project.registryctl("preview", "-s", "local", env=env)
        plugins = project.home / "pulumi-home" / "plugins"
        downloaded = sorted(p.name for p in plugins.iterdir()) if plugins.exists() else []
        assert [name for name in downloaded if name.startswith("resource-")] == []
    finally:
        remove_stack(project, env, "local")


def test_when_the_cli_must_install_a_plugin_offline_registryctl_says_what_to_run(project: Project):
    env = {**with_backend(project, "ignore-ambient"), "PULUMI_IGNORE_AMBIENT_PLUGINS": "true"}
    started = time.monotonic()
    try:
        result = project.registryctl("preview", "-s", "local", env=env, check=False, timeout=600)
    finally:
        remove_stack(project, env, "local")
    assert result.returncode == EXIT_FAILED, result.stderr
    version = metadata.version("pulumi-docker")
    assert f"could not install the Pulumi resource plugin docker {version}" in result.stderr
    assert f"pulumi plugin install resource docker {version}" in result.stderr
    print(f"offline plugin failure after {time.monotonic() - started:.1f}s")


@pytest.fixture
def prod_stack(project: Project, docker_cleanup: None) -> Iterator[tuple[Project, dict[str, str]]]:
    """The prod stack on loopback (localhost:5002) with the certificate its file tells users to set."""
    env = with_backend(project, "prod-gate")
    project.pulumi("stack", "init", "prod", env=env)
    certificate, key, _ca = provided_certificate("localhost")
    for path, value in (("hostname", "localhost"), ("bindAddress", "127.0.0.1"), ("port", "5002")):
        project.pulumi("config", "set", "-s", "prod", "--path", f"registries:selfHosted.{path}", value, env=env)
    for path, value in (("certificate", certificate), ("privateKey", key)):
        key_path = f"registries:selfHosted.tls.{path}"
        project.pulumi("config", "set", "-s", "prod", "--secret", "--path", key_path, env=env, stdin=value)
    try:
        yield project, env
    finally:
        remove_stack(project, env, "prod")


def _at_terminal(project: Project, env: dict[str, str], answer: str, *args: str) -> tuple[int, str]:
    """Run registryctl with stdin on a pseudo-terminal holding the user's typed answer."""
    controller, terminal = os.openpty()
    os.write(controller, answer.encode())
    try:
        result = subprocess.run(
            [project.python, "-m", "registryctl", *args],
            cwd=project.dir,
            env={**project.env, **env},
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    print(result.stdout[-4000:], result.stderr[-4000:])
    return result.returncode, result.stdout + result.stderr


def test_prod_up_asks_at_a_terminal_and_refuses_without_one(prod_stack, docker_client):
    project, env = prod_stack
    before = docker_names(docker_client)
    refused = project.registryctl("up", "-s", "prod", env=env, check=False)
    assert refused.returncode == EXIT_NOT_CONFIRMED, refused.stderr
    assert "rerun with --yes" in refused.stderr

    code, output = _at_terminal(project, env, "n\n", "up", "-s", "prod")
    assert code == EXIT_NOT_CONFIRMED, output
    assert "+ create" in output  # the preview was shown before the question
    assert "Deploy these changes to prod?" in output
    assert docker_names(docker_client) == before

    code, output = _at_terminal(project, env, "y\n", "up", "-s", "prod")
    assert code == 0, output
    assert "prod-registry" in {c.name for c in docker_client.containers.list()}


def test_promote_deploys_dev_verifies_it_then_gates_prod(prod_stack, docker_client):
    project, env = prod_stack
    project.pulumi("stack", "init", "dev", env=env)
    try:
        # dev on loopback as localhost, so that its verify (docker login, push, pull) can reach it.
        for path, value in (("hostname", "localhost"), ("bindAddress", "127.0.0.1"), ("ui.bindAddress", "127.0.0.1")):
            project.pulumi("config", "set", "-s", "dev", "--path", f"registries:selfHosted.{path}", value, env=env)
        gated = project.run(project.python, "-m", "examples.automation.promote", env=env, check=False)
        assert gated.returncode == EXIT_NOT_CONFIRMED, gated.stderr
        assert "verified dev: pushed and pulled sha256:" in gated.stderr
        assert "prod previewed, not deployed" in gated.stderr
        assert "prod-registry" not in {c.name for c in docker_client.containers.list(all=True)}

        project.run(project.python, "-m", "examples.automation.promote", "--yes", env=env)
        running = {c.name for c in docker_client.containers.list()}
        assert {"dev-registry", "prod-registry"} <= running, running
        for stack in ("dev", "prod"):  # every secret of both states is encrypted wherever it appears
            assert project.secrets_in_plain(stack, env=env) == [], stack
    finally:
        remove_stack(project, env, "dev")
