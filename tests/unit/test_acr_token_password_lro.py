"""generateCredentials' long-running operation: our poller against azure-core's, the one
azure-mgmt-containerregistry uses for Registries_GenerateCredentials (ARMPolling with final-state-via: location,
the REST spec's option; azure/mgmt/containerregistry/v2023_01_01_preview/operations/_registries_operations.py).

Every exchange shape ARM's LRO rules allow is replayed by one stand-in (127.0.0.1) to both pollers, and both must
end with the same password, or both fail: a 200 at once; 202 with Azure-AsyncOperation and Location; 202 with
Location only; 202 with Azure-AsyncOperation only, its status body naming a resourceLocation, or carrying the
result itself. The SDK stays a test dependency: the provider keeps its small poller, held to the SDK's answers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.containerregistry.v2023_01_01_preview import ContainerRegistryManagementClient
from azure.mgmt.containerregistry.v2023_01_01_preview.models import GenerateCredentialsParameters

from providers.acr.token_password import ArmError, generate_credentials

REGISTRY_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acme12345"
TOKEN_ID = f"{REGISTRY_ID}/tokens/ci-push"
SHAPES = ("direct", "async-and-location", "location-only", "async-only-resource-location", "async-only-body")


class ShapedArm:
    """generateCredentials answering in one LRO shape; the operation succeeds on its second poll."""

    def __init__(self, shape: str) -> None:
        self.shape = shape
        self.polls = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @staticmethod
    def result() -> dict[str, Any]:
        return {"username": "ci-push", "passwords": [{"name": "password1", "value": "secret-password1"}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        arm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                operation = {"Azure-AsyncOperation": f"{arm.url}/operations/1"}
                location = {"Location": f"{arm.url}/results/1"}
                headers = {
                    "direct": None,
                    "async-and-location": {**operation, **location},
                    "location-only": location,
                    "async-only-resource-location": operation,
                    "async-only-body": operation,
                }[arm.shape]
                if headers is None:
                    self._send(200, arm.result())
                else:
                    self._send(202, None, {**headers, "Retry-After": "0"})

            def do_GET(self) -> None:
                arm.polls += 1
                done = arm.polls >= 2
                if self.path.startswith("/operations/1"):
                    status: dict[str, Any] = {"status": "Succeeded" if done else "InProgress"}
                    if done and arm.shape == "async-only-resource-location":
                        status["resourceLocation"] = f"{arm.url}/results/1"
                    if done and arm.shape == "async-only-body":
                        status.update(arm.result())
                    self._send(200, status, {"Retry-After": "0"})
                elif arm.shape == "location-only" and not done:
                    self._send(202, None, {"Location": f"{arm.url}/results/1", "Retry-After": "0"})
                else:
                    self._send(200, arm.result())

        return Handler

    def __enter__(self) -> ShapedArm:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Token:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("arm-token-123", 4102444800)


def _sdk(arm: ShapedArm) -> Any:
    client = ContainerRegistryManagementClient(_Token(), "s1", base_url=arm.url)  # type: ignore[arg-type]
    parameters = GenerateCredentialsParameters(token_id=TOKEN_ID, name="password1")
    poller = client.registries.begin_generate_credentials(
        "rg", "acme12345", parameters, polling_interval=0, enforce_https=False
    )
    return poller.result().as_dict()


def _ours(arm: ShapedArm) -> dict[str, Any]:
    return generate_credentials(arm.url, REGISTRY_ID, TOKEN_ID, "password1", None, "arm-token-123", 0.0)


def _password(result: dict[str, Any]) -> str | None:
    return next((p.get("value") for p in result.get("passwords") or [] if p.get("name") == "password1"), None)


@pytest.mark.parametrize("shape", SHAPES)
def test_our_poller_ends_where_the_sdks_poller_ends(shape: str):
    with ShapedArm(shape) as arm:
        expected = _password(_sdk(arm))
    with ShapedArm(shape) as arm:
        try:
            got = _password(_ours(arm))
        except ArmError as error:
            got = f"ArmError: {error}"
    assert expected == "secret-password1"
    assert got == expected
