"""Start a stand-in plugin as the engine does (its bin script, the port on its first line) and call it over gRPC."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.support.moto_server import MotoServer, start_moto
from tests.support.plugins.server import from_struct, to_struct
from tests.support.processes import end_process

BIN = Path(__file__).resolve().parent / "bin"


@dataclass
class PluginProcess:
    name: str
    process: subprocess.Popen[bytes]
    channel: grpc.Channel
    stub: provider_pb2_grpc.ResourceProviderStub

    def configure(self, args: Mapping[str, Any] | None = None) -> provider_pb2.ConfigureResponse:
        return self.stub.Configure(
            provider_pb2.ConfigureRequest(args=to_struct(args or {}), acceptSecrets=True, sends_old_inputs=True)
        )

    def check(self, urn: str, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None) -> dict[str, Any]:
        answer = self.stub.Check(
            provider_pb2.CheckRequest(
                urn=urn, olds=to_struct(olds or {}), news=to_struct(news), randomSeed=os.urandom(32)
            )
        )
        assert not answer.failures, answer.failures
        return from_struct(answer.inputs)

    def diff(
        self, urn: str, ident: str, old_inputs: Mapping[str, Any], olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> provider_pb2.DiffResponse:
        return self.stub.Diff(
            provider_pb2.DiffRequest(
                urn=urn, id=ident, olds=to_struct(olds), news=to_struct(news), old_inputs=to_struct(old_inputs)
            )
        )

    def create(self, urn: str, news: Mapping[str, Any], preview: bool = False) -> tuple[str, dict[str, Any]]:
        answer = self.stub.Create(provider_pb2.CreateRequest(urn=urn, properties=to_struct(news), preview=preview))
        return answer.id, from_struct(answer.properties)

    def read(
        self, urn: str, ident: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        answer = self.stub.Read(
            provider_pb2.ReadRequest(urn=urn, id=ident, properties=to_struct(outputs), inputs=to_struct(inputs))
        )
        return answer.id, from_struct(answer.properties), from_struct(answer.inputs)

    def update(
        self,
        urn: str,
        ident: str,
        old_inputs: Mapping[str, Any],
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        preview: bool = False,
    ) -> dict[str, Any]:
        answer = self.stub.Update(
            provider_pb2.UpdateRequest(
                urn=urn,
                id=ident,
                olds=to_struct(olds),
                news=to_struct(news),
                old_inputs=to_struct(old_inputs),
                preview=preview,
            )
        )
        return from_struct(answer.properties)

    def delete(self, urn: str, ident: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        self.stub.Delete(
            provider_pb2.DeleteRequest(urn=urn, id=ident, properties=to_struct(outputs), old_inputs=to_struct(inputs))
        )

    def stop(self) -> None:
        self.channel.close()
        end_process(self.process)


def start_plugin(name: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> PluginProcess:
    """Run bin/pulumi-resource-<name> with an engine address argument, as the engine does; fail if it prints no port."""
    process = subprocess.Popen(
        [str(BIN / f"pulumi-resource-{name}"), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        process.kill()
        raise RuntimeError(f"pulumi-resource-{name} printed {line!r} instead of its port (exit {process.wait()})")
    channel = grpc.insecure_channel(f"127.0.0.1:{line}")
    grpc.channel_ready_future(channel).result(timeout=30)
    return PluginProcess(name, process, channel, provider_pb2_grpc.ResourceProviderStub(channel))


@contextlib.contextmanager
def running_plugin(name: str, env: Mapping[str, str] | None = None) -> Iterator[PluginProcess]:
    """start_plugin, stopped again on leaving the block."""
    plugin = start_plugin(name, env=env)
    try:
        yield plugin
    finally:
        plugin.stop()


def urn(typ: str, name: str, stack: str = "test", project: str = "registries") -> str:
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def running_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server (IAM enforcement on) for a test module, stopped after it."""
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()
