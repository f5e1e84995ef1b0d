"""How the Kubernetes registry is reached: the Ingress (TLS ends there; ingress-nginx annotations for large,
streamed layers) and the NetworkPolicies (port 5000 from the ingress controller only, Redis from the registry).

No `from __future__ import annotations` here, as in the rest of the component.
"""

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.args import KubernetesRegistryArgs, KubernetesRegistryIngressArgs
from components.kubernetes.objects import Placement, labels
from components.kubernetes.settings import REGISTRY_PORT
from components.selfhosted.load_balancer import REDIS_PORT

NGINX = "nginx.ingress.kubernetes.io"


def declare_ingress(
    placement: Placement,
    ingress: KubernetesRegistryIngressArgs,
    hostname: pulumi.Output[str],
    tls_secret_name: pulumi.Input[str] | None,
    service: k8s.core.v1.Service,
) -> k8s.networking.v1.Ingress:
    timeout = str(ingress.get("timeout_seconds", 900))
    annotations: dict[str, pulumi.Input[str]] = {
        # Layers are one request each: no body limit (413 otherwise), streamed, long timeouts.
        f"{NGINX}/proxy-body-size": "0",
        f"{NGINX}/proxy-request-buffering": "off",
        f"{NGINX}/proxy-buffering": "off",
        f"{NGINX}/proxy-read-timeout": timeout,
        f"{NGINX}/proxy-send-timeout": timeout,
        **(ingress.get("annotations") or {}),
    }
    spec: Any = {
        "ingress_class_name": ingress.get("class_name", "nginx"),
        "rules": [
            {
                "host": hostname,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "path_type": "Prefix",
                            "backend": {"service": {"name": placement.app, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }
    if tls_secret_name is not None:
        spec["tls"] = [{"hosts": [hostname], "secret_name": tls_secret_name}]
    return k8s.networking.v1.Ingress(
        f"{placement.name}-ingress",
        metadata=placement.metadata(placement.app, "registry", annotations=annotations),
        spec=spec,
        opts=pulumi.ResourceOptions.merge(placement.child, pulumi.ResourceOptions(depends_on=[service])),
    )


def declare_network_policies(placement: Placement, args: KubernetesRegistryArgs, ingress_enabled: bool) -> None:
    policy = args.get("network_policy") or {}
    controller = {
        "namespace_selector": {
            "match_labels": {"kubernetes.io/metadata.name": policy.get("ingress_namespace", "ingress-nginx")}
        },
        "pod_selector": {"match_labels": policy.get("ingress_pod_labels", {"app.kubernetes.io/name": "ingress-nginx"})},
    }
    same_namespace = {"pod_selector": {}}
    k8s.networking.v1.NetworkPolicy(
        f"{placement.name}-network-policy",
        metadata=placement.metadata(placement.app, "registry"),
        spec=cast(
            Any,
            {
                "pod_selector": {"match_labels": labels(placement.app, "registry")},
                "policy_types": ["Ingress"],
                "ingress": [
                    # The API from the ingress controller (without an Ingress: from this namespace only).
                    {
                        "from": [controller if ingress_enabled else same_namespace],
                        "ports": [{"port": REGISTRY_PORT, "protocol": "TCP"}],
                    },
                    # No rule for the debug port: /debug/vars shows the config (Redis password); the kubelet's
                    # probes come from the node, which NetworkPolicies do not filter.
                ],
            },
        ),
        opts=placement.child,
    )
    if placement.redis_enabled():
        k8s.networking.v1.NetworkPolicy(
            f"{placement.name}-redis-network-policy",
            metadata=placement.metadata(f"{placement.app}-redis", "redis"),
            spec=cast(
                Any,
                {
                    "pod_selector": {"match_labels": labels(placement.app, "redis")},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"pod_selector": {"match_labels": labels(placement.app, "registry")}}],
                            "ports": [{"port": REDIS_PORT, "protocol": "TCP"}],
                        }
                    ],
                },
            ),
            opts=placement.child,
        )
