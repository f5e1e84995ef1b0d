"""What KubernetesRegistry declares: each object's inputs, secrets kept secret, every object a valid manifest for
the Kubernetes versions we claim (kubernetes-validate's schemas, strict), kubectl's offline decoding, and the
same config.yml as the Docker target apart from the documented differences."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi_kubernetes
import pytest
import yaml

from components.kubernetes_registry import CONFIG_VOLUME_INDEX
from tests.support.pulumi_runtime import contains_secret, is_secret, run_program, unwrap, without_secrets
from tests.support.recording_mocks import Declared, RecordingMocks
from tests.unit.conftest import KUBERNETES_STACK_FILES, record_options, stack_config

KUBERNETES_VERSIONS = ("1.35", "1.36", "1.37")
"""The Kubernetes versions we claim: the three newest whose schemas kubernetes-validate 1.37 ships."""
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SECRET = "kubernetes:core/v1:Secret"
K8S_STACK = KUBERNETES_STACK_FILES[0]
S3 = {"kind": "s3", "create": False, "bucket": "acme-registry-images", "region": "eu-west-1"}


def _run(self_hosted: dict[str, Any], stack: str = "k8s") -> tuple[RecordingMocks, dict[str, Any]]:
    mocks = RecordingMocks()
    config = {"registries:selfHosted": json.dumps(self_hosted)}
    # As `pulumi config set --secret --path` stores a key holding a secret (a TLS key, a password).
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=list(config))
    return mocks, outputs


def _run_stack_file(path: Path = K8S_STACK) -> tuple[RecordingMocks, dict[str, Any]]:
    stack, config, secret_keys = stack_config(path)
    mocks = RecordingMocks()
    return mocks, run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)


def _integral(value: Any) -> Any:
    """The mock monitor passes numbers as floats; a manifest has integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def manifests(mocks: RecordingMocks) -> list[dict[str, Any]]:
    """Every declared Kubernetes object as the manifest pulumi-kubernetes sends."""
    return [_integral(r.plain) for r in mocks.resources if r.typ.startswith("kubernetes:")]


def _object(mocks: RecordingMocks, kind: str, name: str) -> dict[str, Any]:
    return next(m for m in manifests(mocks) if m["kind"] == kind and m["metadata"]["name"] == name)


def _declared(mocks: RecordingMocks, typ: str, name: str) -> Declared:
    return next(r for r in mocks.resources if r.typ == typ and r.name == name)


def _pod(mocks: RecordingMocks, name: str = "registry") -> dict[str, Any]:
    return _object(mocks, "Deployment", name)["spec"]["template"]["spec"]


# --- each object's inputs -----------------------------------------------------------------------------


def test_the_stack_file_declares_a_hardened_deployment_of_its_replicas():
    mocks, outputs = _run_stack_file()
    spec = yaml.safe_load(K8S_STACK.read_text())["config"]["registries:selfHosted"]
    deployment = _object(mocks, "Deployment", "registry")
    assert deployment["metadata"]["namespace"] == "registry"
    assert deployment["spec"]["replicas"] == spec["kubernetes"]["replicas"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000 == pod["securityContext"]["fsGroup"]
    assert pod["automountServiceAccountToken"] is False
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert anti["podAffinityTerm"]["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (container,) = pod["containers"]
    assert container["image"] == "registry:3.1.2"
    # The mounted config named (3.x's path), never the image's default command.
    assert container["args"] == ["registry", "serve", "/etc/distribution/config.yml"]
    assert "command" not in container
    config_mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert config_mount["mountPath"] == "/etc/distribution"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    debug = next(p for p in container["ports"] if p["name"] == "debug")
    assert debug["containerPort"] == 5001
    assert container["readinessProbe"]["httpGet"] == {"path": "/debug/health", "port": "debug"}
    assert container["livenessProbe"]["httpGet"]["port"] == "debug"
    # S3 through IRSA: no keys by env, the role on the ServiceAccount.
    assert [e["name"] for e in container["env"]] == ["REGISTRY_HTTP_SECRET", "OTEL_TRACES_EXPORTER"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "registry-secret", "key": "http-secret"}
    account = _object(mocks, "ServiceAccount", "registry")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": spec["kubernetes"]["s3RoleArn"]}
    assert pod["serviceAccountName"] == "registry"
    # Many pods on one bucket roll one at a time and never drop below the count.
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert outputs["endpoint"].value == "registry.example.com"
    assert outputs["loginCommand"].value == "docker login registry.example.com --username ci --password-stdin"


def test_service_ingress_pdb_and_hpa():
    mocks, _ = _run_stack_file()
    service = _object(mocks, "Service", "registry")
    assert service["spec"]["type"] == "ClusterIP"
    # Only the API: the debug port's /debug/vars would hand out the Redis password (distribution 2.8's expvar).
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("http", 5000)]
    ingress = _object(mocks, "Ingress", "registry")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "1800"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "1800"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["registry.example.com"], "secretName": "registry-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "registry.example.com"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": "registry", "port": {"name": "http"}}}
    pdb = _object(mocks, "PodDisruptionBudget", "registry")
    assert pdb["spec"]["maxUnavailable"] == 1
    hpa = _object(mocks, "HorizontalPodAutoscaler", "registry")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "registry"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6)
    target = hpa["spec"]["metrics"][0]["resource"]
    assert target == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}


