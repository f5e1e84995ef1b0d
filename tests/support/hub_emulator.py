"""A Docker Hub API emulator on 127.0.0.1, written from the documented contract (shared/reference).

Routes: /v2/auth/token; repositories (namespace create/get/list, legacy patch/privacy/delete,
immutabletags); personal and organization access tokens; webhook pipelines; org groups (teams)
and repository group permissions; tags (the documented namespace list/read routes with Hub's tag fields,
and the legacy delete route Hub's UI uses; `push_tag` seeds them). JWTs expire; the token
secret is returned only in the create response (a PATCH answers it redacted as `***`, a GET as
""); dates come back in Hub's own forms (microseconds for personal tokens), whatever the request
sent; lists paginate with absolute `next` URLs; errors use Hub's shapes. Switches make it answer
429 with Retry-After, 5xx, or an HTML challenge page, and fault hooks make it fail or stall a
create *after* applying it (`fail_after_create`, `delay_after_create`), as a real outage can.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PAT_SCOPES = {"repo:admin", "repo:write", "repo:read", "repo:public_read"}
HTML_CHALLENGE = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>challenge</body></html>"


def _hub_time(moment: datetime, microseconds: bool = True) -> str:
    """Hub's date-time form: UTC, `Z`, with microseconds (2021-10-28T18:30:19.520861Z) or without."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if microseconds else "%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return _hub_time(datetime.now(UTC))


def _expiry(value: Any, microseconds: bool) -> str | None:
    """An RFC 3339 `expires_at` as Hub stores and answers it; ValueError when it is not one."""
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("expires_at needs a time zone")
    return _hub_time(moment, microseconds)


def _immutable(repository: dict[str, Any], tag: str) -> bool:
    """Whether the repository's immutable-tag settings cover `tag` (enabled, no rules: every tag; else a rule
    regex matching the whole tag)."""
    settings = repository.get("immutable_tags_settings") or {}
    if not settings.get("enabled"):
        return False
    rules = settings.get("rules") or []
    return not rules or any(re.fullmatch(rule, tag) for rule in rules)


def _jwt(subject: str, ttl: float) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sub": subject, "exp": int(time.time() + ttl), "jti": uuid.uuid4().hex}
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}.{secrets.token_urlsafe(16)}"


