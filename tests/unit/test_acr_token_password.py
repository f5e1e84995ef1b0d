"""The TokenPassword dynamic provider against a local stand-in for ARM's generateCredentials (127.0.0.1): the
request it sends, a direct answer, the long-running-operation answer it polls, errors, and a diff that ignores
the short-lived access token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from providers.acr.token_password import API_VERSION, ArmError, TokenPasswordProvider, generate_credentials

REGISTRY_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acme12345"
TOKEN_ID = f"{REGISTRY_ID}/tokens/ci-push"
ACCESS_TOKEN = "arm-token-123"


class FakeArm:
    """generateCredentials answering 200 at once, or 202 with an operation that succeeds on the second poll."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.polls = 0
        self.pending = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def result(self, name: str) -> dict[str, Any]:
        return {"username": "ci-push", "passwords": [{"name": name, "value": f"secret-{name}"}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        arm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                arm.requests.append(("POST", self.path, dict(self.headers), body))
                if arm.mode == "refused":
                    self._send(403, {"error": {"code": "AuthorizationFailed", "message": "no generateCredentials"}})
                elif arm.mode == "direct":
                    self._send(200, arm.result(body["name"]))
                else:
                    arm.pending = body["name"]
                    self._send(202, {}, {"Azure-AsyncOperation": f"{arm.url}/operations/1",
                                         "Location": f"{arm.url}/results/1", "Retry-After": "0"})  # fmt: skip

            def do_GET(self) -> None:
                arm.requests.append(("GET", self.path, dict(self.headers), None))
                if self.path == "/operations/1":
                    arm.polls += 1
                    status = "Succeeded" if arm.polls >= 2 else "InProgress"
                    status = "Failed" if arm.mode == "failing" and arm.polls >= 2 else status
                    self._send(200, {"status": status, "error": {"message": "quota"}}, {"Retry-After": "0"})
                else:
                    self._send(200, arm.result(arm.pending))

        return Handler

    def __enter__(self) -> FakeArm:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def arm(request: pytest.FixtureRequest) -> Iterator[FakeArm]:
    with FakeArm(request.param) as fake:
        yield fake


def props(arm: FakeArm, **changes: Any) -> dict[str, Any]:
    return {"registryId": REGISTRY_ID, "tokenId": TOKEN_ID, "name": "password1", "expiry": "2027-06-30T00:00:00Z",
            "accessToken": ACCESS_TOKEN, "armEndpoint": arm.url, **changes}  # fmt: skip


@pytest.mark.parametrize("arm", ["direct"], indirect=True)
def test_create_posts_generate_credentials_and_keeps_the_value(arm: FakeArm):
    result = TokenPasswordProvider().create(props(arm))
    method, path, headers, body = arm.requests[0]
    assert (method, path) == ("POST", f"{REGISTRY_ID}/generateCredentials?api-version={API_VERSION}")
    assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert body == {"tokenId": TOKEN_ID, "name": "password1", "expiry": "2027-06-30T00:00:00Z"}
    assert result.id == f"{TOKEN_ID}/password1"
    assert result.outs is not None
    assert result.outs["value"] == "secret-password1"
    assert result.outs["username"] == "ci-push"
    assert "accessToken" not in result.outs  # the short-lived ARM token is not kept as an output


@pytest.mark.parametrize("arm", ["lro"], indirect=True)
def test_a_long_running_answer_is_polled_then_read_from_location(arm: FakeArm):
    credentials = generate_credentials(arm.url, REGISTRY_ID, TOKEN_ID, "password2", None, ACCESS_TOKEN, 0.0)
    assert credentials["passwords"][0]["value"] == "secret-password2"
    assert [(m, p) for m, p, _, _ in arm.requests] == [
        ("POST", f"{REGISTRY_ID}/generateCredentials?api-version={API_VERSION}"),
        ("GET", "/operations/1"),
        ("GET", "/operations/1"),
        ("GET", "/results/1"),
    ]
    assert "expiry" not in arm.requests[0][3]


@pytest.mark.parametrize("arm", ["refused"], indirect=True)
def test_arm_errors_name_the_call_and_the_reason(arm: FakeArm):
    with pytest.raises(ArmError, match=r"generateCredentials of .*ci-push \(password1\): AuthorizationFailed"):
        TokenPasswordProvider().create(props(arm))


@pytest.mark.parametrize("arm", ["failing"], indirect=True)
def test_a_failed_operation_is_an_error(arm: FakeArm):
    with pytest.raises(ArmError, match="operation Failed: quota"):
        generate_credentials(arm.url, REGISTRY_ID, TOKEN_ID, "password1", None, ACCESS_TOKEN, 0.0)


def test_diff_replaces_on_token_slot_or_expiry_and_ignores_the_access_token():
    provider = TokenPasswordProvider()
    olds = {"registryId": REGISTRY_ID, "tokenId": TOKEN_ID, "name": "password1", "expiry": None, "value": "x"}
    same = provider.diff("id", olds, {**olds, "accessToken": "a-new-token-each-run"})
    assert same.changes is False
    for key, value in (("expiry", "2028-01-01T00:00:00Z"), ("name", "password2"), ("tokenId", f"{TOKEN_ID}x")):
        changed = provider.diff("id", olds, {**olds, key: value})
        assert changed.changes is True
        assert changed.replaces == [key]
