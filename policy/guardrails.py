"""Registry guardrails as a Pulumi CrossGuard policy pack (pulumi-policy 1.21).

The rules judge provider resources by type token, whoever declared them: the ones our components
(`registries:index:*`) create with `parent=self`, and the same types declared by any other program. A violation
names the resource, and the component it belongs to when it is one of ours. Python components register no
inputs of their own (they pass `None` to ComponentResource), so the rules read their children.

Each rule is mandatory on a production stack (named `prod*`, the rule of `registries.config.base.is_production_stack`)
and advisory elsewhere; a CrossGuard config file (`--policy-pack-config`) overrides any rule's level.

Two things pulumi-policy 1.21 does not hand a policy, and how the pack gets them from the engine:
- the stack: the engine sends it (and the decrypted stack config) in ConfigureStack, which pulumi-policy
  reduces to the stack tags; the pack wraps that RPC to keep the stack name and config (`PULUMI_STACK` is the
  fallback when no engine calls it);
- secretness: the engine sends inputs with Pulumi's secret markers (analyzer_plugin.go marshals with
  KeepSecrets), and pulumi-policy's Analyze/AnalyzeStack unwrap them without a trace (pulumi-policy#241).
  The pack swaps the deserializer those two RPCs call for one that keeps every string under a marker as a
  `SecretStr`, so `secret-inputs-marked` can tell. Remediate keeps pulumi-policy's own deserializer.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import bcrypt
import pulumi_policy.deserialize as policy_deserialize
import pulumi_policy.policy as policy_module
import yaml
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy

PACK_NAME = "registries-guardrails"


def is_production_stack(stack: str) -> bool:
    """Stacks named prod* are production: the project's rule (registries.config.base.is_production_stack).

    Repeated here so the pack runs in its own virtualenv without the project installed; a test keeps the two equal."""
    return stack.startswith("prod")


def level_for(stack: str) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if is_production_stack(stack) else EnforcementLevel.ADVISORY


# -- What the engine tells the pack about the stack ----------------------------------------------------------------
@dataclass
class StackContext:
    stack: str = ""
    config: dict[str, str] = field(default_factory=dict)
    """The stack's config as ConfigureStack sends it: decrypted, objects as JSON strings."""


CONTEXT = StackContext(stack=os.environ.get("PULUMI_STACK", ""))


def configure_stack(policies: Iterable[Any], stack: str, config: Mapping[str, str]) -> None:
    """Record the stack and give every rule its level for it (a config file's level still wins, per rule)."""
    CONTEXT.stack = stack
    CONTEXT.config = dict(config)
    for policy in policies:
        policy.enforcement_level = level_for(stack)


# -- Secret markers ------------------------------------------------------------------------------------------------
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105  # a signature, not a password


class SecretStr(str):
    """A string that reached the pack under a Pulumi secret marker."""

    __slots__ = ()


_pulumi_policy_deserialize = policy_deserialize.deserialize_properties


def _marked(value: Any) -> Any:
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, list):
        return [_marked(v) for v in value]
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    return value


def _keeping_secrets(value: Any) -> Any:
    if isinstance(value, list):
        return [_keeping_secrets(v) for v in value]
    if isinstance(value, dict):
        signature = value.get(SIG_KEY)
        if signature == SECRET_SIG:
            return _marked(_keeping_secrets(value.get("value")))
        if signature is not None:  # an asset or archive: pulumi-policy's own handling
            return _pulumi_policy_deserialize({"v": value})["v"]
        return {k: _keeping_secrets(v) for k, v in value.items()}
    return value


def deserialize_keeping_secrets(props: dict[str, Any], proxy_secrets: bool = False) -> Any:
    """pulumi_policy.deserialize.deserialize_properties, but strings under a secret marker stay `SecretStr`s."""
    if proxy_secrets:  # Remediate: pulumi-policy's Secret proxies, which a remediation must keep
        return _pulumi_policy_deserialize(props, proxy_secrets)
    return {key: _keeping_secrets(value) for key, value in props.items()}


