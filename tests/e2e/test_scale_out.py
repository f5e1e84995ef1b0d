"""Scale-out on a Docker host under faults (issue 16): three registry replicas sharing S3 (moto) and a Redis
blob-descriptor cache behind HAProxy, deployed by the program through the local engine. What clients saw in each
fault is printed (pytest -s) and asserted where the issue states it."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import itertools
import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from components.selfhosted.load_balancer import REDIS_CONFIG_PATH
from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import s3_storage_stack
from tests.support.engine_aws import AwsApplier
from tests.support.images import build_scratch_image
from tests.support.moto_server import ROOT as MOTO_ROOT
from tests.support.moto_server import MotoServer, start_moto
from tests.support.registry_client import RegistryUser, pushed_digest
from tests.support.scale_out_images import (
    PYTHON_RUNTIME_IMAGE,
    build_load_balancer_image,
    build_python_runtime_image,
    build_redis_image,
)

pytestmark = pytest.mark.e2e

MOTO_ALIAS = "moto"
"""moto's name on the registry's network: the replicas are on a bridge network and cannot reach host loopback."""
REPLICAS = 3
PUSHES = 10
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
ATTEMPTS = 3
"""What a CI job does: retry a failed push (on top of the Docker daemon's own layer retries)."""


@pytest.fixture(scope="module")
def scale_out_images(docker_client: docker.DockerClient, registry_image: str) -> None:
    build_python_runtime_image(docker_client)
    build_load_balancer_image(docker_client)
    build_redis_image(docker_client)


@pytest.fixture
def moto_on_network(
    docker_client: docker.DockerClient, scale_out_images: None, tmp_path: Path
) -> Iterator[tuple[MotoServer, str]]:
    """moto in a container published on 127.0.0.1 (for the engine and the test) and joined to the registry's
    network as `moto` as soon as the program creates that network; (server, container name)."""
    name = f"e2e-moto-{uuid.uuid4().hex[:8]}"
    python_home, venv = sys.base_prefix, str(Path(sys.prefix).resolve())
    mounts = [arg for path in ("/usr", python_home, venv) for arg in ("-v", f"{path}:{path}:ro")]

    def command(port: int) -> list[str]:
        return [
            *("docker", "run", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:5000"),
            *("-e", "INITIAL_NO_AUTH_ACTION_COUNT", "-e", "MOTO_ALLOW_NONEXISTENT_REGION", *mounts),
            # moto with S3's per-object authorization of multi-object deletes (tests/support/moto_main.py).
            *("-v", f"{MOTO_ROOT}:{MOTO_ROOT}:ro", "-w", str(MOTO_ROOT)),
            *(PYTHON_RUNTIME_IMAGE, f"{venv}/bin/python", "-m", "tests.support.moto_main", "-H", "0.0.0.0"),
            *("-p", "5000"),
        ]

    server = start_moto(tmp_path, command)
    try:
        yield server, name
    finally:
        server.stop()
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


@dataclasses.dataclass
class Scaled:
    deployment: Deployment
    outputs: dict[str, Any]
    client: RegistryUser
    stack: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec.get("name", "registry"))

    def container(self, role: str) -> Any:
        """A sidecar (lb, redis) by its fixed name <name>-<role>."""
        return self.deployment.docker_client.containers.get(f"{self.name}-{role}")

    def replica(self, index: int) -> Any:
        """Replica `index` (0-based): replicas have generated names, listed in an output."""
        return self.deployment.docker_client.containers.get(self.outputs["replicaContainerNames"][index])


@pytest.fixture
def scaled(
    deployment: Deployment, moto_on_network: tuple[MotoServer, str], base_stack: tuple[str, dict[str, Any]]
) -> Scaled:
    return _deploy(deployment, moto_on_network, base_stack, REPLICAS)


def _deploy(
    deployment: Deployment,
    moto_on_network: tuple[MotoServer, str],
    base_stack: tuple[str, dict[str, Any]],
    replicas: int,
) -> Scaled:
    """The program on S3 (moto joined to the registry's network) with a Redis cache and `replicas` replicas."""
    moto, moto_container = moto_on_network
    engine = deployment.engine
    docker_backend = next(b for b in engine.backends if b.prefixes == ("docker:",))
    create = docker_backend.create

    def create_then_join(typ: str, logical: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        created = create(typ, logical, inputs)
        if typ == "docker:index/network:Network":  # moto joins before any replica starts
            deployment.docker_client.networks.get(created[0]).connect(moto_container, aliases=[MOTO_ALIAS])
        return created

    engine.backends[engine.backends.index(docker_backend)] = dataclasses.replace(
        docker_backend, create=create_then_join
    )
    deployment.engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    stack, spec, _bucket = s3_storage_stack(base_stack, f"http://{MOTO_ALIAS}:5000")
    spec["networkMode"] = "bridge"
    spec["replicas"] = replicas
    spec["storage"]["cache"] = "redis"
    outputs = deployment.apply(stack, spec)
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)  # right after `up`: it returned once a replica was up behind the load balancer
    return Scaled(deployment, outputs, client, stack, spec)


def _source_images(docker_client: docker.DockerClient, count: int, prefix: str) -> list[str]:
    tags = []
    for index in range(count):
        tag = f"e2e-src/{prefix}{index}:latest"
        build_scratch_image(docker_client, tag, [os.urandom(32 * 1024), os.urandom(4 * 1024 * 1024)])
        tags.append(tag)
    return tags


def _push_with_retries(client: RegistryUser, source: str, repository: str, seen: list[str]) -> str | None:
    """The digest once a push succeeds within ATTEMPTS; every failure's last error line is recorded."""
    for attempt in range(1, ATTEMPTS + 1):
        ref = f"{client.endpoint}/{repository}:1"
        client.docker("tag", source, ref)
        result = client.docker("push", ref, check=False)
        if result.returncode == 0:
            digest = pushed_digest(result.stdout)
            assert digest, f"a push that exited 0 reported no digest: {result.stdout}"
            seen.append(f"{repository}: ok on attempt {attempt}")
            return digest
        error = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        assert error, "a failed push must say why"
        seen.append(f"{repository}: attempt {attempt} failed: {error}")
    return None


def test_pushes_survive_a_replica_killed_midway_and_every_pushed_digest_pulls_intact(scaled, docker_client):
    client = scaled.client
    sources = _source_images(docker_client, PUSHES, "killed")
    seen: list[str] = []
    victim = scaled.replica(1)
    killer = threading.Timer(2.0, victim.kill)
    killer.start()
    with ThreadPoolExecutor(max_workers=PUSHES) as pool:
        digests = list(pool.map(lambda i: _push_with_retries(client, sources[i], f"ha/img{i}", seen), range(PUSHES)))
    killer.join()
    victim.reload()
    print("\n".join(["replica killed during 10 concurrent pushes; clients saw:", *seen]))
    assert victim.status != "running" or victim.attrs["RestartCount"] > 0, "the replica was not killed"
    pushed = {i: d for i, d in enumerate(digests) if d is not None}
    assert pushed, "no push succeeded"
    for index, digest in pushed.items():
        client.remove_local(f"ha/img{index}", "1")
        assert client.pull(f"ha/img{index}", "1") == digest  # the daemon checks every blob's digest on pull
    for index in set(range(PUSHES)) - set(pushed):  # a failed push left no half-visible tag
        assert client.api("GET", f"/v2/ha/img{index}/manifests/1").status_code in (401, 404)


def test_redis_killed_pushes_and_pulls_keep_working_and_it_is_used_again_when_back(scaled, docker_client):
    client = scaled.client
    redis = scaled.container("redis")
    sources = _source_images(docker_client, 3, "redis")
    before = client.push(sources[0], "cache/before", "1")
    redis.stop(timeout=1)
    started = time.monotonic()
    during = client.push(sources[1], "cache/during", "1")
    client.remove_local("cache/before", "1")
    assert client.pull("cache/before", "1") == before
    print(f"\nRedis stopped: push and pull succeeded ({time.monotonic() - started:.1f}s)")
    redis.start()
    time.sleep(2)
    keys_before = _redis_keys(redis)
    after = client.push(sources[2], "cache/after", "1")
    client.remove_local("cache/during", "1")
    assert client.pull("cache/during", "1") == during
    assert client.pull("cache/after", "1") == after
    keys_after = _redis_keys(redis)
    print(f"Redis back: {keys_before} keys before a push and a pull, {keys_after} after")
    assert keys_after > keys_before, "the replicas did not use Redis again once it was back"


def _redis_keys(redis: Any) -> int:
    """DBSIZE, asked inside the Redis container; the password read from its config file and given by env."""
    archive, _ = redis.get_archive(REDIS_CONFIG_PATH)
    with tarfile.open(fileobj=io.BytesIO(b"".join(archive))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        password = member.read().decode().split("requirepass ", 1)[1].split("\n", 1)[0]
    result = redis.exec_run(["redis-cli", "DBSIZE"], environment={"REDISCLI_AUTH": password})
    assert result.exit_code == 0, result.output
    return int(result.output.decode().strip())


def test_s3_unreachable_for_10s_requests_fail_cleanly_and_nothing_is_corrupted(scaled, moto_on_network, docker_client):
    client = scaled.client
    _moto, moto_container = moto_on_network
    network = docker_client.networks.get(f"{scaled.name}-net")
    sources = _source_images(docker_client, 2, "outage")
    before = client.push(sources[0], "outage/before", "1")
    client.remove_local("outage/before", "1")
    seen: list[str] = []

    def attempt(action: str, *args: str) -> None:
        started = time.monotonic()
        result = client.docker(action, *args, check=False)
        last = (result.stderr.strip().splitlines() or [""])[-1] if result.returncode else "ok"
        seen.append(
            f"{action} during the outage: exit {result.returncode} after {time.monotonic() - started:.1f}s: {last}"
        )

    network.disconnect(moto_container)  # S3 unreachable: the replicas' lookups of `moto` fail
    try:
        client.docker("tag", sources[1], f"{client.endpoint}/outage/during:1")
        workers = [
            threading.Thread(target=attempt, args=("push", f"{client.endpoint}/outage/during:1")),
            threading.Thread(target=attempt, args=("pull", f"{client.endpoint}/outage/before:1")),
        ]
        for worker in workers:
            worker.start()
        time.sleep(10)
    finally:
        network.connect(moto_container, aliases=[MOTO_ALIAS])
    for worker in workers:
        worker.join(timeout=300)
    print("\n".join(["S3 unreachable for 10 s; clients saw:", *seen]))
    assert len(seen) == 2, "a client hung past 5 minutes"
    assert all(not line.endswith(": ") for line in seen), "a failed request must say why"

    # After the outage: what was pushed before pulls intact, and a push (retried as CI would) succeeds.
    client.remove_local("outage/before", "1")
    assert client.pull("outage/before", "1") == before
    during = _push_with_retries(client, sources[1], "outage/during", seen)
    assert during is not None, seen
    client.remove_local("outage/during", "1")
    assert client.pull("outage/during", "1") == during


@dataclasses.dataclass
class PullLoop:
    """Pulls one image over and over until stopped, recording each outcome: the Docker daemon (`docker pull`
    after removing the local copy) or a keep-alive HTTP session (manifest, then every blob checked by digest).

    The HTTP session retries a GET once when its reused keep-alive connection is closed before any response
    byte, as Go's transport (Docker, containerd, skopeo) does for idempotent requests (RFC 9112 9.3.1): a
    draining replica closes its idle connections, and one can race a request sent on it. Nothing else is
    retried (no status, no refused connection), and retries are counted."""

    client: RegistryUser
    repository: str
    digest: str
    kind: str
    done: int = 0
    retried: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    def run(self, stop: threading.Event, auth: tuple[str, str]) -> None:
        session = requests.Session()
        session.auth = auth
        closed_before_response = Retry(
            total=1, connect=0, read=1, status=0, other=0, redirect=0, allowed_methods=["GET"], backoff_factor=0
        )
        session.mount("https://", HTTPAdapter(max_retries=closed_before_response))
        while not stop.is_set():
            started = time.monotonic()
            try:
                self._pull_once(session)
                self.done += 1
            except Exception as error:
                self.failures.append(f"{self.kind} after {time.monotonic() - started:.1f}s: {error}")

    def _pull_once(self, session: requests.Session) -> None:
        if self.kind == "docker":
            self.client.remove_local(self.repository, "1")
            pulled = self.client.pull(self.repository, "1")
            assert pulled == self.digest, f"pulled {pulled}, pushed {self.digest}"
            return
        base = f"{self.client.base_url}/v2/{self.repository}"
        verify = self.client.ca_file or False  # per request: REQUESTS_CA_BUNDLE would override a session's
        manifest = self._get(session, f"{base}/manifests/1", headers={"Accept": MANIFEST_V2}, timeout=30, verify=verify)
        manifest.raise_for_status()
        assert manifest.headers["Docker-Content-Digest"] == self.digest
        body = manifest.json()
        for blob in [body["config"], *body["layers"]]:
            answer = self._get(session, f"{base}/blobs/{blob['digest']}", timeout=60, verify=verify)
            answer.raise_for_status()
            assert f"sha256:{hashlib.sha256(answer.content).hexdigest()}" == blob["digest"], "corrupted blob"

    def _get(self, session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
        answer = session.get(url, **kwargs)
        retries = getattr(answer.raw, "retries", None)
        self.retried += len(retries.history) if retries is not None else 0
        return answer


def test_a_changed_config_rolls_through_the_replicas_one_at_a_time_and_continuous_pulls_never_fail(
    scaled, docker_client
):
    """Scenario 2: a change every replica shares (a new user: new htpasswd) replaces the three replicas while two
    Docker daemons' pulls and two HTTP clients pull in loops through the load balancer."""
    client, outputs = scaled.client, scaled.outputs
    user, password = next(iter(outputs["users"].items()))
    # Each Docker daemon loop pulls an image of its own (removing a tag another loop pulls would race).
    repositories = [f"rolling/img{index}" for index in range(2)]
    digests = {
        repository: client.push(source, repository, "1")
        for repository, source in zip(repositories, _source_images(docker_client, 2, "rolling"), strict=True)
    }
    old_replicas = list(outputs["replicaContainerNames"])
    lb = scaled.container("lb")
    lb_started = lb.attrs["State"]["StartedAt"]

    loops = [
        *(PullLoop(client, repository, digests[repository], "docker") for repository in repositories),
        *(PullLoop(client, repository, digests[repository], "http") for repository in repositories),
    ]
    stop = threading.Event()
    recorder = ContainerEvents(docker_client)
    threads = [threading.Thread(target=loop.run, args=(stop, (user, password))) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)  # pulls are flowing before the change starts
        before = sum(loop.done for loop in loops)
        changed = copy.deepcopy(scaled.spec)
        changed["users"] = [*changed.get("users", [{"name": "admin"}]), {"name": "rollout"}]
        started = time.monotonic()
        after_outputs = scaled.deployment.apply(scaled.stack, changed)
        rollout = time.monotonic() - started
        during = sum(loop.done for loop in loops) - before
        time.sleep(3)  # and keep flowing once the old replicas are gone
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        events = recorder.close()
    failures = [failure for loop in loops for failure in loop.failures]
    new_replicas = list(after_outputs["replicaContainerNames"])
    print(
        f"\nrolling replace of 3 replicas took {rollout:.1f}s; {during} pulls completed during it "
        f"({', '.join(f'{loop.kind}: {loop.done}' for loop in loops)} in all); failures: {failures or 'none'}; "
        f"HTTP GETs retried after a keep-alive connection closed without a response: {sum(p.retried for p in loops)}"
    )
    assert not failures, failures
    assert during >= 8, "too few pulls ran during the rollout to prove anything"
    assert len(new_replicas) == 3
    assert not set(new_replicas) & set(old_replicas), "every replica was replaced"
    running = {c.name for c in docker_client.containers.list(filters={"network": f"{scaled.name}-net"})}
    assert set(new_replicas) <= running
    assert not set(old_replicas) & {c.name for c in docker_client.containers.list(all=True)}, "old replicas removed"
    lb.reload()
    assert lb.attrs["State"]["StartedAt"] == lb_started, "the load balancer kept running"
    assert "rollout" in after_outputs["users"]
    client.login("rollout", after_outputs["users"]["rollout"])  # the new config is what serves
    # One at a time (Docker's own event log of the rollout): the first replica is removed before its successor
    # starts (its resource is the single container of replicas: 1, which holds the published port), each next
    # successor starts once the one before it is healthy, and no other old replica is stopped before the last
    # successor is healthy.
    assert events[new_replicas[0], "start"] > events[old_replicas[0], "destroy"], events
    for earlier, later in itertools.pairwise(new_replicas):
        assert events[later, "start"] > events[earlier, "health_status: healthy"], (earlier, later, events)
    last_healthy = events[new_replicas[-1], "health_status: healthy"]
    for old in old_replicas[1:]:
        assert events[old, "kill"] > last_healthy, f"{old} was stopped before every successor was healthy"


class ContainerEvents:
    """(container name, event) -> time of its first occurrence (ns), read live from Docker's event stream (the
    daemon keeps only its last 256 events, and the health checks' execs fill that in under a minute)."""

    def __init__(self, docker_client: docker.DockerClient) -> None:
        self.first: dict[tuple[str, str], int] = {}
        self._stream = docker_client.events(decode=True, filters={"type": "container"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                key = (event["Actor"]["Attributes"].get("name", ""), event.get("status") or event["Action"])
                self.first.setdefault(key, int(event["timeNano"]))
        except Exception:  # the stream closed under the reader
            return

    def close(self) -> dict[tuple[str, str], int]:
        self._stream.close()
        self._thread.join(timeout=10)
        return self.first


def test_one_registry_scales_out_to_three_replicas_in_one_up_and_keeps_its_images(
    deployment, moto_on_network, base_stack, docker_client
):
    """`replicas: 1` -> 3: the single container (it holds the published port) is deleted before its resource
    becomes the first replica, so the load balancer can take the port; what was pushed before pulls after."""
    single = _deploy(deployment, moto_on_network, base_stack, 1)
    [source] = _source_images(docker_client, 1, "scale-up")
    digest = single.client.push(source, "scale/before", "1")
    [old_name] = single.outputs["replicaContainerNames"]
    assert old_name == single.outputs["containerName"]

    spec = {**single.spec, "replicas": REPLICAS}
    outputs = deployment.apply(single.stack, spec)
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    names = list(outputs["replicaContainerNames"])
    print(f"\nscaled 1 -> {REPLICAS}: {old_name} -> {names}")
    assert len(names) == REPLICAS
    assert old_name not in {c.name for c in docker_client.containers.list(all=True)}, "the single one is removed"
    lb = docker_client.containers.get(f"{single.name}-lb")
    assert lb.status == "running"
    client.remove_local("scale/before", "1")
    assert client.pull("scale/before", "1") == digest
    # The next `up` with the same config changes nothing.
    deployment.apply(single.stack, spec)
    assert deployment.engine.changed() == []


def test_an_image_expired_and_collected_then_pushed_again_pulls_by_digest_from_a_clean_daemon(
    deployment, scale_out_images, base_stack, docker_client, tmp_path, monkeypatch
):
    """Review H2: the Redis blob cache outlives a registry restart and still lists the blobs gc swept, so the second
    push of the same layers gets 200 on its HEADs ("Layer already exists"), uploads nothing, and the image cannot
    be pulled (distribution#2945; fixed upstream only after 3.1, PR #4868). `registryctl gc` empties the cache
    while the registry is read-only. One registry on its volume with the Redis cache: gc sweeps the layers there
    (on this S3 stand-in garbage-collect marked the deleted image and swept nothing, so it proved nothing)."""
    import yaml

    from registryctl.stack_files import PROJECT_DIR
    from tests.support import registryctl_process
    from tests.support.fake_pulumi_cli import use_fake_pulumi

    name, base = base_stack
    spec = copy.deepcopy(base)
    spec["networkMode"] = "bridge"
    spec.setdefault("storage", {}).update(cache="redis", deleteEnabled=True)
    outputs = deployment.apply(name, spec)
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    scaled = Scaled(deployment, outputs, client, name, spec)

    source = _source_images(docker_client, 1, "gc-again")[0]
    first = client.push(source, "gc/again", "1")
    # The project as a user has it, with a retention block that expires everything pushed before --now.
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    spec = {**scaled.spec, "retention": {"taggedDays": 1}}
    spec["storage"] = {**spec["storage"], "deleteEnabled": True}
    stack_file = project / "stacks" / f"Pulumi.{scaled.stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"registries:selfHosted": spec}}))
    secret = {"users", "dockerConfigJson"}
    outputs = {k: {"value": v, "secret": k in secret} for k, v in scaled.outputs.items()}
    use_fake_pulumi(tmp_path, monkeypatch, outputs=outputs)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}

    def registryctl(*args: str) -> str:
        process = registryctl_process.start(project, env, *args)
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0, f"registryctl {' '.join(args)} exited {process.returncode}:\n{out}\n{err}"
        return out + err

    later = "2099-01-01T00:00:00+00:00"
    applied = registryctl("retention", "apply", "-s", scaled.stack, "--now", later, "--yes")
    assert f"deleted gc/again@{first}" in applied
    collected = registryctl("gc", "-s", scaled.stack)
    assert "emptying the blob cache" in collected, collected
    # The same image again: same layers, the same digest.
    again = client.push(source, "gc/again", "1")
    assert again == first
    # A clean daemon: no local copy of the image under any name.
    image_id = docker_client.images.get(source).id
    docker_client.images.remove(image_id, force=True)
    ref = f"{client.endpoint}/gc/again@{again}"
    pulled = client.docker("pull", ref, check=False)
    assert pulled.returncode == 0, f"pull by digest after gc and a re-push failed: {pulled.stderr.strip()[-300:]}"
