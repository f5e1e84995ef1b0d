"""KubernetesRegistryArgs: the Kubernetes registry's inputs, as the component-provider analyzer reads them.

The self-hosted registry's settings (components.selfhosted.args) plus where and how it runs on the cluster.
No `from __future__ import annotations` here: the analyzer cannot resolve string annotations.
"""

from typing import NotRequired, TypedDict

import pulumi

from components.selfhosted.args import (
    SelfHostedLogArgs,
    SelfHostedNotificationArgs,
    SelfHostedStorageArgs,
    SelfHostedTlsArgs,
    SelfHostedUserArgs,
)


class KubernetesRegistryIngressArgs(TypedDict):
    """The Ingress publishing https://<hostname>/ (TLS ends here; the pods speak plain HTTP)."""

    enabled: NotRequired[bool]
    """Declare the Ingress. Default: true."""
    class_name: NotRequired[str]
    """ingressClassName (the annotations are ingress-nginx's). Default: nginx."""
    tls_secret_name: NotRequired[pulumi.Input[str]]
    """An existing kubernetes.io/tls Secret in the namespace instead of the generated certificate. Default: none."""
    timeout_seconds: NotRequired[int]
    """proxy-read-timeout / proxy-send-timeout for long uploads. Default: 900."""
    annotations: NotRequired[dict[str, pulumi.Input[str]]]
    """Extra annotations; they override ours. Default: none."""


class KubernetesRegistryNetworkPolicyArgs(TypedDict):
    """NetworkPolicies: port 5000 from the ingress controller; no pod reaches the debug port."""

    enabled: NotRequired[bool]
    """Declare them. Default: true."""
    ingress_namespace: NotRequired[str]
    """Namespace of the ingress controller. Default: ingress-nginx."""
    ingress_pod_labels: NotRequired[dict[str, str]]
    """Labels of the ingress controller's pods. Default: app.kubernetes.io/name: ingress-nginx."""


class KubernetesRegistryResourceListArgs(TypedDict):
    """CPU and memory quantities."""

    cpu: NotRequired[str]
    """CPU quantity, e.g. 100m. Default: none."""
    memory: NotRequired[str]
    """Memory quantity, e.g. 256Mi. Default: none."""


class KubernetesRegistryResourcesArgs(TypedDict):
    """Requests and limits of the registry container."""

    requests: NotRequired[KubernetesRegistryResourceListArgs]
    """Default: cpu 100m, memory 128Mi."""
    limits: NotRequired[KubernetesRegistryResourceListArgs]
    """Default: memory 512Mi."""


class KubernetesRegistryAutoscalingArgs(TypedDict):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU."""

    enabled: NotRequired[bool]
    """Declare it. Default: false."""
    min_replicas: NotRequired[int]
    """Default: 2."""
    max_replicas: NotRequired[int]
    """Default: 5."""
    target_cpu_utilization: NotRequired[int]
    """Average CPU in percent of the request. Default: 70."""


class KubernetesRegistryRedisArgs(TypedDict):
    """A Redis blob-descriptor cache shared by the replicas."""

    enabled: NotRequired[bool]
    """Declare Redis and use it as the cache. Default: false."""
    image: NotRequired[str]
    """Redis image, pinned. Default: redis:7.2.7-alpine."""
    max_memory: NotRequired[str]
    """maxmemory (allkeys-lru). Default: 256mb."""


class KubernetesRegistryGarbageCollectArgs(TypedDict):
    """A CronJob: registry switched to read-only, `registry garbage-collect`, switched back."""

    enabled: NotRequired[bool]
    """Declare the CronJob. Default: false."""
    schedule: NotRequired[str]
    """Cron schedule. Default: 0 3 * * 0."""
    time_zone: NotRequired[str]
    """IANA time zone of the schedule. Default: the controller's."""
    delete_untagged: NotRequired[bool]
    """Pass --delete-untagged. Default: false."""
    kubectl_image: NotRequired[str]
    """Image with kubectl and /bin/sh that runs the GC script. Default: alpine/k8s:1.33.4."""


class KubernetesRegistryArgs(TypedDict):
    """A CNCF distribution registry on Kubernetes: the self-hosted registry's settings plus where it runs."""

    name: NotRequired[str]
    """Name of the Deployment, Service, Ingress and Secrets (a DNS label). Default: registry."""
    namespace: NotRequired[str]
    """Namespace of every object. Default: registry."""
    create_namespace: NotRequired[bool]
    """Declare the namespace. Default: true."""
    hostname: NotRequired[pulumi.Input[str]]
    """Host name of the Ingress and http.host (https://<hostname>). Default: localhost."""
    image: NotRequired[str]
    """Registry image, pinned. Default: registry:3.1.2."""
    major_version: NotRequired[int]
    """Config layout, 2 or 3. Default: from the image tag."""
    tls: NotRequired[SelfHostedTlsArgs]
    """Certificate of the Ingress: generated (selfSigned), provided PEM, or none. Default: selfSigned."""
    users: NotRequired[list[SelfHostedUserArgs]]
    """htpasswd users. Default: admin with a generated password."""
    password_length: NotRequired[int]
    """Length of generated passwords. Default: 32."""
    storage: NotRequired[SelfHostedStorageArgs]
    """Images on a PersistentVolumeClaim, or in S3 when `storage.s3` is set. Default: a claim."""
    catalog_max_entries: NotRequired[int]
    """catalog.maxentries. Default: 1000."""
    log: NotRequired[SelfHostedLogArgs]
    """Registry log settings. Default: info, text."""
    notifications: NotRequired[list[SelfHostedNotificationArgs]]
    """Webhook endpoints. Default: none."""
    protect: NotRequired[bool]
    """Protect the claim or created bucket from deletion (both are retained on delete anyway). Default: false."""
    replicas: NotRequired[int]
    """Registry pods; 2 or more need S3. Default: 1."""
    run_as_user: NotRequired[int]
    """Fixed non-root UID/GID/fsGroup of the pods. Default: 1000."""
    resources: NotRequired[KubernetesRegistryResourcesArgs]
    """Requests and limits. Default: requests cpu 100m memory 128Mi, limits memory 512Mi."""
    ingress: NotRequired[KubernetesRegistryIngressArgs]
    """The Ingress. Default: nginx class, generated certificate."""
    network_policy: NotRequired[KubernetesRegistryNetworkPolicyArgs]
    """NetworkPolicies. Default: on, ingress-nginx."""
    autoscaling: NotRequired[KubernetesRegistryAutoscalingArgs]
    """HorizontalPodAutoscaler. Default: off."""
    pod_disruption_budget: NotRequired[bool]
    """A PodDisruptionBudget (maxUnavailable 1) with 2 or more pods. Default: true."""
    s3_role_arn: NotRequired[pulumi.Input[str]]
    """IRSA role of the pods' ServiceAccount (eks.amazonaws.com/role-arn) instead of S3 keys. Default: none."""
    storage_size: NotRequired[str]
    """Size of the claim (no S3). Default: 20Gi."""
    storage_class_name: NotRequired[str]
    """StorageClass of the claim. Default: the cluster's default."""
    redis: NotRequired[KubernetesRegistryRedisArgs]
    """Shared Redis cache. Default: off."""
    garbage_collect: NotRequired[KubernetesRegistryGarbageCollectArgs]
    """Scheduled garbage collection. Default: off."""
