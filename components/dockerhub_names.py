"""Docker Hub naming rules and the child resource names of the DockerHub component (pure, no Pulumi import).

The resource names are part of users' state (URNs): they never change. The config schema reports two entries that
would get one name before any resource is declared; the component refuses them too."""

import re

# Docker IDs and organisation names: 4-30 lowercase letters and digits.
NAMESPACE = r"^[a-z0-9]{4,30}$"
# Hub's repository naming rule (2-255 characters).
REPOSITORY_NAME = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"


def urn_part(text: str) -> str:
    """How a free-text name (token label, webhook name) appears in a resource name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def token_resource_name(label: str) -> str:
    return urn_part(label)


def org_token_resource_name(org: str, label: str) -> str:
    return f"{org}-{urn_part(label)}"


def webhook_resource_name(namespace: str, repository: str, hook: str) -> str:
    return f"{namespace}-{repository}-{urn_part(hook)}"


def permission_resource_name(org: str, repository: str, team: str) -> str:
    return f"{org}-{repository}-{team}"
