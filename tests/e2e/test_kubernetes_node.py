"""Levels 2 and 3 of the Kubernetes path: the objects KubernetesRegistry declares, run as pods on a real node.

kube-apiserver, kube-controller-manager, kube-scheduler and kubelet (all built from k8s.io/kubernetes through the
module proxy) on Debian's containerd, runc and CNI plugins (tests/kube/node.py). The registry image is the one our
tests build (distribution 3.1.2 from the module proxy), loaded into containerd, never pulled.

What a user of `platform: kubernetes` relies on, checked the way they would:
- the Deployment rolls out (kubectl rollout status) with the claim bound and the config and htpasswd mounted;
- through the Ingress: https://<its host>/v2/ answers 401 without credentials and 200 with the stack's htpasswd user,
  verified against the CA of the Ingress's TLS Secret; docker login, push and a pull by digest work there (Docker
  takes 127.0.0.0/8 as insecure, so its CA check is not what this proves), with the registry's own upload URLs
  (http.host) pointing there; the blobs land on the claim's volume;
- the GC CronJob run once as a Job: read-only, collect, read-write again;
- two replicas on S3 (moto) with Redis: a config change rolls them with no failed pull, and a registry container
  killed during 10 pushes loses none.

TLS ends at the Ingress on this platform (the pods speak plain HTTP). No ingress controller image can be had here, so
tests/kube/tls_front.py does its part: TLS on 127.0.0.1:443 with the Secret's certificate, on to the Service
through `kubectl port-forward` (API server -> kubelet -> containerd -> the pod) or to its ready endpoints."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import docker
import pytest
import requests
import yaml

from components.kubernetes.gc import DEFAULT_KUBECTL_IMAGE
from components.kubernetes.settings import CONFIG_KEY, READ_ONLY_CONFIG_KEY, TERMINATION_GRACE_SECONDS
from tests.e2e.test_scale_out import PUSHES, _push_with_retries, _source_images
from tests.kube.controlplane import ControlPlane, free_port, kube_bin, serving_pem
from tests.kube.node import KUBECTL_STANDIN, Node
from tests.kube.test_kubernetes_apiserver import DECLARED_NAMESPACE, _apply, _into
from tests.kube.tls_front import TlsFront
from tests.support.images import build_scratch_image
from tests.support.moto_server import MotoServer, start_moto
from tests.support.registry_client import RegistryUser
from tests.support.scale_out_images import build_redis_image
from tests.unit.test_kubernetes_registry import CONFIGS, _manifests_of, _run, manifests

CASE = "single-pod-on-a-claim"
USER = "admin"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A control plane of its own (the API-server tier's runs on another worker) and the node beside it."""
    plane = ControlPlane(workdir=tmp_path_factory.mktemp("kube-node"), bin_dir=kube_bin())
    started = Node(plane)

    def stop() -> list[str]:
        try:
            started.stop()
        finally:
            plane.stop()
        return started.leftovers() + [f"process {pid}" for pid in plane.running()]

    try:
        plane.start()
        started.start()
    except Exception as error:
        left = stop()
        pytest.fail(f"the node cannot start: {error}" + (f"; left behind: {left}" if left else ""), pytrace=False)
    try:
        yield started
    finally:
        left = stop()
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


