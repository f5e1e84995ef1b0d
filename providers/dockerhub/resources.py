"""Pulumi dynamic providers for Docker Hub: Repository, AccessToken, OrgAccessToken, Webhook, Team,
RepositoryTeamPermission.

The host contract these are written for (pulumi/dynamic/__main__.py): each provider is unpickled
once per host process, `configure`d with the whole stack config (keys qualified, `registries:...`),
cached, and then serves check/diff/create/read/update/delete from several threads. `diff` gets the
old *outputs* and the new *inputs*, with `pulumi.output.Unknown` for inputs a preview does not know.

- Where Hub is, and who logs in, is provider configuration, not resource identity: `configure`
  reads `registries:dockerHub` (`baseUrl`, `username`) and the secret `registries:dockerHubSecret`,
  falling back to DOCKER_USERNAME with DOCKER_HUB_TOKEN or DOCKER_PASSWORD. Only a personal access
  token is tied to a login: its `owner` is recorded, and a different owner replaces it.
- Provider objects are pickled into state by reference; runtime state (configuration, clients)
  is never pickled (`__getstate__`), so a configured provider serializes exactly like a fresh one.
- One client (one login) per Hub URL and credentials, shared by every provider in the process.
- `diff` compares like with like: both sides are normalised (dates to UTC seconds, scope and
  rule sets, line endings, Hub's defaults), so Hub's own representation is not a change.
- A create whose POST may or may not have reached Hub looks the object up before trying again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize

from providers.dockerhub.client import (
    DEFAULT_BASE_URL,
    Credentials,
    HubClient,
    HubNotFound,
    HubUncertain,
    credentials_from_env,
)

REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PAT_SCOPES = frozenset({"repo:admin", "repo:write", "repo:read", "repo:public_read"})
TEAM_PERMISSIONS = frozenset({"read", "write", "admin"})
# The stack config keys the providers read (qualified: the host's own project name is not ours).
CONFIG_KEY = "registries:dockerHub"
SECRET_CONFIG_KEY = "registries:dockerHubSecret"  # noqa: S105 - a key name, not a secret
REQUEST_TIMEOUT_SECONDS = 30.0
# Attempts of one create, and the pause before looking up what an ambiguous attempt left behind.
CREATE_ATTEMPTS = 3
SETTLE_SECONDS = 1.0
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's secret marker


# -- Connection settings and the shared clients ----------------------------------------------------
@dataclass(frozen=True)
class HubSettings:
    """Where Hub is and who logs in, from the stack config given to `configure`."""

    base_url: str | None = None
    username: str | None = None
    secret: str | None = field(default=None, repr=False)


def _config_value(raw: Any) -> Any:
    """A config value as the host passes it: possibly a secret wrapper, objects possibly as JSON text."""
    if isinstance(raw, dict) and _SECRET_SIG in raw:
        raw = raw.get("value")
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        with contextlib.suppress(ValueError):
            return json.loads(raw)
    return raw


def settings_from_config(get: Callable[[str], Any]) -> HubSettings:
    section = _config_value(get(CONFIG_KEY))
    section = section if isinstance(section, dict) else {}
    secret = _config_value(get(SECRET_CONFIG_KEY))
    return HubSettings(
        base_url=str(section["baseUrl"]) if section.get("baseUrl") else None,
        username=str(section["username"]) if section.get("username") else None,
        secret=str(secret) if secret else None,
    )


_CLIENTS: dict[tuple[str, str, str], HubClient] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(base_url: str, credentials: Credentials) -> HubClient:
    """The process's one client for this Hub URL and these credentials (so one login)."""
    fingerprint = hashlib.sha256(credentials.secret.encode()).hexdigest()
    key = (base_url.rstrip("/"), credentials.identifier, fingerprint)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = HubClient(base_url, credentials, timeout=REQUEST_TIMEOUT_SECONDS)
        return client


def forget_clients() -> None:
    """Drop every cached client (a new host process starts without any)."""
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()


