"""The guardrails pack on the real engine: `pulumi preview --policy-pack policy/` as docs/guardrails.md shows it, in
the tier's fresh clone. The CLI starts the pack through the Python language host (RunPlugin, kind analyzer) in the
pack's own virtualenv, created here as the docs say. Example stacks pass; a production stack of ours and a
program of someone else's (raw pulumi_docker resources) that break rules fail, naming each rule; the same
violations on a non-production stack are advisory and the preview passes. Nothing is deployed (previews only)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.engine.conftest import Project, with_backend
from tests.engine.test_engine_operations import remove_stack

PLAIN_REGISTRY = {
    "name": "guarded",
    "image": "registry:2.8.3",
    "hostname": "localhost",
    "bindAddress": "0.0.0.0",  # what the rule refuses
    "port": 5004,
    "tls": {"mode": "none"},
    "insecure": True,
    "users": [{"name": "admin"}],
    "ui": {"enabled": False},
}
# A password a person gave, hashed at bcrypt cost 5 (the pack asks >= 10 for those).
GIVEN_HTPASSWD = "admin:" + bcrypt.hashpw(b"chosen-by-a-person", bcrypt.gensalt(5)).decode()
RAW_PROGRAM = (
    '''"""Someone else's program: their own registry container, a plain-text secret, plain HTTP, a webhook over
plain HTTP and a person's password hashed at a low bcrypt cost."""
import json

import pulumi_docker as docker

