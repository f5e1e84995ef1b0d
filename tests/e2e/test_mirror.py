"""Pull-through cache (issue 15): a mirror and its upstream, both deployed by the program onto Docker, used as
Docker hosts use them. The upstream serves TLS with its generated CA and htpasswd auth; the mirror proxies it
with the upstream's credentials (env only) and trusts its CA (uploaded into /etc/ssl/certs)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.errors import APIError, ImageNotFound

from components.selfhosted.versions import DEFAULT_IMAGE, REGISTRY_2_IMAGE
from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import provided_certificate
from tests.support.engine_docker import E2E_LABEL
from tests.support.images import build_scratch_image
from tests.support.pulumi_runtime import run_program
from tests.support.registry_client import RegistryUser
from tests.support.second_dockerd import second_dockerd
from tests.support.token_server import TokenServer

pytestmark = pytest.mark.e2e

STACK = "mirror"
UPSTREAM_PORT = 5643
ANON_UPSTREAM_PORT = 5650
MIRROR_PORT = 5700
BAD_MIRROR_PORT = 5710
UPSTREAM_USER = "puller"
MIRROR_USER = "reader"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _pair_config(
    upstream_password: str,
    mirror_password: str,
    mirror_upstream_password: str,
    image: str,
    wrong_upstream_password: str | None = None,
) -> dict[str, str]:
    """selfHosted = an htpasswd (Basic auth) upstream with TLS; mirrors[0] proxies it with its credentials; with
    `wrong_upstream_password`, mirrors[1] (e2e-badmirror) proxies it with that password instead."""
    upstream = {
        "name": "e2e-upstream",
        "port": UPSTREAM_PORT,
        "users": [{"name": UPSTREAM_USER, "password": upstream_password}],
    }
    mirror = {
        "name": "e2e-mirror",
        "image": image,
        "port": MIRROR_PORT,
        # Host networking: the mirror reaches the upstream published on this machine's loopback.
        "networkMode": "host",
        "users": [{"name": MIRROR_USER, "password": mirror_password}],
        "mirror": {
            "upstream": f"https://localhost:{UPSTREAM_PORT}",
            "username": UPSTREAM_USER,
            "password": mirror_upstream_password,
        },
    }
    mirrors = [mirror]
    if wrong_upstream_password is not None:
        mirrors.append(
            {
                **mirror,
                "name": "e2e-badmirror",
                "port": BAD_MIRROR_PORT,
                "mirror": {**mirror["mirror"], "password": wrong_upstream_password},
            }
        )
    return {"registries:selfHosted": json.dumps(upstream), "registries:mirrors": json.dumps(mirrors)}


def _config_path(image: str) -> str:
    return "/etc/distribution/config.yml" if image.startswith("registry:3") else "/etc/docker/registry/config.yml"


def _mirror_spec(mirror_password: str, upstream_ca: str, **extra: Any) -> dict[str, Any]:
    """selfHosted in mode mirror of the anonymous upstream, trusting its CA (the default image unless given)."""
    return {
        "name": "e2e-mirror",
        "port": MIRROR_PORT,
        "networkMode": "host",
        "bindAddress": "127.0.0.1",
        "users": [{"name": MIRROR_USER, "password": mirror_password}],
        "mode": "mirror",
        "mirror": {"upstream": f"https://localhost:{ANON_UPSTREAM_PORT}", "upstreamCaCertificate": upstream_ca},
        **extra,
    }


@dataclass
class AnonymousUpstream:
    container: Any
    endpoint: str
    ca_pem: str


@pytest.fixture
def anonymous_upstream(docker_client: docker.DockerClient, registry_image: str) -> Iterator[AnonymousUpstream]:
    """A distribution 2.8 registry serving TLS from a private CA, without auth (what 2.8's proxy can log in to
    is a Bearer-token upstream such as Docker Hub; a Basic-auth upstream gets no credentials, see below)."""
    cert, key, ca = provided_certificate("localhost")
    container = docker_client.containers.create(
        "registry:2.8.3",
        environment={
            "REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/server.crt",
            "REGISTRY_HTTP_TLS_KEY": "/certs/server.key",
        },
        ports={"5000/tcp": ("127.0.0.1", ANON_UPSTREAM_PORT)},
        labels={E2E_LABEL: "mirror-upstream"},
        name="e2e-anonymous-upstream",
    )
    try:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path, content in (("certs/server.crt", cert), ("certs/server.key", key)):
                info = tarfile.TarInfo(path)
                info.size = len(content.encode())
                tar.addfile(info, io.BytesIO(content.encode()))
        container.put_archive("/", buffer.getvalue())
        container.start()
        _wait_for_tls(ANON_UPSTREAM_PORT)  # a push before it listens falls back to plain HTTP and fails
        yield AnonymousUpstream(container, f"localhost:{ANON_UPSTREAM_PORT}", ca)
    finally:
        container.remove(force=True, v=True)


def _wait_for_tls(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"https://127.0.0.1:{port}/v2/", verify=False, timeout=2)  # noqa: S501 - a readiness probe
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _user(deployment: Deployment, endpoint: str, ca_pem: str) -> RegistryUser:
    user = RegistryUser(endpoint, ca_pem)
    deployment.clients.append(user)
    return user


def _image(docker_client: docker.DockerClient, name: str, layers: int = 2) -> str:
    tag = f"e2e-src/{name}:latest"
    build_scratch_image(docker_client, tag, [os.urandom(64 * 1024) for _ in range(layers)])
    return tag


def _layers(client: RegistryUser, auth: tuple[str, str] | None, repository: str, tag: str) -> list[str]:
    manifest = client.api("GET", f"/v2/{repository}/manifests/{tag}", auth=auth, headers={"Accept": MANIFEST_V2})
    assert manifest.status_code == 200, manifest.text
    body = manifest.json()
    return [body["config"]["digest"], *(layer["digest"] for layer in body["layers"])]


def _blob_gets(container: Any, digest: str) -> int:
    """GETs of one blob that the registry's access log shows it answered."""
    logs = container.logs().decode(errors="replace")
    return sum(
        1
        for line in logs.splitlines()
        if "response completed" in line and "http.request.method=GET" in line and f"/blobs/{digest}" in line
    )


