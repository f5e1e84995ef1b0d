"""Scale-out on a Docker host: the HAProxy configuration in front of the registry replicas, and the Redis
blob-descriptor cache they share. Pure functions and names; the registry component declares the containers."""

from components.selfhosted.config_file import REGISTRY_ALIAS

DEFAULT_LOAD_BALANCER_IMAGE = "haproxy:3.0.5"
DEFAULT_REDIS_IMAGE = "redis:7.2.7-alpine"
HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
"""Where the official haproxy image reads its configuration."""
REDIS_CONFIG_PATH = "/usr/local/etc/redis/redis.conf"
REDIS_ALIAS = "registry-redis"
"""Name the replicas reach Redis by on the registry's network."""
REDIS_MAX_MEMORY = "256mb"
REGISTRY_PORT = 5000
DOCKER_DNS = "127.0.0.11:53"
"""Docker's embedded DNS: HAProxy re-resolves a replica that was replaced (new address, same name)."""

REDIS_PORT = 6379


def redis_conf(password: str, max_memory: str) -> str:
    """redis.conf of the cache: a password, bounded memory evicting any key (as distribution asks), no disk.
    One renderer for the Docker and Kubernetes targets."""
    return (
        f"requirepass {password}\n"
        f"maxmemory {max_memory}\n"
        "maxmemory-policy allkeys-lru\n"
        'save ""\n'
        "appendonly no\n"
        f"port {REDIS_PORT}\n"
    )


REPLICA_ALIAS = f"{REGISTRY_ALIAS}-replica"
"""Network name every replica holds: Docker's DNS answers it with all of their addresses, so the load balancer
finds replicas by name, whatever their number and container names (a rolling replace renames them)."""
MAX_REPLICA_SLOTS = 40
"""HAProxy server slots filled from REPLICA_ALIAS: 2 x the largest `replicas`, since a rolling replace runs each
replica's successor beside it until the old ones are removed."""
READY_PORT = 8405
"""The load balancer's own readiness endpoint (container loopback only): 200 once a replica is up."""
READY_PATH = "/ready"

CHECK_INTERVAL_SECONDS = 1
RISE_CHECKS = 2
FALL_CHECKS = 2
UP_AFTER_SECONDS = CHECK_INTERVAL_SECONDS * RISE_CHECKS + 1
"""How long after a replica answers its health check HAProxy sends it connections again (rise checks, DNS)."""

DRAIN_TIMEOUT_SECONDS = 120
"""http.draintimeout: on SIGTERM a replica stops accepting connections (the load balancer retries a refused one
on another replica) and lets the requests in flight (a layer up- or download) finish for up to this long."""
STOP_GRACE_SECONDS = DRAIN_TIMEOUT_SECONDS + 10
"""Docker's stop timeout for a replica (and pulumi-docker's destroy_grace_seconds) before it is killed."""


def redis_addr() -> str:
    return f"{REDIS_ALIAS}:{REDIS_PORT}"


def haproxy_config(tls: bool = True) -> str:
    """TCP passthrough (the replicas terminate TLS with the registry's certificate) to every replica Docker's DNS
    lists under REPLICA_ALIAS, each checked actively on the registry port itself: `GET /v2/` answers 401 (auth is
    always on) from a replica that serves, over TLS when the registry has it (`check-ssl verify none`: a health
    check sends no credentials, and the certificate names the registry, not the replica; haproxy refuses check-ssl
    without a CA or `verify none`). Not the debug server's /debug/health: that would need the debug server on the
    registry network, where every container could read its /debug/vars (review M1). The storage driver's health,
    which only /debug/health shows, is the same for every replica (they share S3). A connection
    refused by a dying replica is retried on another one (redispatch on every retry). The same text for any
    number of replicas, so scaling or replacing replicas never restarts the load balancer. A readiness endpoint
    on the container's loopback answers 200 once a replica is up (the container's health check)."""
    return (
        "global\n"
        "    maxconn 4096\n"
        "resolvers docker\n"
        f"    nameserver dns {DOCKER_DNS}\n"
        "    accepted_payload_size 8192\n"
        "    resolve_retries 3\n"
        "    timeout resolve 1s\n"
        "    timeout retry 1s\n"
        "    hold valid 1s\n"
        "    hold obsolete 0s\n"
        "defaults\n"
        "    mode tcp\n"
        "    timeout connect 3s\n"
        # A large layer upload is one long request.
        "    timeout client 15m\n"
        "    timeout server 15m\n"
        "    retries 3\n"
        "    option redispatch 1\n"
        "frontend registry\n"
        f"    bind :{REGISTRY_PORT}\n"
        "    default_backend replicas\n"
        "frontend ready\n"
        "    mode http\n"
        f"    bind 127.0.0.1:{READY_PORT}\n"
        "    timeout client 5s\n"
        f"    monitor-uri {READY_PATH}\n"
        "    monitor fail if { nbsrv(replicas) lt 1 }\n"
        "backend replicas\n"
        "    balance leastconn\n"
        "    option httpchk GET /v2/\n"
        "    http-check expect status 401\n"
        f"    default-server inter {CHECK_INTERVAL_SECONDS}s fall {FALL_CHECKS} rise {RISE_CHECKS}"
        f"{' check-ssl verify none' if tls else ''}\n"
        f"    server-template replica 1-{MAX_REPLICA_SLOTS} {REPLICA_ALIAS}:{REGISTRY_PORT}"
        " check resolvers docker init-addr none resolve-prefer ipv4\n"
    )


def load_balancer_healthcheck() -> list[str]:
    """The load balancer container's health check: its readiness endpoint answers 200 (bash builtins only: the
    official haproxy image is Debian slim, without curl or wget)."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{READY_PORT} && printf 'GET {READY_PATH} HTTP/1.0\\r\\n\\r\\n' >&3 && "
        "read -r status <&3 && [[ $status == *' 200 '* ]]"
    )
    return ["CMD", "bash", "-c", script]


def redis_config(password: str) -> str:
    """The cache's redis.conf: the same file the Kubernetes target mounts (one renderer)."""
    return redis_conf(password, REDIS_MAX_MEMORY)
