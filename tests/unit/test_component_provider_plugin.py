"""The plugin as the Pulumi language host runs it: `<venv>/bin/python plugin/ <engine address>` from the consumer's
directory, printing its port and answering GetSchema over gRPC with the checked-in snapshot."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import sysconfig
from pathlib import Path

import grpc
import pytest
import yaml
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugin"
SNAPSHOT = PLUGIN / "schema.json"
STARTUP_SECONDS = 120  # imports pulumi_aws and analyzes every component; a loaded 2-core CI machine is slow


def _read_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
    if not ready:
        raise AssertionError(f"the plugin printed no port within {STARTUP_SECONDS} s")
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        stderr = process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
        raise AssertionError(f"the plugin printed {line!r} instead of its port; exit {process.poll()}: {stderr}")
    return int(line)


def plugin_virtualenv(where: Path) -> Path:
    """A virtualenv like the one the host makes for the plugin: plugin/requirements.txt installed (here: this
    venv's site-packages on its path), but not this repository, which the plugin must import from its checkout."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # A path line in a .pth file adds the directory but runs none of its .pth files (our editable install's finder).
    (Path(site_packages) / "requirements.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


@pytest.fixture
def plugin_python(tmp_path: Path) -> Path:
    python = plugin_virtualenv(tmp_path / "venv")
    imported = subprocess.run(
        [str(python), "-c", "import components"], check=False, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert imported.returncode != 0, "the stand-in plugin virtualenv must not see this repository"
    return python


@pytest.fixture
def served_schema(tmp_path: Path, plugin_python: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Engine address: the plugin only dials it for logs during Construct, which this test does not call.
    process = subprocess.Popen(
        [str(plugin_python), str(PLUGIN), "127.0.0.1:1"],
        cwd=tmp_path,  # the host runs it from the consumer's project directory
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = _read_port(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            response = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
        return json.loads(response.schema)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_plugin_serves_the_snapshot(served_schema: dict):
    assert served_schema == json.loads(SNAPSHOT.read_text())
    assert served_schema["name"] == "registries"


def test_plugin_manifest_runs_python_in_its_own_virtualenv():
    manifest = yaml.safe_load((PLUGIN / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == "venv"
    # The host installs plugin/requirements.txt into that virtualenv: it must bring the program's dependencies.
    assert "-r ../requirements.txt" in (PLUGIN / "requirements.txt").read_text().splitlines()


def test_the_entry_point_imports_from_the_checkout_not_from_plugin_dir(monkeypatch: pytest.MonkeyPatch):
    from plugin.__main__ import import_from_checkout

    monkeypatch.setattr(sys, "path", [str(PLUGIN), "/usr/lib/python3.11", str(PLUGIN) + "/"])
    import_from_checkout()
    assert sys.path == [str(ROOT), "/usr/lib/python3.11"]
