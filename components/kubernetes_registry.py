"""KubernetesRegistry: the self-hosted distribution registry on a Kubernetes cluster (pulumi-kubernetes).

The same config.yml as the Docker target, from `components.selfhosted.config_file.render_registry_config`,
with the Kubernetes bits as its settings: TLS ends at the Ingress (http.host is the https URL, the pods speak
plain HTTP on :5000), an optional shared Redis cache, and a read-only variant the GC CronJob switches to.

No `from __future__ import annotations` here: the component-provider analyzer reads the annotations.
"""

import dataclasses
import hashlib
import json
import re
from typing import Any, NotRequired, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kubernetes_names import ingress_host_problem
from components.selfhosted import settings as s
from components.selfhosted.args import (
    SelfHostedLogArgs,
    SelfHostedNotificationArgs,
    SelfHostedRegistryArgs,
    SelfHostedStorageArgs,
    SelfHostedTlsArgs,
    SelfHostedUserArgs,
)
from components.selfhosted.config_file import (
    DATA_DIR,
    HTPASSWD_PATH,
    RedisSettings,
    RegistrySettings,
    config_path,
    render_registry_config,
)
from components.selfhosted.credentials import docker_config_json
from components.selfhosted.load_balancer import REDIS_PORT, redis_conf
from components.selfhosted.s3_storage import S3Storage, declare_s3_storage
from components.selfhosted.tls import TlsMaterial, declare_tls
from components.selfhosted.users import declare_users

TYPE_TOKEN = "registries:index:KubernetesRegistry"  # noqa: S105 - a type token, not a password
REGISTRY_PORT = 5000
DEBUG_PORT = 5001
REDIS_UID = 999
"""The redis image's own redis user."""
CONFIG_KEY = "config.yml"
READ_ONLY_CONFIG_KEY = "config-readonly.yml"
"""The same config with storage.maintenance.readonly on: what the GC CronJob switches the pods to."""
CONFIG_VOLUME_INDEX = 0
"""Index of the config volume in the pod spec: the GC CronJob's JSON patch addresses it."""
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
DEFAULT_NAME = "registry"
DEFAULT_NAMESPACE = "registry"
DEFAULT_KUBECTL_IMAGE = "alpine/k8s:1.33.4"
"""kubectl and a shell (the GC script traps its switch back): registry.k8s.io/kubectl has no shell, and Bitnami
stopped publishing versioned bitnami/kubectl tags in 2025; alpine/k8s is tagged per Kubernetes release."""
GC_DEADLINE_SECONDS = 6 * 3600
"""activeDeadlineSeconds of a GC Job: a hung step is stopped (SIGTERM) and the script still switches back."""
GC_TOOLS_DIR = "/tools"
"""emptyDir where an init container copies the registry binary, so one kubectl+shell container runs every step."""
DEFAULT_REDIS_IMAGE = "redis:7.2.7-alpine"
NGINX = "nginx.ingress.kubernetes.io"


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


def _registry_name(args: KubernetesRegistryArgs) -> str:
    return args.get("name", DEFAULT_NAME)


def _namespace(args: KubernetesRegistryArgs) -> str:
    return args.get("namespace", DEFAULT_NAMESPACE)


def _replicas(args: KubernetesRegistryArgs) -> int:
    return args.get("replicas", 1)


def _autoscaling(args: KubernetesRegistryArgs) -> KubernetesRegistryAutoscalingArgs:
    return args.get("autoscaling") or {}


def most_replicas(args: KubernetesRegistryArgs) -> int:
    """The most registry pods that can run at once."""
    scaling = _autoscaling(args)
    return max(_replicas(args), scaling.get("max_replicas", 5) if scaling.get("enabled", False) else 0)


def fewest_replicas(args: KubernetesRegistryArgs) -> int:
    """The pods that run when nothing scales."""
    scaling = _autoscaling(args)
    return max(_replicas(args), scaling.get("min_replicas", 2)) if scaling.get("enabled", False) else _replicas(args)


