"""Read `registryctl retention simulate` output: {"expire": [{repository, digest, tags, rule}], "keep": [...]}."""

from __future__ import annotations

import json
from typing import Any


def digests(stdout: str) -> dict[str, list[str]]:
    """The expire and keep digests, each sorted (for tests whose images all sit in one repository)."""
    document: dict[str, list[dict[str, Any]]] = json.loads(stdout)
    return {action: sorted(entry["digest"] for entry in document[action]) for action in ("expire", "keep")}