def _deploy(node: Node, declared: list[dict[str, Any]], namespace: str, password: str) -> list[dict[str, Any]]:
    """`declared` in `namespace` (moved there unless declared there), the htpasswd Secret holding `password`'s hash
    and the TLS Secret a certificate for the Ingress host (the mocks' placeholders), the GC job's kubectl image the
    stand-in, and a hostPath PersistentVolume for a claim (no provisioner runs here); applied, server-side."""
    declared_namespace = next(m["metadata"]["name"] for m in declared if m["kind"] == "Namespace")
    if declared_namespace == namespace:
        manifests = sorted(copy.deepcopy(declared), key=lambda m: m["kind"] != "Namespace")
    else:
        manifests = _into(declared, namespace)
    host = next(m for m in manifests if m["kind"] == "Ingress")["spec"]["rules"][0]["host"]
    for manifest in manifests:
        if manifest["kind"] == "Secret" and "htpasswd" in manifest.get("stringData", {}):
            manifest["stringData"]["htpasswd"] = _htpasswd(password)
        if manifest.get("type") == "kubernetes.io/tls":  # what pulumi-tls makes for the Ingress host
            manifest["stringData"] = serving_pem(host)
        if manifest["kind"] == "CronJob":  # the GC job's kubectl image: this machine's stand-in, under its own name
            containers = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            assert containers[0]["image"] == DEFAULT_KUBECTL_IMAGE
            containers[0]["image"] = KUBECTL_STANDIN
    claim = next((m for m in manifests if m["kind"] == "PersistentVolumeClaim"), None)
    if claim is None:
        _apply(node.plane, manifests)
        return manifests
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


class ReadyEndpoints:
    """The ready endpoints of a Service, from its EndpointSlices, read every 0.2 s in a thread (an ingress
    controller's view); pick() names them in turn."""

    def __init__(self, plane: ControlPlane, namespace: str, service: str, port_name: str) -> None:
        self.plane, self.namespace, self.service, self.port_name = plane, namespace, service, port_name
        self.ready: list[tuple[str, int]] = []
        self.error: Exception | None = None
        self.turn = itertools.count()
        self.stopped = threading.Event()
        self._read()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        slices = self.plane.json(
            ["-n", self.namespace, "get", "endpointslices", "-l", f"kubernetes.io/service-name={self.service}"]
        )["items"]
        self.ready = [
            (endpoint["addresses"][0], port["port"])
            for piece in slices
            for port in piece.get("ports") or []
            if port.get("name") == self.port_name
            for endpoint in piece.get("endpoints") or []
            if endpoint.get("conditions", {}).get("ready")
        ]

    def _watch(self) -> None:
        while not self.stopped.wait(0.2):
            try:
                self._read()
            except Exception as error:
                self.error = error

    def pick(self) -> tuple[str, int]:
        ready = self.ready
        if self.error is not None:
            raise OSError(f"reading the endpoints of {self.service} failed: {self.error}")
        if not ready:
            raise OSError(f"service {self.service} has no ready endpoint")
        return ready[next(self.turn) % len(ready)]

    def __enter__(self) -> ReadyEndpoints:
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


