"""The `retention` block shared by every registry kind, validated, and mapped to the plain RetentionIntent that the
pure retention library (components/retention) evaluates and compiles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator

from components.retention.model import KeepLatest, RetentionIntent
from components.retention.patterns import pattern_problem
from registries.config.base import CamelModel, ConfigError, ConfigProblem, problems_from_validation_error, repeated

MAX_KEEP_LATEST_RULES = 10


def _check_pattern(pattern: str) -> str:
    if problem := pattern_problem(pattern):
        raise ValueError(problem)
    return pattern


TagPattern = Annotated[str, AfterValidator(_check_pattern)]


class KeepLatestRule(CamelModel):
    """Of the images with a tag matching `tag`, keep the newest `count`; delete the others this rule governs."""

    tag: TagPattern
    """Tag pattern: full match, `*` matches any sequence, at most 4 `*`, characters [0-9A-Za-z._*-]."""
    count: int = Field(ge=1)
    """How many of the newest matching images to keep (>= 1)."""


class RetentionSpec(CamelModel):
    """Which images to delete, as an ordered rule list: protect, keepLatest, untaggedDays, taggedDays."""

    protect: list[TagPattern] = []
    """Tag patterns whose images are never deleted."""
    keep_latest: list[KeepLatestRule] = Field(default=[], max_length=MAX_KEEP_LATEST_RULES)
    """Per rule: of the images with a tag matching `tag`, keep the newest `count` (at most 10 rules)."""
    untagged_days: int | None = Field(default=None, ge=1)
    """Delete untagged images pushed more than this many days ago (>= 1); unset: keep them."""
    tagged_days: int | None = Field(default=None, ge=1)
    """Delete tagged images no earlier rule governs, pushed more than this many days ago (>= 1); unset: keep."""

    @field_validator("protect")
    @classmethod
    def _unique_protect(cls, patterns: list[str]) -> list[str]:
        for index in repeated(patterns):
            raise ValueError(f"protect[{index}] repeats the pattern {patterns[index]!r}; each pattern may appear once")
        return patterns

    @field_validator("keep_latest")
    @classmethod
    def _unique_keep_latest(cls, rules: list[KeepLatestRule], info: ValidationInfo) -> list[KeepLatestRule]:
        protect: list[str] = info.data.get("protect", [])
        patterns = [*protect, *(rule.tag for rule in rules)]
        for index in repeated(patterns):
            if index >= len(protect):
                where = f"keepLatest[{index - len(protect)}].tag"
                raise ValueError(f"{where} repeats the pattern {patterns[index]!r}; each pattern may appear once")
        return rules

    def intent(self) -> RetentionIntent:
        return RetentionIntent(
            protect=tuple(self.protect),
            keep_latest=tuple(KeepLatest(rule.tag, rule.count) for rule in self.keep_latest),
            untagged_days=self.untagged_days,
            tagged_days=self.tagged_days,
        )


def load_retention(data: Mapping[str, Any] | Any, root: str = "retention") -> RetentionIntent:
    """Validate a `retention` block; ConfigError naming every bad key (under `root`), its value and what is allowed."""
    try:
        return RetentionSpec.model_validate(data).intent()
    except ValidationError as error:
        raise ConfigError(problems_from_validation_error(root, error)) from None


__all__ = ["ConfigError", "ConfigProblem", "KeepLatestRule", "RetentionSpec", "load_retention"]
