"""The self-hosted registry's plain settings from stack config, as the program maps it (spec -> args -> settings)."""

from __future__ import annotations

from typing import Any

from components.selfhosted.config_file import RegistrySettings, render_registry_config
from components.selfhosted.settings import registry_settings
from registries.config.selfhosted import SelfHostedSpec
from registries.mapping.selfhosted import selfhosted_args


def settings_of(spec: SelfHostedSpec | dict[str, Any]) -> RegistrySettings:
    """The settings the renderers get for `spec` (a validated spec, or its camelCase config)."""
    validated = spec if isinstance(spec, SelfHostedSpec) else SelfHostedSpec.model_validate(spec)
    return registry_settings(selfhosted_args(validated, production=False))


def rendered_config(spec: SelfHostedSpec | dict[str, Any]) -> str:
    """config.yml for `spec`."""
    return render_registry_config(settings_of(spec))
