"""Push and pull throughput of the deployed registry (TLS + auth) against the same binary with neither.

Deploys the program's `local` stack with the local engine (as the end-to-end tests do), starts the
same registry image with its default config (plain HTTP, no auth) beside it, and the `local` stack
with S3 storage on a moto server for each chunk size asked for; pushes and pulls a generated image of
about 200 MB in 10 MB layers through each. Prints MB/s and the ratio of deployed to plain.

    python -m benchmarks.registry_throughput [--size-mb 200] [--layer-mb 10] [--s3-chunk-mb 5 10 32]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml

from tests.support.e2e_stack import load_e2e_stack
from tests.support.engine_aws import AwsApplier
from tests.support.engine_docker import E2E_LABEL, DockerApplier
from tests.support.images import build_registry_image, build_scratch_image
from tests.support.local_engine import LocalEngine
from tests.support.moto_server import MotoServer, start_moto
from tests.support.pulumi_runtime import run_program
from tests.support.registry_client import RegistryUser

ROOT = Path(__file__).resolve().parent.parent
PLAIN_PORT = 5100
S3_PORT = 5200


@dataclass
class Target:
    name: str
    client: RegistryUser
    cleanup: Callable[[], None] = lambda: None


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _drop_local(client: docker.DockerClient, refs: list[str]) -> None:
    for ref in refs:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(ref, force=True)


def deploy(client: docker.DockerClient, session: str, label: str, spec: dict, moto: MotoServer | None = None) -> Target:
    """Deploy the program with this selfHosted config through the local engine; log in as its first user."""
    engine = LocalEngine()
    engine.add_backend(DockerApplier(client, session).backend())
    if moto is not None:
        engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    engine.begin_run()
    outputs = run_program(engine, stack="local", config={"registries:selfHosted": json.dumps(spec)})
    engine.end_run()
    values = {k: v.value for k, v in outputs.items()}
    user = RegistryUser(values["endpoint"], values["caCertPem"])
    name, password = next(iter(values["users"].items()))
    user.login(name, password)
    return Target(label, user, user.close)


def s3_spec(base: dict, moto: MotoServer, chunk_mb: int, port: int, session: str) -> dict:
    spec = copy.deepcopy(base)
    spec.update(name=f"bench-s3-{chunk_mb}", port=port, networkMode="host")
    spec["storage"] = {
        "kind": "s3",
        "bucket": f"bench-{session}-{chunk_mb}",
        "region": "us-east-1",
        "regionEndpoint": moto.endpoint,
        "chunkSize": chunk_mb * 1024 * 1024,
        "redirectDisable": True,  # moto's IAM enforcement cannot check presigned URLs
    }
    return spec


def start_plain_registry(client: docker.DockerClient, image: str, session: str) -> Target:
    container = client.containers.run(
        image,
        detach=True,
        name=f"bench-plain-{session}",
        ports={"5000/tcp": ("127.0.0.1", PLAIN_PORT)},
        labels={E2E_LABEL: session},
    )
    user = RegistryUser(f"localhost:{PLAIN_PORT}", "", tls=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if user.api("GET", "/v2/").status_code == 200:
                break
        except Exception:  # noqa: S110 - still starting
            pass
        time.sleep(0.2)

    def cleanup() -> None:
        container.remove(force=True, v=True)  # the image's VOLUME /var/lib/registry is anonymous: remove it too
        user.close()

    return Target("same binary, no TLS, no auth", user, cleanup)


def measure(
    client: docker.DockerClient, targets: list[Target], size_mb: int, layer_mb: int
) -> dict[str, dict[str, float]]:
    layers = [os.urandom(layer_mb * 1024 * 1024) for _ in range(max(1, size_mb // layer_mb))]
    total_mb = sum(len(layer) for layer in layers) / 1024 / 1024
    source = f"bench-src/payload:{uuid.uuid4().hex[:8]}"
    build_scratch_image(client, source, layers)
    del layers
    repository, tag = "bench/payload", "v1"
    refs = [source] + [f"{t.client.endpoint}/{repository}:{tag}" for t in targets]
    results: dict[str, dict[str, float]] = {}
    for target in targets:
        seconds = _timed(lambda t=target: t.client.push(source, repository, tag))
        results[target.name] = {"push_s": seconds, "push_mb_s": total_mb / seconds}
    for target in targets:
        _drop_local(client, refs)
        seconds = _timed(lambda t=target: t.client.pull(repository, tag))
        results[target.name].update(pull_s=seconds, pull_mb_s=total_mb / seconds)
    _drop_local(client, refs)
    results["_meta"] = {"image_mb": total_mb, "layers": float(size_mb // layer_mb)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--layer-mb", type=int, default=10)
    parser.add_argument("--s3-chunk-mb", type=int, nargs="*", default=[5, 10, 32], help="S3 chunk sizes to compare")
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    image = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]["registries:selfHosted"][
        "image"
    ]
    build_registry_image(client, sorted({image, "registry:2.8.3"}))
    session = uuid.uuid4().hex[:12]
    targets: list[Target] = []
    _stack, base, _ = load_e2e_stack(ROOT / "stacks" / "Pulumi.local.yaml")
    moto = start_moto(Path(tempfile.mkdtemp(prefix="bench-moto-"))) if args.s3_chunk_mb else None
    try:
        targets.append(deploy(client, session, "deployed, volume (TLS + htpasswd)", base))
        targets.append(start_plain_registry(client, image, session))
        for i, chunk in enumerate(args.s3_chunk_mb):
            assert moto is not None
            spec = s3_spec(base, moto, chunk, S3_PORT + 10 * i, session)
            targets.append(deploy(client, session, f"deployed, S3 (moto) chunk {chunk} MiB", spec, moto))
        results = measure(client, targets, args.size_mb, args.layer_mb)
    finally:
        for target in targets:
            target.cleanup()
        DockerApplier(client, session).remove_everything()
        if moto is not None:
            moto.stop()
    meta = results.pop("_meta")
    print(f"image: {meta['image_mb']:.0f} MB in {meta['layers']:.0f} layers (random bytes, incompressible)")
    print(f"{'registry':40} {'push MB/s':>10} {'pull MB/s':>10}")
    for name, figures in results.items():
        print(f"{name:40} {figures['push_mb_s']:10.1f} {figures['pull_mb_s']:10.1f}")
    names = list(results)
    base, secured = results[names[1]], results[names[0]]
    print(
        f"ratio deployed/plain: push {secured['push_mb_s'] / base['push_mb_s']:.2f}, "
        f"pull {secured['pull_mb_s'] / base['pull_mb_s']:.2f}"
    )


if __name__ == "__main__":
    main()
