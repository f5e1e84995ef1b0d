"""The plugin as the Pulumi language host runs it: `<venv>/bin/python plugin/ <engine address>` from the consumer's
directory, printing its port, answering GetSchema with the checked-in snapshot, and Construct by declaring the
component's resources with a stand-in engine's resource monitor over gRPC."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from tests.support.component_provider import wire_secret_output
from tests.support.pulumi_runtime import SecretKeepingMonitor, is_secret, without_secrets
from tests.support.recording_mocks import RecordingMocks

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


@contextmanager
def running_plugin(python: Path, engine_address: str, cwd: Path) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The plugin started as the host starts it: `<venv>/bin/python plugin/ <engine>` from the consumer's directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    process = subprocess.Popen(
        [str(python), str(PLUGIN), engine_address], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        port = _read_port(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def served_schema(tmp_path: Path, plugin_python: Path) -> dict:
    # Engine address: the plugin dials it only during Construct, which this fixture does not call.
    with running_plugin(plugin_python, "127.0.0.1:1", tmp_path) as plugin:
        response = plugin.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    return json.loads(response.schema)


class Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """The engine's resource monitor over gRPC, answering as the SDK's MockMonitor does (RecordingMocks)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        self.mock = SecretKeepingMonitor(mocks)
        self.mock.make_urn = self.make_urn  # the SDK's reads this process's (unset) stack settings

    @staticmethod
    def make_urn(parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = parent.split("::")[2].rsplit("$", maxsplit=1)[-1] + "$" + type_
        return f"urn:pulumi:dev::consumer::{type_}::{name}"

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id != "outputValues")

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return self.mock.GetDeploymentInfo(request)

    def RegisterResource(self, request: Any, context: Any) -> Any:
        return self.mock.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return self.mock.RegisterPackage(request)

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


class Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> Any:
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.SetRootResourceResponse()


@pytest.fixture
def engine() -> Iterator[tuple[str, RecordingMocks, Engine]]:
    """A stand-in engine on loopback: (address, what its monitor recorded, its log)."""
    mocks, log = RecordingMocks(), Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(Monitor(mocks), server)
    engine_pb2_grpc.add_EngineServicer_to_server(log, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", mocks, log
    finally:
        server.stop(grace=None)


def test_construct_over_grpc_declares_the_registry_with_the_engine(
    tmp_path: Path, plugin_python: Path, engine: tuple[str, RecordingMocks, Engine]
):
    address, mocks, _ = engine
    password = "ci-password-123456"
    inputs = struct_pb2.Struct()
    inputs.update(
        {
            "hostname": "registry.example.test",
            "port": 5443.0,
            # A secret inside a list travels as an output value to a provider that accepts outputs (ours does).
            "users": [{"name": "ci", "password": wire_secret_output(password)}],
        }
    )
    request = provider_pb2.ConstructRequest(
        project="consumer",
        stack="dev",
        organization="organization",
        monitorEndpoint=address,
        type="registries:index:SelfHostedRegistry",
        name="reg",
        inputs=inputs,
        parallel=4,
    )
    with running_plugin(plugin_python, address, tmp_path) as plugin:
        response = plugin.Construct(request, timeout=120)

    assert response.urn == "urn:pulumi:dev::consumer::registries:index:SelfHostedRegistry::reg"
    state = rpc.deserialize_properties(response.state)
    assert state["endpoint"] == "registry.example.test:5443"
    assert is_secret(state["dockerConfigJson"])
    assert is_secret(state["userPasswords"])
    container = mocks.find("docker:index/container:Container", "reg-registry")
    assert {"internal": 5000, "external": 5443, "ip": "127.0.0.1"} in container.plain["ports"]
    htpasswd = next(u["content"] for u in container.plain["uploads"] if u["file"].endswith("htpasswd"))
    assert bcrypt.checkpw(password.encode(), dict(line.split(":", 1) for line in htpasswd.splitlines())["ci"].encode())
    # The password reached the engine only inside secrets.
    leaked = [r.name for r in mocks.resources if password in json.dumps(without_secrets(r.inputs))]
    assert leaked == []


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
