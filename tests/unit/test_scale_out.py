"""Scale-out on a Docker host (issue 16): replicas behind HAProxy, sharing S3, the http secret, config.yml,
and optionally a Redis blob-descriptor cache."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

import components.selfhosted.registry as registry_module
from registries.config import ConfigError, load_stack_spec
from tests.support.pulumi_runtime import is_secret, unwrap, upload_content
from tests.unit.conftest import ROOT, record_options

CONTAINER = "docker:index/container:Container"
CONFIG = "/etc/distribution/config.yml"
S3 = {"kind": "s3", "create": False, "bucket": "acme-registry-images", "region": "eu-west-1"}


def _problems(self_hosted: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": self_hosted}, "local", ROOT)
    return {problem.path: problem.allowed for problem in caught.value.problems}


def _upload(container: Any, path: str) -> tuple[str, bool]:
    """(content, whether it reaches the provider as a secret) of the file uploaded at `path`."""
    content = upload_content(container.inputs, path)  # per element, as the engine keeps it
    return unwrap(content), is_secret(content)


def test_two_replicas_on_a_volume_are_refused_saying_why():
    problems = _problems({"replicas": 2})
    assert "volume cannot be shared by replicas" in problems["registries:selfHosted.replicas"]
    assert "storage.kind: s3" in problems["registries:selfHosted.replicas"]


def test_replicas_and_redis_need_bridge_networking():
    assert (
        "networkMode: bridge"
        in _problems({"replicas": 2, "storage": S3, "networkMode": "host"})["registries:selfHosted.replicas"]
    )
    assert (
        "networkMode: bridge"
        in _problems({"storage": {"cache": "redis"}, "networkMode": "host"})["registries:selfHosted.storage.cache"]
    )


def test_an_alpine_load_balancer_image_is_refused_since_its_health_check_needs_bash():
    problems = _problems({"replicas": 2, "storage": S3, "loadBalancerImage": "haproxy:3.0.5-alpine"})
    assert "runs bash" in problems["registries:selfHosted.loadBalancerImage"]
    assert "registries:selfHosted.loadBalancerImage" not in _problems(
        {"replicas": 2, "storage": S3, "loadBalancerImage": "haproxy:3.0.5", "port": 70000}
    )


def test_docker_scale_out_keys_are_refused_on_kubernetes():
    problems = _problems({"platform": "kubernetes", "storage": {**S3, "cache": "redis"}, "replicas": 2})
    assert "not with platform: kubernetes" in problems["registries:selfHosted.replicas"]
    assert "kubernetes.redis.enabled" in problems["registries:selfHosted.storage.cache"]


def test_three_replicas_share_one_config_and_secret_behind_a_published_load_balancer(run, monkeypatch):
    options = record_options(monkeypatch, registry_module.docker, "Container")
    mocks, outputs = run(selfHosted={"name": "reg", "replicas": 3, "storage": {**S3, "cache": "redis"}})
    logical = ("selfhosted-registry", "selfhosted-registry-2", "selfhosted-registry-3")
    replicas = [mocks.find(CONTAINER, name) for name in logical]
    # No name given: Pulumi names each replica and a replacement gets a new name, so it is created (and
    # healthy) before the old one is deleted; each replica waits for the one before it (one at a time).
    assert [r.plain.get("name") for r in replicas] == [None, None, None]
    # The first deletes first: its resource is the single container of replicas: 1, holding the published port
    # a scale-out's load balancer takes. The others explicitly False: left unset, pulumi-docker's diff asks to
    # delete every container first.
    assert [options[name].delete_before_replace for name in logical] == [True, False, False]
    assert options["selfhosted-registry"].depends_on is None
    for before, after in itertools.pairwise(logical):
        assert [d._name for d in options[after].depends_on] == [before]
    assert all(r.plain.get("ports") in (None, []) for r in replicas), "replicas are reached through the LB only"
    assert [r.plain["networksAdvanced"][0]["aliases"] for r in replicas] == [["registry-replica"]] * 3
    configs = {_upload(r, "/etc/distribution/config.yml")[0] for r in replicas}
    assert len(configs) == 1, "one config.yml for every replica"
    config_yml = yaml.safe_load(configs.pop())
    assert config_yml["storage"]["cache"] == {"blobdescriptor": "redis"}
    assert config_yml["redis"]["addrs"] == ["registry-redis:6379"]  # registry 3.x: go-redis UniversalOptions
    secrets = {next(e for e in r.plain["envs"] if e.startswith("REGISTRY_HTTP_SECRET=")) for r in replicas}
    assert len(secrets) == 1, "an upload started on one replica must finish on another"
    # A stopping replica drains: it stops accepting (the LB retries elsewhere) and finishes what is in flight.
    assert config_yml["http"]["draintimeout"] == "120s"
    for replica in replicas:
        assert replica.plain["stopTimeout"] == replica.plain["destroyGraceSeconds"] == 130
        # The image's own entrypoint execs the command: SIGTERM reaches the registry.
        assert "entrypoints" not in replica.plain
        assert replica.plain["command"] == ["registry", "serve", CONFIG]

    lb = mocks.find(CONTAINER, "selfhosted-lb").plain
    assert lb["name"] == "reg-lb"
    assert lb["ports"] == [{"internal": 5000, "external": 5000, "ip": "127.0.0.1"}]
    assert lb["networksAdvanced"] == [{"name": "reg-net", "aliases": ["registry"]}]
    assert lb["wait"] is True, "up waits until a replica is up behind the load balancer"
    assert lb["healthcheck"]["tests"][:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/8405" in lb["healthcheck"]["tests"][3]
    haproxy, _ = _upload(mocks.find(CONTAINER, "selfhosted-lb"), "/usr/local/etc/haproxy/haproxy.cfg")
    assert "server-template replica 1-40 registry-replica:5000 check resolvers docker init-addr none" in haproxy
    # Checked on the TLS port (401 = up), not on the debug server, which stays on each replica's loopback.
    assert "default-server inter 1s fall 2 rise 2 check-ssl verify none\n" in haproxy
    assert "5001" not in haproxy
    assert "monitor fail if { nbsrv(replicas) lt 1 }" in haproxy
    assert "option redispatch 1" in haproxy
    assert "mode tcp" in haproxy
    assert "option httpchk GET /v2/\n    http-check expect status 401\n" in haproxy
    assert config_yml["http"]["debug"]["addr"] == "127.0.0.1:5001"  # the one config.yml of every replica
    assert mocks.find("docker:index/remoteImage:RemoteImage", "selfhosted-lb-image").plain["name"] == "haproxy:3.0.5"
    assert outputs["endpoint"].value == "localhost:5000"
    names = outputs["replicaContainerNames"].value
    assert [name.rsplit("-", 1)[0] for name in names] == list(logical), names
    assert outputs["containerName"].value == names[0]


def test_the_load_balancer_config_does_not_depend_on_the_number_of_replicas(run):
    """Scaling 2 -> 3 changes no input of the load balancer: it keeps running (and its connections)."""
    declared = []
    for count in (2, 3):
        mocks, _ = run(selfHosted={"replicas": count, "storage": S3})
        declared.append(mocks.find(CONTAINER, "selfhosted-lb").plain)
    assert declared[0] == declared[1]


def test_one_registry_container_keeps_its_name_and_stops_at_once(run, monkeypatch):
    options = record_options(monkeypatch, registry_module.docker, "Container")
    mocks, outputs = run(selfHosted={"name": "reg", "storage": S3})
    container = mocks.find(CONTAINER, "selfhosted-registry").plain
    assert container["name"] == "reg"
    assert options["selfhosted-registry"].delete_before_replace is True, "it holds the published port"
    assert container["command"] == ["registry", "serve", CONFIG]
    assert "stopTimeout" not in container
    config_yml = yaml.safe_load(
        _upload(mocks.find(CONTAINER, "selfhosted-registry"), "/etc/distribution/config.yml")[0]
    )
    assert "draintimeout" not in config_yml["http"]
    assert outputs["replicaContainerNames"].value == ["reg"]


def test_redis_is_private_and_its_password_a_secret_never_on_the_command_line(run):
    mocks, _ = run(selfHosted={"replicas": 2, "storage": {**S3, "cache": "redis"}})
    redis = mocks.find(CONTAINER, "selfhosted-redis")
    assert redis.plain.get("ports") in (None, []), "Redis is on the private network only"
    assert redis.plain["networksAdvanced"][0]["aliases"] == ["registry-redis"]
    conf, conf_secret = _upload(redis, "/usr/local/etc/redis/redis.conf")
    assert conf_secret
    password = conf.split("requirepass ", 1)[1].split("\n", 1)[0]
    assert len(password) == 48
    assert not any(password in part for part in redis.plain["command"])
    registry_config, config_secret = _upload(
        mocks.find(CONTAINER, "selfhosted-registry"), "/etc/distribution/config.yml"
    )
    assert config_secret, "config.yml holds the Redis password: secret"
    assert yaml.safe_load(registry_config)["redis"]["password"] == password


def test_one_replica_is_published_itself_with_no_load_balancer(run):
    mocks, _ = run(selfHosted={"storage": S3})
    names = {r.name for r in mocks.of_type(CONTAINER)}
    assert names == {"selfhosted-registry"}
    assert mocks.find(CONTAINER, "selfhosted-registry").plain["ports"][0]["external"] == 5000
