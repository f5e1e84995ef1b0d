"""A small Docker Hub API v2 client: JWT auth with refresh, pagination, safe retries, clear errors.

Credentials are read when a call is made (arguments, stack config or environment) and are never
kept anywhere that is pickled or stored in state. One client may serve several threads.

Retries: reads, updates and deletes are retried on connection errors, 5xx and 429. A POST creates
something, so it is retried only when Hub provably did not process it (the connection was never
made, or 429); any other failure of a POST raises HubUncertain, and the caller looks the object up
before creating it again.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

DEFAULT_BASE_URL = "https://hub.docker.com"
MAX_RETRIES = 5
MAX_WAIT_SECONDS = 60.0
REFRESH_MARGIN_SECONDS = 60


class HubError(RuntimeError):
    """A Docker Hub call failed. The message names the request and never contains a credential."""

    def __init__(self, message: str, status: int | None = None, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields or {}


class HubNotFound(HubError):
    pass


class HubUncertain(HubError):
    """A POST failed in a way that does not tell whether Hub processed it (timeout, 5xx, dropped
    connection). Look the object up before creating it again."""


@dataclass(frozen=True)
class Credentials:
    identifier: str
    secret: str = field(repr=False)


def credentials_from_env(identifier: str | None = None, secret: str | None = None) -> Credentials:
    """Explicit values first, then DOCKER_USERNAME with DOCKER_HUB_TOKEN or DOCKER_PASSWORD."""
    ident = identifier or os.environ.get("DOCKER_USERNAME")
    value = secret or os.environ.get("DOCKER_HUB_TOKEN") or os.environ.get("DOCKER_PASSWORD")
    if not ident or not value:
        raise HubError(
            "Docker Hub credentials are missing: set DOCKER_USERNAME and DOCKER_HUB_TOKEN (or DOCKER_PASSWORD), "
            "or the secret config registries:dockerHubSecret with registries:dockerHub.username"
        )
    return Credentials(ident, value)


def _jwt_expiry(token: str) -> float:
    """The `exp` claim of a JWT, or ten minutes from now when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return time.time() + 600


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made (refused, DNS, connect timeout): Hub saw nothing."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError and NameResolutionError are ConnectTimeoutErrors in urllib3 2.
    return isinstance(reason, ConnectTimeoutError)


def _retry_after(response: requests.Response) -> float:
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            return float(header)
        except ValueError:
            pass
    for name in ("X-Retry-After", "X-RateLimit-Reset"):  # unix timestamps
        value = response.headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) - time.time())
            except ValueError:
                pass
    return 1.0


