"""Render the registry's one complete config.yml from plain settings (pure, no Pulumi).

`RegistrySettings` holds resolved values (a hostname that was an Output arrives here as a string, inside an
apply), so the Docker component today and other targets later (Kubernetes, a mirror mode) share this renderer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

DATA_DIR = "/var/lib/registry"
HTPASSWD_PATH = "/auth/htpasswd"
CERT_PATH = "/certs/server.crt"
KEY_PATH = "/certs/server.key"
REGISTRY_ALIAS = "registry"
"""The registry's name on its Docker network (the UI proxies to it; a SAN of the generated certificate)."""
PRIVATE_FILE_MODE = "0400"
"""Keys, htpasswd and config.yml (it may hold webhook Authorization headers): the registry runs as root."""
PUBLIC_FILE_MODE = "0444"
"""Certificates."""
BRIDGE_DEBUG_PORT = 5001
"""The debug server's port inside the container with bridge networking."""
UPSTREAM_CA_PATH = "/etc/ssl/certs/registries-upstream-ca.crt"
"""A mirror's extra upstream CA: Go's crypto/x509 reads every file in /etc/ssl/certs into the system pool
(besides the bundle file), so the image's public roots stay trusted too."""
DOCKER_HUB_UPSTREAM = "https://registry-1.docker.io"
CLIENT_CA_PATH = "/certs/client-ca.crt"
"""Mutual TLS: the CA the clients' certificates chain to (public, PUBLIC_FILE_MODE); http.tls.clientcas."""
TOKEN_ROOT_CERT_BUNDLE_PATH = "/auth/token-root-certs.pem"  # noqa: S105 - a path, not a password
"""Token auth: the certificates tokens are signed with (public, PUBLIC_FILE_MODE); auth.token.rootcertbundle."""


@dataclass(frozen=True)
class UploadPurgingSettings:
    enabled: bool = True
    age: str = "168h"
    interval: str = "24h"
    dry_run: bool = False


@dataclass(frozen=True)
class S3Settings:
    """The s3 driver's settings; `bucket` is the bucket's name (an output when the program creates it)."""

    bucket: str
    region: str
    region_endpoint: str | None = None
    force_path_style: bool = False
    secure: bool = True
    skip_verify: bool = False
    v4_auth: bool = True
    encryption: str = "AES256"
    kms_key_id: str | None = None
    chunk_size: int = 10 * 1024 * 1024
    multipart_copy_chunk_size: int = 32 * 1024 * 1024
    multipart_copy_max_concurrency: int = 100
    multipart_copy_threshold_size: int = 32 * 1024 * 1024
    root_directory: str = "/registry"
    storage_class: str = "STANDARD"
    redirect_disable: bool = False


@dataclass(frozen=True)
class StorageSettings:
    delete_enabled: bool = True
    upload_purging: UploadPurgingSettings = UploadPurgingSettings()
    cache: str = "inmemory"
    s3: S3Settings | None = None
    """None: the filesystem driver on DATA_DIR."""


@dataclass(frozen=True)
class NotificationSettings:
    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    authorization: str | None = None
    """Value of the Authorization header: makes the rendered file secret-bearing."""
    timeout: str = "5s"
    threshold: int = 5
    backoff: str = "1s"
    ignored_media_types: tuple[str, ...] = ()
    ignored_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class UiSettings:
    serves_tls: bool = True
    title: str = "Docker registry"
    delete_images: bool = True
    catalog_elements_limit: int = 1000
    show_content_digest: bool = True


@dataclass(frozen=True)
class RedisSettings:
    """A shared blob-descriptor cache (storage.cache.blobdescriptor: redis), e.g. for several replicas."""

    addr: str
    """host:port of the Redis server."""
    password: str | None = None
    """Redis AUTH password: makes the rendered file secret-bearing."""
    db: int = 0
    dial_timeout: str = "1s"
    read_timeout: str = "1s"
    write_timeout: str = "1s"


@dataclass(frozen=True)
class ProxySettings:
    """mode mirror: distribution's `proxy:` section. Credentials are not here: they go by env only."""

    remote_url: str = DOCKER_HUB_UPSTREAM
    ttl: str | None = None
    """proxy.ttl (registry 3.x); None: the registry's default."""


