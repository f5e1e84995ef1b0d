"""`registries:dockerHub` refuses malformed values by name, instead of reading them loosely.

Found by mutating the example stacks: `expiresAt: 70000` was accepted (pydantic read the number as
a Unix time, a token that expired in 1970), and `private: "no"` became False. Every typed key of
the Docker Hub config is exercised below with a value of the wrong kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec

ROOT = "registries:dockerHub"
TOKEN = {"label": "ci", "scopes": ["repo:read"]}
ORG_TOKEN = {"org": "acme", "label": "ci", "resources": [{"path": "acme/app", "scopes": ["scope-image-pull"]}]}


def hub(**extra: Any) -> dict[str, Any]:
    return {"namespace": "acme", **extra}


def problems(config: dict[str, Any], base_dir: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"dockerHub": config}, stack="dev", base_dir=base_dir)
    return {p.path: p.allowed for p in caught.value.problems}


# (config, the key that must be named, words the message must contain)
MALFORMED: list[tuple[dict[str, Any], str, str]] = [
    # Dates: a string with a zone; never a number (in the future: the providers' check, at creation).
    (hub(accessTokens=[{**TOKEN, "expiresAt": 70000}]), "accessTokens[0].expiresAt", "date-time string"),
    (hub(accessTokens=[{**TOKEN, "expiresAt": 1.9e9}]), "accessTokens[0].expiresAt", "date-time string"),
    (hub(accessTokens=[{**TOKEN, "expiresAt": "2031-01-01T00:00:00"}]), "accessTokens[0].expiresAt", "time zone"),
    (hub(accessTokens=[{**TOKEN, "expiresAt": "2031-01-01"}]), "accessTokens[0].expiresAt", "time zone"),
    (hub(accessTokens=[{**TOKEN, "expiresAt": "next year"}]), "accessTokens[0].expiresAt", "ISO 8601"),
    (hub(accessTokens=[{**TOKEN, "expiresAt": True}]), "accessTokens[0].expiresAt", "date-time string"),
    (hub(orgAccessTokens=[{**ORG_TOKEN, "expiresAt": 70000}]), "orgAccessTokens[0].expiresAt", "date-time string"),
    # Booleans: true or false, not strings or numbers.
    (hub(repositories=[{"name": "app", "private": "no"}]), "repositories[0].private", "true or false"),
    (hub(repositories=[{"name": "app", "private": 0}]), "repositories[0].private", "true or false"),
    (hub(repositories=[{"name": "app", "protect": "yes"}]), "repositories[0].protect", "true or false"),
    (
        hub(repositories=[{"name": "app", "immutableTags": {"enabled": "true"}}]),
        "repositories[0].immutableTags.enabled",
        "true or false",
    ),
    (hub(accessTokens=[{**TOKEN, "active": "false"}]), "accessTokens[0].active", "true or false"),
    (hub(orgAccessTokens=[{**ORG_TOKEN, "active": 1}]), "orgAccessTokens[0].active", "true or false"),
    # Strings: not numbers.
    ({"namespace": 1234}, "namespace", "must be a string"),
    (hub(username=42), "username", "must be a string"),
    (hub(baseUrl=8080), "baseUrl", "must be a string"),
    (hub(repositories=[{"name": 42}]), "repositories[0].name", "must be a string"),
    (hub(repositories=[{"name": "app", "description": 7}]), "repositories[0].description", "must be a string"),
    (hub(repositories=[{"name": "app", "fullDescription": 7}]), "repositories[0].fullDescription", "must be a string"),
    (
        hub(repositories=[{"name": "app", "fullDescriptionFile": 7}]),
        "repositories[0].fullDescriptionFile",
        "must be a string",
    ),
    (hub(repositories=[{"name": "app", "namespace": 1234}]), "repositories[0].namespace", "must be a string"),
    (hub(accessTokens=[{**TOKEN, "label": 5}]), "accessTokens[0].label", "must be a string"),
    (hub(orgAccessTokens=[{**ORG_TOKEN, "description": 5}]), "orgAccessTokens[0].description", "must be a string"),
    (hub(teams=[{"org": "acme", "name": 5}]), "teams[0].name", "must be a string"),
    (hub(teams=[{"org": "acme", "name": "devs", "description": 5}]), "teams[0].description", "must be a string"),
    # Lists: not a single value.
    (hub(accessTokens=[{**TOKEN, "scopes": "repo:read"}]), "accessTokens[0].scopes", "must be a list"),
    (
        hub(repositories=[{"name": "app", "immutableTags": {"enabled": True, "rules": "v.*"}}]),
        "repositories[0].immutableTags.rules",
        "must be a list",
    ),
    (hub(repositories={"name": "app"}), "repositories", "must be a list"),
    (
        hub(teams=[{"org": "acme", "name": "devs", "permissions": {"repository": "app"}}]),
        "teams[0].permissions",
        "must be a list",
    ),
    # Enumerations.
    (
        hub(orgAccessTokens=[{**ORG_TOKEN, "resources": [{**ORG_TOKEN["resources"][0], "type": "repo"}]}]),
        "orgAccessTokens[0].resources[0].type",
        "TYPE_REPO",
    ),
    (
        hub(teams=[{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": 2}]}]),
        "teams[0].permissions[0].permission",
        "'read', 'write' or 'admin'",
    ),
]


@pytest.mark.parametrize(("config", "key", "words"), MALFORMED, ids=[m[1] + "=" + repr(m[0])[-40:] for m in MALFORMED])
def test_a_malformed_value_is_refused_naming_the_key(tmp_path, config, key, words):
    found = problems(config, tmp_path)
    assert f"{ROOT}.{key}" in found, found
    assert words in found[f"{ROOT}.{key}"]


def test_the_error_shows_the_value_given(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec(
            {"dockerHub": hub(accessTokens=[{**TOKEN, "expiresAt": 70000}])}, stack="dev", base_dir=tmp_path
        )
    assert "70000" in str(caught.value)
    assert "accessTokens[0].expiresAt" in str(caught.value)


def test_a_future_date_time_with_any_zone_is_accepted(tmp_path):
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    offset = later.astimezone().isoformat()
    spec = load_stack_spec(
        {
            "dockerHub": hub(
                accessTokens=[
                    {**TOKEN, "expiresAt": offset},
                    {**TOKEN, "label": "z", "expiresAt": "2031-01-01T00:00:00Z"},
                ]
            )
        },
        stack="dev",
        base_dir=tmp_path,
    )
    assert spec.docker_hub is not None
    assert spec.docker_hub.access_tokens[0].expires_at == later


def test_a_description_file_inside_the_project_is_read(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "app.md").write_text("# App\n")
    spec = load_stack_spec(
        {"dockerHub": hub(repositories=[{"name": "app", "fullDescriptionFile": "docs/app.md"}])},
        stack="dev",
        base_dir=tmp_path,
    )
    assert spec.docker_hub is not None


def test_a_description_file_linked_out_of_the_project_is_refused(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("secret")
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").symlink_to(outside)
    found = problems(hub(repositories=[{"name": "app", "fullDescriptionFile": "README.md"}]), project)
    assert "inside the project directory" in found[f"{ROOT}.repositories[0].fullDescriptionFile"]


def test_a_past_expiry_does_not_stop_the_stack_config():
    # An existing token's date passing must not block every later `up`; the provider refuses creating it.
    spec = load_stack_spec({"dockerHub": hub(accessTokens=[{**TOKEN, "expiresAt": "2020-01-01T00:00:00Z"}])}, "hub")
    assert spec.docker_hub is not None