# -- Normalisation ---------------------------------------------------------------------------------
def is_unknown(value: Any) -> bool:
    """True when a preview left `value` (or part of it) unknown. The host deserializes unknowns as
    `pulumi.output.Unknown` instances (keep_unknowns); the raw wire sentinel is rpc.UNKNOWN."""
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def instant(value: Any) -> datetime | None:
    """An RFC 3339 date-time as an aware UTC datetime to the second; None for no expiry."""
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def expiry_problems(olds: dict[str, Any], news: dict[str, Any]) -> list[CheckFailure]:
    """A token's expiry is a zoned date-time, in the future whenever the token would be created (new, or
    its expiry changed). An existing token whose date has passed does not stop later updates of the stack."""
    value = news.get("expiresAt")
    if is_unknown(value):
        return []
    try:
        moment = instant(value)
    except ValueError:
        return [CheckFailure("expiresAt", "must be an RFC 3339 date-time with a time zone")]
    if moment is None or moment > datetime.now(UTC):
        return []
    with contextlib.suppress(ValueError):
        if olds and not is_unknown(olds.get("expiresAt")) and instant(olds.get("expiresAt")) == moment:
            return []
    return [CheckFailure("expiresAt", "must be in the future: Hub would create a token that has already expired")]


def rfc3339(value: Any) -> str | None:
    moment = instant(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _text(value: Any) -> str:
    return str(value or "").replace("\r\n", "\n")


def _flag(default: bool) -> Callable[[Any], bool]:
    return lambda value: default if value is None else bool(value)


def _set(value: Any) -> list[str]:
    return sorted({str(v) for v in value or []})


def _immutable_tags(value: Any) -> dict[str, Any]:
    settings = value or {}
    enabled = bool(settings.get("enabled"))
    # Rules do nothing while disabled, and Hub keeps (or defaults) them as it likes then.
    return {"enabled": enabled, "rules": _set(settings.get("rules")) if enabled else []}


def _org_resources(value: Any) -> list[dict[str, Any]]:
    items = [
        {"type": r.get("type") or "TYPE_REPO", "path": str(r.get("path")), "scopes": _set(r.get("scopes"))}
        for r in value or []
    ]
    return sorted(items, key=lambda r: (r["type"], r["path"]))


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


# -- The shared provider plumbing ------------------------------------------------------------------
class _HubProvider(ResourceProvider):
    """Configuration, shared clients, normalised diffs and ambiguity-safe creates."""

    serialize_as_secret_always = False
    # Inputs that name the object on Hub: a change needs a new object.
    replace_keys: ClassVar[tuple[str, ...]] = ()
    # Inputs updated in place.
    update_keys: ClassVar[tuple[str, ...]] = ()
    # Inputs whose equality means the old and the new object would have the same name on Hub.
    name_keys: ClassVar[tuple[str, ...]] = ()
    # How each input is compared (both sides); identity for the others.
    normalisers: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __getstate__(self) -> None:
        # Runtime state (configured secret) never goes into a pickle; the blob is the class reference.
        return None

    def configure(self, req: ConfigureRequest) -> None:
        self._settings = settings_from_config(req.config.get)

    def _configured(self) -> HubSettings:
        return getattr(self, "_settings", None) or HubSettings()

    def _login_name(self, props: dict[str, Any]) -> str | None:
        """Who logs in: the configured username, else DOCKER_USERNAME, else what older state recorded."""
        return self._configured().username or os.environ.get("DOCKER_USERNAME") or props.get("username")

    def _client(self, props: dict[str, Any]) -> HubClient:
        settings = self._configured()
        base_url = settings.base_url or props.get("baseUrl") or DEFAULT_BASE_URL
        return shared_client(base_url, credentials_from_env(self._login_name(props), settings.secret))

    def _delete(self, props: dict[str, Any], path: str, what: str) -> None:
        """DELETE `path`; an object that is already gone counts as deleted."""
        with contextlib.suppress(HubNotFound):
            self._client(props).request("DELETE", path, what)

    @staticmethod
    def _create_safely(
        client: HubClient, path: str, what: str, body: dict[str, Any], find: Callable[[], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """POST a create; after an ambiguous failure, `find` what the POST made (or clean it up and
        return None) before posting again, so Hub never holds an object that state does not."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return client.request("POST", path, what, body=body)
            except HubUncertain:
                time.sleep(SETTLE_SECONDS)  # let a create that is still in flight land first
                found = find()  # also on the last attempt: clean up before giving up
                if found is not None:
                    return found
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _norm(self, key: str, value: Any) -> Any:
        return self.normalisers.get(key, lambda v: v)(value)

    def _extra_replaces(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return []

    def _changed(self, key: str, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        return self._norm(key, olds.get(key)) != self._norm(key, news.get(key))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed: list[str] = []
        replaces: list[str] = []
        for key in (*self.replace_keys, *self.update_keys):
            # An unknown may change; it plans a replace only where the key names the object.
            if is_unknown(news.get(key)) or self._changed(key, olds, news):
                changed.append(key)
                if key in self.replace_keys:
                    replaces.append(key)
        replaces += self._extra_replaces(olds, news)
        # Create the replacement first unless both would carry the same name on Hub (M8).
        collide = bool(self.name_keys) and all(
            not is_unknown(news.get(k)) and not self._changed(k, olds, news) for k in self.name_keys
        )
        return DiffResult(
            changes=bool(changed or replaces), replaces=replaces, delete_before_replace=bool(replaces) and collide
        )

    def _read_result(self, id_: str, props: dict[str, Any], outs: dict[str, Any]) -> ReadResult:
        """What a refresh records: Hub's view, in the prior spelling wherever it means the same (a
        refresh then reports no drift for 2030-06-30T00:00:00.000000Z vs ...00Z), and the inputs, so
        real drift shows as a diff on the next update."""
        keys = (*self.replace_keys, *self.update_keys)
        for key in keys:
            if key in outs and key in props and not self._changed(key, props, outs):
                outs[key] = props[key]
        return ReadResult(id_, outs, {k: outs[k] for k in keys if k in outs})

    @staticmethod
    def _without_login(props: dict[str, Any]) -> dict[str, Any]:
        """Outputs never carry the login name of older program versions (it is configuration now)."""
        return {k: v for k, v in props.items() if k != "username"}


# -- Repository ------------------------------------------------------------------------------------
class RepositoryProvider(_HubProvider):
    replace_keys = ("namespace", "name")
    update_keys = ("description", "fullDescription", "private", "immutableTags")
    name_keys = ("namespace", "name")
    normalisers = {
        "description": _text,
        "fullDescription": _text,
        "private": _flag(True),
        "immutableTags": _immutable_tags,
    }

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = news.get("name", "")
        if not is_unknown(name) and not (2 <= len(str(name)) <= 255 and REPOSITORY_NAME.match(str(name))):
            failures.append(CheckFailure("name", f"{name!r} must be 2-255 characters of a-z, 0-9 and . _ - separators"))
        if not is_unknown(news.get("description")) and len(news.get("description") or "") > 100:
            failures.append(CheckFailure("description", "must be at most 100 characters"))
        if not is_unknown(news.get("fullDescription")) and len(news.get("fullDescription") or "") > 25000:
            failures.append(CheckFailure("fullDescription", "must be at most 25,000 characters"))
        return CheckResult(news, failures)

    @staticmethod
    def _path(props: dict[str, Any]) -> str:
        return f"{props['namespace']}/{props['name']}"

    def _get(self, client: HubClient, props: dict[str, Any]) -> dict[str, Any]:
        return client.request(
            "GET",
            f"/v2/namespaces/{props['namespace']}/repositories/{props['name']}",
            f"repository {self._path(props)}",
        )

    def _find(self, client: HubClient, props: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self._get(client, props)
        except HubNotFound:
            return None

    def _set_immutable_tags(self, client: HubClient, props: dict[str, Any]) -> None:
        tags = props.get("immutableTags") or {}
        client.request(
            "PATCH",
            f"/v2/namespaces/{props['namespace']}/repositories/{props['name']}/immutabletags",
            f"repository {self._path(props)}",
            body={"immutable_tags": bool(tags.get("enabled")), "immutable_tags_rules": list(tags.get("rules") or [])},
        )

    def _outputs(self, client: HubClient, props: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        # The program's inputs as given; Hub's own view only where nothing was given.
        return {**self._without_login(props), "baseUrl": client.base_url, "pullCount": int(info.get("pull_count") or 0)}

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        what = f"repository {self._path(props)}"
        existed = self._find(client, props) is not None  # then the POST answers 409: never adopt it
        self._create_safely(
            client,
            f"/v2/namespaces/{props['namespace']}/repositories",
            what,
            {
                "name": props["name"],
                "namespace": props["namespace"],
                "description": props.get("description") or "",
                "full_description": props.get("fullDescription") or "",
                "is_private": bool(props.get("private", True)),
                "registry": "docker.io",
            },
            lambda: None if existed else self._find(client, props),
        )
        if (props.get("immutableTags") or {}).get("enabled"):
            self._set_immutable_tags(client, props)
        return CreateResult(self._path(props), self._outputs(client, props, self._get(client, props)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        namespace, name = id_.split("/", 1)
        props = {**props, "namespace": namespace, "name": name}
        client = self._client(props)
        info = self._find(client, props)
        if info is None:
            return ReadResult("", {})
        immutable = info.get("immutable_tags_settings") or {}
        outs = {
            **self._outputs(client, props, info),
            "description": info.get("description") or "",
            "fullDescription": info.get("full_description") or "",
            "private": bool(info.get("is_private", props.get("private", True))),
            "immutableTags": {"enabled": bool(immutable.get("enabled")), "rules": list(immutable.get("rules") or [])},
        }
        return self._read_result(id_, props, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        path, what = self._path(news), f"repository {self._path(news)}"
        if self._changed("description", olds, news) or self._changed("fullDescription", olds, news):
            client.request(
                "PATCH",
                f"/v2/repositories/{path}/",
                what,
                body={
                    "description": news.get("description") or "",
                    "full_description": news.get("fullDescription") or "",
                },
            )
        if self._changed("private", olds, news):
            client.request(
                "POST", f"/v2/repositories/{path}/privacy", what, body={"is_private": bool(news.get("private", True))}
            )
        if self._changed("immutableTags", olds, news):
            self._set_immutable_tags(client, news)
        return UpdateResult(self._outputs(client, news, self._get(client, news)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"/v2/repositories/{id_}/", f"repository {id_}")


# -- Personal access token -------------------------------------------------------------------------
class AccessTokenProvider(_HubProvider):
    """A personal access token: it belongs to the user who logs in (`owner`)."""

    replace_keys = ("scopes", "expiresAt")
    update_keys = ("label", "active")
    normalisers = {"scopes": _set, "expiresAt": instant, "label": str, "active": _flag(True)}

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        scopes = news.get("scopes") or []
        if not is_unknown(scopes) and (not scopes or any(s not in PAT_SCOPES for s in scopes)):
            failures.append(CheckFailure("scopes", f"must be among {sorted(PAT_SCOPES)}"))
        label = news.get("label") or ""
        if not is_unknown(label) and not 1 <= len(label) <= 100:
            failures.append(CheckFailure("label", "must be 1-100 characters"))
        failures += expiry_problems(olds, news)
        return CheckResult(news, failures)

    def _extra_replaces(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        owner = olds.get("owner") or olds.get("username")
        login = self._login_name({})
        return ["owner"] if owner and login and owner != login else []

    def _same_label(self, client: HubClient, label: str) -> set[str]:
        return {
            str(t["uuid"])
            for t in client.paginate("/v2/access-tokens", "access tokens")
            if t.get("token_label") == label
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        what = f"access token {props['label']!r}"
        body: dict[str, Any] = {"token_label": props["label"], "scopes": list(props["scopes"])}
        if props.get("expiresAt"):
            body["expires_at"] = rfc3339(props["expiresAt"])
        before = self._same_label(client, props["label"])

        def discard_orphans() -> None:
            # A token whose create answer was lost is useless (its secret is never shown again).
            for uuid in self._same_label(client, props["label"]) - before:
                with contextlib.suppress(HubNotFound):
                    client.request("DELETE", f"/v2/access-tokens/{uuid}", what)

        info = self._create_safely(client, "/v2/access-tokens", what, body, discard_orphans)
        secret = str(info.get("token") or "")  # only this answer carries it; a later PATCH says "***"
        if props.get("active", True) is False:
            client.request("PATCH", f"/v2/access-tokens/{info['uuid']}", what, body={"is_active": False})
        outs = {
            **self._without_login(props),
            "baseUrl": client.base_url,
            "uuid": str(info["uuid"]),
            "owner": client.identifier,
            "token": secret,
        }
        return CreateResult(str(info["uuid"]), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self._client(props)
        try:
            info = client.request("GET", f"/v2/access-tokens/{id_}", f"access token {id_}")
        except HubNotFound:
            return ReadResult("", {})
        outs = {
            **self._without_login(props),
            # Only its owner can read a personal token: state from before `owner` learns it here.
            "owner": props.get("owner") or props.get("username") or client.identifier,
            "uuid": id_,
            "label": info.get("token_label", props.get("label")),
            "scopes": list(info.get("scopes") or props.get("scopes") or []),
            "active": bool(info.get("is_active", props.get("active", True))),
            "expiresAt": info.get("expires_at") if "expires_at" in info else props.get("expiresAt"),
            # Hub returns the secret only at create: keep it from then on, never lose it on refresh.
            "token": str(props.get("token") or ""),
        }
        if not outs["expiresAt"]:
            outs.pop("expiresAt")
        return self._read_result(id_, props, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        body = {"token_label": news["label"], "is_active": bool(news.get("active", True))}
        client.request("PATCH", f"/v2/access-tokens/{id_}", f"access token {id_}", body=body)
        outs = {
            **self._without_login(news),
            "baseUrl": client.base_url,
            "uuid": id_,
            "owner": olds.get("owner") or olds.get("username") or client.identifier,
            "token": str(olds.get("token") or ""),
        }
        return UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"/v2/access-tokens/{id_}", f"access token {id_}")


# -- Organization access token ---------------------------------------------------------------------
class OrgAccessTokenProvider(_HubProvider):
    replace_keys = ("org", "expiresAt")
    update_keys = ("label", "description", "resources", "active")
    normalisers = {
        "expiresAt": instant,
        "label": str,
        "description": _text,
        "resources": _org_resources,
        "active": _flag(True),
    }

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = expiry_problems(olds, news)
        resources = news.get("resources")
        if not is_unknown(resources):
            for i, resource in enumerate(resources or []):
                if any(not str(s).startswith("scope-") for s in resource.get("scopes") or []):
                    failures.append(CheckFailure(f"resources[{i}].scopes", "org token scopes start with 'scope-'"))
            if not resources:
                failures.append(CheckFailure("resources", "at least one resource is required"))
        return CheckResult(news, failures)

    def _same_label(self, client: HubClient, org: str, label: str) -> set[str]:
        listing = client.paginate(f"/v2/orgs/{org}/access-tokens", f"org access tokens of {org}")
        return {str(t["id"]) for t in listing if t.get("label") == label}

    def create(self, props: dict[str, Any]) -> CreateResult:
        org = props["org"]
        what = f"org access token {props['label']!r} of {org}"
        body: dict[str, Any] = {
            "label": props["label"],
            "description": props.get("description") or "",
            "resources": props["resources"],
        }
        if props.get("expiresAt"):
            body["expires_at"] = rfc3339(props["expiresAt"])
        client = self._client(props)
        before = self._same_label(client, org, props["label"])

        def discard_orphans() -> None:
            for token_id in self._same_label(client, org, props["label"]) - before:
                with contextlib.suppress(HubNotFound):
                    client.request("DELETE", f"/v2/orgs/{org}/access-tokens/{token_id}", what)

        info = self._create_safely(client, f"/v2/orgs/{org}/access-tokens", what, body, discard_orphans)
        secret = str(info.get("token") or "")  # only the create answer carries it
        if props.get("active", True) is False:
            client.request("PATCH", f"/v2/orgs/{org}/access-tokens/{info['id']}", what, body={"is_active": False})
        outs = {**self._without_login(props), "baseUrl": client.base_url, "tokenId": str(info["id"]), "token": secret}
        return CreateResult(f"{org}/{info['id']}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, token_id = id_.split("/", 1)
        try:
            info = self._client(props).request("GET", f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}")
        except HubNotFound:
            return ReadResult("", {})
        outs = {
            **self._without_login(props),
            "org": org,
            "tokenId": token_id,
            "label": info.get("label", props.get("label")),
            "description": info.get("description", props.get("description", "")),
            "resources": info.get("resources", props.get("resources")),
            "active": bool(info.get("is_active", props.get("active", True))),
            "expiresAt": info.get("expires_at") if "expires_at" in info else props.get("expiresAt"),
            "token": str(props.get("token") or ""),
        }
        if not outs["expiresAt"]:
            outs.pop("expiresAt")
        return self._read_result(id_, props, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, token_id = id_.split("/", 1)
        body = {
            "label": news["label"],
            "description": news.get("description") or "",
            "resources": news["resources"],
            "is_active": bool(news.get("active", True)),
        }
        client = self._client(news)
        client.request("PATCH", f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}", body=body)
        outs = {
            **self._without_login(news),
            "baseUrl": client.base_url,
            "tokenId": token_id,
            "token": str(olds.get("token") or ""),
        }
        return UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, token_id = id_.split("/", 1)
        self._delete(props, f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}")


# -- Webhook ---------------------------------------------------------------------------------------
class WebhookProvider(_HubProvider):
    """Hub has no update route for webhooks: every change replaces."""

    replace_keys = ("namespace", "repository", "name", "hookUrl")
    name_keys = ("namespace", "repository", "name")

    def _named(self, client: HubClient, repo: str, name: str) -> list[dict[str, Any]]:
        listing = client.paginate(f"/v2/repositories/{repo}/webhook_pipeline/", f"webhooks of {repo}")
        return [h for h in listing if h.get("name") == name]

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = f"{props['namespace']}/{props['repository']}"
        what = f"webhook {props['name']!r} of {repo}"
        body = {
            "name": props["name"],
            "expect_final_callback": False,
            "webhooks": [{"name": props["name"], "hook_url": props["hookUrl"]}],
            "registry": "registry-1.docker.io",
        }
        client = self._client(props)
        before = {str(h.get("slug")) for h in self._named(client, repo, props["name"])}

        def made_by_us() -> dict[str, Any] | None:
            return next((h for h in self._named(client, repo, props["name"]) if str(h.get("slug")) not in before), None)

        info = self._create_safely(client, f"/v2/repositories/{repo}/webhook_pipeline/", what, body, made_by_us)
        slug = str(info["slug"])
        return CreateResult(f"{repo}/{slug}", {**self._without_login(props), "baseUrl": client.base_url, "slug": slug})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        repo, slug = id_.rsplit("/", 1)
        try:
            info = self._client(props).request(
                "GET", f"/v2/repositories/{repo}/webhook_pipeline/{slug}/", f"webhook {id_}"
            )
        except HubNotFound:
            return ReadResult("", {})
        hooks = info.get("webhooks") or [{}]
        outs = {
            **self._without_login(props),
            "name": info.get("name", props.get("name")),
            "hookUrl": hooks[0].get("hook_url", props.get("hookUrl")),
        }
        return self._read_result(id_, props, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        repo, slug = id_.rsplit("/", 1)
        self._delete(props, f"/v2/repositories/{repo}/webhook_pipeline/{slug}/", f"webhook {id_}")


# -- Teams and repository permissions -------------------------------------------------------------
class TeamProvider(_HubProvider):
    """An organization team (Hub calls it a group). A rename replaces it."""

    replace_keys = ("org", "name")
    update_keys = ("description",)
    name_keys = ("org", "name")
    normalisers = {"description": _text}

    def _outputs(self, client: HubClient, props: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        return {**self._without_login(props), "baseUrl": client.base_url, "teamId": int(info["id"])}

    def _find(self, client: HubClient, org: str, name: str) -> dict[str, Any] | None:
        try:
            return client.request("GET", f"/v2/orgs/{org}/groups/{name}", f"team {org}/{name}")
        except HubNotFound:
            return None

    def create(self, props: dict[str, Any]) -> CreateResult:
        org, name = props["org"], props["name"]
        body = {"name": name, "description": props.get("description") or ""}
        client = self._client(props)
        existed = self._find(client, org, name) is not None  # then the POST answers 409: never adopt it
        info = self._create_safely(
            client,
            f"/v2/orgs/{org}/groups",
            f"team {name!r} of {org}",
            body,
            lambda: None if existed else self._find(client, org, name),
        )
        return CreateResult(f"{org}/{name}", self._outputs(client, props, info))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, team = id_.split("/", 1)
        client = self._client(props)
        info = self._find(client, org, team)
        if info is None:
            return ReadResult("", {})
        outs = {
            **self._outputs(client, {**props, "org": org, "name": team}, info),
            "description": info.get("description") or "",
        }
        return self._read_result(id_, props, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, team = id_.split("/", 1)
        client = self._client(news)
        body = {"description": news.get("description") or ""}
        info = client.request("PATCH", f"/v2/orgs/{org}/groups/{team}", f"team {id_}", body=body)
        return UpdateResult(self._outputs(client, news, info))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, team = id_.split("/", 1)
        self._delete(props, f"/v2/orgs/{org}/groups/{team}", f"team {id_}")


class RepositoryTeamPermissionProvider(_HubProvider):
    """What one team may do on one repository: read, write or admin.

    The permission is named by the team's *name*; the team's numeric id is how Hub's API refers
    to it. During a preview the id of a team being updated is unknown: that is an update, never a
    replacement. A known id that differs (the team was recreated) replaces the permission."""

    replace_keys = ("namespace", "repository", "team")
    update_keys = ("permission",)
    name_keys = ("namespace", "repository", "team")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        permission = news.get("permission")
        if not is_unknown(permission) and permission not in TEAM_PERMISSIONS:
            return CheckResult(news, [CheckFailure("permission", f"must be one of {sorted(TEAM_PERMISSIONS)}")])
        return CheckResult(news, [])

    def _changed(self, key: str, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        if key == "team" and "team" not in olds:
            return False  # state from before permissions were named by team: the id decides
        return super()._changed(key, olds, news)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        new_id = news.get("teamId")
        if is_unknown(new_id):
            return DiffResult(
                changes=True, replaces=result.replaces, delete_before_replace=result.delete_before_replace
            )
        if _int_or_none(olds.get("teamId")) != _int_or_none(new_id):
            return DiffResult(changes=True, replaces=[*(result.replaces or []), "teamId"], delete_before_replace=False)
        return result

    @staticmethod
    def _path(props: dict[str, Any]) -> str:
        return f"/v2/repositories/{props['namespace']}/{props['repository']}/groups"

    def _find(self, client: HubClient, props: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return client.request("GET", f"{self._path(props)}/{int(props['teamId'])}/", "team permission")
        except HubNotFound:
            return None

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = f"{props['namespace']}/{props['repository']}"
        body = {"group_id": int(props["teamId"]), "permission": props["permission"]}
        client = self._client(props)

        def applied() -> dict[str, Any] | None:
            found = self._find(client, props)
            return found if found and found.get("permission") == props["permission"] else None

        what = f"permission of team {props.get('team') or props['teamId']} on {repo}"
        self._create_safely(client, self._path(props), what, body, applied)
        outs = {**self._without_login(props), "baseUrl": client.base_url}
        return CreateResult(f"{repo}/{int(props['teamId'])}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        info = self._find(self._client(props), props)
        if info is None:
            return ReadResult("", {})
        outs = {**self._without_login(props), "permission": info.get("permission", props.get("permission"))}
        result = self._read_result(id_, props, outs)
        return ReadResult(id_, outs, {**(result.inputs or {}), "teamId": props.get("teamId")})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        path = f"{self._path(news)}/{int(news['teamId'])}/"
        client.request("PATCH", path, f"permission {id_}", body={"permission": news["permission"]})
        return UpdateResult({**self._without_login(news), "baseUrl": client.base_url})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"{self._path(props)}/{int(props['teamId'])}/", f"permission {id_}")


# -- Resources -------------------------------------------------------------------------------------
_SERIALIZED_PROVIDERS: dict[type[_HubProvider], str] = {}
_SERIALIZED_LOCK = threading.Lock()


def serialized_provider(provider_type: type[_HubProvider]) -> str:
    """The `__provider` string of every resource served by `provider_type`, pickled once per process.

    pulumi.dynamic.Resource pickles its provider (dill, recursive) for each resource. Ours hold no
    per-resource state (`__getstate__` returns None), so every instance of a class pickles to the same
    string: the class reference. Pickling it once gives each resource the very string the SDK would
    have recorded (tests/unit/test_dockerhub_provider_pickle.py), so state does not change."""
    with _SERIALIZED_LOCK:
        cached = _SERIALIZED_PROVIDERS.get(provider_type)
        if cached is None:
            cached, captured_secrets = _serialize(True, serialize_provider, provider_type())
            if captured_secrets:  # would have to be a secret Output per resource, as the SDK makes it
                raise TypeError(f"{provider_type.__name__} captures a secret; it cannot be pickled once")
            _SERIALIZED_PROVIDERS[provider_type] = cached
        return cached


class _HubResource(Resource):
    """A dynamic resource whose provider is pickled once per class (see `serialized_provider`).

    The same registration as pulumi.dynamic.Resource.__init__ (SDK 3.272): type token
    pulumi-python:dynamic/dockerhub:<Name>, the inputs plus `__provider`, a plain string as our providers
    set serialize_as_secret_always = False and capture no secret."""

    provider_type: ClassVar[type[_HubProvider]]

    def __init_subclass__(cls, module: str = "", name: str = "Resource", **kwargs: Any) -> None:
        super().__init_subclass__(module=module, name=name, **kwargs)  # the SDK's type token, typed

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        if PROVIDER_KEY in props:
            raise ValueError("A dynamic resource must not define the __provider key")
        props = {**props, PROVIDER_KEY: serialized_provider(self.provider_type)}
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", resource_name, props, opts)


class Repository(_HubResource, module="dockerhub", name="Repository"):
    """A Docker Hub repository. Deleting it deletes its images: protect it in production."""

    provider_type = RepositoryProvider

    # Dynamic resources expose their properties under the same (camelCase) names.
    namespace: pulumi.Output[str]
    private: pulumi.Output[bool]
    pullCount: pulumi.Output[int]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, {"pullCount": None, **props}, opts)


class AccessToken(_HubResource, module="dockerhub", name="AccessToken"):
    """A personal access token; `token` is known only from create on, and is secret."""

    provider_type = AccessTokenProvider

    uuid: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            resource_name,
            {"uuid": None, "token": None, **props},
            pulumi.ResourceOptions.merge(opts, secret),
        )


class OrgAccessToken(_HubResource, module="dockerhub", name="OrgAccessToken"):
    """An organization access token; `token` is known only from create on, and is secret."""

    provider_type = OrgAccessTokenProvider

    tokenId: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            resource_name,
            {"tokenId": None, "token": None, **props},
            pulumi.ResourceOptions.merge(opts, secret),
        )


class Webhook(_HubResource, module="dockerhub", name="Webhook"):
    """A repository webhook; its URL carries the receiver's secret and is itself secret."""

    provider_type = WebhookProvider

    slug: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["hookUrl"])
        super().__init__(resource_name, {"slug": None, **props}, pulumi.ResourceOptions.merge(opts, secret))


class Team(_HubResource, module="dockerhub", name="Team"):
    """An organization team; `teamId` is what repository permissions refer to."""

    provider_type = TeamProvider

    teamId: pulumi.Output[int]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, {"teamId": None, **props}, opts)


class RepositoryTeamPermission(_HubResource, module="dockerhub", name="RepositoryTeamPermission"):
    """A team's permission (read, write or admin) on a repository."""

    provider_type = RepositoryTeamPermissionProvider
