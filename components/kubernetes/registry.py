"""KubernetesRegistry: the self-hosted distribution registry on a Kubernetes cluster (pulumi-kubernetes).

The same config.yml as the Docker target, from `components.selfhosted.config_file.render_registry_config`,
with the Kubernetes bits as its settings: TLS ends at the Ingress (http.host is the https URL, the pods speak
plain HTTP on :5000), an optional shared Redis cache, and a read-only variant the GC CronJob switches to.
The objects are declared by the package's modules (workload, network, redis, gc) from one Placement (objects).

No `from __future__ import annotations` here: the component-provider analyzer reads the annotations.
"""

import dataclasses
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kubernetes.args import KubernetesRegistryArgs
from components.kubernetes.gc import declare_garbage_collect
from components.kubernetes.network import declare_ingress, declare_network_policies
from components.kubernetes.objects import Placement, labels, secret_checksum
from components.kubernetes.redis import declare_redis
from components.kubernetes.settings import (
    CONFIG_KEY,
    DRAIN_SECONDS,
    READ_ONLY_CONFIG_KEY,
    REGISTRY_PORT,
    autoscaling,
    docker_shaped_args,
    fewest_replicas,
    namespace,
    registry_name,
    validate_kubernetes_args,
)
from components.kubernetes.workload import declare_claim, declare_deployment
from components.selfhosted import settings as s
from components.selfhosted.config_file import RedisSettings, RegistrySettings, render_registry_config
from components.selfhosted.credentials import docker_config_json
from components.selfhosted.load_balancer import REDIS_PORT
from components.selfhosted.s3_storage import S3Storage, declare_s3_storage
from components.selfhosted.tls import TlsMaterial, declare_tls
from components.selfhosted.users import declare_users

TYPE_TOKEN = "registries:index:KubernetesRegistry"  # noqa: S105 - a type token, not a password


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
        app = registry_name(args)
        ns = namespace(args)
        docker_args = docker_shaped_args(args)
        child = pulumi.ResourceOptions(parent=self)
        hostname = pulumi.Output.from_input(args.get("hostname", s.DEFAULT_HOSTNAME))

        namespace_opts = child
        if args.get("create_namespace", True):
            namespace_object = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={"name": ns, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
                # Deleting a namespace deletes the claim in it: with images on a claim, both are retained.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    retain_on_delete=s.s3_args(docker_args) is None,
                    protect=args.get("protect", False) and s.s3_args(docker_args) is None,
                ),
            )
            namespace_opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace_object])
        placement = Placement(name, app, ns, args, docker_args, parent=self, child=namespace_opts)
        self._placement = placement

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
        redis_password = declare_redis(placement, args)

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
            metadata=placement.metadata(f"{app}-secret", "registry"),
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
            metadata=placement.metadata(
                app,
                "registry",
                annotations=None if role_arn is None else {"eks.amazonaws.com/role-arn": role_arn},
            ),
            automount_service_account_token=False,
            opts=namespace_opts,
        )
        claim = declare_claim(placement, args) if s3 is None else None
        deployment = declare_deployment(placement, args, checksum, registry_secret, service_account, claim, s3)
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=placement.metadata(app, "registry"),
            spec=cast(
                Any,
                {
                    "type": "ClusterIP",
                    "selector": labels(app, "registry"),
                    # Not the debug port: its /debug/vars shows the config, the Redis password included
                    # (distribution 2.8's expvar); /metrics is scraped per pod from the namespace instead.
                    "ports": [{"name": "http", "port": REGISTRY_PORT, "target_port": "http", "protocol": "TCP"}],
                },
            ),
            opts=namespace_opts,
        )
        ingress = args.get("ingress") or {}
        if ingress.get("enabled", True):
            declare_ingress(placement, ingress, hostname, tls_secret_name, service)
        if args.get("pod_disruption_budget", True) and fewest_replicas(args) >= 2:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=placement.metadata(app, "registry"),
                spec={"max_unavailable": 1, "selector": {"match_labels": labels(app, "registry")}},
                opts=namespace_opts,
            )
        scaling = autoscaling(args)
        if scaling.get("enabled", False):
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=placement.metadata(app, "registry"),
                spec=cast(
                    Any,
                    {
                        "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": app},
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
            declare_network_policies(placement, args, ingress.get("enabled", True))
        gc = args.get("garbage_collect") or {}
        if gc.get("enabled", False):
            declare_garbage_collect(placement, gc, registry_secret, claim, s3, deployment)

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
        self.namespace = pulumi.Output.from_input(ns)
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

    def _s3(self, args: KubernetesRegistryArgs) -> S3Storage | None:
        s3_args = s.s3_args(self._placement.docker_args)
        if s3_args is None:
            return None
        return declare_s3_storage(self._name, s3_args, protect=args.get("protect", False), parent=self)

    def _settings(
        self,
        hostname: pulumi.Output[str],
        bucket: pulumi.Input[str] | None,
        redis_password: pulumi.Output[str] | None,
    ) -> pulumi.Output[RegistrySettings]:
        """The Docker target's settings, with what differs on Kubernetes: http.host, Redis, the drain on SIGTERM."""
        tls_mode = s.text((self._args.get("tls") or {}).get("mode", "selfSigned"))
        scheme = "http" if tls_mode == "none" else "https"
        redis_addr = f"{self._placement.app}-redis.{self._placement.namespace}.svc:{REDIS_PORT}"
        plain = pulumi.Output.from_input(s.rendered_args(self._placement.docker_args, bucket)).apply(
            s.registry_settings
        )
        return pulumi.Output.all(plain, hostname, redis_password).apply(
            lambda values: dataclasses.replace(
                values[0],
                external_url=f"{scheme}://{values[1]}",
                drain_timeout=f"{DRAIN_SECONDS}s",
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
            metadata=self._placement.metadata(f"{self._placement.app}-tls", "registry"),
            type="kubernetes.io/tls",
            string_data=string_data,
            opts=self._placement.child,
        )
        return secret.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
