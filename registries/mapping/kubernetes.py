"""registries:selfHosted with platform: kubernetes -> KubernetesRegistryArgs.

The settings both targets share are mapped once, by `selfhosted_args`; this adds where the registry runs."""

from __future__ import annotations

from typing import Any, cast

from components.kubernetes_registry import KubernetesRegistryArgs, KubernetesRegistryResourceListArgs
from registries.config.kubernetes import KubernetesResourceListSpec, KubernetesSpec
from registries.config.selfhosted import SelfHostedSpec
from registries.mapping import present
from registries.mapping.selfhosted import selfhosted_args

SHARED_KEYS = (
    "hostname",
    "image",
    "major_version",
    "tls",
    "users",
    "password_length",
    "storage",
    "catalog_max_entries",
    "log",
    "notifications",
    "protect",
)
"""SelfHostedRegistryArgs keys that mean the same on Kubernetes."""


def _resource_list(spec: KubernetesResourceListSpec) -> KubernetesRegistryResourceListArgs:
    return cast(KubernetesRegistryResourceListArgs, present(cpu=spec.cpu, memory=spec.memory))


def kubernetes_args(spec: SelfHostedSpec, production: bool) -> KubernetesRegistryArgs:
    """Map the validated `registries:selfHosted` config (platform: kubernetes) to the component's args."""
    shared = cast(dict[str, Any], selfhosted_args(spec, production))
    kube = spec.kubernetes or KubernetesSpec()
    args = cast(KubernetesRegistryArgs, {key: shared[key] for key in SHARED_KEYS if key in shared})
    args.update(
        {
            "name": spec.name,
            "namespace": kube.namespace,
            "create_namespace": kube.create_namespace,
            "replicas": kube.replicas,
            "run_as_user": kube.run_as_user,
            "resources": {
                "requests": _resource_list(kube.resources.requests),
                "limits": _resource_list(kube.resources.limits),
            },
            "ingress": {
                "enabled": kube.ingress.enabled,
                "class_name": kube.ingress.class_name,
                "timeout_seconds": kube.ingress.timeout_seconds,
                "annotations": dict(kube.ingress.annotations),
            },
            "network_policy": {
                "enabled": kube.network_policy.enabled,
                "ingress_namespace": kube.network_policy.ingress_namespace,
                "ingress_pod_labels": dict(kube.network_policy.ingress_pod_labels),
            },
            "autoscaling": {
                "enabled": kube.autoscaling.enabled,
                "min_replicas": kube.autoscaling.min_replicas,
                "max_replicas": kube.autoscaling.max_replicas,
                "target_cpu_utilization": kube.autoscaling.target_cpu_utilization,
            },
            "pod_disruption_budget": kube.pod_disruption_budget,
            "storage_size": kube.storage_size,
            "redis": {
                "enabled": kube.redis.enabled,
                "image": kube.redis.image,
                "max_memory": kube.redis.max_memory,
            },
            "garbage_collect": {
                "enabled": kube.garbage_collect.enabled,
                "schedule": kube.garbage_collect.schedule,
                "delete_untagged": kube.garbage_collect.delete_untagged,
                "kubectl_image": kube.garbage_collect.kubectl_image,
            },
        }
    )
    ingress = args.get("ingress") or {}
    if kube.ingress.tls_secret_name is not None:
        ingress["tls_secret_name"] = kube.ingress.tls_secret_name
    gc = args.get("garbage_collect") or {}
    if kube.garbage_collect.time_zone is not None:
        gc["time_zone"] = kube.garbage_collect.time_zone
    if kube.s3_role_arn is not None:
        args["s3_role_arn"] = kube.s3_role_arn
    if kube.storage_class_name is not None:
        args["storage_class_name"] = kube.storage_class_name
    return args
