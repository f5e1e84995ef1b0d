"""The package schema snapshot (plugin/schema.json): what the plugin serves, checked in so a change shows in review.

.venv/bin/python -m plugin.package_schema --write   # regenerate after changing a component's Args or outputs
.venv/bin/python -m plugin.package_schema --check   # exit 1 when the snapshot is stale
.venv/bin/python -m plugin.package_schema           # print it
"""

import json
import sys
from pathlib import Path

from plugin.provider import RegistriesProvider

SNAPSHOT = Path(__file__).resolve().parent / "schema.json"


def render() -> str:
    """The schema the provider serves, as the snapshot file holds it."""
    return json.dumps(RegistriesProvider().package_schema(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        SNAPSHOT.write_text(text)
    elif "--check" in argv:
        if not SNAPSHOT.exists() or SNAPSHOT.read_text() != text:
            sys.stderr.write(f"{SNAPSHOT} is stale: run .venv/bin/python -m plugin.package_schema --write\n")
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
