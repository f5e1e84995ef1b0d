"""`python -m tests.support.plugins <package> <engine address> [flags]`: serve one stand-in plugin."""

from __future__ import annotations

import sys

PACKAGES = ("aws", "docker", "random", "tls", "gcp", "azure-native", "kubernetes")


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in PACKAGES:
        sys.exit(f"usage: python -m tests.support.plugins {{{','.join(PACKAGES)}}} <engine address>")
    try:
        from tests.support.plugins.server import serve
        from tests.support.plugins.standins import PLUGINS
    except ModuleNotFoundError as error:  # the stand-ins run on the test support code and its dependencies
        sys.exit(
            f"stand-in pulumi-resource-{argv[0]}: {sys.executable} cannot import {error.name} "
            "(requirements-dev.txt); set REGISTRIES_STANDIN_PYTHON to a Python that has the dev requirements"
        )
    serve(PLUGINS[argv[0]](), argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