def docker_shaped_args(args: KubernetesRegistryArgs) -> SelfHostedRegistryArgs:
    """The Docker target's args for what both render: the pods serve plain HTTP on :5000, debug on :5001."""
    shared = ("hostname", "image", "major_version", "storage", "catalog_max_entries", "log", "notifications")
    out = cast(dict[str, Any], {key: args[key] for key in shared if key in args})  # type: ignore[literal-required]
    out.update(container_name=_registry_name(args), tls={"mode": "none"}, port=REGISTRY_PORT, network_mode="bridge")
    return cast(SelfHostedRegistryArgs, out)


def validate_kubernetes_args(args: KubernetesRegistryArgs) -> None:
    """What the component checks before declaring anything: ValueError naming the arg."""
    for key, value in (("name", _registry_name(args)), ("namespace", _namespace(args))):
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
    if _replicas(args) < 1:
        raise ValueError(f"replicas: {_replicas(args)} must be at least 1")
    scaling = _autoscaling(args)
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


def labels(name: str, component: str) -> dict[str, str]:
    """The selector labels of one part (registry, redis, gc) of the registry called `name`."""
    return {
        "app.kubernetes.io/name": "registry",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }


def secret_checksum(values: list[str]) -> str:
    """sha256 over the Secret's values, in order: a pod-template annotation so a change rolls the pods."""
    digest = hashlib.sha256()
    for value in values:
        digest.update(value.encode())
        digest.update(b"\0")
    return digest.hexdigest()


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


