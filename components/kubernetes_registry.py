"""KubernetesRegistry and its public names, as before the split (kept importable for library users).

The component now lives in the package components/kubernetes/, split as components/selfhosted/ is:
- args.py: KubernetesRegistryArgs and its nested TypedDicts (the analyzer's inputs);
- settings.py: defaults and ports (REGISTRY_PORT, CONFIG_KEY, CONFIG_VOLUME_INDEX, DEFAULT_NAME ...), most_replicas,
  fewest_replicas, docker_shaped_args, validate_kubernetes_args (no provider SDK);
- objects.py: labels, secret_checksum, security contexts and the Placement (metadata, config volume, env);
- workload.py: the Deployment and the claim; network.py: the Ingress (NGINX) and NetworkPolicies;
- redis.py: the Redis cache (REDIS_UID, DEFAULT_REDIS_IMAGE); gc.py: the GC CronJob, gc_patch, gc_script;
- registry.py: the KubernetesRegistry component (TYPE_TOKEN).
New code imports from those modules; this one re-exports every public name it had.
"""

from components.kubernetes.args import (
    KubernetesRegistryArgs,
    KubernetesRegistryAutoscalingArgs,
    KubernetesRegistryGarbageCollectArgs,
    KubernetesRegistryIngressArgs,
    KubernetesRegistryNetworkPolicyArgs,
    KubernetesRegistryRedisArgs,
    KubernetesRegistryResourceListArgs,
    KubernetesRegistryResourcesArgs,
)
from components.kubernetes.gc import (
    DEFAULT_KUBECTL_IMAGE,
    GC_DEADLINE_SECONDS,
    GC_TOOLS_DIR,
    NODE_PLACEHOLDER,
    gc_patch,
    gc_script,
)
from components.kubernetes.network import NGINX
from components.kubernetes.objects import labels, secret_checksum
from components.kubernetes.redis import DEFAULT_REDIS_IMAGE, REDIS_UID
from components.kubernetes.registry import TYPE_TOKEN, KubernetesRegistry
from components.kubernetes.settings import (
    CONFIG_KEY,
    CONFIG_VOLUME_INDEX,
    DEBUG_PORT,
    DEFAULT_NAME,
    DEFAULT_NAMESPACE,
    DNS_LABEL,
    READ_ONLY_CONFIG_KEY,
    REGISTRY_PORT,
    docker_shaped_args,
    fewest_replicas,
    most_replicas,
    validate_kubernetes_args,
)

__all__ = [
    "CONFIG_KEY",
    "CONFIG_VOLUME_INDEX",
    "DEBUG_PORT",
    "DEFAULT_KUBECTL_IMAGE",
    "DEFAULT_NAME",
    "DEFAULT_NAMESPACE",
    "DEFAULT_REDIS_IMAGE",
    "DNS_LABEL",
    "GC_DEADLINE_SECONDS",
    "GC_TOOLS_DIR",
    "NGINX",
    "NODE_PLACEHOLDER",
    "READ_ONLY_CONFIG_KEY",
    "REDIS_UID",
    "REGISTRY_PORT",
    "TYPE_TOKEN",
    "KubernetesRegistry",
    "KubernetesRegistryArgs",
    "KubernetesRegistryAutoscalingArgs",
    "KubernetesRegistryGarbageCollectArgs",
    "KubernetesRegistryIngressArgs",
    "KubernetesRegistryNetworkPolicyArgs",
    "KubernetesRegistryRedisArgs",
    "KubernetesRegistryResourceListArgs",
    "KubernetesRegistryResourcesArgs",
    "docker_shaped_args",
    "fewest_replicas",
    "gc_patch",
    "gc_script",
    "labels",
    "most_replicas",
    "secret_checksum",
    "validate_kubernetes_args",
]
