"""What the Pulumi language host runs (`venv/bin/python plugin/ <engine address>`): serve the `registries` package."""

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent


def import_from_checkout() -> None:
    """Import `components` and `plugin` from the checkout this directory sits in, whatever the working directory.

    The host runs this directory as a script from the consumer's project directory, so Python puts plugin/ itself
    first on sys.path: its modules would shadow top-level names (the `schema` trap), and the repository root,
    where `components` lives, would be missing."""
    kept = [entry for entry in sys.path if entry and Path(entry).resolve() != PLUGIN_DIR]
    sys.path[:] = [str(PLUGIN_DIR.parent), *kept]


def serve() -> None:
    import_from_checkout()
    from pulumi.provider import main

    from plugin.provider import RegistriesProvider

    # component_provider_host(components, name) is main(ComponentProvider(components, name), argv); ours is the same
    # with the subclass that marks secret properties in the schema it serves.
    main(RegistriesProvider(), sys.argv[1:])


if __name__ == "__main__":
    serve()
