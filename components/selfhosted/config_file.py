"""Render the registry's one complete config.yml from the validated spec (pure, no Pulumi)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from registries.spec.selfhosted import S3StorageSpec, SelfHostedSpec

DATA_DIR = "/var/lib/registry"
HTPASSWD_PATH = "/auth/htpasswd"
CERT_PATH = "/certs/server.crt"
KEY_PATH = "/certs/server.key"
REGISTRY_ALIAS = "registry"
"""The registry's name on its Docker network (the UI proxies to it; a SAN of the generated certificate)."""
PRIVATE_FILE_MODE = "0400"
"""Keys, htpasswd and config.yml (it may hold webhook Authorization headers): the registry runs as root."""
PUBLIC_FILE_MODE = "0444"
"""Certificates."""


@dataclass(frozen=True)
class RegistryLayout:
    """Where a registry major version reads its config, and how its container listens."""

    config_path: str
    listen_addr: str
    debug_addr: str


def registry_layout(spec: SelfHostedSpec) -> RegistryLayout:
    # v3 moved the config; host networking listens on the host's own address and port.
    config_path = "/etc/distribution/config.yml" if spec.registry_major == 3 else "/etc/docker/registry/config.yml"
    if spec.network_mode == "host":
        # On the host's loopback only: the debug server also serves pprof and expvar.
        return RegistryLayout(config_path, f"{spec.bind_address}:{spec.port}", f"127.0.0.1:{spec.debug_listen_port}")
    # Bridge: all container interfaces, so the port published on the host's 127.0.0.1 reaches it.
    return RegistryLayout(config_path, ":5000", f":{spec.debug_listen_port}")


def health_url(spec: SelfHostedSpec) -> str:
    """The debug server's health endpoint, checked from inside the container."""
    return f"http://127.0.0.1:{spec.debug_listen_port}/debug/health"


def _notification_endpoint(spec: SelfHostedSpec, index: int, authorization: str | None) -> dict[str, Any]:
    hook = spec.notifications[index]
    headers: dict[str, list[str]] = {k: [v] for k, v in sorted(hook.headers.items())}
    if authorization is not None:
        headers["Authorization"] = [authorization]
    endpoint: dict[str, Any] = {
        "name": hook.name,
        "url": hook.url,
        "headers": headers,
        "timeout": hook.timeout,
        "threshold": hook.threshold,
        "backoff": hook.backoff,
    }
    if hook.ignored_media_types or hook.ignored_actions:
        endpoint["ignore"] = {"mediatypes": list(hook.ignored_media_types), "actions": list(hook.ignored_actions)}
    return endpoint


def _driver_key(spec: SelfHostedSpec) -> str:
    return "s3" if isinstance(spec.storage, S3StorageSpec) else "filesystem"


def _driver_settings(spec: SelfHostedSpec, bucket: str | None) -> dict[str, Any]:
    storage = spec.storage
    if not isinstance(storage, S3StorageSpec):
        return {"rootdirectory": DATA_DIR, "maxthreads": 100}
    name = bucket or storage.bucket
    if not name:
        raise ValueError("render_registry_config needs the bucket name of S3 storage")
    s3: dict[str, Any] = {"region": storage.region, "bucket": name}
    if storage.region_endpoint is not None:
        s3["regionendpoint"] = storage.region_endpoint
    # v2.8 infers path style from a custom endpoint; v3 needs it said (distribution#4528).
    if storage.path_style:
        s3["forcepathstyle"] = True
    # distribution sends `encrypt` without `keyid` as x-amz-server-side-encryption: AES256 (s3-aws
    # getEncryptionMode), so aws:kms without a key, and none, send no header: the bucket default applies.
    per_object_sse = storage.encryption == "AES256" or storage.kms_key_id is not None
    s3.update(
        {
            "encrypt": per_object_sse,
            "secure": storage.secure,
            "skipverify": storage.skip_verify,
            "v4auth": storage.v4_auth,
            "chunksize": storage.chunk_size,
            "multipartcopychunksize": storage.multipart_copy_chunk_size,
            "multipartcopymaxconcurrency": storage.multipart_copy_max_concurrency,
            "multipartcopythresholdsize": storage.multipart_copy_threshold_size,
            "rootdirectory": storage.root_directory,
            "storageclass": storage.storage_class,
        }
    )
    if storage.encryption == "aws:kms" and storage.kms_key_id is not None:
        s3["keyid"] = storage.kms_key_id
    return s3


def render_registry_config(
    spec: SelfHostedSpec,
    notification_authorizations: Mapping[str, str] | None = None,
    bucket: str | None = None,
) -> str:
    """The complete config.yml. Only http.secret and storage credentials stay out of it (they go by env).

    `bucket` is the S3 bucket name when the program creates the bucket (an output of that resource).
    `notification_authorizations` maps an endpoint name to its Authorization header value; it makes
    the result secret-bearing, so the caller renders inside an Output that carries the secret.
    """
    auths = notification_authorizations or {}
    layout = registry_layout(spec)
    storage = spec.storage
    tls = spec.tls.mode != "none"
    scheme = "https" if tls else "http"

    headers: dict[str, list[str]] = {"X-Content-Type-Options": ["nosniff"]}
    # HSTS would make browsers upgrade a plain-HTTP UI on the same host to https, where nothing answers.
    if tls and not (spec.ui.enabled and not spec.ui_serves_tls):
        headers["Strict-Transport-Security"] = ["max-age=31536000"]
    http: dict[str, Any] = {
        "addr": layout.listen_addr,
        "host": f"{scheme}://{spec.endpoint}",
        "headers": headers,
        "debug": {"addr": layout.debug_addr, "prometheus": {"enabled": True, "path": "/metrics"}},
    }
    if tls:
        http["tls"] = {"certificate": CERT_PATH, "key": KEY_PATH, "minimumtls": spec.tls.minimum_tls}

    storage_map: dict[str, Any] = {
        _driver_key(spec): _driver_settings(spec, bucket),
        "delete": {"enabled": storage.delete_enabled},
        "maintenance": {
            "uploadpurging": {
                "enabled": storage.upload_purging.enabled,
                "age": storage.upload_purging.age,
                "interval": storage.upload_purging.interval,
                "dryrun": storage.upload_purging.dry_run,
            },
            "readonly": {"enabled": False},
        },
    }
    if isinstance(storage, S3StorageSpec) and storage.redirect_disable:
        storage_map["redirect"] = {"disable": True}
    if storage.cache != "none":
        storage_map["cache"] = {"blobdescriptor": storage.cache}

    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": spec.log.level, "formatter": spec.log.formatter, "fields": {"service": "registry"}},
        "storage": storage_map,
        "http": http,
        "auth": {"htpasswd": {"realm": f"{spec.name} registry", "path": HTPASSWD_PATH}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
        "catalog": {"maxentries": spec.catalog_max_entries},
    }
    if spec.notifications:
        config["notifications"] = {
            "events": {"includereferences": True},
            "endpoints": [
                _notification_endpoint(spec, i, auths.get(hook.name)) for i, hook in enumerate(spec.notifications)
            ],
        }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
