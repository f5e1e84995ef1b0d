"""Stand-ins for what `registryctl verify` drives outside Python: the docker push/pull probe and the cloud CLIs.

`RecordingProbe` replaces registryctl.registry_client.DockerProbe: it records which repository it was asked
to push to and what the docker config held at that moment (so a test sees that login came first), and can
hand the "pushed" image to a callback (e.g. put it into moto's ECR), or fail after the push like a broken
pull. `fake_executable` writes a recording `gcloud`, `az` or `docker-credential-*` onto a test PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registryctl.registry_client import ProbeFailed, ProbeImage


@dataclass
class ProbePush:
    repository: str
    docker_config: dict[str, Any]
    image: ProbeImage


@dataclass
class RecordingProbe:
    on_push: Callable[[ProbeImage], None] | None = None
    """Called with each pushed image (where a test lands it in its fake registry)."""
    fail_pull: str | None = None
    """When set, the pull fails with this message after the push got through."""
    pushes: list[ProbePush] = field(default_factory=list)

    def push_pull(self, repository: str, docker_config: Path | None = None) -> ProbeImage:
        config_file = (docker_config or Path.home() / ".docker") / "config.json"
        config = json.loads(config_file.read_text()) if config_file.exists() else {}
        payload = os.urandom(16)
        manifest = json.dumps({"schemaVersion": 2, "probe": payload.hex()})
        image = ProbeImage(
            f"{repository}:registryctl-verify-{payload[:4].hex()}",
            "sha256:" + hashlib.sha256(manifest.encode()).hexdigest(),
        )
        self.pushes.append(ProbePush(repository, config, image))
        if self.on_push is not None:
            self.on_push(image)
        if self.fail_pull is not None:
            raise ProbeFailed(self.fail_pull, image)
        return image


def fake_executable(bin_dir: Path, name: str, exit_code: int = 0, stderr: str = "", stdout: str = "") -> Path:
    """An executable `name` that appends {argv, stdin, DOCKER_CONFIG} to `<bin_dir>/<name>.calls.jsonl`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / f"{name}.calls.jsonl"
    script = bin_dir / name
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, os, sys
            record = {{"argv": sys.argv[1:], "stdin": "" if sys.stdin.isatty() else sys.stdin.read(),
                       "docker_config": os.environ.get("DOCKER_CONFIG")}}
            with open({str(calls)!r}, "a") as calls:
                calls.write(json.dumps(record) + "\\n")
            sys.stdout.write({stdout!r})
            sys.stderr.write({stderr!r})
            sys.exit({exit_code})
            """
        )
    )
    script.chmod(0o755)
    return script


def executable_calls(bin_dir: Path, name: str) -> list[dict[str, Any]]:
    calls = bin_dir / f"{name}.calls.jsonl"
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