@dataclass(frozen=True)
class TokenAuthSettings:
    """auth.token: an external token server; the same keys in registry 2.8 and 3.x (3.x also takes `jwks` and
    `signingalgorithms`, not rendered). With a `kid` header, 2.8 matches libtrust fingerprints and 3.x RFC 7638
    thumbprints of the bundle's keys; an `x5c` chain to the bundle works with both."""

    realm: str
    service: str
    issuer: str


@dataclass(frozen=True)
class RegistrySettings:
    """Everything config.yml (and the UI's files) depend on, as plain resolved values."""

    name: str = "registry"
    """Container name; the htpasswd realm is "<name> registry"."""
    hostname: str = "localhost"
    port: int = 5000
    bind_address: str = "127.0.0.1"
    network_mode: str = "bridge"
    major_version: int = 2
    debug_listen_port: int = BRIDGE_DEBUG_PORT
    debug_on_loopback: bool = False
    """Bridge: the debug server on the container's loopback only, so no other container on the registry's network
    reads /debug/vars (expvar: notification headers, 2.8's Redis password). True on Docker unless debug_port
    publishes it (Docker's port publishing reaches the container's interface, not its loopback); Kubernetes keeps
    it on the pod's interfaces, which the kubelet's probes reach."""
    tls_mode: str = "selfSigned"
    minimum_tls: str = "tls1.2"
    log_level: str = "info"
    log_formatter: str = "text"
    catalog_max_entries: int = 1000
    storage: StorageSettings = StorageSettings()
    notifications: tuple[NotificationSettings, ...] = ()
    ui: UiSettings | None = None
    """None: no UI."""
    external_url: str | None = None
    """http.host when a proxy in front terminates TLS (a Kubernetes Ingress); None: from hostname and port."""
    redis: RedisSettings | None = None
    """A Redis blob-descriptor cache instead of `storage.cache`; None: no Redis."""
    read_only: bool = False
    """storage.maintenance.readonly: refuse pushes and deletes (while garbage-collect runs)."""
    proxy: ProxySettings | None = None
    """mode mirror: a pull-through cache of proxy.remote_url; None: a registry clients push to."""
    drain_timeout: str | None = None
    """http.draintimeout (replicas behind the load balancer): on SIGTERM stop accepting, finish what is in
    flight; None: stop at once (one container)."""
    token_auth: TokenAuthSettings | None = None
    """auth.token instead of auth.htpasswd; None: htpasswd users."""
    client_certificate_auth: bool = False
    """Mutual TLS (a mirror's client_auth certificate): http.tls.clientcas holds the generated client CA and no
    auth section (the certificate is the credential); False: htpasswd or token auth."""

    @property
    def endpoint(self) -> str:
        return f"{self.hostname}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.tls_mode != "none"


@dataclass(frozen=True)
class RegistryLayout:
    """Where a registry major version reads its config, and how its container listens."""

    config_path: str
    listen_addr: str
    debug_addr: str


def config_path(major_version: int) -> str:
    """Where the registry reads config.yml: v3 moved it."""
    return "/etc/distribution/config.yml" if major_version == 3 else "/etc/docker/registry/config.yml"


def debug_listen_port(network_mode: str, debug_host_port: int) -> int:
    """The port the debug server listens on: in the container (bridge) or on the host (host networking)."""
    return debug_host_port if network_mode == "host" else BRIDGE_DEBUG_PORT


def default_debug_port(port: int) -> int:
    """The debug server's host port when none is given: next to the registry's."""
    return port + 1 if port < 65535 else port - 1


def registry_layout(settings: RegistrySettings) -> RegistryLayout:
    path = config_path(settings.major_version)
    if settings.network_mode == "host":
        # On the host's loopback only: the debug server also serves pprof and expvar.
        return RegistryLayout(
            path, f"{settings.bind_address}:{settings.port}", f"127.0.0.1:{settings.debug_listen_port}"
        )
    if settings.debug_on_loopback:  # the health check runs inside the container; HAProxy checks the TLS port
        return RegistryLayout(path, ":5000", f"127.0.0.1:{settings.debug_listen_port}")
    # Bridge: all container interfaces, so the port published on the host's 127.0.0.1 reaches it.
    return RegistryLayout(path, ":5000", f":{settings.debug_listen_port}")


