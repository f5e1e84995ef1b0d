"""What every object of the Kubernetes registry shares: labels, metadata, security contexts, the config volume
and the registry's environment, from one Placement (the component's name, namespace and args).

No `from __future__ import annotations` here, as in the rest of the component.
"""

import dataclasses
import hashlib
from typing import Any

import pulumi

from components.kubernetes.args import KubernetesRegistryArgs
from components.selfhosted import settings as s
from components.selfhosted.args import SelfHostedRegistryArgs
from components.selfhosted.config_file import config_path
from components.selfhosted.s3_storage import S3Storage


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


def security_context(uid: int) -> dict[str, Any]:
    """The pod security context: a fixed non-root UID/GID/fsGroup, RuntimeDefault seccomp."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """Every container's security context: no escalation, read-only root filesystem, no capabilities."""
    return {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the component's objects go: the Pulumi names' prefix, the registry's (app) name and namespace, its args,
    the component as parent, and the options of a child that needs the namespace."""

    name: str
    """The component's Pulumi name: each child's Pulumi name starts with it."""
    app: str
    """The registry's name (a DNS label): the objects' names and the `instance` label."""
    namespace: str
    args: KubernetesRegistryArgs
    docker_args: SelfHostedRegistryArgs
    parent: pulumi.Resource
    child: pulumi.ResourceOptions
    """parent, and depends_on the namespace when the component declares it."""

    def metadata(self, object_name: str, component: str, annotations: dict[str, Any] | None = None) -> Any:
        """ObjectMeta (as the dict pulumi-kubernetes takes) of an object of `component`."""
        metadata: dict[str, Any] = {
            "name": object_name,
            "namespace": self.namespace,
            "labels": {**labels(self.app, component), "app.kubernetes.io/managed-by": "pulumi"},
        }
        if annotations:
            metadata["annotations"] = annotations
        return metadata

    def redis_enabled(self) -> bool:
        return (self.args.get("redis") or {}).get("enabled", False)

    def registry_env(self, s3: S3Storage | None, with_http_secret: bool) -> list[dict[str, Any]]:
        """The registry's environment: the HTTP secret and S3 keys from the Secret, tracing off on 3.x."""
        secret_name = f"{self.app}-secret"

        def from_secret(var: str, key: str) -> dict[str, Any]:
            return {"name": var, "value_from": {"secret_key_ref": {"name": secret_name, "key": key}}}

        env = [from_secret("REGISTRY_HTTP_SECRET", "http-secret")] if with_http_secret else []
        if s3 is not None and s3.access_key_id is not None:
            # Only credentials go by env: REGISTRY_STORAGE=s3 would replace the whole storage map.
            env += [
                from_secret("REGISTRY_STORAGE_S3_ACCESSKEY", "s3-access-key"),
                from_secret("REGISTRY_STORAGE_S3_SECRETKEY", "s3-secret-key"),
            ]
        if s.major_version(self.docker_args) == 3:
            env.append({"name": "OTEL_TRACES_EXPORTER", "value": "none"})
        return env

    def config_volume(self, key: str) -> dict[str, Any]:
        """The config volume serving `key` of the registry's Secret as config.yml."""
        # 0440 with fsGroup: readable by the registry's group only.
        return {
            "name": "config",
            "secret": {
                "secret_name": f"{self.app}-secret",
                "items": [{"key": key, "path": "config.yml"}],
                "default_mode": 0o440,
            },
        }

    def config_mount(self) -> dict[str, Any]:
        return {
            "name": "config",
            "mount_path": config_path(s.major_version(self.docker_args)).rsplit("/", 1)[0],
            "read_only": True,
        }
