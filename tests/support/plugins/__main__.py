"""`python -m tests.support.plugins <package> <engine address> [flags]`: serve one stand-in plugin."""

from __future__ import annotations

import sys

from tests.support.plugins.server import serve
from tests.support.plugins.standins import PLUGINS


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in PLUGINS:
        sys.exit(f"usage: python -m tests.support.plugins {{{','.join(sorted(PLUGINS))}}} <engine address>")
    serve(PLUGINS[argv[0]](), argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