LOG_LEVELS = ("debug", "info", "warn", "error")


def log_level(settings: RegistrySettings) -> str:
    """The registry's log level: the user's, but at least warn with notifications. distribution logs each endpoint
    with its URL and headers at info at startup (`configuring endpoint ... headers=...`, registry/handlers/app.go
    in v2.8.3 and v3.0.0), which `docker logs` and log shippers would keep. The access log is written apart from
    the level (registry.go: gorilla CombinedLoggingHandler on stdout) and stays."""
    if settings.notifications and LOG_LEVELS.index(settings.log_level) < LOG_LEVELS.index("warn"):
        return "warn"
    return settings.log_level


def health_url(debug_port: int) -> str:
    """The debug server's health endpoint (listening on `debug_port`), checked from inside the container."""
    return f"http://127.0.0.1:{debug_port}/debug/health"


def serve_command(major_version: int) -> list[str]:
    """The container's command: `registry serve <the uploaded config.yml>`. Never the image's default command, which
    may name another path (a 3.0.0 image named 2.x's) and run the image's built-in config: plain HTTP, no auth."""
    return ["registry", "serve", config_path(major_version)]


def health_check_command(tls: bool, network_mode: str, bind_address: str, port: int, debug_port: int) -> list[str]:
    """The container's health check, run inside it with the image's busybox: the storage driver is healthy (the
    debug server) AND the registry's port answers as configured, so a registry running any other config (an
    image's built-in one: plain HTTP, no auth) never counts as up and `up` fails instead of deploying it.

    With TLS the port must be a TLS listener: plain HTTP to it gets Go's `HTTP/1.0 400` ("Client sent an HTTP
    request to an HTTPS server"), where a plain-HTTP registry answers HTTP/1.1. busybox cannot check more over
    TLS: its TLS 1.2 client sends no signature_algorithms, which Go 1.25+ servers refuse (crypto/tls auth.go,
    GODEBUG tlssha1). Without TLS, `/v2/` must answer 401 without credentials (auth on)."""
    host = "127.0.0.1"
    if network_mode == "host" and bind_address not in ("0.0.0.0", "::"):  # noqa: S104 - a comparison, not a bind
        host = f"[{bind_address}]" if ":" in bind_address else bind_address
    api = f"http://{host}:{port if network_mode == 'host' else 5000}/v2/"
    expected = "HTTP/1.0 400 " if tls else "HTTP/1.1 401 "
    return [
        "CMD-SHELL",
        f"wget -q -O /dev/null {health_url(debug_port)} && wget -S -O /dev/null {api} 2>&1 | grep -q '{expected}'",
    ]


def _notification_endpoint(hook: NotificationSettings) -> dict[str, Any]:
    headers: dict[str, list[str]] = {k: [v] for k, v in sorted(hook.headers.items())}
    if hook.authorization is not None:
        headers["Authorization"] = [hook.authorization]
    endpoint: dict[str, Any] = {
        "name": hook.name,
        "url": hook.url,
        "headers": headers,
        "timeout": hook.timeout,
        "threshold": hook.threshold,
        "backoff": hook.backoff,
    }
    if hook.ignored_media_types or hook.ignored_actions:
        endpoint["ignore"] = {"mediatypes": list(hook.ignored_media_types), "actions": list(hook.ignored_actions)}
    return endpoint


