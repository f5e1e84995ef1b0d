"""Scheduled garbage collection of the Kubernetes registry: a CronJob whose POSIX sh script switches the registry
to its read-only config (a JSON patch of the Deployment), runs `registry garbage-collect`, flushes Redis and
switches back, with the Role that lets it do so and nothing more.

No `from __future__ import annotations` here, as in the rest of the component.
"""

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.args import KubernetesRegistryGarbageCollectArgs
from components.kubernetes.objects import Placement, container_security, labels, security_context
from components.kubernetes.settings import CONFIG_KEY, CONFIG_VOLUME_INDEX, READ_ONLY_CONFIG_KEY
from components.selfhosted import settings as s
from components.selfhosted.config_file import DATA_DIR, config_path
from components.selfhosted.s3_storage import S3Storage

DEFAULT_KUBECTL_IMAGE = "alpine/k8s:1.33.4"
"""kubectl and a shell (the GC script traps its switch back): registry.k8s.io/kubectl has no shell, and Bitnami
stopped publishing versioned bitnami/kubectl tags in 2025; alpine/k8s is tagged per Kubernetes release."""
GC_DEADLINE_SECONDS = 6 * 3600
"""activeDeadlineSeconds of a GC Job: a hung step is stopped (SIGTERM) and the script still switches back."""
GC_TOOLS_DIR = "/tools"
"""emptyDir where an init container copies the registry binary, so one kubectl+shell container runs every step."""

NODE_PLACEHOLDER = "@NODE_NAME@"
"""Where gc_patch's pin puts the GC pod's node; the script substitutes its $NODE_NAME (downward API)."""


def gc_patch(name: str, key: str, pin: str | None = None) -> str:
    """JSON patch pointing the registry's config volume at `key` (config.yml or its read-only variant).

    pin "add" keeps the registry pods on the GC pod's node (a ReadWriteOnce claim mounts on one node only, and
    Recreate may otherwise reschedule the pod elsewhere: Multi-Attach); pin "remove" lifts that again."""
    path = f"/spec/template/spec/volumes/{CONFIG_VOLUME_INDEX}"
    operations: list[dict[str, Any]] = [
        # Refuse to patch anything but our config volume, should the pod spec ever be reordered.
        {"op": "test", "path": f"{path}/name", "value": "config"},
        {"op": "test", "path": f"{path}/secret/secretName", "value": f"{name}-secret"},
        {"op": "replace", "path": f"{path}/secret/items/0/key", "value": key},
    ]
    if pin == "add":
        node = {"kubernetes.io/hostname": NODE_PLACEHOLDER}
        operations.append({"op": "add", "path": "/spec/template/spec/nodeSelector", "value": node})
    elif pin == "remove":
        operations.append({"op": "remove", "path": "/spec/template/spec/nodeSelector"})
    return json.dumps(operations, separators=(",", ":"))


