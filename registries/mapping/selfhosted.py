"""registries:selfHosted config -> SelfHostedRegistryArgs (the mapping layer between the validated spec and the
component). Every value is passed explicitly, resolved as the spec resolves it (derived ports, UI TLS, major
version), so the component's own defaults never decide what a stack declares."""

from __future__ import annotations

from typing import cast

from components.selfhosted.args import (
    SelfHostedBlobCache,
    SelfHostedKeyAlgorithm,
    SelfHostedLogFormatter,
    SelfHostedLogLevel,
    SelfHostedMinimumTls,
    SelfHostedMirrorArgs,
    SelfHostedMode,
    SelfHostedNetworkMode,
    SelfHostedNotificationAction,
    SelfHostedNotificationArgs,
    SelfHostedRegistryArgs,
    SelfHostedS3Args,
    SelfHostedS3Encryption,
    SelfHostedS3StorageClass,
    SelfHostedStorageArgs,
    SelfHostedTlsArgs,
    SelfHostedTlsMode,
    SelfHostedTokenAuthArgs,
    SelfHostedUiArgs,
    SelfHostedUserArgs,
)
from registries.config.selfhosted import NotificationEndpointSpec, S3StorageSpec, SelfHostedSpec
from registries.mapping import present, revealed


def _tls_args(spec: SelfHostedSpec) -> SelfHostedTlsArgs:
    tls = spec.tls
    args: SelfHostedTlsArgs = {
        "mode": SelfHostedTlsMode(tls.mode),
        "extra_dns_names": list(tls.extra_dns_names),
        "ip_addresses": list(tls.ip_addresses),
        "key_algorithm": SelfHostedKeyAlgorithm(tls.key_algorithm),
        "validity_hours": tls.validity_hours,
        "ca_validity_hours": tls.ca_validity_hours,
        "early_renewal_hours": tls.early_renewal_hours,
        "minimum_tls": SelfHostedMinimumTls(tls.minimum_tls),
    }
    optional = present(
        certificate=revealed(tls.certificate),
        private_key=revealed(tls.private_key),
        ca_certificate=tls.ca_certificate,
    )
    return cast(SelfHostedTlsArgs, {**args, **optional})


def _user_args(spec: SelfHostedSpec) -> list[SelfHostedUserArgs]:
    users: list[SelfHostedUserArgs] = []
    for user in spec.users:
        args: SelfHostedUserArgs = {"name": user.name}
        if user.password is not None:
            args["password"] = user.password.get_secret_value()
        users.append(args)
    return users


def _s3_args(storage: S3StorageSpec) -> SelfHostedS3Args:
    if storage.bucket is None:  # the spec refuses this with every other problem; the mapping cannot invent one
        raise ValueError("registries:selfHosted.storage.bucket: required for S3 storage")
    args: SelfHostedS3Args = {
        "bucket": storage.bucket,
        "region": storage.region,
        "create": storage.create,
        "force_path_style": storage.path_style,
        "secure": storage.secure,
        "skip_verify": storage.skip_verify,
        "v4_auth": storage.v4_auth,
        "encryption": SelfHostedS3Encryption(storage.encryption),
        "chunk_size": storage.chunk_size,
        "root_directory": storage.root_directory,
        "storage_class": SelfHostedS3StorageClass(storage.storage_class),
        "multipart_copy_chunk_size": storage.multipart_copy_chunk_size,
        "multipart_copy_max_concurrency": storage.multipart_copy_max_concurrency,
        "multipart_copy_threshold_size": storage.multipart_copy_threshold_size,
        "redirect_disable": storage.redirect_disable,
        "abort_incomplete_upload_days": storage.abort_incomplete_upload_days,
    }
    optional = present(
        region_endpoint=storage.region_endpoint,
        kms_key_id=storage.kms_key_id,
        access_key=revealed(storage.access_key),
        secret_key=revealed(storage.secret_key),
        noncurrent_version_expiration_days=storage.noncurrent_version_expiration_days,
    )
    return cast(SelfHostedS3Args, {**args, **optional})


def _storage_args(spec: SelfHostedSpec) -> SelfHostedStorageArgs:
    storage = spec.storage
    purging = storage.upload_purging
    args: SelfHostedStorageArgs = {
        "delete_enabled": spec.delete_enabled,
        "upload_purging": {
            "enabled": purging.enabled,
            "age": purging.age,
            "interval": purging.interval,
            "dry_run": purging.dry_run,
        },
        "cache": SelfHostedBlobCache(storage.cache),
    }
    if isinstance(storage, S3StorageSpec):
        args["s3"] = _s3_args(storage)
    return args


