"""The Kubernetes registry's settings: defaults, what its args mean (names, replicas), the Docker-shaped args both
targets render config.yml from, and the checks made before anything is declared.

Plain Python on the args (no provider SDK): the stack config and the mapping can use it without pulumi-kubernetes.
"""

import re
from typing import Any, cast

from components.kubernetes.args import KubernetesRegistryArgs, KubernetesRegistryAutoscalingArgs
from components.kubernetes_names import ingress_host_problem
from components.selfhosted import settings as s
from components.selfhosted.args import SelfHostedRegistryArgs
from components.selfhosted.load_balancer import DRAIN_TIMEOUT_SECONDS

REGISTRY_PORT = 5000
DEBUG_PORT = 5001
CONFIG_KEY = "config.yml"
READ_ONLY_CONFIG_KEY = "config-readonly.yml"
"""The same config with storage.maintenance.readonly on: what the GC CronJob switches the pods to."""
PRE_STOP_SECONDS = 10
"""A rolling registry pod's preStop sleep: the EndpointSlice controller and the Ingress controller learn of a pod's
deletion when the kubelet does, so the pod keeps serving for this long while they take it out of rotation (without
it a rolling update resets the connections still routed to it: tests/e2e/test_kubernetes_node.py). Not with
Recreate (one pod on a claim): it is out of rotation at once and the sleep would only lengthen the gap."""
DRAIN_SECONDS = DRAIN_TIMEOUT_SECONDS
"""http.draintimeout, as for replicas on Docker: on SIGTERM the registry stops accepting and lets the requests in
flight (a layer up- or download) finish for up to this long; an idle pod ends at once."""
TERMINATION_GRACE_SECONDS = PRE_STOP_SECONDS + DRAIN_SECONDS + 10
"""The pod's terminationGracePeriodSeconds: past the preStop sleep and the drain, so nothing is killed mid-request."""
CONFIG_VOLUME_INDEX = 0
"""Index of the config volume in the pod spec: the GC CronJob's JSON patch addresses it."""
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
DEFAULT_NAME = "registry"
DEFAULT_NAMESPACE = "registry"


def registry_name(args: KubernetesRegistryArgs) -> str:
    """Name of the Deployment, Service, Ingress and Secrets."""
    return args.get("name", DEFAULT_NAME)


def namespace(args: KubernetesRegistryArgs) -> str:
    """Namespace of every object."""
    return args.get("namespace", DEFAULT_NAMESPACE)


def replicas(args: KubernetesRegistryArgs) -> int:
    return args.get("replicas", 1)


def autoscaling(args: KubernetesRegistryArgs) -> KubernetesRegistryAutoscalingArgs:
    return args.get("autoscaling") or {}


def most_replicas(args: KubernetesRegistryArgs) -> int:
    """The most registry pods that can run at once."""
    scaling = autoscaling(args)
    return max(replicas(args), scaling.get("max_replicas", 5) if scaling.get("enabled", False) else 0)


def fewest_replicas(args: KubernetesRegistryArgs) -> int:
    """The pods that run when nothing scales."""
    scaling = autoscaling(args)
    return max(replicas(args), scaling.get("min_replicas", 2)) if scaling.get("enabled", False) else replicas(args)


def docker_shaped_args(args: KubernetesRegistryArgs) -> SelfHostedRegistryArgs:
    """The Docker target's args for what both render: the pods serve plain HTTP on :5000, debug on :5001."""
    shared = ("hostname", "image", "major_version", "storage", "catalog_max_entries", "log", "notifications")
    out = cast(dict[str, Any], {key: args[key] for key in shared if key in args})  # type: ignore[literal-required]
    out.update(container_name=registry_name(args), tls={"mode": "none"}, port=REGISTRY_PORT, network_mode="bridge")
    return cast(SelfHostedRegistryArgs, out)


def validate_kubernetes_args(args: KubernetesRegistryArgs) -> None:
    """What the component checks before declaring anything: ValueError naming the arg."""
    for key, value in (("name", registry_name(args)), ("namespace", namespace(args))):
        if not DNS_LABEL.fullmatch(value) or len(value) > 40:
            raise ValueError(f"{key}: {value!r} must be a DNS label of at most 40 characters (a-z 0-9 -)")
    s.validate_args(docker_shaped_args(args))
    s.validate_args(
        {
            "users": args.get("users") or s.DEFAULT_USERS,
            "password_length": args.get("password_length", s.DEFAULT_PASSWORD_LENGTH),
        }
    )
    if most_replicas(args) >= 2 and s.s3_args(docker_shaped_args(args)) is None:
        raise ValueError(f"replicas: {most_replicas(args)} pods need storage.s3: a volume cannot be shared by replicas")
    if replicas(args) < 1:
        raise ValueError(f"replicas: {replicas(args)} must be at least 1")
    scaling = autoscaling(args)
    if scaling.get("enabled", False) and scaling.get("min_replicas", 2) > scaling.get("max_replicas", 5):
        raise ValueError("autoscaling.min_replicas: must be <= autoscaling.max_replicas")
    mode = s.text((args.get("tls") or {}).get("mode", "selfSigned"))
    if (args.get("ingress") or {}).get("tls_secret_name") is not None and mode != "selfSigned":
        raise ValueError(f"ingress.tls_secret_name: only with tls.mode selfSigned, not {mode!r}")
    hostname = args.get("hostname", s.DEFAULT_HOSTNAME)
    ingress_enabled = (args.get("ingress") or {}).get("enabled", True)
    if ingress_enabled and isinstance(hostname, str) and (problem := ingress_host_problem(hostname)):
        raise ValueError(f"hostname: {hostname!r} {problem}")
    if args.get("s3_role_arn") is not None:
        s3 = s.s3_args(docker_shaped_args(args))
        if s3 is None or s3.get("create", True) or s3.get("access_key") is not None:
            raise ValueError("s3_role_arn: needs storage.s3 with create false and no access keys")
