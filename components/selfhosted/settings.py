"""SelfHostedRegistryArgs -> plain settings: the defaults in one place, and run-time checks naming the arg.

The component reads graph-shaping values (plain in the args) directly; values that are Inputs are resolved
in an apply and turned into `RegistrySettings` by `registry_settings`, which the pure renderers take.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar, cast

import pulumi

from components.selfhosted.args import (
    SelfHostedLogArgs,
    SelfHostedMirrorArgs,
    SelfHostedRegistryArgs,
    SelfHostedS3Args,
    SelfHostedStorageArgs,
    SelfHostedTlsArgs,
    SelfHostedTokenAuthArgs,
    SelfHostedUiArgs,
    SelfHostedUserArgs,
)
from components.selfhosted.config_file import (
    DOCKER_HUB_UPSTREAM,
    NotificationSettings,
    ProxySettings,
    RegistrySettings,
    S3Settings,
    StorageSettings,
    TokenAuthSettings,
    UiSettings,
    UploadPurgingSettings,
    debug_listen_port,
    default_debug_port,
)
from components.selfhosted.credentials import MAX_PASSWORD_BYTES, MIN_GENERATED_LENGTH
from components.selfhosted.load_balancer import DRAIN_TIMEOUT_SECONDS
from components.selfhosted.versions import DEFAULT_IMAGE

DEFAULT_CONTAINER_NAME = "registry"
DEFAULT_HOSTNAME = "localhost"
DEFAULT_BIND_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_USERS: list[SelfHostedUserArgs] = [{"name": "admin"}]
DEFAULT_PASSWORD_LENGTH = 32
DEFAULT_IP_SANS = ["127.0.0.1"]
DEFAULT_UI_IMAGE = "joxit/docker-registry-ui:2.5.7"
DEFAULT_UI_PORT = 8080
USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
T = TypeVar("T")


def text(value: object) -> Any:
    """An enum member as its value (yaml.safe_dump and Docker want plain strings); anything else unchanged."""
    return value.value if isinstance(value, Enum) else value


def resolved(value: pulumi.Input[T]) -> T:
    """A value the caller resolved (inside an apply); a leftover Output is a bug, not a user error."""
    if isinstance(value, pulumi.Output):
        raise TypeError("registry_settings needs resolved inputs: call it inside an apply")
    return cast(T, value)


def image_major_version(image: str) -> int | None:
    """The major version in an image tag (`registry:2.8.3` -> 2), or None for digests and non-numeric tags."""
    match = re.search(r":v?([0-9]+)(\.[0-9A-Za-z.-]*)?$", image)
    return int(match.group(1)) if match else None


def tls_args(args: SelfHostedRegistryArgs) -> SelfHostedTlsArgs:
    return args.get("tls") or {}


def storage_args(args: SelfHostedRegistryArgs) -> SelfHostedStorageArgs:
    return args.get("storage") or {}


def s3_args(args: SelfHostedRegistryArgs) -> SelfHostedS3Args | None:
    return storage_args(args).get("s3")


def ui_args(args: SelfHostedRegistryArgs) -> SelfHostedUiArgs:
    return args.get("ui") or {}


def log_args(args: SelfHostedRegistryArgs) -> SelfHostedLogArgs:
    return args.get("log") or {}


def users(args: SelfHostedRegistryArgs) -> list[SelfHostedUserArgs]:
    return args.get("users") or DEFAULT_USERS


def token_auth_args(args: SelfHostedRegistryArgs) -> SelfHostedTokenAuthArgs | None:
    return args.get("token_auth")


def tls_mode(args: SelfHostedRegistryArgs) -> str:
    return text(tls_args(args).get("mode", "selfSigned"))


def network_mode(args: SelfHostedRegistryArgs) -> str:
    return text(args.get("network_mode", "bridge"))


def container_name(args: SelfHostedRegistryArgs) -> str:
    return args.get("container_name", DEFAULT_CONTAINER_NAME)


def major_version(args: SelfHostedRegistryArgs) -> int:
    given = args.get("major_version")
    if given is not None:
        return given
    return image_major_version(args.get("image", DEFAULT_IMAGE)) or 2


def port(args: SelfHostedRegistryArgs) -> int:
    return args.get("port", DEFAULT_PORT)


def debug_host_port(args: SelfHostedRegistryArgs) -> int:
    """Where the debug server is reached on the host's 127.0.0.1."""
    given = args.get("debug_port")
    return given if given is not None else default_debug_port(port(args))


