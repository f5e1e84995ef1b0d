"""The stand-in plugins (see tests/support/README.md, "Provider plugins"): pulumi-resource-{docker,random,tls,aws},
each on the local engine's backend for its package, serving the types the backend applies and has a replace-on-change
table for (the bridged provider's ForceNew inputs); and pulumi-resource-{gcp,azure-native,kubernetes}, preview only:
every type of the installed SDK is checked and previewed, and anything that would touch a cloud fails."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from tests.support.engine_random import apply_random
from tests.support.engine_tls import apply_tls
from tests.support.local_engine import REPLACE_ON_CHANGE, Backend
from tests.support.plugins import sdk
from tests.support.plugins.server import Plugin

SESSION_ENV = "REGISTRIES_STANDIN_SESSION"
"""The value of the `registries.e2e` label the docker stand-in puts on what it creates (tests remove by it)."""
DEFAULT_SESSION = "pulumi-standin"


def _plugin(package: str, configure: Callable[[dict[str, Any]], list[Backend]], types: frozenset[str]) -> Plugin:
    version = sdk.plugin_version(package)
    return Plugin(
        name=package,
        version=version,
        configure=configure,
        describe=functools.partial(sdk.describe, package),
        types=types,
        schema=lambda: sdk.schema(package, version, types),
    )


def _table_types(package: str) -> frozenset[str]:
    return frozenset(t for t in REPLACE_ON_CHANGE if t.startswith(f"{package}:"))


def random_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        return [Backend(("random:",), lambda typ, name, inputs: apply_random(typ, inputs))]

    return _plugin("random", configure, _table_types("random"))


def tls_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        return [Backend(("tls:",), lambda typ, name, inputs: apply_tls(typ, inputs))]

    return _plugin("tls", configure, _table_types("tls"))


def docker_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        import docker

        from tests.support.engine_docker import DockerApplier

        # pulumi-docker's `host`: config, else DOCKER_HOST, else the local socket (provider/resources.go defaults).
        host = config.get("host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        client = docker.DockerClient(base_url=host)
        return [DockerApplier(client, os.environ.get(SESSION_ENV) or DEFAULT_SESSION).backend()]

    plugin = _plugin("docker", configure, _table_types("docker"))
    # SetAutonaming(255, "-") in pulumi-docker's provider/resources.go: a `name` left out is generated.
    plugin.autonamed = frozenset(
        {"docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume"}
    )
    return plugin


# -- aws ------------------------------------------------------------------------------------------------
def aws_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The provider configuration the backends need, as pulumi-aws reads it: region, keys (config, else the AWS_*
    variables) and `endpoints` (a list of {service: url}); a missing one fails naming the key."""
    region = config.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    key = config.get("accessKey") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = config.get("secretKey") or os.environ.get("AWS_SECRET_ACCESS_KEY")
    endpoints: dict[str, str] = {}
    for item in config.get("endpoints") or []:
        endpoints.update({k: v for k, v in item.items() if v})
    missing = [
        name for name, value in (("aws:region", region), ("aws:accessKey", key), ("aws:secretKey", secret)) if not value
    ]
    if missing:
        raise ValueError(f"stand-in pulumi-resource-aws: missing required configuration {', '.join(missing)}")
    if not endpoints:
        raise ValueError(
            "stand-in pulumi-resource-aws applies resources to an AWS API emulator only (a moto server): set "
            "aws:endpoints, e.g. [{s3: http://127.0.0.1:PORT, iam: http://127.0.0.1:PORT}]"
        )
    return {**config, "region": region, "key": key, "secret": secret, "endpoints": endpoints}


def _endpoint(endpoints: dict[str, str], *services: str) -> str:
    for service in services:
        if service in endpoints:
            return endpoints[service]
    return next(iter(endpoints.values()))