def install_engine_hooks(policies: list[Any]) -> None:
    """Keep the stack and config from ConfigureStack, and secret markers in Analyze/AnalyzeStack (see module doc)."""
    servicer = policy_module._PolicyAnalyzerServicer
    original = getattr(servicer, "_registries_original_configure_stack", servicer.ConfigureStack)

    def configure_stack_rpc(self: Any, request: Any, context: Any) -> Any:
        configure_stack(policies, request.stack, dict(request.config))
        return original(self, request, context)

    servicer._registries_original_configure_stack = original  # type: ignore[attr-defined]
    servicer.ConfigureStack = configure_stack_rpc  # type: ignore[method-assign]
    policy_module.deserialize_properties = deserialize_keeping_secrets  # type: ignore[assignment]


# -- A resource as the rules see it --------------------------------------------------------------------------------
class Unknown:
    """A value the engine does not know yet (preview): never judged."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()
_UNKNOWN_SENTINELS = frozenset(
    {
        policy_proxy.UNKNOWN_BOOLEAN_VALUE,
        policy_proxy.UNKNOWN_NUMBER_VALUE,
        policy_proxy.UNKNOWN_STRING_VALUE,
        policy_proxy.UNKNOWN_ARRAY_VALUE,
        policy_proxy.UNKNOWN_ASSET_VALUE,
        policy_proxy.UNKNOWN_ARCHIVE_VALUE,
        policy_proxy.UNKNOWN_OBJECT_VALUE,
    }
)


def plain(value: Any) -> Any:
    """pulumi-policy's unknown-checking proxies as dicts and lists, unknowns as UNKNOWN (no exception)."""
    if isinstance(value, policy_proxy._DictProxy | policy_proxy._ListProxy):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def urn_type_and_name(urn: str) -> tuple[str, str]:
    """`urn:pulumi:<stack>::<project>::<parent types$>type::<name>` -> (type, name)."""
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return "", urn
    return parts[2].rsplit("$", 1)[-1], parts[3]


@dataclass(frozen=True)
class Res:
    type: str
    name: str
    urn: str
    props: dict[str, Any]
    parent: str = ""
    property_dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        text = f"{self.type} '{self.name}'"
        parent_type, parent_name = urn_type_and_name(self.parent)
        if parent_type.startswith("registries:"):
            text += f" (in {parent_type} '{parent_name}')"
        return text

    def get(self, *path: str | int) -> Any:
        """The value at `path`, None when absent, UNKNOWN when not known yet."""
        value: Any = self.props
        for key in path:
            if isinstance(value, Unknown):
                return UNKNOWN
            if isinstance(key, int):
                value = value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
            else:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                return None
        return value

    def depends_on(self, key: str, urn: str) -> bool:
        return urn in self.property_dependencies.get(key, frozenset())


def from_args(args: ResourceValidationArgs) -> Res:
    return Res(args.resource_type, args.name, args.urn, plain(args.props), args.opts.parent or "")


def from_stack_resource(resource: PolicyResource) -> Res:
    deps = {key: frozenset(r.urn for r in rs) for key, rs in resource.property_dependencies.items()}
    parent = resource.parent.urn if resource.parent is not None else (resource.opts.parent or "")
    return Res(resource.resource_type, resource.name, resource.urn, plain(resource.props), parent, deps)


def known(value: Any) -> bool:
    return value is not None and not isinstance(value, Unknown)


# -- Type tokens ---------------------------------------------------------------------------------------------------
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
ECR_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
AR_REPOSITORY = "gcp:artifactregistry/repository:Repository"
AR_IAM_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
AR_IAM_BINDING = "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding"
AR_IAM_POLICY = "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy"
ACR_REGISTRY = "azure-native:containerregistry:Registry"
ACR_TASK = "azure-native:containerregistry:Task"
ACR_WEBHOOK = "azure-native:containerregistry:Webhook"
HUB_REPOSITORY = "pulumi-python:dynamic/dockerhub:Repository"
HUB_WEBHOOK = "pulumi-python:dynamic/dockerhub:Webhook"
DOCKER_CONTAINER = "docker:index/container:Container"
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SECRET = "kubernetes:core/v1:Secret"  # noqa: S105  # type tokens
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PUBSUB_SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
EVENT_API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105