class PortForward:
    """`kubectl port-forward <target>` on a free loopback port (its output to a file: a pipe nobody reads would
    fill and stop it), ended on exit."""

    def __init__(self, plane: ControlPlane, namespace: str, target: str, port: int) -> None:
        self.local = free_port()
        self.log = plane.workdir / f"port-forward-{self.local}.log"
        with self.log.open("wb") as log:
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
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while f"Forwarding from 127.0.0.1:{self.local}" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"kubectl port-forward {target}: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

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
    def workload(self) -> dict[str, Any]:
        """The registry's Deployment (not Redis's)."""
        return next(
            m
            for m in self.manifests
            if m["kind"] == "Deployment" and m["metadata"]["labels"]["app.kubernetes.io/component"] == "registry"
        )

    @property
    def deployment(self) -> str:
        return self.workload["metadata"]["name"]

    @property
    def host(self) -> str:
        return self.of_kind("Ingress")["spec"]["rules"][0]["host"]

    @property
    def blobs(self) -> Path:
        return self.node.dir / "volumes" / self.namespace / "docker" / "registry" / "v2" / "blobs"

    def rolled_out(self, deployment: str | None = None) -> None:
        """`kubectl rollout status` of the registry's Deployment (or `deployment`) succeeded."""
        rolled = self.node.plane.kubectl(
            [
                "-n",
                self.namespace,
                "rollout",
                "status",
                f"deployment/{deployment or self.deployment}",
                "--timeout=180s",
            ],
            check=False,
            timeout=200,
        )
        assert rolled.returncode == 0, self.node.describe(self.namespace) + rolled.stderr

    @contextlib.contextmanager
    def through_ingress(self, endpoints: bool = False) -> Iterator[RegistryUser]:
        """A docker user at https://<Ingress host>/: TLS with the Ingress's Secret (TlsFront), on to the Service the
        Ingress names: through a fresh port-forward (it follows one pod: a rollout needs a new one), or with
        `endpoints` to the Service's ready endpoints, each connection to the next, as ingress-nginx routes."""
        ingress = self.of_kind("Ingress")["spec"]
        backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
        tls = _secret_text(self.node, self.namespace, ingress["tls"][0]["secretName"])
        service = self.node.plane.json(["-n", self.namespace, "get", "service", backend["name"]])["spec"]
        port = next(p["port"] for p in service["ports"] if p["name"] == backend["port"]["name"])
        with contextlib.ExitStack() as stack:
            if endpoints:
                ready = stack.enter_context(
                    ReadyEndpoints(self.node.plane, self.namespace, backend["name"], backend["port"]["name"])
                )
                upstream: Any = ready.pick
            else:
                forward = stack.enter_context(
                    PortForward(self.node.plane, self.namespace, f"svc/{backend['name']}", port)
                )
                upstream = forward.local
            stack.enter_context(TlsFront(tls["tls.crt"], tls["tls.key"], upstream))
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
    registry = Deployed(node, namespace, password, _deploy(node, _manifests_of(CONFIGS[CASE]), namespace, password))
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
    assert job_spec["containers"][0]["image"] == KUBECTL_STANDIN  # as _deploy set it
    node.kubectl_image()
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
    sets = node.plane.json(["-n", namespace, "get", "replicasets", "-l", _selector(deployed.workload)])["items"]
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


# --- two replicas on S3 (moto, reached from the pods through the node's address) with Redis ---------------------

S3_NAMESPACE = "registry-s3"
BUCKET = "level2-registry"
REGION = "eu-west-1"


def _s3_case(moto: MotoServer, authority: str, log_level: str = "info") -> list[dict[str, Any]]:
    """What the program declares for two replicas on S3 with Redis (the unit tests' mocks), moto as the S3."""
    config = {
        "platform": "kubernetes",
        "log": {"level": log_level},
        "storage": {
            "kind": "s3",
            "create": False,
            "bucket": BUCKET,
            "region": REGION,
            "regionEndpoint": f"http://{authority}",
            "forcePathStyle": True,
            "redirectDisable": True,  # blobs through the registry: the test's client cannot reach moto's node address
            "accessKey": moto.admin_key,
            "secretKey": moto.admin_secret,
        },
        "kubernetes": {"namespace": S3_NAMESPACE, "replicas": 2, "redis": {"enabled": True}},
    }
    return manifests(_run(config)[0])


@dataclass
class S3Registry:
    deployed: Deployed
    moto: MotoServer
    authority: str


@pytest.fixture(scope="module")
def s3_registry(
    node: Node, node_registry_image: str, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Registry]:
    moto = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        authority = node.expose_loopback(int(moto.endpoint.rsplit(":", 1)[1]))
        moto.client("s3", REGION).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        declared = _s3_case(moto, authority)
        redis = next(m for m in declared if m["kind"] == "Deployment" and m["metadata"]["name"].endswith("-redis"))
        redis_image = redis["spec"]["template"]["spec"]["containers"][0]["image"]
        build_redis_image(docker_client, redis_image)
        node.load_image(redis_image)
        password = secrets.token_urlsafe(18)
        deployed = Deployed(node, S3_NAMESPACE, password, _deploy(node, declared, S3_NAMESPACE, password))
        deployed.rolled_out(redis["metadata"]["name"])
        _resolve_redis(node, deployed, redis)
        deployed.rolled_out()
        yield S3Registry(deployed, moto, authority)
    finally:
        moto.stop()