def _ui_args(spec: SelfHostedSpec) -> SelfHostedUiArgs:
    ui = spec.ui
    return {
        "enabled": ui.enabled,
        "image": ui.image,
        "port": ui.port,
        "bind_address": ui.bind_address,
        "title": ui.title,
        "tls": spec.ui_serves_tls,
        "delete_images": spec.delete_images,
        "catalog_elements_limit": ui.catalog_elements_limit,
        "show_content_digest": ui.show_content_digest,
    }


def _notification_args(hook: NotificationEndpointSpec) -> SelfHostedNotificationArgs:
    args: SelfHostedNotificationArgs = {
        "name": hook.name,
        "url": hook.url,
        "headers": dict(hook.headers),
        "timeout": hook.timeout,
        "threshold": hook.threshold,
        "backoff": hook.backoff,
        "ignored_media_types": list(hook.ignored_media_types),
        "ignored_actions": [SelfHostedNotificationAction(action) for action in hook.ignored_actions],
    }
    if hook.authorization is not None:
        args["authorization"] = hook.authorization.get_secret_value()
    return args


def _mirror_args(spec: SelfHostedSpec) -> SelfHostedMirrorArgs | None:
    mirror = spec.mirror
    if spec.mode != "mirror" or mirror is None:
        return None
    args: SelfHostedMirrorArgs = {"upstream": mirror.upstream}
    if mirror.username is not None and mirror.password is not None:
        args["username"] = mirror.username
        args["password"] = mirror.password.get_secret_value()
    if mirror.client_auth != "users":
        args["client_auth"] = mirror.client_auth
    optional = present(ttl=mirror.ttl, ca_certificate=mirror.upstream_ca_certificate)
    return cast(SelfHostedMirrorArgs, {**args, **optional})


def _token_auth_args(spec: SelfHostedSpec) -> SelfHostedTokenAuthArgs | None:
    token = spec.token_auth
    if token is None:
        return None
    return {
        "realm": token.realm,
        "service": token.service,
        "issuer": token.issuer,
        "root_cert_bundle": token.root_cert_bundle,
    }


def selfhosted_args(spec: SelfHostedSpec, production: bool) -> SelfHostedRegistryArgs:
    """Map the validated `registries:selfHosted` config to the component's args; `production` protects the data
    unless the config says `protect`."""
    args: SelfHostedRegistryArgs = {
        "hostname": spec.hostname,
        "port": spec.port,
        "bind_address": spec.bind_address,
        "container_name": spec.name,
        "image": spec.image,
        "major_version": spec.registry_major,
        "network_mode": SelfHostedNetworkMode(spec.network_mode),
        "protect": spec.protect if spec.protect is not None else production,
        "tls": _tls_args(spec),
        "users": _user_args(spec),
        "password_length": spec.password_length,
        "storage": _storage_args(spec),
        "catalog_max_entries": spec.catalog_max_entries,
        "log": {"level": SelfHostedLogLevel(spec.log.level), "formatter": SelfHostedLogFormatter(spec.log.formatter)},
        "ui": _ui_args(spec),
        "notifications": [_notification_args(hook) for hook in spec.notifications],
    }
    if spec.volume_name is not None:
        args["volume_name"] = spec.volume_name
    if spec.debug_port is not None:  # published only when asked (review M1)
        args["debug_port"] = spec.debug_port
    args["mode"] = SelfHostedMode(spec.mode)
    if spec.replicas != 1:
        args["replicas"] = spec.replicas
        args["load_balancer_image"] = spec.load_balancer_image
    if spec.storage.cache == "redis":
        args["redis_image"] = spec.redis_image
    if (mirror := _mirror_args(spec)) is not None:
        args["mirror"] = mirror
        if mirror.get("client_auth") == "certificate":
            # Clients present the generated certificate: no htpasswd users (nor their generated passwords).
            del args["users"]
            del args["password_length"]
    if (token_auth := _token_auth_args(spec)) is not None:
        # The token server authenticates clients: no htpasswd users (nor their generated passwords).
        del args["users"]
        del args["password_length"]
        args["token_auth"] = token_auth
    return args
