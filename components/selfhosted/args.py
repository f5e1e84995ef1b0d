"""SelfHostedRegistryArgs: the self-hosted registry's inputs, as the component-provider analyzer reads them.

`pulumi.Input[...]` where a value can come from another resource (hostname, addresses, PEMs, bucket name,
passwords, webhook URLs and headers); plain values where the value shapes which resources are declared.
No `from __future__ import annotations` here: the analyzer cannot resolve string annotations.
"""

from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi


class SelfHostedTlsMode(StrEnum):
    """How the registry serves TLS."""

    SELF_SIGNED = "selfSigned"
    """A private CA and a server certificate it signs (pulumi-tls)."""
    PROVIDED = "provided"
    """The certificate chain and key given in `tls.certificate` / `tls.private_key`."""
    NONE = "none"
    """Plain HTTP: passwords travel in clear text."""


class SelfHostedKeyAlgorithm(StrEnum):
    """Key type of the generated CA and server keys."""

    ECDSA = "ECDSA"
    """ECDSA P-256."""
    RSA = "RSA"
    """RSA 4096."""


class SelfHostedMinimumTls(StrEnum):
    """Oldest TLS version accepted."""

    TLS1_2 = "tls1.2"
    """TLS 1.2 and 1.3."""
    TLS1_3 = "tls1.3"
    """TLS 1.3 only."""


class SelfHostedNetworkMode(StrEnum):
    """How the registry container is networked."""

    BRIDGE = "bridge"
    """Its own Docker network; the port is published on `bind_address`."""
    HOST = "host"
    """The host's network: the registry listens on `bind_address`:`port` itself (no UI)."""


class SelfHostedBlobCache(StrEnum):
    """storage.cache.blobdescriptor."""

    INMEMORY = "inmemory"
    """An in-memory blob descriptor cache."""
    NONE = "none"
    """No cache."""
    REDIS = "redis"
    """A Redis container on the registry's network (bridge only), password generated, shared by the replicas."""


class SelfHostedS3Encryption(StrEnum):
    """Server-side encryption of the objects the registry writes."""

    AES256 = "AES256"
    """SSE-S3."""
    AWS_KMS = "aws:kms"
    """SSE-KMS (the customer key `kms_key_id`, or the bucket default with aws/s3)."""
    NONE = "none"
    """No SSE header (stores without SSE, such as MinIO without KMS); not with `create`."""


class SelfHostedS3StorageClass(StrEnum):
    """Storage class of written objects (registry v2 takes only STANDARD, REDUCED_REDUNDANCY or NONE)."""

    STANDARD = "STANDARD"
    """S3 Standard."""
    REDUCED_REDUNDANCY = "REDUCED_REDUNDANCY"
    """Reduced redundancy."""
    STANDARD_IA = "STANDARD_IA"
    """Standard-Infrequent Access (registry v3)."""
    ONEZONE_IA = "ONEZONE_IA"
    """One Zone-Infrequent Access (registry v3)."""
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    """Intelligent-Tiering (registry v3)."""
    NONE = "NONE"
    """No storage class header (stores without classes)."""


class SelfHostedLogLevel(StrEnum):
    """log.level."""

    ERROR = "error"
    """Errors only."""
    WARN = "warn"
    """Warnings and errors."""
    INFO = "info"
    """Informational messages."""
    DEBUG = "debug"
    """Everything."""


class SelfHostedLogFormatter(StrEnum):
    """log.formatter."""

    TEXT = "text"
    """Plain text."""
    JSON = "json"
    """One JSON object per line."""
    LOGSTASH = "logstash"
    """Logstash JSON."""


class SelfHostedNotificationAction(StrEnum):
    """A registry event action."""

    PULL = "pull"
    """A manifest or blob was pulled."""
    PUSH = "push"
    """A manifest or blob was pushed."""
    DELETE = "delete"
    """A manifest or blob was deleted."""
    MOUNT = "mount"
    """A blob was mounted from another repository."""


class SelfHostedMode(StrEnum):
    """What the registry is for."""

    REGISTRY = "registry"
    """Clients push and pull."""
    MIRROR = "mirror"
    """A read-only pull-through cache of `mirror.upstream` (pushes refused, deletes off)."""


