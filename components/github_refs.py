"""The GitHub ref patterns a CI push may come from (refs/heads/<branch>, refs/tags/<tag>, `*` allowed): one rule for
the specs and components of Artifact Registry and ECR; no Pulumi import."""

from __future__ import annotations

import re

REF = re.compile(r"refs/(heads|tags)/[A-Za-z0-9._/*-]+")


def github_ref_problem(ref: str) -> str | None:
    """Why `ref` is not a ref pattern a push may come from, or None."""
    if not REF.fullmatch(ref):
        return f"{ref!r} must be refs/heads/<branch> or refs/tags/<tag> (`*` allowed)"
    if ref.removeprefix("refs/heads/").removeprefix("refs/tags/").strip("*/") == "":
        return f"{ref!r} matches every branch or tag; name the ones that may push"
    return None
