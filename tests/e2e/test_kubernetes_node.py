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
import re
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
import requests

from tests.kube.controlplane import ControlPlane, StartError, free_port, kube_bin, serving_pem
from tests.kube.node import Node
from tests.kube.test_kubernetes_apiserver import _apply, _into
from tests.kube.tls_front import TlsFront
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


def test_the_registry_runs_on_the_node_and_serves_push_and_pull_through_its_ingress(node, node_registry_image):
    namespace = f"level2-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    manifests = _deploy(node, namespace, password)
    deployment = next(m for m in manifests if m["kind"] == "Deployment")["metadata"]["name"]
    rolled = node.plane.kubectl(
        ["-n", namespace, "rollout", "status", f"deployment/{deployment}", "--timeout=180s"], check=False, timeout=200
    )
    assert rolled.returncode == 0, node.describe(namespace) + rolled.stderr
    pods = node.plane.json(["-n", namespace, "get", "pods"])["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    assert pods[0]["spec"]["nodeName"] == node.name

    # What the Ingress names: its host, the Service's port and the TLS Secret, as the controller would read them.
    ingress = next(m for m in manifests if m["kind"] == "Ingress")["spec"]
    host = ingress["rules"][0]["host"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    tls = _secret_text(node, namespace, ingress["tls"][0]["secretName"])
    service = node.plane.json(["-n", namespace, "get", "service", backend["name"]])["spec"]
    port = next(p["port"] for p in service["ports"] if p["name"] == backend["port"]["name"])
    with (
        PortForward(node.plane, namespace, f"svc/{backend['name']}", port) as forward,
        TlsFront(tls["tls.crt"], tls["tls.key"], forward.local),
    ):
        url = f"https://{host}/v2/"
        user = RegistryUser(endpoint=host, ca_pem=tls["ca.crt"])
        try:
            assert requests.get(url, verify=user.ca_file, timeout=30).status_code == 401
            assert requests.get(url, auth=(USER, password), verify=user.ca_file, timeout=30).status_code == 200
            user.login(USER, password)
            source = f"level2-src/probe:{namespace}"
            subprocess.run(["docker", "tag", node_registry_image, source], check=True)
            try:
                digest = user.push(source, "team/probe", "v1")
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
                user.remove_local("team/probe", "v1")
                pulled = user.docker("pull", f"{host}/team/probe@{digest}")
                assert digest in pulled.stdout
                user.docker("rmi", f"{host}/team/probe@{digest}", check=False)
            finally:
                subprocess.run(["docker", "rmi", source], check=False, capture_output=True)
        finally:
            user.close()
    blobs = node.dir / "volumes" / namespace / "docker" / "registry" / "v2" / "blobs"
    assert any(blobs.rglob("data")), "nothing was written to the claim's volume"
