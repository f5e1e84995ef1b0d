"""start_moto when a parallel worker's server takes the port it chose (the free-port race): the readiness answer
must come from its own moto, else it starts again on another port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import moto_server


class _Impostor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another server already answers /moto-api/ on."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_port_taken_by_another_server_is_left_for_a_free_one(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    free = moto_server._free_port
    ports = iter([taken_port])
    monkeypatch.setattr(moto_server, "_free_port", lambda: next(ports, None) or free())
    server = moto_server.start_moto(tmp_path)
    try:
        assert not server.endpoint.endswith(f":{taken_port}")
        # It is moto, with the engine's admin key working under IAM enforcement.
        answer = requests.get(f"{server.endpoint}/moto-api/", timeout=5)
        assert answer.status_code == 200
        assert server.client("iam", "us-east-1").get_user(UserName="engine-admin")["User"]["UserName"] == "engine-admin"
    finally:
        server.stop()
    assert (tmp_path / f"moto-{taken_port}.log").exists()  # the first try was made, and given up
