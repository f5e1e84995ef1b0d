"""`registryctl gc` with replicas: every replica is read-only while garbage-collect runs (a writable one would take
pushes whose fresh layers GC deletes as unreferenced), each gets its deployed config back and restarts read-write,
also when GC fails or a replica cannot be switched. The containers are in-memory stand-ins for docker-py's
Container (get_archive / put_archive tar streams, restart, exec_run); tests/e2e/test_retention_apply.py runs the
same code against a real registry container."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import docker
import docker.errors
import pytest
import yaml

from registryctl import gc as gc_module
from registryctl.gc import SAVED_SUFFIX, garbage_collect
from registryctl.registry_client import RegistryCtlError

CONFIG = "/etc/docker/registry/config.yml"
DEPLOYED = yaml.safe_dump({"version": 0.1, "storage": {"s3": {"bucket": "b"}, "delete": {"enabled": True}}}).encode()


def _read_only(data: bytes) -> bool:
    return bool(yaml.safe_load(data)["storage"].get("maintenance", {}).get("readonly", {}).get("enabled"))


@dataclass
class Exec:
    exit_code: int
    output: bytes


@dataclass
class FakeContainer:
    name: str
    files: dict[str, bytes] = field(default_factory=lambda: {CONFIG: DEPLOYED})
    status: str = "running"
    running_config: bytes = DEPLOYED  # what the registry process loaded at its last (re)start
    restarts: int = 0
    fail_restart: bool = False
    gc_exit: int = 0
    cluster: list[FakeContainer] = field(default_factory=list)
    seen_at_gc: dict[str, bool] = field(default_factory=dict)
    stop_timeout: int = 130
    health: str = "healthy"
    reloads_until_healthy: int = 0
    restart_timeouts: list[int] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)  # shared by the cluster: restarts and health changes

    @property
    def attrs(self) -> dict[str, Any]:
        return {"Config": {"StopTimeout": self.stop_timeout}, "State": {"Health": {"Status": self.health}}}

    def get_archive(self, path: str) -> tuple[list[bytes], dict[str, Any]]:
        if path not in self.files:
            raise docker.errors.NotFound(path)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(PurePosixPath(path).name)
            info.size = len(self.files[path])
            tar.addfile(info, io.BytesIO(self.files[path]))
        return [buffer.getvalue()], {}

    def put_archive(self, directory: str, data: bytes) -> bool:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                assert extracted is not None
                self.files[f"{directory}/{member.name}"] = extracted.read()
        return True

    def restart(self, timeout: int) -> None:
        if self.fail_restart:
            raise docker.errors.APIError(f"cannot restart {self.name}")
        unhealthy = [c.name for c in self.cluster if c.health != "healthy"]
        self.timeline.append(f"restart {self.name} while not healthy: {unhealthy}")
        self.restarts += 1
        self.restart_timeouts.append(timeout)
        self.running_config = self.files[CONFIG]
        self.health, self.reloads_until_healthy = "starting", 3  # Docker's first checks after a restart

    def reload(self) -> None:
        if self.health == "starting":
            self.reloads_until_healthy -= 1
            if self.reloads_until_healthy <= 0:
                self.health = "healthy"

    def exec_run(self, command: list[str]) -> Exec:
        if command[:2] == ["rm", "-f"]:
            self.files.pop(command[2], None)
            return Exec(0, b"")
        assert command[:2] == ["registry", "garbage-collect"], command
        self.seen_at_gc.update({c.name: _read_only(c.running_config) for c in self.cluster})
        return Exec(self.gc_exit, b"3 blobs marked, 2 blobs and 1 manifests eligible for deletion\n")


def _replicas(count: int) -> list[FakeContainer]:
    cluster = [FakeContainer(f"registry-{i}-abc{i}def") for i in range(count)]
    timeline: list[str] = []
    for container in cluster:
        container.cluster, container.timeline = cluster, timeline
    return cluster


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """gc's waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(gc_module.time, "sleep", recorded.append)
    return recorded


def test_every_replica_is_read_only_while_gc_runs_in_the_first_and_read_write_after():
    replicas = _replicas(3)
    messages: list[str] = []
    output = garbage_collect(replicas, CONFIG, messages.append)
    assert "eligible for deletion" in output
    assert replicas[0].seen_at_gc == {r.name: True for r in replicas}, "a replica took pushes while GC ran"
    for replica in replicas:
        assert replica.files[CONFIG] == DEPLOYED
        assert replica.running_config == DEPLOYED
        assert replica.restarts == 2, f"{replica.name}: read-only restart and read-write restart"
        assert CONFIG + SAVED_SUFFIX not in replica.files
    assert f"running registry garbage-collect {CONFIG} in {replicas[0].name}" in messages


