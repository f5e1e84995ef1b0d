"""Pulumi dynamic providers for Docker Hub: Repository, AccessToken, OrgAccessToken, Webhook.

Provider objects are pickled into state, so they hold no data at all: the Hub URL comes from the
resource's inputs, credentials from stack config (`configure`) or the environment at call time.
"""

from __future__ import annotations

import contextlib
import re
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

from providers.dockerhub.client import DEFAULT_BASE_URL, HubClient, HubNotFound, credentials_from_env

REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PAT_SCOPES = frozenset({"repo:admin", "repo:write", "repo:read", "repo:public_read"})


class _HubProvider(ResourceProvider):
    """Shared plumbing: a client per call, replace/update diffs, CRUD-agnostic checks."""

    serialize_as_secret_always = False
    # Inputs whose change needs a new object on Hub; every other input is updated in place.
    replace_keys: ClassVar[tuple[str, ...]] = ("baseUrl",)
    # Inputs compared by diff (outputs such as ids and tokens are not).
    input_keys: ClassVar[tuple[str, ...]] = ()

    def configure(self, req: ConfigureRequest) -> None:
        # Held in memory only: configure runs after the provider was unpickled.
        self._config_secret = req.config.get("dockerHubSecret")

    def _client(self, props: dict[str, Any]) -> HubClient:
        credentials = credentials_from_env(props.get("username"), getattr(self, "_config_secret", None))
        return HubClient(props.get("baseUrl") or DEFAULT_BASE_URL, credentials)

    def _delete(self, props: dict[str, Any], path: str, what: str) -> None:
        """DELETE `path`; an object that is already gone counts as deleted."""
        with contextlib.suppress(HubNotFound):
            self._client(props).request("DELETE", path, what)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in self.input_keys if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in self.replace_keys]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))


