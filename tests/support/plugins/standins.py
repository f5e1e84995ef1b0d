"""The four stand-in plugins: pulumi-resource-{docker,random,tls,aws}, each on the local engine's backend for its
package (see tests/support/README.md, "Provider plugins")."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from tests.support.engine_random import apply_random
from tests.support.engine_tls import apply_tls
from tests.support.local_engine import Backend
from tests.support.plugins import sdk
from tests.support.plugins.server import Plugin

SESSION_ENV = "REGISTRIES_STANDIN_SESSION"
"""The value of the `registries.e2e` label the docker stand-in puts on what it creates (tests remove by it)."""
DEFAULT_SESSION = "pulumi-standin"


def _plugin(package: str, configure: Callable[[dict[str, Any]], list[Backend]], prefixes: tuple[str, ...]) -> Plugin:
    version = sdk.plugin_version(package)
    return Plugin(
        name=package,
        version=version,
        configure=configure,
        describe=functools.partial(sdk.describe, package),
        autonamed=frozenset(),
        schema=lambda: sdk.schema(package, version, prefixes),
    )


def random_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        return [Backend(("random:",), lambda typ, name, inputs: apply_random(typ, inputs))]

    return _plugin("random", configure, ("random:",))


def tls_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        return [Backend(("tls:",), lambda typ, name, inputs: apply_tls(typ, inputs))]

    return _plugin("tls", configure, ("tls:",))


DOCKER_TYPES = (
    "docker:index/container:Container",
    "docker:index/network:Network",
    "docker:index/volume:Volume",
    "docker:index/remoteImage:RemoteImage",
)


def docker_plugin() -> Plugin:
    def configure(config: dict[str, Any]) -> list[Backend]:
        import docker

        from tests.support.engine_docker import DockerApplier

        # pulumi-docker's `host`: config, else DOCKER_HOST, else the local socket (provider/resources.go defaults).
        host = config.get("host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        client = docker.DockerClient(base_url=host)
        return [DockerApplier(client, os.environ.get(SESSION_ENV) or DEFAULT_SESSION).backend()]

    plugin = _plugin("docker", configure, DOCKER_TYPES)
    # SetAutonaming(255, "-") in pulumi-docker's provider/resources.go: a `name` left out is generated.
    plugin.autonamed = frozenset(DOCKER_TYPES[:3])
    return plugin


PLUGINS: dict[str, Callable[[], Plugin]] = {
    "docker": docker_plugin,
    "random": random_plugin,
    "tls": tls_plugin,
}
