"""TokenPassword: a generated password of an ACR token (pulumi-azure-native has no such resource: issue #3099).

ARM returns a token password's value only from `POST <registry>/generateCredentials` (a long-running operation);
a Token PUT treats `passwords[].value` as read-only. Create calls it once and keeps the value as a secret output;
changing the token, slot or expiry generates a new one (replace). Delete leaves the slot to the Token resource:
deleting the token (or regenerating the slot) is what revokes a password. The caller passes a short-lived ARM
access token (authorization.getClientToken); it is never compared in diff, so a new one each run plans nothing."""

from __future__ import annotations

import time
from typing import Any

import pulumi
import requests
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

ARM_ENDPOINT = "https://management.azure.com"
API_VERSION = "2023-01-01-preview"
REPLACE_KEYS = ("registryId", "tokenId", "name", "expiry", "armEndpoint")
POLL_SECONDS = 2.0
TIMEOUT_SECONDS = 300.0


class ArmError(Exception):
    """ARM refused or failed the request; the message says which call and why (never a password)."""


def _checked(response: requests.Response, what: str) -> requests.Response:
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
            reason = f"{error.get('code', response.status_code)}: {error.get('message', '')}".strip()
        except ValueError:
            reason = f"HTTP {response.status_code}"
        raise ArmError(f"{what}: {reason}")
    return response


def generate_credentials(
    endpoint: str,
    registry_id: str,
    token_id: str,
    name: str,
    expiry: str | None,
    access_token: str,
    poll_seconds: float = POLL_SECONDS,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """The GenerateCredentialsResult of one password slot: {username, passwords: [{name, value, ...}]}."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token}"
    body: dict[str, Any] = {"tokenId": token_id, "name": name}
    if expiry:
        body["expiry"] = expiry
    url = f"{endpoint.rstrip('/')}{registry_id}/generateCredentials?api-version={API_VERSION}"
    what = f"generateCredentials of {token_id} ({name})"
    response = _checked(session.post(url, json=body, timeout=60), what)
    if response.status_code == 200:
        return response.json()
    # 202: poll the operation (Azure-AsyncOperation, else Location), then read the result as azure-core's ARMPolling
    # does for this operation (final-state-via: location, the REST spec's option): from Location, else from the
    # status body's resourceLocation, else the status body itself (tests/unit/test_acr_token_password_lro.py).
    status_url = response.headers.get("Azure-AsyncOperation") or response.headers.get("Location")
    result_url = response.headers.get("Location")
    if not status_url:
        raise ArmError(f"{what}: HTTP {response.status_code} without an operation to poll")
    deadline = time.monotonic() + timeout_seconds
    while True:
        poll = _checked(session.get(status_url, timeout=60), what)
        if poll.status_code == 200 and status_url == result_url:
            return poll.json()
        body = poll.json() if poll.status_code == 200 else {}
        status = body.get("status", "") if poll.status_code == 200 else "InProgress"
        if status == "Succeeded":
            result_url = result_url or body.get("resourceLocation")
            break
        if status in ("Failed", "Canceled"):
            raise ArmError(f"{what}: operation {status}: {poll.json().get('error', {}).get('message', '')}")
        if time.monotonic() > deadline:
            raise ArmError(f"{what}: not finished after {timeout_seconds:.0f} s")
        time.sleep(float(poll.headers.get("Retry-After", poll_seconds)))
    if not result_url:
        return body  # the caller names a missing password ("no value for <name> in the answer")
    return _checked(session.get(result_url, timeout=60), what).json()


class TokenPasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        result = generate_credentials(
            props.get("armEndpoint") or ARM_ENDPOINT,
            props["registryId"],
            props["tokenId"],
            props["name"],
            props.get("expiry"),
            props["accessToken"],
        )
        password = next((p for p in result.get("passwords", []) if p.get("name") == props["name"]), None)
        if password is None or not password.get("value"):
            raise ArmError(f"generateCredentials of {props['tokenId']}: no value for {props['name']} in the answer")
        outs = {k: v for k, v in props.items() if k != "accessToken"}
        outs.update(username=result.get("username", ""), value=password["value"])
        return CreateResult(f"{props['tokenId']}/{props['name']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The password lives in the Token resource; it is revoked with it (or overwritten by the replacement)."""


class TokenPassword(Resource, module="acr", name="TokenPassword"):
    """One generated password (`value`, secret) of an ACR token; `username` is the token name."""

    username: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["value", "accessToken"])
        super().__init__(
            TokenPasswordProvider(),
            resource_name,
            {"username": None, "value": None, **props},
            pulumi.ResourceOptions.merge(opts, secret),
        )