def ui_enabled(args: SelfHostedRegistryArgs) -> bool:
    return ui_args(args).get("enabled", False)


def ui_serves_tls(args: SelfHostedRegistryArgs) -> bool:
    given = ui_args(args).get("tls")
    return given if given is not None else tls_mode(args) != "none"


def mode(args: SelfHostedRegistryArgs) -> str:
    return text(args.get("mode", "registry"))


def is_mirror(args: SelfHostedRegistryArgs) -> bool:
    return mode(args) == "mirror"


def mirror_args(args: SelfHostedRegistryArgs) -> SelfHostedMirrorArgs:
    return args.get("mirror") or {}


def client_certificate_auth(args: SelfHostedRegistryArgs) -> bool:
    """mode mirror with client_auth certificate: mutual TLS with a generated client certificate, no passwords."""
    return is_mirror(args) and text(mirror_args(args).get("client_auth", "users")) == "certificate"


def delete_enabled(args: SelfHostedRegistryArgs) -> bool:
    """storage.delete.enabled: off by default for a mirror (the proxy manages its cache)."""
    return storage_args(args).get("delete_enabled", not is_mirror(args))


def force_path_style(s3: SelfHostedS3Args) -> bool:
    given = s3.get("force_path_style")
    return given if given is not None else s3.get("region_endpoint") is not None


def validate_args(args: SelfHostedRegistryArgs) -> None:
    """What the component can check before declaring anything: ValueError naming the arg path."""
    names = [user.get("name") for user in users(args)]
    for index, user_name in enumerate(names):
        if not isinstance(user_name, str) or not USER_NAME.fullmatch(user_name):
            raise ValueError(f"users[{index}].name: {user_name!r} must be 1-64 of letters, digits, . _ @ - (no ':')")
        if user_name in names[:index]:
            raise ValueError(f"users[{index}].name: {user_name!r} is given twice; user names must be unique")
    length = args.get("password_length", DEFAULT_PASSWORD_LENGTH)
    # >= 16 keeps a generated password >= 96 bits; bcrypt reads only the first 72 bytes.
    if not isinstance(length, int) or not MIN_GENERATED_LENGTH <= length <= MAX_PASSWORD_BYTES:
        raise ValueError(f"password_length: {length!r} must be {MIN_GENERATED_LENGTH}-{MAX_PASSWORD_BYTES}")
    for index, hook in enumerate(args.get("notifications") or []):
        for header in hook.get("headers") or {}:
            if header.lower() == "authorization":
                raise ValueError(f"notifications[{index}].headers.{header}: use the secret `authorization` instead")
    hooks = [hook.get("name") for hook in args.get("notifications") or []]
    for index, hook_name in enumerate(hooks):
        if hook_name in hooks[:index]:
            raise ValueError(f"notifications[{index}].name: {hook_name!r} is given twice; names must be unique")
    for key, value in (("port", port(args)), ("debug_port", debug_host_port(args))):
        if not 1 <= value <= 65535:
            raise ValueError(f"{key}: {value!r} must be a port number (1-65535)")
    if debug_host_port(args) == port(args):
        raise ValueError(f"debug_port: {debug_host_port(args)} must differ from port ({port(args)})")
    _validate_debug_exposure(args)
    if major_version(args) not in (2, 3):
        raise ValueError(f"major_version: {major_version(args)!r} must be 2 or 3")
    mode = tls_mode(args)
    if mode not in ("selfSigned", "provided", "none"):
        raise ValueError(f"tls.mode: {mode!r} must be selfSigned, provided or none")
    tls = tls_args(args)
    if mode == "provided" and (tls.get("certificate") is None or tls.get("private_key") is None):
        missing = "certificate" if tls.get("certificate") is None else "private_key"
        raise ValueError(f"tls.{missing}: required with tls.mode provided")
    validity = tls.get("validity_hours", 8760)
    if tls.get("early_renewal_hours", 720) >= validity:
        raise ValueError(f"tls.early_renewal_hours: must be less than tls.validity_hours ({validity})")
    if network_mode(args) not in ("bridge", "host"):
        raise ValueError(f"network_mode: {network_mode(args)!r} must be bridge or host")
    if ui_enabled(args) and network_mode(args) == "host":
        raise ValueError("ui.enabled: the UI reaches the registry over its Docker network; use network_mode bridge")
    if ui_enabled(args) and ui_serves_tls(args) and mode == "none":
        raise ValueError("ui.tls: needs the registry's TLS (the UI serves the registry's certificate)")
    _validate_mirror(args)
    _validate_replicas(args)
    _validate_token_auth(args)
    s3 = s3_args(args)
    if s3 is not None:
        if args.get("volume_name") is not None:
            raise ValueError(f"volume_name: {args.get('volume_name')!r} only without storage.s3 (S3 uses no volume)")
        if s3.get("bucket") is None:
            raise ValueError("storage.s3.bucket: required (a globally unique bucket name)")
        if s3.get("create", True) and (s3.get("access_key") is not None or s3.get("secret_key") is not None):
            raise ValueError("storage.s3.access_key: not with storage.s3.create (the component creates the key)")