@dataclass
class HubState:
    users: dict[str, str] = field(default_factory=dict)
    """identifier -> password (org names map to their org tokens through `org_tokens`)."""
    repositories: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    org_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """"ns/repo/slug" -> pipeline."""
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    """"org/name" -> group."""
    permissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """"ns/repo/group_id" -> {group_id, group_name, permission}."""
    tags: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """"ns/repo" -> tag name -> the tag as Hub lists it (name, digest, images, tag_last_pushed, ...)."""
    jwts: dict[str, tuple[str, float]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    logins: int = 0


class HubEmulator:
    """Start with `with HubEmulator(users={"alice": "pw"}) as hub:`; `hub.url` is the base URL."""

    def __init__(self, users: dict[str, str] | None = None, jwt_ttl: float = 600) -> None:
        self.state = HubState(users=dict(users or {}))
        self.jwt_ttl = jwt_ttl
        self.lock = threading.Lock()
        self.answer_429 = 0
        self.retry_after = "1"
        self.answer_500 = 0
        self.answer_html = 0
        self._create_faults: list[tuple[str, float]] = []
        self._delete_faults: list[int] = []
        self.forbid_tag_deletes: str | None = None
        """When set, tag deletes are refused with 403 and this `detail` (as Hub answers a JWT it will not
        let delete, e.g. "access is forbidden with a JWT issued from a personal access token")."""
        self._ids = iter(range(1000, 10**9))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- helpers for tests ------------------------------------------------------------------------
    def repository(self, full_name: str) -> dict[str, Any] | None:
        return self.state.repositories.get(full_name)

    def fail_after_create(self, status: int = 500, count: int = 1) -> None:
        """The next `count` creates (POSTs other than log-in) are applied, then answered `status`."""
        self._create_faults.extend([("fail", float(status))] * count)

    def delay_after_create(self, seconds: float, count: int = 1) -> None:
        """The next `count` creates are applied, then answered only after `seconds`."""
        self._create_faults.extend([("delay", seconds)] * count)

    def fail_after_delete(self, status: int = 503, count: int = 1) -> None:
        """The next `count` tag deletes are applied, then answered `status` (the client cannot tell)."""
        self._delete_faults.extend([status] * count)

    def push_tag(
        self,
        full_name: str,
        tag: str,
        digest: str,
        pushed_at: datetime,
        platforms: tuple[str, ...] = ("amd64",),
        pusher: str = "acmebot",
    ) -> dict[str, Any]:
        """What `docker push NAMESPACE/REPO:TAG` leaves on Hub: the tag points at `digest` (a platform image, or a
        multi-platform index over `platforms`), pushed at `pushed_at`. Pushing a tag again moves it."""
        with self.lock:
            if full_name not in self.state.repositories:
                raise KeyError(f"no repository {full_name} on the emulator")
            when = _hub_time(pushed_at)
            size = 2_000_000 + int(digest[-4:], 16)
            single = len(platforms) == 1
            images = [
                {
                    "architecture": arch,
                    "features": "",
                    "variant": None,
                    # A platform image's own digest; for a single-platform push it is the tag's digest.
                    "digest": digest if single else f"sha256:{hashlib.sha256(f'{digest}/{arch}'.encode()).hexdigest()}",
                    "os": "linux",
                    "os_features": "",
                    "os_version": None,
                    "size": size,
                    "status": "active",
                    "last_pulled": None,
                    "last_pushed": when,
                }
                for arch in platforms
            ]
            record = {
                "creator": 1,
                "id": next(self._ids),
                "images": images,
                "last_updated": when,
                "last_updater": 1,
                "last_updater_username": pusher,
                "name": tag,
                "repository": 1,
                "full_size": size,
                "v2": True,
                "tag_status": "active",
                "tag_last_pulled": None,
                "tag_last_pushed": when,
                "media_type": "application/vnd.docker.distribution.manifest.v2+json"
                if single
                else "application/vnd.oci.image.index.v1+json",
                "content_type": "image",
                "digest": digest,
            }
            self.state.tags.setdefault(full_name, {})[tag] = record
            return record

    def tag_digests(self, full_name: str) -> dict[str, str]:
        """tag -> digest of a repository, as Hub holds it now."""
        with self.lock:
            return {name: t["digest"] for name, t in self.state.tags.get(full_name, {}).items()}

    def _delete_fault(self, method: str, path: str, status: int) -> int | None:
        if method != "DELETE" or "/tags/" not in path or status != 204 or not self._delete_faults:
            return None
        return self._delete_faults.pop(0)

    def _create_fault(self, method: str, path: str, status: int) -> tuple[str, float] | None:
        if method != "POST" or path == "/v2/auth/token" or not 200 <= status < 300 or not self._create_faults:
            return None
        return self._create_faults.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "180")
                self.send_header("X-RateLimit-Remaining", "179")
                self.send_header("X-RateLimit-Reset", str(int(time.time()) + 60))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}") if length else {}

            def _dispatch(self, method: str) -> None:
                parsed = urlparse(self.path)
                path, query = parsed.path, parse_qs(parsed.query)
                with emulator.lock:
                    emulator.state.requests.append((method, path))
                    if emulator.answer_html:
                        emulator.answer_html -= 1
                        data = HTML_CHALLENGE.encode()
                        self.send_response(403)
                        self.send_header("Content-Type", "text/html; charset=UTF-8")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    if emulator.answer_429:
                        emulator.answer_429 -= 1
                        self._send(
                            429,
                            {"detail": "Rate limit exceeded", "error": False},
                            {"Retry-After": emulator.retry_after},
                        )
                        return
                    if emulator.answer_500:
                        emulator.answer_500 -= 1
                        self._send(503, {"message": "service unavailable"})
                        return
                    body = self._body() if method in ("POST", "PATCH", "PUT") else {}
                    status, answer = emulator.route(method, path, query, body, self.headers.get("Authorization", ""))
                    fault = emulator._create_fault(method, path, status)
                    delete_fault = emulator._delete_fault(method, path, status)
                if delete_fault is not None:
                    self._send(delete_fault, {"errinfo": None, "message": "service unavailable"})
                    return
                if fault is not None and fault[0] == "fail":
                    self._send(int(fault[1]), {"errinfo": None, "message": "internal server error"})
                    return
                if fault is not None:
                    time.sleep(fault[1])  # outside the lock: Hub keeps serving others meanwhile
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client may have gone
                    self._send(status, answer)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_HEAD(self) -> None:
                self._dispatch("HEAD")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PATCH(self) -> None:
                self._dispatch("PATCH")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

        return Handler

    # -- routing ------------------------------------------------------------------------------------
    def _who(self, authorization: str) -> str | None:
        if not authorization.startswith("Bearer "):
            return None
        entry = self.state.jwts.get(authorization.removeprefix("Bearer "))
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        page = int(query.get("page", ["1"])[0])
        size = min(int(query.get("page_size", ["10"])[0]), 100)
        chunk = items[(page - 1) * size : page * size]
        more = page * size < len(items)
        # Hub's org access-token list counts under `total`; its other lists under `count`.
        count_key = "total" if path.startswith("/v2/orgs/") and path.endswith("/access-tokens") else "count"
        return {
            count_key: len(items),
            "next": f"{self.url}{path}?page={page + 1}&page_size={size}" if more else None,
            "previous": f"{self.url}{path}?page={page - 1}&page_size={size}" if page > 1 else None,
            "results": chunk,
        }

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any], authorization: str
    ) -> tuple[int, Any]:
        state = self.state
        if method == "POST" and path == "/v2/auth/token":
            identifier, secret = body.get("identifier", ""), body.get("secret", "")
            known = state.users.get(identifier) == secret
            known = known or any(
                t["token"] == secret and t["owner"] == identifier for t in state.access_tokens.values()
            )
            known = known or any(t["token"] == secret and t["org"] == identifier for t in state.org_tokens.values())
            if not secret or not known:
                return 401, {
                    "errinfo": None,
                    "detail": "Incorrect authentication credentials",
                    "message": "Incorrect authentication credentials",
                }
            token = _jwt(identifier, self.jwt_ttl)
            state.jwts[token] = (identifier, time.time() + self.jwt_ttl)
            state.logins += 1
            return 200, {"access_token": token}

        who = self._who(authorization)
        if who is None:
            return 401, {"errinfo": None, "detail": "authentication required", "message": "authentication required"}
        if (tag_answer := self._tag_route(method, path, query)) is not None:
            return tag_answer

        if m := re.fullmatch(r"/v2/namespaces/([^/]+)/repositories", path):
            ns = m.group(1)
            if method == "GET":
                items = [r for k, r in sorted(state.repositories.items()) if k.startswith(f"{ns}/")]
                return 200, self._page(items, path, query)
            if method == "POST":
                name = body.get("name", "")
                errors: dict[str, list[str]] = {}
                if not (2 <= len(name) <= 255 and REPOSITORY_NAME.match(name)):
                    errors["name"] = ["Repository name must match ^[a-z0-9]+(?:[._-][a-z0-9]+)*$"]
                if len(body.get("description") or "") > 100:
                    errors["description"] = ["Ensure this field has no more than 100 characters."]
                if errors:
                    return 400, {"fields": errors, "text": "invalid repository"}
                if f"{ns}/{name}" in state.repositories:
                    return 409, {"message": f"Repository {ns}/{name} already exists"}
                repo = {
                    "name": name,
                    "namespace": ns,
                    "repository_type": "image",
                    "status": 1,
                    "description": body.get("description", ""),
                    "full_description": body.get("full_description", ""),
                    "is_private": bool(body.get("is_private", False)),
                    "pull_count": 0,
                    "star_count": 0,
                    "date_registered": _now(),
                    "last_updated": _now(),
                    "immutable_tags_settings": {"enabled": False, "rules": []},
                }
                state.repositories[f"{ns}/{name}"] = repo
                return 201, repo
        if m := re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)", path):
            repo = state.repositories.get(f"{m.group(1)}/{m.group(2)}")
            if repo is None:
                return 404, {"message": "not found"}
            return (200, repo) if method in ("GET", "HEAD") else (405, {"message": "method not allowed"})
        if m := re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)/immutabletags", path):
            repo = state.repositories.get(f"{m.group(1)}/{m.group(2)}")
            if repo is None:
                return 404, {"message": "not found"}
            repo["immutable_tags_settings"] = {
                "enabled": bool(body.get("immutable_tags")),
                "rules": list(body.get("immutable_tags_rules") or []),
            }
            return 200, repo
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/", path):
            key = f"{m.group(1)}/{m.group(2)}"
            repo = state.repositories.get(key)
            if repo is None:
                return 404, {"message": "not found"}
            if method == "PATCH":
                for field_name in ("description", "full_description"):
                    if field_name in body:
                        repo[field_name] = body[field_name]
                if len(repo["description"]) > 100:
                    return 400, {"fields": {"description": ["Ensure this field has no more than 100 characters."]}}
                return 200, repo
            if method == "DELETE":
                del state.repositories[key]
                state.tags.pop(key, None)
                for hook in [k for k in state.webhooks if k.startswith(f"{key}/")]:
                    del state.webhooks[hook]
                return 202, None
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/privacy", path):
            repo = state.repositories.get(f"{m.group(1)}/{m.group(2)}")
            if repo is None:
                return 404, {"message": "not found"}
            repo["is_private"] = bool(body.get("is_private"))
            return 200, repo

        if path == "/v2/access-tokens":
            if method == "POST":
                scopes = body.get("scopes") or []
                if not scopes or any(s not in PAT_SCOPES for s in scopes):
                    return 400, {"fields": {"scopes": ["invalid scope"]}, "text": "invalid scopes"}
                if not 1 <= len(body.get("token_label") or "") <= 100:
                    return 400, {"fields": {"token_label": ["must be 1-100 characters"]}}
                try:
                    expires_at = _expiry(body.get("expires_at"), microseconds=True)
                except ValueError:
                    return 400, {"fields": {"expires_at": ["must be an RFC 3339 date-time"]}, "text": "invalid"}
                token = {
                    "uuid": str(uuid.uuid4()),
                    "client_id": "emulator",
                    "creator_ip": "127.0.0.1",
                    "created_at": _now(),
                    "last_used": None,
                    "generated_by": "manual",
                    "is_active": True,
                    "token": f"dckr_pat_{secrets.token_urlsafe(24)}",
                    "token_label": body["token_label"],
                    "scopes": scopes,
                    "expires_at": expires_at,
                    "owner": who,
                }
                state.access_tokens[token["uuid"]] = token
                return 201, {k: v for k, v in token.items() if k != "owner"}
            if method == "GET":
                items = [self._public_token(t) for t in state.access_tokens.values() if t["owner"] == who]
                return 200, self._page(items, path, query)
        if m := re.fullmatch(r"/v2/access-tokens/([^/]+)", path):
            token = state.access_tokens.get(m.group(1))
            if token is None or token["owner"] != who:
                return 404, {"message": "not found"}
            return self._token_item(method, state.access_tokens, m.group(1), body, ("token_label",))

        if m := re.fullmatch(r"/v2/orgs/([^/]+)/access-tokens", path):
            org = m.group(1)
            if method == "POST":
                resources = body.get("resources") or []
                if not body.get("label") or not resources:
                    return 400, {"fields": {"resources": ["at least one resource"]}, "text": "invalid"}
                for resource in resources:
                    if any(not s.startswith("scope-") for s in resource.get("scopes", [])):
                        return 400, {"fields": {"resources": ["unknown scope"]}}
                try:
                    # The spec's examples give org token dates to the second (2023-05-20T00:54:18Z).
                    expires_at = _expiry(body.get("expires_at"), microseconds=False)
                except ValueError:
                    return 400, {"fields": {"expires_at": ["must be an RFC 3339 date-time"]}, "text": "invalid"}
                token = {
                    "id": str(uuid.uuid4()),
                    "label": body["label"],
                    "description": body.get("description", ""),
                    "is_active": True,
                    "created_at": _hub_time(datetime.now(UTC), microseconds=False),
                    "expires_at": expires_at,
                    "last_used_at": None,
                    "token": f"dckr_oat_{secrets.token_urlsafe(24)}",
                    "resources": resources,
                    "org": org,
                }
                state.org_tokens[token["id"]] = token
                return 201, {k: v for k, v in token.items() if k != "org"}
            if method == "GET":
                items = [self._public_token(t) for t in state.org_tokens.values() if t["org"] == org]
                return 200, self._page(items, path, query)
        if m := re.fullmatch(r"/v2/orgs/([^/]+)/access-tokens/([^/]+)", path):
            token = state.org_tokens.get(m.group(2))
            if token is None or token["org"] != m.group(1):
                return 404, {"message": "not found"}
            return self._token_item(method, state.org_tokens, m.group(2), body, ("label", "description", "resources"))

        if m := re.fullmatch(r"/v2/orgs/([^/]+)/groups", path):
            org = m.group(1)
            if method == "POST":
                name = body.get("name") or ""
                if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,29}", name):
                    return 400, {"fields": {"name": ["invalid team name"]}, "text": "invalid"}
                if f"{org}/{name}" in state.teams:
                    return 409, {"message": f"team {name} already exists"}
                team = {
                    "id": len(state.teams) + 100,
                    "uuid": str(uuid.uuid4()),
                    "name": name,
                    "description": body.get("description", ""),
                    "member_count": 0,
                    "role": "member",
                }
                state.teams[f"{org}/{name}"] = team
                return 201, team
            if method == "GET":
                items = [t for k, t in sorted(state.teams.items()) if k.startswith(f"{org}/")]
                return 200, self._page(items, path, query)
        if m := re.fullmatch(r"/v2/orgs/([^/]+)/groups/([^/]+)", path):
            key = f"{m.group(1)}/{m.group(2)}"
            team = state.teams.get(key)
            if team is None:
                return 404, {"errinfo": None, "message": "not found"}
            if method == "GET":
                return 200, team
            if method in ("PATCH", "PUT"):
                if "description" in body:
                    team["description"] = body["description"]
                return 200, team
            if method == "DELETE":
                del state.teams[key]
                for perm in [k for k, p in state.permissions.items() if p["group_id"] == team["id"]]:
                    del state.permissions[perm]
                return 204, None
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/groups", path):
            repo = f"{m.group(1)}/{m.group(2)}"
            if repo not in state.repositories:
                return 404, {"message": "not found"}
            if method == "POST":
                group_id, permission = body.get("group_id"), body.get("permission")
                if permission not in ("read", "write", "admin"):
                    return 400, {"fields": {"permission": ["must be read, write or admin"]}}
                team = next((t for t in state.teams.values() if t["id"] == group_id), None)
                if team is None:
                    return 400, {"fields": {"group_id": ["no such group"]}}
                entry = {"group_id": group_id, "group_name": team["name"], "permission": permission}
                state.permissions[f"{repo}/{group_id}"] = entry
                return 200, entry
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/groups/([0-9]+)/", path):
            key = f"{m.group(1)}/{m.group(2)}/{m.group(3)}"
            entry = state.permissions.get(key)
            if entry is None:
                return 404, {"message": "not found"}
            if method == "GET":
                return 200, entry
            if method == "PATCH":
                if body.get("permission") not in ("read", "write", "admin"):
                    return 400, {"fields": {"permission": ["must be read, write or admin"]}}
                entry["permission"] = body["permission"]
                return 200, entry
            if method == "DELETE":
                del state.permissions[key]
                return 204, None
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/webhook_pipeline/", path):
            key = f"{m.group(1)}/{m.group(2)}"
            if key not in state.repositories:
                return 404, {"message": "not found"}
            if method == "POST":
                hooks = body.get("webhooks") or []
                if not body.get("name") or not hooks or not str(hooks[0].get("hook_url", "")).startswith("http"):
                    return 400, {"fields": {"webhooks": ["a hook_url is required"]}}
                slug = re.sub(r"[^a-z0-9]+", "-", body["name"].lower()).strip("-") + "-" + uuid.uuid4().hex[:6]
                pipeline = {
                    "name": body["name"],
                    "slug": slug,
                    "expect_final_callback": bool(body.get("expect_final_callback")),
                    "webhooks": [{"name": h.get("name"), "hook_url": h["hook_url"], "created": _now()} for h in hooks],
                    "created": _now(),
                    "last_updated": _now(),
                }
                state.webhooks[f"{key}/{slug}"] = pipeline
                return 201, pipeline
            if method == "GET":
                items = [h for k, h in state.webhooks.items() if k.startswith(f"{key}/")]
                return 200, self._page(items, path, query)
        if m := re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/webhook_pipeline/([^/]+)/", path):
            key = f"{m.group(1)}/{m.group(2)}/{m.group(3)}"
            pipeline = state.webhooks.get(key)
            if pipeline is None:
                return 404, {"message": "not found"}
            if method == "GET":
                return 200, pipeline
            if method == "DELETE":
                del state.webhooks[key]
                return 204, None
        return 404, {"message": f"no route {method} {path}"}

    def _tag_route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any] | None:
        """Tags: the documented list and read (namespace routes, no trailing slash), and the delete route Hub's UI
        and hub-tool use (legacy route, trailing slash, 204). None when `path` is not a tag route."""
        state = self.state
        listing = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)/tags", path)
        one = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)/tags/([^/]+)", path)
        delete = re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/tags/([^/]+)/", path)
        match = listing or one or delete
        if match is None:
            return None
        key = f"{match.group(1)}/{match.group(2)}"
        if key not in state.repositories:
            return 404, {"errinfo": {}, "message": f"httperror 404: repository {key} not found"}
        tags = state.tags.get(key, {})
        if listing and method in ("GET", "HEAD"):
            # Hub lists the most recently updated first.
            ordered = sorted(tags.values(), key=lambda t: (t["last_updated"] or "", t["name"]), reverse=True)
            return 200, self._page(ordered, path, query)
        name = unquote(match.group(3)) if not listing else ""
        if name not in tags:
            return 404, {"errinfo": {}, "message": f"httperror 404: tag '{name}' not found"}
        if one and method in ("GET", "HEAD"):
            return 200, tags[name]
        if delete and method == "DELETE":
            if self.forbid_tag_deletes is not None:
                return 403, {"detail": self.forbid_tag_deletes}
            if _immutable(state.repositories[key], name):
                # Hub refuses it (its docs: immutable tags cannot be deleted); the exact status and message are not
                # published, so this is a 400 in Hub's error shape.
                return 400, {
                    "errinfo": {},
                    "message": f"httperror 400: tag '{name}' is immutable and cannot be deleted",
                }
            del tags[name]
            return 204, None
        return 405, {"message": "method not allowed"}

    def _token_item(
        self, method: str, store: dict[str, dict[str, Any]], key: str, body: dict[str, Any], editable: tuple[str, ...]
    ) -> tuple[int, Any]:
        """GET, PATCH (the `editable` fields and is_active) or DELETE one personal or organization token."""
        token = store[key]
        if method == "PATCH":
            token.update({k: body[k] for k in editable if k in body})
            if "is_active" in body:
                token["is_active"] = bool(body["is_active"])
        if method == "DELETE":
            del store[key]
            return 204, None
        if method in ("GET", "PATCH"):
            answer = self._public_token(token)
            if method == "PATCH" and "token" in answer:
                answer["token"] = "***"  # Hub redacts the secret in the answer to an update
            return 200, answer
        return 405, {"message": "method not allowed"}

    @staticmethod
    def _public_token(token: dict[str, Any]) -> dict[str, Any]:
        """Reads never return the token secret: a personal token's `token` is "" (the spec's example),
        an organization token's answers have no `token` field at all."""
        public = {k: v for k, v in token.items() if k not in ("owner", "org", "token")}
        return {**public, "token": ""} if "owner" in token else public