config = {
    "version": 0.1,
    "storage": {"filesystem": {}},
    "http": {"addr": ":5000"},
    "auth": {"htpasswd": {"realm": "theirs", "path": "/auth/htpasswd"}},
    "notifications": {"endpoints": [{"name": "ci", "url": "http://hooks.example.com/registry"}]},
}
docker.Container(
    "their-registry",
    image="registry:2.8.3",
    envs=["REGISTRY_HTTP_SECRET=not-a-pulumi-secret"],
    ports=[docker.ContainerPortArgs(internal=5000, external=5005)],
    uploads=[
        docker.ContainerUploadArgs(file="/etc/docker/registry/config.yml", content=json.dumps(config)),
        docker.ContainerUploadArgs(file="/auth/htpasswd", content=HTPASSWD + "\\n"),
    ],
)
'''
).replace("HTPASSWD", repr(GIVEN_HTPASSWD))


@pytest.fixture
def stack(project: Project, request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """A stack of the clone on a backend of its own; `request.param` = (stack name, stack file content)."""
    name, content = request.param
    env = with_backend(project, f"policy-{name}")
    if content is not None:
        (project.dir / "stacks" / f"Pulumi.{name}.yaml").write_text(content)
    project.pulumi("stack", "init", name, env=env)
    try:
        yield name, env
    finally:
        remove_stack(project, env, name)


def _stack_file(selfhosted: dict[str, object]) -> str:
    return json.dumps({"config": {"registries:selfHosted": selfhosted}})


def _violations(output: str) -> list[tuple[str, str]]:
    """(level, rule) of each violation the CLI printed, e.g. `[mandatory]  selfhosted-tls`."""
    return re.findall(r"\[(mandatory|advisory)\]\s+([a-z0-9-]+)", output)


@pytest.mark.parametrize("stack", [("local", None), ("dev", None)], indirect=True, ids=["local", "dev"])
def test_example_stack_passes_the_pack(project: Project, pack: Path, stack: tuple[str, dict[str, str]]):
    name, env = stack
    result = project.pulumi(
        "preview", "-s", name, "--policy-pack", str(pack), "--non-interactive", "--color", "never", env=env
    )
    assert "registries-guardrails" in result.stdout
    assert _violations(result.stdout) == []


@pytest.mark.parametrize("stack", [("prod-guarded", _stack_file(PLAIN_REGISTRY))], indirect=True, ids=["prod"])
def test_a_violating_production_stack_fails_naming_the_rule(
    project: Project, pack: Path, stack: tuple[str, dict[str, str]]
):
    name, env = stack
    result = project.pulumi(
        "preview", "-s", name, "--policy-pack", str(pack), "--non-interactive", "--color", "never", env=env, check=False
    )
    assert result.returncode != 0
    assert ("mandatory", "selfhosted-tls") in _violations(result.stdout)
    assert "the registry serves plain HTTP on 0.0.0.0:5004" in result.stdout


@pytest.mark.parametrize("stack", [("staging", _stack_file(PLAIN_REGISTRY))], indirect=True, ids=["staging"])
def test_off_production_the_same_violation_is_advisory(project: Project, pack: Path, stack: tuple[str, dict[str, str]]):
    name, env = stack
    result = project.pulumi(
        "preview", "-s", name, "--policy-pack", str(pack), "--non-interactive", "--color", "never", env=env
    )
    assert ("advisory", "selfhosted-tls") in _violations(result.stdout)


def test_someone_elses_raw_resources_are_judged_the_same(project: Project, pack: Path, tmp_path: Path):
    program = tmp_path / "theirs"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(
        json.dumps(
            {
                "name": "theirs",
                "runtime": {"name": "python", "options": {"virtualenv": str(project.dir / "venv")}},
            }
        )
    )
    (program / "__main__.py").write_text(RAW_PROGRAM)
    # The stand-in plugins are found through the checkout; their program lives outside it.
    env = {**with_backend(project, "policy-theirs"), "REGISTRIES_REPO": str(project.dir)}
    project.run("pulumi", "stack", "init", "prod", "--cwd", str(program), env=env)
    try:
        result = project.run(
            "pulumi", "preview", "-s", "prod", "--cwd", str(program), "--policy-pack", str(pack),
            "--non-interactive", "--color", "never", env=env, check=False,
        )  # fmt: skip
        assert result.returncode != 0
        found = _violations(result.stdout)
        assert ("mandatory", "secret-inputs-marked") in found
        assert ("mandatory", "selfhosted-tls") in found
        assert ("mandatory", "webhook-https") in found
        assert ("mandatory", "htpasswd-cost") in found
        printed = re.sub(r"\s+", " ", result.stdout)
        assert "the registry serves plain HTTP on 0.0.0.0:5005;" in printed
        assert "config.yml notifications.endpoints[0].url is not an https:// URL" in printed
        assert "user admin's htpasswd entry is bcrypt cost 5 for a password a person gave" in printed
        assert "hooks.example.com" not in result.stdout + result.stderr  # the URL often carries a token
        assert "not-a-pulumi-secret" not in result.stdout + result.stderr
    finally:
        project.run("pulumi", "stack", "rm", "prod", "--yes", "--force", "--cwd", str(program), env=env, check=False)


@pytest.mark.parametrize("stack", [("prod-guarded", _stack_file(PLAIN_REGISTRY))], indirect=True, ids=["prod"])
def test_registryctl_preview_runs_the_pack_and_names_the_rule(
    project: Project, pack: Path, stack: tuple[str, dict[str, str]]
):
    """registryctl runs policy/ by default (its virtualenv exists: the `pack` fixture made it) and exits 1 on the
    mandatory violation, naming the rule from the CLI's policy events; --no-policy previews without it."""
    name, env = stack
    result = project.registryctl("preview", "-s", name, env=env, check=False)
    assert result.returncode == 1, result.stderr
    assert "policy violations (docs/guardrails.md):" in result.stderr
    assert "mandatory selfhosted-tls:" in result.stderr
    assert "the registry serves plain HTTP on 0.0.0.0:5004;" in result.stderr
    project.registryctl("preview", "-s", name, "--no-policy", env=env)


@pytest.mark.parametrize("stack", [("prod-guarded", _stack_file(PLAIN_REGISTRY))], indirect=True, ids=["prod"])
def test_a_config_file_overrides_a_rules_level(
    project: Project, pack: Path, stack: tuple[str, dict[str, str]], tmp_path: Path
):
    """--policy-pack-config as CrossGuard reads it: the rule turned advisory on prod*, the preview passes."""
    name, env = stack
    config = tmp_path / "guardrails.json"
    config.write_text(json.dumps({"selfhosted-tls": "advisory"}))
    result = project.pulumi(
        "preview", "-s", name, "--policy-pack", str(pack), "--policy-pack-config", str(config),
        "--non-interactive", "--color", "never", env=env,
    )  # fmt: skip
    assert ("advisory", "selfhosted-tls") in _violations(result.stdout)
    assert ("mandatory", "selfhosted-tls") not in _violations(result.stdout)