AR_DOCKER_STANDARD_MODES = (None, "STANDARD_REPOSITORY")
PUBLIC_GCP_MEMBERS = ("allUsers", "allAuthenticatedUsers")
LOOPBACK_HOSTS = ("localhost",)


def _ar_docker(res: Res) -> bool:
    return res.get("format") in (None, "DOCKER", "docker")


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- Self-hosted: what a registry or UI container carries -----------------------------------------------------------
REGISTRY_CONFIG_PATHS = ("/etc/docker/registry/config.yml", "/etc/distribution/config.yml")
UI_PLAIN_PORT = 80


def _uploads(res: Res) -> list[dict[str, Any]]:
    uploads = res.get("uploads")
    return [u for u in uploads if isinstance(u, dict)] if isinstance(uploads, list) else []


def _envs(res: Res) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in res.get("envs") or []:
        if isinstance(entry, str) and "=" in entry:
            key, _, value = entry.partition("=")
            out[key] = SecretStr(value) if isinstance(entry, SecretStr) else value
    return out


def registry_configs(res: Res) -> Iterator[dict[str, Any]]:
    """The distribution config.yml documents a resource carries (Docker uploads, Kubernetes ConfigMap/Secret)."""
    texts: list[tuple[Any, bool]] = []  # (text, base64-encoded)
    if res.type == DOCKER_CONTAINER:
        texts = [(u.get("content"), False) for u in _uploads(res) if u.get("file") in REGISTRY_CONFIG_PATHS]
    elif res.type in (K8S_CONFIG_MAP, K8S_SECRET):
        for key in ("data", "stringData"):
            data = res.get(key)
            encoded = res.type == K8S_SECRET and key == "data"
            if isinstance(data, dict) and "config.yml" in data:
                texts.append((data["config.yml"], encoded))
    for text, encoded in texts:
        if not isinstance(text, str):
            continue
        try:
            document = yaml.safe_load(base64.b64decode(text).decode() if encoded else text)
        except (binascii.Error, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(document, dict) and "storage" in document:
            yield document


def _published_ports(res: Res) -> list[dict[str, Any]]:
    ports = res.get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def _published_off_loopback(port: dict[str, Any]) -> bool:
    ip = port.get("ip")
    if isinstance(ip, Unknown):
        return False
    return not _loopback(str(ip or "0.0.0.0"))  # noqa: S104  # pulumi-docker's default: all interfaces


def _address(port: dict[str, Any]) -> str:
    """ip:port of a published port (numbers arrive as JSON floats: 5000.0)."""
    external = port.get("external")
    if isinstance(external, float) and external.is_integer():
        external = int(external)
    return f"{port.get('ip') or '0.0.0.0'}:{external}"  # noqa: S104  # pulumi-docker's default address


def _is_ui_container(res: Res) -> bool:
    image = res.get("image")
    return "NGINX_PROXY_PASS_URL" in _envs(res) or (isinstance(image, str) and "docker-registry-ui" in image)


# -- Rules ---------------------------------------------------------------------------------------------------------
ResourceCheck = Callable[[Res], Iterable[str]]
StackCheck = Callable[[list[Res], Mapping[str, Any]], Iterable[tuple[str, str]]]


def _policy_statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [s for s in statements if isinstance(s, dict)]


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


def check_public_access(res: Res) -> Iterator[str]:
    if res.type == HUB_REPOSITORY and res.get("private") is not True and not isinstance(res.get("private"), Unknown):
        yield f"{res.label}: the Docker Hub repository is public; set private: true"
    elif res.type in (ECR_REPOSITORY_POLICY, ECR_REGISTRY_POLICY):
        for index, statement in enumerate(_policy_statements(res.get("policy"))):
            if statement.get("Effect") == "Allow" and _wildcard_principal(statement.get("Principal")):
                yield (
                    f"{res.label}: policy Statement[{index}] allows the principal '*' (anyone); "
                    "name the accounts or roles instead"
                )
    elif res.type == AR_IAM_MEMBER and res.get("member") in PUBLIC_GCP_MEMBERS:
        yield f"{res.label}: member {res.get('member')} makes the repository public; grant named principals"
    elif res.type == AR_IAM_BINDING:
        members = res.get("members") or []
        for member in [m for m in members if m in PUBLIC_GCP_MEMBERS] if isinstance(members, list) else []:
            yield f"{res.label}: member {member} makes the repository public; grant named principals"
    elif res.type == AR_IAM_POLICY:
        document = res.get("policyData")
        bindings = json.loads(document).get("bindings", []) if isinstance(document, str) and document else []
        for binding in bindings:
            for member in [m for m in binding.get("members", []) if m in PUBLIC_GCP_MEMBERS]:
                yield f"{res.label}: member {member} makes the repository public; grant named principals"
    elif res.type == ACR_REGISTRY and res.get("anonymousPullEnabled") is True:
        yield f"{res.label}: anonymousPullEnabled lets anyone pull; set it to false"


def check_immutable_tags(res: Res) -> Iterator[str]:
    if res.type == ECR_REPOSITORY:
        mutability = res.get("imageTagMutability")
        if not isinstance(mutability, Unknown) and mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
            yield (
                f"{res.label}: imageTagMutability is {mutability or 'MUTABLE (the default)'}; use IMMUTABLE "
                "(or IMMUTABLE_WITH_EXCLUSION for tags such as latest)"
            )
    elif res.type == AR_REPOSITORY and _ar_docker(res) and res.get("mode") in AR_DOCKER_STANDARD_MODES:
        if res.get("dockerConfig", "immutableTags") is not True and not isinstance(
            res.get("dockerConfig", "immutableTags"), Unknown
        ):
            yield f"{res.label}: dockerConfig.immutableTags is not true"
    elif res.type == HUB_REPOSITORY and res.get("immutableTags", "enabled") is not True:
        yield f"{res.label}: immutableTags.enabled is not true"


def check_acr_admin_user(res: Res) -> Iterator[str]:
    if res.type == ACR_REGISTRY and res.get("adminUserEnabled") is True:
        yield (
            f"{res.label}: adminUserEnabled gives one shared full-access password; set it to false and use "
            "repository-scoped tokens or role assignments"
        )


MINIMUM_TLS_OK = ("tls1.2", "tls1.3")


def check_selfhosted_tls(res: Res) -> Iterator[str]:
    if res.type != DOCKER_CONTAINER:
        return
    ports = _published_ports(res)
    exposed = [p for p in ports if _published_off_loopback(p)]
    for config in registry_configs(res):
        http = config.get("http") if isinstance(config.get("http"), dict) else {}
        tls = http.get("tls") if isinstance(http, dict) else None
        override = _envs(res).get("REGISTRY_HTTP_TLS_MINIMUMTLS")
        if isinstance(tls, dict):
            minimum = override or tls.get("minimumtls")
            if minimum not in MINIMUM_TLS_OK:
                yield (
                    f"{res.label}: the registry accepts TLS older than 1.2 (http.tls.minimumtls is "
                    f"{minimum or 'not set'}); set it to tls1.2 or tls1.3"
                )
        elif exposed:
            where = ", ".join(_address(p) for p in exposed)
            yield f"{res.label}: the registry serves plain HTTP on {where}; configure http.tls or bind to 127.0.0.1"
    if _is_ui_container(res):
        for port in exposed:
            if port.get("internal") == UI_PLAIN_PORT:
                where = _address(port)
                yield (
                    f"{res.label}: the registry UI serves plain HTTP on {where}, off loopback (browsers send "
                    "registry passwords to it); serve it over HTTPS or bind it to 127.0.0.1"
                )


def _https_or_loopback(url: Any) -> bool:
    if not isinstance(url, str) or isinstance(url, Unknown):
        return True
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or ""))


