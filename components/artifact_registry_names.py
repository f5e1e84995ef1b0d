"""Names and values Google Artifact Registry (and the IAM, KMS, Secret Manager and Pub/Sub calls around it)
accept: one definition for the stack spec (registries.config.artifact_registry) and the component's run-time checks
(components.artifact_registry); no Pulumi import."""

from __future__ import annotations

import re

from components.github_refs import github_ref_problem

# Project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter, not ending in -.
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
PROJECT_NUMBER = re.compile(r"[0-9]{6,20}")
# Artifact Registry locations: a region (europe-west1, us-central1) or a multi-region (us, europe, asia).
LOCATION = re.compile(r"us|europe|asia|[a-z]+-[a-z]+[0-9]{1,2}")
# Repository ids: lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit.
REPOSITORY_ID = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Container Registry host -> the multi-region its Artifact Registry repository lives in (transition guide).
GCR_DOMAIN_LOCATIONS = {"gcr.io": "us", "us.gcr.io": "us", "eu.gcr.io": "europe", "asia.gcr.io": "asia"}
# IAM principals in the syntax IAM policies take.
MEMBER = re.compile(
    r"(user|serviceAccount|group):[^@\s:]+@[^@\s:]+\.[a-z]{2,}|domain:[a-z0-9.-]+\.[a-z]{2,}"
    r"|principal(Set)?://iam\.googleapis\.com/\S+|allUsers|allAuthenticatedUsers"
)
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
MAX_LABELS = 64
KMS_KEY = re.compile(
    r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/locations/([a-z0-9-]+)/keyRings/[\w-]+/cryptoKeys/[\w-]+"
)
SECRET_VERSION = re.compile(r"projects/[a-z0-9-]{1,30}/secrets/[\w-]{1,255}/versions/([0-9]+|latest)")
SERVICE_ACCOUNT_EMAIL = re.compile(r"[a-z0-9-]{6,30}@[a-z0-9-]+\.iam\.gserviceaccount\.com|[\w.+-]+@[\w-]+\.[\w.-]+")
SERVICE_ACCOUNT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
POOL_ID = re.compile(r"[a-z][a-z0-9-]{2,30}[a-z0-9]")
NOTIFICATION_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")


def labels_problem(labels: dict[str, str]) -> str | None:
    """Why Google refuses these labels, or None."""
    if len(labels) > MAX_LABELS:
        return f"at most {MAX_LABELS} labels (got {len(labels)})"
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key):
            return f"key {key!r} must be 1-63 of [a-z0-9_-], starting with a lowercase letter"
        if not LABEL_VALUE.fullmatch(value):
            return f"value {value!r} of {key!r} must be 0-63 of [a-z0-9_-] (lowercase)"
    return None


__all__ = ["github_ref_problem", "labels_problem"]
