"""A self-hosted CNCF distribution registry on a Docker host."""

from components.selfhosted.registry import SelfHostedRegistry, SelfHostedRegistryArgs

__all__ = ["SelfHostedRegistry", "SelfHostedRegistryArgs"]
