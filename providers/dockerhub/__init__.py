"""Docker Hub: an API client and Pulumi dynamic providers over it."""

from providers.dockerhub.client import Credentials, HubClient, HubError, HubNotFound
from providers.dockerhub.resources import (
    AccessToken,
    OrgAccessToken,
    Repository,
    RepositoryTeamPermission,
    Team,
    Webhook,
)

__all__ = [
    "AccessToken",
    "Credentials",
    "HubClient",
    "HubError",
    "HubNotFound",
    "OrgAccessToken",
    "Repository",
    "RepositoryTeamPermission",
    "Team",
    "Webhook",
]
