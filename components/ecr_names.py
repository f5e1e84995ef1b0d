"""Names and values ECR (and the IAM and replication calls around it) accept: one definition for the stack spec
(registries.config.ecr) and the component's run-time checks (components.ecr); no Pulumi import."""

from __future__ import annotations

import re

# AWS region names: partition prefix, geography, number (us-east-1, eu-central-2, us-gov-west-1, cn-north-1).
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")
# ECR's repository name pattern (CreateRepository API), 2 to 256 characters.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
# ECR's exclusion filter pattern: [0-9a-zA-Z._*-]{1,128}, at most 2 `*` wildcards (pulumi-aws docs).
MUTABLE_TAG_FILTER = re.compile(r"[0-9a-zA-Z._*-]{1,128}")
MAX_FILTER_WILDCARDS = 2
MAX_MUTABLE_TAG_FILTERS = 5
# An account id, or an IAM principal ARN (account root, user, role) in any partition.
PRINCIPAL = re.compile(r"[0-9]{12}|arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(user|role)/[\w+=,.@/-]{1,512})")
# Registry scanning filters: lowercase repository name characters and `*` wildcards.
SCAN_FILTER = re.compile(r"[a-z0-9*][a-z0-9*._/-]{0,255}")
# Replication filters are name prefixes (PREFIX_MATCH).
REPLICATION_FILTER = re.compile(r"[a-z0-9][a-z0-9._/-]{0,255}")
PTC_PREFIX = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def tag_filter_problem(value: str) -> str | None:
    """Why ECR refuses `value` as an image tag mutability exclusion filter, or None."""
    if not MUTABLE_TAG_FILTER.fullmatch(value):
        return "must be 1-128 of the characters [0-9A-Za-z._*-] (ECR wildcard filter, not a regex)"
    if value.count("*") > MAX_FILTER_WILDCARDS:
        return f"may contain at most {MAX_FILTER_WILDCARDS} `*` wildcards"
    return None
