"""The Pulumi program: load the validated spec, build the components, return the stack outputs.

`__main__.py` runs it for the CLI; registryctl runs it as an Automation API inline program;
the tests run it under the SDK's mock runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.dockerhub import DockerHub, DockerHubArgs
from components.selfhosted import SelfHostedRegistry, SelfHostedRegistryArgs
from schema import PROJECT, StackSpec, load_stack_spec

PROJECT_DIR = Path(__file__).resolve().parent.parent


def read_raw_config() -> dict[str, Any]:
    """Every `registries:*` key of the current stack, structured values parsed."""
    prefix = f"{PROJECT}:"
    keys = sorted({k[len(prefix) :] for k in {**get_config_env(), **CONFIG.get()} if k.startswith(prefix)})
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in keys:
        try:
            raw[key] = config.get_object(key)
        except Exception:  # a plain string is not JSON; let the schema say it must be an object
            raw[key] = config.get(key)
    return raw


def load_spec() -> StackSpec:
    return load_stack_spec(read_raw_config(), pulumi.get_stack(), PROJECT_DIR)


def declare(spec: StackSpec) -> dict[str, pulumi.Input[Any]]:
    """Declare everything `spec` selects; returns the stack outputs."""
    outputs: dict[str, pulumi.Input[Any]] = {}
    if spec.self_hosted is not None:
        sh = spec.self_hosted
        registry = SelfHostedRegistry(
            "selfhosted",
            SelfHostedRegistryArgs(
                spec=sh,
                project=pulumi.get_project(),
                stack=spec.stack,
                protect_data=sh.protect if sh.protect is not None else spec.is_production,
            ),
        )
        outputs.update(
            {
                "endpoint": registry.endpoint,
                "uiUrl": registry.ui_url,
                "caCertPem": registry.ca_cert_pem,
                "users": registry.user_passwords,
                "dockerConfigJson": registry.docker_config_json,
                "loginCommand": registry.login_command,
                "containerName": registry.container_name,
                "volumeName": registry.volume_name,
                "bucket": registry.bucket,
            }
        )
    if spec.docker_hub is not None:
        hub = DockerHub("dockerhub", DockerHubArgs(spec.docker_hub, spec.is_production, PROJECT_DIR))
        outputs.update(
            {
                "dockerHubRepositories": hub.repositories,
                "dockerHubTokens": hub.access_tokens,
                "dockerHubOrgTokens": hub.org_access_tokens,
            }
        )
    return outputs


def pulumi_program() -> None:
    """Entry point for `pulumi up` and Automation API inline programs."""
    for key, value in declare(load_spec()).items():
        pulumi.export(key, value)