def gc_script(app: str, namespace: str, collect: list[str], redis: bool, pin_node: bool) -> str:
    """The GC container's POSIX sh script: read-only, wait, collect, flush Redis, and read-write on EXIT.

    The read-write switch is an EXIT trap set before the first step, so any failed step (or SIGTERM from
    activeDeadlineSeconds) still switches back; long steps run in the background so a signal interrupts
    `wait`, and a running garbage-collect is stopped before the registry accepts pushes again."""

    def quoted(patch: str) -> str:  # the patches hold no single quote; the node name is spliced in unquoted
        return "'" + patch.replace(NODE_PLACEHOLDER, "'\"$NODE_NAME\"'") + "'"

    kubectl = f"kubectl --namespace {namespace}"
    read_write = f"{kubectl} patch deployment {app} --type=json --patch {quoted(gc_patch(app, CONFIG_KEY))}"
    if pin_node:  # without the pin (the read-only patch never applied) "remove" fails: switch the config alone
        unpin = gc_patch(app, CONFIG_KEY, pin="remove")
        read_write = f"{kubectl} patch deployment {app} --type=json --patch {quoted(unpin)} || {read_write}"
    read_only = gc_patch(app, READ_ONLY_CONFIG_KEY, pin="add" if pin_node else None)
    steps = [
        f"{kubectl} patch deployment {app} --type=json --patch {quoted(read_only)}",
        f"run {kubectl} rollout status deployment/{app} --timeout=30m",
        "run " + " ".join(collect),
    ]
    if redis:
        steps += [
            f"run {kubectl} rollout restart deployment/{app}-redis",
            f"run {kubectl} rollout status deployment/{app}-redis --timeout=10m",
        ]
    lines = [
        "child=",
        'run() { "$@" & child=$!; wait "$child"; }',
        "switch_back() {",
        "  status=$?",
        "  set +e",  # errexit would end the trap at the first failing command, before the switch back
        "  trap - EXIT TERM INT",
        '  if [ -n "$child" ]; then kill "$child" 2>/dev/null; wait "$child"; fi',
        f"  {read_write} || status=1",
        '  exit "$status"',
        "}",
        "trap switch_back EXIT",
        "trap 'exit 143' TERM INT",
        "set -e",
        *steps,
    ]
    return "\n".join(lines) + "\n"