def _s3_driver(s3: S3Settings) -> dict[str, Any]:
    if not s3.bucket:
        raise ValueError("storage.s3.bucket: render_registry_config needs the bucket name of S3 storage")
    driver: dict[str, Any] = {"region": s3.region, "bucket": s3.bucket}
    if s3.region_endpoint is not None:
        driver["regionendpoint"] = s3.region_endpoint
    # v2.8 infers path style from a custom endpoint; v3 needs it said (distribution#4528).
    if s3.force_path_style:
        driver["forcepathstyle"] = True
    # distribution sends `encrypt` without `keyid` as x-amz-server-side-encryption: AES256 (s3-aws
    # getEncryptionMode), so aws:kms without a key, and none, send no header: the bucket default applies.
    per_object_sse = s3.encryption == "AES256" or s3.kms_key_id is not None
    driver.update(
        {
            "encrypt": per_object_sse,
            "secure": s3.secure,
            "skipverify": s3.skip_verify,
            "v4auth": s3.v4_auth,
            "chunksize": s3.chunk_size,
            "multipartcopychunksize": s3.multipart_copy_chunk_size,
            "multipartcopymaxconcurrency": s3.multipart_copy_max_concurrency,
            "multipartcopythresholdsize": s3.multipart_copy_threshold_size,
            "rootdirectory": s3.root_directory,
            "storageclass": s3.storage_class,
        }
    )
    if s3.encryption == "aws:kms" and s3.kms_key_id is not None:
        driver["keyid"] = s3.kms_key_id
    return driver


def _redis(redis: RedisSettings, major_version: int) -> dict[str, Any]:
    # v3 moved to go-redis UniversalOptions: a list of addresses (reference/selfhosted.md section 2).
    section: dict[str, Any] = {"addrs": [redis.addr]} if major_version == 3 else {"addr": redis.addr}
    if redis.password is not None:
        section["password"] = redis.password
    section.update(
        {
            "db": redis.db,
            "dialtimeout": redis.dial_timeout,
            "readtimeout": redis.read_timeout,
            "writetimeout": redis.write_timeout,
        }
    )
    return section


def _auth(settings: RegistrySettings) -> dict[str, Any]:
    token = settings.token_auth
    if token is None:
        return {"htpasswd": {"realm": f"{settings.name} registry", "path": HTPASSWD_PATH}}
    return {
        "token": {
            "realm": token.realm,
            "service": token.service,
            "issuer": token.issuer,
            "rootcertbundle": TOKEN_ROOT_CERT_BUNDLE_PATH,
        }
    }


def render_registry_config(settings: RegistrySettings) -> str:
    """The complete config.yml. Only http.secret and storage credentials stay out of it (they go by env).

    A notification's `authorization` makes the result secret-bearing: the caller renders inside an Output
    that carries the secret."""
    layout = registry_layout(settings)
    storage = settings.storage
    scheme = "https" if settings.tls else "http"

    headers: dict[str, list[str]] = {"X-Content-Type-Options": ["nosniff"]}
    # HSTS would make browsers upgrade a plain-HTTP UI on the same host to https, where nothing answers.
    if settings.tls and not (settings.ui is not None and not settings.ui.serves_tls):
        headers["Strict-Transport-Security"] = ["max-age=31536000"]
    http: dict[str, Any] = {
        "addr": layout.listen_addr,
        "host": settings.external_url or f"{scheme}://{settings.endpoint}",
        "headers": headers,
        "debug": {"addr": layout.debug_addr, "prometheus": {"enabled": True, "path": "/metrics"}},
    }
    if settings.tls:
        tls_section: dict[str, Any] = {"certificate": CERT_PATH, "key": KEY_PATH, "minimumtls": settings.minimum_tls}
        http["tls"] = tls_section
        if settings.client_certificate_auth:
            # Both 2.8 and 3.x then require and verify a client certificate (registry/registry.go:
            # tls.RequireAndVerifyClientCert, 3.x's default when http.tls.clientauth is absent).
            tls_section["clientcas"] = [CLIENT_CA_PATH]
    if settings.drain_timeout is not None:
        http["draintimeout"] = settings.drain_timeout

    driver = (
        ("s3", _s3_driver(storage.s3))
        if storage.s3 is not None
        else ("filesystem", {"rootdirectory": DATA_DIR, "maxthreads": 100})
    )
    purging = storage.upload_purging
    storage_map: dict[str, Any] = {
        driver[0]: driver[1],
        # A mirror's cache expiry deletes through the storage (registry/proxy/proxyregistry.go OnBlobExpire and
        # OnManifestExpire): with deletes off it fails ("operation unsupported") and nothing ever expires. Clients
        # still cannot delete from a mirror: the proxy's manifest and blob stores refuse it (ErrUnsupported).
        "delete": {"enabled": storage.delete_enabled or settings.proxy is not None},
        "maintenance": {
            "uploadpurging": {
                "enabled": purging.enabled,
                "age": purging.age,
                "interval": purging.interval,
                "dryrun": purging.dry_run,
            },
            "readonly": {"enabled": settings.read_only},
        },
    }
    if storage.s3 is not None and storage.s3.redirect_disable:
        storage_map["redirect"] = {"disable": True}
    if settings.redis is not None:
        storage_map["cache"] = {"blobdescriptor": "redis"}
    elif storage.cache != "none":
        storage_map["cache"] = {"blobdescriptor": storage.cache}

    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": log_level(settings), "formatter": settings.log_formatter, "fields": {"service": "registry"}},
        "storage": storage_map,
        "http": http,
        # Mutual TLS: the handshake refuses a client without the certificate; no password challenge, so dockerd
        # (which cannot log in to a mirror) pulls, and sends no Hub credentials (it answers challenges only).
        **({} if settings.client_certificate_auth else {"auth": _auth(settings)}),
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
        "catalog": {"maxentries": settings.catalog_max_entries},
    }
    if settings.redis is not None:
        config["redis"] = _redis(settings.redis, settings.major_version)
    if settings.proxy is not None:
        if settings.proxy.ttl is not None and settings.major_version != 3:
            raise ValueError("mirror.ttl: proxy.ttl exists in registry 3.x only (2.8 refuses the key)")
        proxy: dict[str, Any] = {"remoteurl": settings.proxy.remote_url}
        if settings.proxy.ttl is not None:
            proxy["ttl"] = settings.proxy.ttl
        config["proxy"] = proxy
    if settings.notifications:
        config["notifications"] = {
            "events": {"includereferences": True},
            "endpoints": [_notification_endpoint(hook) for hook in settings.notifications],
        }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def docker_certs_d_ca_path(endpoint: str) -> str:
    """Where a Docker host installs a registry's CA (and where containerd's hosts.toml points)."""
    return f"/etc/docker/certs.d/{endpoint}/ca.crt"


