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

import docker.errors
import pytest
import yaml

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
        self.restarts += 1
        self.running_config = self.files[CONFIG]

    def reload(self) -> None:
        pass

    def exec_run(self, command: list[str]) -> Exec:
        if command[:2] == ["rm", "-f"]:
            self.files.pop(command[2], None)
            return Exec(0, b"")
        assert command[:2] == ["registry", "garbage-collect"], command
        self.seen_at_gc.update({c.name: _read_only(c.running_config) for c in self.cluster})
        return Exec(self.gc_exit, b"3 blobs marked, 2 blobs and 1 manifests eligible for deletion\n")


def _replicas(count: int) -> list[FakeContainer]:
    cluster = [FakeContainer(f"registry-{i}-abc{i}def") for i in range(count)]
    for container in cluster:
        container.cluster = cluster
    return cluster


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
