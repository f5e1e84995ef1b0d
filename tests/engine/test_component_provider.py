"""The component provider (`plugin/`) on the real engine: programs that are not ours use
`registries:index:SelfHostedRegistry` the way docs/library.md tells users, and push to and pull from the registry.

- A Pulumi YAML program (pulumi-language-yaml v1.25.0) with a `packages:` entry naming the checkout's `plugin`
  directory (with a `SigningKeys` beside the registry: private keys secret in outputs and state):
  `pulumi config set --secret`, `pulumi up`, docker login/push, `docker rmi` then a pull by digest,
  `pulumi preview --expect-no-changes`, `pulumi destroy`. The plugin's virtualenv is made beforehand, as the docs
  say for YAML: v1.25.0's host has no `Link`, so `pulumi package add` and `pulumi install` (which links every
  `packages:` entry) fail with "linking package: method Link not implemented" (the latter after installing
  plugin/venv), and `pulumi up` does not install it (it fails: "fork/exec .../plugin/venv/bin/python").
- A Python program: `pulumi package add <checkout>/plugin` generates `sdks/registries` and installs it into the
  program's virtualenv; the program imports `pulumi_registries`; up, push, pull by digest, destroy.

The checkout is the tier's fresh clone. The language host installs `plugin/requirements.txt` into `plugin/venv`
(with the cloud extras, ~1.1 GB); to keep CI short that virtualenv and the Python program's are made here first
with this test run's site-packages on their path (a .pth), so pip finds every requirement satisfied and installs
only pip/setuptools/wheel and the generated SDK. That the requirements list every distribution the plugin imports
is tests/unit/test_plugin_requirements.py's job. Provider plugins are the toolchain's stand-ins on the real Docker
Engine; data volumes are retained on destroy by design, so the test removes them itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.engine.conftest import Project, plain_secrets_in, with_backend
from tests.support.images import build_scratch_image
from tests.support.registry_client import RegistryUser

YAML_NAME, YAML_PORT = "engine-component-yaml", 15931
PYTHON_NAME, PYTHON_PORT = "engine-component-python", 15932
YAML_PASSWORD = "component-yaml-Passw0rd-secret"
PYTHON_PASSWORD = "component-python-Passw0rd-secret"

YAML_PROGRAM = """\
name: component-yaml
runtime: yaml
packages:
  registries: {plugin}
config:
  adminPassword:
    type: string
    secret: true
resources:
  registry:
    type: registries:index:SelfHostedRegistry
    properties:
      containerName: {name}
      port: {port}
      users:
        - name: admin
          password: ${{adminPassword}}
  signing:
    type: registries:index:SigningKeys
    properties:
      registry: ${{registry.endpoint}}
      cosign: {{}}
      notation:
        commonName: component-yaml CI
outputs:
  endpoint: ${{registry.endpoint}}
  caCertPem: ${{registry.caCertPem}}
  loginCommand: ${{registry.loginCommand}}
  userPasswords: ${{registry.userPasswords}}
  cosignPublicKeyPem: ${{signing.cosignPublicKeyPem}}
  cosignPrivateKeyPem: ${{signing.cosignPrivateKeyPem}}
  cosignSign: ${{signing.cosignCommands["sign"]}}
  notationChainPem: ${{signing.notationCertificateChainPem}}
  notationPrivateKeyPem: ${{signing.notationPrivateKeyPem}}
"""

PYTHON_PROGRAM = f"""\
import pulumi
import pulumi_registries as registries

config = pulumi.Config()
registry = registries.SelfHostedRegistry(
    "registry",
    container_name="{PYTHON_NAME}",
    port={PYTHON_PORT},
    users=[registries.SelfHostedUserArgsArgs(name="ci", password=config.require_secret("ciPassword"))],
)
pulumi.export("endpoint", registry.endpoint)
pulumi.export("caCertPem", registry.ca_cert_pem)
pulumi.export("userPasswords", registry.user_passwords)
"""


def _virtualenv(where: Path) -> None:
    """A virtualenv whose own site-packages come first, then this test run's (every requirement, cloud extras
    included): pip sees them installed, and what it installs goes into the new one."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    site = next((where / "lib").glob("python3*/site-packages"))
    (site / "engine-tier-test-run.pth").write_text(sysconfig.get_path("purelib") + "\n")


