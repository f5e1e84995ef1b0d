"""`registryctl gc` with `storage.cache: redis` (review H2): the Redis blob-descriptor cache outlives a registry
restart, so after GC it still lists the swept blobs; a later push of the same layers gets 200 on its HEADs, skips
the uploads, and the image it "pushed" cannot be pulled (distribution#2945). gc therefore restarts the Redis
container (it keeps nothing on disk: `save ""`, `appendonly no`, so a restart empties it) after garbage-collect
and while every replica is still read-only, and refuses to start when the cache is not there. The containers are
the in-memory stand-ins of test_gc_replicas; tests/e2e/test_scale_out.py proves the re-push on real containers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker
import pytest
import yaml

from registryctl.gc import garbage_collect
from registryctl.registry_client import RegistryCtlError
from tests.unit.test_gc_replicas import CONFIG, DEPLOYED, FakeContainer, _read_only, _replicas


@dataclass
class FakeRedis:
    """The cache container: a restart empties it (no persistence); records when that happened."""

    name: str = "registry-redis"
    status: str = "running"
    entries: int = 5  # blob descriptors, some of them of blobs GC sweeps
    replicas: list[FakeContainer] = field(default_factory=list)
    read_only_at_restart: list[bool] = field(default_factory=list)
    fail_restart: bool = False
    attrs: dict[str, Any] = field(default_factory=lambda: {"Config": {"StopTimeout": 10}, "State": {}})

    def reload(self) -> None:
        pass

    def restart(self, timeout: int) -> None:
        if self.fail_restart:
            raise docker.errors.APIError(f"cannot restart {self.name}")
        self.read_only_at_restart = [_read_only(r.running_config) for r in self.replicas]
        self.replicas[0].timeline.append(f"restart {self.name}")
        self.entries = 0


def _cluster(count: int) -> tuple[list[FakeContainer], FakeRedis]:
    replicas = _replicas(count)
    return replicas, FakeRedis(replicas=replicas)


def test_the_cache_is_emptied_after_gc_while_every_replica_is_still_read_only():
    replicas, redis = _cluster(3)
    messages: list[str] = []
    garbage_collect(replicas, CONFIG, messages.append, cache=redis)
    assert redis.entries == 0, "the cache still lists the blobs GC swept"
    assert redis.read_only_at_restart == [True, True, True], "a replica took pushes against the stale cache"
    timeline = [line.split(" while")[0] for line in replicas[0].timeline]
    # Three read-only restarts, then the cache, then the three read-write restarts.
    assert timeline.index(f"restart {redis.name}") == 3, timeline
    assert any("emptying the blob cache" in m for m in messages), messages
    assert all(r.running_config == DEPLOYED for r in replicas)


def test_a_failed_gc_still_empties_the_cache():
    """GC may have swept some blobs before it failed."""
    replicas, redis = _cluster(2)
    replicas[0].gc_exit = 1
    with pytest.raises(RegistryCtlError, match="garbage-collect failed"):
        garbage_collect(replicas, CONFIG, lambda _m: None, cache=redis)
    assert redis.entries == 0
    assert all(r.running_config == DEPLOYED for r in replicas)


def test_a_cache_that_is_not_running_stops_gc_before_any_replica_is_touched():
    replicas, redis = _cluster(2)
    redis.status = "exited"
    with pytest.raises(RegistryCtlError, match=r"Redis blob cache registry-redis is exited.*docker start"):
        garbage_collect(replicas, CONFIG, lambda _m: None, cache=redis)
    assert all(r.restarts == 0 and r.files[CONFIG] == DEPLOYED for r in replicas)


def test_a_cache_that_cannot_be_emptied_keeps_the_registry_read_only_and_says_what_to_do():
    """Read-only (pulls work, pushes refused) is safe; read-write on a stale cache silently corrupts pushes."""
    replicas, redis = _cluster(2)
    redis.fail_restart = True
    with pytest.raises(RegistryCtlError) as raised:
        garbage_collect(replicas, CONFIG, lambda _m: None, cache=redis)
    message = str(raised.value)
    assert "could not empty the Redis blob cache registry-redis" in message
    assert "stays read-only" in message
    assert "registryctl gc" in message
    assert all(_read_only(r.running_config) for r in replicas)


def test_gc_refuses_a_redis_stack_whose_cache_container_is_missing(tmp_path, monkeypatch, capsys):
    import registryctl.cli
    from registryctl import automation
    from registryctl.cli import EXIT_FAILED, main

    (tmp_path / "stacks").mkdir()
    config = {"name": "acme", "storage": {"cache": "redis"}}
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": {"registries:selfHosted": config}}))
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", tmp_path)

    class Stack:
        def outputs(self) -> dict[str, Any]:
            return {"replicaContainerNames": type("Value", (), {"value": ["acme"]})()}

    replica = FakeContainer("acme")

    class Containers:
        def get(self, name: str) -> Any:
            if name == "acme":
                return replica
            raise docker.errors.NotFound(name)

    class Client:
        containers = Containers()

        def close(self) -> None:
            pass

    monkeypatch.setattr(automation, "open_stack", lambda *args: Stack())
    monkeypatch.setattr(docker, "from_env", lambda **kw: Client())
    assert main(["gc", "-s", "prod"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "storage.cache is redis but its container 'acme-redis' does not exist" in err
    assert replica.restarts == 0
