"""Level 2 of the Kubernetes path: the objects KubernetesRegistry declares, run as pods on a real node.

kube-apiserver, kube-controller-manager, kube-scheduler and kubelet (all built from k8s.io/kubernetes through the
module proxy) on Debian's containerd, runc and CNI plugins (tests/kube/node.py). The registry image is the one our
tests build (distribution 3.1.2 from the module proxy), loaded into containerd, never pulled.

What a user of `platform: kubernetes` relies on, checked the way they would:
- the Deployment rolls out (kubectl rollout status) with the claim bound and the config and htpasswd mounted;
- through the Ingress: https://<its host>/v2/ answers 401 without credentials, and docker login, push and a pull by
  digest work with the stack's htpasswd user, trusting the CA of the Ingress's TLS Secret (certs.d), with the
  registry's own redirects (http.host) pointing there; the blobs land on the claim's volume.

TLS ends at the Ingress on this platform (the pods speak plain HTTP). No ingress controller image can be had here, so
tests/kube/tls_front.py does its part: TLS on 127.0.0.1:443 with the Secret's certificate, on to the Service
through `kubectl port-forward` (API server -> kubelet -> containerd -> the pod)."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import docker
import pytest
import requests

from components.kubernetes.settings import CONFIG_KEY, READ_ONLY_CONFIG_KEY
from tests.kube.controlplane import ControlPlane, StartError, free_port, kube_bin, serving_pem
from tests.kube.node import Node
from tests.kube.test_kubernetes_apiserver import DECLARED_NAMESPACE, _apply, _into
from tests.kube.tls_front import TlsFront
from tests.support.images import build_scratch_image
from tests.support.registry_client import RegistryUser
from tests.unit.test_kubernetes_registry import CONFIGS, _manifests_of

CASE = "single-pod-on-a-claim"
USER = "admin"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A control plane of its own (the API-server tier's runs on another worker) and the node beside it."""
    plane = ControlPlane(workdir=tmp_path_factory.mktemp("kube-node"), bin_dir=kube_bin())
    started = Node(plane)
    try:
        plane.start()
        started.start()
    except StartError as error:
        started.stop()
        plane.stop()
        pytest.fail(f"the node cannot start: {error}", pytrace=False)
    try:
        yield started
    finally:
        started.stop()
        plane.stop()
        left = started.leftovers() + [f"process {pid}" for pid in plane.running()]
        assert not left, f"left behind: {left}"


@pytest.fixture(scope="module")
def node_registry_image(node: Node, registry_images: dict[str, str]) -> str:
    """The image the case's Deployment names (built by the tier's fixture), loaded into the node's containerd."""
    deployment = next(m for m in _manifests_of(CONFIGS[CASE]) if m["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image in registry_images, f"{image} is not among the images the tier builds: {sorted(registry_images)}"
    node.load_image(image)
    return image


def _htpasswd(password: str) -> str:
    return f"{USER}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()}\n"


def _deploy(node: Node, namespace: str, password: str) -> list[dict[str, Any]]:
    """The case's manifests in `namespace`, the htpasswd Secret holding `password`'s hash and the TLS Secret a
    certificate for the Ingress host (the mocks' placeholders), and a hostPath PersistentVolume for its claim (no
    provisioner runs here)."""
    manifests = _into(_manifests_of(CONFIGS[CASE]), namespace)
    host = next(m for m in manifests if m["kind"] == "Ingress")["spec"]["rules"][0]["host"]
    for manifest in manifests:
        if manifest["kind"] == "Secret" and "htpasswd" in manifest.get("stringData", {}):
            manifest["stringData"]["htpasswd"] = _htpasswd(password)
        if manifest.get("type") == "kubernetes.io/tls":  # what pulumi-tls makes for the Ingress host
            manifest["stringData"] = serving_pem(host)
    claim = next(m for m in manifests if m["kind"] == "PersistentVolumeClaim")
    data = node.dir / "volumes" / namespace
    data.mkdir(parents=True)
    data.chmod(0o777)  # the registry runs as its image's user; a hostPath volume gets no fsGroup
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{namespace}-data"},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"]["accessModes"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "hostPath": {"path": str(data), "type": "Directory"},
            "claimRef": {"namespace": namespace, "name": claim["metadata"]["name"]},
        },
    }
    _apply(node.plane, [*manifests, volume])
    return manifests