def replicas(args: SelfHostedRegistryArgs) -> int:
    return args.get("replicas", 1)


def redis_enabled(args: SelfHostedRegistryArgs) -> bool:
    return text(storage_args(args).get("cache", "inmemory")) == "redis"


def debug_published(args: SelfHostedRegistryArgs) -> bool:
    """Whether the debug server is published on the host's 127.0.0.1 (bridge): only when debug_port is given."""
    return network_mode(args) == "bridge" and args.get("debug_port") is not None


def _validate_debug_exposure(args: SelfHostedRegistryArgs) -> None:
    """The debug server serves expvar (/debug/vars) on the same mux as /metrics: the notification endpoints with
    their URLs and headers, and (registry 2.8) the Redis config with its password. On the host's loopback any
    local user reads it, also one who cannot read the 0400 config.yml (review M1)."""
    held = [
        key
        for key, present in (
            ("notifications", bool(args.get("notifications"))),
            ("storage.cache redis", redis_enabled(args)),
        )
        if present
    ]
    if network_mode(args) == "host" and args.get("notifications"):
        raise ValueError(
            "network_mode: host puts the debug server on the host's 127.0.0.1, where any local user reads "
            "/debug/vars, which shows the notifications' URLs and headers; use network_mode bridge"
        )
    if debug_published(args) and held:
        raise ValueError(
            f"debug_port: {debug_host_port(args)} publishes the debug server on the host's 127.0.0.1, and its "
            f"/debug/vars (expvar, served beside /metrics) shows the secrets of {' and '.join(held)} to any local "
            "user; leave debug_port unset with them (the health checks run inside the container)"
        )


def _validate_replicas(args: SelfHostedRegistryArgs) -> None:
    count = replicas(args)
    if not isinstance(count, int) or not 1 <= count <= 20:
        raise ValueError(f"replicas: {count!r} must be 1-20")
    if count >= 2 and s3_args(args) is None:
        raise ValueError(f"replicas: {count} replicas need storage.s3: a volume cannot be shared by replicas")
    if network_mode(args) == "host" and (count >= 2 or redis_enabled(args)):
        key = "replicas" if count >= 2 else "storage.cache"
        raise ValueError(f"{key}: needs network_mode bridge (the load balancer and Redis reach the replicas over it)")


def _validate_token_auth(args: SelfHostedRegistryArgs) -> None:
    token = token_auth_args(args)
    if token is None:
        return
    for key in ("realm", "service", "issuer", "root_cert_bundle"):
        if token.get(key) is None:
            raise ValueError(f"token_auth.{key}: required with token_auth")
    for key in ("users", "password_length"):
        if args.get(key) is not None:
            raise ValueError(f"{key}: not with token_auth (the token server authenticates clients)")
    if ui_enabled(args):
        raise ValueError("ui.enabled: not with token_auth (the UI logs in to the registry with Basic auth)")