def _in_storage(container: Any, digest: str, timeout: float = 20) -> bool:
    """Whether the blob's data file is in the registry's filesystem storage (the proxy stores it in the
    background while it streams to the client, so wait a little)."""
    hex_digest = digest.removeprefix("sha256:")
    path = f"/var/lib/registry/docker/registry/v2/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if container.exec_run(["ls", path]).exit_code == 0:
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def images(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    built = {name: _image(docker_client, name) for name in ("cached", "uncached")}
    yield built
    for tag in built.values():
        with contextlib.suppress(ImageNotFound):
            docker_client.images.remove(tag, force=True)


def _forget_locally(docker_client: docker.DockerClient, images: dict[str, str], upstream: RegistryUser) -> None:
    """Drop the local copies, so that a pull downloads every layer (the daemon skips layers it has)."""
    for name, tag in images.items():
        for ref in (tag, f"{upstream.endpoint}/team/{name}:1.0"):
            with contextlib.suppress(ImageNotFound):
                docker_client.images.remove(ref, force=True)


@pytest.fixture
def passwords() -> dict[str, str]:
    return {"upstream": secrets.token_urlsafe(24), "mirror": secrets.token_urlsafe(24)}


def test_pull_through_the_mirror_caches_the_upstream_and_survives_its_outage(
    deployment, docker_client, images, passwords, anonymous_upstream, each_registry_image
):
    upstream = _user(deployment, anonymous_upstream.endpoint, anonymous_upstream.ca_pem)
    pushed = {name: upstream.push(tag, f"team/{name}", "1.0") for name, tag in images.items()}
    _forget_locally(docker_client, images, upstream)
    spec = _mirror_spec(passwords["mirror"], anonymous_upstream.ca_pem, image=each_registry_image)
    outputs = deployment.apply(STACK, spec)
    assert outputs["mirrorUrl"] == f"https://localhost:{MIRROR_PORT}"
    assert outputs["daemonJson"] == ""  # users: dockerd cannot log in to a mirror (review M3)
    mirror = deployment.client(outputs)
    mirror.login(MIRROR_USER, passwords["mirror"])
    mirror_container = deployment.registry_container(outputs)
    upstream_container = anonymous_upstream.container

    blobs = _layers(upstream, None, "team/cached", "1.0")
    assert mirror.pull("team/cached", "1.0") == pushed["cached"]  # the upstream's digest, through the mirror
    for digest in blobs:
        assert _in_storage(mirror_container, digest), f"{digest} not in the mirror's storage"
    first = {digest: _blob_gets(upstream_container, digest) for digest in blobs}
    print(f"upstream blob GETs on the first pull through the mirror: {first}")
    if each_registry_image.startswith("registry:3"):
        # 3.x streams one upstream response to the client and the storage at once (io.MultiWriter in
        # registry/proxy/proxyblobstore.go ServeBlob): one fetch per blob.
        assert set(first.values()) == {1}, first
    else:
        # 2.8's proxy GETs a missed blob twice: streamed to the client (copyContent) and stored (storeLocal,
        # registry/proxy/proxyblobstore.go); never more.
        assert set(first.values()) <= {1, 2}, first

    mirror.remove_local("team/cached", "1.0")
    assert mirror.pull("team/cached", "1.0") == pushed["cached"]
    second = {digest: _blob_gets(upstream_container, digest) for digest in blobs}
    assert second == first, "a second pull through the mirror reached the upstream for blobs"

    # A push to the mirror is refused: distribution's proxy mode has no write path.
    refused = mirror.docker("push", f"{mirror.endpoint}/team/cached:1.0", check=False)
    assert refused.returncode != 0
    print(f"push to the mirror: {refused.stderr.strip()}")
    upload = mirror.api("POST", "/v2/team/new/blobs/uploads/", auth=(MIRROR_USER, passwords["mirror"]))
    print(f"upload through the API: {upload.status_code} {upload.text.strip()}")
    assert upload.status_code == 405, upload.text
    assert "UNSUPPORTED" in upload.text

    # Re-applying the same config changes nothing.
    deployment.apply(STACK, spec)
    assert deployment.engine.changed() == []

    # The upstream goes away: what the mirror cached still pulls; the rest fails clearly; the mirror is healthy.
    upstream_container.stop(timeout=5)
    mirror.remove_local("team/cached", "1.0")
    assert mirror.pull("team/cached", "1.0") == pushed["cached"]
    started = time.monotonic()
    missing = mirror.docker("pull", f"{mirror.endpoint}/team/uncached:1.0", check=False)
    print(f"uncached pull with the upstream down ({time.monotonic() - started:.1f}s): {missing.stderr.strip()}")
    assert missing.returncode != 0
    assert time.monotonic() - started < 60
    assert re.search(r"manifest unknown|not found", missing.stderr, re.IGNORECASE), missing.stderr
    assert mirror.api("GET", "/v2/", auth=(MIRROR_USER, passwords["mirror"])).status_code == 200
    mirror_container.reload()
    assert mirror_container.status == "running"


def test_a_basic_auth_upstream_of_the_same_program_is_trusted_but_gets_no_credentials(
    deployment, docker_client, images, passwords, each_registry_image
):
    """The mirror trusts the program's own upstream CA by itself and holds the upstream's credentials in env only;
    distribution 2.8 and 3.1.2 offer them only to a Bearer-token realm (registry/proxy/proxyauth.go getAuthURLs:
    `strings.EqualFold(c.Scheme, "bearer")`), so a Basic-auth (htpasswd) upstream answers the mirror 401 and the
    client gets `manifest unknown`, quickly."""
    on_3 = each_registry_image.startswith("registry:3")
    wrong = "wrong-" + secrets.token_urlsafe(12) if on_3 else None
    config = _pair_config(passwords["upstream"], passwords["mirror"], passwords["upstream"], each_registry_image, wrong)
    deployment.engine.begin_run()
    deployment.outputs = run_program(deployment.engine, stack=STACK, config=config, secret_keys=list(config))
    deployment.engine.end_run()
    outputs = {key: output.value for key, output in deployment.outputs.items()}
    upstream = _user(deployment, outputs["endpoint"], outputs["caCertPem"])
    upstream.login(UPSTREAM_USER, passwords["upstream"])
    pushed = upstream.push(images["cached"], "team/cached", "1.0")
    mirror_out = outputs["mirrors"]["e2e-mirror"]
    mirror_container = docker_client.containers.get(mirror_out["containerName"])
    config_yml = mirror_container.exec_run(["cat", _config_path(each_registry_image)]).output.decode()
    assert f"remoteurl: https://localhost:{UPSTREAM_PORT}" in config_yml
    assert passwords["upstream"] not in config_yml
    assert UPSTREAM_USER not in config_yml
    env_names = {entry.split("=", 1)[0] for entry in mirror_container.attrs["Config"]["Env"]}
    assert {"REGISTRY_PROXY_USERNAME", "REGISTRY_PROXY_PASSWORD"} <= env_names

    mirror = _user(deployment, mirror_out["endpoint"], mirror_out["caCertPem"])
    started = time.monotonic()
    answer = mirror.api(
        "GET", "/v2/team/cached/manifests/1.0", auth=(MIRROR_USER, passwords["mirror"]), headers={"Accept": MANIFEST_V2}
    )
    elapsed = time.monotonic() - started
    print(f"mirror answered {answer.status_code} in {elapsed:.1f}s: {answer.text.strip()}")
    assert elapsed < 30, "the mirror hung on the upstream"
    mirror_logs = mirror_container.logs().decode(errors="replace")
    assert "Challenge established with upstream" in mirror_logs  # TLS to the upstream verified with its CA
    assert "x509" not in mirror_logs
    upstream_logs = docker_client.containers.get(outputs["containerName"]).logs().decode(errors="replace")
    # The mirror's own requests (Go-http-client) as the upstream answered them.
    answered = re.findall(
        r'"(?:GET|HEAD) /v2/team/cached/manifests/1\.0 HTTP/[0-9.]+" ([0-9]+) [0-9]+ "[^"]*" "Go-http-client',
        upstream_logs,
    )
    print(f"upstream answered the mirror's manifest requests: {answered}")
    if each_registry_image.startswith("registry:3"):
        # 3.x answers a Basic challenge with mirror.username/password (registry/proxy/proxyregistry.go: an
        # auth.NewBasicHandler over the configured credentials beside the token handler).
        assert answer.status_code == 200, answer.text
        assert answer.headers["Docker-Content-Digest"] == pushed
        assert "200" in answered, "the upstream never served the mirror with its credentials"
        mirror.login(MIRROR_USER, passwords["mirror"])
        assert mirror.pull("team/cached", "1.0") == pushed
        _wrong_upstream_password_on_3(deployment, docker_client, outputs, passwords, pushed)
    else:
        # 2.8 sends none: the upstream refuses, the client gets manifest unknown.
        assert answer.status_code == 404
        assert "401" in answered, "the upstream never refused the mirror's unauthenticated manifest request"
    assert mirror.api("GET", "/v2/", auth=(MIRROR_USER, passwords["mirror"])).status_code == 200


def _wrong_upstream_password_on_3(
    deployment: Deployment,
    docker_client: docker.DockerClient,
    outputs: dict[str, Any],
    passwords: dict[str, str],
    pushed: str,
) -> None:
    """3.1.2 with a wrong upstream password (Basic-auth upstream): what a client of the mirror sees, measured.
    A tag falls back to the mirror's own tags as on 2.8 (registry/proxy/proxytagservice.go Get drops the remote
    error): 404 MANIFEST_UNKNOWN. A digest gets the upstream's own 401 UNAUTHORIZED passed through
    (registry/handlers/manifests.go -> helpers.go toErrcodeErrors, new after 3.1.1; 2.8 wraps it as 500 UNKNOWN),
    although the client's credentials for the mirror are right."""
    bad = outputs["mirrors"]["e2e-badmirror"]
    client = _user(deployment, bad["endpoint"], bad["caCertPem"])
    tag_answer, tag_seconds = _timed(client, passwords["mirror"], "/v2/team/cached/manifests/1.0")
    digest_answer, digest_seconds = _timed(client, passwords["mirror"], f"/v2/team/cached/manifests/{pushed}")
    print(
        f"3.x wrong upstream password, tag: {tag_answer.status_code} in {tag_seconds:.2f}s: {tag_answer.text.strip()}"
    )
    print(
        f"3.x wrong upstream password, digest: {digest_answer.status_code} in {digest_seconds:.2f}s:"
        f" {digest_answer.text.strip()}"
    )
    assert tag_seconds < 10, "the mirror hung on the upstream"
    assert digest_seconds < 10, "the mirror hung on the upstream"
    assert tag_answer.status_code == 404
    assert tag_answer.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert digest_answer.status_code == 401
    assert digest_answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    container = docker_client.containers.get(bad["containerName"])
    told = [
        line
        for line in container.logs().decode(errors="replace").splitlines()
        if "/v2/team/cached/manifests" in line and "level=error" in line
    ]
    print("bad mirror log:\n" + "\n".join(told))
    assert 'err.detail="unknown tag=1.0"' in told[0]
    assert "err.code=unauthorized" in told[1]

    client.login(MIRROR_USER, passwords["mirror"])
    started = time.monotonic()
    pulled = client.docker("pull", f"{client.endpoint}/team/cached:1.0", check=False)
    print(f"3.x docker pull by tag ({time.monotonic() - started:.1f}s): {pulled.stderr.strip()}")
    assert pulled.returncode != 0
    assert "manifest unknown" in pulled.stderr, pulled.stderr
    started = time.monotonic()
    by_digest = client.docker("pull", f"{client.endpoint}/team/cached@{pushed}", check=False)
    print(f"3.x docker pull by digest ({time.monotonic() - started:.1f}s): {by_digest.stderr.strip()}")
    assert by_digest.returncode != 0
    assert "unauthorized: authentication required" in by_digest.stderr, by_digest.stderr
    upstream_logs = docker_client.containers.get(outputs["containerName"]).logs().decode(errors="replace")
    answered = re.findall(
        r'"(?:GET|HEAD) /v2/team/cached/manifests/\S+ HTTP/[0-9.]+" ([0-9]+) .*Go-http-client', upstream_logs
    )
    print(f"upstream answered the mirrors' manifest requests: {answered}")
    assert "401" in answered, "the upstream never refused the wrong password"
    assert client.api("GET", "/v2/", auth=(MIRROR_USER, passwords["mirror"])).status_code == 200


def test_switching_mode_replaces_the_container_and_keeps_the_volume(
    deployment, docker_client, images, passwords, anonymous_upstream
):
    mirror_spec = _mirror_spec(passwords["mirror"], anonymous_upstream.ca_pem)
    registry = {k: v for k, v in mirror_spec.items() if k not in ("mode", "mirror")}
    outputs = deployment.apply(STACK, registry)
    client = deployment.client(outputs)
    client.login(MIRROR_USER, passwords["mirror"])
    client.push(images["cached"], "team/kept", "1.0")
    blobs = _layers(client, (MIRROR_USER, passwords["mirror"]), "team/kept", "1.0")
    before = deployment.registry_container(outputs)

    switched = deployment.apply(STACK, mirror_spec)
    replaced = {name for op, _typ, name in deployment.engine.changed() if op == "replace"}
    after = deployment.registry_container(switched)
    assert after.id != before.id
    assert "selfhosted-registry" in replaced
    assert "selfhosted-data" not in replaced
    assert switched["volumeName"] == outputs["volumeName"]
    config_yml = after.exec_run(["cat", _config_path(mirror_spec.get("image", DEFAULT_IMAGE))]).output.decode()
    assert f"remoteurl: https://localhost:{ANON_UPSTREAM_PORT}" in config_yml
    for digest in blobs:
        assert _in_storage(after, digest, timeout=1), f"{digest} lost with the mode switch"


TOKEN_UPSTREAM_PORT = 5660


@pytest.fixture
def token_server(passwords: dict[str, str]) -> Iterator[TokenServer]:
    """The upstream's token server (Docker token spec, loopback): issues pull/push tokens to UPSTREAM_USER."""
    with TokenServer(UPSTREAM_USER, passwords["upstream"]) as server:
        yield server


def _token_pair_config(server: TokenServer, passwords: dict[str, str]) -> dict[str, str]:
    """selfHosted = an upstream with TLS and token auth against `server`; mirrors: one with the upstream's
    credentials, one with a wrong password. Both trust the upstream's generated CA by themselves."""
    # Distribution 2.8: 3.1.2 sends upstream credentials only to a Bearer realm on the upstream's host:port or
    # registrable domain, never to localhost or an IP (registry/proxy/proxyauth.go realmAllowed), and this token
    # server's realm is http://127.0.0.1:<its port> beside https://localhost:<upstream port>.
    upstream = {
        "name": "e2e-tok-upstream",
        "image": REGISTRY_2_IMAGE,
        "port": TOKEN_UPSTREAM_PORT,
        "tokenAuth": {
            "realm": server.realm,
            "service": server.service,
            "issuer": server.issuer,
            "rootCertBundle": server.root_cert_bundle,
        },
    }

    def mirror(name: str, port: int, password: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": REGISTRY_2_IMAGE,
            "port": port,
            # Host networking: the mirror reaches the upstream and the token server on this machine's loopback.
            "networkMode": "host",
            "users": [{"name": MIRROR_USER, "password": passwords["mirror"]}],
            "mirror": {
                "upstream": f"https://localhost:{TOKEN_UPSTREAM_PORT}",
                "username": UPSTREAM_USER,
                "password": password,
            },
        }

    mirrors = [
        mirror("e2e-mirror", MIRROR_PORT, passwords["upstream"]),
        mirror("e2e-badmirror", BAD_MIRROR_PORT, "wrong-" + secrets.token_urlsafe(12)),
    ]
    return {"registries:selfHosted": json.dumps(upstream), "registries:mirrors": json.dumps(mirrors)}


def _bearer(server: TokenServer, password: str, scope: str) -> dict[str, str]:
    """An Authorization header with a token from the realm, as a token-capable client gets it."""
    answer = requests.get(
        server.realm, params={"service": server.service, "scope": scope}, auth=(UPSTREAM_USER, password), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _timed(client: RegistryUser, password: str, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = client.api("GET", path, auth=(MIRROR_USER, password), headers={"Accept": MANIFEST_V2})
    return answer, time.monotonic() - started


def test_a_token_auth_upstream_of_the_same_program_is_proxied_with_its_credentials_and_a_wrong_password_is_told(
    deployment, docker_client, images, passwords, token_server
):
    """Upstream: selfHosted with TLS (generated CA) and tokenAuth against a token server; the mirror fetches
    tokens there as the upstream's user (2.8 sends credentials to a Bearer realm only: proxyauth.go)."""
    deployment.engine.begin_run()
    config = _token_pair_config(token_server, passwords)
    deployment.outputs = run_program(deployment.engine, stack=STACK, config=config, secret_keys=list(config))
    deployment.engine.end_run()
    outputs = {key: output.value for key, output in deployment.outputs.items()}
    assert outputs["users"] == {}
    assert outputs["dockerConfigJson"] == ""
    assert outputs["loginCommand"] == f"docker login localhost:{TOKEN_UPSTREAM_PORT}"
    upstream_container = docker_client.containers.get(outputs["containerName"])
    config_yml = upstream_container.exec_run(["cat", "/etc/docker/registry/config.yml"]).output.decode()
    assert "rootcertbundle: /auth/token-root-certs.pem" in config_yml
    assert "htpasswd" not in config_yml

    # docker login to the upstream goes through the token flow (the daemon asks the realm), then push.
    upstream = _user(deployment, outputs["endpoint"], outputs["caCertPem"])
    upstream.login(UPSTREAM_USER, passwords["upstream"])
    pushed = {name: upstream.push(tag, f"team/{name}", "1.0") for name, tag in images.items()}
    anonymous = upstream.api("GET", "/v2/team/cached/manifests/1.0")
    assert anonymous.status_code == 401
    assert f'Bearer realm="{token_server.realm}"' in anonymous.headers["WWW-Authenticate"]
    daemon_asks = [r for r in token_server.seen() if r.user == UPSTREAM_USER and "Go-http-client" not in r.user_agent]
    assert any(r.status == 200 and any("push" in s for s in r.scopes) for r in daemon_asks), daemon_asks
    _forget_locally(docker_client, images, upstream)
    headers = {**_bearer(token_server, passwords["upstream"], "repository:team/cached:pull"), "Accept": MANIFEST_V2}
    manifest = upstream.api("GET", "/v2/team/cached/manifests/1.0", headers=headers)
    assert manifest.status_code == 200, manifest.text
    blobs = [manifest.json()["config"]["digest"], *(layer["digest"] for layer in manifest.json()["layers"])]

    # The right credentials: pulls through the mirror give the upstream's digests; its blobs are stored.
    good = outputs["mirrors"]["e2e-mirror"]
    mirror = _user(deployment, good["endpoint"], good["caCertPem"])
    mirror.login(MIRROR_USER, passwords["mirror"])
    before = len(token_server.seen())
    assert mirror.pull("team/cached", "1.0") == pushed["cached"]
    mirror_container = docker_client.containers.get(good["containerName"])
    for digest in blobs:
        assert _in_storage(mirror_container, digest), f"{digest} not in the mirror's storage"
    mirror_asks = [r for r in token_server.seen()[before:] if "Go-http-client" in r.user_agent]
    print(f"token requests of the mirror: {[(r.user, r.scopes, r.status) for r in mirror_asks]}")
    assert mirror_asks, "the mirror never asked the token server"
    assert all(r.user == UPSTREAM_USER and r.status == 200 for r in mirror_asks), mirror_asks
    assert any("repository:team/cached:pull" in r.scopes for r in mirror_asks), mirror_asks
    assert "Discovered token authentication URL: " + token_server.realm in mirror_container.logs().decode()

    # A wrong password: what a client of the mirror sees, for a tag and for a digest, and how fast.
    bad = outputs["mirrors"]["e2e-badmirror"]
    bad_client = _user(deployment, bad["endpoint"], bad["caCertPem"])
    before = len(token_server.seen())
    tag_answer, tag_seconds = _timed(bad_client, passwords["mirror"], "/v2/team/cached/manifests/1.0")
    digest_answer, digest_seconds = _timed(
        bad_client, passwords["mirror"], f"/v2/team/cached/manifests/{pushed['cached']}"
    )
    print(
        f"wrong upstream password, tag pull: {tag_answer.status_code} in {tag_seconds:.2f}s: {tag_answer.text.strip()}"
    )
    print(
        f"wrong upstream password, digest pull: {digest_answer.status_code} in {digest_seconds:.2f}s:"
        f" {digest_answer.text.strip()}"
    )
    refused = [r for r in token_server.seen()[before:] if "Go-http-client" in r.user_agent]
    print(f"token server saw: {[(r.user, r.scopes, r.status) for r in refused]}")
    bad_container = docker_client.containers.get(bad["containerName"])
    told = [
        line
        for line in bad_container.logs().decode(errors="replace").splitlines()
        if "/v2/team/cached/manifests" in line and ("level=error" in line or "response completed" in line)
    ]
    print("mirror log:\n" + "\n".join(told))
    assert tag_seconds < 10, "the mirror hung on the upstream"
    assert digest_seconds < 10, "the mirror hung on the upstream"
    assert refused, "the mirror never asked the token server"
    assert all(r.user == UPSTREAM_USER and r.status == 401 for r in refused), refused
    # 2.8: a tag falls back to the mirror's own (empty) tag store on any remote error (proxytagservice.go Get).
    assert tag_answer.status_code == 404
    assert tag_answer.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    # A digest returns the remote error, wrapped as UNKNOWN with the token server's 401 in its detail
    # (proxymanifeststore.go Get -> handlers/manifests.go GetManifest: errcode.ErrorCodeUnknown.WithDetail(err)).
    assert digest_answer.status_code == 500
    error = digest_answer.json()["errors"][0]
    assert error["code"] == "UNKNOWN"
    assert "401" in json.dumps(error["detail"]) or "unauthorized" in json.dumps(error["detail"]).lower(), error
    # The log says why for the digest only: the tag's fallback drops the remote error unlogged.
    tag_line, digest_line = told[0], told[1]
    assert "unknown tag=1.0" in tag_line
    assert "unauthorized" not in tag_line.lower()
    assert "unauthorized: invalid username or password" in digest_line

    # What docker sees through that mirror.
    bad_client.login(MIRROR_USER, passwords["mirror"])
    started = time.monotonic()
    pulled = bad_client.docker("pull", f"{bad_client.endpoint}/team/cached:1.0", check=False)
    print(f"docker pull through the wrong-password mirror ({time.monotonic() - started:.1f}s): {pulled.stderr.strip()}")
    assert pulled.returncode != 0
    assert "manifest unknown" in pulled.stderr or "not found" in pulled.stderr, pulled.stderr
    started = time.monotonic()
    pulled = bad_client.docker("pull", f"{bad_client.endpoint}/team/cached@{pushed['cached']}", check=False)
    print(f"docker pull by digest through it ({time.monotonic() - started:.1f}s): {pulled.stderr.strip()}")
    assert pulled.returncode != 0
    assert "500" in pulled.stderr, pulled.stderr
    assert bad_client.api("GET", "/v2/", auth=(MIRROR_USER, passwords["mirror"])).status_code == 200


def test_ttl_on_3_expires_the_cache_and_a_later_pull_fetches_from_the_upstream_again(
    deployment, docker_client, images, passwords, anonymous_upstream
):
    """proxy.ttl (3.x only): the mirror's scheduler deletes what it cached once the ttl passes
    (registry/proxy/scheduler), so the next pull fetches the blobs from the upstream again; before, it does not."""
    upstream = _user(deployment, anonymous_upstream.endpoint, anonymous_upstream.ca_pem)
    pushed = upstream.push(images["cached"], "team/cached", "1.0")
    _forget_locally(docker_client, images, upstream)
    spec = _mirror_spec(
        passwords["mirror"],
        anonymous_upstream.ca_pem,
        mirror={
            "upstream": f"https://localhost:{ANON_UPSTREAM_PORT}",
            "upstreamCaCertificate": anonymous_upstream.ca_pem,
            "ttl": "20s",
        },
    )
    outputs = deployment.apply(STACK, spec)
    mirror = deployment.client(outputs)
    mirror.login(MIRROR_USER, passwords["mirror"])
    container = deployment.registry_container(outputs)
    assert "ttl: 20s" in container.exec_run(["cat", _config_path(DEFAULT_IMAGE)]).output.decode()
    blobs = _layers(upstream, None, "team/cached", "1.0")

    started = time.monotonic()
    assert mirror.pull("team/cached", "1.0") == pushed
    first = {digest: _blob_gets(anonymous_upstream.container, digest) for digest in blobs}
    mirror.remove_local("team/cached", "1.0")
    assert mirror.pull("team/cached", "1.0") == pushed
    assert {digest: _blob_gets(anonymous_upstream.container, digest) for digest in blobs} == first, "cached"
    time.sleep(max(0.0, 20 + 5 - (time.monotonic() - started)))
    expired = [d for d in blobs if not _in_storage(container, d, timeout=0.1)]
    print(f"after the ttl: {len(expired)} of {len(blobs)} blobs gone from the mirror's storage")
    mirror.remove_local("team/cached", "1.0")
    assert mirror.pull("team/cached", "1.0") == pushed
    again = {digest: _blob_gets(anonymous_upstream.container, digest) for digest in blobs}
    print(f"upstream blob GETs: first pull {first}, after the ttl {again}")
    assert all(again[d] == first[d] + 1 for d in blobs), (first, again)


DOCKERD_IMAGE = "library/e2e-dockerd-mirror"


def _primary_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("203.0.113.1", 9))
        return probe.getsockname()[0]


def test_a_docker_daemon_with_the_daemon_json_pulls_hub_images_through_a_client_certificate_mirror(
    deployment, docker_client, images, passwords, anonymous_upstream
):
    """Review M3: dockerd cannot log in to a mirror, so the mirror authenticates it by mutual TLS
    (mirror.clientAuth: certificate). A second dockerd configured with nothing but the outputs (daemonJson, and
    ca.crt / client.cert / client.key in its certs.d) pulls docker.io/library/<name>: there is no internet here,
    so the pull can only come through the mirror, whose upstream is a local registry holding library/<name>.
    One registry version (the default 3.x): the mutual-TLS code is the same in 2.8 and 3.x (registry/registry.go,
    http.tls.clientcas -> tls.RequireAndVerifyClientCert) and the config we render for it does not differ."""
    upstream = _user(deployment, anonymous_upstream.endpoint, anonymous_upstream.ca_pem)
    pushed = upstream.push(images["cached"], DOCKERD_IMAGE, "1.0")
    # Not on loopback: dockerd treats 127.0.0.0/8 as an insecure registry (moby registry/config.go
    # InsecureRegistryCIDRs), skips certificate verification and reads no certs.d there, so it presents no client
    # certificate to a mirror on localhost (measured: "remote error: tls: certificate required", then Hub).
    host = _primary_address()
    spec = _mirror_spec(passwords["mirror"], anonymous_upstream.ca_pem)
    del spec["users"]
    spec["mirror"]["clientAuth"] = "certificate"
    spec.update(hostname=host, bindAddress=host, tls={"ipAddresses": [host]})
    outputs = deployment.apply(STACK, spec)
    endpoint = f"{host}:{MIRROR_PORT}"
    assert json.loads(outputs["daemonJson"]) == {"registry-mirrors": [f"https://{endpoint}"]}
    assert outputs["users"] == {}
    container = deployment.registry_container(outputs)
    config_yml = container.exec_run(["cat", _config_path(DEFAULT_IMAGE)]).output.decode()
    assert "clientcas:" in config_yml
    assert "htpasswd" not in config_yml

    certs = {
        "ca.crt": outputs["caCertPem"],
        "client.cert": outputs["mirrorClientCertPem"],
        "client.key": outputs["mirrorClientKeyPem"],
    }
    with tempfile.TemporaryDirectory() as files:
        for name, content in certs.items():
            Path(files, name).write_text(content)
        ca, cert, key = (str(Path(files, name)) for name in certs)
        # Without the client certificate the handshake is refused; with it, no password is asked.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"https://{endpoint}/v2/", verify=ca, timeout=10)
        assert requests.get(f"https://{endpoint}/v2/", verify=ca, cert=(cert, key), timeout=10).status_code == 200

    with second_dockerd(json.loads(outputs["daemonJson"]), {endpoint: certs}) as daemon:
        assert daemon.client.info()["RegistryConfig"]["Mirrors"] == [f"https://{endpoint}/"]
        started = time.monotonic()
        try:
            image = daemon.client.images.pull(f"docker.io/{DOCKERD_IMAGE}", tag="1.0")
        except APIError:
            print("second dockerd's log:\n" + daemon.log()[-4000:])
            raise
        print(f"second dockerd pulled docker.io/{DOCKERD_IMAGE}:1.0 in {time.monotonic() - started:.1f}s")
        assert any(digest.endswith("@" + pushed) for digest in image.attrs["RepoDigests"]), image.attrs
        assert "Attempting next endpoint" not in daemon.log()  # no fallback from the mirror to Hub

    # dockerd resolves the tag with a HEAD, then GETs the manifest by its digest: both answered 200 to the daemon.
    answered = [
        line
        for line in container.logs().decode(errors="replace").splitlines()
        if "response completed" in line
        and f"/v2/{DOCKERD_IMAGE}/manifests/" in line
        and 'useragent="docker/' in line  # the daemon's user agent
    ]
    print("mirror log:\n" + "\n".join(answered))
    assert any(
        "http.request.method=HEAD" in line and "/manifests/1.0 " in line and "http.response.status=200" in line
        for line in answered
    ), answered
    assert any(
        "http.request.method=GET" in line and f"/manifests/{pushed}" in line and "http.response.status=200" in line
        for line in answered
    ), answered
