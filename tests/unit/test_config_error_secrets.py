"""A config error never echoes a value from a secret-bearing subtree (webhooks, notifications, headers,
credentials) nor an unknown key's value, whatever shape the mistake takes: through `load_stack_spec` and through
`registryctl validate` (stderr and stdout)."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from registries.config import SECTIONS, ConfigError, load_stack_spec
from registries.config.base import _is_secret_path  # pyright: ignore[reportPrivateUsage]
from registryctl.cli import EXIT_CONFIG, main

SECRET = "leakme-7f3a9c"
HOOK = f"https://hooks.example.com/h?token={SECRET}"

AR = {"project": "acme-registries", "location": "europe-west1", "repositories": [{"name": "apps"}]}
ACR = {"resourceGroup": {"name": "rg"}, "name": "acme12345", "sku": "Basic"}
ECR = {"region": "eu-west-1", "repositories": [{"name": "team/api"}]}
HUB = {"namespace": "acme"}
SELF = {"name": "reg"}


def _acr_hook(**extra: Any) -> dict[str, Any]:
    return {"name": "cihook1", "url": "{secure}", "actions": ["push"], **extra}


# (case id, section, the section's config, the path the error must name)
SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    ("ar-notification-string", "artifactRegistry", {**AR, "notifications": [HOOK]}, "notifications[0]"),
    (
        "ar-notification-misspelled-url",
        "artifactRegistry",
        {**AR, "notifications": [{"name": "deploy", "uri": HOOK}]},
        "notifications[0].uri",
    ),
    (
        "ar-notification-mistyped-oidc",
        "artifactRegistry",
        {**AR, "notifications": [{"name": "deploy", "url": "x", "oidc": HOOK}]},
        "notifications[0].oidc",
    ),
    ("acr-webhook-string", "acr", {**ACR, "webhooks": [HOOK]}, "webhooks[0]"),
    (
        "acr-header-value-in-name",
        "acr",
        {**ACR, "webhooks": [_acr_hook(customHeaders=[{"name": f"Bearer {SECRET}", "secret": "x"}])]},
        "webhooks[0].customHeaders[0].name",
    ),
    (
        "acr-header-misspelled-secret",
        "acr",
        {**ACR, "webhooks": [_acr_hook(customHeaders=[{"name": "X-Token", "value": SECRET}])]},
        "webhooks[0].customHeaders[0].value",
    ),
    (
        "hub-webhook-string",
        "dockerHub",
        {**HUB, "repositories": [{"name": "api", "webhooks": [HOOK]}]},
        "repositories[0].webhooks[0]",
    ),
    (
        "hub-webhook-misspelled-url",
        "dockerHub",
        {**HUB, "repositories": [{"name": "api", "webhooks": [{"name": "ci", "uri": HOOK}]}]},
        "repositories[0].webhooks[0].uri",
    ),
    ("ecr-notification-string", "ecr", {**ECR, "notifications": [HOOK]}, "notifications[0]"),
    (
        "ecr-auth-header-value-in-name",
        "ecr",
        {
            **ECR,
            "notifications": [
                {"name": "ci", "url": "x", "events": ["push"], "authHeader": {"name": f"Bearer {SECRET}", "token": "x"}}
            ],
        },
        "notifications[0].authHeader.name",
    ),
    (
        "ecr-credentials-misspelled-token",
        "ecr",
        {
            **ECR,
            "pullThroughCache": [
                {"prefix": "dockerhub", "upstream": "docker-hub", "credentials": {"username": "u", "tokn": SECRET}}
            ],
        },
        "pullThroughCache[0].credentials.tokn",
    ),
    ("selfhosted-notification-string", "selfHosted", {**SELF, "notifications": [HOOK]}, "notifications[0]"),
    (
        "selfhosted-notification-misspelled-authorization",
        "selfHosted",
        {**SELF, "notifications": [{"name": "ci", "url": "https://h.example.com", "authorisation": SECRET}]},
        "notifications[0].authorisation",
    ),
    (
        "selfhosted-mirror-misspelled-password",
        "selfHosted",
        {**SELF, "mode": "mirror", "mirror": {"username": "bot", "pasword": SECRET}},
        "mirror.pasword",
    ),
]


@pytest.mark.parametrize(("section", "config", "path"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_load_stack_spec_never_shows_the_secret(section: str, config: dict[str, Any], path: str, tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({section: config}, "dev", tmp_path)
    assert f"registries:{section}.{path}" in caught.value.paths
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(("section", "config", "path"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_registryctl_validate_never_shows_the_secret(
    section: str, config: dict[str, Any], path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    stack_file = tmp_path / "stacks" / "Pulumi.dev.yaml"
    stack_file.parent.mkdir()
    stack_file.write_text(yaml.safe_dump({"config": {f"registries:{section}": config}}))
    assert main(["validate", "--stack-file", str(stack_file)]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert f"registries:{section}.{path}" in captured.err
    assert SECRET not in captured.err + captured.out


def _secret_fields(model: type[BaseModel], loc: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The config path (list items as [0]) of every SecretStr field under `model`."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        stack: list[tuple[Any, tuple[str | int, ...]]] = [(field.annotation, (*loc, key))]
        while stack:
            annotation, where = stack.pop()
            if annotation is SecretStr:
                yield where
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _secret_fields(annotation, where)
            else:
                item = (*where, 0) if typing.get_origin(annotation) is list else where
                stack.extend((arg, item) for arg in typing.get_args(annotation))


def test_every_secret_field_of_every_section_is_hidden_in_errors():
    """A secret field added to any section is hidden by the rule (or the rule must be extended)."""
    paths = [(section, loc) for section, model in SECTIONS.items() for loc in _secret_fields(model)]
    assert len(paths) >= 12  # the walk finds them: hook URLs, header values, tokens, passwords, keys
    assert [f"{section}{list(loc)}" for section, loc in paths if not _is_secret_path(loc)] == []