def check_webhook_https(res: Res) -> Iterator[str]:
    urls: list[tuple[str, Any]] = []
    if res.type == HUB_WEBHOOK:
        urls = [("hookUrl", res.get("hookUrl"))]
    elif res.type == ACR_WEBHOOK:
        urls = [("serviceUri", res.get("serviceUri"))]
    elif res.type == PUBSUB_SUBSCRIPTION:
        urls = [("pushConfig.pushEndpoint", res.get("pushConfig", "pushEndpoint"))]
    elif res.type == EVENT_API_DESTINATION:
        urls = [("invocationEndpoint", res.get("invocationEndpoint"))]
    for config in registry_configs(res):
        notifications = config.get("notifications")
        endpoints = notifications.get("endpoints") if isinstance(notifications, dict) else None
        for index, endpoint in enumerate(endpoints if isinstance(endpoints, list) else []):
            if isinstance(endpoint, dict):
                urls.append((f"config.yml notifications.endpoints[{index}].url", endpoint.get("url")))
    for where, url in urls:
        if not _https_or_loopback(url):  # the URL itself is never shown: it often carries a token
            yield f"{res.label}: {where} is not an https:// URL (http is accepted on loopback only)"


SECRET_NAME_SUFFIXES = (
    "password",
    "passwd",
    "token",
    "secret",
    "secretkey",
    "secretaccesskey",
    "privatekey",
    "privatekeypem",
    "clientsecret",
    "apikey",
    "authorization",
    "secretstring",
)
SECRET_FILE_PATTERN = re.compile(r"(htpasswd|\.key|private[^/]*)$", re.IGNORECASE)