def declare_garbage_collect(
    placement: Placement,
    gc: KubernetesRegistryGarbageCollectArgs,
    secret: k8s.core.v1.Secret,
    claim: k8s.core.v1.PersistentVolumeClaim | None,
    s3: S3Storage | None,
    deployment: k8s.apps.v1.Deployment,
) -> None:
    """A CronJob that switches the registry to its read-only config, runs garbage-collect, and switches back.

    garbage-collect is stop-the-world: a blob pushed while it marks is not yet referenced by a manifest and
    would be swept, leaving a broken image. Read-only (not scaled to zero) keeps pulls served during GC;
    switching back rolls the pods, which also empties their in-memory blob-descriptor caches, and Redis
    (no persistence) is restarted first, so no stale descriptor of a swept blob survives."""
    gc_name = f"{placement.app}-gc"
    kubectl = gc.get("kubectl_image", DEFAULT_KUBECTL_IMAGE)
    if placement.args.get("s3_role_arn") is not None:
        # IRSA: the EKS pod identity webhook gives AWS credentials only to a pod whose own ServiceAccount carries
        # the role annotation, and the role's trust policy names that account: the GC pod (garbage-collect
        # reads and deletes in S3) runs as the registry's account, with the token kubectl needs (the registry
        # pods mount none, so only the GC pod can use the Role bound below).
        account = placement.app
    else:
        account = gc_name
        k8s.core.v1.ServiceAccount(
            f"{placement.name}-gc-service-account", metadata=placement.metadata(gc_name, "gc"), opts=placement.child
        )
    deployments = [placement.app] + ([f"{placement.app}-redis"] if placement.redis_enabled() else [])
    role = k8s.rbac.v1.Role(
        f"{placement.name}-gc-role",
        metadata=placement.metadata(gc_name, "gc"),
        rules=[
            # On these Deployments only, what the script's kubectl calls send (tests/unit/test_kubernetes_gc_rbac
            # has the table and kubectl's sources): get (every call resolves its object), patch (the config
            # switch, rollout restart), list and watch (rollout status lists and watches with the field selector
            # metadata.name=<name>, to which resourceNames applies; without list it waits out its timeout).
            {
                "api_groups": ["apps"],
                "resources": ["deployments"],
                "resource_names": deployments,
                "verbs": ["get", "list", "patch", "watch"],
            },
        ],
        opts=placement.child,
    )
    k8s.rbac.v1.RoleBinding(
        f"{placement.name}-gc-role-binding",
        metadata=placement.metadata(gc_name, "gc"),
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": gc_name},
        subjects=[{"kind": "ServiceAccount", "name": account, "namespace": placement.namespace}],
        opts=pulumi.ResourceOptions.merge(placement.child, pulumi.ResourceOptions(depends_on=[role])),
    )
    config_file = config_path(s.major_version(placement.docker_args))
    collect = [f"{GC_TOOLS_DIR}/registry", "garbage-collect"]
    if gc.get("delete_untagged", False):
        collect.append("--delete-untagged")
    collect.append(config_file)
    mounts: list[dict[str, Any]] = [
        placement.config_mount(),
        {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 - the pod's own emptyDir
        {"name": "tools", "mount_path": GC_TOOLS_DIR, "read_only": True},
    ]
    volumes: list[dict[str, Any]] = [
        placement.config_volume(CONFIG_KEY),
        {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
        {"name": "tools", "empty_dir": {"size_limit": "256Mi"}},
    ]
    affinity: dict[str, Any] | None = None
    if claim is not None:
        volumes.append({"name": "data", "persistent_volume_claim": {"claim_name": f"{placement.app}-data"}})
        mounts.append({"name": "data", "mount_path": DATA_DIR})
        # A ReadWriteOnce claim is mounted on one node: run beside the registry pod.
        affinity = {
            "pod_affinity": {
                "required_during_scheduling_ignored_during_execution": [
                    {
                        "topology_key": "kubernetes.io/hostname",
                        "label_selector": {"match_labels": labels(placement.app, "registry")},
                    }
                ]
            }
        }
    security = container_security()
    script = gc_script(
        placement.app, placement.namespace, collect, placement.redis_enabled(), pin_node=claim is not None
    )
    env = placement.registry_env(s3, with_http_secret=False)
    # kubectl keeps its discovery cache under $HOME/.kube: on the emptyDir, the root is read-only.
    env.append({"name": "HOME", "value": "/tmp"})  # noqa: S108 - the pod's own emptyDir
    env.append({"name": "NODE_NAME", "value_from": {"field_ref": {"field_path": "spec.nodeName"}}})
    init = [
        {
            # The registry binary (static) into the emptyDir, for the one container that runs every step.
            "name": "tools",
            "image": placement.args.get("image", s.DEFAULT_IMAGE),
            "command": ["cp", "/bin/registry", f"{GC_TOOLS_DIR}/registry"],
            "volume_mounts": [{"name": "tools", "mount_path": GC_TOOLS_DIR}],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            "security_context": security,
        }
    ]
    containers = [
        {
            "name": "garbage-collect",
            "image": kubectl,
            "command": ["/bin/sh", "-c", script],
            "env": env,
            "volume_mounts": mounts,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
            "security_context": security,
        }
    ]
    pod_spec: dict[str, Any] = {
        "service_account_name": account,
        "automount_service_account_token": True,  # kubectl's credentials (the registry's account mounts none)
        "restart_policy": "Never",
        "security_context": security_context(placement.args.get("run_as_user", 1000)),
        "init_containers": init,
        "containers": containers,
        "volumes": volumes,
    }
    if affinity is not None:
        pod_spec["affinity"] = affinity
    spec: Any = {
        "schedule": gc.get("schedule", "0 3 * * 0"),
        # One at a time, and never retried blindly: a retry would switch to read-only again mid-way.
        "concurrency_policy": "Forbid",
        "starting_deadline_seconds": 3600,
        "successful_jobs_history_limit": 3,
        "failed_jobs_history_limit": 3,
        "job_template": {
            "metadata": {"labels": labels(placement.app, "gc")},
            "spec": {
                "backoff_limit": 0,
                "active_deadline_seconds": GC_DEADLINE_SECONDS,
                "template": {"metadata": {"labels": labels(placement.app, "gc")}, "spec": pod_spec},
            },
        },
    }
    if gc.get("time_zone") is not None:
        spec["time_zone"] = gc.get("time_zone")
    k8s.batch.v1.CronJob(
        f"{placement.name}-gc",
        metadata=placement.metadata(gc_name, "gc"),
        spec=spec,
        opts=pulumi.ResourceOptions.merge(placement.child, pulumi.ResourceOptions(depends_on=[secret, deployment])),
    )