def test_the_hpa_owns_the_replica_count_once_it_runs(monkeypatch):
    options = record_options(monkeypatch, pulumi_kubernetes.apps.v1, "Deployment")
    _run_stack_file()
    assert options["selfhosted-deployment"].ignore_changes == ["spec.replicas"]
    _run({"platform": "kubernetes"})
    assert options["selfhosted-deployment"].ignore_changes is None


def test_network_policies_admit_only_the_ingress_controller_and_no_pod_reaches_the_debug_port():
    mocks, _ = _run_stack_file()
    policy = _object(mocks, "NetworkPolicy", "registry")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    # The debug port serves /debug/vars with the config (Redis password): no rule admits it (probes come from
    # the kubelet on the node, which NetworkPolicies do not filter).
    (api,) = policy["ingress"]
    assert api["ports"] == [{"port": 5000, "protocol": "TCP"}]
    assert api["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
        }
    ]
    redis = _object(mocks, "NetworkPolicy", "registry-redis")["spec"]
    registry_pods = _object(mocks, "Deployment", "registry")["spec"]["selector"]["matchLabels"]
    assert redis["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": registry_pods}}], "ports": [{"port": 6379, "protocol": "TCP"}]}
    ]


def test_redis_has_a_generated_password_the_registry_config_points_at():
    mocks, _ = _run_stack_file()
    redis_secret = _object(mocks, "Secret", "registry-redis")["stringData"]
    password = redis_secret["password"]
    assert f"requirepass {password}\n" in redis_secret["redis.conf"]
    assert "maxmemory-policy allkeys-lru" in redis_secret["redis.conf"]
    pod = _pod(mocks, "registry-redis")
    (container,) = pod["containers"]
    assert container["command"] == ["redis-server", "/etc/redis/redis.conf"]
    assert password not in json.dumps(container)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = _object(mocks, "Service", "registry-redis")
    assert service["spec"]["ports"][0]["port"] == 6379
    config = yaml.safe_load(_object(mocks, "Secret", "registry-secret")["stringData"]["config.yml"])
    assert config["redis"]["addrs"] == ["registry-redis.registry.svc:6379"]
    assert config["redis"]["password"] == password
    assert config["storage"]["cache"] == {"blobdescriptor": "redis"}


def test_registry_v3_gets_redis_addrs_and_its_config_path():
    mocks, _ = _run(
        {"platform": "kubernetes", "image": "registry:3.0.0", "storage": S3, "kubernetes": {"redis": {"enabled": True}}}
    )
    secret = _object(mocks, "Secret", "registry-secret")["stringData"]
    assert yaml.safe_load(secret["config.yml"])["redis"]["addrs"] == ["registry-redis.registry.svc:6379"]
    (container,) = _pod(mocks)["containers"]
    assert {"name": "config", "mountPath": "/etc/distribution", "readOnly": True} in container["volumeMounts"]
    assert {"name": "OTEL_TRACES_EXPORTER", "value": "none"} in container["env"]


