"""A self-hosted CNCF distribution registry on a Docker host.

Every name is imported on first use (SelfHostedRegistry brings the Docker, TLS, random and AWS provider SDKs, the
args the Pulumi SDK), so the stack spec can import this package's plain modules (versions) without loading them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.selfhosted.args import (
        SelfHostedBlobCache,
        SelfHostedKeyAlgorithm,
        SelfHostedLogArgs,
        SelfHostedLogFormatter,
        SelfHostedLogLevel,
        SelfHostedMinimumTls,
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
        SelfHostedUiArgs,
        SelfHostedUploadPurgingArgs,
        SelfHostedUserArgs,
    )
    from components.selfhosted.registry import SelfHostedRegistry


def __getattr__(name: str) -> Any:
    if name == "SelfHostedRegistry":
        from components.selfhosted.registry import SelfHostedRegistry

        return SelfHostedRegistry
    if name in __all__:
        from components.selfhosted import args

        return getattr(args, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SelfHostedBlobCache",
    "SelfHostedKeyAlgorithm",
    "SelfHostedLogArgs",
    "SelfHostedLogFormatter",
    "SelfHostedLogLevel",
    "SelfHostedMinimumTls",
    "SelfHostedNetworkMode",
    "SelfHostedNotificationAction",
    "SelfHostedNotificationArgs",
    "SelfHostedRegistry",
    "SelfHostedRegistryArgs",
    "SelfHostedS3Args",
    "SelfHostedS3Encryption",
    "SelfHostedS3StorageClass",
    "SelfHostedStorageArgs",
    "SelfHostedTlsArgs",
    "SelfHostedTlsMode",
    "SelfHostedUiArgs",
    "SelfHostedUploadPurgingArgs",
    "SelfHostedUserArgs",
]
