"""Reading a native policy document (parsed JSON) field by field; every error names the field's path."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from components.retention.model import PolicyError


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_object(value: object, path: str, allowed_keys: Collection[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(path, f"must be a JSON object (got {_show(value)})")
    for key in value:
        if key not in allowed_keys:
            raise PolicyError(f"{path}.{key}", f"unknown field; allowed: {', '.join(sorted(allowed_keys))}")
    return value


def required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise PolicyError(f"{path}.{key}", "required field is missing")
    return obj[key]


def as_int(value: object, path: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise PolicyError(path, f"must be an integer >= {minimum} (got {_show(value)})")
    return value


def as_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(path, f"must be true or false (got {_show(value)})")
    return value


def as_choice(value: object, path: str, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise PolicyError(path, f"must be one of {', '.join(choices)} (got {_show(value)})")
    return value


def as_str(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError(path, f"must be a non-empty string (got {_show(value)})")
    return value


def as_str_list(value: object, path: str, min_items: int = 0) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) < min_items:
        raise PolicyError(path, f"must be a list of at least {min_items} string(s) (got {_show(value)})")
    return tuple(as_str(item, f"{path}[{index}]") for index, item in enumerate(value))