def mirror_daemon_json(mirror_url: str, endpoint: str, tls: bool) -> str:
    """The /etc/docker/daemon.json keys that send a Docker host's Docker Hub pulls through the mirror (dockerd
    uses registry-mirrors for docker.io only); a plain-HTTP mirror is an insecure registry to dockerd."""
    fragment: dict[str, Any] = {"registry-mirrors": [mirror_url]}
    if not tls:
        fragment["insecure-registries"] = [endpoint]
    return json.dumps(fragment, indent=2) + "\n"


def docker_certs_d_client_paths(endpoint: str) -> tuple[str, str]:
    """Where a Docker host installs a mirror's client certificate and key: dockerd presents the pair it finds in
    certs.d/<host:port>/ (a .cert and the .key of the same name)."""
    return f"/etc/docker/certs.d/{endpoint}/client.cert", f"/etc/docker/certs.d/{endpoint}/client.key"


def mirror_containerd_hosts_toml(
    upstream: str, mirror_url: str, endpoint: str, tls: bool, *, client_certificate: bool = False
) -> str:
    """containerd's /etc/containerd/certs.d/<namespace>/hosts.toml: pull and resolve through the mirror, then
    the upstream itself. The namespace is docker.io for Docker Hub, else the upstream's host[:port]. With a
    client certificate, containerd presents the pair Docker's certs.d holds."""
    lines = [
        f"# /etc/containerd/certs.d/{upstream_namespace(upstream)}/hosts.toml",
        f'server = "{upstream.rstrip("/")}"',
        "",
        f'[host."{mirror_url}"]',
        '  capabilities = ["pull", "resolve"]',
    ]
    lines.append(f'  ca = "{docker_certs_d_ca_path(endpoint)}"' if tls else "  skip_verify = true")
    if client_certificate:
        cert, key = docker_certs_d_client_paths(endpoint)
        lines.append(f'  client = [["{cert}", "{key}"]]')
    return "\n".join(lines) + "\n"


def upstream_namespace(upstream: str) -> str:
    """The registry host an image reference names for `upstream`: docker.io for Docker Hub."""
    host = urlsplit(upstream).netloc
    return "docker.io" if host in ("registry-1.docker.io", "index.docker.io", "docker.io") else host