def _secret_name(name: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", name.lower())
    return normalized.endswith(SECRET_NAME_SUFFIXES)


def _plain_values(value: Any, path: str) -> Iterator[str]:
    """Paths under `value` holding a non-empty string that is not a secret."""
    if isinstance(value, SecretStr | Unknown):
        return
    if isinstance(value, str):
        if value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "__provider":
                yield from _plain_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _plain_values(item, f"{path}[{index}]")


def _secret_paths(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every property whose name says it holds a secret."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "__provider":
                continue
            child = f"{path}.{key}" if path else key
            if _secret_name(key) and "/" not in key:  # a/b is a Kubernetes annotation or label, not a value
                if isinstance(item, dict) and "value" in item:  # {key: <header name>, value: <the secret>}
                    yield f"{child}.value", item["value"]
                elif isinstance(item, str | list):
                    yield child, item
                else:  # an object named like a secret (a volume's `secret:` reference) holds no secret itself
                    yield from _secret_paths(item, child)
            else:
                yield from _secret_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{path}[{index}]")


def check_secret_inputs(res: Res) -> Iterator[str]:
    plain_paths = [p for path, value in _secret_paths(res.props, "") for p in _plain_values(value, path)]
    if res.type == DOCKER_CONTAINER:
        envs = res.get("envs")
        for index, entry in enumerate(envs if isinstance(envs, list) else []):
            if isinstance(entry, str) and not isinstance(entry, SecretStr) and "=" in entry:
                key, _, value = entry.partition("=")
                if value and _secret_name(key):
                    plain_paths.append(f"envs[{index}] ({key})")
        for index, upload in enumerate(_uploads(res)):
            file = upload.get("file")
            if isinstance(file, str) and SECRET_FILE_PATTERN.search(file):
                plain_paths += [f"uploads[{index}].content ({file})" for _ in _plain_values(upload.get("content"), "")]
    elif res.type == K8S_SECRET:
        for key in ("data", "stringData"):
            plain_paths += list(_plain_values(res.get(key), key))
    for path in plain_paths:
        yield (
            f"{res.label}: input {path} is a secret in plain text; pass it as a Pulumi secret "
            "(pulumi.Output.secret, or pulumi config set --secret)"
        )


HTPASSWD_LINE = re.compile(r"^([^:\s]+):(\$2[abxy]?\$(\d{2})\$[./A-Za-z0-9]{53})$")
GIVEN_PASSWORD_MIN_COST = 10
GENERATED_MIN_LENGTH = 16


def _htpasswd_files(value: Any) -> Iterator[list[tuple[str, str, int]]]:
    """Every string under `value` that is an htpasswd file of bcrypt lines: [(user, hash, cost)]."""
    if isinstance(value, str):
        lines = [line for line in value.splitlines() if line.strip()]
        matches = [HTPASSWD_LINE.match(line.strip()) for line in lines]
        if lines and all(matches):
            yield [(m.group(1), m.group(2), int(m.group(3))) for m in matches if m]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _htpasswd_files(item)
    elif isinstance(value, list):
        for item in value:
            yield from _htpasswd_files(item)


def check_htpasswd_cost(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    generated = [(r.get("result"), r.get("length")) for r in resources if r.type == RANDOM_PASSWORD]
    any_unknown = any(not isinstance(result, str) for result, _ in generated)
    for res in resources:
        if res.type == RANDOM_PASSWORD:
            continue
        for entries in _htpasswd_files(res.props):
            for user, hashed, cost in entries:
                if cost >= GIVEN_PASSWORD_MIN_COST:
                    continue
                match = next(
                    (
                        length
                        for result, length in generated
                        if isinstance(result, str) and bcrypt.checkpw(result.encode(), hashed.encode())
                    ),
                    None,
                )
                if match is None and any_unknown:
                    continue  # a generated password not known yet (preview): judged at up
                if match is None:
                    yield (
                        f"{res.label}: user {user}'s htpasswd entry is bcrypt cost {cost} for a password a person "
                        f"gave (no RandomPassword of the stack hashes to it); hash it at cost >= "
                        f"{GIVEN_PASSWORD_MIN_COST}, or generate the password",
                        res.urn,
                    )
                elif isinstance(match, int | float) and match < GENERATED_MIN_LENGTH:
                    yield (
                        f"{res.label}: user {user}'s generated password is {int(match)} characters at bcrypt cost "
                        f"{cost}; a low cost needs >= {GENERATED_MIN_LENGTH} characters (>= 96 bits)",
                        res.urn,
                    )


def _refers_to(res: Res, key: str, target: Res, target_value: Any) -> bool:
    """Whether `res.key` names `target`: by property dependency, or by equal known values."""
    value = res.get(key)
    return res.depends_on(key, target.urn) or (known(value) and known(target_value) and value == target_value)


def check_s3_storage(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    algorithms = ("AES256", "aws:kms", "aws:kms:dsse")
    block_keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in [r for r in resources if r.type in S3_BUCKETS]:
        name = bucket.get("bucket")

        def for_bucket(types: tuple[str, ...], bucket: Res = bucket, name: Any = name) -> list[Res]:
            return [r for r in resources if r.type in types and _refers_to(r, "bucket", bucket, name)]

        rules = [
            rule
            for r in for_bucket(S3_ENCRYPTION)
            for rule in (r.get("rules") if isinstance(r.get("rules"), list) else [])
        ]
        inline = bucket.get("serverSideEncryptionConfiguration", "rule")
        rules += [inline] if isinstance(inline, dict) else []
        sse = [
            Res("", "", "", r).get("applyServerSideEncryptionByDefault", "sseAlgorithm")
            for r in rules
            if isinstance(r, dict)
        ]
        if not any(isinstance(a, Unknown) or a in algorithms for a in sse):
            yield (
                f"{bucket.label}: no default encryption (declare a BucketServerSideEncryptionConfiguration "
                "with AES256 or aws:kms for it)",
                bucket.urn,
            )
        blocks = for_bucket((S3_PUBLIC_ACCESS_BLOCK,))
        if not any(all(b.get(k) is True or isinstance(b.get(k), Unknown) for k in block_keys) for b in blocks):
            yield (
                f"{bucket.label}: public access is not blocked (declare a BucketPublicAccessBlock for it with "
                f"{', '.join(block_keys)} all true)",
                bucket.urn,
            )


def _ecr_scanning_rules(resources: list[Res]) -> list[tuple[str, str]]:
    """(filter, frequency) of the registry scanning rules the stack declares."""
    out: list[tuple[str, str]] = []
    for res in resources:
        if res.type != ECR_SCANNING:
            continue
        for rule in res.get("rules") or []:
            if not isinstance(rule, dict):
                continue
            for flt in rule.get("repositoryFilters") or []:
                if isinstance(flt, dict) and isinstance(flt.get("filter"), str):
                    out.append((flt["filter"], str(rule.get("scanFrequency"))))
    return out


def check_scanning(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    registry_rules = _ecr_scanning_rules(resources)
    for res in resources:
        if res.type == ECR_REPOSITORY:
            if res.get("imageScanningConfiguration", "scanOnPush") is True:
                continue
            name = res.get("name")
            if isinstance(name, Unknown) or isinstance(res.get("imageScanningConfiguration"), Unknown):
                continue
            covered = isinstance(name, str) and any(
                freq in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN") and fnmatch.fnmatchcase(name, flt)
                for flt, freq in registry_rules
            )
            if not covered:
                yield (
                    f"{res.label}: images are not scanned (imageScanningConfiguration.scanOnPush is not true and "
                    "no registry scanning rule covers the repository)",
                    res.urn,
                )
        elif (
            res.type == AR_REPOSITORY
            and _ar_docker(res)
            and res.get("mode") in AR_DOCKER_STANDARD_MODES
            and res.get("vulnerabilityScanningConfig", "enablementConfig") == "DISABLED"
        ):
            yield f"{res.label}: vulnerabilityScanningConfig.enablementConfig is DISABLED", res.urn


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _effective_empty(own: Any, inherited: Any) -> bool:
    block = own if own is not None else inherited
    return block == {}


def explicit_empty_retention(config: Mapping[str, Any]) -> set[str]:
    """Repository (and ACR registry) names whose retention block is explicitly `{}` in our program's stack config."""
    names: set[str] = set()
    for key in ("registries:ecr", "registries:artifactRegistry"):
        section = _json(config.get(key))
        if not isinstance(section, dict):
            continue
        defaults = section.get("defaults")
        inherited = defaults.get("retention") if isinstance(defaults, dict) else None
        for repo in [*(section.get("repositories") or []), *(section.get("mirrors") or [])]:
            if isinstance(repo, dict) and _effective_empty(repo.get("retention"), inherited):
                names.add(str(repo.get("name")))
        if inherited == {}:
            names.update(str(domain) for domain in section.get("gcrDomains") or [])
    acr = _json(config.get("registries:acr"))
    if isinstance(acr, dict):
        repos = [r for r in acr.get("repositories") or [] if isinstance(r, dict)]
        if repos and all(_effective_empty(r.get("retention"), acr.get("retention")) for r in repos):
            names.add(str(acr.get("name")))
    return names


def _purges(task: Res) -> bool:
    content = task.get("step", "encodedTaskContent")
    if isinstance(content, Unknown):
        return True
    if not isinstance(content, str):
        return False
    try:
        return "acr purge" in base64.b64decode(content).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "acr purge" in content


def check_retention(resources: list[Res], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    exempt = {str(name) for name in config.get("exempt", [])} | explicit_empty_retention(CONTEXT.config)
    hint = "declare a retention rule set, or an explicit `retention: {}` (or list it in this rule's config `exempt`)"
    for res in resources:
        if res.type == ECR_REPOSITORY:
            name = res.get("name")
            if isinstance(name, Unknown) or name in exempt:
                continue
            policies = [r for r in resources if r.type == ECR_LIFECYCLE_POLICY]
            if not any(_refers_to(p, "repository", res, name) for p in policies):
                yield f"{res.label}: repository {name} has no lifecycle policy; {hint}", res.urn
        elif res.type == AR_REPOSITORY and _ar_docker(res) and res.get("mode") != "VIRTUAL_REPOSITORY":
            name = res.get("repositoryId")
            if name in exempt or isinstance(res.get("cleanupPolicies"), Unknown):
                continue
            if not res.get("cleanupPolicies"):
                yield f"{res.label}: repository {name} has no cleanupPolicies; {hint}", res.urn
        elif res.type == ACR_REGISTRY:
            name = res.get("registryName")
            if name in exempt:
                continue
            status = res.get("policies", "retentionPolicy", "status")
            if isinstance(status, str) and status.lower() == "enabled":
                continue
            tasks = [r for r in resources if r.type == ACR_TASK and _refers_to(r, "registryName", res, name)]
            if not any(_purges(t) for t in tasks):
                yield (
                    f"{res.label}: registry {name} has neither a retention policy nor an `acr purge` task; {hint}",
                    res.urn,
                )


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    production_only: bool = False
    config_schema: PolicyConfigSchema | None = None


RULES: tuple[Rule, ...] = (
    Rule(
        "no-public-registry-access",
        "Production registries are private: no public Docker Hub repository, no '*' principal in ECR repository "
        "or registry policies, no allUsers/allAuthenticatedUsers on Artifact Registry, no ACR anonymous pull.",
        resource_check=check_public_access,
        production_only=True,
    ),
    Rule(
        "immutable-tags",
        "Production repositories have immutable tags (ECR IMMUTABLE or IMMUTABLE_WITH_EXCLUSION, Artifact Registry "
        "dockerConfig.immutableTags, Docker Hub immutableTags.enabled).",
        resource_check=check_immutable_tags,
        production_only=True,
    ),
    Rule(
        "vulnerability-scanning",
        "Images are scanned: ECR scan on push (or a registry scanning rule covering the repository), Artifact "
        "Registry vulnerability scanning not DISABLED.",
        stack_check=check_scanning,
    ),
    Rule(
        "retention-rule-set",
        "Every repository has a retention rule set (ECR lifecycle policy, Artifact Registry cleanupPolicies, ACR "
        "retention policy or acr purge task), or an explicit `retention: {}`.",
        stack_check=check_retention,
        config_schema=PolicyConfigSchema(
            properties={"exempt": {"type": "array", "items": {"type": "string"}, "default": []}}
        ),
    ),
    Rule(
        "no-acr-admin-user",
        "ACR registries have the admin user disabled (adminUserEnabled false).",
        resource_check=check_acr_admin_user,
    ),
    Rule(
        "selfhosted-tls",
        "A self-hosted registry accepts TLS 1.2 or newer only, serves no plain HTTP off loopback, and its UI "
        "serves no plain HTTP off loopback.",
        resource_check=check_selfhosted_tls,
    ),
    Rule(
        "s3-storage-hardened",
        "Every S3 bucket has default encryption (AES256 or aws:kms) and a public access block with all four "
        "settings on.",
        stack_check=check_s3_storage,
    ),
    Rule(
        "webhook-https",
        "Webhook and notification URLs are https:// (Docker Hub and ACR webhooks, Pub/Sub push endpoints, "
        "EventBridge API destinations, the registry's notification endpoints); http on loopback only.",
        resource_check=check_webhook_https,
    ),
    Rule(
        "secret-inputs-marked",
        "Password, token and key inputs are Pulumi secrets: properties named like a secret, secret env entries "
        "and key/htpasswd uploads of containers, Kubernetes Secret data.",
        resource_check=check_secret_inputs,
    ),
    Rule(
        "htpasswd-cost",
        "htpasswd entries below bcrypt cost 10 are for generated passwords only (a RandomPassword of >= 16 "
        "characters of the stack); a password a person gave is hashed at cost >= 10.",
        stack_check=check_htpasswd_cost,
    ),
)


def _resource_validate(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    check = rule.resource_check
    assert check is not None

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if rule.production_only and not is_production_stack(CONTEXT.stack):
            args.not_applicable(f"stack {CONTEXT.stack or '(unknown)'} is not a production stack (prod*)")
        for message in check(from_args(args)):
            report(f"[{rule.id}] {message}", None)

    return validate


def _stack_validate(rule: Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    check = rule.stack_check
    assert check is not None

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [from_stack_resource(r) for r in args.resources]
        for message, urn in check(resources, args.get_config()):
            report(f"[{rule.id}] {message}", urn)

    return validate


def build_policies(stack: str | None = None) -> list[Policy]:
    """One CrossGuard policy per rule, at the level for `stack` (default: the stack the engine names)."""
    level = level_for(CONTEXT.stack if stack is None else stack)
    policies: list[Policy] = []
    for rule in RULES:
        kind, validate = (
            (ResourceValidationPolicy, _resource_validate(rule))
            if rule.resource_check is not None
            else (StackValidationPolicy, _stack_validate(rule))
        )
        policies.append(
            kind(rule.id, rule.description, validate, enforcement_level=level, config_schema=rule.config_schema)  # type: ignore[arg-type]
        )
    return policies
