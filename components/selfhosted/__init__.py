"""A self-hosted CNCF distribution registry on a Docker host.

SelfHostedRegistry (and with it the Docker, TLS, random and AWS provider SDKs) is imported on first use, so the
stack spec can import this package's plain modules (versions, args) without loading any provider SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from components.selfhosted.registry import SelfHostedRegistry


def __getattr__(name: str) -> Any:
    if name == "SelfHostedRegistry":
        from components.selfhosted.registry import SelfHostedRegistry

        return SelfHostedRegistry
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
