"""`registryctl gc -s STACK [--delete-untagged]`: free the storage of deleted manifests (`registry garbage-collect`).

Distribution's docs warn that garbage collection while pushes run can delete layers a concurrent push still needs.
So GC runs inside the registry container while the registry is read-only (storage.maintenance.readonly: pushes
are refused, pulls keep working): the container's config.yml is saved beside itself, rewritten with
readonly.enabled: true, the container restarted, GC run with `docker exec`, the saved config put back and the
container restarted (which also drops the in-memory blob cache that still lists the deleted blobs).
With `storage.cache: redis` the cache lives in its own container and survives that restart (distribution#2945):
a later push of the swept layers would get 200 on its HEADs, skip the uploads and leave an image that cannot be
pulled. So the Redis container (no persistence: a restart empties it) is restarted after GC, while every replica
is still read-only; gc refuses to start when it is not running, and leaves the registry read-only when it cannot
be emptied. A run killed in the window leaves the saved copy; the next run restores from it, so the registry never stays
read-only after a completed `gc`. With `replicas`, every replica (the stack's replicaContainerNames) is read-only
for the whole run, not only the one GC runs in."""

from __future__ import annotations

import argparse
import io
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

import yaml

from registryctl.errors import UsageError
from registryctl.registry_client import RegistryCtlError
from registryctl.stack_outputs import declared_spec, open_stack, output_values

SAVED_SUFFIX = ".before-gc"
DEFAULT_STOP_TIMEOUT = 30
CONFIG_MODE = 0o400  # as deployed: config.yml may hold webhook Authorization headers


def read_file(container: Any, path: str) -> bytes | None:
    """A file's bytes from a (running or stopped) container, or None when it does not exist."""
    import docker.errors

    try:
        stream, _stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        return member.read() if member else None


def write_file(container: Any, path: str, data: bytes) -> None:
    target = PurePosixPath(path)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(target.name)
        info.size, info.mode, info.mtime = len(data), CONFIG_MODE, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    if not container.put_archive(str(target.parent), archive.getvalue()):
        raise RegistryCtlError(f"could not write {path} into container {container.name}")


def read_only_config(config_yml: bytes) -> bytes:
    """The same config with storage.maintenance.readonly.enabled: true."""
    config = yaml.safe_load(config_yml)
    maintenance = config.setdefault("storage", {}).setdefault("maintenance", {})
    maintenance["readonly"] = {"enabled": True}
    return yaml.safe_dump(config, sort_keys=False).encode()


def _restart(container: Any, settle_seconds: float) -> None:
    """Restart with the container's own stop timeout (a replica drains its requests); with settle_seconds > 0
    (replicas behind the load balancer) also wait until it is healthy and the load balancer sends it requests
    again, so the next replica's restart never leaves the load balancer without one."""
    stop_timeout = (container.attrs.get("Config") or {}).get("StopTimeout") or DEFAULT_STOP_TIMEOUT
    container.restart(timeout=stop_timeout)
    deadline = time.monotonic() + 90
    while True:
        container.reload()
        health = ((container.attrs.get("State") or {}).get("Health") or {}).get("Status")
        if container.status == "running" and (settle_seconds <= 0 or health in (None, "healthy")):
            break
        if time.monotonic() > deadline:
            raise RegistryCtlError(f"container {container.name} did not come back ({container.status}, {health})")
        time.sleep(0.5)
    if settle_seconds > 0:
        time.sleep(settle_seconds)


def gc_command(config_path: str, delete_untagged: bool) -> list[str]:
    """Plain GC frees every blob no manifest references, which covers the manifests `retention apply` deleted.
    --delete-untagged also removes manifests no tag names; distribution 2.8 then removes the platform images of
    multi-platform indexes too (distribution#3178, #3004; proven in tests/e2e/test_retention_apply.py), so it is
    opt-in."""
    return ["registry", "garbage-collect", *(["--delete-untagged"] if delete_untagged else []), config_path]


def _check_cache(cache: Any) -> None:
    """The Redis cache must be up before the window opens: after GC it is emptied by a restart."""
    cache.reload()
    if cache.status != "running":
        raise RegistryCtlError(
            f"the Redis blob cache {cache.name} is {cache.status}: gc empties it after collecting (its entries of "
            f"swept blobs would make later pushes skip their uploads); `docker start {cache.name}` first"
        )


def _empty_cache(cache: Any, progress: Callable[[str], None], config_path: str, saved_path: str) -> None:
    """Restart the Redis cache (it keeps nothing on disk); the replicas are still read-only."""
    progress(f"emptying the blob cache: restarting {cache.name} (the replicas are still read-only)")
    try:
        _restart(cache, 0.0)
    except Exception as error:
        raise RegistryCtlError(
            f"could not empty the Redis blob cache {cache.name} after garbage-collect: {error}. The registry stays "
            f"read-only (pulls work, pushes are refused): a push against the cache's entries of swept blobs would "
            f"skip their uploads. Restart it (`docker restart {cache.name}`) and run `registryctl gc` again: it "
            f"puts the deployed {config_path} back from {saved_path}"
        ) from error