class SelfHostedMirrorArgs(TypedDict):
    """mode mirror: the upstream this pull-through cache proxies (distribution's `proxy:` section)."""

    upstream: NotRequired[pulumi.Input[str]]
    """URL of the upstream registry (proxy.remoteurl). Default: https://registry-1.docker.io."""
    username: NotRequired[pulumi.Input[str]]
    """User the mirror logs in to the upstream as; passed as env REGISTRY_PROXY_USERNAME. Default: anonymous."""
    password: NotRequired[pulumi.Input[str]]
    """Secret. The upstream password or token, with `username`; passed as env REGISTRY_PROXY_PASSWORD, never in
    config.yml. Default: none."""
    ttl: NotRequired[str]
    """proxy.ttl, how long cached content is kept (Go duration; registry 3.x only). Default: 168h."""
    ca_certificate: NotRequired[pulumi.Input[str]]
    """PEM of a private CA the upstream's certificate chains to, added to the registry's trust directory.
    Default: the image's public roots."""
    client_auth: NotRequired[str]
    """users: clients log in with htpasswd `users` (or token_auth); dockerd cannot, so daemon_json is "".
    certificate: mutual TLS with a generated client certificate (http.tls.clientcas, auth off; TLS required; not
    with users, password_length, token_auth or the UI). Default: users."""


class SelfHostedTokenAuthArgs(TypedDict):
    """Token authentication (distribution's auth.token) against an external token server (GitLab, Harbor core,
    docker_auth, Keycloak): clients log in there and bring the JWT it signs; the registry has no htpasswd users."""

    realm: pulumi.Input[str]
    """URL clients get tokens from (auth.token.realm), e.g. https://gitlab.example.com/jwt/auth. Required."""
    service: pulumi.Input[str]
    """Service name tokens are issued for, their `aud` claim (auth.token.service). Required."""
    issuer: pulumi.Input[str]
    """The `iss` claim of the token server's tokens (auth.token.issuer). Required."""
    root_cert_bundle: pulumi.Input[str]
    """PEM of the certificate(s) tokens are signed with or chain to (public), uploaded as a file (0444) that
    auth.token.rootcertbundle names. Required."""


class SelfHostedTlsArgs(TypedDict):
    """How the registry serves TLS."""

    mode: NotRequired[SelfHostedTlsMode]
    """selfSigned, provided or none. Default: selfSigned."""
    extra_dns_names: NotRequired[list[pulumi.Input[str]]]
    """Subject alternative names of the generated certificate besides `hostname`. Default: none."""
    ip_addresses: NotRequired[list[pulumi.Input[str]]]
    """IP SANs of the generated certificate. Default: ["127.0.0.1"]."""
    key_algorithm: NotRequired[SelfHostedKeyAlgorithm]
    """Key type of the generated CA and server keys. Default: ECDSA."""
    validity_hours: NotRequired[int]
    """Lifetime of the generated server certificate. Default: 8760 (one year)."""
    ca_validity_hours: NotRequired[int]
    """Lifetime of the generated CA. Default: 87600 (ten years)."""
    early_renewal_hours: NotRequired[int]
    """Renew the server certificate this long before it expires (less than validity_hours). Default: 720."""
    minimum_tls: NotRequired[SelfHostedMinimumTls]
    """Oldest TLS version accepted. Default: tls1.2."""
    certificate: NotRequired[pulumi.Input[str]]
    """Secret. provided mode: the server certificate chain (PEM). Required in that mode."""
    private_key: NotRequired[pulumi.Input[str]]
    """Secret. provided mode: the server private key (PEM). Required in that mode."""
    ca_certificate: NotRequired[pulumi.Input[str]]
    """provided mode: the CA that signed `certificate` (PEM), exported as caCertPem; required with the UI.
    Default: none."""


class SelfHostedUserArgs(TypedDict):
    """One htpasswd user."""

    name: str
    """Login name: letters, digits, . _ @ - (no ':'), unique."""
    password: NotRequired[pulumi.Input[str]]
    """Secret. The password (12-72 bytes: bcrypt reads 72); generated when absent."""


class SelfHostedUploadPurgingArgs(TypedDict):
    """storage.maintenance.uploadpurging: removes abandoned uploads."""

    enabled: NotRequired[bool]
    """Purge abandoned uploads. Default: true."""
    age: NotRequired[str]
    """Purge uploads older than this (Go duration). Default: 168h."""
    interval: NotRequired[str]
    """How often to purge (Go duration). Default: 24h."""
    dry_run: NotRequired[bool]
    """Only log what would be purged. Default: false."""


