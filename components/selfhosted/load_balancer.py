"""Scale-out on a Docker host: the HAProxy configuration in front of the registry replicas, and the Redis
blob-descriptor cache they share. Pure functions and names; the registry component declares the containers."""

from components.selfhosted.config_file import BRIDGE_DEBUG_PORT, REGISTRY_ALIAS

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


def replica_alias(index: int) -> str:
    """Network name of replica `index` (0-based); the load balancer holds REGISTRY_ALIAS itself."""
    return f"{REGISTRY_ALIAS}-{index + 1}"


def redis_addr() -> str:
    return f"{REDIS_ALIAS}:{REDIS_PORT}"


def haproxy_config(replicas: int) -> str:
    """TCP passthrough (the replicas terminate TLS with the registry's certificate) to every replica, each
    checked actively on its plain-HTTP debug server's /debug/health; a connection refused by a dying replica
    is retried on another one (redispatch)."""
    servers = "".join(
        f"    server replica{index + 1} {replica_alias(index)}:{REGISTRY_PORT} check port {BRIDGE_DEBUG_PORT}"
        " resolvers docker init-addr last,libc,none\n"
        for index in range(replicas)
    )
    return (
        "global\n"
        "    maxconn 4096\n"
        "resolvers docker\n"
        f"    nameserver dns {DOCKER_DNS}\n"
        "    hold valid 2s\n"
        "defaults\n"
        "    mode tcp\n"
        "    timeout connect 3s\n"
        # A large layer upload is one long request.
        "    timeout client 15m\n"
        "    timeout server 15m\n"
        "    retries 3\n"
        "    option redispatch\n"
        "frontend registry\n"
        f"    bind :{REGISTRY_PORT}\n"
        "    default_backend replicas\n"
        "backend replicas\n"
        "    balance leastconn\n"
        "    option httpchk GET /debug/health\n"
        "    http-check expect status 200\n"
        "    default-server inter 2s fall 2 rise 2\n"
        f"{servers}"
    )


def redis_config(password: str) -> str:
    """The cache's redis.conf: the same file the Kubernetes target mounts (one renderer)."""
    return redis_conf(password, REDIS_MAX_MEMORY)
