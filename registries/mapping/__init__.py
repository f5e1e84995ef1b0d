"""The mapping layer: one module per registry kind turns the validated spec into its component's Args."""

from typing import Any

from pydantic import SecretStr


def present(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are not None: an optional arg is left out rather than passed as None."""
    return {key: value for key, value in values.items() if value is not None}


def revealed(value: SecretStr | None) -> str | None:
    """The secret's value for a component arg (which the component wraps as a Pulumi secret), or None."""
    return value.get_secret_value() if value is not None else None