def _resolve_redis(node: Node, deployed: Deployed, redis: dict[str, Any]) -> None:
    """Cluster DNS and kube-proxy's part for the one name the registry pods resolve: no CoreDNS image can be had
    here, so the registry's config's Redis address (<name>.<namespace>.svc) is a hostAlias of the Redis pod's
    address, added by a field manager of its own (a later apply of the declared manifests keeps it)."""
    [pod] = node.plane.json(["-n", deployed.namespace, "get", "pods", "-l", _selector(redis)])["items"]
    config = yaml.safe_load(
        next(m for m in deployed.manifests if m["kind"] == "Secret" and "config.yml" in m.get("stringData", {}))[
            "stringData"
        ]["config.yml"]
    )
    hosts = {address.rsplit(":", 1)[0] for address in config["redis"].get("addrs", [config["redis"].get("addr")])}
    patch = {
        "spec": {"template": {"spec": {"hostAliases": [{"ip": pod["status"]["podIP"], "hostnames": sorted(hosts)}]}}}
    }
    node.plane.kubectl(
        [
            "-n",
            deployed.namespace,
            "patch",
            "deployment",
            deployed.deployment,
            "--field-manager=test-dns-standin",
            "--type=strategic",
            "--patch",
            json.dumps(patch),
        ]
    )


def _redis_keys(node: Node, namespace: str) -> int:
    """How many keys the Redis cache holds (redis-cli in its pod, through kubectl exec)."""
    password = _secret_text(node, namespace, "registry-redis")["password"]
    answer = node.plane.kubectl(
        [
            "-n",
            namespace,
            "exec",
            "deploy/registry-redis",
            "--",
            "redis-cli",
            "--no-auth-warning",
            "-a",
            password,
            "DBSIZE",
        ]
    )
    return int(answer.stdout.strip())


class Puller:
    """Pulls one image by digest over and over (manifest, then every blob, each checked against its digest) through
    the Ingress stand-in, in a thread; records every failure."""

    def __init__(self, user: RegistryUser, password: str, repository: str, digest: str) -> None:
        self.user, self.auth, self.repository, self.digest = user, (USER, password), repository, digest
        self.pulls = 0
        self.failures: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _get(self, path: str, **kwargs: Any) -> bytes:
        response = self.user.api("GET", f"/v2/{self.repository}/{path}", auth=self.auth, **kwargs)
        if response.status_code != 200:
            raise AssertionError(f"GET {path}: {response.status_code} {response.text[:200]}")
        return response.content

    def _pull(self) -> None:
        accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
        manifest = self._get(f"manifests/{self.digest}", headers=accept)
        assert "sha256:" + hashlib.sha256(manifest).hexdigest() == self.digest, "manifest digest mismatch"
        document = json.loads(manifest)
        for blob in [document["config"], *document["layers"]]:
            content = self._get(f"blobs/{blob['digest']}")
            assert "sha256:" + hashlib.sha256(content).hexdigest() == blob["digest"], f"{blob['digest']} mismatch"

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self._pull()
                self.pulls += 1
            except Exception as error:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {type(error).__name__}: {error}")
            time.sleep(0.05)

    def __enter__(self) -> Puller:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)


def _selector(deployment: dict[str, Any]) -> str:
    """A Deployment's matchLabels as kubectl's -l selector."""
    return ",".join(f"{key}={value}" for key, value in deployment["spec"]["selector"]["matchLabels"].items())


def _pods(node: Node, namespace: str, deployment: dict[str, Any], terminating: bool = False) -> set[str]:
    """The Deployment's pods: running ones, or (`terminating`) the ones being deleted."""
    pods = node.plane.json(["-n", namespace, "get", "pods", "-l", _selector(deployment)])["items"]
    return {p["metadata"]["name"] for p in pods if ("deletionTimestamp" in p["metadata"]) == terminating}