class SelfHostedS3Args(TypedDict):
    """Images in S3 or an S3-compatible store (MinIO, Ceph), instead of a Docker volume."""

    bucket: pulumi.Input[str]
    """Bucket name (e.g. another stack's bucket). Required."""
    region: str
    """Bucket region, e.g. eu-west-1 (also for S3-compatible stores). Required."""
    create: NotRequired[bool]
    """true: declare the bucket (versioned, encrypted, TLS-only, retained) and a least-privilege IAM user on
    AWS; false: use an existing bucket. Default: true."""
    region_endpoint: NotRequired[pulumi.Input[str]]
    """Endpoint of an S3-compatible store or of a VPC/FIPS S3 endpoint. Default: AWS."""
    force_path_style: NotRequired[bool]
    """Path-style bucket URLs. Default: true when region_endpoint is set."""
    secure: NotRequired[bool]
    """Reach the store over HTTPS (needed with create). Default: true."""
    skip_verify: NotRequired[bool]
    """Skip TLS verification of the store. Default: false."""
    v4_auth: NotRequired[bool]
    """AWS signature version 4. Default: true."""
    encryption: NotRequired[SelfHostedS3Encryption]
    """Server-side encryption. Default: AES256."""
    kms_key_id: NotRequired[pulumi.Input[str]]
    """With encryption aws:kms: the customer-managed key (with create, its key ARN in `region`). Default: none."""
    chunk_size: NotRequired[int]
    """Multipart upload part size in bytes (>= 5 MiB). Default: 10485760."""
    root_directory: NotRequired[str]
    """Key prefix of all registry data; the IAM policy is scoped to it. Default: /registry."""
    storage_class: NotRequired[SelfHostedS3StorageClass]
    """Storage class of written objects. Default: STANDARD."""
    multipart_copy_chunk_size: NotRequired[int]
    """Part size of server-side copies. Default: 33554432."""
    multipart_copy_max_concurrency: NotRequired[int]
    """Parallel parts of a server-side copy. Default: 100."""
    multipart_copy_threshold_size: NotRequired[int]
    """Objects above this size are copied in parts. Default: 33554432."""
    redirect_disable: NotRequired[bool]
    """Serve blobs through the registry instead of redirecting clients to S3. Default: false."""
    access_key: NotRequired[pulumi.Input[str]]
    """Secret. Without create: the access key id; omit both keys to use the host's instance role."""
    secret_key: NotRequired[pulumi.Input[str]]
    """Secret. Without create: the secret access key."""
    abort_incomplete_upload_days: NotRequired[int]
    """With create: abort unfinished multipart uploads after this many days. Default: 7."""
    noncurrent_version_expiration_days: NotRequired[int]
    """With create: expire overwritten/deleted object versions after this many days. Default: keep them."""


class SelfHostedStorageArgs(TypedDict):
    """Where the images live: a retained Docker volume, or S3 when `s3` is set."""

    delete_enabled: NotRequired[bool]
    """Allow deleting manifests and blobs through the API (UI delete, retention, gc). Default: true."""
    upload_purging: NotRequired[SelfHostedUploadPurgingArgs]
    """storage.maintenance.uploadpurging. Default: enabled, 168h, every 24h."""
    cache: NotRequired[SelfHostedBlobCache]
    """Blob descriptor cache. Default: inmemory."""
    s3: NotRequired[SelfHostedS3Args]
    """Store the images in S3. Default: a Docker volume (see `volume_name`)."""


class SelfHostedLogArgs(TypedDict):
    """Registry log settings."""

    level: NotRequired[SelfHostedLogLevel]
    """log.level. Default: info."""
    formatter: NotRequired[SelfHostedLogFormatter]
    """log.formatter. Default: text."""


class SelfHostedUiArgs(TypedDict):
    """The joxit/docker-registry-ui web UI, same-origin with the registry (bridge networking only)."""

    enabled: NotRequired[bool]
    """Run the UI container. Default: false."""
    image: NotRequired[str]
    """UI image, pinned. Default: joxit/docker-registry-ui:2.5.7."""
    port: NotRequired[int]
    """Host port of the UI. Default: 8080."""
    bind_address: NotRequired[pulumi.Input[str]]
    """Host address the UI is published on. Default: 127.0.0.1."""
    title: NotRequired[str]
    """REGISTRY_TITLE: letters, digits, spaces and . , : ( ) _ + - (1-80). Default: Docker registry."""
    tls: NotRequired[bool]
    """Serve the UI over HTTPS with the registry's certificate. Default: true when the registry serves TLS."""
    delete_images: NotRequired[bool]
    """Show the delete button (needs storage.delete_enabled). Default: storage.delete_enabled."""
    catalog_elements_limit: NotRequired[int]
    """Repositories the UI lists; at most catalog_max_entries. Default: 1000."""
    show_content_digest: NotRequired[bool]
    """SHOW_CONTENT_DIGEST. Default: true."""


