"""The Kubernetes target's config.yml and its read-only variant, served by the real distribution binary.

No cluster runs here, so the pod is stood in for by the binary the default image (distribution 3, the pinned version)
is built from, built from Go modules and run on the host with the Secret's files: only what a pod gets differently is
changed (loopback ports instead of the pod's :5000/:5001, a local directory instead of S3, the htpasswd path).
It proves that distribution accepts the rendered file (Redis section, http.host without TLS), that the probes'
endpoints answer on the debug server, that http.host makes upload locations point at the Ingress URL, and that
the variant the GC CronJob switches to refuses pushes while serving pulls."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from components.selfhosted.versions import DISTRIBUTION_3_VERSION
from tests.support.images import go_registry_binary
from tests.support.pulumi_runtime import run_program
from tests.support.recording_mocks import RecordingMocks

HOSTNAME = "registry.example.com"
CONFIG = {
    "platform": "kubernetes",
    "hostname": HOSTNAME,
    "users": [{"name": "ci"}],
    "storage": {"kind": "s3", "create": False, "bucket": "acme-registry-images", "region": "eu-west-1"},
    "kubernetes": {"replicas": 2, "redis": {"enabled": True}},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _secret_files() -> tuple[dict[str, str], str]:
    """The registry Secret's stringData and the user's password, as the program declares them."""
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack="k8s", config={"registries:selfHosted": json.dumps(CONFIG)})
    secret = next(r for r in mocks.resources if r.typ == "kubernetes:core/v1:Secret" and r.name == "selfhosted-secret")
    return secret.plain["stringData"], outputs["users"].value["ci"]


def _as_on_this_host(config_yml: str, workdir: Path, port: int, debug_port: int) -> Path:
    config = yaml.safe_load(config_yml)
    assert config["http"]["addr"] == ":5000"
    assert config["http"]["debug"]["addr"] == ":5001"
    config["http"]["addr"] = f"127.0.0.1:{port}"
    config["http"]["debug"]["addr"] = f"127.0.0.1:{debug_port}"
    config["storage"].pop("s3")
    config["storage"]["filesystem"] = {"rootdirectory": str(workdir / "data")}
    config["auth"]["htpasswd"]["path"] = str(workdir / "htpasswd")
    path = workdir / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def _registry(files: dict[str, str], key: str, workdir: Path) -> Iterator[tuple[str, str]]:
    binary = go_registry_binary(DISTRIBUTION_3_VERSION)  # the default image's registry (the stack pins none)
    port, debug_port = _free_port(), _free_port()
    (workdir / "htpasswd").write_text(files["htpasswd"])
    config = _as_on_this_host(files[key], workdir, port, debug_port)
    log = (workdir / "registry.log").open("w")
    process = subprocess.Popen(
        [binary, "serve", str(config)],
        env={"REGISTRY_HTTP_SECRET": files["http-secret"], "PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        debug = f"http://127.0.0.1:{debug_port}"
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (workdir / "registry.log").read_text()
            try:
                requests.get(f"{debug}/debug/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", debug
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _auth(password: str) -> dict[str, Any]:
    return {"Authorization": "Basic " + base64.b64encode(f"ci:{password}".encode()).decode()}


def test_the_pods_config_serves_probes_and_points_uploads_at_the_ingress(tmp_path):
    files, password = _secret_files()
    with _registry(files, "config.yml", tmp_path) as (api, debug):
        # readinessProbe and livenessProbe of the Deployment.
        assert requests.get(f"{debug}/debug/health", timeout=5).status_code == 200
        assert requests.get(f"{debug}/debug/vars", timeout=5).status_code == 200
        assert requests.get(f"{api}/v2/", timeout=5).status_code == 401
        assert requests.get(f"{api}/v2/", headers=_auth(password), timeout=5).status_code == 200
        upload = requests.post(f"{api}/v2/team/app/blobs/uploads/", headers=_auth(password), timeout=5)
        assert upload.status_code == 202
        # http.host is the Ingress URL: clients continue the upload through it, over TLS.
        assert upload.headers["Location"].startswith(f"https://{HOSTNAME}/v2/team/app/blobs/uploads/")
    assert "using redis blob descriptor cache" in (tmp_path / "registry.log").read_text()


def test_the_gc_variant_refuses_pushes_and_serves_pulls(tmp_path):
    files, password = _secret_files()
    with _registry(files, "config-readonly.yml", tmp_path) as (api, _debug):
        assert requests.get(f"{api}/v2/", headers=_auth(password), timeout=5).status_code == 200
        assert requests.get(f"{api}/v2/_catalog", headers=_auth(password), timeout=5).status_code == 200
        push = requests.post(f"{api}/v2/team/app/blobs/uploads/", headers=_auth(password), timeout=5)
        assert push.status_code == 405
