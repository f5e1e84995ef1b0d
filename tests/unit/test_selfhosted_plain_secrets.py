"""A secret of registries:selfHosted or registries:mirrors given in plain text (set without --secret) stops the
program before any resource, naming the key and the command that fixes it, never the value; set as a secret
(the whole top-level key encrypted, as `pulumi config set --secret --path` does), the same config deploys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from registries.config.base import ConfigError
from tests.support.pulumi_runtime import run_program
from tests.support.recording_mocks import RecordingMocks

SECRET = "a-plain-secret-value-4711"
MIRROR = {"mode": "mirror", "name": "hub-mirror", "port": 5002, "debugPort": 5003}
CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "user password": (
        "selfHosted",
        {"users": [{"name": "admin"}, {"name": "ci", "password": SECRET}]},
        "registries:selfHosted.users[1].password",
    ),
    "mirror upstream password": (
        "selfHosted",
        {**MIRROR, "mirror": {"upstream": "https://upstream.example", "username": "acme", "password": SECRET}},
        "registries:selfHosted.mirror.password",
    ),
    "a mirror beside the registry": (
        "mirrors",
        [{**MIRROR, "mirror": {"upstream": "https://upstream.example", "username": "acme", "password": SECRET}}],
        "registries:mirrors[0].mirror.password",
    ),
    "S3 secret key": (
        "selfHosted",
        {
            "storage": {
                "kind": "s3",
                "create": False,
                "bucket": "existing-bucket",
                "region": "eu-west-1",
                "accessKey": "AKIAEXAMPLE",
                "secretKey": SECRET,
            }
        },
        "registries:selfHosted.storage.secretKey",
    ),
    "webhook authorization": (
        "selfHosted",
        {"notifications": [{"name": "hook", "url": "https://hooks.example/r", "authorization": f"Bearer {SECRET}"}]},
        "registries:selfHosted.notifications[0].authorization",
    ),
}


def _run(key: str, value: Any, secret: bool) -> RecordingMocks:
    mocks = RecordingMocks()
    config = {f"registries:{key}": json.dumps(value)}
    run_program(mocks, stack="dev", config=config, secret_keys=list(config) if secret else [])
    return mocks


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_secret_in_plain_text_stops_the_program_naming_the_key_not_the_value(case):
    key, value, path = CASES[case]
    mocks = RecordingMocks()
    config = {f"registries:{key}": json.dumps(value)}
    with pytest.raises(ConfigError) as caught:
        run_program(mocks, stack="dev", config=config)
    message = str(caught.value)
    assert f"{path}: must be set as a secret: pulumi config set --secret --path '{path}' <value>" in message
    assert SECRET not in message
    assert mocks.resources == [], "nothing is declared"


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_same_config_set_as_a_secret_deploys(case):
    key, value, _path = CASES[case]
    assert _run(key, value, secret=True).resources, "the program declared its resources"
