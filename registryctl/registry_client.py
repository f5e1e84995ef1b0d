"""What users do with a deployed self-hosted registry: trust its CA, log in, verify a push and pull."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from registryctl.errors import RegistryCtlError

CERTS_D = Path("/etc/docker/certs.d")


def _docker(args: list[str], docker_config: Path | None, stdin: str | None = None) -> str:
    cmd = ["docker", *(["--config", str(docker_config)] if docker_config else []), *args]
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        raise RegistryCtlError(f"`docker {args[0]}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def scratch_context(files: Mapping[str, bytes]) -> bytes:
    """A docker build context (tar) holding `files`, e.g. a `FROM scratch` Dockerfile and its payload."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return context.getvalue()


def pushed_digest(push_output: str) -> str:
    """The manifest digest `docker push` reported, or "" when it reported none."""
    return next((line.split("digest: ")[1].split()[0] for line in push_output.splitlines() if "digest: " in line), "")


def pulled_digest(repo_digests_json: str, repository: str) -> str:
    """The digest of `repository` (host:port/name) among an image's RepoDigests, or ""."""
    return next((d.split("@")[1] for d in json.loads(repo_digests_json) if d.startswith(f"{repository}@")), "")


def trust_ca(outputs: Mapping[str, Any], certs_dir: Path = CERTS_D) -> Path | None:
    """Install the stack's CA where the Docker daemon looks for it: certs.d/<host:port>/ca.crt."""
    ca = outputs.get("caCertPem") or ""
    if not ca:
        return None
    target = certs_dir / str(outputs["endpoint"]) / "ca.crt"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(ca))
    except OSError as error:
        raise RegistryCtlError(
            f"cannot install the stack's CA at {target} ({error.strerror}): the Docker daemon reads it from there; "
            "run as root (sudo), or install the caCertPem output there yourself"
        ) from None
    return target


def login(outputs: Mapping[str, Any], user: str | None = None, docker_config: Path | None = None) -> str:
    """`docker login` to the stack's endpoint as `user` (default: the first), password on stdin."""
    users: Mapping[str, str] = outputs.get("users") or {}
    if not users:
        raise RegistryCtlError("the stack has no `users` output: is registries:selfHosted declared and deployed?")
    name = user or next(iter(users))
    if name not in users:
        raise RegistryCtlError(f"no user {name!r} in the stack; users: {', '.join(users)}")
    _docker(["login", str(outputs["endpoint"]), "--username", name, "--password-stdin"], docker_config, users[name])
    return name


@dataclass(frozen=True)
class ProbeImage:
    """A generated image pushed to a registry: `repository:tag` and the manifest digest both ends agreed on."""

    reference: str
    digest: str

    @property
    def repository(self) -> str:
        return self.reference.rsplit(":", 1)[0]


class ProbeFailed(RegistryCtlError):
    """The push/pull probe failed; `pushed` is the image when the push got through (so it can be deleted)."""

    def __init__(self, message: str, pushed: ProbeImage | None = None) -> None:
        super().__init__(message)
        self.pushed = pushed


class ImageProbe(Protocol):
    """Push a generated image to `repository`, pull it back, return it (the docker CLI, or a fake in tests)."""

    def push_pull(self, repository: str, docker_config: Path | None = None) -> ProbeImage: ...


PROBE_REPOSITORY = "registryctl/verify"
"""Where verify pushes its probe on a self-hosted registry."""


def probe_tag() -> str:
    return f"registryctl-verify-{os.urandom(4).hex()}"


class DockerProbe:
    """The docker CLI: build a tiny `FROM scratch` image, push it, remove it locally, pull it back."""

    def push_pull(self, repository: str, docker_config: Path | None = None) -> ProbeImage:
        ref = f"{repository}:{probe_tag()}"
        context = scratch_context({"Dockerfile": b"FROM scratch\nCOPY probe /probe\n", "probe": os.urandom(256)})
        # The classic builder reads a tar context from stdin and needs no BuildKit plugin.
        build = subprocess.run(
            ["docker", "build", "-q", "-t", ref, "-"],
            input=context,
            capture_output=True,
            check=False,
            timeout=600,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if build.returncode != 0:
            raise ProbeFailed(f"`docker build` of the probe image failed: {build.stderr.decode().strip()}")
        try:
            digest = pushed_digest(_docker(["push", ref], docker_config))
        except RegistryCtlError as error:
            _docker_quiet(["rmi", ref], docker_config)
            raise ProbeFailed(str(error)) from None
        pushed = ProbeImage(ref, digest) if digest else None
        try:
            _docker(["rmi", ref], docker_config)
            _docker(["pull", ref], docker_config)
            inspected = _docker(["image", "inspect", "--format", "{{json .RepoDigests}}", ref], docker_config)
            pulled = pulled_digest(inspected, ref.rsplit(":", 1)[0])
            _docker(["rmi", ref], docker_config)
        except RegistryCtlError as error:
            raise ProbeFailed(str(error), pushed) from None
        if not digest or digest != pulled:
            raise ProbeFailed(f"pushed digest {digest or '?'} but pulled {pulled or '?'}", pushed)
        return ProbeImage(ref, digest)


def _docker_quiet(args: list[str], docker_config: Path | None) -> None:
    """Best-effort local cleanup; its failure must not hide the error being reported."""
    with contextlib.suppress(RegistryCtlError):
        _docker(args, docker_config)


def verify(outputs: Mapping[str, Any], docker_config: Path | None = None, probe: ImageProbe | None = None) -> str:
    """Push a tiny generated image, remove it locally, pull it back; returns the digest both agreed on."""
    return (probe or DockerProbe()).push_pull(f"{outputs['endpoint']}/{PROBE_REPOSITORY}", docker_config).digest
