"""Config model of `registries:selfHosted`: a CNCF distribution registry on a Docker host."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from schema.base import CamelModel, ConfigProblem

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


class FilesystemStorageSpec(CamelModel):
    """Images on a named Docker volume that outlives the container."""

    kind: Literal["filesystem"] = "filesystem"
    """Storage driver: filesystem (a named Docker volume)."""
    delete_enabled: bool = True
    """Allow deleting manifests and blobs through the API (needed by the UI and clean-up jobs). Default: true."""
    upload_purging: UploadPurgingSpec = UploadPurgingSpec()
    """storage.maintenance.uploadpurging settings."""
    cache: Literal["inmemory", "none"] = "inmemory"
    """Blob descriptor cache. Default: inmemory."""


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
    title: str = Field(default="Docker registry", min_length=1, max_length=80)
    """REGISTRY_TITLE shown in the UI. Default: Docker registry."""
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


class SelfHostedSpec(CamelModel):
    """`registries:selfHosted`: a distribution registry on the Docker host pulumi-docker talks to."""

    name: str = Field(default="registry", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    """Prefix of the Docker container, network and volume names. Default: registry."""
    image: str = Field(default="registry:2.8.3", pattern=IMAGE)
    """Registry image, pinned to a version (registry:2.8.x or registry:3.x). Default: registry:2.8.3."""
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
    insecure: bool = False
    """Must be true to allow tls.mode none. Default: false."""
    tls: TlsSpec = TlsSpec()
    """TLS settings; on by default with a generated CA."""
    users: list[UserSpec] = Field(default=[UserSpec(name="admin")], min_length=1)
    """htpasswd users (at least one). Default: one generated user named admin."""
    password_length: int = Field(default=32, ge=16, le=72)
    """Length of generated passwords. Default: 32."""
    storage: FilesystemStorageSpec = FilesystemStorageSpec()
    """Where the images live. Default: a retained Docker volume."""
    catalog_max_entries: int = Field(default=1000, ge=1, le=100000)
    """catalog.maxentries: most repositories /v2/_catalog returns. Default: 1000."""
    log: LogSpec = LogSpec()
    """Registry log settings."""
    ui: UiSpec = UiSpec()
    """The web UI (joxit/docker-registry-ui). Default: off."""
    notifications: list[NotificationEndpointSpec] = []
    """Webhook endpoints for push/pull/delete events. Default: none."""
    protect: bool | None = None
    """Protect the data volume from `pulumi destroy`. Default: true on stacks whose name starts with prod."""

    @property
    def registry_major(self) -> int:
        if self.major_version is not None:
            return self.major_version
        return image_major_version(self.image) or 2

    @property
    def delete_images(self) -> bool:
        return self.storage.delete_enabled if self.ui.delete_images is None else self.ui.delete_images

    @property
    def endpoint(self) -> str:
        return f"{self.hostname}:{self.port}"


def image_major_version(image: str) -> int | None:
    """The major version in an image tag (`registry:2.8.3` -> 2), or None for digests and non-numeric tags."""
    match = re.search(r":v?([0-9]+)(\.[0-9A-Za-z.-]*)?$", image)
    return int(match.group(1)) if match else None


def selfhosted_problems(spec: SelfHostedSpec, stack: str) -> list[ConfigProblem]:
    """Rules that span several keys, or depend on the stack; fields are already valid."""
    root = "registries:selfHosted"
    out: list[ConfigProblem] = []

    def bad(path: str, value: object, allowed: str) -> None:
        out.append(ConfigProblem(f"{root}.{path}", repr(value), allowed))

    tls = spec.tls
    if tls.mode == "none" and not spec.insecure:
        bad("tls.mode", tls.mode, "'none' serves passwords in clear text; set insecure: true to accept that")
    if spec.insecure and tls.mode != "none":
        bad("insecure", True, "only meaningful with tls.mode: none; remove it")
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

    seen: set[str] = set()
    for i, user in enumerate(spec.users):
        if user.name in seen:
            bad(f"users[{i}].name", user.name, "user names must be unique")
        seen.add(user.name)

    names: set[str] = set()
    for i, hook in enumerate(spec.notifications):
        if hook.name in names:
            bad(f"notifications[{i}].name", hook.name, "endpoint names must be unique")
        names.add(hook.name)
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
