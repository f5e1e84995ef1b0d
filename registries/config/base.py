"""Shared pieces of the stack config models: camelCase keys, forbidden extras, ConfigError."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT", bound=Hashable)

# Key names whose values are never echoed back in an error message.
SECRET_KEY_NAMES = frozenset(
    {"password", "privateKey", "certificate", "authorization", "secret", "token", "secretKey", "accessKey"}
)


def is_production_stack(stack: str) -> bool:
    """Stacks named prod* get protected data and refuse destructive defaults (the one rule for it)."""
    return stack.startswith("prod")


class CamelModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable, and strict types.

    Strict: config arrives as JSON, so a number, a boolean and a string are already what they mean;
    lax mode would turn "yes" into true, 70000 into a 1970 datetime and "5000" into a port. Validate
    with `model_validate_json` (see `validate_section`) so ISO 8601 strings still become datetimes."""

    model_config = ConfigDict(
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid key: where it is, what was given, what is allowed."""

    path: str
    value: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.path}: {self.allowed} (got {self.value})"


class ConfigError(ValueError):
    """The stack config is invalid. Lists every invalid key; raised before any resource is declared."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack config ({len(self.problems)} problem(s)):\n{lines}")

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.problems]


def repeated(values: Iterable[Hashable]) -> Iterator[int]:
    """Indices of the values that already occurred earlier in `values`."""
    seen: set[Hashable] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index
        seen.add(value)


def repeated_problems(path: str, values: Sequence[Hashable], allowed: str) -> list[ConfigProblem]:
    """A ConfigProblem for each value that repeats an earlier one; `path` has `{}` where the index goes."""
    return [ConfigProblem(path.format(index), repr(values[index]), allowed) for index in repeated(values)]


def pattern(regex: re.Pattern[str], allowed: str) -> AfterValidator:
    """A field validator: the whole string matches `regex`, else `allowed` (pydantic adds the key and value)."""

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(allowed)
        return value

    return AfterValidator(check)


def unique(values: list[ItemT]) -> list[ItemT]:
    """A list validator: no entry twice."""
    for index in repeated(values):
        raise ValueError(f"[{index}] repeats {values[index]!r}; each entry may appear once")
    return values


# What a value of the wrong JSON type should have been, in the words of a YAML/JSON config.
_TYPE_ALLOWED = {
    "int_type": "must be an integer (a number without quotes or decimals)",
    "float_type": "must be a number without quotes",
    "bool_type": "must be true or false (a boolean without quotes, not 'yes' or 1)",
    "string_type": (
        "must be a string (quote numbers and booleans meant as text; with `pulumi config set --path`, add "
        "--type string)"
    ),
    "datetime_type": "must be an ISO 8601 date-time string with a time zone, e.g. '2027-01-31T00:00:00Z'",
    "list_type": "must be a list",
    "dict_type": "must be an object (a YAML mapping)",
    "model_type": "must be an object (a YAML mapping)",
}


def validate_section(model: type[ModelT], value: Any) -> ModelT:
    """Validate one config section as the JSON it is (strict types; ISO strings become datetimes).

    Values that are not JSON (a YAML date read by `registryctl validate`) are passed as strings."""
    return model.model_validate_json(json.dumps(value, default=str))


# The plain fields of a webhook or notification of any section (names, event filters, delivery tuning).
_HOOK_PLAIN_FIELDS = frozenset({
    "name", "actions", "events", "scope", "enabled", "repositories", "timeout", "threshold", "backoff",
    "ignoredMediaTypes", "ignoredActions", "maxDeliveryAttempts",
})  # fmt: skip
# Subtrees whose items carry a receiver's secret (a hook URL with a token, a header value, a login): every value
# at or under an item is secret unless its key is one of that subtree's known plain fields, so a new or mistyped
# field there is hidden by default.
_SECRET_SUBTREE_PLAIN_FIELDS: dict[str, frozenset[str]] = {
    "webhooks": _HOOK_PLAIN_FIELDS,
    "notifications": _HOOK_PLAIN_FIELDS,
    "customHeaders": frozenset(),  # a header value put under `name` is still a header value
    "headers": frozenset(),
    "authHeader": frozenset(),
    "credentials": frozenset({"passwordSecretVersion"}),  # Artifact Registry's: a Secret Manager name, not the secret
}


# Fragments of key names that hold a secret, to hide the value of an unknown key such as `apiToken` or `passwd`.
_SECRET_NAME_FRAGMENTS = ("pass", "pwd", "token", "secret", "auth", "cred", "private", "apikey")


def _secret_like(key: str) -> bool:
    """Whether an unknown key's name looks like a secret one, misspelled (`pasword`, `tokn`) or not."""
    lower = key.lower()
    return any(fragment in lower for fragment in _SECRET_NAME_FRAGMENTS) or any(
        SequenceMatcher(None, lower, name.lower()).ratio() >= 0.75 for name in SECRET_KEY_NAMES
    )


def _is_secret_path(loc: Sequence[str | int], unknown_key: bool = False) -> bool:
    if any(part in SECRET_KEY_NAMES for part in loc if isinstance(part, str)):
        return True
    if unknown_key and isinstance(loc[-1], str) and _secret_like(loc[-1]):
        return True
    for index, part in enumerate(loc):
        plain = _SECRET_SUBTREE_PLAIN_FIELDS.get(part) if isinstance(part, str) else None
        if plain is None:
            continue
        below = [p for p in loc[index + 1 :] if isinstance(p, str)]
        # Secret unless exactly one known plain key (or a plain list's item) below the subtree's item.
        if not (len(below) == 1 and below[0] in plain):
            return True
    return False


def _show(value: object, secret: bool) -> str:
    if secret:
        return "a secret value (not shown)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation_error(
    root: str, error: ValidationError, union_tags: frozenset[str] = frozenset()
) -> list[ConfigProblem]:
    """Turn pydantic's errors into ConfigProblems whose paths use the config's own key names.

    `union_tags` are the tags of discriminated unions, which pydantic puts in the location."""
    problems: list[ConfigProblem] = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if part not in ("function-after", "function-before", *union_tags)]
        path = root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        kind = item["type"]
        if kind == "union_tag_invalid":  # our discriminated unions are keyed by `kind`
            path += ".kind"
            ctx = item.get("ctx") or {}
            allowed = f"must be one of {ctx.get('expected_tags')}"
            problems.append(ConfigProblem(path=path, value=repr(ctx.get("tag")), allowed=allowed))
            continue
        if kind == "extra_forbidden":
            allowed = "unknown key; check its spelling against Pulumi.yaml"
        elif kind == "missing":
            allowed = "required key is missing"
        elif kind in _TYPE_ALLOWED:
            allowed = _TYPE_ALLOWED[kind]
        else:
            allowed = item["msg"].removeprefix("Value error, ")
        value = (
            "nothing"
            if kind == "missing"
            else _show(item.get("input"), _is_secret_path(loc, kind == "extra_forbidden"))
        )
        problems.append(ConfigProblem(path=path, value=value, allowed=allowed))
    return problems