def garbage_collect(
    containers: Sequence[Any],
    config_path: str,
    progress: Callable[[str], None],
    delete_untagged: bool = False,
    settle_seconds: float = 0.0,
    cache: Any | None = None,
) -> str:
    """Run GC in a read-only window of the registry; returns GC's output. Restores the config always.

    With replicas every one of them goes read-only before GC starts (a replica left writable would take pushes
    whose layers GC, running in the first one, sees unreferenced and deletes) and each gets its config back;
    they restart one at a time, each healthy and back behind the load balancer (settle_seconds) before the
    next, so pulls keep working. `cache` (the Redis container of storage.cache: redis) is emptied after GC, also
    a failed one, before any replica is writable again; if that fails the replicas stay read-only."""
    if not containers:
        raise RegistryCtlError("no registry container to collect in")
    if cache is not None:
        _check_cache(cache)
    saved_path = config_path + SAVED_SUFFIX
    originals = [_saved_original(container, config_path, saved_path, progress) for container in containers]
    switched = 0  # the first `switched` containers got the read-only config
    collecting = False  # garbage-collect started: it may have swept blobs the cache lists
    failure: BaseException | None = None
    try:
        for container, original in zip(containers, originals, strict=True):
            write_file(container, config_path, read_only_config(original))
            switched += 1
            progress(f"{container.name} restarting read-only (pulls work, pushes are refused)")
            _restart(container, settle_seconds)
        command = gc_command(config_path, delete_untagged)
        progress(f"running {' '.join(command)} in {containers[0].name}")
        collecting = True
        result = containers[0].exec_run(command)
        output = result.output.decode(errors="replace")
        if result.exit_code != 0:
            raise RegistryCtlError(f"garbage-collect failed ({result.exit_code}): {output.strip()[-500:]}")
    except BaseException as error:
        failure = error
        raise
    finally:
        if collecting and cache is not None:
            _empty_cache(cache, progress, config_path, saved_path)  # raises: the replicas stay read-only
        # Every container whose config was saved gets it back, also after one failed to switch or restart.
        problems: list[str] = []
        for index, (container, original) in enumerate(zip(containers, originals, strict=True)):
            try:
                write_file(container, config_path, original)
                if index < switched:
                    progress(f"{container.name} restarting read-write")
                    _restart(container, settle_seconds)
                container.exec_run(["rm", "-f", saved_path])
            except Exception as error:  # the others are still put back; reported below
                problems.append(f"{container.name}: {error}")
        if problems:
            before = f"; before that: {failure}" if failure is not None else ""
            raise RegistryCtlError(
                f"could not put the deployed {config_path} back on {'; '.join(problems)} "
                f"(its copy stays at {saved_path}; the next `registryctl gc` restores it){before}"
            )
    return output


def _saved_original(container: Any, config_path: str, saved_path: str, progress: Callable[[str], None]) -> bytes:
    """The container's config as deployed, saved beside itself; from the saved copy of an interrupted gc."""
    original = read_file(container, saved_path)  # present only when an earlier gc was interrupted
    if original is not None:
        progress(f"an earlier gc was interrupted: restoring {config_path} of {container.name} from {saved_path}")
        return original
    original = read_file(container, config_path)
    if original is None:
        raise RegistryCtlError(f"container {container.name} has no {config_path}")
    write_file(container, saved_path, original)
    return original


def gc_summary(output: str) -> str:
    """GC's own count line (`N blobs marked, M blobs and K manifests eligible for deletion`), or a fallback."""
    lines = [line for line in output.splitlines() if "eligible for deletion" in line]
    return lines[-1].strip() if lines else "garbage-collect finished"


def cmd_gc(args: argparse.Namespace) -> int:
    import docker
    import docker.errors

    from components.selfhosted.config_file import config_path
    from components.selfhosted.load_balancer import UP_AFTER_SECONDS

    spec = declared_spec(args)
    if spec.self_hosted is None:
        raise UsageError(f"stack {args.stack!r} declares no registries:selfHosted")
    if spec.self_hosted.platform == "kubernetes":
        # No Docker container to exec into: the cluster's CronJob collects with the registry read-only.
        raise RegistryCtlError(
            "registries:selfHosted.platform is kubernetes: garbage collection runs in the cluster as the CronJob "
            "set by registries:selfHosted.kubernetes.garbageCollect (enabled: true); "
            "`kubectl create job --from=cronjob/<name>-gc` runs it now"
        )
    if not spec.self_hosted.storage.delete_enabled:
        raise RegistryCtlError(
            "registries:selfHosted.storage.deleteEnabled is false: nothing is ever deleted, so gc has nothing to free"
        )
    outputs = output_values(open_stack(args))
    names = [str(n) for n in outputs.get("replicaContainerNames") or [outputs.get("containerName") or ""]]
    if len(names) != spec.self_hosted.replicas:
        # Deployed by a version without replicaContainerNames (or config changed since): GC with a replica left
        # writable would delete the layers of pushes it takes.
        raise RegistryCtlError(
            f"registries:selfHosted.replicas is {spec.self_hosted.replicas} but the stack's outputs name "
            f"{len(names)} registry container(s): run `pulumi up -s {args.stack}` first"
        )
    try:
        client = docker.from_env(timeout=600)
    except docker.errors.DockerException as error:
        raise RegistryCtlError(f"cannot reach the Docker host of the registry: {error}") from None
    try:
        containers = []
        for name in names:
            try:
                containers.append(client.containers.get(name))
            except docker.errors.NotFound:
                raise RegistryCtlError(f"no registry container {name!r}: deploy the stack first") from None
        cache = None
        if spec.self_hosted.storage.cache == "redis":
            cache_name = f"{spec.self_hosted.name}-redis"
            try:
                cache = client.containers.get(cache_name)
            except docker.errors.NotFound:
                raise RegistryCtlError(
                    f"registries:selfHosted.storage.cache is redis but its container {cache_name!r} does not "
                    f"exist: gc must empty it after collecting; run `pulumi up -s {args.stack}` first"
                ) from None
        path = config_path(spec.self_hosted.registry_major)
        output = garbage_collect(
            containers,
            path,
            lambda m: print(f"gc: {m}", flush=True),
            args.delete_untagged,
            settle_seconds=UP_AFTER_SECONDS if len(containers) > 1 else 0.0,
            cache=cache,
        )
    finally:
        client.close()
    print(gc_summary(output))
    return 0