class Program:
    """A program outside the clone, run with the real CLI on a file:// backend of its own."""

    def __init__(self, project: Project, directory: Path, backend: str) -> None:
        self.dir = directory
        self.env = {**project.env, **with_backend(project, backend), "REGISTRIES_REPO": str(project.dir)}
        self.timings: dict[str, float] = {}

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        elapsed = time.monotonic() - started
        self.timings[" ".join(args[:2])] = elapsed
        # `config set --secret KEY VALUE`: the value is not printed.
        shown = " ".join(
            "[secret]" if args[index - 2 : index - 1] == ("--secret",) else arg for index, arg in enumerate(args)
        )
        print(f"$ pulumi {shown}  ({result.returncode}, {elapsed:.1f}s)\n{result.stdout[-4000:]}")
        print(result.stderr[-4000:], file=sys.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def outputs(self) -> dict:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets").stdout)


@pytest.fixture(scope="module")
def plugin_dir(project: Project) -> Path:
    """The clone's plugin/ with its virtualenv made as described above (the host then only tops it up)."""
    plugin = project.dir / "plugin"
    if not (plugin / "venv").exists():
        _virtualenv(plugin / "venv")
    return plugin


@pytest.fixture
def images_made(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Image references a test tags or pulls, removed afterwards."""
    made: list[str] = []
    yield made
    for ref in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(ref, force=True)


def _push_then_pull_by_digest(
    client: docker.DockerClient, outputs: dict, user: str, password: str, repository: str, made: list[str]
) -> None:
    """docker login with the outputs, push a FROM scratch image, remove every local copy, pull it by digest."""
    registry = RegistryUser(outputs["endpoint"], outputs["caCertPem"])
    try:
        registry.login(user, password)
        source = f"engine-tier/{repository}:1"
        pushed = f"{outputs['endpoint']}/team/{repository}"
        made += [source, f"{pushed}:1"]
        build_scratch_image(client, source, [os.urandom(4096)])
        digest = registry.push(source, f"team/{repository}", "1")
        registry.docker("rmi", "--force", source, f"{pushed}:1")  # a clean state: no local copy of its layers
        made.append(f"{pushed}@{digest}")
        registry.docker("pull", f"{pushed}@{digest}")
        inspected = registry.docker("image", "inspect", "--format", "{{json .RepoDigests}}", f"{pushed}@{digest}")
        assert f"{pushed}@{digest}" in json.loads(inspected.stdout)
    finally:
        registry.close()


def _assert_destroyed_but_volume(client: docker.DockerClient, name: str) -> None:
    """destroy removed the containers and the network; the data volume is retained (by design): remove it."""
    containers = [c.name for c in client.containers.list(all=True) if (c.name or "").startswith(name)]
    networks = [n.name for n in client.networks.list() if (n.name or "").startswith(name)]
    volumes = [v.name for v in client.volumes.list() if (v.name or "").startswith(name)]
    assert (containers, networks) == ([], []), f"destroy left containers {containers}, networks {networks}"
    assert volumes == [f"{name}-data"], volumes
    client.volumes.get(f"{name}-data").remove(force=True)


def test_yaml_program_with_packages_entry_deploys_a_registry_users_push_to_and_pull_from(
    project: Project, plugin_dir: Path, tmp_path: Path, docker_client, docker_cleanup, images_made
) -> None:
    program = Program(project, tmp_path / "platform", "component-yaml")
    program.dir.mkdir()
    plugin = os.path.relpath(plugin_dir, program.dir)  # docs/library.md: a path to a checkout's plugin directory
    (program.dir / "Pulumi.yaml").write_text(YAML_PROGRAM.format(plugin=plugin, name=YAML_NAME, port=YAML_PORT))

    program.pulumi("stack", "init", "dev")
    program.pulumi("config", "set", "--secret", "adminPassword", YAML_PASSWORD)
    up = program.pulumi("up", "--yes", "--skip-preview")
    assert "registries:index:SelfHostedRegistry" in up.stdout
    assert YAML_PASSWORD not in up.stdout + up.stderr
    outputs = program.outputs()
    assert outputs["endpoint"] == f"localhost:{YAML_PORT}"
    assert outputs["loginCommand"] == f"docker login localhost:{YAML_PORT} --username admin --password-stdin"
    assert outputs["userPasswords"] == {"admin": YAML_PASSWORD}
    assert docker_client.containers.get(YAML_NAME).status == "running"

    _push_then_pull_by_digest(docker_client, outputs, "admin", outputs["userPasswords"]["admin"], "yaml", images_made)

    # SigningKeys from YAML: public parts plain, each private key a secret (stack output and state).
    assert outputs["cosignPublicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert outputs["cosignPrivateKeyPem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert outputs["notationChainPem"].count("BEGIN CERTIFICATE") == 2
    assert outputs["cosignSign"].endswith(f" --key cosign.key localhost:{YAML_PORT}/<repository>@<digest>")
    masked = json.loads(program.pulumi("stack", "output", "--json").stdout)
    assert masked["cosignPrivateKeyPem"] == "[secret]"
    assert masked["notationPrivateKeyPem"] == "[secret]"
    assert masked["cosignPublicKeyPem"] == outputs["cosignPublicKeyPem"]

    program.pulumi("preview", "--expect-no-changes")
    exported = program.pulumi("stack", "export").stdout
    assert '"type": "registries:index:SelfHostedRegistry"' in exported
    assert '"type": "registries:index:SigningKeys"' in exported
    private_keys = [outputs["cosignPrivateKeyPem"], outputs["notationPrivateKeyPem"]]
    assert plain_secrets_in(exported, [YAML_PASSWORD, *private_keys]) == []

    program.pulumi("destroy", "--yes", "--skip-preview")
    _assert_destroyed_but_volume(docker_client, YAML_NAME)
    print(f"timings: {program.timings}")


def test_python_program_with_the_sdk_package_add_generates_deploys_a_registry(
    project: Project, plugin_dir: Path, tmp_path: Path, docker_client, docker_cleanup, images_made
) -> None:
    program = Program(project, tmp_path / "theirs", "component-python")
    program.dir.mkdir()
    (program.dir / "Pulumi.yaml").write_text(
        "name: theirs\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
    )
    (program.dir / "requirements.txt").write_text("pulumi>=3.200,<4\n")
    (program.dir / "__main__.py").write_text(PYTHON_PROGRAM)
    _virtualenv(program.dir / "venv")

    added = program.pulumi("package", "add", os.path.relpath(plugin_dir, program.dir))
    assert "import pulumi_registries as registries" in added.stdout + added.stderr
    assert (program.dir / "sdks" / "registries" / "pulumi_registries" / "self_hosted_registry.py").is_file()
    assert "registries:" in (program.dir / "Pulumi.yaml").read_text().split("packages:", 1)[1]

    program.pulumi("stack", "init", "dev")
    program.pulumi("config", "set", "--secret", "ciPassword", PYTHON_PASSWORD)
    program.pulumi("up", "--yes", "--skip-preview")
    outputs = program.outputs()
    assert outputs["endpoint"] == f"localhost:{PYTHON_PORT}"
    assert outputs["userPasswords"] == {"ci": PYTHON_PASSWORD}

    _push_then_pull_by_digest(docker_client, outputs, "ci", outputs["userPasswords"]["ci"], "python", images_made)

    program.pulumi("destroy", "--yes", "--skip-preview")
    _assert_destroyed_but_volume(docker_client, PYTHON_NAME)
    print(f"timings: {program.timings}")
