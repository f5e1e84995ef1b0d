"""Config model of `registries:selfHosted`: a CNCF distribution registry on a Docker host."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Discriminator, Field, SecretStr, Tag
from pydantic.alias_generators import to_camel, to_snake

from components.kubernetes_names import ingress_host_problem
from components.selfhosted.versions import DEFAULT_IMAGE
from registries.config.base import CamelModel, ConfigProblem, repeated
from registries.config.kubernetes import DOCKER_ONLY_KEYS, KubernetesSpec, kubernetes_problems, shared_storage_problems
from registries.config.retention import RetentionSpec
from registries.config.signing import SigningSpec

DURATION = r"^[0-9]+(ms|s|m|h)$"
IMAGE = r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*(:[A-Za-z0-9._-]{1,128}|@sha256:[0-9a-f]{64})$"
DNS_NAME = r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
Port = Annotated[int, Field(ge=1, le=65535)]
Duration = Annotated[str, Field(pattern=DURATION)]
DnsName = Annotated[str, Field(pattern=DNS_NAME, max_length=253)]


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address such as 127.0.0.1") from None


IpAddress = Annotated[str, AfterValidator(_ip)]


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class TlsSpec(CamelModel):
    """How the registry serves TLS."""

    mode: Literal["selfSigned", "provided", "none"] = "selfSigned"
    """selfSigned: a CA and a server certificate from pulumi-tls; provided: PEM from secret config;
    none: plain HTTP (needs insecure: true). Default: selfSigned."""
    extra_dns_names: list[DnsName] = []
    """Subject alternative names besides `hostname`. Default: none."""
    ip_addresses: list[IpAddress] = ["127.0.0.1"]
    """IP SANs of the server certificate. Default: 127.0.0.1."""
    key_algorithm: Literal["ECDSA", "RSA"] = "ECDSA"
    """Key type of the generated CA and server keys (ECDSA P-256 or RSA 4096). Default: ECDSA."""
    validity_hours: int = Field(default=8760, ge=1, le=87600)
    """Lifetime of the server certificate. Default: 8760 (one year)."""
    ca_validity_hours: int = Field(default=87600, ge=1, le=876000)
    """Lifetime of the generated CA. Default: 87600 (ten years)."""
    early_renewal_hours: int = Field(default=720, ge=0)
    """Renew the server certificate this long before it expires. Default: 720 (30 days)."""
    minimum_tls: Literal["tls1.2", "tls1.3"] = "tls1.2"
    """Oldest TLS version accepted. Default: tls1.2."""
    certificate: SecretStr | None = None
    """provided mode: the server certificate chain (PEM). Set it as a secret."""
    private_key: SecretStr | None = None
    """provided mode: the server private key (PEM). Set it as a secret."""
    ca_certificate: str | None = None
    """provided mode: the CA that signed `certificate`, exported as caCertPem. Optional."""


def _bcrypt_length(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value().encode()) > 72:
        raise ValueError("must be at most 72 bytes in UTF-8: bcrypt ignores the rest")
    return value


class UserSpec(CamelModel):
    """One htpasswd user."""

    name: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    """Login name: letters, digits, . _ @ - (no ':'), 1-64 characters."""
    password: Annotated[SecretStr | None, AfterValidator(_bcrypt_length)] = Field(default=None, min_length=12)
    """Password (12-72 characters: bcrypt reads 72 bytes). Set it as a secret; generated when absent."""


class UploadPurgingSpec(CamelModel):
    """storage.maintenance.uploadpurging: removes abandoned uploads."""

    enabled: bool = True
    """Purge abandoned uploads. Default: true."""
    age: Duration = "168h"
    """Purge uploads older than this (Go duration). Default: 168h."""
    interval: Duration = "24h"
    """How often to purge (Go duration). Default: 24h."""
    dry_run: bool = False
    """Only log what would be purged. Default: false."""


class StorageCommonSpec(CamelModel):
    """Settings every storage driver shares."""

    delete_enabled: bool = True
    """Allow deleting manifests and blobs through the API (needed by the UI and clean-up jobs). Default: true."""
    upload_purging: UploadPurgingSpec = UploadPurgingSpec()
    """storage.maintenance.uploadpurging settings."""
    cache: Literal["inmemory", "none", "redis"] = "inmemory"
    """Blob descriptor cache: inmemory, none, or redis (platform docker: a Redis container on the registry's
    private network, password generated, shared by the replicas). Default: inmemory."""


class FilesystemStorageSpec(StorageCommonSpec):
    """Images on a named Docker volume that outlives the container."""

    kind: Literal["filesystem"] = "filesystem"
    """Storage driver: filesystem (a named Docker volume) or s3."""


MIB = 1024 * 1024
# The classes distribution 2.8's s3-aws driver accepts (v3.0 added STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING).
V2_STORAGE_CLASSES = frozenset({"STANDARD", "REDUCED_REDUNDANCY", "NONE"})
BRIDGE_DEBUG_PORT = 5001
"""The debug server's port inside the container with bridge networking."""
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class S3StorageSpec(StorageCommonSpec):
    """Images in S3 or any S3-compatible store (MinIO, Ceph, SeaweedFS)."""

    kind: Literal["s3"]
    """Storage driver: s3."""
    create: bool = True
    """true: declare the bucket and a least-privilege IAM user on AWS; false: use an existing bucket. Default: true."""
    bucket: Annotated[str, Field(pattern=BUCKET)] | None = None
    """Bucket name (required): S3 names are global, and this one stays the name of your images when
    selfHosted.name or the stack changes. create: true creates it (README: adopting a retained bucket)."""
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    """Bucket region, e.g. eu-west-1 (required, also for S3-compatible stores)."""
    region_endpoint: Annotated[str, AfterValidator(_url)] | None = None
    """Endpoint of an S3-compatible store (https://minio.internal:9000) or of a VPC/FIPS S3 endpoint. Default: AWS."""
    force_path_style: bool | None = None
    """Path-style bucket URLs. Default: true when regionEndpoint is set (registry v3 needs it explicitly)."""
    secure: bool = True
    """Use HTTPS to reach the store (create: true needs it: the bucket policy denies plain HTTP). Default: true."""
    skip_verify: bool = False
    """Skip TLS verification of the store (self-signed MinIO). Default: false."""
    v4_auth: bool = True
    """AWS signature version 4. Default: true."""
    encryption: Literal["AES256", "aws:kms", "none"] = "AES256"
    """Server-side encryption. AES256 or aws:kms: the created bucket's default, and asked for on every object
    the registry writes (aws:kms without kmsKeyId: the bucket default with the AWS-managed key aws/s3, no
    per-object header). none (create: false only): no SSE header, for stores without SSE such as MinIO
    without KMS. Default: AES256."""
    kms_key_id: str | None = Field(default=None, min_length=1)
    """With encryption: aws:kms, the customer-managed key objects are encrypted with. create: true needs its
    key ARN (arn:aws:kms:<region>:<account>:key/<id>, in `region`): the IAM policy grants
    kms:GenerateDataKey and kms:Decrypt on it. create: false also accepts a key id or alias ARN."""
    chunk_size: int = Field(default=10 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    """Multipart upload part size in bytes, at least 5 MiB. Default: 10485760 (10 MiB)."""
    root_directory: str = Field(default="/registry", pattern=r"^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")
    """Key prefix of all registry data; the IAM policy is scoped to it. Default: /registry."""
    storage_class: Literal[
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "NONE"
    ] = "STANDARD"
    """Storage class of written objects (NONE for stores without classes; registry v2 takes only STANDARD,
    REDUCED_REDUNDANCY or NONE). Default: STANDARD."""
    multipart_copy_chunk_size: int = Field(default=32 * MIB, ge=5 * MIB)
    """Part size of server-side copies. Default: 33554432 (32 MiB)."""
    multipart_copy_max_concurrency: int = Field(default=100, ge=1, le=1000)
    """Parallel parts of a server-side copy. Default: 100."""
    multipart_copy_threshold_size: int = Field(default=32 * MIB, ge=0)
    """Objects above this size are copied in parts. Default: 33554432 (32 MiB)."""
    redirect_disable: bool = False
    """Serve blobs through the registry instead of redirecting clients to S3 (when clients cannot reach S3)."""
    access_key: SecretStr | None = None
    """create: false only: access key id (secret). Omit both keys to use the host's instance role."""
    secret_key: SecretStr | None = None
    """create: false only: secret access key (secret)."""
    abort_incomplete_upload_days: int = Field(default=7, ge=1, le=365)
    """create: true: lifecycle rule aborting unfinished multipart uploads after this many days. Default: 7."""
    noncurrent_version_expiration_days: int | None = Field(default=None, ge=1)
    """create: true: expire overwritten/deleted object versions after this many days. Default: keep them."""

    @property
    def path_style(self) -> bool:
        return self.force_path_style if self.force_path_style is not None else self.region_endpoint is not None


def _storage_kind(value: object) -> str:
    kind = value.get("kind", "filesystem") if isinstance(value, dict) else getattr(value, "kind", "filesystem")
    return str(kind)


StorageSpec = Annotated[
    Annotated[FilesystemStorageSpec, Tag("filesystem")] | Annotated[S3StorageSpec, Tag("s3")],
    Discriminator(_storage_kind),
]
STORAGE_KINDS = frozenset({"filesystem", "s3"})
S3_ONLY_KEYS = frozenset(f.alias or n for n, f in S3StorageSpec.model_fields.items()) - frozenset(
    f.alias or n for n, f in FilesystemStorageSpec.model_fields.items()
)


UI_TITLE_CHARACTERS = "letters, digits, spaces and . , : ( ) _ + -"


def _ui_title(value: str) -> str:
    # joxit pastes the title into `sed "s~...~${REGISTRY_TITLE}~"` and into index.html unescaped.
    if not re.fullmatch(r"[A-Za-z0-9 .,:()_+-]+", value):
        raise ValueError(f"may contain only {UI_TITLE_CHARACTERS} (the UI pastes it into sed and HTML unescaped)")
    return value


class UiSpec(CamelModel):
    """The joxit/docker-registry-ui web UI, same-origin with the registry."""

    enabled: bool = False
    """Run the UI container. Default: false."""
    image: str = Field(default="joxit/docker-registry-ui:2.5.7", pattern=IMAGE)
    """UI image, pinned. Default: joxit/docker-registry-ui:2.5.7."""
    port: Port = 8080
    """Host port of the UI. Default: 8080."""
    bind_address: IpAddress = "127.0.0.1"
    """Host address the UI is published on. Default: 127.0.0.1."""
    title: Annotated[str, AfterValidator(_ui_title)] = Field(default="Docker registry", min_length=1, max_length=80)
    """REGISTRY_TITLE shown in the UI: letters, digits, spaces and . , : ( ) _ + - (1-80). Default: Docker registry."""
    tls: bool | None = None
    """Serve the UI over HTTPS with the registry's certificate. Default: true when the registry serves TLS.
    false: plain HTTP, which carries registry passwords in clear text (off loopback only with insecure: true)."""
    delete_images: bool | None = None
    """Show the delete button. Default: same as storage.deleteEnabled; true needs deleteEnabled."""
    catalog_elements_limit: int = Field(default=1000, ge=1)
    """Repositories the UI lists; at most catalogMaxEntries. Default: 1000."""
    show_content_digest: bool = True
    """SHOW_CONTENT_DIGEST. Default: true."""


class NotificationEndpointSpec(CamelModel):
    """A webhook that receives the registry's push/pull/delete events."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    """Endpoint name, unique."""
    url: Annotated[str, AfterValidator(_url)]
    """Where events are POSTed (http or https)."""
    headers: dict[str, str] = {}
    """Extra plain headers. Put credentials in `authorization`, which is secret."""
    authorization: SecretStr | None = None
    """Value of the Authorization header (e.g. "Bearer ..."). Set it as a secret."""
    timeout: Duration = "5s"
    """HTTP timeout (Go duration). Default: 5s."""
    threshold: int = Field(default=5, ge=1, le=1000)
    """Failures before backing off. Default: 5."""
    backoff: Duration = "1s"
    """Wait after threshold failures (Go duration). Default: 1s."""
    ignored_media_types: list[str] = []
    """Target media types not to send. Default: none."""
    ignored_actions: list[Literal["pull", "push", "delete", "mount"]] = []
    """Actions not to send (pull, push, delete, mount). Default: none."""


class LogSpec(CamelModel):
    level: Literal["error", "warn", "info", "debug"] = "info"
    """log.level. Default: info."""
    formatter: Literal["text", "json", "logstash"] = "text"
    """log.formatter. Default: text."""


class MirrorSpec(CamelModel):
    """mode: mirror: the upstream registry this pull-through cache proxies (distribution's `proxy:` section)."""

    upstream: Annotated[str, AfterValidator(_url)] = "https://registry-1.docker.io"
    """URL of the upstream registry (proxy.remoteurl). Default: https://registry-1.docker.io (Docker Hub)."""
    username: str | None = Field(default=None, min_length=1, max_length=256)
    """User the mirror logs in to the upstream as (e.g. a Docker Hub account, for its higher pull limit).
    Reaches the registry as env REGISTRY_PROXY_USERNAME, never in config.yml. Default: anonymous."""
    password: SecretStr | None = None
    """Secret. The upstream password or access token (pulumi config set --secret --path ...); given with
    `username`. Reaches the registry as env REGISTRY_PROXY_PASSWORD, never in config.yml."""
    ttl: Duration | None = None
    """How long cached content is kept (proxy.ttl; 0s keeps it forever). registry 3.x only: 2.8 has no such key
    and expires cached blobs after its fixed 168h. Default: the registry's (168h)."""
    upstream_ca_certificate: str | None = None
    """PEM of a private CA the upstream's certificate chains to; uploaded into the registry's trust directory
    (/etc/ssl/certs). Default: the image's public roots; a mirror of the stack's own selfHosted registry
    (same https URL) trusts that registry's generated CA by itself."""
    client_auth: Literal["users", "certificate"] = "users"
    """How clients of the mirror authenticate. users: htpasswd `users` (or `tokenAuth`), as a registry; dockerd
    cannot log in to a mirror (moby/moby#30880), so `daemonJson` is empty then. certificate: mutual TLS, a
    client certificate the stack generates (outputs `mirrorClientCertPem`, `mirrorClientKeyPem`), which dockerd
    presents from /etc/docker/certs.d/<host:port>/client.cert|client.key; no passwords (http.tls.clientcas,
    auth off). Default: users."""


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


def _realm(value: str) -> str:
    value = _url(value)
    host = re.sub(r":[0-9]+$", "", value.split("://", 1)[1].split("/", 1)[0])
    if value.startswith("http://") and host not in LOOPBACK_HOSTS:
        raise ValueError("must be an https:// URL (clients send their password to the realm); http:// on loopback only")
    return value


def _certificate_bundle(value: str) -> str:
    if "PRIVATE KEY" in value:
        raise ValueError("must hold certificates only (public): it is uploaded world-readable; remove the private key")
    if not PEM_CERTIFICATE.search(value):
        raise ValueError("must be PEM with at least one -----BEGIN CERTIFICATE----- block (the token signer's)")
    return value


class TokenAuthSpec(CamelModel):
    """Token authentication (distribution's auth.token) against an external token server (GitLab, Harbor core,
    docker_auth, Keycloak's docker-v2 protocol): clients log in there and bring the JWT it signs."""

    realm: Annotated[str, AfterValidator(_realm)]
    """URL clients get tokens from (auth.token.realm), e.g. https://gitlab.example.com/jwt/auth; https (http://
    on loopback only). Required."""
    service: str = Field(min_length=1, max_length=256)
    """Service name the token server issues tokens for: its tokens' `aud` claim (auth.token.service), e.g.
    container_registry. Required."""
    issuer: str = Field(min_length=1, max_length=256)
    """The `iss` claim the token server puts in its tokens (auth.token.issuer), e.g. gitlab-issuer. Required."""
    root_cert_bundle: Annotated[str, AfterValidator(_certificate_bundle)]
    """PEM of the certificate(s) tokens are signed with or chain to (public; no key): uploaded as a file (0444)
    named by auth.token.rootcertbundle. Required."""


class SelfHostedSpec(CamelModel):
    """`registries:selfHosted`: a distribution registry on the Docker host pulumi-docker talks to."""

    name: str = Field(default="registry", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    """Prefix of the Docker container and network names, and of the default volumeName. Default: registry."""
    volume_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    """Docker volume holding the images (filesystem storage). Default: <name>-data, fixed when the volume is
    created: renaming the registry keeps its volume. Setting it explicitly switches to that volume."""
    image: str = Field(default=DEFAULT_IMAGE, pattern=IMAGE)
    """Registry image, pinned to a version (registry:3.x or registry:2.8.x). Default: registry:3.1.2 (distribution
    3; stacks that pin registry:2.8.3 keep it: docs/distribution-3.md says how to move)."""
    major_version: Literal[2, 3] | None = None
    """Config layout to use; derived from the image tag when absent."""
    hostname: DnsName = "localhost"
    """Name clients use; first SAN of the certificate and http.host. Default: localhost."""
    bind_address: IpAddress = "127.0.0.1"
    """Host address the port is published on (0.0.0.0 for all). Default: 127.0.0.1."""
    port: Port = 5000
    """Host port of the registry (443 for a bare hostname). Default: 5000."""
    network_mode: Literal["bridge", "host"] = "bridge"
    """bridge: own Docker network, port published; host: the registry listens on bindAddress:port of the host."""
    debug_port: Port | None = None
    """Publish the debug server (/metrics, /debug/health, /debug/vars, pprof) on this port of the host's 127.0.0.1
    (bridge networking; refused with notifications or storage.cache redis: /debug/vars shows their secrets to any
    local user); with host networking it listens there. Default: not published (bridge); port + 1 (host)."""
    insecure: bool = False
    """Must be true to allow plain HTTP: tls.mode none, or a plain-HTTP UI (ui.tls: false) off loopback,
    which both carry passwords in clear text. Default: false."""
    tls: TlsSpec = TlsSpec()
    """TLS settings; on by default with a generated CA."""
    users: list[UserSpec] = Field(default=[UserSpec(name="admin")], min_length=1)
    """htpasswd users (at least one). Default: one generated user named admin."""
    token_auth: TokenAuthSpec | None = None
    """Token authentication against an external token server instead of htpasswd `users` (not with `users`,
    `passwordLength` or the UI; the userPasswords output is empty, dockerConfigJson empty, loginCommand has no
    user). Default: none (htpasswd users)."""
    password_length: int = Field(default=32, ge=16, le=72)
    """Length of generated passwords. Default: 32."""
    storage: StorageSpec = FilesystemStorageSpec()
    """Where the images live: kind filesystem (a retained Docker volume, the default) or s3."""
    catalog_max_entries: int = Field(default=1000, ge=1, le=100000)
    """catalog.maxentries: most repositories /v2/_catalog returns. Default: 1000."""
    log: LogSpec = LogSpec()
    """Registry log settings."""
    ui: UiSpec = UiSpec()
    """The web UI (joxit/docker-registry-ui). Default: off."""
    notifications: list[NotificationEndpointSpec] = []
    """Webhook endpoints for push/pull/delete events. Default: none."""
    mode: Literal["registry", "mirror"] = "registry"
    """registry: clients push and pull; mirror: a read-only pull-through cache of `mirror.upstream` (pushes are
    refused, deletes off: the proxy manages its cache). Default: registry."""
    mirror: MirrorSpec | None = None
    """mode: mirror only: the upstream, its credentials and CA, the cache TTL."""
    protect: bool | None = None
    """Protect the data volume from `pulumi destroy`. Default: true on stacks whose name starts with prod."""
    retention: RetentionSpec | None = None
    """Which images `registryctl retention apply` deletes (protect, keepLatest, untaggedDays, taggedDays); needs
    storage.deleteEnabled: true. Default: none (nothing is deleted)."""
    signing: SigningSpec | None = None
    """Keys CI signs this registry's images with (cosign key pair, Notation certificate chain), handed out as the
    output signing.selfHosted, private keys as secrets. Not on mirrors. Default: none."""
    platform: Literal["docker", "kubernetes"] = "docker"
    """Where the registry runs: docker (a container on the Docker host) or kubernetes (a Deployment behind an
    Ingress, settings in `kubernetes`). Default: docker."""
    replicas: int = Field(default=1, ge=1, le=20)
    """platform docker: registry containers sharing storage.kind s3 and the http secret behind an HAProxy
    container published on bindAddress:port (2 or more need S3 and networkMode bridge). Default: 1."""
    load_balancer_image: str = Field(default="haproxy:3.0.5", pattern=IMAGE)
    """replicas >= 2: HAProxy image, pinned (reads /usr/local/etc/haproxy/haproxy.cfg; has bash, which its health
    check runs: the Debian-based images, not -alpine). Default: haproxy:3.0.5."""
    redis_image: str = Field(default="redis:7.2.7-alpine", pattern=IMAGE)
    """storage.cache redis: Redis image, pinned (7.2 is the last BSD-licensed line). Default: redis:7.2.7-alpine."""
    kubernetes: KubernetesSpec | None = None
    """platform: kubernetes only: namespace, replicas, ingress, resources, autoscaling, Redis, garbage collection.
    Default: the block's defaults."""

    @property
    def registry_major(self) -> int:
        if self.major_version is not None:
            return self.major_version
        return image_major_version(self.image) or 2

    @property
    def delete_enabled(self) -> bool:
        """storage.delete.enabled as rendered: always off for a mirror (the proxy manages its cache)."""
        return self.storage.delete_enabled and self.mode == "registry"

    @property
    def delete_images(self) -> bool:
        return self.delete_enabled if self.ui.delete_images is None else self.ui.delete_images

    @property
    def debug_host_port(self) -> int:
        """Where the debug server is reached on the host's 127.0.0.1."""
        if self.debug_port is not None:
            return self.debug_port
        return self.port + 1 if self.port < 65535 else self.port - 1

    @property
    def debug_listen_port(self) -> int:
        """The port the debug server listens on: in the container (bridge) or on the host (host networking)."""
        return self.debug_host_port if self.network_mode == "host" else BRIDGE_DEBUG_PORT

    @property
    def ui_serves_tls(self) -> bool:
        return self.ui.tls if self.ui.tls is not None else self.tls.mode != "none"

    @property
    def plain_ui_off_loopback(self) -> bool:
        """A UI on plain HTTP that other machines reach: it relays registry Basic-auth credentials in clear."""
        return self.ui.enabled and not self.ui_serves_tls and not ipaddress.ip_address(self.ui.bind_address).is_loopback

    @property
    def data_volume_name(self) -> str:
        return self.volume_name or f"{self.name}-data"

    @property
    def endpoint(self) -> str:
        return f"{self.hostname}:{self.port}"


def image_major_version(image: str) -> int | None:
    """The major version in an image tag (`registry:2.8.3` -> 2), or None for digests and non-numeric tags."""
    match = re.search(r":v?([0-9]+)(\.[0-9A-Za-z.-]*)?$", image)
    return int(match.group(1)) if match else None


def selfhosted_problems(spec: SelfHostedSpec, stack: str, root: str = "registries:selfHosted") -> list[ConfigProblem]:
    """Rules that span several keys, or depend on the stack; fields are already valid. `root` names the
    section in messages (registries:selfHosted, or registries:mirrors[i])."""
    out: list[ConfigProblem] = []

    def bad(path: str, value: object, allowed: str) -> None:
        out.append(ConfigProblem(f"{root}.{path}", repr(value), allowed))

    tls = spec.tls
    if tls.mode == "none" and not spec.insecure:
        bad("tls.mode", tls.mode, "'none' serves passwords in clear text; set insecure: true to accept that")
    if spec.insecure and tls.mode != "none" and not spec.plain_ui_off_loopback:
        bad("insecure", True, "only meaningful with tls.mode: none or a plain-HTTP UI (ui.tls: false) off loopback")
    if tls.mode == "provided":
        if tls.certificate is None:
            bad("tls.certificate", None, "required with tls.mode: provided (pulumi config set --secret --path ...)")
        if tls.private_key is None:
            bad("tls.privateKey", None, "required with tls.mode: provided (pulumi config set --secret --path ...)")
    else:
        for key, value in (("certificate", tls.certificate), ("privateKey", tls.private_key)):
            if value is not None:
                bad(
                    f"tls.{key}",
                    "a secret value (not shown)",
                    f"only allowed with tls.mode: provided, not {tls.mode!r}",
                )
    if tls.early_renewal_hours >= tls.validity_hours:
        bad(
            "tls.earlyRenewalHours",
            tls.early_renewal_hours,
            f"must be less than tls.validityHours ({tls.validity_hours})",
        )

    for i in repeated(user.name for user in spec.users):
        bad(f"users[{i}].name", spec.users[i].name, "user names must be unique")
    for i in repeated(hook.name for hook in spec.notifications):
        bad(f"notifications[{i}].name", spec.notifications[i].name, "endpoint names must be unique")
    for i, hook in enumerate(spec.notifications):
        for header in hook.headers:
            if header.lower() == "authorization":
                bad(
                    f"notifications[{i}].headers.{header}",
                    "a secret value (not shown)",
                    "use the secret key `authorization` instead",
                )

    ui = spec.ui
    if ui.enabled:
        if ui.delete_images and not spec.storage.delete_enabled:
            bad("ui.deleteImages", True, "needs storage.deleteEnabled: true (the registry refuses deletes otherwise)")
        if ui.catalog_elements_limit > spec.catalog_max_entries:
            bad(
                "ui.catalogElementsLimit",
                ui.catalog_elements_limit,
                f"must be <= catalogMaxEntries ({spec.catalog_max_entries})",
            )
        if spec.network_mode == "host":
            bad("ui.enabled", True, "the UI reaches the registry over its Docker network; use networkMode: bridge")
        if ui.port == spec.port and ui.bind_address == spec.bind_address:
            bad("ui.port", ui.port, f"must differ from port ({spec.port}) on the same bindAddress")
        if ui.port == spec.debug_host_port:
            bad("ui.port", ui.port, f"must differ from the debug port ({spec.debug_host_port}, on 127.0.0.1)")
        if spec.plain_ui_off_loopback and not spec.insecure:
            bad(
                "ui.bindAddress",
                ui.bind_address,
                "a plain-HTTP UI off loopback relays registry passwords (Basic auth) in clear text; serve it "
                "over HTTPS (ui.tls: true, the default with TLS), bind it to 127.0.0.1, or set insecure: true "
                "to accept that",
            )
        if spec.ui_serves_tls and tls.mode == "none":
            bad("ui.tls", True, "needs the registry's TLS (tls.mode selfSigned or provided): the UI serves its cert")
        if tls.mode == "provided" and tls.ca_certificate is None:
            bad(
                "tls.caCertificate",
                None,
                "required with the UI and tls.mode: provided: the UI verifies the registry's certificate against it",
            )

    if spec.retention is not None and not spec.storage.delete_enabled:
        bad("storage.deleteEnabled", False, "must be true with a retention block (the registry refuses deletes)")
    if spec.volume_name is not None and isinstance(spec.storage, S3StorageSpec):
        bad("volumeName", spec.volume_name, "only with storage.kind: filesystem (S3 storage uses no volume)")
    if spec.debug_host_port == spec.port:
        bad("debugPort", spec.debug_host_port, f"must differ from the registry's port ({spec.port})")
    out.extend(_storage_problems(spec, bad))
    _platform_problems(spec, bad)
    _mirror_problems(spec, bad)
    _token_auth_problems(spec, bad)
    major = image_major_version(spec.image)
    if spec.major_version is None and major is None:
        bad("majorVersion", None, f"required (2 or 3) when the image tag does not name a version: {spec.image!r}")
    elif spec.major_version is None and major not in (2, 3):
        bad("image", spec.image, "registry major version 2 or 3 (e.g. registry:2.8.3, registry:3.0.0)")
    if stack != "local" and (spec.image.endswith(":latest") or re.search(r":[0-9]+$", spec.image)):
        bad(
            "image",
            spec.image,
            f"pin a full version (e.g. registry:2.8.3) on stack {stack!r}; 'latest' and bare majors only on 'local'",
        )
    return out


def _platform_problems(spec: SelfHostedSpec, bad: Callable[[str, object, str], None]) -> None:
    """Keys of one platform refused on the other, naming the key; the kubernetes block's own rules."""
    if spec.platform == "docker":
        if spec.kubernetes is not None:
            bad("kubernetes", "a kubernetes block", "only with platform: kubernetes")
        shared_storage_problems("replicas", spec.replicas, spec.storage.kind, bad)
        if spec.network_mode == "host" and (spec.replicas >= 2 or spec.storage.cache == "redis"):
            key, value = ("replicas", spec.replicas) if spec.replicas >= 2 else ("storage.cache", "redis")
            bad(key, value, "needs networkMode: bridge (the load balancer and Redis reach the replicas over it)")
        if spec.replicas >= 2 and "alpine" in spec.load_balancer_image.rsplit("/", 1)[-1]:
            bad(
                "loadBalancerImage",
                spec.load_balancer_image,
                "a Debian-based HAProxy image (e.g. haproxy:3.0.5): the load balancer's health check runs bash,"
                " which the -alpine images lack",
            )
        return
    if spec.storage.cache == "redis":
        bad("storage.cache", "redis", "platform: docker only; on kubernetes use kubernetes.redis.enabled")
    for key in DOCKER_ONLY_KEYS:
        if to_snake(key) in spec.model_fields_set:
            value = getattr(spec, to_snake(key))
            bad(key, value, "a Docker-host key, not with platform: kubernetes (the Service and Ingress publish it)")
    if spec.ui.enabled:
        bad("ui.enabled", True, "the web UI runs on the Docker target only, not with platform: kubernetes")
    kubernetes = spec.kubernetes or KubernetesSpec()
    kubernetes_problems(kubernetes, spec.storage.kind, bad)
    if kubernetes.ingress.enabled and (problem := ingress_host_problem(spec.hostname)):
        bad("hostname", spec.hostname, problem)
    if kubernetes.ingress.tls_secret_name is not None and spec.tls.mode != "selfSigned":
        bad(
            "kubernetes.ingress.tlsSecretName",
            kubernetes.ingress.tls_secret_name,
            "only with tls.mode: selfSigned (the existing Secret replaces the generated certificate), "
            f"not {spec.tls.mode!r}",
        )
    if kubernetes.s3_role_arn is not None:
        storage = spec.storage
        if not isinstance(storage, S3StorageSpec) or storage.create or storage.access_key is not None:
            bad(
                "kubernetes.s3RoleArn",
                kubernetes.s3_role_arn,
                "needs storage.kind: s3 with create: false and no access keys (the role, not an IAM user, reaches"
                " the bucket: grant it the registry's S3 actions)",
            )


def _mirror_problems(spec: SelfHostedSpec, bad: Callable[[str, object, str], None]) -> None:
    """A mirror is a read-only proxy: its block, its credentials in pairs, what distribution 2.8 lacks."""
    mirror = spec.mirror
    if spec.mode == "registry":
        if mirror is not None:
            bad("mirror", "a mirror block", "only with mode: mirror")
        return
    if mirror is None:
        bad("mirror", None, "required with mode: mirror (at least mirror.upstream, e.g. https://registry-1.docker.io)")
        return
    if (mirror.username is None) != (mirror.password is None):
        missing = "mirror.password" if mirror.password is None else "mirror.username"
        bad(missing, None, "give mirror.username and mirror.password together, or neither (anonymous upstream)")
    if mirror.client_auth == "certificate":
        _client_certificate_problems(spec, bad)
    if mirror.ttl is not None and spec.registry_major == 2:
        bad(
            "mirror.ttl",
            mirror.ttl,
            "only with registry 3.x (proxy.ttl is new in distribution 3.0; 2.8 refuses the key and keeps cached"
            " blobs for a fixed 168h): remove it or use image registry:3.x",
        )
    if "delete_enabled" in spec.storage.model_fields_set and spec.storage.delete_enabled:
        bad("storage.deleteEnabled", True, "false or absent with mode: mirror (the proxy manages its own cache)")
    if spec.retention is not None:
        bad("retention", "a retention block", "not with mode: mirror (the proxy expires its cache itself)")
    if spec.ui.delete_images:
        bad("ui.deleteImages", True, "not with mode: mirror (a mirror is read-only)")
    if spec.platform == "kubernetes":
        bad("mode", "mirror", "mode: mirror runs on platform: docker only (not yet on kubernetes)")
    if spec.replicas >= 2:
        # distribution#3251: each proxy keeps its expiry schedule in one scheduler-state.json in the storage.
        bad("replicas", spec.replicas, "1 with mode: mirror (the proxy's cache expiry state is per instance)")


def _client_certificate_problems(spec: SelfHostedSpec, bad: Callable[[str, object, str], None]) -> None:
    """mirror.clientAuth certificate: the client certificate replaces users and passwords, over TLS only."""
    if spec.tls.mode == "none":
        bad("mirror.clientAuth", "certificate", "needs TLS (tls.mode selfSigned or provided): mutual TLS is TLS")
    for key in ("users", "password_length", "token_auth"):
        if key in spec.model_fields_set:
            bad(
                to_camel(key),
                "htpasswd users"
                if key == "users"
                else "a tokenAuth block"
                if key == "token_auth"
                else spec.password_length,
                "not with mirror.clientAuth: certificate (clients present the generated certificate; no passwords)",
            )
    if spec.ui.enabled:
        bad("ui.enabled", True, "not with mirror.clientAuth: certificate (the UI logs in with Basic auth)")


def _token_auth_problems(spec: SelfHostedSpec, bad: Callable[[str, object, str], None]) -> None:
    """Token auth replaces the htpasswd users: the keys that only make sense with them are refused."""
    if spec.token_auth is None:
        return
    for key in ("users", "password_length"):
        if key in spec.model_fields_set:
            bad(
                to_camel(key),
                "htpasswd users" if key == "users" else spec.password_length,
                "not with tokenAuth (the token server authenticates clients; the registry has no htpasswd users)",
            )
    if spec.ui.enabled:
        bad("ui.enabled", True, "not with tokenAuth (the UI logs in to the registry with Basic auth)")
    if spec.platform == "kubernetes":
        bad("tokenAuth", "a tokenAuth block", "platform: docker only (not yet on kubernetes)")


def _kms_key_arn_in(key_id: str, region: str) -> bool:
    return re.fullmatch(rf"arn:aws[a-z-]*:kms:{re.escape(region)}:[0-9]{{12}}:key/[A-Za-z0-9-]+", key_id) is not None


def _storage_problems(spec: SelfHostedSpec, bad: Callable[[str, object, str], None]) -> list[ConfigProblem]:
    storage = spec.storage
    if not isinstance(storage, S3StorageSpec):
        return []
    if storage.bucket is None:
        bad(
            "storage.bucket",
            None,
            "required: a globally unique S3 bucket name (3-63 of a-z 0-9 . -), e.g. acme-registry-images; it stays"
            " the name of your images when selfHosted.name or the stack changes",
        )
    if storage.create:
        for key, value in (("accessKey", storage.access_key), ("secretKey", storage.secret_key)):
            if value is not None:
                bad(
                    f"storage.{key}",
                    "a secret value (not shown)",
                    "not with create: true (the program creates the key)",
                )
        if not storage.secure:
            bad("storage.secure", False, "true with create: true (the created bucket denies requests without TLS)")
        if storage.encryption == "none":
            bad("storage.encryption", "none", "AES256 or aws:kms with create: true (the created bucket is encrypted)")
        kms_key = storage.kms_key_id if storage.encryption == "aws:kms" else None
        if kms_key is not None and not _kms_key_arn_in(kms_key, storage.region):
            bad(
                "storage.kmsKeyId",
                kms_key,
                f"with create: true, a key ARN in {storage.region} (arn:aws:kms:{storage.region}:<account>:key/<id>):"
                " the IAM policy grants the key by ARN",
            )
    else:
        if storage.encryption == "aws:kms" and storage.kms_key_id is None:
            bad(
                "storage.kmsKeyId",
                None,
                "required with encryption: aws:kms and create: false (to rely on the bucket's own default"
                " encryption, use encryption: none)",
            )
        if (storage.access_key is None) != (storage.secret_key is None):
            bad(
                "storage.secretKey" if storage.secret_key is None else "storage.accessKey",
                None,
                "give both keys or neither",
            )
        for key in ("abort_incomplete_upload_days", "noncurrent_version_expiration_days"):
            if key in storage.model_fields_set:
                bad(
                    f"storage.{to_camel(key)}", getattr(storage, key), "only with create: true (the bucket is not ours)"
                )
    if storage.kms_key_id is not None and storage.encryption != "aws:kms":
        bad("storage.kmsKeyId", storage.kms_key_id, "only with encryption: aws:kms")
    if spec.registry_major == 2 and storage.storage_class not in V2_STORAGE_CLASSES:
        bad(
            "storage.storageClass",
            storage.storage_class,
            "registry v2 accepts STANDARD, REDUCED_REDUNDANCY or NONE (it does not start with others; v3 adds them)",
        )
    if spec.registry_major == 3 and storage.region_endpoint is not None and storage.force_path_style is False:
        bad("storage.forcePathStyle", False, "registry v3 with a custom regionEndpoint needs forcePathStyle: true")
    return []


def secret_value_paths(spec: SelfHostedSpec, root: str) -> list[str]:
    """The keys under `root` (registries:selfHosted or registries:mirrors[i]) holding secrets: the TLS private key,
    users' passwords, the S3 secret key, webhook Authorization values and the upstream password of a mirror."""
    paths = [f"{root}.tls.privateKey"] if spec.tls.private_key is not None else []
    paths += [f"{root}.users[{i}].password" for i, user in enumerate(spec.users) if user.password is not None]
    if isinstance(spec.storage, S3StorageSpec) and spec.storage.secret_key is not None:
        paths.append(f"{root}.storage.secretKey")
    paths += [
        f"{root}.notifications[{i}].authorization"
        for i, endpoint in enumerate(spec.notifications)
        if endpoint.authorization is not None
    ]
    if spec.mirror is not None and spec.mirror.password is not None:
        paths.append(f"{root}.mirror.password")
    return paths
