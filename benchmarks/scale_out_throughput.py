"""Push and pull throughput of the self-hosted registry with 1, 2 and 3 replicas under concurrent clients.

Deploys the program three times with the local engine (as tests/e2e/test_scale_out.py does): S3 storage on a
moto server running in a container joined to the registry's bridge network as `moto`, a Redis blob-descriptor
cache, and with 2 or 3 replicas the HAProxy load balancer in front (with 1 the single registry container is
published directly: no load balancer). All three stay up for the whole run; in each round `--clients` fresh
images of `--size-mb / --clients` MB each are pushed at once to every deployment, then pulled at once from each
(nothing local reused), the deployments visited in rotating order. Prints, per replica count, the median
aggregate MB/s over the rounds, the CPU seconds of the registry replicas (their cgroups, summed), the load
balancer, moto and the Docker daemon (the client side), the requests each replica served, and the ratios
2/1 and 3/1 last. Everything it starts is removed at the end (containers with their anonymous volumes,
networks, moto, images, CA trust entries). Loopback only.

    flock /tmp/registries-e2e.lock .venv/bin/python -m benchmarks.scale_out_throughput \
        [--size-mb 200] [--clients 10] [--rounds 3] [--layer-mb 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml
from docker.errors import APIError

from benchmarks.registry_throughput import (
    Sample,
    _drop_local,
    _fresh_image,
    _parallel,
    _wait_serving,
    access_log,
    container_cpu_seconds,
    dockerd_cpu_seconds,
)
from components.selfhosted.load_balancer import DEFAULT_LOAD_BALANCER_IMAGE
from tests.support.e2e_stack import load_e2e_stack, s3_storage_stack
from tests.support.engine_aws import AwsApplier
from tests.support.engine_docker import DockerApplier
from tests.support.images import build_registry_images
from tests.support.local_engine import LocalEngine
from tests.support.moto_on_network import (
    MOTO_ALIAS,
    MOTO_ENDPOINT_ON_NETWORK,
    containers_of,
    join_created_networks,
    session_network,
    start_moto_container,
    stop_moto_container,
)
from tests.support.moto_server import MotoServer
from tests.support.pulumi_runtime import run_program
from tests.support.registry_client import RegistryUser
from tests.support.scale_out_images import build_load_balancer_image, build_python_runtime_image, build_redis_image

ROOT = Path(__file__).resolve().parent.parent
REPLICA_COUNTS = (1, 2, 3)
BASE_PORT = 5500
"""Deployment i listens on 127.0.0.1:BASE_PORT + 10 * i (its debug port, with 1 replica, on the next one)."""
HEALTH_CHECK_SETTLE_S = 5.0
"""HAProxy marks a replica up after 2 passed checks 2 s apart: wait that long once every replica is healthy."""
PHASES = ("push", "pull")


@dataclass
class ScaleSample(Sample):
    load_balancer_cpu_s: float = 0.0
    moto_cpu_s: float = 0.0
    per_replica: tuple[int, ...] = ()
    """Requests each replica logged (its access log), in container-name order."""


Results = dict[str, dict[int, list[ScaleSample]]]
"""phase -> replica count -> one sample per round."""


@dataclass
class ScaledRegistry:
    """One deployment of the program with `replicas` registry containers, its moto, and what finds them."""

    replicas: int
    port: int
    workdir: Path
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    user: RegistryUser | None = None
    registry: list[Any] = field(default_factory=list)
    load_balancer: Any = None
    moto: MotoServer | None = None
    moto_name: str = ""

    @property
    def label(self) -> str:
        return f"{self.replicas} replica{'s' if self.replicas > 1 else ''}"

    def client(self) -> RegistryUser:
        assert self.user is not None, "not deployed"
        return self.user

    def up(self, docker_client: docker.DockerClient, base: dict[str, Any], stack: str) -> None:
        """`pulumi up` through the local engine; then waits until every replica serves behind the endpoint."""
        self.moto, self.moto_name = start_moto_container(self.workdir, f"bench-moto-{self.session}")
        applier = DockerApplier(docker_client, self.session)
        engine = LocalEngine()
        engine.add_backend(applier.backend())
        engine.add_backend(AwsApplier(self.moto.endpoint, self.moto.admin_key, self.moto.admin_secret).backend())
        join_created_networks(engine, docker_client, self.moto_name, MOTO_ALIAS)
        _stack, spec, _bucket = s3_storage_stack((stack, base), MOTO_ENDPOINT_ON_NETWORK)
        spec.update(name=f"bench-scale{self.replicas}", port=self.port, networkMode="bridge", replicas=self.replicas)
        spec["storage"]["cache"] = "redis"
        engine.begin_run()
        config = {"registries:selfHosted": json.dumps(spec)}  # a secret key, as `pulumi config set --secret` stores it
        outputs = run_program(engine, stack=stack, config=config, secret_keys=list(config))
        engine.end_run()
        values = {k: v.value for k, v in outputs.items()}
        self.user = RegistryUser(values["endpoint"], values["caCertPem"])
        # Found by the session's network and the images, never by a container name (names may change).
        network = session_network(docker_client, self.session)
        self.registry = containers_of(docker_client, self.session, network, spec["image"])
        if len(self.registry) != self.replicas:
            names = [c.name for c in self.registry]
            raise RuntimeError(f"{self.label}: found {len(self.registry)} registry containers: {names}")
        listed = values.get("replicaContainerNames")  # where the program exports the names, they must agree
        if listed is not None and sorted(listed) != sorted(c.name for c in self.registry):
            raise RuntimeError(f"{self.label}: replicaContainerNames {listed} but on the network: {self.registry}")
        balancers = containers_of(docker_client, self.session, network, DEFAULT_LOAD_BALANCER_IMAGE)
        self.load_balancer = balancers[0] if balancers else None
        if (self.load_balancer is None) != (self.replicas == 1):
            raise RuntimeError(f"{self.label}: load balancer containers found: {[c.name for c in balancers]}")
        self._wait_ready()
        name, password = next(iter(values["users"].items()))
        self.client().login(name, password)

    def _wait_ready(self, seconds: float = 90) -> None:
        _wait_serving(self.client(), {401})
        deadline = time.monotonic() + seconds
        for container in self.registry:
            while True:
                container.reload()
                if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label}: replica {container.name} not healthy in {seconds:.0f}s")
                time.sleep(0.5)
        if self.load_balancer is not None:
            time.sleep(HEALTH_CHECK_SETTLE_S)

    def teardown(self, docker_client: docker.DockerClient) -> None:
        """Remove everything this deployment made; moto first (a network with moto on it cannot be removed)."""
        try:
            if self.user is not None:
                self.user.close()
            if self.moto is not None:
                stop_moto_container(docker_client, self.moto, self.moto_name)
        finally:
            DockerApplier(docker_client, self.session).remove_everything()


# -- measurement ----------------------------------------------------------------------------------


def _cpu(containers: list[Any]) -> float:
    return sum(container_cpu_seconds(c) for c in containers)


def measured(
    target: ScaledRegistry, docker_client: docker.DockerClient, megabytes: float, action: Callable[[], object]
) -> ScaleSample:
    """Wall time of `action` and what the registry side spent on it."""
    moto = docker_client.containers.get(target.moto_name)
    balancer = [target.load_balancer] if target.load_balancer is not None else []
    logs_before = [len(access_log(c)) for c in target.registry]
    registry_before, lb_before, moto_before = _cpu(target.registry), _cpu(balancer), container_cpu_seconds(moto)
    dockerd_before = dockerd_cpu_seconds()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    per_replica = tuple(len(access_log(c)) - n for c, n in zip(target.registry, logs_before, strict=True))
    sample = ScaleSample(
        seconds,
        megabytes,
        _cpu(target.registry) - registry_before,
        dockerd_cpu_seconds() - dockerd_before,
        load_balancer_cpu_s=_cpu(balancer) - lb_before,
        moto_cpu_s=container_cpu_seconds(moto) - moto_before,
        per_replica=per_replica,
    )
    sample.requests["total"] = sum(per_replica)
    return sample


def client_image_sizes(total_mb: int, clients: int, layer_mb: int) -> tuple[int, int]:
    """(MB per client image, MB per layer) so that `clients` images add up to about `total_mb`."""
    per_client = max(1, total_mb // max(1, clients))
    return per_client, max(1, min(layer_mb, per_client))


def run_round(
    docker_client: docker.DockerClient,
    ordered: list[ScaledRegistry],
    args: argparse.Namespace,
    results: Results,
    created: set[str],
) -> None:
    """Fresh distinct images, one per client, pushed at once to each deployment in turn, then pulled at once from
    each (every local copy removed first, so every layer crosses the wire)."""
    per_client, layer_mb = client_image_sizes(args.size_mb, args.clients, args.layer_mb)
    images = [_fresh_image(docker_client, per_client, layer_mb) for _ in range(args.clients)]
    total_mb = sum(mb for _, mb in images)
    names = [f"bench/scale-client{i}-{uuid.uuid4().hex[:6]}" for i in range(args.clients)]
    local = [tag for tag, _ in images] + [f"{t.client().endpoint}/{n}:v1" for t in ordered for n in names]
    created.update(local)
    for target in ordered:
        pushes: list[Callable[[], object]] = [
            lambda t=target, s=source, n=name: t.client().push(s, n, "v1")
            for (source, _), name in zip(images, names, strict=True)
        ]
        sample = measured(target, docker_client, total_mb, lambda p=pushes: _parallel(p))
        results["push"].setdefault(target.replicas, []).append(sample)
    for target in ordered:
        _drop_local(docker_client, local)
        pulls: list[Callable[[], object]] = [lambda t=target, n=name: t.client().pull(n, "v1") for name in names]
        sample = measured(target, docker_client, total_mb, lambda p=pulls: _parallel(p))
        results["pull"].setdefault(target.replicas, []).append(sample)
    _drop_local(docker_client, local)


# -- report ---------------------------------------------------------------------------------------


def ratios_to_first(medians: dict[int, float]) -> dict[int, float]:
    """Each replica count's median over the smallest count's (1 -> 1.0)."""
    base = medians[min(medians)]
    return {count: value / base for count, value in sorted(medians.items())}


def _median(samples: list[ScaleSample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def _requests_per_replica(samples: list[ScaleSample]) -> str:
    """Median requests each replica served, as a/b/c."""
    return "/".join(
        f"{statistics.median(column):.0f}" for column in zip(*(s.per_replica for s in samples), strict=True)
    )


def report(results: Results, rounds: int, total_mb: float, clients: int) -> list[str]:
    """The table (markdown) and the ratio lines."""
    lines = [
        f"{clients} clients, {total_mb:.0f} MB per phase (each client its own image), median of {rounds} round(s)",
        "1 replica: no load balancer (the registry container is published directly); 2 and 3: behind HAProxy",
        "",
        "| replicas | phase | MB/s | min-max | ratio to 1 | registry CPU s | LB CPU s | moto CPU s | dockerd CPU s"
        " | requests per replica |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratio_lines = []
    for phase in PHASES:
        by_count = results.get(phase, {})
        if not by_count:
            continue
        medians = {count: _median(samples, "mb_s") for count, samples in by_count.items()}
        ratios = ratios_to_first(medians)
        for count, samples in sorted(by_count.items()):
            speeds = [s.mb_s for s in samples]
            lb = f"{_median(samples, 'load_balancer_cpu_s'):.2f}" if count > 1 else "(no LB)"
            lines.append(
                f"| {count} | {phase} | {medians[count]:.1f} | {min(speeds):.1f}-{max(speeds):.1f}"
                f" | {ratios[count]:.2f}"
                f" | {_median(samples, 'registry_cpu_s'):.2f} | {lb} | {_median(samples, 'moto_cpu_s'):.2f}"
                f" | {_median(samples, 'dockerd_cpu_s'):.2f} | {_requests_per_replica(samples)} |"
            )
        first = min(ratios)
        ratio_lines.append(
            f"{phase} ratios (median MB/s): "
            + ", ".join(f"{count}/{first} {ratio:.2f}" for count, ratio in ratios.items() if count != first)
        )
    return [*lines, "", *ratio_lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="MB per phase, all clients together")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients, each with its own image")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians of these)")
    parser.add_argument("--layer-mb", type=int, default=5, help="layer size (capped at each client's image)")
    args = parser.parse_args()
    docker_client = docker.from_env(timeout=600)
    stack, base, _notes = load_e2e_stack(ROOT / "stacks" / "Pulumi.local.yaml")
    image = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]["registries:selfHosted"][
        "image"
    ]
    build_registry_images(docker_client, [image])
    build_python_runtime_image(docker_client)
    build_load_balancer_image(docker_client)
    build_redis_image(docker_client)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    deployments: list[ScaledRegistry] = []
    results: Results = {phase: {} for phase in PHASES}
    created: set[str] = set()
    try:
        for index, replicas in enumerate(REPLICA_COUNTS):
            deployment = ScaledRegistry(replicas, BASE_PORT + 10 * index, workdir)
            deployments.append(deployment)  # before up: a failed up is torn down too
            deployment.up(docker_client, base, stack)
            print(f"deployed {deployment.label}: {[c.name for c in deployment.registry]}", flush=True)
        for round_number in range(args.rounds):
            shift = round_number % len(deployments)  # each replica count goes first in turn
            run_round(docker_client, deployments[shift:] + deployments[:shift], args, results, created)
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    finally:
        for deployment in deployments:
            deployment.teardown(docker_client)
        _drop_local(docker_client, sorted(created))
        for dangling in docker_client.images.list(name="bench-src/payload"):
            with contextlib.suppress(APIError):
                docker_client.images.remove(dangling.id, force=True)
        shutil.rmtree(workdir, ignore_errors=True)
    if results["push"]:
        total_mb = next(iter(results["push"].values()))[0].megabytes
        print("\n".join(["", *report(results, args.rounds, total_mb, args.clients)]))


if __name__ == "__main__":
    main()
