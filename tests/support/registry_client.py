"""Use a deployed registry the way a user does: docker login/push/pull, skopeo, the HTTP API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from components.selfhosted.credentials import docker_config_json
from registryctl.registry_client import CERTS_D, pulled_digest, pushed_digest, trust_ca


def run(
    cmd: list[str], *, stdin: str | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a client command. Secrets go by stdin or a file, never argv; a failure shows neither."""
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        output = f"{result.stdout}\n{result.stderr}"
        if stdin:
            output = output.replace(stdin, "[stdin]")
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{output}")
    return result


@dataclass
class RegistryUser:
    """A client of one registry endpoint, with its own docker config dir and the CA installed like users do."""

    endpoint: str
    ca_pem: str
    tls: bool = True
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="registry-client-")))
    certs_d: Path = CERTS_D
    """Where the Docker daemon looks for registry CAs."""

    def __post_init__(self) -> None:
        self.cert_dir = self.workdir / "certs"
        self.cert_dir.mkdir()
        self.docker_config = self.workdir / "docker"
        self.docker_config.mkdir()
        # What was in certs.d before, so close() puts back exactly that (a user's real CA stays).
        self._trust_dir = self.certs_d / self.endpoint
        self._trust_dir_existed = self._trust_dir.exists()
        previous = self._trust_dir / "ca.crt"
        self._previous_ca = previous.read_bytes() if previous.is_file() else None
        if self.tls:  # trusted the way users do: --cert-dir for skopeo, certs.d for the daemon
            (self.cert_dir / "ca.crt").write_text(self.ca_pem)
            trust_ca({"endpoint": self.endpoint, "caCertPem": self.ca_pem}, self.certs_d)
        self.ca_file = str(self.cert_dir / "ca.crt") if self.tls else None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        if not self.tls:
            return
        if not self._trust_dir_existed:
            shutil.rmtree(self._trust_dir, ignore_errors=True)
        elif self._previous_ca is not None:
            (self._trust_dir / "ca.crt").write_bytes(self._previous_ca)
        else:
            (self._trust_dir / "ca.crt").unlink(missing_ok=True)

    # -- docker CLI -----------------------------------------------------------------------------
    def docker(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["docker", "--config", str(self.docker_config), *args], stdin=stdin, check=check)

    def login(self, user: str, password: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.docker("login", self.endpoint, "--username", user, "--password-stdin", stdin=password, check=check)

    def push(self, local_tag: str, repository: str, tag: str) -> str:
        """Tag and push; returns the manifest digest the registry reported."""
        ref = f"{self.endpoint}/{repository}:{tag}"
        self.docker("tag", local_tag, ref)
        digest = pushed_digest(self.docker("push", ref).stdout)
        assert digest, f"docker push {ref} reported no digest"
        return digest

    def pull(self, repository: str, tag: str) -> str:
        """Pull; returns the repo digest of the pulled image."""
        ref = f"{self.endpoint}/{repository}:{tag}"
        self.docker("pull", ref)
        digests = self.docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref).stdout
        digest = pulled_digest(digests, f"{self.endpoint}/{repository}")
        assert digest, f"{ref} has no digest from {self.endpoint}"
        return digest

    def remove_local(self, repository: str, tag: str) -> None:
        self.docker("rmi", "--force", f"{self.endpoint}/{repository}:{tag}")

    # -- skopeo ---------------------------------------------------------------------------------
    def skopeo_inspect(self, repository: str, tag: str, user: str, password: str) -> dict[str, Any]:
        # Credentials in an auth file readable by us only, never on the command line (`ps` shows argv).
        auth_file = self.workdir / "skopeo-auth.json"
        fd = os.open(auth_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(docker_config_json(self.endpoint, user, password))
        tls_flag = f"--cert-dir={self.cert_dir}" if self.tls else "--tls-verify=false"
        cmd = ["skopeo", "inspect", tls_flag, f"--authfile={auth_file}", f"docker://{self.endpoint}/{repository}:{tag}"]
        try:
            return json.loads(run(cmd).stdout)
        finally:
            auth_file.unlink(missing_ok=True)

    # -- HTTP API -------------------------------------------------------------------------------
    def api(self, method: str, path: str, auth: tuple[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.base_url}{path}", auth=auth, verify=self.ca_file or False, timeout=30, **kwargs
        )