def aws_backends(config: dict[str, Any]) -> list[Backend]:
    import boto3
    from botocore.config import Config

    from tests.support.engine_aws import AwsApplier, EcrApplier, NotificationApplier

    settings = aws_settings(config)
    endpoints, region = settings["endpoints"], settings["region"]
    credentials = (settings["key"], settings["secret"], region)
    s3_endpoint = _endpoint(endpoints, "s3")
    storage = AwsApplier(s3_endpoint, *credentials)
    session = boto3.Session(aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1])
    style = "path" if settings.get("s3UsePathStyle") else "auto"
    storage.s3 = session.client(
        "s3", endpoint_url=s3_endpoint, region_name=region, config=Config(s3={"addressing_style": style})
    )
    storage.iam = session.client("iam", endpoint_url=_endpoint(endpoints, "iam"), region_name=region)
    ecr = EcrApplier(_endpoint(endpoints, "ecr"), *credentials)
    notify = NotificationApplier(_endpoint(endpoints, "sqs", "events", "cloudwatchevents"), *credentials)
    notify.iam = storage.iam
    # The first backend whose prefix matches applies a type: ECR and the notification types before the rest.
    return [ecr.backend(), notify.backend(), storage.backend()]


def _caller_identity(plugin: Plugin, args: dict[str, Any]) -> dict[str, Any]:
    import boto3

    settings = aws_settings(plugin.config)
    sts = boto3.client(
        "sts",
        endpoint_url=_endpoint(settings["endpoints"], "sts", "iam"),
        region_name=settings["region"],
        aws_access_key_id=settings["key"],
        aws_secret_access_key=settings["secret"],
    )
    answer = sts.get_caller_identity()
    return {"accountId": answer["Account"], "arn": answer["Arn"], "userId": answer["UserId"], "id": answer["Account"]}


def _region(plugin: Plugin, args: dict[str, Any]) -> dict[str, Any]:
    region = args.get("region") or args.get("name") or aws_settings(plugin.config)["region"]
    return {"id": region, "name": region, "region": region, "endpoint": f"ec2.{region}.amazonaws.com"}


def _partition(plugin: Plugin, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}


def aws_plugin() -> Plugin:
    from tests.support.engine_aws import ECR_REPLACE_ON_CHANGE, ECR_UNSUPPORTED, NOTIFY_REPLACE_ON_CHANGE

    types = (_table_types("aws") | set(ECR_REPLACE_ON_CHANGE) | set(NOTIFY_REPLACE_ON_CHANGE)) - set(ECR_UNSUPPORTED)
    plugin = _plugin("aws", aws_backends, frozenset(types))
    # What moto does not implement (pull-through cache rules, creation templates) is previewed, never applied.
    plugin.preview_only = frozenset(ECR_UNSUPPORTED)
    plugin.refusal = "moto (the AWS backend here) does not implement it"
    plugin.invokes = {
        "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
        "aws:index/getRegion:getRegion": _region,
        "aws:index/getPartition:getPartition": _partition,
    }
    return plugin


# -- preview only: gcp, azure-native, kubernetes ------------------------------------------------------
PREVIEW_TOKEN = "stand-in-preview-only-no-azure-token"
"""What azure-native:authorization:getClientToken answers (the engine refuses unknown invoke results): a value that
names itself, which goes nowhere since every create fails."""


def _client_token(plugin: Plugin, args: dict[str, Any]) -> dict[str, Any]:
    return {"token": PREVIEW_TOKEN}


def preview_only_plugin(package: str, cloud: str, invokes: dict[str, Any] | None = None) -> Callable[[], Plugin]:
    """A stand-in that previews every resource type of the package's installed SDK: Check returns the inputs as
    given, Diff compares old inputs with new ones (a change is an update), a preview's Create returns the inputs with
    the computed outputs unknown; a real Create, Update, Delete or Read fails naming the missing backend."""

    def make() -> Plugin:
        plugin = _plugin(package, lambda config: [], frozenset())
        plugin.preview_only = frozenset(sdk.resource_classes(package))
        plugin.refusal = f"no {cloud} backend on this machine"
        plugin.invokes = invokes or {}
        return plugin

    return make


PLUGINS: dict[str, Callable[[], Plugin]] = {
    "docker": docker_plugin,
    "random": random_plugin,
    "tls": tls_plugin,
    "aws": aws_plugin,
    "gcp": preview_only_plugin("gcp", "Google Cloud"),
    "azure-native": preview_only_plugin(
        "azure-native", "Azure", {"azure-native:authorization:getClientToken": _client_token}
    ),
    "kubernetes": preview_only_plugin("kubernetes", "Kubernetes cluster"),
}
