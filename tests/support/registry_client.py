"""Use a deployed registry the way a user does: docker login/push/pull, skopeo, the HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from registryctl.registry_client import CERTS_D, pulled_digest, pushed_digest, trust_ca


def run(
    cmd: list[str], *, stdin: str | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class RegistryUser:
    """A client of one registry endpoint, with its own docker config dir and the CA installed like users do."""

    endpoint: str
    ca_pem: str
    tls: bool = True
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="registry-client-")))

    def __post_init__(self) -> None:
        self.cert_dir = self.workdir / "certs"
        self.cert_dir.mkdir()
        self.docker_config = self.workdir / "docker"
        self.docker_config.mkdir()
        if self.tls:  # trusted the way users do: --cert-dir for skopeo, certs.d for the daemon
            (self.cert_dir / "ca.crt").write_text(self.ca_pem)
            trust_ca({"endpoint": self.endpoint, "caCertPem": self.ca_pem})
        self.ca_file = str(self.cert_dir / "ca.crt") if self.tls else None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(CERTS_D / self.endpoint, ignore_errors=True)

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
        cmd = ["skopeo", "inspect", f"--creds={user}:{password}", f"docker://{self.endpoint}/{repository}:{tag}"]
        cmd.insert(2, f"--cert-dir={self.cert_dir}" if self.tls else "--tls-verify=false")
        return json.loads(run(cmd).stdout)

    # -- HTTP API -------------------------------------------------------------------------------
    def api(self, method: str, path: str, auth: tuple[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.base_url}{path}", auth=auth, verify=self.ca_file or False, timeout=30, **kwargs
        )
