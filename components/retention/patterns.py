"""Tag patterns of the intent (and ECR's tagPatternList): full-string match, `*` = any sequence, even empty."""

from __future__ import annotations

import re
from functools import lru_cache

MAX_WILDCARDS = 4
PATTERN_CHARACTERS = re.compile(r"[0-9A-Za-z._*-]+")


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def tag_matches(pattern: str, tag: str) -> bool:
    return _compiled(pattern).fullmatch(tag) is not None


def any_tag_matches(pattern: str, tags: tuple[str, ...]) -> bool:
    return any(tag_matches(pattern, tag) for tag in tags)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid tag pattern, or None when it is."""
    if not PATTERN_CHARACTERS.fullmatch(pattern):
        return "must be a non-empty pattern of the characters [0-9A-Za-z._*-]"
    if pattern.count("*") > MAX_WILDCARDS:
        return f"may contain at most {MAX_WILDCARDS} `*` wildcards"
    return None


def prefix_of(pattern: str) -> str | None:
    """The prefix P when `pattern` is `P*` (P without `*`), so it matches exactly the tags starting with P."""
    if pattern.endswith("*") and "*" not in pattern[:-1]:
        return pattern[:-1]
    return None
