"""Only the SDKs a stack uses are imported (issue 26): `registryctl --help` loads no Pulumi module at all,
`validate` no provider SDK, and the program of a local stack neither the GCP, Azure nor Kubernetes SDK. Each runs
in a fresh interpreter and reports sys.modules; no wall-clock is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD_PREFIXES = ("pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "google.cloud", "azure", "kubernetes")


def top_level(modules: set[str]) -> set[str]:
    return {module.split(".")[0] for module in modules}


def cloud(modules: set[str]) -> set[str]:
    """The modules of a cloud or Kubernetes SDK among `modules`."""
    return {m for m in modules if any(m == p or m.startswith(f"{p}.") for p in CLOUD_PREFIXES)}


def loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running `code` (in the project directory)."""
    script = (
        textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_help_and_version_load_no_pulumi_module_nor_the_schema() -> None:
    for argv in (["--help"], ["--version"], ["up", "--help"], ["retention", "simulate", "--help"]):
        loaded = loaded_after(
            f"""
            import contextlib, io
            from registryctl.cli import main
            with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
                main({argv!r})
            """
        )
        assert not {m for m in top_level(loaded) if m.startswith("pulumi")}, argv
        assert not top_level(loaded) & {"pydantic", "registries", "yaml"}, argv


def test_validate_loads_no_pulumi_module() -> None:
    loaded = loaded_after(
        """
        import contextlib, io
        from registryctl.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["validate", "-s", "local"]) == 0
            assert main(["validate", "-s", "gcp"]) == 0
        """
    )
    assert not {m for m in top_level(loaded) if m.startswith("pulumi")}  # not even the core SDK
    assert not cloud(loaded)


def test_the_program_of_a_local_stack_loads_only_its_own_sdks() -> None:
    loaded = loaded_after(
        """
        import json
        from registryctl.stack_files import PROJECT_DIR, read_stack_config
        from tests.support.pulumi_runtime import run_program
        from tests.support.recording_mocks import RecordingMocks
        sections = read_stack_config(PROJECT_DIR / "stacks" / "Pulumi.local.yaml")
        config = {f"registries:{key}": json.dumps(value) for key, value in sections.items()}
        assert "endpoint" in run_program(RecordingMocks(), stack="local", config=config)
        """
    )
    assert {"pulumi_docker", "pulumi_tls", "pulumi_random"} <= top_level(loaded)  # it did declare the registry
    assert not cloud(loaded)
