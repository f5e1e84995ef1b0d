"""The Kubernetes registry's optional Redis blob-descriptor cache: a one-pod Deployment without persistence, its
Secret (a generated password and redis.conf) and Service.

No `from __future__ import annotations` here, as in the rest of the component.
"""

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kubernetes.args import KubernetesRegistryArgs
from components.kubernetes.objects import Placement, container_security, labels, secret_checksum, security_context
from components.selfhosted.load_balancer import REDIS_PORT, redis_conf

REDIS_UID = 999
"""The redis image's own redis user."""
DEFAULT_REDIS_IMAGE = "redis:7.2.7-alpine"


def declare_redis(placement: Placement, args: KubernetesRegistryArgs) -> pulumi.Output[str] | None:
    """Redis (Deployment, Secret with a generated password, Service); returns the password (secret)."""
    redis = args.get("redis") or {}
    if not redis.get("enabled", False):
        return None
    password = random.RandomPassword(
        f"{placement.name}-redis-password",
        length=48,
        special=False,
        opts=pulumi.ResourceOptions(parent=placement.parent),
    )
    secret_password = pulumi.Output.secret(password.result)
    max_memory = redis.get("max_memory", "256mb")
    redis_name = f"{placement.app}-redis"
    secret = k8s.core.v1.Secret(
        f"{placement.name}-redis-secret",
        metadata=placement.metadata(redis_name, "redis"),
        type="Opaque",
        string_data=pulumi.Output.secret(
            secret_password.apply(lambda pw: {"password": pw, "redis.conf": redis_conf(pw, max_memory)})
        ),
        opts=placement.child,
    )
    checksum = pulumi.Output.unsecret(secret_password.apply(lambda pw: secret_checksum([redis_conf(pw, max_memory)])))
    selector = labels(placement.app, "redis")
    k8s.apps.v1.Deployment(
        f"{placement.name}-redis",
        metadata=placement.metadata(redis_name, "redis"),
        spec=cast(
            Any,
            {
                "replicas": 1,
                # A cache without persistence: one pod, replaced (never two at once).
                "strategy": {"type": "Recreate"},
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {"labels": selector, "annotations": {"checksum/secret": checksum}},
                    "spec": {
                        "automount_service_account_token": False,
                        "security_context": security_context(REDIS_UID),
                        "containers": [
                            {
                                "name": "redis",
                                "image": redis.get("image", DEFAULT_REDIS_IMAGE),
                                # The password stays in the mounted file, not on the command line.
                                "command": ["redis-server", "/etc/redis/redis.conf"],
                                "ports": [{"name": "redis", "container_port": REDIS_PORT, "protocol": "TCP"}],
                                "readiness_probe": {"tcp_socket": {"port": "redis"}, "period_seconds": 5},
                                "liveness_probe": {
                                    "tcp_socket": {"port": "redis"},
                                    "initial_delay_seconds": 10,
                                    "period_seconds": 10,
                                },
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"memory": "512Mi"},
                                },
                                "volume_mounts": [
                                    {"name": "conf", "mount_path": "/etc/redis", "read_only": True},
                                    {"name": "data", "mount_path": "/data"},
                                ],
                                "security_context": container_security(),
                            }
                        ],
                        "volumes": [
                            {
                                "name": "conf",
                                "secret": {
                                    "secret_name": redis_name,
                                    "items": [{"key": "redis.conf", "path": "redis.conf"}],
                                    "default_mode": 0o440,
                                },
                            },
                            {"name": "data", "empty_dir": {}},
                        ],
                    },
                },
            },
        ),
        opts=pulumi.ResourceOptions.merge(placement.child, pulumi.ResourceOptions(depends_on=[secret])),
    )
    k8s.core.v1.Service(
        f"{placement.name}-redis-service",
        metadata=placement.metadata(redis_name, "redis"),
        spec=cast(
            Any,
            {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "redis", "port": REDIS_PORT, "target_port": "redis", "protocol": "TCP"}],
            },
        ),
        opts=placement.child,
    )
    return secret_password
