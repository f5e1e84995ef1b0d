"""The Pulumi program: load the validated spec, build the components, return the stack outputs.

`__main__.py` runs it for the CLI; registryctl runs it as an Automation API inline program;
the tests run it under the SDK's mock runtime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from components.dockerhub import DockerHub, DockerHubArgs
from components.ecr import (
    EcrRegistry,
    EcrRegistryArgs,
    EcrRepositoryArgs,
    GithubOidcRoleArgs,
    NotificationArgs,
    PullThroughCacheArgs,
    RegistrySettingsArgs,
    ReplicationDestinationArgs,
    ReplicationRuleArgs,
    ReplicationSourceArgs,
)
from components.selfhosted import SelfHostedRegistry, SelfHostedRegistryArgs
from registries.spec import PROJECT, ConfigError, StackSpec, load_stack_spec
from registries.spec.ecr import PTC_UPSTREAMS, EcrRepositorySettings, EcrSpec, plain_secret_problems, retention_intent

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
    spec = load_stack_spec(read_raw_config(), pulumi.get_stack(), PROJECT_DIR)
    if spec.ecr is not None and (problems := plain_secret_problems(spec.ecr, is_config_secret(f"{PROJECT}:ecr"))):
        raise ConfigError(problems)
    return spec


def _ecr_repository_args(name: str, settings: EcrRepositorySettings, production: bool) -> EcrRepositoryArgs:
    return EcrRepositoryArgs(
        name=name,
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


def _ecr_registry_settings(spec: EcrSpec) -> RegistrySettingsArgs:
    caches = []
    for rule in spec.pull_through_cache:
        credentials = None
        if rule.credentials is not None:
            login = {"username": rule.credentials.username, "accessToken": rule.credentials.token.get_secret_value()}
            credentials = pulumi.Output.secret(json.dumps(login))
        caches.append(PullThroughCacheArgs(rule.prefix, PTC_UPSTREAMS[rule.upstream][0], credentials))
    return RegistrySettingsArgs(
        scan_type=spec.scanning.type if spec.scanning is not None else None,
        continuous_scan=tuple(spec.scanning.continuous) if spec.scanning is not None else (),
        scan_on_push=tuple(spec.scanning.on_push) if spec.scanning is not None else (),
        replication=tuple(
            ReplicationRuleArgs(
                destinations=tuple(ReplicationDestinationArgs(d.region, d.registry_id) for d in rule.destinations),
                prefixes=tuple(rule.filters),
            )
            for rule in spec.replication
        ),
        replication_sources=tuple(
            ReplicationSourceArgs(source.account, tuple(source.prefixes)) for source in spec.replication_sources
        ),
        pull_through_cache=tuple(caches),
        cached_repositories=_ecr_repository_args("pull-through-cache", spec.defaults, production=False),
    )


def ecr_args(spec: EcrSpec, production: bool) -> EcrRegistryArgs:
    """Map the validated `registries:ecr` config (defaults inherited) to the component's args."""
    repositories = tuple(
        _ecr_repository_args(repo.name, spec.effective(repo), production) for repo in spec.repositories
    )
    settings = _ecr_registry_settings(spec) if spec.manage_registry_settings else None
    notifications = tuple(
        NotificationArgs(
            name=hook.name,
            url=pulumi.Output.secret(hook.url.get_secret_value()),
            auth_header_name=hook.auth_header.name,
            auth_header_value=pulumi.Output.secret(hook.auth_header.token.get_secret_value()),
            events=tuple(hook.events),
            repositories=tuple(hook.repositories),
        )
        for hook in spec.notifications
    )
    github = spec.ci.github_oidc
    return EcrRegistryArgs(
        region=spec.region,
        repositories=repositories,
        registry_settings=settings,
        notifications=notifications,
        github_oidc=GithubOidcRoleArgs(github.repository, tuple(github.refs), github.create_provider)
        if github is not None
        else None,
    )


def declare(spec: StackSpec) -> dict[str, pulumi.Input[Any]]:
    """Declare everything `spec` selects; returns the stack outputs."""
    outputs: dict[str, pulumi.Input[Any]] = {}
    if spec.self_hosted is not None:
        sh = spec.self_hosted
        registry = SelfHostedRegistry(
            "selfhosted",
            SelfHostedRegistryArgs(
                spec=sh,
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
            "ciRoleArn": ecr.ci_role_arn,
        }
    return outputs


def pulumi_program() -> None:
    """Entry point for `pulumi up` and Automation API inline programs."""
    for key, value in declare(load_spec()).items():
        pulumi.export(key, value)