def _validate_mirror(args: SelfHostedRegistryArgs) -> None:
    if mode(args) not in ("registry", "mirror"):
        raise ValueError(f"mode: {mode(args)!r} must be registry or mirror")
    if not is_mirror(args):
        if args.get("mirror") is not None:
            raise ValueError("mirror: only with mode mirror")
        return
    mirror = mirror_args(args)
    if (mirror.get("username") is None) != (mirror.get("password") is None):
        missing = "password" if mirror.get("password") is None else "username"
        raise ValueError(f"mirror.{missing}: give mirror.username and mirror.password together, or neither")
    client_auth = text(mirror.get("client_auth", "users"))
    if client_auth not in ("users", "certificate"):
        raise ValueError(f"mirror.client_auth: {client_auth!r} must be users or certificate")
    if client_auth == "certificate":
        if tls_mode(args) == "none":
            raise ValueError("mirror.client_auth: certificate needs TLS (tls.mode selfSigned or provided)")
        for key in ("users", "password_length", "token_auth"):
            if args.get(key) is not None:
                raise ValueError(f"{key}: not with mirror.client_auth certificate (clients present a certificate)")
        if ui_enabled(args):
            raise ValueError("ui.enabled: not with mirror.client_auth certificate (the UI logs in with Basic auth)")
    if mirror.get("ttl") is not None and major_version(args) != 3:
        raise ValueError("mirror.ttl: proxy.ttl exists in registry 3.x only (2.8 refuses the key)")
    if storage_args(args).get("delete_enabled"):
        raise ValueError("storage.delete_enabled: not with mode mirror (the proxy manages its own cache)")
    if ui_args(args).get("delete_images"):
        raise ValueError("ui.delete_images: not with mode mirror (a mirror is read-only)")


def rendered_args(args: SelfHostedRegistryArgs, bucket: pulumi.Input[str] | None) -> SelfHostedRegistryArgs:
    """`args` without what the rendered files never hold (passwords, TLS material, S3 keys), so resolving
    it does not make them secret; `bucket` replaces the S3 bucket name (the created bucket's output)."""
    out = cast(dict[str, Any], dict(args))
    out.pop("users", None)
    if "mirror" in out:  # upstream credentials go by env, its CA as a file of its own
        out["mirror"] = {k: v for k, v in out["mirror"].items() if k in ("upstream", "ttl", "client_auth")}
    if "tls" in out:
        out["tls"] = {k: v for k, v in out["tls"].items() if k in ("mode", "minimum_tls")}
    if "token_auth" in out:  # the bundle is a file of its own
        out["token_auth"] = {k: v for k, v in out["token_auth"].items() if k != "root_cert_bundle"}
    s3 = s3_args(args)
    if s3 is not None:
        kept = {k: v for k, v in s3.items() if k not in ("access_key", "secret_key")}
        out["storage"] = {**storage_args(args), "s3": {**kept, "bucket": bucket}}
    return cast(SelfHostedRegistryArgs, out)


def _s3_settings(s3: SelfHostedS3Args) -> S3Settings:
    endpoint = s3.get("region_endpoint")
    kms_key_id = s3.get("kms_key_id")
    return S3Settings(
        bucket=resolved(s3["bucket"]),
        region=s3["region"],
        region_endpoint=resolved(endpoint) if endpoint is not None else None,
        force_path_style=force_path_style(s3),
        secure=s3.get("secure", True),
        skip_verify=s3.get("skip_verify", False),
        v4_auth=s3.get("v4_auth", True),
        encryption=text(s3.get("encryption", "AES256")),
        kms_key_id=resolved(kms_key_id) if kms_key_id is not None else None,
        chunk_size=s3.get("chunk_size", S3Settings.chunk_size),
        multipart_copy_chunk_size=s3.get("multipart_copy_chunk_size", S3Settings.multipart_copy_chunk_size),
        multipart_copy_max_concurrency=s3.get(
            "multipart_copy_max_concurrency", S3Settings.multipart_copy_max_concurrency
        ),
        multipart_copy_threshold_size=s3.get("multipart_copy_threshold_size", S3Settings.multipart_copy_threshold_size),
        root_directory=s3.get("root_directory", S3Settings.root_directory),
        storage_class=text(s3.get("storage_class", "STANDARD")),
        redirect_disable=s3.get("redirect_disable", False),
    )


def _headers(headers: Mapping[str, pulumi.Input[str]]) -> dict[str, str]:
    return {name: resolved(value) for name, value in headers.items()}


DNS_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def _ip_address(path: str, value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{path}: {value!r} must be an IPv4 or IPv6 address such as 127.0.0.1") from None
    return value


def _dns_name(path: str, value: str) -> str:
    if not (isinstance(value, str) and len(value) <= 253 and DNS_NAME.fullmatch(value)):
        raise ValueError(f"{path}: {value!r} must be a DNS name such as registry.example.com")
    return value


def _url(path: str, value: str) -> str:
    if not (isinstance(value, str) and re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value)):
        raise ValueError(f"{path}: must be an http:// or https:// URL")  # the value may carry a token: not shown
    return value


