"""Review M1: a webhook's Authorization header (and URL) and the Redis password must not be readable by a local user
who cannot read the 0400 config.yml. distribution logs every notification endpoint with its headers at info level
at startup (`configuring endpoint %v (%v), timeout=%s, headers=%v`, registry/handlers/app.go:457 in v2.8.3, :496
in v3.0.0), and its debug server publishes expvar at /debug/vars: the endpoints' headers (notifications/metrics.go
and endpoint.go, no json:"-") and, in 2.8.3, the Redis config with its password (app.go configureRedis). The debug
server serves /metrics on the same mux as expvar (registry.go: http.ListenAndServe(addr, nil), http.Handle(path,
metrics.Handler())), so publishing the metrics publishes expvar.

So: the debug server is published on the host only when the user sets debug_port (bridge), never together with
notifications or the Redis cache; host networking puts it on the host's loopback, so it is refused with
notifications; with notifications the registry logs at warn or above (the access log, written apart from the
log level, stays). tests/e2e/test_selfhosted_registry.py checks `docker logs` and the host's loopback for a canary."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.pulumi_runtime import unwrap, upload_content

CONTAINER = "docker:index/container:Container"
HOOK = {"name": "audit", "url": "https://hooks.example.com/x", "authorization": "Bearer canary"}


def _registry(mocks: Any) -> Any:
    return mocks.find(CONTAINER, "selfhosted-registry")


def _config_yml(mocks: Any) -> dict[str, Any]:
    inputs = _registry(mocks).inputs
    path = next(u["file"] for u in unwrap(inputs["uploads"]) if u["file"].endswith("config.yml"))
    return yaml.safe_load(unwrap(upload_content(inputs, path)))


def _published_ports(mocks: Any) -> list[int]:
    return [port["internal"] for port in _registry(mocks).plain.get("ports") or []]


def test_the_debug_server_is_not_published_on_the_host_by_default(run):
    mocks, _ = run(selfHosted={})
    assert _published_ports(mocks) == [5000]


def test_the_debug_server_listens_on_the_containers_loopback_only_by_default(run):
    """Not on the registry network either: the UI, Redis and HAProxy containers (or one a user joins to it) would
    read /debug/vars there. The health check runs inside the container; HAProxy checks the TLS port."""
    mocks, _ = run(selfHosted={"notifications": [HOOK]}, secret=True)
    assert _config_yml(mocks)["http"]["debug"]["addr"] == "127.0.0.1:5001"
    assert "http://127.0.0.1:5001/debug/health" in _registry(mocks).plain["healthcheck"]["tests"][1]


def test_a_given_debug_port_publishes_it_on_the_host_loopback(run):
    mocks, _ = run(selfHosted={"debugPort": 9101})
    debug = [p for p in _registry(mocks).plain["ports"] if p["internal"] != 5000]
    assert debug == [{"internal": 5001, "external": 9101, "ip": "127.0.0.1"}]
    # Docker's publishing reaches the container's interface, not its loopback.
    assert _config_yml(mocks)["http"]["debug"]["addr"] == ":5001"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"notifications": [HOOK]}, "notifications"),
        (
            {"storage": {"kind": "s3", "bucket": "acme-images", "region": "eu-west-1", "cache": "redis"}},
            "storage.cache",
        ),
    ],
)
def test_a_published_debug_port_is_refused_with_secrets_in_the_config(run, extra, named):
    with pytest.raises(Exception, match=r"debug_port: 9101 publishes the debug server") as raised:
        run(selfHosted={"debugPort": 9101, **extra}, secret=True)
    assert "/debug/vars" in str(raised.value)
    assert named in str(raised.value)


def test_host_networking_is_refused_with_notifications(run):
    with pytest.raises(Exception, match=r"network_mode: host puts the debug server") as raised:
        run(selfHosted={"networkMode": "host", "notifications": [HOOK]}, secret=True)
    assert "/debug/vars" in str(raised.value)


def test_with_notifications_the_registry_logs_at_warn_so_endpoint_headers_stay_out_of_the_log(run):
    mocks, _ = run(selfHosted={"notifications": [HOOK]}, secret=True)
    assert _config_yml(mocks)["log"]["level"] == "warn"
    # A level the user chose above it is kept.
    mocks, _ = run(selfHosted={"notifications": [HOOK], "log": {"level": "error"}}, secret=True)
    assert _config_yml(mocks)["log"]["level"] == "error"


def test_without_notifications_the_log_level_is_the_users(run):
    mocks, _ = run(selfHosted={})
    assert _config_yml(mocks)["log"]["level"] == "info"
