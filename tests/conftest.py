"""Shared pytest options, and the fixtures the Docker tiers (tests/e2e, tests/engine) share: the Docker client and
the machine-wide lock their scenarios on fixed host ports take."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker

# Imported (and so assertion-rewritten by pytest) at start-up, not lazily by its plugin at session end: CPython
# 3.11.7's AST converter intermittently fails ("SystemError: AST constructor recursion depth mismatch",
# python/cpython#106905) when pytest parses a module late in a session that ran Pulumi programs in threads.
import hypothesis  # noqa: F401
import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.kube.node import remove_stale_nodes
from tests.support.engine_docker import E2E_LABEL, remove_labelled

if TYPE_CHECKING:
    from xdist.remote import Producer

TESTS_DIR = Path(__file__).parent
MACHINE_LOCK = Path("/tmp/registries-e2e.lock")
"""Held by a test run for as long as it deploys on the host ports the stacks fix (5000, 5001, 8080)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack-file",
        action="store",
        default="stacks/Pulumi.local.yaml",
        help="stack file the end-to-end scenarios deploy (default: stacks/Pulumi.local.yaml)",
    )


MACHINE_TIERS = ("e2e", "engine")
"""The tiers that deploy on this machine's Docker Engine and fixed host ports, under the machine lock."""
GROUPED_TIERS = (*MACHINE_TIERS, "kube", "emulators")
"""Tiers whose tests share session fixtures and run in one worker each. tests/kube (one etcd + kube-apiserver) and
tests/emulators (the Pub/Sub emulator) listen on free loopback ports and use no Docker, so they run beside the
machine tiers."""


def unit_of_work(nodeid: str, tests_prefix: str = "tests/") -> str:
    """The xdist unit of work a test belongs to: "machine" for the machine tiers, the tier's name for tests/kube and
    tests/emulators, else the test itself. `tests_prefix`: this directory as node ids spell it (relative to pytest's
    rootdir)."""
    for tier in GROUPED_TIERS:
        if nodeid.startswith(f"{tests_prefix}{tier}/"):
            return "machine" if tier in MACHINE_TIERS else tier
    return nodeid


class MachineScheduling(LoadScopeScheduling):
    """`scripts/test.sh` runs pytest-xdist workers. Every test of the machine tiers goes to one worker, in file order:
    they share host ports, built images and session fixtures, and a second worker would wait on the machine lock the
    first one holds until it has finished everything. The kube and emulators tiers are a unit of work each (their
    servers start once). Every other test (unit, policy, providers: CPU-bound) is its own unit of work, spread over the
    workers meanwhile."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        if not TESTS_DIR.is_relative_to(config.rootpath):
            raise pytest.UsageError(
                f"pytest's rootdir {config.rootpath} is inside {TESTS_DIR}: run from the repository"
            )
        relative = TESTS_DIR.relative_to(config.rootpath).as_posix()
        self.tests_prefix = "" if relative == "." else f"{relative}/"

    def _split_scope(self, nodeid: str) -> str:
        return unit_of_work(nodeid, self.tests_prefix)


@pytest.hookimpl(optionalhook=True)  # a run with `-p no:xdist` has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> MachineScheduling:
    return MachineScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that takes the machine lock outside the machine tiers could land on a second worker and wait there until
    the first one has finished everything."""
    for item in items:
        tier = item.path.relative_to(TESTS_DIR).parts[0] if item.path.is_relative_to(TESTS_DIR) else ""
        if "machine_lock" in getattr(item, "fixturenames", ()) and tier not in MACHINE_TIERS:
            raise pytest.UsageError(
                f"{item.nodeid} takes the machine lock: move it to one of tests/{{{','.join(MACHINE_TIERS)}}}"
            )


def reachable_docker() -> docker.DockerClient:
    """A client of the Docker Engine; one that does not answer fails the run (never a skip)."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # a backend that cannot start fails the run
        pytest.fail(f"Docker Engine is not reachable ({error}); scripts/test.sh starts dockerd", pytrace=False)
    return client


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return reachable_docker()


def remove_stale_e2e_objects(client: docker.DockerClient, label: str = E2E_LABEL) -> list[str]:
    """Every container, network and volume carrying the e2e label: what an earlier run left when it was killed before
    its teardown (a stale `local-registry-net` fails the next run's first `up` with a 409). Only called under the
    machine lock, which every test that makes labelled objects holds (the e2e and engine tiers, the stand-in plugin
    tests) and the benchmarks are run under (`flock /tmp/registries-e2e.lock`), so no other run owns them. A user's
    own deployments carry no such label and are never touched."""
    return remove_labelled(client, label)


@pytest.fixture(scope="session")
def machine_lock() -> Iterator[None]:
    """One test run at a time deploys on this machine (the stacks fix host ports 5000, 5001, 8080). One fixture for
    every tier: a second flock on the same file from this process would wait for itself. Under the lock, what a
    killed earlier run left behind is removed first."""
    with MACHINE_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            # Its own client: a module may define a docker_client fixture of a narrower scope.
            for line in remove_stale_e2e_objects(reachable_docker()) + remove_stale_nodes():
                print(f"removed a stale e2e object of an earlier, interrupted run: {line}")
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