class KubernetesRegistry(pulumi.ComponentResource):
    """A CNCF distribution registry on Kubernetes: Deployment (non-root, read-only root filesystem, probes on the
    debug server), Service, Ingress with TLS, Secrets, PodDisruptionBudget, HorizontalPodAutoscaler,
    NetworkPolicies, optional Redis cache and garbage-collection CronJob; images on a claim or in S3."""

    endpoint: pulumi.Output[str]
    """Host clients push to and pull from (the Ingress host, port 443)."""
    ca_cert_pem: pulumi.Output[str]
    """CA certificate of the generated Ingress certificate; "" otherwise."""
    user_passwords: pulumi.Output[dict[str, str]]
    """Secret. User name -> password."""
    docker_config_json: pulumi.Output[str]
    """Secret. ~/.docker/config.json logging in as the first user."""
    login_command: pulumi.Output[str]
    """`docker login` command line, without the password."""
    namespace: pulumi.Output[str]
    """Namespace of the objects."""
    deployment_name: pulumi.Output[str]
    """Name of the registry Deployment."""
    bucket: pulumi.Output[str]
    """S3 bucket holding the images ("" with a claim)."""

    def __init__(self, name: str, args: KubernetesRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        validate_kubernetes_args(args)
        self._name = name
        self._args = args
        self._app = _registry_name(args)
        self._ns = _namespace(args)
        self._docker_args = docker_shaped_args(args)
        child = pulumi.ResourceOptions(parent=self)
        hostname = pulumi.Output.from_input(args.get("hostname", s.DEFAULT_HOSTNAME))

        namespace_opts = child
        if args.get("create_namespace", True):
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={"name": self._ns, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
                # Deleting a namespace deletes the claim in it: with images on a claim, both are retained.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    retain_on_delete=s.s3_args(self._docker_args) is None,
                    protect=args.get("protect", False) and s.s3_args(self._docker_args) is None,
                ),
            )
            namespace_opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        self._child = namespace_opts

        s3 = self._s3(args)
        user_list = args.get("users") or s.DEFAULT_USERS
        names = [user["name"] for user in user_list]
        passwords, htpasswd = declare_users(
            name,
            [(user["name"], user.get("password")) for user in user_list],
            args.get("password_length", s.DEFAULT_PASSWORD_LENGTH),
            self,
        )
        http_secret = random.RandomPassword(f"{name}-http-secret", length=64, special=False, opts=child)
        redis_password = self._redis(args)

        bucket = s3.bucket if s3 is not None else pulumi.Output.from_input("")
        settings = self._settings(hostname, bucket if s3 is not None else None, redis_password)
        config_yml = settings.apply(render_registry_config)
        read_only_yml = settings.apply(
            lambda resolved: render_registry_config(dataclasses.replace(resolved, read_only=True))
        )

        secret_values: dict[str, pulumi.Input[str]] = {
            CONFIG_KEY: config_yml,
            READ_ONLY_CONFIG_KEY: read_only_yml,
            "htpasswd": htpasswd,
            "http-secret": http_secret.result,
        }
        if s3 is not None and s3.access_key_id is not None and s3.secret_access_key is not None:
            secret_values["s3-access-key"] = s3.access_key_id
            secret_values["s3-secret-key"] = s3.secret_access_key
        keys = list(secret_values)
        registry_secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=self._metadata(f"{self._app}-secret", "registry"),
            type="Opaque",
            string_data=pulumi.Output.secret(
                pulumi.Output.all(*secret_values.values()).apply(lambda v: dict(zip(keys, v, strict=True)))
            ),
            opts=namespace_opts,
        )
        # A digest of high-entropy secrets reveals none of them; kept plain so the pod template is not secret.
        checksum = pulumi.Output.unsecret(
            pulumi.Output.all(*secret_values.values()).apply(lambda values: secret_checksum([str(v) for v in values]))
        )

        tls_material = self._tls_material(args, hostname)
        tls_secret_name = self._tls_secret(tls_material, args)
        role_arn = args.get("s3_role_arn")
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=self._metadata(
                self._app,
                "registry",
                annotations=None if role_arn is None else {"eks.amazonaws.com/role-arn": role_arn},
            ),
            automount_service_account_token=False,
            opts=namespace_opts,
        )
        claim = self._claim(args) if s3 is None else None
        deployment = self._deployment(args, checksum, registry_secret, service_account, claim, s3)
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata(self._app, "registry"),
            spec=cast(
                Any,
                {
                    "type": "ClusterIP",
                    "selector": labels(self._app, "registry"),
                    # Not the debug port: its /debug/vars shows the config, the Redis password included
                    # (distribution 2.8's expvar); /metrics is scraped per pod from the namespace instead.
                    "ports": [{"name": "http", "port": REGISTRY_PORT, "target_port": "http", "protocol": "TCP"}],
                },
            ),
            opts=namespace_opts,
        )
        ingress = args.get("ingress") or {}
        if ingress.get("enabled", True):
            self._ingress(ingress, hostname, tls_secret_name, service)
        if args.get("pod_disruption_budget", True) and fewest_replicas(args) >= 2:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=self._metadata(self._app, "registry"),
                spec={"max_unavailable": 1, "selector": {"match_labels": labels(self._app, "registry")}},
                opts=namespace_opts,
            )
        scaling = _autoscaling(args)
        if scaling.get("enabled", False):
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=self._metadata(self._app, "registry"),
                spec=cast(
                    Any,
                    {
                        "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": self._app},
                        "min_replicas": scaling.get("min_replicas", 2),
                        "max_replicas": scaling.get("max_replicas", 5),
                        "metrics": [
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "cpu",
                                    "target": {
                                        "type": "Utilization",
                                        "average_utilization": scaling.get("target_cpu_utilization", 70),
                                    },
                                },
                            }
                        ],
                    },
                ),
                opts=pulumi.ResourceOptions.merge(namespace_opts, pulumi.ResourceOptions(depends_on=[deployment])),
            )
        if (args.get("network_policy") or {}).get("enabled", True):
            self._network_policies(args, ingress.get("enabled", True))
        gc = args.get("garbage_collect") or {}
        if gc.get("enabled", False):
            self._garbage_collect(gc, registry_secret, claim, s3, deployment)

        endpoint = hostname
        first_user = names[0]
        self.endpoint = endpoint
        self.ca_cert_pem = tls_material.ca_cert_pem if tls_material is not None else pulumi.Output.from_input("")
        self.user_passwords = pulumi.Output.secret(
            pulumi.Output.all(*passwords).apply(lambda pws: dict(zip(names, pws, strict=True)))
        )
        self.docker_config_json = pulumi.Output.secret(
            pulumi.Output.all(endpoint, passwords[0]).apply(lambda v: docker_config_json(v[0], first_user, v[1]))
        )
        self.login_command = pulumi.Output.concat(
            "docker login ", endpoint, f" --username {first_user} --password-stdin"
        )
        self.namespace = pulumi.Output.from_input(self._ns)
        self.deployment_name = deployment.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        self.bucket = bucket
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "caCertPem": self.ca_cert_pem,
                "userPasswords": self.user_passwords,
                "dockerConfigJson": self.docker_config_json,
                "loginCommand": self.login_command,
                "namespace": self.namespace,
                "deploymentName": self.deployment_name,
                "bucket": self.bucket,
            }
        )

    # --- pieces -------------------------------------------------------------------------------------------

    def _metadata(self, object_name: str, component: str, annotations: dict[str, Any] | None = None) -> Any:
        """ObjectMeta (as the dict pulumi-kubernetes takes) of an object of `component`."""
        metadata: dict[str, Any] = {
            "name": object_name,
            "namespace": self._ns,
            "labels": {**labels(self._app, component), "app.kubernetes.io/managed-by": "pulumi"},
        }
        if annotations:
            metadata["annotations"] = annotations
        return metadata

    def _s3(self, args: KubernetesRegistryArgs) -> S3Storage | None:
        s3_args = s.s3_args(self._docker_args)
        if s3_args is None:
            return None
        return declare_s3_storage(self._name, s3_args, protect=args.get("protect", False), parent=self)

    def _redis_enabled(self) -> bool:
        return (self._args.get("redis") or {}).get("enabled", False)

    def _settings(
        self,
        hostname: pulumi.Output[str],
        bucket: pulumi.Input[str] | None,
        redis_password: pulumi.Output[str] | None,
    ) -> pulumi.Output[RegistrySettings]:
        """The Docker target's settings, with what differs on Kubernetes: http.host, Redis."""
        tls_mode = s.text((self._args.get("tls") or {}).get("mode", "selfSigned"))
        scheme = "http" if tls_mode == "none" else "https"
        redis_addr = f"{self._app}-redis.{self._ns}.svc:{REDIS_PORT}"
        plain = pulumi.Output.from_input(s.rendered_args(self._docker_args, bucket)).apply(s.registry_settings)
        return pulumi.Output.all(plain, hostname, redis_password).apply(
            lambda values: dataclasses.replace(
                values[0],
                external_url=f"{scheme}://{values[1]}",
                redis=None if values[2] is None else RedisSettings(addr=redis_addr, password=values[2]),
            )
        )

    def _tls_material(self, args: KubernetesRegistryArgs, hostname: pulumi.Output[str]) -> TlsMaterial | None:
        if (args.get("ingress") or {}).get("tls_secret_name") is not None:
            return None
        return declare_tls(self._name, args.get("tls") or {}, hostname, False, self)

    def _tls_secret(self, tls_material: TlsMaterial | None, args: KubernetesRegistryArgs) -> pulumi.Input[str] | None:
        given = (args.get("ingress") or {}).get("tls_secret_name")
        if given is not None:
            return given
        if tls_material is None:
            return None
        string_data = pulumi.Output.secret(
            pulumi.Output.all(tls_material.cert_pem, tls_material.key_pem, tls_material.ca_cert_pem).apply(
                lambda pems: {"tls.crt": pems[0], "tls.key": pems[1], "ca.crt": pems[2]}
            )
        )
        secret = k8s.core.v1.Secret(
            f"{self._name}-tls",
            metadata=self._metadata(f"{self._app}-tls", "registry"),
            type="kubernetes.io/tls",
            string_data=string_data,
            opts=self._child,
        )
        return secret.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)

    def _claim(self, args: KubernetesRegistryArgs) -> k8s.core.v1.PersistentVolumeClaim:
        spec: Any = {
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": args.get("storage_size", "20Gi")}},
        }
        if args.get("storage_class_name") is not None:
            spec["storage_class_name"] = args.get("storage_class_name")
        # The images outlive the Deployment, a destroy and a rename: retained, and protected when asked.
        return k8s.core.v1.PersistentVolumeClaim(
            f"{self._name}-data",
            metadata=self._metadata(f"{self._app}-data", "registry"),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(retain_on_delete=True, protect=args.get("protect", False))
            ),
        )

    def _security_context(self, uid: int) -> dict[str, Any]:
        return {
            "run_as_non_root": True,
            "run_as_user": uid,
            "run_as_group": uid,
            "fs_group": uid,
            "seccomp_profile": {"type": "RuntimeDefault"},
        }

    @staticmethod
    def _container_security() -> dict[str, Any]:
        return {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }

    def _registry_env(self, s3: S3Storage | None, with_http_secret: bool) -> list[dict[str, Any]]:
        secret_name = f"{self._app}-secret"

        def from_secret(var: str, key: str) -> dict[str, Any]:
            return {"name": var, "value_from": {"secret_key_ref": {"name": secret_name, "key": key}}}

        env = [from_secret("REGISTRY_HTTP_SECRET", "http-secret")] if with_http_secret else []
        if s3 is not None and s3.access_key_id is not None:
            # Only credentials go by env: REGISTRY_STORAGE=s3 would replace the whole storage map.
            env += [
                from_secret("REGISTRY_STORAGE_S3_ACCESSKEY", "s3-access-key"),
                from_secret("REGISTRY_STORAGE_S3_SECRETKEY", "s3-secret-key"),
            ]
        if s.major_version(self._docker_args) == 3:
            env.append({"name": "OTEL_TRACES_EXPORTER", "value": "none"})
        return env

    def _config_volume(self, key: str) -> dict[str, Any]:
        # 0440 with fsGroup: readable by the registry's group only.
        return {
            "name": "config",
            "secret": {
                "secret_name": f"{self._app}-secret",
                "items": [{"key": key, "path": "config.yml"}],
                "default_mode": 0o440,
            },
        }

    def _config_mount(self) -> dict[str, Any]:
        return {
            "name": "config",
            "mount_path": config_path(s.major_version(self._docker_args)).rsplit("/", 1)[0],
            "read_only": True,
        }

    def _deployment(
        self,
        args: KubernetesRegistryArgs,
        checksum: pulumi.Output[str],
        secret: k8s.core.v1.Secret,
        service_account: k8s.core.v1.ServiceAccount,
        claim: k8s.core.v1.PersistentVolumeClaim | None,
        s3: S3Storage | None,
    ) -> k8s.apps.v1.Deployment:
        uid = args.get("run_as_user", 1000)
        selector = labels(self._app, "registry")
        volumes: list[dict[str, Any]] = [
            self._config_volume(CONFIG_KEY),
            {
                "name": "auth",
                "secret": {
                    "secret_name": f"{self._app}-secret",
                    "items": [{"key": "htpasswd", "path": "htpasswd"}],
                    "default_mode": 0o440,
                },
            },
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
        ]
        mounts: list[dict[str, Any]] = [
            self._config_mount(),
            {"name": "auth", "mount_path": HTPASSWD_PATH.rsplit("/", 1)[0], "read_only": True},
            {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 - the pod's own emptyDir
        ]
        if claim is not None:
            volumes.append({"name": "data", "persistent_volume_claim": {"claim_name": f"{self._app}-data"}})
            mounts.append({"name": "data", "mount_path": DATA_DIR})
        resources = args.get("resources") or {}
        requests = resources.get("requests", {"cpu": "100m", "memory": "128Mi"})
        limits = resources.get("limits", {"memory": "512Mi"})
        container = {
            "name": "registry",
            "image": args.get("image", s.DEFAULT_IMAGE),
            "ports": [
                {"name": "http", "container_port": REGISTRY_PORT, "protocol": "TCP"},
                {"name": "debug", "container_port": DEBUG_PORT, "protocol": "TCP"},
            ],
            "env": self._registry_env(s3, with_http_secret=True),
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
            "security_context": self._container_security(),
        }
        # A claim is ReadWriteOnce: the old pod must let go before the new one mounts it.
        strategy = (
            {"type": "Recreate"}
            if claim is not None
            else {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}}
        )
        scaling = _autoscaling(args)
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(self._app, "registry"),
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
                            "service_account_name": self._app,
                            "automount_service_account_token": False,
                            "security_context": self._security_context(uid),
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
                            "termination_grace_period_seconds": 60,
                            "containers": [container],
                            "volumes": volumes,
                        },
                    },
                },
            ),
            opts=pulumi.ResourceOptions.merge(
                self._child,
                pulumi.ResourceOptions(
                    depends_on=[secret, service_account],
                    # The HPA owns the replica count once it runs; `up` must not reset it.
                    ignore_changes=["spec.replicas"] if scaling.get("enabled", False) else None,
                ),
            ),
        )

    def _ingress(
        self,
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
                                "backend": {"service": {"name": self._app, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        }
        if tls_secret_name is not None:
            spec["tls"] = [{"hosts": [hostname], "secret_name": tls_secret_name}]
        return k8s.networking.v1.Ingress(
            f"{self._name}-ingress",
            metadata=self._metadata(self._app, "registry", annotations=annotations),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[service])),
        )

    def _network_policies(self, args: KubernetesRegistryArgs, ingress_enabled: bool) -> None:
        policy = args.get("network_policy") or {}
        controller = {
            "namespace_selector": {
                "match_labels": {"kubernetes.io/metadata.name": policy.get("ingress_namespace", "ingress-nginx")}
            },
            "pod_selector": {
                "match_labels": policy.get("ingress_pod_labels", {"app.kubernetes.io/name": "ingress-nginx"})
            },
        }
        same_namespace = {"pod_selector": {}}
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-network-policy",
            metadata=self._metadata(self._app, "registry"),
            spec=cast(
                Any,
                {
                    "pod_selector": {"match_labels": labels(self._app, "registry")},
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
            opts=self._child,
        )
        if self._redis_enabled():
            k8s.networking.v1.NetworkPolicy(
                f"{self._name}-redis-network-policy",
                metadata=self._metadata(f"{self._app}-redis", "redis"),
                spec=cast(
                    Any,
                    {
                        "pod_selector": {"match_labels": labels(self._app, "redis")},
                        "policy_types": ["Ingress"],
                        "ingress": [
                            {
                                "from": [{"pod_selector": {"match_labels": labels(self._app, "registry")}}],
                                "ports": [{"port": REDIS_PORT, "protocol": "TCP"}],
                            }
                        ],
                    },
                ),
                opts=self._child,
            )

    def _redis(self, args: KubernetesRegistryArgs) -> pulumi.Output[str] | None:
        """Redis (Deployment, Secret with a generated password, Service); returns the password (secret)."""
        redis = args.get("redis") or {}
        if not redis.get("enabled", False):
            return None
        password = random.RandomPassword(
            f"{self._name}-redis-password", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        secret_password = pulumi.Output.secret(password.result)
        max_memory = redis.get("max_memory", "256mb")
        redis_name = f"{self._app}-redis"
        secret = k8s.core.v1.Secret(
            f"{self._name}-redis-secret",
            metadata=self._metadata(redis_name, "redis"),
            type="Opaque",
            string_data=pulumi.Output.secret(
                secret_password.apply(lambda pw: {"password": pw, "redis.conf": redis_conf(pw, max_memory)})
            ),
            opts=self._child,
        )
        checksum = pulumi.Output.unsecret(
            secret_password.apply(lambda pw: secret_checksum([redis_conf(pw, max_memory)]))
        )
        selector = labels(self._app, "redis")
        k8s.apps.v1.Deployment(
            f"{self._name}-redis",
            metadata=self._metadata(redis_name, "redis"),
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
                            "security_context": self._security_context(REDIS_UID),
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
                                    "security_context": self._container_security(),
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
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[secret])),
        )
        k8s.core.v1.Service(
            f"{self._name}-redis-service",
            metadata=self._metadata(redis_name, "redis"),
            spec=cast(
                Any,
                {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [{"name": "redis", "port": REDIS_PORT, "target_port": "redis", "protocol": "TCP"}],
                },
            ),
            opts=self._child,
        )
        return secret_password

    def _garbage_collect(
        self,
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
        gc_name = f"{self._app}-gc"
        kubectl = gc.get("kubectl_image", DEFAULT_KUBECTL_IMAGE)
        if self._args.get("s3_role_arn") is not None:
            # IRSA: the EKS pod identity webhook gives AWS credentials only to a pod whose own ServiceAccount carries
            # the role annotation, and the role's trust policy names that account: the GC pod (garbage-collect
            # reads and deletes in S3) runs as the registry's account, with the token kubectl needs (the registry
            # pods mount none, so only the GC pod can use the Role bound below).
            account = self._app
        else:
            account = gc_name
            k8s.core.v1.ServiceAccount(
                f"{self._name}-gc-service-account", metadata=self._metadata(gc_name, "gc"), opts=self._child
            )
        deployments = [self._app] + ([f"{self._app}-redis"] if self._redis_enabled() else [])
        role = k8s.rbac.v1.Role(
            f"{self._name}-gc-role",
            metadata=self._metadata(gc_name, "gc"),
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
            opts=self._child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{self._name}-gc-role-binding",
            metadata=self._metadata(gc_name, "gc"),
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": gc_name},
            subjects=[{"kind": "ServiceAccount", "name": account, "namespace": self._ns}],
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[role])),
        )
        config_file = config_path(s.major_version(self._docker_args))
        collect = [f"{GC_TOOLS_DIR}/registry", "garbage-collect"]
        if gc.get("delete_untagged", False):
            collect.append("--delete-untagged")
        collect.append(config_file)
        mounts: list[dict[str, Any]] = [
            self._config_mount(),
            {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 - the pod's own emptyDir
            {"name": "tools", "mount_path": GC_TOOLS_DIR, "read_only": True},
        ]
        volumes: list[dict[str, Any]] = [
            self._config_volume(CONFIG_KEY),
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
            {"name": "tools", "empty_dir": {"size_limit": "256Mi"}},
        ]
        affinity: dict[str, Any] | None = None
        if claim is not None:
            volumes.append({"name": "data", "persistent_volume_claim": {"claim_name": f"{self._app}-data"}})
            mounts.append({"name": "data", "mount_path": DATA_DIR})
            # A ReadWriteOnce claim is mounted on one node: run beside the registry pod.
            affinity = {
                "pod_affinity": {
                    "required_during_scheduling_ignored_during_execution": [
                        {
                            "topology_key": "kubernetes.io/hostname",
                            "label_selector": {"match_labels": labels(self._app, "registry")},
                        }
                    ]
                }
            }
        security = self._container_security()
        script = gc_script(self._app, self._ns, collect, self._redis_enabled(), pin_node=claim is not None)
        env = self._registry_env(s3, with_http_secret=False)
        # kubectl keeps its discovery cache under $HOME/.kube: on the emptyDir, the root is read-only.
        env.append({"name": "HOME", "value": "/tmp"})  # noqa: S108 - the pod's own emptyDir
        env.append({"name": "NODE_NAME", "value_from": {"field_ref": {"field_path": "spec.nodeName"}}})
        init = [
            {
                # The registry binary (static) into the emptyDir, for the one container that runs every step.
                "name": "tools",
                "image": self._args.get("image", s.DEFAULT_IMAGE),
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
            "security_context": self._security_context(self._args.get("run_as_user", 1000)),
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
                "metadata": {"labels": labels(self._app, "gc")},
                "spec": {
                    "backoff_limit": 0,
                    "active_deadline_seconds": GC_DEADLINE_SECONDS,
                    "template": {"metadata": {"labels": labels(self._app, "gc")}, "spec": pod_spec},
                },
            },
        }
        if gc.get("time_zone") is not None:
            spec["time_zone"] = gc.get("time_zone")
        k8s.batch.v1.CronJob(
            f"{self._name}-gc",
            metadata=self._metadata(gc_name, "gc"),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[secret, deployment])),
        )