def test_a_single_pod_on_a_claim_is_recreated_and_keeps_its_data(monkeypatch):
    options = record_options(monkeypatch, pulumi_kubernetes.core.v1, "PersistentVolumeClaim")
    mocks, outputs = _run({"platform": "kubernetes", "kubernetes": {"storageSize": "50Gi"}})
    claim = _object(mocks, "PersistentVolumeClaim", "registry-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    deployment = _object(mocks, "Deployment", "registry")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "registry-data"}} in pod["volumes"]
    assert not [m for m in manifests(mocks) if m["kind"] in ("PodDisruptionBudget", "HorizontalPodAutoscaler")]
    assert options["selfhosted-data"].retain_on_delete is True
    assert outputs["bucket"].value == ""


def test_a_claim_keeps_its_namespace_on_destroy_s3_does_not(monkeypatch):
    # Deleting a namespace deletes every object in it, the retained claim included.
    options = record_options(monkeypatch, pulumi_kubernetes.core.v1, "Namespace")
    _run({"platform": "kubernetes", "protect": True})
    assert options["selfhosted-namespace"].retain_on_delete is True
    assert options["selfhosted-namespace"].protect is True
    _run({"platform": "kubernetes", "storage": S3})
    assert options["selfhosted-namespace"].retain_on_delete is False


def test_created_s3_keys_go_by_env_from_the_secret():
    mocks, _ = _run({"platform": "kubernetes", "storage": {**S3, "create": True}, "kubernetes": {"replicas": 2}})
    (container,) = _pod(mocks)["containers"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert env == {
        "REGISTRY_HTTP_SECRET": "http-secret",
        "REGISTRY_STORAGE_S3_ACCESSKEY": "s3-access-key",
        "REGISTRY_STORAGE_S3_SECRETKEY": "s3-secret-key",
    }
    secret = _declared(mocks, SECRET, "selfhosted-secret").plain["stringData"]
    key = _declared(mocks, "aws:iam/accessKey:AccessKey", "selfhosted-s3-key")
    assert secret["s3-secret-key"] == key.plain.get("secret", secret["s3-secret-key"])
    assert "s3" in yaml.safe_load(secret["config.yml"])["storage"]


# --- secrets ------------------------------------------------------------------------------------------


def test_every_secret_value_is_a_pulumi_secret_and_nowhere_else_in_plain_text():
    mocks, outputs = _run_stack_file()
    for name in ("selfhosted-secret", "selfhosted-tls", "selfhosted-redis-secret"):
        assert is_secret(_declared(mocks, SECRET, name).inputs["stringData"]), name
    registry = unwrap(_declared(mocks, SECRET, "selfhosted-secret").inputs["stringData"])
    tls = unwrap(_declared(mocks, SECRET, "selfhosted-tls").inputs["stringData"])
    redis = unwrap(_declared(mocks, SECRET, "selfhosted-redis-secret").inputs["stringData"])
    users = outputs["users"]
    assert users.secret
    assert outputs["dockerConfigJson"].secret
    secret_values = [
        registry["http-secret"],
        registry["htpasswd"],
        tls["tls.key"],
        redis["password"],
        *users.value.values(),
    ]
    # No other object carries any of them outside a secret wrapper.
    for resource in mocks.resources:
        if resource.typ == SECRET or not resource.typ.startswith("kubernetes:"):
            continue
        plain_part = json.dumps(without_secrets(resource.inputs))
        for value in secret_values:
            assert value not in plain_part, (resource.name, "carries a secret in plain text")
    # The checksum that rolls the pods is plain (a digest of high-entropy values) so the pod template is not secret.
    template = _declared(mocks, DEPLOYMENT, "selfhosted-deployment").inputs["spec"]["template"]
    assert not contains_secret(template)


def test_a_config_change_rolls_the_pods_and_the_same_config_does_not():
    def checksum(self_hosted: dict[str, Any]) -> str:
        mocks, _ = _run(self_hosted)
        return _object(mocks, "Deployment", "registry")["spec"]["template"]["metadata"]["annotations"][
            "checksum/secret"
        ]

    base = {"platform": "kubernetes"}
    first = checksum(base)
    assert first == checksum(base)
    assert first != checksum({**base, "log": {"level": "debug"}})
    assert first != checksum({**base, "users": [{"name": "admin"}, {"name": "ci"}]})


# --- garbage collection -------------------------------------------------------------------------------


def test_gc_switches_to_the_read_only_variant_collects_and_switches_back():
    mocks, _ = _run_stack_file()
    secret = _object(mocks, "Secret", "registry-secret")["stringData"]
    config = yaml.safe_load(secret["config.yml"])
    read_only = yaml.safe_load(secret["config-readonly.yml"])
    assert config["storage"]["maintenance"]["readonly"] == {"enabled": False}
    assert read_only["storage"]["maintenance"]["readonly"] == {"enabled": True}
    changed = copy.deepcopy(read_only)
    changed["storage"]["maintenance"]["readonly"] = {"enabled": False}
    assert changed == config, "the variant differs only in read-only mode"

    cron = _object(mocks, "CronJob", "registry-gc")["spec"]
    assert cron["schedule"] == "0 3 * * 0"
    assert cron["timeZone"] == "Europe/Paris"
    assert cron["concurrencyPolicy"] == "Forbid"
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    # A hung step is stopped, and the script's EXIT trap still switches back.
    assert job["activeDeadlineSeconds"] == 6 * 3600
    pod = job["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["tools"]
    assert pod["initContainers"][0]["command"] == ["cp", "/bin/registry", "/tools/registry"]
    (container,) = pod["containers"]
    assert container["image"] == "alpine/k8s:1.33.4"
    assert container["command"][:2] == ["/bin/sh", "-c"]
    script = container["command"][2]
    lines = script.splitlines()
    first_step = next(i for i, line in enumerate(lines) if "config-readonly.yml" in line)
    assert lines.index("trap switch_back EXIT") < lines.index("set -e") < first_step
    order = [
        script.index(step)
        for step in (
            "config-readonly.yml",
            "rollout status deployment/registry ",
            "/tools/registry garbage-collect",
            "rollout restart deployment/registry-redis",
            "rollout status deployment/registry-redis",
        )
    ]
    assert order == sorted(order)

    # The patches address the registry's config volume: index, name and Secret as the Deployment declares them.
    registry_volume = _pod(mocks)["volumes"][CONFIG_VOLUME_INDEX]
    patches = {
        name: json.loads(re.search(rf"--patch '(\[[^']*{key}[^']*\])'", script).group(1))  # type: ignore[union-attr]
        for name, key in (("read-only", "config-readonly.yml"), ("read-write", '"config.yml"'))
    }
    for name, expected_key in (("read-only", "config-readonly.yml"), ("read-write", "config.yml")):
        tests, replace = patches[name][:-1], patches[name][-1]
        document = {"spec": {"template": {"spec": {"volumes": _pod(mocks)["volumes"]}}}}
        for test in tests:
            assert _pointer(document, test["path"]) == test["value"]
        assert replace["path"].endswith(f"/volumes/{CONFIG_VOLUME_INDEX}/secret/items/0/key")
        assert replace["value"] == expected_key
    assert registry_volume["secret"]["items"] == [{"key": "config.yml", "path": "config.yml"}]
    assert "/tools/registry garbage-collect /etc/distribution/config.yml\n" in script
    # kubectl writes its cache under $HOME: a writable emptyDir, as the root filesystem is read-only.
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]

    role = _object(mocks, "Role", "registry-gc")
    deployments = next(r for r in role["rules"] if r["resources"] == ["deployments"])
    assert deployments["resourceNames"] == ["registry", "registry-redis"]
    assert "delete" not in deployments["verbs"]
    assert "create" not in deployments["verbs"]


def _pointer(document: Any, path: str) -> Any:
    for part in path.strip("/").split("/"):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


# --- manifests against the Kubernetes schema ------------------------------------------------------------


ALL_FEATURES = {
    "platform": "kubernetes",
    "image": "registry:3.0.0",
    "storage": {**S3, "create": True},
    "notifications": [{"name": "ci", "url": "https://hooks.example.com/registry", "authorization": "Bearer x"}],
    "kubernetes": {
        "replicas": 2,
        "autoscaling": {"enabled": True},
        "redis": {"enabled": True},
        "garbageCollect": {"enabled": True, "deleteUntagged": True},
        "ingress": {"annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
    },
}
CONFIGS = {
    "stack-file": None,
    "single-pod-on-a-claim": {"platform": "kubernetes", "kubernetes": {"garbageCollect": {"enabled": True}}},
    "everything": ALL_FEATURES,
    "no-ingress-no-policies": {
        "platform": "kubernetes",
        "insecure": True,
        "tls": {"mode": "none"},
        "kubernetes": {"ingress": {"enabled": False}, "networkPolicy": {"enabled": False}, "createNamespace": False},
    },
}


def _manifests_of(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    mocks, _ = _run_stack_file() if config is None else _run(config)
    return manifests(mocks)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("case", list(CONFIGS))
def test_every_object_is_valid_for_the_kubernetes_versions_we_claim(case, version):
    objects = _manifests_of(CONFIGS[case])
    assert objects
    for manifest in objects:
        # strict: an unknown field (a typo pulumi-kubernetes would pass through) is an error too.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_schema_check_refuses_what_the_api_server_would():
    deployment = next(m for m in _manifests_of(None) if m["kind"] == "Deployment")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    for broken in (wrong_type, unknown_field):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def _kubectl(args: list[str], manifest_file: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # No cluster: an empty kubeconfig, and nothing that needs the API server (discovery) is run.
    empty = tmp_path / "kubeconfig"
    empty.write_text("")
    return subprocess.run(
        ["kubectl", *args, "-f", str(manifest_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": str(empty), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )


def test_kubectl_decodes_every_object_offline(tmp_path):
    objects = _manifests_of(ALL_FEATURES)
    all_file = tmp_path / "all.yaml"
    all_file.write_text(yaml.safe_dump_all(objects))
    # annotate --local decodes each object's metadata with the client's types, without a server.
    annotated = _kubectl(
        ["annotate", "--local", "checked=offline", "--dry-run=client", "-o", "name"], all_file, tmp_path
    )
    assert annotated.returncode == 0, annotated.stderr
    assert len(annotated.stdout.split()) == len(objects)
    # set resources --local decodes the workloads (Deployments, CronJob) completely into the typed API structs.
    workloads = [m for m in objects if m["kind"] in ("Deployment", "CronJob")]
    workload_file = tmp_path / "workloads.yaml"
    workload_file.write_text(yaml.safe_dump_all(workloads))
    typed = _kubectl(["set", "resources", "--local", "--requests=cpu=123m", "-o", "name"], workload_file, tmp_path)
    assert typed.returncode == 0, typed.stderr
    assert len(typed.stdout.split()) == len(workloads) == 3
    # ... and refuses a wrongly typed field, as the server would.
    workloads[0]["spec"]["replicas"] = "three"
    workload_file.write_text(yaml.safe_dump_all(workloads))
    refused = _kubectl(["set", "resources", "--local", "--requests=cpu=123m", "-o", "name"], workload_file, tmp_path)
    assert refused.returncode != 0
    assert "replicas" in refused.stderr


# --- one config.yml for both targets -----------------------------------------------------------------


SHARED = {
    "name": "registry",
    "image": "registry:2.8.3",
    "hostname": "registry.example.com",
    "storage": S3,
    "log": {"level": "warn", "formatter": "json"},
    "catalogMaxEntries": 500,
    "notifications": [{"name": "ci", "url": "https://hooks.example.com/registry", "timeout": "3s"}],
}
DOCUMENTED_DIFFERENCES = {
    ("http", "host"): "https://<hostname> (the Ingress on 443) instead of https://<hostname>:<port>",
    ("http", "tls"): "absent: TLS ends at the Ingress, the pods speak plain HTTP inside the cluster",
    ("http", "headers", "Strict-Transport-Security"): "absent: ingress-nginx sends HSTS for TLS hosts",
    ("redis",): "with kubernetes.redis: the shared cache",
    ("storage", "cache"): "blobdescriptor: redis with kubernetes.redis",
    (
        "http",
        "draintimeout",
    ): "always on Kubernetes (every rollout ends pods behind a Service); on Docker with replicas",
}


def _without(config: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    node = out
    for key in path[:-1]:
        node = node.get(key, {})
    node.pop(path[-1], None)
    return out


def _docker_config_yml(self_hosted: dict[str, Any]) -> dict[str, Any]:
    mocks, _ = _run(self_hosted)
    container = _declared(mocks, "docker:index/container:Container", "selfhosted-registry").plain
    return yaml.safe_load(next(u["content"] for u in container["uploads"] if u["file"].endswith("config.yml")))


def _kubernetes_config_yml(self_hosted: dict[str, Any]) -> dict[str, Any]:
    mocks, _ = _run(self_hosted)
    return yaml.safe_load(_object(mocks, "Secret", "registry-secret")["stringData"]["config.yml"])


@pytest.mark.parametrize("redis", [False, True])
def test_docker_and_kubernetes_render_the_same_config_apart_from_the_documented_differences(redis):
    docker = _docker_config_yml(SHARED)
    kubernetes = _kubernetes_config_yml(
        {**SHARED, "platform": "kubernetes", "kubernetes": {"replicas": 2, "redis": {"enabled": redis}}}
    )
    assert docker["http"]["host"] == "https://registry.example.com:5000"
    assert kubernetes["http"]["host"] == "https://registry.example.com"
    assert "tls" in docker["http"]
    assert "tls" not in kubernetes["http"]
    assert ("redis" in kubernetes) == redis
    # Both listen on :5000. Debug: the pod's interfaces (the kubelet's probes reach it there), the Docker
    # container's loopback (its health check runs inside; no other container on its network reads /debug/vars).
    assert docker["http"]["addr"] == kubernetes["http"]["addr"] == ":5000"
    assert kubernetes["http"]["debug"]["addr"] == ":5001"
    assert docker["http"]["debug"] == {**kubernetes["http"]["debug"], "addr": "127.0.0.1:5001"}
    docker["http"]["debug"] = kubernetes["http"]["debug"]
    for path in DOCUMENTED_DIFFERENCES:
        docker, kubernetes = _without(docker, path), _without(kubernetes, path)
    assert docker == kubernetes


@pytest.mark.parametrize("case", ["single-pod-on-a-claim", "everything"])
def test_a_registry_pod_drains_within_its_grace_period_and_a_rolling_one_serves_on_while_it_leaves_rotation(case):
    mocks, _ = _run(CONFIGS[case])
    deployment = _object(mocks, "Deployment", "registry")["spec"]
    pod = deployment["template"]["spec"]
    [container] = pod["containers"]
    config = yaml.safe_load(_object(mocks, "Secret", "registry-secret")["stringData"]["config.yml"])
    drain = int(config["http"]["draintimeout"].removesuffix("s"))
    if deployment["strategy"]["type"] == "RollingUpdate":
        sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert sleep >= 5  # the endpoint and Ingress controllers' reaction, about 1 s on the node of tests/e2e
    else:  # Recreate: out of rotation at once; a sleep would only lengthen the gap
        assert "lifecycle" not in container
        sleep = 0
    assert drain >= 120  # a layer upload in flight, as on Docker
    assert sleep + drain < pod["terminationGracePeriodSeconds"]


def test_docker_and_kubernetes_name_the_same_config_file_in_the_command_on_2_8():
    mocks, _ = _run(SHARED)
    docker = _declared(mocks, "docker:index/container:Container", "selfhosted-registry").plain
    mocks, _ = _run({**SHARED, "platform": "kubernetes", "kubernetes": {"replicas": 2}})
    (container,) = _pod(mocks)["containers"]
    assert container["args"] == docker["command"] == ["registry", "serve", "/etc/docker/registry/config.yml"]
    config_mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert config_mount["mountPath"] == "/etc/docker/registry"


def test_a_second_run_with_the_same_config_declares_identical_objects():
    first, _ = _run_stack_file()
    second, _ = _run_stack_file()
    # Declaration order follows the async runtime; what is declared must not change.
    assert {(r.typ, r.name): r.inputs for r in first.resources} == {(r.typ, r.name): r.inputs for r in second.resources}
    assert len(first.resources) == len(second.resources)


def test_an_existing_tls_secret_replaces_the_generated_certificate():
    mocks, outputs = _run({"platform": "kubernetes", "kubernetes": {"ingress": {"tlsSecretName": "registry-cert"}}})
    ingress = _object(mocks, "Ingress", "registry")
    assert ingress["spec"]["tls"] == [{"hosts": ["localhost"], "secretName": "registry-cert"}]
    assert not [r for r in mocks.resources if r.typ.startswith("tls:")]
    assert not [m for m in manifests(mocks) if m["kind"] == "Secret" and m["metadata"]["name"] == "registry-tls"]
    assert outputs["caCertPem"].value == ""


def test_a_provided_certificate_goes_into_the_tls_secret_as_a_secret():
    from tests.unit.conftest import TEST_CERT, TEST_KEY

    mocks, _ = _run(
        {
            "platform": "kubernetes",
            "tls": {"mode": "provided", "certificate": TEST_CERT, "privateKey": TEST_KEY},
        }
    )
    declared = _declared(mocks, SECRET, "selfhosted-tls")
    assert is_secret(declared.inputs["stringData"])
    assert declared.plain["type"] == "kubernetes.io/tls"
    assert declared.plain["stringData"]["tls.crt"] == TEST_CERT
    assert declared.plain["stringData"]["tls.key"] == TEST_KEY
    assert not [r for r in mocks.resources if r.typ.startswith("tls:")]
