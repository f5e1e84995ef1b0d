"""Fixtures of the engine tier: the real Pulumi CLI and engine (scripts/pulumi-toolchain.sh) driving the program in a
fresh clone of this repository, with a file:// backend, PULUMI_HOME and docker config in temporary directories.

Nothing here skips: a toolchain that cannot be built, a Docker Engine that does not answer or an image that cannot be
built fails the tier, naming what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from components.selfhosted.versions import REGISTRY_2_IMAGE, REGISTRY_3_IMAGE
from tests.support.images import build_registry_images
from tests.support.ui_image import build_ui_standin_image

ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN_ENV = "REGISTRIES_TOOLCHAIN_BIN"
TOOLCHAIN_SCRIPT = ROOT / "scripts" / "pulumi-toolchain.sh"
NEEDED = ("pulumi", "pulumi-language-python", "pulumi-resource-docker", "pulumi-resource-random", "pulumi-resource-tls")
PASSPHRASE = "engine-tier-passphrase"
REGISTRY_IMAGES = (REGISTRY_3_IMAGE, REGISTRY_2_IMAGE)  # local/dev pin 3.x, prod 2.8
PREINSTALLED_ENV = "REGISTRIES_ENGINE_PREINSTALLED"
"""Development only: site-packages holding requirements.txt, to skip the README's pip install in the fresh clone."""
REF_ENV = "REGISTRIES_ENGINE_REF"
"""Development only: the commit the fresh clone checks out (default: HEAD of this checkout)."""
UI_IMAGE = "joxit/docker-registry-ui:2.5.7"
"""The UI image the example stacks pin (registries/config/selfhosted.py); the stand-in is tagged under this name."""