def test_a_config_change_rolls_both_replicas_with_no_failed_pull(s3_registry):
    deployed, node = s3_registry.deployed, s3_registry.deployed.node
    with deployed.through_ingress(endpoints=True) as user:
        user.login(USER, deployed.password)
        digest, _ = _push(user, deployed.password, "team/rolled", [os.urandom(1 << 20), os.urandom(1 << 20)])
        before = _pods(node, S3_NAMESPACE, deployed.workload)
        assert len(before) == 2
        changed = _s3_case(s3_registry.moto, s3_registry.authority, log_level="debug")  # the config, changed
        secret = next(m for m in changed if m["kind"] == "Secret" and "config.yml" in m.get("stringData", {}))
        assert "level: debug" in secret["stringData"]["config.yml"]
        with Puller(user, deployed.password, "team/rolled", digest) as puller:
            time.sleep(2)
            _deploy(node, changed, S3_NAMESPACE, deployed.password)
            deployed.rolled_out()
            # Pulls go on until the old pods are gone: their preStop sleep and drain are part of the rollout.
            deadline = time.monotonic() + TERMINATION_GRACE_SECONDS + 30
            while _pods(node, S3_NAMESPACE, deployed.workload, terminating=True) and time.monotonic() < deadline:
                time.sleep(1)
            time.sleep(2)
        after = _pods(node, S3_NAMESPACE, deployed.workload)
    print(f"{puller.pulls} pulls during the rollout, {len(puller.failures)} failed")
    assert not _pods(node, S3_NAMESPACE, deployed.workload, terminating=True)
    assert len(after) == 2
    assert not before & after, f"pods not replaced: {before & after}"
    assert puller.failures == []
    assert puller.pulls >= 5
    assert _redis_keys(node, S3_NAMESPACE) > 0, "the replicas did not use the shared Redis cache"


def test_a_replica_killed_during_pushes_loses_nothing(s3_registry, docker_client):
    """Level 3: one registry container killed (SIGKILL, as a crash) while 10 pushes run through the Ingress; every
    push that succeeded (retried as a client would) pulls intact by digest, and a failed one left no tag."""
    deployed, node = s3_registry.deployed, s3_registry.deployed.node
    sources = _source_images(docker_client, PUSHES, "k8s-killed")
    victim = sorted(_pods(node, S3_NAMESPACE, deployed.workload))[0]
    status = node.plane.json(["-n", S3_NAMESPACE, "get", "pod", victim])["status"]["containerStatuses"][0]
    container = status["containerID"].removeprefix("containerd://")
    seen: list[str] = []
    try:
        with deployed.through_ingress(endpoints=True) as user:
            user.login(USER, deployed.password)
            killed_at: list[float] = []
            finished_at: list[float] = []

            def kill() -> None:
                node.kill_container(container)
                killed_at.append(time.monotonic())

            def push(index: int) -> str | None:
                digest = _push_with_retries(user, sources[index], f"ha/img{index}", seen)
                finished_at.append(time.monotonic())
                return digest

            killer = threading.Timer(2.0, kill)
            killer.start()
            with ThreadPoolExecutor(max_workers=PUSHES) as pool:
                digests = list(pool.map(push, range(PUSHES)))
            killer.join()
            assert killed_at, "the container was not killed"
            assert max(finished_at) > killed_at[0], "every push had ended before the kill"
            print("\n".join(["a registry container killed during 10 concurrent pushes; clients saw:", *seen]))
            restarted = node.plane.json(["-n", S3_NAMESPACE, "get", "pod", victim])["status"]["containerStatuses"][0]
            assert restarted["restartCount"] >= 1, "the container was not killed"
            pushed = {i: d for i, d in enumerate(digests) if d is not None}
            assert pushed, "no push succeeded"
            deployed.rolled_out()  # both replicas serving again
            for index, digest in pushed.items():
                user.remove_local(f"ha/img{index}", "1")
                assert user.pull(f"ha/img{index}", "1") == digest  # the daemon checks every blob's digest
                user.remove_local(f"ha/img{index}", "1")
            for index in set(range(PUSHES)) - set(pushed):
                response = user.api("GET", f"/v2/ha/img{index}/manifests/1", auth=(USER, deployed.password))
                assert response.status_code == 404, "a failed push left a tag"
    finally:
        for source in sources:
            subprocess.run(["docker", "rmi", "--force", source], check=False, capture_output=True)
