"""Run-time checks every component applies to its args (library users and the component provider bypass the config
schema): each raises ValueError whose message starts with the arg's path."""

from enum import Enum
from typing import Any


def enum_value(enum: type[Enum], value: object, where: str) -> Any:
    """The plain value of `enum`'s member `value` (given as the member or as its value); ValueError naming `where`
    and the allowed values otherwise."""
    try:
        return enum(value).value
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise ValueError(f"{where}: {value!r} must be one of {allowed}") from None
