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
from components.ecr import EcrRegistry, EcrRegistryArgs, EcrRepositoryArgs
from components.selfhosted import SelfHostedRegistry, SelfHostedRegistryArgs
from schema import PROJECT, StackSpec, load_stack_spec
from schema.ecr import EcrSpec, retention_intent

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


def ecr_args(spec: EcrSpec, production: bool) -> EcrRegistryArgs:
    """Map the validated `registries:ecr` config (defaults inherited) to the component's args."""
    repositories = []
    for repo in spec.repositories:
        settings = spec.effective(repo)
        repositories.append(
            EcrRepositoryArgs(
                name=repo.name,
                immutable_tags=settings.immutable_tags,
                mutable_tags=tuple(settings.mutable_tags),
                scan_on_push=settings.scan_on_push,
                encryption_type="KMS" if settings.encryption.kind == "kms" else "AES256",
                kms_key=settings.encryption.kms_key_id,
                retention=retention_intent(settings),
                readers=tuple(settings.readers),
                writers=tuple(settings.writers),
                lambda_readers=settings.lambda_readers,
                force_delete=settings.force_delete,
                protect=production,
            )
        )
    return EcrRegistryArgs(region=spec.region, repositories=tuple(repositories))


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
    if spec.ecr is not None:
        ecr = EcrRegistry("ecr", ecr_args(spec.ecr, spec.is_production))
        outputs["ecr"] = {
            "registry": ecr.registry,
            "repositories": ecr.repository_urls,
            "loginCommand": ecr.login_command,
            "dockerConfigJson": ecr.docker_config_json,
            "lifecyclePolicies": ecr.lifecycle_policies,
        }
    return outputs


def pulumi_program() -> None:
    """Entry point for `pulumi up` and Automation API inline programs."""
    for key, value in declare(load_spec()).items():
        pulumi.export(key, value)