class HubClient:
    """One authenticated session against one Hub API base URL."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._sleep = sleep
        self._timeout = timeout
        self._session = requests.Session()
        self._login_lock = threading.Lock()
        self._token: str | None = None
        self._token_expiry = 0.0

    @property
    def identifier(self) -> str:
        """Who this client logs in as (a user name, or an organization for an org token)."""
        return self._credentials.identifier

    def close(self) -> None:
        self._session.close()

    # -- low level --------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return text.replace(self._credentials.secret, "***") if self._credentials.secret else text

    def _send(self, method: str, url: str, what: str, *, idempotent: bool, **kwargs: Any) -> requests.Response:
        """One request with bounded retries. A non-idempotent request is resent only when Hub
        provably did not process it; otherwise its ambiguous failure raises HubUncertain."""
        label = f"{method} {url.removeprefix(self.base_url)}"
        for attempt in range(MAX_RETRIES + 1):
            try:
                response = self._session.request(method, url, timeout=self._timeout, **kwargs)
            except requests.RequestException as error:
                message = f"Docker Hub {label} ({what}) failed: {self._redact(str(error))}"
                if not idempotent and not _never_sent(error):
                    raise HubUncertain(message) from None
                if attempt == MAX_RETRIES:
                    raise HubError(message) from None
                self._sleep(min(2**attempt, MAX_WAIT_SECONDS))
                continue
            if response.status_code == 429 and attempt < MAX_RETRIES:
                self._sleep(min(_retry_after(response), MAX_WAIT_SECONDS))
                continue
            if response.status_code >= 500:
                if not idempotent:
                    raise HubUncertain(
                        f"Docker Hub answered {label} ({what}) with {response.status_code}; "
                        "it may or may not have been applied",
                        status=response.status_code,
                    )
                if attempt < MAX_RETRIES:
                    self._sleep(min(0.5 * 2**attempt, MAX_WAIT_SECONDS))
                    continue
            return response
        raise AssertionError("unreachable")

    def _token_header(self) -> dict[str, str]:
        with self._login_lock:  # threads share one JWT: one login, not one per thread
            if self._token is None or time.time() > self._token_expiry - REFRESH_MARGIN_SECONDS:
                self._login()
            return {"Authorization": f"Bearer {self._token}"}

    def _forget_token(self, token: str) -> None:
        with self._login_lock:
            if self._token == token:  # another thread may already have logged in again
                self._token = None

    def _login(self) -> None:
        body = {"identifier": self._credentials.identifier, "secret": self._credentials.secret}
        # Asking for a JWT changes nothing on Hub, so it is safe to resend.
        response = self._send("POST", f"{self.base_url}/v2/auth/token", "log in", idempotent=True, json=body)
        if response.status_code in (401, 403):
            raise HubError(
                f"Docker Hub refused the credentials of {self._credentials.identifier!r} "
                f"(POST /v2/auth/token: {response.status_code}); check DOCKER_USERNAME and the token or password",
                status=response.status_code,
            )
        data = self._result(response, "POST /v2/auth/token", "log in", (200, 201))
        token = data.get("access_token") or data.get("token")
        if not token:
            raise HubError("Docker Hub POST /v2/auth/token (log in) returned no access_token")
        self._token = str(token)
        self._token_expiry = _jwt_expiry(self._token)

    def _json(self, response: requests.Response, label: str, what: str) -> dict[str, Any]:
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            snippet = " ".join(response.text[:120].split())
            raise HubError(
                f"Docker Hub answered {label} ({what}) with {response.status_code} and a non-JSON page "
                f"({content_type or 'no content type'}: {self._redact(snippet)!r}); it may be a challenge or "
                "maintenance page: retry later",
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError:
            raise HubError(f"Docker Hub answered {label} ({what}) with malformed JSON", response.status_code) from None
        return data if isinstance(data, dict) else {"results": data}

    def request(
        self, method: str, path: str, what: str, *, body: Any = None, ok: tuple[int, ...] = (200, 201, 202, 204)
    ) -> dict[str, Any]:
        """Call `path` (or an absolute URL); `what` names the resource in errors. Returns the JSON body ({} for 204).

        A POST that may or may not have been applied raises HubUncertain (see the module docstring)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        label = f"{method} {url.removeprefix(self.base_url)}"
        idempotent = method != "POST"
        headers = self._token_header()
        response = self._send(method, url, what, idempotent=idempotent, json=body, headers=headers)
        if response.status_code == 401:  # the JWT may have been revoked; Hub refused, so resending is safe
            self._forget_token(headers["Authorization"].removeprefix("Bearer "))
            response = self._send(method, url, what, idempotent=idempotent, json=body, headers=self._token_header())
        return self._result(response, label, what, ok)

    def _result(self, response: requests.Response, label: str, what: str, ok: tuple[int, ...]) -> dict[str, Any]:
        if response.status_code in ok:
            if response.status_code == 204 or not response.content:
                return {}
            return self._json(response, label, what)
        if response.status_code == 404:
            raise HubNotFound(f"Docker Hub {label}: {what} not found", status=404)
        if response.status_code == 429:
            raise HubError(f"Docker Hub {label} ({what}): still rate limited after {MAX_RETRIES} retries", 429)
        data = self._json(response, label, what)
        raw_fields = data.get("fields")
        fields: dict[str, Any] = raw_fields if isinstance(raw_fields, dict) else {}
        details = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())
        message = details or data.get("message") or data.get("detail") or data.get("text") or "no details"
        raise HubError(
            f"Docker Hub refused {label} ({what}): {response.status_code} {self._redact(str(message))}",
            status=response.status_code,
            fields=fields,
        )

    # -- tags (used by `registryctl retention apply`) --------------------------------------------
    def list_tags(self, namespace: str, repository: str) -> Iterator[dict[str, Any]]:
        """Every tag of a repository as Hub lists it (`name`, `digest`, `images`, `tag_last_pushed`, ...)."""
        path = f"/v2/namespaces/{namespace}/repositories/{repository}/tags"
        return self.paginate(path, f"tags of {namespace}/{repository}")

    def read_tag(self, namespace: str, repository: str, tag: str) -> dict[str, Any] | None:
        """One tag, or None when the repository has no such tag."""
        path = f"/v2/namespaces/{namespace}/repositories/{repository}/tags/{quote(tag, safe='')}"
        try:
            return self.request("GET", path, f"tag {namespace}/{repository}:{tag}")
        except HubNotFound:
            return None

    def delete_tag(self, namespace: str, repository: str, tag: str) -> bool:
        """Delete one tag; False when it was already gone. Hub's published spec has no delete route: this is the
        one Hub's own UI and docker/hub-tool use (`DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/`, 204)."""
        path = f"/v2/repositories/{namespace}/{repository}/tags/{quote(tag, safe='')}/"
        try:
            self.request("DELETE", path, f"tag {namespace}/{repository}:{tag}")
        except HubNotFound:
            return False  # also a retried DELETE whose first attempt Hub applied
        return True

    def paginate(self, path: str, what: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following `next` until it is null."""
        separator = "&" if "?" in path else "?"
        url: str | None = f"{path}{separator}page_size={page_size}"
        while url:
            page = self.request("GET", url, what)
            yield from page.get("results") or []
            url = page.get("next")