def registry_settings(args: SelfHostedRegistryArgs) -> RegistrySettings:
    """The plain settings of `args`, whose inputs are resolved (call it inside an apply): checks what only the
    resolved values show (a hostname from another resource), raising ValueError naming the arg."""
    storage = storage_args(args)
    purging = storage.get("upload_purging") or {}
    s3 = s3_args(args)
    ui = ui_args(args)
    log = log_args(args)
    hostname = _dns_name("hostname", resolved(args.get("hostname", DEFAULT_HOSTNAME)))
    if ui_enabled(args):
        _ip_address("ui.bind_address", resolved(ui.get("bind_address", DEFAULT_BIND_ADDRESS)))
    notifications = tuple(
        NotificationSettings(
            name=hook["name"],
            url=_url(f"notifications[{index}].url", resolved(hook["url"])),
            headers=_headers(hook.get("headers") or {}),
            authorization=resolved(auth) if (auth := hook.get("authorization")) is not None else None,
            timeout=hook.get("timeout", "5s"),
            threshold=hook.get("threshold", 5),
            backoff=hook.get("backoff", "1s"),
            ignored_media_types=tuple(hook.get("ignored_media_types") or ()),
            ignored_actions=tuple(text(action) for action in hook.get("ignored_actions") or ()),
        )
        for index, hook in enumerate(args.get("notifications") or [])
    )
    return RegistrySettings(
        name=container_name(args),
        hostname=hostname,
        port=port(args),
        bind_address=_ip_address("bind_address", resolved(args.get("bind_address", DEFAULT_BIND_ADDRESS))),
        network_mode=network_mode(args),
        major_version=major_version(args),
        debug_listen_port=debug_listen_port(network_mode(args), debug_host_port(args)),
        tls_mode=tls_mode(args),
        minimum_tls=text(tls_args(args).get("minimum_tls", "tls1.2")),
        log_level=text(log.get("level", "info")),
        log_formatter=text(log.get("formatter", "text")),
        catalog_max_entries=args.get("catalog_max_entries", 1000),
        storage=StorageSettings(
            delete_enabled=delete_enabled(args),
            upload_purging=UploadPurgingSettings(
                enabled=purging.get("enabled", True),
                age=purging.get("age", "168h"),
                interval=purging.get("interval", "24h"),
                dry_run=purging.get("dry_run", False),
            ),
            cache=text(storage.get("cache", "inmemory")),
            s3=_s3_settings(s3) if s3 is not None else None,
        ),
        notifications=notifications,
        ui=UiSettings(
            serves_tls=ui_serves_tls(args),
            title=ui.get("title", "Docker registry"),
            delete_images=ui.get("delete_images", delete_enabled(args)),
            catalog_elements_limit=ui.get("catalog_elements_limit", 1000),
            show_content_digest=ui.get("show_content_digest", True),
        )
        if ui_enabled(args)
        else None,
        proxy=_proxy_settings(args) if is_mirror(args) else None,
        drain_timeout=f"{DRAIN_TIMEOUT_SECONDS}s" if replicas(args) > 1 else None,
        token_auth=_token_auth_settings(args),
        client_certificate_auth=client_certificate_auth(args),
    )


def _token_auth_settings(args: SelfHostedRegistryArgs) -> TokenAuthSettings | None:
    token = token_auth_args(args)
    if token is None:
        return None
    return TokenAuthSettings(
        realm=_url("token_auth.realm", resolved(token["realm"])),
        service=resolved(token["service"]),
        issuer=resolved(token["issuer"]),
    )


def _proxy_settings(args: SelfHostedRegistryArgs) -> ProxySettings:
    mirror = mirror_args(args)
    upstream = _url("mirror.upstream", resolved(mirror.get("upstream", DOCKER_HUB_UPSTREAM)))
    return ProxySettings(remote_url=upstream, ttl=mirror.get("ttl"))


def ui_url(ui_bind_address: str, hostname: str, serves_tls: bool, ui_port: int) -> str:
    """Where a browser opens the UI: the hostname when it listens on every address."""
    wildcard = ui_bind_address in ("0.0.0.0", "::")  # noqa: S104 - a comparison, not a bind
    host = hostname if wildcard else ui_bind_address
    return f"{'https' if serves_tls else 'http'}://{host}:{ui_port}"
