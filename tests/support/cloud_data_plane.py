"""A cloud registry's data plane stood in by distribution on loopback, for `registryctl verify`'s signing check on
ECR, Artifact Registry and ACR with the real cosign and notation.

No cloud registry can be reached here. What the signing check depends on is the OCI distribution API of the
registry's host (push, manifests by tag and digest, the tag scheme signatures use) and the platform's delete (by tag
or by digest). So:

- `registry serve` (distribution 3, built from the Go module proxy) listens on 127.0.0.1 with TLS; its certificate,
  from a CA of this run, names the cloud hosts (`123456789012.dkr.ecr.eu-west-1.amazonaws.com`, ...) and 127.0.0.1.
  htpasswd holds the one user the platform's login gives (`AWS`, `oauth2accesstoken`, ...).
- A CONNECT proxy on loopback (HTTPS_PROXY for cosign, notation and the probe) tunnels those hosts' port 443 to
  the registry and refuses every other host (cosign's attempt at Sigstore's TUF repository is refused and recorded):
  no traffic leaves the machine.
- `python -m tests.support.cloud_data_plane <tool> ...` is the platform's CLI, written onto a test PATH by
  `install_tools`: `gcloud artifacts docker images delete`, `az acr login` / `az acr repository delete` and
  `docker-credential-gcloud get`, each deleting or answering on this registry, as the platform documents: a tag
  deletes the manifest it names (with --delete-tags, every tag of it), a digest the manifest. Each call is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registryctl.registry_client import ProbeImage
from tests.support.processes import end_process

MANIFEST_TYPES = ",".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
ENV = "REGISTRIES_DATA_PLANE"
"""The environment variable the CLI stand-ins read the plane from (JSON: url, ca, user, password, calls)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _issue(hosts: list[str], directory: Path) -> tuple[Path, Path, str]:
    """(certificate, key, CA PEM): a CA of this run and a server certificate for `hosts` and 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloud data plane stand-in CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "registry.crt", directory / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path, ca.public_bytes(serialization.Encoding.PEM).decode()


class ConnectProxy:
    """HTTP CONNECT on 127.0.0.1: the given hosts' port 443 to `target`; any other host refused (403), recorded."""

    def __init__(self, hosts: list[str], target: int) -> None:
        self.hosts, self.target = set(hosts), target
        self.refused: list[str] = []
        self.tunnelled: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, authority, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = authority.rpartition(":")
            if method != "CONNECT" or host not in self.hosts or port != "443":
                self.refused.append(authority)
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnelled.append(host)
            with socket.create_connection(("127.0.0.1", self.target)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(client, upstream)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close() alone does not
        self._server.close()
        self._thread.join(timeout=5)


def _pipe(one: socket.socket, other: socket.socket) -> None:
    ends = [one, other]
    while True:
        readable, _, _ = select.select(ends, [], [], 60)
        if not readable:
            return
        for end in readable:
            try:
                data = end.recv(65536)
                if not data:
                    return
                (other if end is one else one).sendall(data)
            except OSError:  # a client that resets the tunnel: the tunnel ends
                return


@dataclass
class DataPlane:
    """distribution on loopback answering for `hosts`, behind a CONNECT proxy; see the module's docstring."""

    hosts: list[str]
    user: str
    password: str = field(repr=False)
    url: str
    ca_pem: str
    root: Path
    proxy: ConnectProxy
    process: subprocess.Popen[bytes]
    calls: Path

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    def settings(self) -> dict[str, str]:
        """The plane as the CLI stand-ins read it (from $REGISTRIES_DATA_PLANE)."""
        return {
            "url": self.url,
            "ca": self.ca_pem,
            "user": self.user,
            "password": self.password,
            "calls": str(self.calls),
        }

    def environment(self, ca_bundle: Path, refuse: str = "") -> dict[str, str]:
        """What a client process needs: the proxy (loopback itself direct) and the CA bundle, plus the plane for
        the CLI stand-ins; a delete whose target contains `refuse` is refused (a denied permission)."""
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "SSL_CERT_FILE": str(ca_bundle),
            ENV: json.dumps({**self.settings(), "refuse": refuse}),
        }

    def session(self) -> requests.Session:
        return _session(self.url, self.ca_pem, self.user, self.password, self.root)

    def push_probe(self, repository_url: str) -> ProbeImage:
        """What `docker push` of a one-layer probe does (blobs, then the manifest by tag), through the proxy to the
        cloud host, then a pull by digest: the probe that `verify` signs."""
        host, repository = repository_url.split("/", 1)
        with requests.Session() as web:
            web.auth = (self.user, self.password)
            web.verify = str(self.root / "ca.pem")
            web.proxies = {"https": self.proxy_url}
            web.trust_env = False  # else REQUESTS_CA_BUNDLE would win over `verify` (requests' merge order)
            base = f"https://{host}/v2/{repository}"
            layer = os.urandom(256)
            config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
            blobs = []
            for blob, media_type in (
                (config, "application/vnd.oci.image.config.v1+json"),
                (layer, "application/vnd.oci.image.layer.v1.tar"),
            ):
                digest = "sha256:" + hashlib.sha256(blob).hexdigest()
                started = web.post(f"{base}/blobs/uploads/", timeout=30)
                started.raise_for_status()
                location = started.headers["Location"]
                location = location if location.startswith("https://") else f"https://{host}{location}"
                put = web.put(
                    location,
                    params={"digest": digest},
                    data=blob,
                    timeout=30,
                    headers={"Content-Type": "application/octet-stream"},
                )
                put.raise_for_status()
                blobs.append({"mediaType": media_type, "digest": digest, "size": len(blob)})
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": blobs[0],
                    "layers": [blobs[1]],
                }
            ).encode()
            tag = f"registryctl-verify-{secrets.token_hex(4)}"
            pushed = web.put(
                f"{base}/manifests/{tag}",
                data=manifest,
                timeout=30,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
            pushed.raise_for_status()
            digest = pushed.headers["Docker-Content-Digest"]
            pulled = web.get(f"{base}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}, timeout=30)
            pulled.raise_for_status()
            assert hashlib.sha256(pulled.content).hexdigest() == digest.split(":", 1)[1]
            return ProbeImage(f"{repository_url}:{tag}", digest)

    def manifests(self) -> dict[str, list[str]]:
        """Every repository's manifest revisions still linked in storage (distribution unlinks a deleted one)."""
        repositories = self.root / "data" / "docker" / "registry" / "v2" / "repositories"
        found: dict[str, list[str]] = {}
        for revisions in repositories.rglob("_manifests/revisions/sha256"):
            repository = str(revisions.parent.parent.parent.relative_to(repositories))
            linked = sorted(f"sha256:{p.parent.name}" for p in revisions.glob("*/link"))
            if linked:
                found[repository] = linked
        return found

    def tags(self) -> dict[str, list[str]]:
        """Every repository's tags still linked in storage."""
        repositories = self.root / "data" / "docker" / "registry" / "v2" / "repositories"
        found: dict[str, list[str]] = {}
        for tags in repositories.rglob("_manifests/tags"):
            names = sorted(p.parent.parent.name for p in tags.glob("*/current/link"))
            if names:
                found[str(tags.parent.parent.relative_to(repositories))] = names
        return found

    def recorded_calls(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]

    def stop(self) -> None:
        self.proxy.close()
        end_process(self.process)


def start_data_plane(hosts: list[str], user: str, root: Path, registry_binary: Path) -> DataPlane:
    """distribution with TLS for `hosts` and htpasswd `user`, in `root`, and its CONNECT proxy; stop() ends both."""
    root.mkdir(parents=True, exist_ok=True)
    cert, key, ca_pem = _issue(hosts, root)
    (root / "ca.pem").write_text(ca_pem)
    password = secrets.token_urlsafe(18)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"{user}:{hashed}\n")
    port = _free_port()
    config = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "tls": {"certificate": str(cert), "key": str(key)}},
        "auth": {"htpasswd": {"realm": "data-plane", "path": str(root / "htpasswd")}},
    }
    (root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    with (root / "registry.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(registry_binary), "serve", str(root / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"https://127.0.0.1:{port}"
    try:
        _wait_serving(process, url, root)
        proxy = ConnectProxy(hosts, port)
    except BaseException:
        end_process(process)
        raise
    return DataPlane(hosts, user, password, url, ca_pem, root, proxy, process, root / "calls.jsonl")


def _wait_serving(process: subprocess.Popen[bytes], url: str, root: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited {process.returncode}: {(root / 'registry.log').read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/v2/", verify=str(root / "ca.pem"), timeout=2).status_code == 401:
                return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _session(url: str, ca_pem: str, user: str, password: str, directory: Path) -> requests.Session:
    web = requests.Session()
    web.auth = (user, password)
    ca = directory / "ca.pem"
    if not ca.exists():
        ca.write_text(ca_pem)
    web.verify = str(ca)
    web.trust_env = False  # straight to 127.0.0.1
    return web


# --- the platform CLIs, as the test PATH's gcloud, az and docker-credential-gcloud -----------------------------


TOOLS = {
    "gcloud": "gcloud",
    "az": "az",
    "docker-credential-gcloud": "credential-gcloud",
}


def install_tools(bin_dir: Path) -> None:
    """gcloud, az and docker-credential-gcloud on `bin_dir`: this module, reading the plane from $REGISTRIES_..."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    for name, tool in TOOLS.items():
        script = bin_dir / name
        script.write_text(
            f'#!/bin/sh\ncd {root} && exec {sys.executable} -m tests.support.cloud_data_plane {tool} "$@"\n'
        )
        script.chmod(0o755)


def _digest_of(web: requests.Session, url: str, repository: str, reference: str) -> str | None:
    answer = web.head(f"{url}/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}, timeout=30)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return str(answer.headers["Docker-Content-Digest"])


def _delete(plane: dict[str, Any], repository: str, reference: str) -> str | None:
    """Delete the manifest `reference` (tag or digest) names, with its tags; None, or the error a CLI would print."""
    if plane.get("refuse") and plane["refuse"] in f"{repository}:{reference}":
        return f"PERMISSION_DENIED: deleting {repository} {reference} is not allowed"
    with _session(plane["url"], plane["ca"], plane["user"], plane["password"], Path(plane["calls"]).parent) as web:
        digest = _digest_of(web, plane["url"], repository, reference)
        if digest is None:
            return f"NOT_FOUND: {repository} {reference} not found"
        answer = web.delete(f"{plane['url']}/v2/{repository}/manifests/{digest}", timeout=30)
        if answer.status_code != 202:
            return f"{answer.status_code}: {answer.text.strip()}"
    return None


def _split(target: str) -> tuple[str, str]:
    """(repository, tag or digest) of `repository:tag` / `repository@sha256:...`."""
    if "@" in target:
        repository, digest = target.split("@", 1)
        return repository, digest
    repository, tag = target.rsplit(":", 1)
    return repository, tag


def main(argv: list[str]) -> int:
    plane = json.loads(os.environ[ENV])
    with Path(plane["calls"]).open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    tool, args = argv[0], argv[1:]
    error: str | None
    if tool == "credential-gcloud":  # docker-credential-gcloud get: the server on stdin, a JSON answer
        if args != ["get"]:
            return 1
        server = sys.stdin.read().strip()
        print(json.dumps({"ServerURL": server, "Username": plane["user"], "Secret": plane["password"]}))
        return 0
    if tool == "gcloud" and args[:4] == ["artifacts", "docker", "images", "delete"]:
        host_repository, reference = _split(args[4])
        error = _delete(plane, host_repository.split("/", 1)[1], reference)
        if error:
            print(f"ERROR: (gcloud.artifacts.docker.images.delete) {error}", file=sys.stderr)
        return 1 if error else 0
    if tool == "az" and args[:2] == ["acr", "login"]:
        host = f"{args[args.index('--name') + 1].lower()}.azurecr.io"
        docker_config = Path(os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker"))) / "config.json"
        config = json.loads(docker_config.read_text()) if docker_config.exists() else {}
        auth = base64.b64encode(f"{plane['user']}:{plane['password']}".encode()).decode()
        config.setdefault("auths", {})[host] = {"auth": auth}
        docker_config.parent.mkdir(parents=True, exist_ok=True)
        docker_config.write_text(json.dumps(config))
        print("Login Succeeded")
        return 0
    if tool == "az" and args[:3] == ["acr", "repository", "delete"]:
        repository, reference = _split(args[args.index("--image") + 1])
        error = _delete(plane, repository, reference)
        if error:
            print(f"ERROR: {error}", file=sys.stderr)
        return 1 if error else 0
    print(f"{tool}: not stood in: {' '.join(args)}", file=sys.stderr)
    return 2


class EcrApi:
    """boto3's ECR client where verify needs it, answering on the data plane: GetAuthorizationToken gives the
    plane's `AWS` user, BatchDeleteImage deletes by tag or digest as the API reference says (the last tag of an
    image deletes the image) and reports each image it does not find as ImageNotFound."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.deletes: list[list[dict[str, str]]] = []

    def _listed_by_an_index(self, repository: str, reference: str) -> str | None:
        """The tag of an image index in `repository` that lists the manifest `reference` names (ECR then refuses)."""
        with self.plane.session() as web:
            base = f"{self.plane.url}/v2/{repository}"
            digest = _digest_of(web, self.plane.url, repository, reference)
            if digest is None:
                return None
            tags = web.get(f"{base}/tags/list", timeout=30).json().get("tags") or []
            for tag in tags:
                manifest = web.get(f"{base}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=30).json()
                if digest in [entry.get("digest") for entry in manifest.get("manifests") or []]:
                    return str(tag)
        return None

    def get_authorization_token(self, registryIds: list[str]) -> dict[str, Any]:
        token = base64.b64encode(f"{self.plane.user}:{self.plane.password}".encode()).decode()
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=12)
        return {"authorizationData": [{"authorizationToken": token, "expiresAt": expires}]}

    def batch_delete_image(
        self,
        registryId: str,
        repositoryName: str,
        imageIds: list[dict[str, str]],
    ) -> dict[str, Any]:
        self.deletes.append(imageIds)
        plane = self.plane.settings()
        deleted, failures = [], []
        # Judged against the repository as the batch found it: a batch has no documented order.
        listers = {
            id(image_id): self._listed_by_an_index(repositoryName, image_id.get("imageDigest") or image_id["imageTag"])
            for image_id in imageIds
        }
        for image_id in imageIds:
            reference = image_id.get("imageDigest") or image_id["imageTag"]
            lister = listers[id(image_id)]
            if lister is not None:
                reason = f"the image index tagged {lister} lists it"
                failures.append(
                    {"imageId": image_id, "failureCode": "ImageReferencedByManifestList", "failureReason": reason}
                )
                continue
            error = _delete(plane, repositoryName, reference)
            if error:
                failures.append({"imageId": image_id, "failureCode": "ImageNotFound", "failureReason": error})
            else:
                deleted.append(image_id)
        return {"imageIds": deleted, "failures": failures}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