# -- Repository ------------------------------------------------------------------------------------
def _repository_outputs(props: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    immutable = info.get("immutable_tags_settings") or {}
    return {
        **props,
        "namespace": info.get("namespace", props["namespace"]),
        "name": info.get("name", props["name"]),
        "description": info.get("description") or "",
        "fullDescription": info.get("full_description") or "",
        "private": bool(info.get("is_private", props.get("private", True))),
        "immutableTags": {
            "enabled": bool(immutable.get("enabled", False)),
            "rules": list(immutable.get("rules") or []),
        },
        "pullCount": int(info.get("pull_count") or 0),
    }


class RepositoryProvider(_HubProvider):
    replace_keys = ("baseUrl", "namespace", "name")
    input_keys = ("baseUrl", "namespace", "name", "description", "fullDescription", "private", "immutableTags")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = str(news.get("name", ""))
        if not (2 <= len(name) <= 255 and REPOSITORY_NAME.match(name)):
            failures.append(CheckFailure("name", f"{name!r} must be 2-255 characters of a-z, 0-9 and . _ - separators"))
        if len(news.get("description") or "") > 100:
            failures.append(CheckFailure("description", "must be at most 100 characters"))
        if len(news.get("fullDescription") or "") > 25000:
            failures.append(CheckFailure("fullDescription", "must be at most 25,000 characters"))
        return CheckResult(news, failures)

    @staticmethod
    def _path(props: dict[str, Any]) -> str:
        return f"{props['namespace']}/{props['name']}"

    def _set_immutable_tags(self, client: HubClient, props: dict[str, Any]) -> None:
        tags = props.get("immutableTags") or {}
        client.request(
            "PATCH",
            f"/v2/namespaces/{props['namespace']}/repositories/{props['name']}/immutabletags",
            f"repository {self._path(props)}",
            body={"immutable_tags": bool(tags.get("enabled")), "immutable_tags_rules": list(tags.get("rules") or [])},
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        what = f"repository {self._path(props)}"
        client.request(
            "POST",
            f"/v2/namespaces/{props['namespace']}/repositories",
            what,
            body={
                "name": props["name"],
                "namespace": props["namespace"],
                "description": props.get("description") or "",
                "full_description": props.get("fullDescription") or "",
                "is_private": bool(props.get("private", True)),
                "registry": "docker.io",
            },
        )
        if (props.get("immutableTags") or {}).get("enabled"):
            self._set_immutable_tags(client, props)
        info = client.request("GET", f"/v2/namespaces/{props['namespace']}/repositories/{props['name']}", what)
        return CreateResult(self._path(props), _repository_outputs(props, info))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        namespace, name = id_.split("/", 1)
        props = {**props, "namespace": namespace, "name": name}
        try:
            info = self._client(props).request(
                "GET", f"/v2/namespaces/{namespace}/repositories/{name}", f"repository {id_}"
            )
        except HubNotFound:
            return ReadResult("", {})
        outs = _repository_outputs(props, info)
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        path, what = self._path(news), f"repository {self._path(news)}"
        if (olds.get("description"), olds.get("fullDescription")) != (
            news.get("description"),
            news.get("fullDescription"),
        ):
            client.request(
                "PATCH",
                f"/v2/repositories/{path}/",
                what,
                body={
                    "description": news.get("description") or "",
                    "full_description": news.get("fullDescription") or "",
                },
            )
        if bool(olds.get("private")) != bool(news.get("private")):
            client.request(
                "POST", f"/v2/repositories/{path}/privacy", what, body={"is_private": bool(news.get("private"))}
            )
        if olds.get("immutableTags") != news.get("immutableTags"):
            self._set_immutable_tags(client, news)
        info = client.request("GET", f"/v2/namespaces/{news['namespace']}/repositories/{news['name']}", what)
        return UpdateResult(_repository_outputs(news, info))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"/v2/repositories/{id_}/", f"repository {id_}")


# -- Personal access token -------------------------------------------------------------------------
def _token_outputs(props: dict[str, Any], info: dict[str, Any], token: str) -> dict[str, Any]:
    return {
        **props,
        "uuid": info.get("uuid", props.get("uuid")),
        "label": info.get("token_label", props.get("label")),
        "scopes": list(info.get("scopes") or props.get("scopes") or []),
        "active": bool(info.get("is_active", props.get("active", True))),
        "expiresAt": info.get("expires_at") or props.get("expiresAt"),
        # Hub returns the secret only at create: keep it from then on, never lose it on refresh.
        "token": token,
    }


class AccessTokenProvider(_HubProvider):
    replace_keys = ("baseUrl", "username", "scopes", "expiresAt")
    input_keys = ("baseUrl", "username", "label", "scopes", "expiresAt", "active")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        scopes = news.get("scopes") or []
        if not scopes or any(s not in PAT_SCOPES for s in scopes):
            failures.append(CheckFailure("scopes", f"must be among {sorted(PAT_SCOPES)}"))
        if not 1 <= len(news.get("label") or "") <= 100:
            failures.append(CheckFailure("label", "must be 1-100 characters"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        what = f"access token {props['label']!r}"
        body: dict[str, Any] = {"token_label": props["label"], "scopes": list(props["scopes"])}
        if props.get("expiresAt"):
            body["expires_at"] = props["expiresAt"]
        info = client.request("POST", "/v2/access-tokens", what, body=body)
        if props.get("active", True) is False:
            info = client.request("PATCH", f"/v2/access-tokens/{info['uuid']}", what, body={"is_active": False})
        created = _token_outputs(props, info, str(info.get("token") or ""))
        return CreateResult(str(created["uuid"]), created)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            info = self._client(props).request("GET", f"/v2/access-tokens/{id_}", f"access token {id_}")
        except HubNotFound:
            return ReadResult("", {})
        outs = _token_outputs(props, info, str(props.get("token") or ""))
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        body = {"token_label": news["label"], "is_active": bool(news.get("active", True))}
        info = self._client(news).request("PATCH", f"/v2/access-tokens/{id_}", f"access token {id_}", body=body)
        return UpdateResult(_token_outputs({**news, "uuid": id_}, info, str(olds.get("token") or "")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"/v2/access-tokens/{id_}", f"access token {id_}")


# -- Organization access token ---------------------------------------------------------------------
def _org_token_outputs(props: dict[str, Any], info: dict[str, Any], token: str) -> dict[str, Any]:
    return {
        **props,
        "tokenId": info.get("id", props.get("tokenId")),
        "label": info.get("label", props.get("label")),
        "description": info.get("description", props.get("description", "")),
        "resources": info.get("resources", props.get("resources")),
        "active": bool(info.get("is_active", props.get("active", True))),
        "expiresAt": info.get("expires_at") or props.get("expiresAt"),
        "token": token,
    }


class OrgAccessTokenProvider(_HubProvider):
    replace_keys = ("baseUrl", "username", "org", "expiresAt")
    input_keys = ("baseUrl", "username", "org", "label", "description", "resources", "expiresAt", "active")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for i, resource in enumerate(news.get("resources") or []):
            if any(not str(s).startswith("scope-") for s in resource.get("scopes") or []):
                failures.append(CheckFailure(f"resources[{i}].scopes", "org token scopes start with 'scope-'"))
        if not news.get("resources"):
            failures.append(CheckFailure("resources", "at least one resource is required"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        what = f"org access token {props['label']!r} of {props['org']}"
        body: dict[str, Any] = {
            "label": props["label"],
            "description": props.get("description") or "",
            "resources": props["resources"],
        }
        if props.get("expiresAt"):
            body["expires_at"] = props["expiresAt"]
        client = self._client(props)
        info = client.request("POST", f"/v2/orgs/{props['org']}/access-tokens", what, body=body)
        if props.get("active", True) is False:
            info = client.request(
                "PATCH", f"/v2/orgs/{props['org']}/access-tokens/{info['id']}", what, body={"is_active": False}
            )
        created = _org_token_outputs(props, info, str(info.get("token") or ""))
        return CreateResult(f"{props['org']}/{created['tokenId']}", created)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, token_id = id_.split("/", 1)
        try:
            info = self._client(props).request("GET", f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}")
        except HubNotFound:
            return ReadResult("", {})
        outs = _org_token_outputs(props, info, str(props.get("token") or ""))
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, token_id = id_.split("/", 1)
        body = {
            "label": news["label"],
            "description": news.get("description") or "",
            "resources": news["resources"],
            "is_active": bool(news.get("active", True)),
        }
        info = self._client(news).request(
            "PATCH", f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}", body=body
        )
        return UpdateResult(_org_token_outputs(news, info, str(olds.get("token") or "")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, token_id = id_.split("/", 1)
        self._delete(props, f"/v2/orgs/{org}/access-tokens/{token_id}", f"org token {id_}")


# -- Webhook ---------------------------------------------------------------------------------------
class WebhookProvider(_HubProvider):
    """Hub has no update route for webhooks: every change replaces."""

    input_keys = ("baseUrl", "username", "namespace", "repository", "name", "hookUrl")
    replace_keys = input_keys

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = f"{props['namespace']}/{props['repository']}"
        body = {
            "name": props["name"],
            "expect_final_callback": False,
            "webhooks": [{"name": props["name"], "hook_url": props["hookUrl"]}],
            "registry": "registry-1.docker.io",
        }
        info = self._client(props).request(
            "POST", f"/v2/repositories/{repo}/webhook_pipeline/", f"webhook {props['name']!r} of {repo}", body=body
        )
        slug = str(info["slug"])
        return CreateResult(f"{repo}/{slug}", {**props, "slug": slug})

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
            **props,
            "name": info.get("name", props.get("name")),
            "hookUrl": hooks[0].get("hook_url", props.get("hookUrl")),
        }
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        repo, slug = id_.rsplit("/", 1)
        self._delete(props, f"/v2/repositories/{repo}/webhook_pipeline/{slug}/", f"webhook {id_}")


# -- Teams and repository permissions -------------------------------------------------------------
class TeamProvider(_HubProvider):
    """An organization team (Hub calls it a group). A rename replaces it."""

    replace_keys = ("baseUrl", "username", "org", "name")
    input_keys = ("baseUrl", "username", "org", "name", "description")

    @staticmethod
    def _outputs(props: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        return {**props, "teamId": int(info["id"]), "description": info.get("description") or ""}

    def create(self, props: dict[str, Any]) -> CreateResult:
        body = {"name": props["name"], "description": props.get("description") or ""}
        what = f"team {props['name']!r} of {props['org']}"
        info = self._client(props).request("POST", f"/v2/orgs/{props['org']}/groups", what, body=body)
        return CreateResult(f"{props['org']}/{props['name']}", self._outputs(props, info))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, team = id_.split("/", 1)
        try:
            info = self._client(props).request("GET", f"/v2/orgs/{org}/groups/{team}", f"team {id_}")
        except HubNotFound:
            return ReadResult("", {})
        outs = self._outputs({**props, "org": org, "name": team}, info)
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, team = id_.split("/", 1)
        body = {"description": news.get("description") or ""}
        info = self._client(news).request("PATCH", f"/v2/orgs/{org}/groups/{team}", f"team {id_}", body=body)
        return UpdateResult(self._outputs(news, info))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, team = id_.split("/", 1)
        self._delete(props, f"/v2/orgs/{org}/groups/{team}", f"team {id_}")


TEAM_PERMISSIONS = frozenset({"read", "write", "admin"})


class RepositoryTeamPermissionProvider(_HubProvider):
    """What one team may do on one repository: read, write or admin."""

    replace_keys = ("baseUrl", "username", "namespace", "repository", "teamId")
    input_keys = ("baseUrl", "username", "namespace", "repository", "teamId", "permission")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if news.get("permission") not in TEAM_PERMISSIONS:
            return CheckResult(news, [CheckFailure("permission", f"must be one of {sorted(TEAM_PERMISSIONS)}")])
        return CheckResult(news, [])

    @staticmethod
    def _path(props: dict[str, Any]) -> str:
        return f"/v2/repositories/{props['namespace']}/{props['repository']}/groups"

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = f"{props['namespace']}/{props['repository']}"
        body = {"group_id": int(props["teamId"]), "permission": props["permission"]}
        self._client(props).request(
            "POST", f"{self._path(props)}", f"permission of team {props['teamId']} on {repo}", body=body
        )
        return CreateResult(f"{repo}/{int(props['teamId'])}", dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path, what = f"{self._path(props)}/{int(props['teamId'])}/", f"permission {id_}"
        try:
            info = self._client(props).request("GET", path, what)
        except HubNotFound:
            return ReadResult("", {})
        outs = {**props, "permission": info.get("permission", props.get("permission"))}
        return ReadResult(id_, outs, {k: outs[k] for k in self.input_keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        path = f"{self._path(news)}/{int(news['teamId'])}/"
        self._client(news).request("PATCH", path, f"permission {id_}", body={"permission": news["permission"]})
        return UpdateResult(dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._delete(props, f"{self._path(props)}/{int(props['teamId'])}/", f"permission {id_}")


# -- Resources -------------------------------------------------------------------------------------
class Repository(Resource, module="dockerhub", name="Repository"):
    """A Docker Hub repository. Deleting it deletes its images: protect it in production."""

    # Dynamic resources expose their properties under the same (camelCase) names.
    namespace: pulumi.Output[str]
    private: pulumi.Output[bool]
    pullCount: pulumi.Output[int]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RepositoryProvider(), resource_name, {"pullCount": None, **props}, opts)


class AccessToken(Resource, module="dockerhub", name="AccessToken"):
    """A personal access token; `token` is known only from create on, and is secret."""

    uuid: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            AccessTokenProvider(),
            resource_name,
            {"uuid": None, "token": None, **props},
            pulumi.ResourceOptions.merge(opts, secret),
        )


class OrgAccessToken(Resource, module="dockerhub", name="OrgAccessToken"):
    """An organization access token; `token` is known only from create on, and is secret."""

    tokenId: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            OrgAccessTokenProvider(),
            resource_name,
            {"tokenId": None, "token": None, **props},
            pulumi.ResourceOptions.merge(opts, secret),
        )


class Webhook(Resource, module="dockerhub", name="Webhook"):
    """A repository webhook; its URL carries the receiver's secret and is itself secret."""

    slug: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["hookUrl"])
        super().__init__(
            WebhookProvider(), resource_name, {"slug": None, **props}, pulumi.ResourceOptions.merge(opts, secret)
        )


class Team(Resource, module="dockerhub", name="Team"):
    """An organization team; `teamId` is what repository permissions refer to."""

    teamId: pulumi.Output[int]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TeamProvider(), resource_name, {"teamId": None, **props}, opts)


class RepositoryTeamPermission(Resource, module="dockerhub", name="RepositoryTeamPermission"):
    """A team's permission (read, write or admin) on a repository."""

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RepositoryTeamPermissionProvider(), resource_name, props, opts)