class PortForward:
    """`kubectl port-forward svc/<name>` on a free loopback port, ended on exit."""

    def __init__(self, plane: ControlPlane, namespace: str, target: str, port: int) -> None:
        self.local = free_port()
        self.process = subprocess.Popen(
            [
                "kubectl",
                f"--kubeconfig={plane.kubeconfig}",
                "-n",
                namespace,
                "port-forward",
                "--address=127.0.0.1",
                target,
                f"{self.local}:{port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first.startswith(f"Forwarding from 127.0.0.1:{self.local}"):
            self.close()
            raise AssertionError(f"kubectl port-forward {target}: {first}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _secret_text(node: Node, namespace: str, name: str) -> dict[str, str]:
    data = node.plane.json(["-n", namespace, "get", "secret", name])["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


@dataclass
class Deployed:
    node: Node
    namespace: str
    password: str
    manifests: list[dict[str, Any]]

    def of_kind(self, kind: str) -> dict[str, Any]:
        return next(m for m in self.manifests if m["kind"] == kind)

    @property
    def deployment(self) -> str:
        return self.of_kind("Deployment")["metadata"]["name"]

    @property
    def host(self) -> str:
        return self.of_kind("Ingress")["spec"]["rules"][0]["host"]

    @property
    def blobs(self) -> Path:
        return self.node.dir / "volumes" / self.namespace / "docker" / "registry" / "v2" / "blobs"

    def rolled_out(self) -> None:
        rolled = self.node.plane.kubectl(
            ["-n", self.namespace, "rollout", "status", f"deployment/{self.deployment}", "--timeout=180s"],
            check=False,
            timeout=200,
        )
        assert rolled.returncode == 0, self.node.describe(self.namespace) + rolled.stderr

    @contextlib.contextmanager
    def through_ingress(self) -> Iterator[RegistryUser]:
        """A docker user logged in at https://<Ingress host>/: TLS with the Ingress's Secret (TlsFront), on to the
        Service the Ingress names through a fresh port-forward (it follows one pod: a rollout needs a new one)."""
        ingress = self.of_kind("Ingress")["spec"]
        backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
        tls = _secret_text(self.node, self.namespace, ingress["tls"][0]["secretName"])
        service = self.node.plane.json(["-n", self.namespace, "get", "service", backend["name"]])["spec"]
        port = next(p["port"] for p in service["ports"] if p["name"] == backend["port"]["name"])
        with (
            PortForward(self.node.plane, self.namespace, f"svc/{backend['name']}", port) as forward,
            TlsFront(tls["tls.crt"], tls["tls.key"], forward.local),
        ):
            user = RegistryUser(endpoint=self.host, ca_pem=tls["ca.crt"])
            try:
                yield user
            finally:
                user.close()


@pytest.fixture(scope="module")
def deployed(node: Node, node_registry_image: str) -> Deployed:
    """The case deployed once, into the namespace it declares (the GC script names it), rolled out."""
    namespace = DECLARED_NAMESPACE
    password = secrets.token_urlsafe(18)
    registry = Deployed(node, namespace, password, _deploy(node, namespace, password))
    registry.rolled_out()
    return registry


def _push(user: RegistryUser, password: str, repository: str, layers: list[bytes]) -> tuple[str, list[str]]:
    """A scratch image of `layers` pushed as <repository>:v1; returns its digest and its layers' blob digests."""
    source = f"level2-src/{repository.replace('/', '-')}:{secrets.token_hex(3)}"
    build_scratch_image(docker.from_env(), source, layers)
    try:
        digest = user.push(source, repository, "v1")
    finally:
        subprocess.run(["docker", "rmi", "--force", source], check=False, capture_output=True)
        user.remove_local(repository, "v1")
    manifest = user.api(
        "GET",
        f"/v2/{repository}/manifests/{digest}",
        auth=(USER, password),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert manifest.status_code == 200, manifest.text
    return digest, [layer["digest"] for layer in manifest.json()["layers"]]


def test_the_registry_runs_on_the_node_and_serves_push_and_pull_through_its_ingress(deployed, node_registry_image):
    pods = deployed.node.plane.json(["-n", deployed.namespace, "get", "pods"])["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    assert pods[0]["spec"]["nodeName"] == deployed.node.name
    with deployed.through_ingress() as user:
        url = f"https://{deployed.host}/v2/"
        assert requests.get(url, verify=user.ca_file, timeout=30).status_code == 401
        assert requests.get(url, auth=(USER, deployed.password), verify=user.ca_file, timeout=30).status_code == 200
        user.login(USER, deployed.password)
        source = f"level2-src/probe:{deployed.namespace}"
        subprocess.run(["docker", "tag", node_registry_image, source], check=True)
        try:
            digest = user.push(source, "team/probe", "v1")
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
            user.remove_local("team/probe", "v1")
            pulled = user.docker("pull", f"{deployed.host}/team/probe@{digest}")
            assert digest in pulled.stdout
            user.docker("rmi", f"{deployed.host}/team/probe@{digest}", check=False)
        finally:
            subprocess.run(["docker", "rmi", source], check=False, capture_output=True)
    assert any(deployed.blobs.rglob("data")), "nothing was written to the claim's volume"


def _stored_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _blob_on_disk(root: Path, digest: str) -> bool:
    algorithm, hex_ = digest.split(":")
    return (root / algorithm / hex_[:2] / hex_ / "data").exists()


def _config_key(template: dict[str, Any]) -> str:
    config = next(v for v in template["spec"]["volumes"] if v["name"] == "config")
    return config["secret"]["items"][0]["key"]


def _finished(node: Node, namespace: str, job: str, timeout: float = 300) -> dict[str, Any]:
    """The Job's status once it has succeeded or failed (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        status = node.plane.json(["-n", namespace, "get", "job", job]).get("status", {})
        if status.get("succeeded") or status.get("failed") or time.monotonic() > deadline:
            return status
        time.sleep(2)


def test_the_gc_cronjob_run_once_as_a_job_switches_read_only_collects_and_switches_back(deployed):
    node, namespace = deployed.node, deployed.namespace
    cronjob = deployed.of_kind("CronJob")
    job_spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    node.kubectl_image(job_spec["containers"][0]["image"])
    with deployed.through_ingress() as user:
        user.login(USER, deployed.password)
        kept, kept_layers = _push(user, deployed.password, "team/kept", [os.urandom(1 << 20)])
        dropped, dropped_layers = _push(user, deployed.password, "team/dropped", [os.urandom(3 << 20)])
        deleted = user.api("DELETE", f"/v2/team/dropped/manifests/{dropped}", auth=(USER, deployed.password))
        assert deleted.status_code == 202, deleted.text
    assert all(_blob_on_disk(deployed.blobs, layer) for layer in dropped_layers)
    before = _stored_bytes(deployed.blobs)

    job = f"gc-once-{secrets.token_hex(3)}"
    node.plane.kubectl(["-n", namespace, "create", "job", job, f"--from=cronjob/{cronjob['metadata']['name']}"])
    status = _finished(node, namespace, job)
    logs = node.plane.kubectl(["-n", namespace, "logs", f"job/{job}", "-c", "garbage-collect"], check=False)
    assert status.get("succeeded") == 1, (
        f"{status}\n--- job log ---\n{logs.stdout}{logs.stderr}\n{node.describe(namespace)}"
    )

    # Collected: the deleted image's layers are gone from the claim, the kept image's are there.
    freed = before - _stored_bytes(deployed.blobs)
    print(f"GC job freed {freed} bytes on the claim ({before} before)")
    assert not any(_blob_on_disk(deployed.blobs, layer) for layer in dropped_layers), logs.stdout
    assert all(_blob_on_disk(deployed.blobs, layer) for layer in kept_layers)
    assert freed >= 3 << 20
    # Switched: a ReplicaSet ran the read-only config pinned to the GC pod's node; the Deployment is back on the
    # read-write config, unpinned, and rolled out.
    selector = ",".join(
        f"{k}={v}" for k, v in deployed.of_kind("Deployment")["spec"]["selector"]["matchLabels"].items()
    )
    sets = node.plane.json(["-n", namespace, "get", "replicasets", "-l", selector])["items"]
    read_only = [r for r in sets if _config_key(r["spec"]["template"]) == READ_ONLY_CONFIG_KEY]
    assert read_only, [_config_key(r["spec"]["template"]) for r in sets]
    assert read_only[0]["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": node.name}
    live = node.plane.json(["-n", namespace, "get", "deployment", deployed.deployment])
    assert _config_key(live["spec"]["template"]) == CONFIG_KEY
    assert "nodeSelector" not in live["spec"]["template"]["spec"]
    assert int(live["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) >= 3
    deployed.rolled_out()
    # Read-write again, and the kept image whole.
    with deployed.through_ingress() as user:
        user.login(USER, deployed.password)
        pulled = user.docker("pull", f"{deployed.host}/team/kept@{kept}")
        assert kept in pulled.stdout
        user.docker("rmi", f"{deployed.host}/team/kept@{kept}", check=False)
        _push(user, deployed.password, "team/after-gc", [os.urandom(1 << 16)])
