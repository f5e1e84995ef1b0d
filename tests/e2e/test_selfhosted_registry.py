"""The self-hosted registry, deployed by the real program onto a real Docker Engine, used as users do."""

from __future__ import annotations

import copy
import io
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import docker
import pytest
import requests

from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import provided_certificate
from tests.support.images import build_scratch_image
from tests.support.ui_image import INDEX_MARKER, build_ui_standin_image

pytestmark = pytest.mark.e2e


def _image(docker_client: docker.DockerClient, name: str, size: int = 4096) -> str:
    tag = f"e2e-src/{name}:latest"
    build_scratch_image(docker_client, tag, [os.urandom(size)])
    return tag


@pytest.fixture
def stack(base_stack: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name, spec = base_stack
    return name, copy.deepcopy(spec)


@pytest.fixture
def stack_each_version(base_stack: tuple[str, dict[str, Any]], each_registry_image: str) -> tuple[str, dict[str, Any]]:
    """The stack on each registry version (3.x, 2.8): for what the versions do differently (TLS, auth, webhooks)."""
    name, spec = base_stack
    return name, {**copy.deepcopy(spec), "image": each_registry_image}


def _deploy(deployment: Deployment, stack: tuple[str, dict[str, Any]]) -> tuple[dict[str, Any], str, str]:
    outputs = deployment.apply(*stack)
    user, password = next(iter(outputs["users"].items()))
    return outputs, user, password


def test_login_push_pull_roundtrip_with_generated_credentials(deployment, docker_client, stack):
    outputs, user, password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    assert outputs["loginCommand"] == f"docker login {outputs['endpoint']} --username {user} --password-stdin"
    assert password not in outputs["loginCommand"]

    assert "Login Succeeded" in client.login(user, password).stdout
    source = _image(docker_client, "roundtrip")
    pushed = client.push(source, "team/app", "1.0")
    client.remove_local("team/app", "1.0")
    assert client.pull("team/app", "1.0") == pushed

    catalog = client.api("GET", "/v2/_catalog", auth=(user, password))
    assert catalog.status_code == 200
    assert "team/app" in catalog.json()["repositories"]
    tags = client.api("GET", "/v2/team/app/tags/list", auth=(user, password)).json()
    assert tags == {"name": "team/app", "tags": ["1.0"]}
    inspected = client.skopeo_inspect("team/app", "1.0", user, password)
    assert inspected["Digest"] == pushed


def test_docker_config_json_output_logs_in(deployment, docker_client, stack):
    outputs, _user, _password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    (client.docker_config / "config.json").write_text(outputs["dockerConfigJson"])
    pushed = client.push(_image(docker_client, "configjson"), "via/config", "v1")
    assert pushed.startswith("sha256:")


@pytest.mark.requires_tls
def test_refuses_anonymous_wrong_password_old_tls_and_plain_http(deployment, stack_each_version):
    stack = stack_each_version
    outputs, user, password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    assert client.api("GET", "/v2/").status_code == 401
    assert client.api("GET", "/v2/_catalog", auth=(user, password + "x")).status_code == 401
    assert client.login(user, "wrong-password-123", check=False).returncode != 0
    assert client.api("GET", "/v2/", auth=(user, password)).status_code == 200

    host, port = outputs["endpoint"].rsplit(":", 1)

    def handshake(maximum: ssl.TLSVersion) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=outputs["caCertPem"])
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
        context.set_ciphers("ALL:@SECLEVEL=0")
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return str(tls.version())

    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL"):
        handshake(ssl.TLSVersion.TLSv1_1)

    plain = requests.get(f"http://{outputs['endpoint']}/v2/", timeout=10)
    assert plain.status_code == 400
    assert "HTTP request to an HTTPS server" in plain.text
    headers = client.api("GET", "/v2/", auth=(user, password)).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_delete_manifest_by_digest_removes_the_tag(deployment, docker_client, stack):
    outputs, user, password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    client.login(user, password)
    digest = client.push(_image(docker_client, "deleteme"), "team/deleteme", "old")
    deleted = client.api("DELETE", f"/v2/team/deleteme/manifests/{digest}", auth=(user, password))
    assert deleted.status_code == 202
    tags = client.api("GET", "/v2/team/deleteme/tags/list", auth=(user, password))
    assert "old" not in (tags.json().get("tags") or [])
    gone = client.api("GET", f"/v2/team/deleteme/manifests/{digest}", auth=(user, password))
    assert gone.status_code == 404


