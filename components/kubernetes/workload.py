"""The Kubernetes registry's pods: the Deployment (non-root, read-only root filesystem, probes on the debug server,
config and htpasswd from the Secret) and the PersistentVolumeClaim holding the images when they are not in S3.

No `from __future__ import annotations` here, as in the rest of the component.
"""

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.args import KubernetesRegistryArgs
from components.kubernetes.objects import Placement, container_security, labels, security_context
from components.kubernetes.settings import (
    CONFIG_KEY,
    DEBUG_PORT,
    PRE_STOP_SECONDS,
    REGISTRY_PORT,
    TERMINATION_GRACE_SECONDS,
    autoscaling,
    fewest_replicas,
)
from components.selfhosted import settings as s
from components.selfhosted.config_file import DATA_DIR, HTPASSWD_PATH, serve_command
from components.selfhosted.s3_storage import S3Storage


def declare_claim(placement: Placement, args: KubernetesRegistryArgs) -> k8s.core.v1.PersistentVolumeClaim:
    spec: Any = {
        "access_modes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": args.get("storage_size", "20Gi")}},
    }
    if args.get("storage_class_name") is not None:
        spec["storage_class_name"] = args.get("storage_class_name")
    # The images outlive the Deployment, a destroy and a rename: retained, and protected when asked.
    return k8s.core.v1.PersistentVolumeClaim(
        f"{placement.name}-data",
        metadata=placement.metadata(f"{placement.app}-data", "registry"),
        spec=spec,
        opts=pulumi.ResourceOptions.merge(
            placement.child, pulumi.ResourceOptions(retain_on_delete=True, protect=args.get("protect", False))
        ),
    )


def declare_deployment(
    placement: Placement,
    args: KubernetesRegistryArgs,
    checksum: pulumi.Output[str],
    secret: k8s.core.v1.Secret,
    service_account: k8s.core.v1.ServiceAccount,
    claim: k8s.core.v1.PersistentVolumeClaim | None,
    s3: S3Storage | None,
) -> k8s.apps.v1.Deployment:
    uid = args.get("run_as_user", 1000)
    selector = labels(placement.app, "registry")
    volumes: list[dict[str, Any]] = [
        placement.config_volume(CONFIG_KEY),
        {
            "name": "auth",
            "secret": {
                "secret_name": f"{placement.app}-secret",
                "items": [{"key": "htpasswd", "path": "htpasswd"}],
                "default_mode": 0o440,
            },
        },
        {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        placement.config_mount(),
        {"name": "auth", "mount_path": HTPASSWD_PATH.rsplit("/", 1)[0], "read_only": True},
        {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 - the pod's own emptyDir
    ]
    if claim is not None:
        volumes.append({"name": "data", "persistent_volume_claim": {"claim_name": f"{placement.app}-data"}})
        mounts.append({"name": "data", "mount_path": DATA_DIR})
    resources = args.get("resources") or {}
    requests = resources.get("requests", {"cpu": "100m", "memory": "128Mi"})
    limits = resources.get("limits", {"memory": "512Mi"})
    container = {
        "name": "registry",
        "image": args.get("image", s.DEFAULT_IMAGE),
        # The mounted config.yml, named, as the Docker target does: never the image's default CMD, which may name
        # another path (a 3.0.0 image named 2.x's) and serve its built-in config (plain HTTP, no auth). `args`
        # (the CMD), so the image's entrypoint still runs it as on Docker.
        "args": serve_command(s.major_version(placement.docker_args)),
        "ports": [
            {"name": "http", "container_port": REGISTRY_PORT, "protocol": "TCP"},
            {"name": "debug", "container_port": DEBUG_PORT, "protocol": "TCP"},
        ],
        "env": placement.registry_env(s3, with_http_secret=True),
        "volume_mounts": mounts,
        "resources": {"requests": dict(requests), "limits": dict(limits)},
        # Ready when the storage driver answers; alive while the debug server does, so an S3 outage
        # takes pods out of the Service without restarting them all.
        "readiness_probe": {
            "http_get": {"path": "/debug/health", "port": "debug"},
            "period_seconds": 5,
            "failure_threshold": 3,
        },
        "liveness_probe": {
            "http_get": {"path": "/debug/vars", "port": "debug"},
            "initial_delay_seconds": 10,
            "period_seconds": 10,
            "failure_threshold": 6,
        },
        "security_context": container_security(),
    }
    # A claim is ReadWriteOnce: the old pod must let go before the new one mounts it.
    strategy = (
        {"type": "Recreate"}
        if claim is not None
        else {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}}
    )
    if strategy["type"] == "RollingUpdate":
        # Serve on while the endpoints and the Ingress drop the pod, then drain (http.draintimeout) on SIGTERM. The
        # sleep action needs no shell in the image (Kubernetes >= 1.30).
        container["lifecycle"] = {"pre_stop": {"sleep": {"seconds": PRE_STOP_SECONDS}}}
    scaling = autoscaling(args)
    return k8s.apps.v1.Deployment(
        f"{placement.name}-deployment",
        metadata=placement.metadata(placement.app, "registry"),
        spec=cast(
            Any,
            {
                "replicas": fewest_replicas(args),
                "selector": {"match_labels": selector},
                "strategy": strategy,
                "template": {
                    "metadata": {
                        "labels": selector,
                        "annotations": {"checksum/secret": checksum},
                    },
                    "spec": {
                        "service_account_name": placement.app,
                        "automount_service_account_token": False,
                        "security_context": security_context(uid),
                        "affinity": {
                            # Preferred, so a one-node cluster still runs every replica.
                            "pod_anti_affinity": {
                                "preferred_during_scheduling_ignored_during_execution": [
                                    {
                                        "weight": 100,
                                        "pod_affinity_term": {
                                            "topology_key": "kubernetes.io/hostname",
                                            "label_selector": {"match_labels": selector},
                                        },
                                    }
                                ]
                            }
                        },
                        "termination_grace_period_seconds": TERMINATION_GRACE_SECONDS,
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
        ),
        opts=pulumi.ResourceOptions.merge(
            placement.child,
            pulumi.ResourceOptions(
                depends_on=[secret, service_account],
                # The HPA owns the replica count once it runs; `up` must not reset it.
                ignore_changes=["spec.replicas"] if scaling.get("enabled", False) else None,
            ),
        ),
    )
