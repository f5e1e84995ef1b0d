"""Config model of `registries:selfHosted.kubernetes`: the self-hosted registry on a Kubernetes cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from registries.config.base import CamelModel

DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
"""A Kubernetes resource quantity such as 100m, 0.5, 256Mi, 1Gi."""
IMAGE = r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*(:[A-Za-z0-9._-]{1,128}|@sha256:[0-9a-f]{64})$"
CRON = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$"
LABEL_KEY = r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE = r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
Quantity = Annotated[str, Field(pattern=QUANTITY)]
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL)]
LabelKey = Annotated[str, Field(pattern=LABEL_KEY)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE)]


class KubernetesResourceListSpec(CamelModel):
    """CPU and memory quantities."""

    cpu: Quantity | None = None
    """CPU, e.g. 100m or 1. Default: see the block."""
    memory: Quantity | None = None
    """Memory, e.g. 256Mi. Default: see the block."""


class KubernetesResourcesSpec(CamelModel):
    """Requests and limits of the registry container (the HPA's CPU target is a share of the CPU request)."""

    requests: KubernetesResourceListSpec = KubernetesResourceListSpec(cpu="100m", memory="128Mi")
    """Default: cpu 100m, memory 128Mi."""
    limits: KubernetesResourceListSpec = KubernetesResourceListSpec(memory="512Mi")
    """Default: memory 512Mi, no CPU limit (a CPU limit throttles uploads without protecting neighbours)."""


class KubernetesIngressSpec(CamelModel):
    """The Ingress that publishes the registry at https://<hostname>/ and terminates TLS."""

    enabled: bool = True
    """Declare the Ingress. Default: true (false: reach the Service yourself, e.g. a LoadBalancer in front)."""
    class_name: str = Field(default="nginx", pattern=DNS_LABEL)
    """ingressClassName. The body-size and timeout annotations are ingress-nginx's. Default: nginx."""
    tls_secret_name: DnsLabel | None = None
    """An existing kubernetes.io/tls Secret in the namespace (e.g. from cert-manager) instead of the certificate
    that tls.mode selfSigned generates. Default: the generated certificate."""
    timeout_seconds: int = Field(default=900, ge=60, le=86400)
    """proxy-read-timeout and proxy-send-timeout: a large layer upload is one long request. Default: 900."""
    annotations: dict[str, str] = {}
    """Extra annotations (cert-manager issuer, ...); they override ours. Default: none."""


class KubernetesNetworkPolicySpec(CamelModel):
    """Who may reach the pods: the ingress controller to port 5000, the namespace to the debug port."""

    enabled: bool = True
    """Declare the NetworkPolicies (enforced only where the cluster's network plugin supports them). Default: true."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """Namespace of the ingress controller. Default: ingress-nginx."""
    ingress_pod_labels: dict[LabelKey, LabelValue] = {"app.kubernetes.io/name": "ingress-nginx"}
    """Labels of the ingress controller's pods. Default: app.kubernetes.io/name: ingress-nginx."""


class KubernetesAutoscalingSpec(CamelModel):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU."""

    enabled: bool = False
    """Declare the HPA; `replicas` is then only the initial count. Default: false."""
    min_replicas: int = Field(default=2, ge=1, le=100)
    """Default: 2."""
    max_replicas: int = Field(default=5, ge=1, le=100)
    """Default: 5."""
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)
    """Average CPU use, in percent of the CPU request, the HPA keeps. Default: 70."""


class KubernetesRedisSpec(CamelModel):
    """A Redis blob-descriptor cache shared by the replicas (in the namespace, password from a Secret)."""

    enabled: bool = False
    """Declare Redis and point the registry's cache at it. Default: false (in-memory cache per pod)."""
    image: str = Field(default="redis:7.2.7-alpine", pattern=IMAGE)
    """Redis image, pinned. Default: redis:7.2.7-alpine (the 7.2 line is the last BSD-licensed one)."""
    max_memory: str = Field(default="256mb", pattern=r"^[0-9]+(kb|mb|gb)$")
    """maxmemory (evicting allkeys-lru, as distribution asks). Default: 256mb."""


class KubernetesGarbageCollectSpec(CamelModel):
    """A CronJob running `registry garbage-collect` with the registry switched to read-only meanwhile."""

    enabled: bool = False
    """Declare the CronJob. Default: false (pushes are refused while it runs)."""
    schedule: str = Field(default="0 3 * * 0", pattern=CRON)
    """Cron schedule (cluster time zone unless timeZone). Default: 0 3 * * 0 (Sundays 03:00)."""
    time_zone: str | None = Field(default=None, pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")
    """IANA time zone of the schedule, e.g. Europe/Paris. Default: the controller's."""
    delete_untagged: bool = False
    """--delete-untagged: also delete manifests no tag points at (registry v2 can break multi-arch images).
    Default: false."""
    kubectl_image: str = Field(default="alpine/k8s:1.33.4", pattern=IMAGE)
    """Image with kubectl and /bin/sh that runs the GC script (read-only, collect, back). Default: alpine/k8s:1.33.4."""


class KubernetesSpec(CamelModel):
    """Where and how the registry runs on Kubernetes (platform: kubernetes)."""

    namespace: DnsLabel = "registry"
    """Namespace of every object. Default: registry."""
    create_namespace: bool = True
    """Declare the namespace (false: it exists already). Default: true."""
    replicas: int = Field(default=1, ge=1, le=100)
    """Registry pods; 2 or more need storage.kind: s3. Default: 1."""
    run_as_user: int = Field(default=1000, ge=1, le=2147483647)
    """Fixed non-root UID (and GID, fsGroup) of the registry pods. Default: 1000."""
    resources: KubernetesResourcesSpec = KubernetesResourcesSpec()
    """Requests and limits of the registry container."""
    ingress: KubernetesIngressSpec = KubernetesIngressSpec()
    """The Ingress publishing https://<hostname>/."""
    network_policy: KubernetesNetworkPolicySpec = KubernetesNetworkPolicySpec()
    """NetworkPolicies of the registry and Redis pods."""
    autoscaling: KubernetesAutoscalingSpec = KubernetesAutoscalingSpec()
    """HorizontalPodAutoscaler. Default: off."""
    pod_disruption_budget: bool = True
    """A PodDisruptionBudget (maxUnavailable 1) when 2 or more pods run. Default: true."""
    s3_role_arn: str | None = Field(default=None, pattern=ROLE_ARN)
    """IRSA: the IAM role the pods' ServiceAccount assumes for S3 (eks.amazonaws.com/role-arn), instead of
    access keys; needs storage.kind s3 with create: false (grant the role the registry's S3 actions)."""
    storage_size: Quantity = "20Gi"
    """Size of the PersistentVolumeClaim holding the images (storage.kind filesystem). Default: 20Gi."""
    storage_class_name: DnsLabel | None = None
    """StorageClass of that claim. Default: the cluster's default class."""
    redis: KubernetesRedisSpec = KubernetesRedisSpec()
    """Shared Redis blob-descriptor cache. Default: off."""
    garbage_collect: KubernetesGarbageCollectSpec = KubernetesGarbageCollectSpec()
    """Scheduled garbage collection. Default: off."""

    @property
    def most_replicas(self) -> int:
        """The most registry pods that can run at once."""
        return max(self.replicas, self.autoscaling.max_replicas if self.autoscaling.enabled else 0)


DOCKER_ONLY_KEYS = (
    "bindAddress",
    "port",
    "networkMode",
    "debugPort",
    "volumeName",
    "replicas",
    "loadBalancerImage",
    "redisImage",
)
"""Top-level selfHosted keys that only mean something on a Docker host."""


def shared_storage_problems(
    key: str, replicas: int, storage_kind: str, bad: Callable[[str, object, str], None]
) -> None:
    """Replicas share one storage: 2 or more need S3 (on either platform)."""
    if replicas >= 2 and storage_kind != "s3":
        bad(
            key,
            replicas,
            "2 or more replicas need storage.kind: s3: a volume cannot be shared by replicas (each would see "
            "only the images pushed to it, and uploads spread over them would fail)",
        )


def kubernetes_problems(spec: KubernetesSpec, storage_kind: str, bad: Callable[[str, object, str], None]) -> None:
    """Rules of the kubernetes block that span keys; `bad(path, value, allowed)` records one problem."""
    key = "kubernetes.replicas" if spec.replicas >= 2 else "kubernetes.autoscaling.maxReplicas"
    shared_storage_problems(key, spec.most_replicas, storage_kind, bad)
    scaling = spec.autoscaling
    if scaling.enabled and scaling.min_replicas > scaling.max_replicas:
        bad("kubernetes.autoscaling.minReplicas", scaling.min_replicas, f"<= maxReplicas ({scaling.max_replicas})")
    if spec.resources.requests.cpu is None and scaling.enabled:
        bad("kubernetes.resources.requests.cpu", None, "required with autoscaling (the CPU target is a share of it)")
