"""Fixtures of the end-to-end scenarios: a real Docker Engine, the registry image, the local engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from components.selfhosted.versions import DEFAULT_IMAGE, REGISTRY_2_IMAGE, REGISTRY_3_IMAGE
from tests.support.e2e_stack import load_e2e_stack, runtime_config
from tests.support.engine_docker import E2E_LABEL, DockerApplier
from tests.support.images import build_registry_images
from tests.support.local_engine import LocalEngine
from tests.support.moto_server import MotoServer, start_moto
from tests.support.pulumi_runtime import StackOutput, run_program
from tests.support.registry_client import RegistryUser

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run only the scenarios the chosen stack's features allow (deselected, never skipped)."""
    path = Path(config.getoption("--stack-file"))
    path = path if path.is_absolute() else ROOT / path
    _stack, spec, _notes = load_e2e_stack(path)
    if spec.get("tls", {}).get("mode") != "none":
        return
    keep = [item for item in items if "requires_tls" not in item.keywords]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def _one_run_at_a_time(machine_lock: None) -> None:
    """Every scenario of this tier runs under the machine lock (tests/conftest.py), which first removes what a killed
    earlier run left behind."""


@pytest.fixture(scope="session")
def stack_file(request: pytest.FixtureRequest) -> Path:
    path = Path(request.config.getoption("--stack-file"))
    return path if path.is_absolute() else ROOT / path


@pytest.fixture(scope="session")
def base_stack(stack_file: Path) -> tuple[str, dict[str, Any]]:
    stack, spec, _notes = load_e2e_stack(stack_file)
    return stack, spec


REGISTRY_VERSIONS = {"3.x": REGISTRY_3_IMAGE, "2.8": REGISTRY_2_IMAGE}
"""The registry images the suite runs: the pinned 3.x (the default) and 2.8 (stacks that pin it)."""


@pytest.fixture(scope="session")
def registry_images(docker_client: docker.DockerClient, base_stack: tuple[str, dict[str, Any]]) -> dict[str, str]:
    """Both registry images (3.x from the Go-built binary, 2.8 from Debian's) and the stack file's: name -> id."""
    stack_image = base_stack[1].get("image", DEFAULT_IMAGE)
    return build_registry_images(docker_client, [stack_image, *REGISTRY_VERSIONS.values()])


@pytest.fixture(scope="session")
def registry_image(registry_images: dict[str, str], base_stack: tuple[str, dict[str, Any]]) -> str:
    """The stack file's registry image (built)."""
    return base_stack[1].get("image", DEFAULT_IMAGE)


@pytest.fixture(params=list(REGISTRY_VERSIONS))
def each_registry_image(request: pytest.FixtureRequest, registry_images: dict[str, str]) -> str:
    """A test taking this runs once per registry version (3.x, 2.8): the image to deploy."""
    return REGISTRY_VERSIONS[request.param]


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server with IAM enforcement on; failing to start fails the run."""
    try:
        server = start_moto(tmp_path_factory.mktemp("moto"))
    except Exception as error:
        pytest.fail(f"moto server did not start: {error}", pytrace=False)
    yield server
    server.stop()


@dataclass
class Deployment:
    """The program applied by the local engine, and the clients a test made for it."""

    engine: LocalEngine
    docker_client: docker.DockerClient
    outputs: dict[str, StackOutput] = field(default_factory=dict)
    clients: list[RegistryUser] = field(default_factory=list)
    tls: bool = True
    """Whether the last applied config serves TLS."""

    def apply(self, stack: str, spec: dict[str, Any], *, refresh: bool = False) -> dict[str, Any]:
        """`pulumi up` (with --refresh if asked) with this selfHosted config; returns the stack outputs
        (secrets unwrapped)."""
        self.tls = spec.get("tls", {}).get("mode", "selfSigned") != "none"
        if refresh:
            self.engine.refresh()
        self.engine.begin_run()
        # Stored as `pulumi config set --secret --path` stores a key holding passwords or keys.
        config = runtime_config(spec)
        self.outputs = run_program(self.engine, stack=stack, config=config, secret_keys=list(config))
        self.engine.end_run()
        return {k: v.value for k, v in self.outputs.items()}

    def client(self, outputs: dict[str, Any]) -> RegistryUser:
        user = RegistryUser(outputs["endpoint"], outputs["caCertPem"], tls=self.tls)
        self.clients.append(user)
        return user

    def registry_container(self, outputs: dict[str, Any]) -> Any:
        return self.docker_client.containers.get(outputs["containerName"])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest, docker_client: docker.DockerClient, registry_image: str
) -> Iterator[Deployment]:
    session = uuid.uuid4().hex[:12]
    engine = LocalEngine()
    applier = DockerApplier(docker_client, session)
    engine.add_backend(applier.backend())
    deployed = Deployment(engine, docker_client)
    try:
        yield deployed
    finally:
        if request.node.stash.get(CALL_FAILED, False):  # show what the registry said
            for container in docker_client.containers.list(all=True, filters={"label": f"{E2E_LABEL}={session}"}):
                print(f"--- logs of {container.name} ---\n{container.logs(tail=60).decode(errors='replace')}")
        try:
            for user in reversed(deployed.clients):  # last in, first out: each restores what it found
                user.close()
        finally:
            applier.remove_everything()  # whatever a client's teardown did, leave no Docker object behind