@pytest.fixture(scope="session")
def toolchain_bin() -> Path:
    """The toolchain's bin: $REGISTRIES_TOOLCHAIN_BIN (scripts/test.sh exports it), else the script's last line."""
    given = os.environ.get(TOOLCHAIN_ENV)
    if given:
        directory = Path(given)
    else:
        started = time.monotonic()
        result = subprocess.run(["bash", str(TOOLCHAIN_SCRIPT)], capture_output=True, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(
                f"bash scripts/pulumi-toolchain.sh failed ({result.returncode}) after "
                f"{time.monotonic() - started:.0f}s:\n{result.stderr[-4000:]}",
                pytrace=False,
            )
        directory = Path(lines[-1])
    missing = [name for name in NEEDED if not os.access(directory / name, os.X_OK)]
    if missing:
        pytest.fail(f"the toolchain bin {directory} lacks {', '.join(missing)}", pytrace=False)
    return directory


@pytest.fixture(scope="session")
def images(docker_client: docker.DockerClient) -> Iterator[None]:
    """The images the example stacks pin, built here (none can be pulled): the registry (2.8 from Debian's
    docker-registry, 3.x from the Go-built binary), and the UI stand-in (nginx, tests/support/ui_image.py) tagged as
    the pinned joxit image, which this tier creates and removes again (a joxit image already present is left alone
    and used)."""
    try:
        build_registry_images(docker_client, REGISTRY_IMAGES)
        tagged_ui = False
        try:
            docker_client.images.get(UI_IMAGE)
        except docker.errors.ImageNotFound:
            standin = docker_client.images.get(build_ui_standin_image(docker_client))
            repository, _, tag = UI_IMAGE.rpartition(":")
            standin.tag(repository, tag)
            tagged_ui = True
    except Exception as error:
        pytest.fail(f"could not build the stacks' images: {error}", pytrace=False)
    yield
    if tagged_ui:
        with contextlib.suppress(docker.errors.ImageNotFound):  # another run's cleanup may have untagged it
            docker_client.images.remove(UI_IMAGE, noprune=True)


def clean_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without anything that would choose a backend, passphrase or Python for the
    CLI or registryctl (PULUMI_*, a virtualenv, docker's config)."""
    dropped = ("VIRTUAL_ENV", "DOCKER_CONFIG", "PYTHONPATH", "XDG_STATE_HOME", "XDG_CONFIG_HOME")
    return {k: v for k, v in environ.items() if not k.startswith("PULUMI_") and k not in dropped}


@dataclass
class Project:
    """A fresh clone of the repository, set up as the README says, and the environment its commands run in."""

    dir: Path
    home: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return str(self.dir / "venv" / "bin" / "python")

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            list(args),
            cwd=self.dir,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.timings[" ".join(args[:4])] = time.monotonic() - started
        print(f"$ {' '.join(args)}  ({result.returncode}, {time.monotonic() - started:.1f}s)")
        print(result.stdout[-6000:])
        print(result.stderr[-6000:], file=sys.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def registryctl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run(self.python, "-m", "registryctl", *args, **kwargs)

    def pulumi(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("pulumi", *args, **kwargs)

    def outputs(self, stack: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """`pulumi stack output --json --show-secrets`: every output with secrets in plain."""
        return json.loads(self.pulumi("stack", "output", "-s", stack, "--json", "--show-secrets", env=env).stdout)

    def secrets_in_plain(self, stack: str, env: Mapping[str, str] | None = None) -> list[str]:
        """The secrets of the stack's state (decrypted by `pulumi stack export --show-secrets`) that the state also
        holds in plain text somewhere (`pulumi stack export`); [] when every secret is encrypted wherever it is."""
        shown = json.loads(self.pulumi("stack", "export", "-s", stack, "--show-secrets", env=env).stdout)
        secrets = state_secrets(shown)
        assert secrets, f"stack {stack} holds no secret: nothing to check"
        return plain_secrets_in(self.export(stack, env=env), secrets)

    def export(self, stack: str, env: Mapping[str, str] | None = None) -> str:
        """`pulumi stack export`: the state as the backend holds it (secrets encrypted unless stored in plain)."""
        return self.pulumi("stack", "export", "-s", stack, env=env).stdout


def fresh_clone(directory: Path, toolchain: Path, home: Path) -> Project:
    """`git clone` of this repository, then the README's install: `python3 -m venv venv && venv/bin/pip install -r
    requirements.txt -e .` (pip's cache makes it quick on a machine that installed them before), with `--no-compile`
    (no .pyc written ahead of time; nothing a user sees differs)."""
    home.mkdir(parents=True, exist_ok=True)
    env = clean_environ(os.environ)
    env.update(
        PATH=f"{toolchain}{os.pathsep}{env.get('PATH', os.defpath)}",
        PULUMI_HOME=str(home / "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK="true",
        # Never a download: every plugin comes from the toolchain's bin (ambient plugins).
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),  # where registryctl generates the secrets passphrase
        DOCKER_CONFIG=str(home / "docker"),
        # The stand-in provider plugins (tests/support/plugins) import the test support code's dependencies (the
        # Docker SDK, moto's clients), which requirements.txt does not hold: they run on this test run's Python.
        REGISTRIES_STANDIN_PYTHON=sys.executable,
    )
    project = Project(directory, home, env)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(directory)], check=True, capture_output=True)
    if ref := os.environ.get(REF_ENV):  # development only: the tier against an older commit (a fix's test failing)
        subprocess.run(["git", "-C", str(directory), "checkout", "--quiet", ref], check=True, capture_output=True)
    project.run("python3", "-m", "venv", "venv")
    # --no-compile: pip would byte-compile every module of the SDKs (pulumi_aws alone ~3,000) though a program imports
    # a few; Python compiles what it imports on first use. Measured: the install 105 s -> 57 s (load ~5).
    pip = (str(directory / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-compile")
    if prebuilt := os.environ.get(PREINSTALLED_ENV):
        # Development shortcut (CI never sets it): requirements.txt taken from a venv that already holds them.
        site = next((directory / "venv" / "lib").glob("python3*/site-packages"))
        (site / "engine-tier-preinstalled.pth").write_text(f"{prebuilt}\n")
        project.run(*pip, "--no-deps", "-e", ".")
    else:
        project.run(*pip, "-r", "requirements.txt", "-e", ".")
    return project


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, toolchain_bin: Path, images: None, machine_lock: None) -> Project:
    """One fresh clone for the tier (its stacks differ per test), with the README's venv."""
    base = tmp_path_factory.mktemp("engine")
    return fresh_clone(base / "registries", toolchain_bin, base / "home")


@pytest.fixture(scope="session")
def pack(project: Project) -> Path:
    """policy/ with its virtualenv, created as docs/guardrails.md says (the CLI does not create it); once for the
    tier (test_policy_pack.py, test_cloud_stacks.py)."""
    policy = project.dir / "policy"
    project.run("python3", "-m", "venv", str(policy / "venv"))
    project.run(str(policy / "venv" / "bin" / "pip"), "install", "-q", "-r", str(policy / "requirements.txt"))
    return policy


def with_backend(project: Project, name: str) -> dict[str, str]:
    """Environment of a file:// backend of its own in the tier's home, with a passphrase in PULUMI_CONFIG_PASSPHRASE
    (what users of plain `pulumi` on a self-managed backend set)."""
    state = project.home / "backends" / name
    state.mkdir(parents=True, exist_ok=True)
    return {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}


def docker_names(client: docker.DockerClient) -> tuple[set[str], set[str], set[str]]:
    return (
        {c.name or "" for c in client.containers.list(all=True)},
        {n.name or "" for n in client.networks.list()},
        {v.name or "" for v in client.volumes.list()},
    )


def remove_leftovers(client: docker.DockerClient, before: tuple[set[str], set[str], set[str]]) -> None:
    """Remove the containers, networks and volumes made since `before` (a failed test's deployment)."""
    containers, networks, volumes = docker_names(client)
    for name in containers - before[0]:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True, v=True)
    for name in networks - before[1]:
        with contextlib.suppress(docker.errors.NotFound):
            client.networks.get(name).remove()
    for name in volumes - before[2]:
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(name).remove(force=True)


@pytest.fixture
def docker_cleanup(docker_client: docker.DockerClient) -> Iterator[None]:
    """Whatever a test deploys on Docker, nothing of it outlives the test (retained volumes included)."""
    before = docker_names(client := docker_client)
    yield
    remove_leftovers(client, before)


def secret_values(value: Any) -> list[str]:
    """Every string leaf of a value (an output holding secrets, a config value given as a secret)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in secret_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in secret_values(v)]
    return [value] if isinstance(value, str) and value else []


SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The key Pulumi marks a secret value with in state and on the wire."""


def state_secrets(shown: Any, minimum: int = 12) -> list[str]:
    """Every string held as a secret in a `pulumi stack export --show-secrets` document (decrypted `plaintext`),
    at least `minimum` characters long (shorter leaves of a secret object, like a user name, are plain elsewhere)."""
    found: list[str] = []
    if isinstance(shown, dict):
        if SECRET_SIG in shown:
            inner = json.loads(shown["plaintext"]) if "plaintext" in shown else shown.get("value")
            found.extend(v for v in secret_values(inner) if len(v) >= minimum)
        else:
            for value in shown.values():
                found.extend(state_secrets(value, minimum))
    elif isinstance(shown, list):
        for value in shown:
            found.extend(state_secrets(value, minimum))
    return found


def plain_secrets_in(exported: str, secrets: list[str]) -> list[str]:
    """The secrets that appear in the exported state as they are, or JSON-escaped inside a string (a rendered file
    such as config.yml), shown by their first characters only."""
    found = []
    for secret in {s.strip() for s in secrets if s.strip()}:  # `pulumi config set` drops a trailing newline
        escaped = json.dumps(secret)[1:-1]
        if secret in exported or escaped in exported:
            found.append(f"{secret[:3]}… ({len(secret)} chars)")
    return found