class SelfHostedNotificationArgs(TypedDict):
    """A webhook that receives the registry's push/pull/delete events."""

    name: str
    """Endpoint name, unique."""
    url: pulumi.Input[str]
    """Where events are POSTed (http or https)."""
    headers: NotRequired[dict[str, pulumi.Input[str]]]
    """Extra plain headers; credentials go in `authorization`. Default: none."""
    authorization: NotRequired[pulumi.Input[str]]
    """Secret. Value of the Authorization header (e.g. "Bearer ..."). Default: none."""
    timeout: NotRequired[str]
    """HTTP timeout (Go duration). Default: 5s."""
    threshold: NotRequired[int]
    """Failures before backing off. Default: 5."""
    backoff: NotRequired[str]
    """Wait after threshold failures (Go duration). Default: 1s."""
    ignored_media_types: NotRequired[list[str]]
    """Target media types not to send. Default: none."""
    ignored_actions: NotRequired[list[SelfHostedNotificationAction]]
    """Actions not to send. Default: none."""


class SelfHostedRegistryArgs(TypedDict):
    """A CNCF distribution registry on the Docker host pulumi-docker talks to."""

    hostname: NotRequired[pulumi.Input[str]]
    """Name clients use (e.g. a DNS record's name): first SAN of the certificate and http.host.
    Default: localhost."""
    port: NotRequired[int]
    """Host port of the registry. Default: 5000."""
    bind_address: NotRequired[pulumi.Input[str]]
    """Host address the port is published on (host networking: listened on). Default: 127.0.0.1."""
    container_name: NotRequired[str]
    """Docker container name; prefix of the network (<name>-net), the UI container (<name>-ui) and the
    default volume (<name>-data). Default: registry."""
    image: NotRequired[str]
    """Registry image, pinned (registry:3.x or registry:2.8.x). Default: registry:3.1.2."""
    major_version: NotRequired[int]
    """Config layout, 2 or 3. Default: from the image tag (registry:3.1.2 -> 3, registry:2.8.3 -> 2), else 2."""
    network_mode: NotRequired[SelfHostedNetworkMode]
    """bridge or host. Default: bridge."""
    debug_port: NotRequired[int]
    """Publish the debug server (/metrics, /debug/health, pprof, /debug/vars) on this host port of 127.0.0.1 (bridge;
    refused with notifications or the Redis cache: /debug/vars shows their secrets); host networking: where it
    listens. Default: not published (bridge); port + 1 (host)."""
    volume_name: NotRequired[str]
    """Docker volume holding the images (no S3). Default: <container_name>-data, kept when the name changes."""
    protect: NotRequired[bool]
    """Protect the data volume or created bucket from deletion (both are retained on delete anyway).
    Default: false."""
    tls: NotRequired[SelfHostedTlsArgs]
    """TLS settings. Default: a generated CA and server certificate."""
    users: NotRequired[list[SelfHostedUserArgs]]
    """htpasswd users (at least one). Default: one user named admin with a generated password."""
    password_length: NotRequired[int]
    """Length of generated passwords (16-72). Default: 32."""
    token_auth: NotRequired[SelfHostedTokenAuthArgs]
    """Token authentication instead of htpasswd `users` (not with `users` or the UI): no password is generated,
    user_passwords is {}, docker_config_json "" and login_command names no user. Default: htpasswd users."""
    storage: NotRequired[SelfHostedStorageArgs]
    """Where the images live. Default: a retained Docker volume, deletes enabled."""
    catalog_max_entries: NotRequired[int]
    """catalog.maxentries: most repositories /v2/_catalog returns. Default: 1000."""
    log: NotRequired[SelfHostedLogArgs]
    """Registry log settings. Default: info, text."""
    ui: NotRequired[SelfHostedUiArgs]
    """The web UI. Default: off."""
    notifications: NotRequired[list[SelfHostedNotificationArgs]]
    """Webhook endpoints for push/pull/delete events. Default: none."""
    mode: NotRequired[SelfHostedMode]
    """registry, or mirror: a read-only pull-through cache of `mirror.upstream` (deletes off). Default: registry."""
    mirror: NotRequired[SelfHostedMirrorArgs]
    """mode mirror: the upstream, its credentials and CA, the cache TTL. Default: Docker Hub, anonymous."""
    replicas: NotRequired[int]
    """Registry containers (<container_name>-1..N, unpublished) sharing storage.s3, the http secret and config.yml
    behind a load balancer container (<container_name>-lb) published on bind_address:port; 2 or more need
    storage.s3 and bridge networking. Default: 1 (one published container, no load balancer)."""
    load_balancer_image: NotRequired[str]
    """replicas >= 2: HAProxy image, pinned (reads /usr/local/etc/haproxy/haproxy.cfg; has bash, which its health
    check runs: the Debian-based images, not -alpine). Default: haproxy:3.0.5."""
    redis_image: NotRequired[str]
    """storage.cache redis: Redis image, pinned. Default: redis:7.2.7-alpine."""