def test_replicas_restart_one_at_a_time_each_healthy_and_back_behind_the_load_balancer_first(sleeps):
    """Two restarts per replica, never one while another is not yet healthy, each followed by the load
    balancer's rise window, with the replica's own stop timeout (it drains its requests)."""
    replicas = _replicas(3)
    garbage_collect(replicas, CONFIG, lambda _m: None, settle_seconds=3.0)
    timeline = replicas[0].timeline
    assert len(timeline) == 6
    assert all(line.endswith("while not healthy: []") for line in timeline), timeline
    assert sleeps.count(3.0) == 6, "the rise window after each restart"
    assert all(r.restart_timeouts == [130, 130] for r in replicas)


def test_a_failed_gc_puts_every_replica_back_read_write():
    replicas = _replicas(2)
    replicas[0].gc_exit = 1
    with pytest.raises(RegistryCtlError, match="garbage-collect failed"):
        garbage_collect(replicas, CONFIG, lambda _m: None)
    assert all(r.running_config == DEPLOYED and r.files[CONFIG] == DEPLOYED for r in replicas)


def test_a_replica_that_cannot_restart_stops_gc_and_the_others_get_their_config_back():
    replicas = _replicas(3)
    replicas[1].fail_restart = True
    with pytest.raises(RegistryCtlError, match=rf"back on {replicas[1].name}: cannot restart") as raised:
        garbage_collect(replicas, CONFIG, lambda _m: None)
    assert "the next `registryctl gc` restores it" in str(raised.value)
    assert str(raised.value).endswith(f"before that: cannot restart {replicas[1].name}"), "the first error is kept"
    assert replicas[0].seen_at_gc == {}, "GC ran although a replica was still writable"
    assert all(r.files[CONFIG] == DEPLOYED for r in replicas)
    assert replicas[0].running_config == DEPLOYED
    assert replicas[0].restarts == 2
    assert replicas[2].restarts == 0, "a replica never switched is not restarted"
    assert CONFIG + SAVED_SUFFIX not in replicas[2].files, "the replicas after the failing one are cleaned up too"


def test_an_interrupted_gc_of_a_replica_is_restored_from_its_saved_config():
    replicas = _replicas(2)
    # What a gc killed in its window leaves on the second replica: the saved copy and a read-only config.
    replicas[1].files[CONFIG + SAVED_SUFFIX] = DEPLOYED
    replicas[1].files[CONFIG] = replicas[1].running_config = (
        b"version: 0.1\nstorage: {maintenance: {readonly: {enabled: true}}}\n"
    )
    garbage_collect(replicas, CONFIG, lambda _m: None)
    assert replicas[1].files[CONFIG] == DEPLOYED
    assert replicas[1].running_config == DEPLOYED
    assert CONFIG + SAVED_SUFFIX not in replicas[1].files


def test_gc_refuses_a_stack_whose_outputs_do_not_name_every_replica(tmp_path, monkeypatch, capsys):
    """A stack deployed before replicaContainerNames existed names one container: GC would leave the other
    replicas writable, so gc asks for an `up` first, before it touches any container."""
    import registryctl.cli
    from registryctl import automation
    from registryctl.cli import EXIT_FAILED, main

    (tmp_path / "stacks").mkdir()
    storage = {"kind": "s3", "bucket": "acme-registry-images", "region": "eu-west-1"}
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(
        yaml.safe_dump({"config": {"registries:selfHosted": {"replicas": 3, "storage": storage}}})
    )
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", tmp_path)

    class Stack:
        def outputs(self) -> dict[str, Any]:
            return {"containerName": type("Value", (), {"value": "registry-1"})()}

    monkeypatch.setattr(automation, "open_stack", lambda *args: Stack())
    monkeypatch.setattr(docker, "from_env", lambda **kw: pytest.fail("gc reached the Docker host"))
    assert main(["gc", "-s", "prod"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "registries:selfHosted.replicas is 3 but the stack's outputs name 1 registry container(s)" in err
    assert "run `pulumi up -s prod` first" in err