def test_images_survive_restart_and_container_recreation(deployment, docker_client, stack):
    outputs, user, password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    client.login(user, password)
    pushed = client.push(_image(docker_client, "durable"), "team/durable", "1")

    container = deployment.registry_container(outputs)
    container.restart(timeout=10)
    assert _wait_until_serving(client, user, password)
    assert client.api("HEAD", f"/v2/team/durable/manifests/{pushed}", auth=(user, password)).status_code == 200

    first_id = container.id
    container.remove(force=True, v=True)  # out of band: `up --refresh` must recreate it, same config and volume
    outputs = deployment.apply(*stack, refresh=True)  # without a refresh the engine never looks at Docker
    assert deployment.registry_container(outputs).id != first_id
    client.remove_local("team/durable", "1")
    assert client.pull("team/durable", "1") == pushed


def _wait_until_serving(client, user: str, password: str) -> bool:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.api("GET", "/v2/", auth=(user, password)).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def test_every_user_can_push_and_a_removed_user_is_locked_out(deployment, docker_client, stack):
    name, spec = stack
    spec["users"] = [{"name": "alice"}, {"name": "bob", "password": "bob-has-a-long-password"}]
    outputs = deployment.apply(name, spec)
    assert set(outputs["users"]) == {"alice", "bob"}
    assert outputs["users"]["bob"] == "bob-has-a-long-password"
    alice, bob = deployment.client(outputs), deployment.client(outputs)
    alice.login("alice", outputs["users"]["alice"])
    bob.login("bob", outputs["users"]["bob"])
    alice.push(_image(docker_client, "alice"), "alice/app", "1")
    bob.push(_image(docker_client, "bob"), "bob/app", "1")

    spec["users"] = [{"name": "alice"}]
    after = deployment.apply(name, spec)
    assert set(after["users"]) == {"alice"}
    assert after["users"]["alice"] == outputs["users"]["alice"]  # unchanged user keeps the password
    assert _wait_until_serving(alice, "alice", after["users"]["alice"])
    assert bob.api("GET", "/v2/", auth=("bob", "bob-has-a-long-password")).status_code == 401
    assert bob.login("bob", "bob-has-a-long-password", check=False).returncode != 0
    assert alice.pull("bob/app", "1").startswith("sha256:")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _bridge_gateway(docker_client: Any) -> str:
    """The default bridge's IPv4 gateway. Docker 20.10 leaves `Gateway` out of the IPAM config when it found the
    bridge interface already configured (a dockerd started again on the same machine): then the interface's own
    IPv4 address."""
    network = docker_client.networks.get("bridge").attrs
    for entry in (network.get("IPAM") or {}).get("Config") or []:
        gateway = str(entry.get("Gateway") or "").split("/", 1)[0]
        if gateway and ipaddress.ip_address(gateway).version == 4:
            return gateway
    interface = (network.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    shown = subprocess.run(
        ["ip", "-j", "-4", "addr", "show", "dev", interface], capture_output=True, text=True, check=False
    )
    addresses = [a["local"] for link in json.loads(shown.stdout or "[]") for a in link.get("addr_info", [])]
    assert addresses, f"the default bridge {interface} has no IPv4 address: {shown.stdout}{shown.stderr}"
    return str(addresses[0])


def test_push_event_reaches_webhook_with_authorization_header(deployment, docker_client, stack_each_version):
    stack = stack_each_version
    # The registry runs on its bridge network (host networking with notifications is refused: the debug server
    # would sit on the host's loopback); it reaches this machine at the default bridge's gateway address.
    gateway = _bridge_gateway(docker_client)
    server = ThreadingHTTPServer((gateway, 0), _Receiver)
    _Receiver.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        name, spec = stack
        spec["notifications"] = [
            {
                "name": "receiver",
                "url": f"http://{gateway}:{server.server_address[1]}/events",
                "authorization": "Bearer webhook-secret-123",
                "headers": {"X-Source": "e2e"},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "1s",
            }
        ]
        outputs = deployment.apply(name, spec)
        client = deployment.client(outputs)
        user, password = next(iter(outputs["users"].items()))
        client.login(user, password)
        digest = client.push(_image(docker_client, "hooked"), "team/hooked", "7")

        import time

        deadline = time.monotonic() + 30
        pushes: list[tuple[dict[str, str], dict[str, Any]]] = []
        while time.monotonic() < deadline and not pushes:
            pushes = [
                (headers, event)
                for headers, envelope in _Receiver.received
                for event in envelope["events"]
                if event["action"] == "push" and event["target"].get("tag") == "7"
            ]
            time.sleep(0.5)
        assert pushes, f"no push event for team/hooked:7; received {len(_Receiver.received)} envelopes"
        headers, event = pushes[0]
        assert headers["Authorization"] == "Bearer webhook-secret-123"
        assert headers["X-Source"] == "e2e"
        assert event["target"]["repository"] == "team/hooked"
        assert event["target"]["digest"] == digest
    finally:
        server.shutdown()


def test_ten_concurrent_pushes_are_all_pullable(deployment, docker_client, stack):
    outputs, user, password = _deploy(deployment, stack)
    client = deployment.client(outputs)
    client.login(user, password)
    sources = {i: _image(docker_client, f"concurrent{i}", size=256 * 1024) for i in range(10)}
    with ThreadPoolExecutor(max_workers=10) as pool:
        pushed = dict(
            zip(sources, pool.map(lambda i: client.push(sources[i], f"load/img{i}", "v1"), sources), strict=True)
        )
    assert len(set(pushed.values())) == 10
    for i, digest in pushed.items():
        client.remove_local(f"load/img{i}", "v1")
        assert client.pull(f"load/img{i}", "v1") == digest


def test_second_apply_with_same_config_changes_nothing(deployment, stack):
    outputs = deployment.apply(*stack)
    container = deployment.registry_container(outputs)
    started = container.attrs["State"]["StartedAt"]
    again = deployment.apply(*stack)
    assert deployment.engine.changed() == []
    assert again == outputs
    same = deployment.registry_container(again)
    assert same.id == container.id
    assert same.attrs["State"]["StartedAt"] == started
    assert same.attrs["RestartCount"] == 0


def test_registryctl_login_and_verify_against_the_deployed_registry(deployment, stack, tmp_path):
    from registryctl.registry_client import login, trust_ca, verify

    outputs = deployment.apply(*stack)
    client = deployment.client(outputs)  # removes the certs.d entry afterwards
    assert (trust_ca(outputs) is not None) == deployment.tls
    user = login(outputs, docker_config=client.docker_config)
    assert user == next(iter(outputs["users"]))
    digest = verify(outputs, docker_config=client.docker_config)
    assert digest.startswith("sha256:")


def _file_modes(container: Any, paths: list[str]) -> dict[str, int]:
    """Permission bits of files inside a container, as `docker cp` reports them."""
    modes = {}
    for path in paths:
        stream, _stat = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            modes[path] = tar.getmembers()[0].mode & 0o777
    return modes


@pytest.mark.requires_tls
def test_key_and_htpasswd_are_private_in_the_running_registry(deployment, stack_each_version):
    stack = stack_each_version
    outputs, user, password = _deploy(deployment, stack)
    container = deployment.registry_container(outputs)
    modes = _file_modes(container, ["/auth/htpasswd", "/certs/server.key", "/certs/server.crt"])
    assert modes == {"/auth/htpasswd": 0o400, "/certs/server.key": 0o400, "/certs/server.crt": 0o444}
    # The registry (root, as upstream's image runs it) still reads them: TLS and logins work.
    assert _wait_until_serving(deployment.client(outputs), user, password)


def test_metrics_are_scraped_on_the_host_loopback_debug_port(deployment, stack):
    name, spec = stack
    # Published only where the user asks for it (review M1): debugPort given.
    spec.setdefault("debugPort", spec.get("port", 5000) + 1)
    outputs = deployment.apply(name, spec)
    debug_port = spec["debugPort"]
    deadline = time.monotonic() + 30
    while True:
        try:
            metrics = requests.get(f"http://127.0.0.1:{debug_port}/metrics", timeout=5)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert metrics.status_code == 200
    assert "registry_" in metrics.text  # distribution's own Prometheus series
    assert requests.get(f"http://127.0.0.1:{debug_port}/debug/health", timeout=5).status_code == 200
    published = deployment.registry_container(outputs).attrs["HostConfig"]["PortBindings"]
    if published:  # bridge networking: the debug port is published on loopback only
        assert published["5001/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(debug_port)}]


def test_renaming_the_registry_keeps_its_data(deployment, docker_client, stack):
    name, spec = stack
    if spec.get("storage", {}).get("kind", "filesystem") != "filesystem" or "volumeName" in spec:
        pytest.fail("this scenario needs the default, derived volume name of filesystem storage")
    outputs, user, password = _deploy(deployment, (name, spec))
    client = deployment.client(outputs)
    client.login(user, password)
    pushed = client.push(_image(docker_client, "renamed"), "team/renamed", "1")

    renamed = {**spec, "name": f"{spec.get('name', 'registry')}-renamed"}
    after = deployment.apply(name, renamed)
    assert after["containerName"] == renamed["name"]
    assert after["volumeName"] == outputs["volumeName"]  # the data volume stays, under its first name
    assert after["caCertPem"] == outputs["caCertPem"]  # clients keep trusting the same CA
    assert _wait_until_serving(client, user, password)
    client.remove_local("team/renamed", "1")
    assert client.pull("team/renamed", "1") == pushed


@pytest.mark.requires_tls
def test_ui_over_https_reaches_the_registry_only_through_a_verified_hop(deployment, docker_client, stack, tmp_path):
    name, spec = stack
    spec["ui"] = {"enabled": True, "image": build_ui_standin_image(docker_client), "port": 8080}
    outputs = deployment.apply(name, spec)
    user, password = next(iter(outputs["users"].items()))
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(outputs["caCertPem"])
    ui_url = outputs["uiUrl"]
    assert ui_url == "https://127.0.0.1:8080"

    def get(path: str, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + 30
        while True:
            try:
                return requests.get(f"{ui_url}{path}", verify=str(ca_file), timeout=10, **kwargs)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    assert INDEX_MARKER in get("/").text  # the browser's page, over HTTPS with the registry's certificate
    assert get("/v2/").status_code == 401  # the registry's own challenge, relayed
    catalog = get("/v2/_catalog", auth=(user, password))
    assert catalog.status_code == 200
    assert "repositories" in catalog.json()

    # The negative control: with another CA in place of the registry's, the hop refuses the registry.
    ui = docker_client.containers.get(f"{spec.get('name', 'registry')}-ui")
    other_ca = provided_certificate("localhost")[2].encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("ca.crt")
        info.size, info.mode = len(other_ca), 0o444
        tar.addfile(info, io.BytesIO(other_ca))
    ui.put_archive("/etc/nginx/registry-tls", archive.getvalue())
    ui.kill(signal="SIGHUP")  # nginx reloads its configuration and certificates
    deadline = time.monotonic() + 30
    while (status := get("/v2/_catalog", auth=(user, password)).status_code) == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 502


def test_a_given_password_keeps_its_hash_across_runs_and_a_new_one_replaces_it(deployment, stack):
    name, spec = stack
    spec["users"] = [{"name": "carol", "password": "carol-first-password-1"}]
    outputs = deployment.apply(name, spec)
    started = deployment.registry_container(outputs).attrs["State"]["StartedAt"]
    deployment.apply(name, spec)
    assert deployment.engine.changed() == []  # the salt is in state: same htpasswd line, no restart
    assert deployment.registry_container(outputs).attrs["State"]["StartedAt"] == started

    spec["users"] = [{"name": "carol", "password": "carol-second-password-2"}]
    after = deployment.apply(name, spec)
    client = deployment.client(after)
    assert _wait_until_serving(client, "carol", "carol-second-password-2")
    assert client.api("GET", "/v2/", auth=("carol", "carol-first-password-1")).status_code == 401


def _loopback_texts(ports: set[int]) -> dict[str, str]:
    """What answers on each of the host's 127.0.0.1 `ports`, over HTTP and HTTPS, at the debug server's paths."""
    texts: dict[str, str] = {}
    for port in sorted(ports):
        for scheme in ("http", "https"):
            for path in ("/debug/vars", "/metrics", "/debug/pprof/cmdline", "/v2/", "/"):
                url = f"{scheme}://127.0.0.1:{port}{path}"
                try:
                    texts[url] = requests.get(url, timeout=3, verify=False).text  # noqa: S501 - any certificate
                except requests.RequestException:
                    continue
    return texts


def test_a_webhook_token_reaches_neither_docker_logs_nor_the_hosts_loopback(deployment, docker_client, stack):
    """Review M1: distribution logs each notification endpoint with its headers at info at startup, and its debug
    server's /debug/vars (expvar) lists them; neither may show the token to a local user who cannot read the 0400
    config.yml. The debug server is not published by default, and the registry logs at warn with notifications."""
    name, spec = stack
    token = f"canary-{os.urandom(8).hex()}"
    spec.pop("debugPort", None)
    spec["notifications"] = [{"name": "canary", "url": "http://127.0.0.1:9/hook", "authorization": f"Bearer {token}"}]
    outputs, user, password = _deploy(deployment, (name, spec))
    client = deployment.client(outputs)
    assert _wait_until_serving(client, user, password)
    client.login(user, password)
    client.push(_image(docker_client, "canary"), "team/canary", "1")  # events go out (and fail: nobody listens)
    container = deployment.registry_container(outputs)
    logs = container.logs().decode(errors="replace")
    assert token not in logs, "the webhook token is in docker logs"
    # Every port this deployment publishes on the host, and the debug port the registry used to publish (port + 1).
    port = int(outputs["endpoint"].rsplit(":", 1)[1])
    ports = {port + 1}
    for each in docker_client.containers.list(filters={"label": "registries.managed-by=pulumi"}):
        for bindings in (each.attrs["HostConfig"].get("PortBindings") or {}).values():
            ports |= {int(b["HostPort"]) for b in bindings or [] if b.get("HostPort")}
    texts = _loopback_texts(ports)
    assert texts, "nothing answered on the host's loopback: the registry port at least must"
    leaking = [url for url, text in texts.items() if token in text]
    assert leaking == [], f"the webhook token is readable on the host's loopback at {leaking}"
    # Nor from another container on the registry's network (the UI's, Redis's, HAProxy's, or one a user joins).
    # This process is on that network too: the host is its bridge's gateway and routes to the containers' addresses.
    network, attached = next(iter(container.attrs["NetworkSettings"]["Networks"].items()))
    address = attached["IPAddress"]
    reached = requests.get(f"https://{address}:5000/v2/", timeout=5, verify=False)  # noqa: S501 - any certificate
    assert reached.status_code == 401, "the registry's port must answer on its network address (not vacuous)"
    try:
        debug = requests.get(f"http://{address}:5001/debug/vars", timeout=5).text
    except requests.ConnectionError:
        debug = ""
    assert token not in debug, f"the webhook token is readable from {network} at {address}:5001/debug/vars"
    assert debug == "", f"the debug server answers on {network} at {address}:5001"
