"""SelfHostedRegistry: distribution on a Docker host, with TLS, htpasswd users, a data volume or S3, and the UI.

No `from __future__ import annotations` here: the component-provider analyzer reads the annotations.
"""

import dataclasses
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.selfhosted import settings as s
from components.selfhosted.args import SelfHostedRegistryArgs
from components.selfhosted.config_file import (
    CERT_PATH,
    CLIENT_CA_PATH,
    DATA_DIR,
    HTPASSWD_PATH,
    KEY_PATH,
    PRIVATE_FILE_MODE,
    PUBLIC_FILE_MODE,
    REGISTRY_ALIAS,
    TOKEN_ROOT_CERT_BUNDLE_PATH,
    UPSTREAM_CA_PATH,
    RedisSettings,
    RegistrySettings,
    config_path,
    debug_listen_port,
    docker_certs_d_ca_path,
    health_check_command,
    mirror_containerd_hosts_toml,
    mirror_daemon_json,
    render_registry_config,
    serve_command,
)
from components.selfhosted.credentials import docker_config_json
from components.selfhosted.load_balancer import (
    DEFAULT_LOAD_BALANCER_IMAGE,
    DEFAULT_REDIS_IMAGE,
    HAPROXY_CONFIG_PATH,
    REDIS_ALIAS,
    REDIS_CONFIG_PATH,
    REGISTRY_PORT,
    REPLICA_ALIAS,
    STOP_GRACE_SECONDS,
    haproxy_config,
    load_balancer_healthcheck,
    redis_addr,
    redis_config,
)
from components.selfhosted.s3_storage import S3Storage, declare_s3_storage
from components.selfhosted.tls import TlsMaterial, declare_client_certificate, declare_tls
from components.selfhosted.ui import (
    UI_CA_PATH,
    UI_CERT_PATH,
    UI_KEY_PATH,
    ui_container_port,
    ui_environment,
    ui_nginx_files,
    ui_nginx_paths,
)
from components.selfhosted.users import declare_users

__all__ = ["REGISTRY_ALIAS", "TYPE_TOKEN", "SelfHostedRegistry", "SelfHostedRegistryArgs"]

TYPE_TOKEN = "registries:index:SelfHostedRegistry"  # noqa: S105 - a type token, not a password
OLD_TYPE_TOKEN = "registries:selfhosted:SelfHostedRegistry"  # noqa: S105 - a type token, not a password
"""The token before the library rework: an alias keeps existing stacks' URNs."""
MANAGED_BY = "registries.managed-by"


class SelfHostedRegistry(pulumi.ComponentResource):
    """A CNCF distribution registry on a Docker host: TLS (generated CA or provided certificate), htpasswd
    users with bcrypt hashes, images on a retained Docker volume or in S3, optional web UI and webhooks."""

    endpoint: pulumi.Output[str]
    """host:port that clients push to and pull from."""
    ui_url: pulumi.Output[str]
    """URL of the web UI, or "" when it is off."""
    ca_cert_pem: pulumi.Output[str]
    """CA certificate clients must trust (copy to /etc/docker/certs.d/<endpoint>/ca.crt); "" without TLS."""
    user_passwords: pulumi.Output[dict[str, str]]
    """Secret. User name -> password."""
    docker_config_json: pulumi.Output[str]
    """Secret. ~/.docker/config.json logging in as the first user."""
    login_command: pulumi.Output[str]
    """`docker login` command line, without the password."""
    container_name: pulumi.Output[str]
    """Name of the registry's Docker container (with replicas: the first replica's)."""
    replica_container_names: pulumi.Output[list[str]]
    """Names of the registry containers: one, or every replica (generated: a rolling replace renames them)."""
    volume_name: pulumi.Output[str]
    """Docker volume holding the images ("" with S3 storage)."""
    bucket: pulumi.Output[str]
    """S3 bucket holding the images ("" with a Docker volume)."""
    mirror_url: pulumi.Output[str]
    """mode mirror: the URL Docker hosts list in registry-mirrors (https://<endpoint>); "" for a registry."""
    daemon_json: pulumi.Output[str]
    """mode mirror with client_auth certificate: the /etc/docker/daemon.json keys sending a host's Docker Hub pulls
    through the mirror (merge them; install caCertPem at `mirror_ca_path` and the client certificate and key beside
    it as client.cert and client.key first); "" otherwise (dockerd cannot log in to a mirror with users)."""
    mirror_ca_path: pulumi.Output[str]
    """mode mirror with TLS: where a Docker host installs caCertPem (/etc/docker/certs.d/<endpoint>/ca.crt);
    "" otherwise."""
    containerd_hosts_toml: pulumi.Output[str]
    """mode mirror: containerd's certs.d/<upstream>/hosts.toml (path in its first line); "" for a registry."""
    mirror_client_cert_pem: pulumi.Output[str]
    """mode mirror with client_auth certificate: the client certificate Docker hosts present
    (/etc/docker/certs.d/<endpoint>/client.cert); "" otherwise."""
    mirror_client_key_pem: pulumi.Output[str]
    """Secret. Its private key (/etc/docker/certs.d/<endpoint>/client.key, mode 0600); "" otherwise."""

    def __init__(self, name: str, args: SelfHostedRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=OLD_TYPE_TOKEN)]))
        super().__init__(TYPE_TOKEN, name, None, opts)
        s.validate_args(args)
        docker_name = s.container_name(args)
        hostname = pulumi.Output.from_input(args.get("hostname", s.DEFAULT_HOSTNAME))
        port = s.port(args)
        bridge = s.network_mode(args) == "bridge"
        child = pulumi.ResourceOptions(parent=self)
        # Docker names are unique: a replacement must remove the old object before creating the new one.
        replace_first = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        network = None
        if bridge:
            network = docker.Network(
                f"{name}-network",
                name=f"{docker_name}-net",
                labels=[docker.NetworkLabelArgs(label=MANAGED_BY, value="pulumi")],
                opts=replace_first,
            )
        volume, s3 = self._storage(name, args)
        image = docker.RemoteImage(
            f"{name}-image", name=args.get("image", s.DEFAULT_IMAGE), keep_locally=True, opts=child
        )

        token_auth = s.token_auth_args(args)
        client_certificate = s.client_certificate_auth(args)
        # Token auth: the token server authenticates clients; a mirror's client certificate replaces passwords:
        # either way no htpasswd users nor generated passwords.
        user_list = s.users(args) if token_auth is None and not client_certificate else []
        names = [user["name"] for user in user_list]
        passwords: list[pulumi.Output[str]] = []
        htpasswd: pulumi.Output[str] | None = None
        if user_list:
            passwords, htpasswd = declare_users(
                name,
                [(user["name"], user.get("password")) for user in user_list],
                args.get("password_length", s.DEFAULT_PASSWORD_LENGTH),
                self,
            )
        http_secret = random.RandomPassword(f"{name}-http-secret", length=64, special=False, opts=child)
        tls_material = declare_tls(name, s.tls_args(args), hostname, bridge, self)
        self._client_certificate = (
            declare_client_certificate(name, hostname, s.tls_args(args).get("validity_hours", 8760), self)
            if client_certificate
            else None
        )

        bucket = s3.bucket if s3 is not None else pulumi.Output.from_input("")
        # Only what the files hold is resolved: a password or key among it would make them secret.
        # The debug server (expvar) stays on the container's loopback unless debug_port publishes it.
        debug_on_loopback = bridge and not s.debug_published(args)
        settings = pulumi.Output.from_input(s.rendered_args(args, bucket if s3 is not None else None)).apply(
            lambda resolved: dataclasses.replace(s.registry_settings(resolved), debug_on_loopback=debug_on_loopback)
        )
        if s.redis_enabled(args) and network is not None:
            settings = self._redis(name, args, settings, network)
        # Replicas share the storage, the http secret (an upload may finish on another replica) and config.yml.
        # Each one waits for its predecessor, so a change rolls through them one at a time.
        replicas: list[docker.Container] = []
        for index in range(s.replicas(args)):
            replicas.append(
                self._registry_container(
                    name,
                    args,
                    image.image_id,
                    settings,
                    htpasswd,
                    http_secret,
                    tls_material,
                    s3,
                    volume,
                    network,
                    index,
                    previous=replicas[-1] if replicas else None,
                )
            )
        container = replicas[0]
        if len(replicas) > 1 and network is not None:
            container = self._load_balancer(name, args, network, replicas)

        ui_url: pulumi.Output[str] = pulumi.Output.from_input("")
        if s.ui_enabled(args) and network is not None:
            ui_url = self._ui(name, args, settings, hostname, tls_material, network, container)

        endpoint = pulumi.Output.concat(hostname, f":{port}")
        self.endpoint = endpoint
        self.ui_url = ui_url
        self.ca_cert_pem = tls_material.ca_cert_pem if tls_material is not None else pulumi.Output.from_input("")
        self._credential_outputs(endpoint, names, passwords)
        # With replicas: the first one (registryctl gc runs the registry binary in it).
        self.container_name = replicas[0].name
        self.replica_container_names = pulumi.Output.all(*(replica.name for replica in replicas)).apply(list)
        self.volume_name = volume.name if volume is not None else pulumi.Output.from_input("")
        self.bucket = bucket
        self._mirror_outputs(args, hostname)
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "uiUrl": self.ui_url,
                "caCertPem": self.ca_cert_pem,
                "userPasswords": self.user_passwords,
                "dockerConfigJson": self.docker_config_json,
                "loginCommand": self.login_command,
                "containerName": self.container_name,
                "replicaContainerNames": self.replica_container_names,
                "volumeName": self.volume_name,
                "bucket": self.bucket,
                "mirrorUrl": self.mirror_url,
                "daemonJson": self.daemon_json,
                "mirrorCaPath": self.mirror_ca_path,
                "containerdHostsToml": self.containerd_hosts_toml,
                "mirrorClientCertPem": self.mirror_client_cert_pem,
                "mirrorClientKeyPem": self.mirror_client_key_pem,
            }
        )

    def _credential_outputs(
        self, endpoint: pulumi.Output[str], names: list[str], passwords: list[pulumi.Output[str]]
    ) -> None:
        """userPasswords, dockerConfigJson, loginCommand; with token auth (no users) {}, "" and a login without
        a user: clients log in with their token server account."""
        self.user_passwords = pulumi.Output.secret(
            pulumi.Output.all(*passwords).apply(lambda pws: dict(zip(names, pws, strict=True)))
        )
        if not names:
            self.docker_config_json = pulumi.Output.secret("")
            self.login_command = pulumi.Output.concat("docker login ", endpoint)
            return
        first_user = names[0]
        self.docker_config_json = pulumi.Output.secret(
            pulumi.Output.all(endpoint, passwords[0]).apply(lambda v: docker_config_json(v[0], first_user, v[1]))
        )
        self.login_command = pulumi.Output.concat(
            "docker login ", endpoint, f" --username {first_user} --password-stdin"
        )

    def _mirror_outputs(self, args: SelfHostedRegistryArgs, hostname: pulumi.Output[str]) -> None:
        """What Docker and containerd hosts need to pull through the mirror; "" for a registry."""
        client = self._client_certificate
        self.mirror_client_cert_pem = client.cert_pem if client is not None else pulumi.Output.from_input("")
        self.mirror_client_key_pem = pulumi.Output.secret(client.key_pem if client is not None else "")
        if not s.is_mirror(args):
            self.mirror_url = self.daemon_json = self.mirror_ca_path = self.containerd_hosts_toml = (
                pulumi.Output.from_input("")
            )
            return
        tls = s.tls_mode(args) != "none"
        endpoint = pulumi.Output.concat(hostname, f":{s.port(args)}")
        upstream = pulumi.Output.from_input(s.mirror_args(args).get("upstream", s.DOCKER_HUB_UPSTREAM))
        self.mirror_url = endpoint.apply(lambda e: f"{'https' if tls else 'http'}://{e}")
        # dockerd cannot log in to a mirror (moby/moby#30880): with users it would skip the mirror for Hub (and may
        # send its Hub credentials there, moby/moby#42022), so daemon.json keys only with client certificates.
        self.daemon_json = (
            pulumi.Output.all(self.mirror_url, endpoint).apply(lambda v: mirror_daemon_json(v[0], v[1], tls))
            if client is not None
            else pulumi.Output.from_input("")
        )
        self.mirror_ca_path = endpoint.apply(lambda e: docker_certs_d_ca_path(e) if tls else "")
        self.containerd_hosts_toml = pulumi.Output.all(upstream, self.mirror_url, endpoint).apply(
            lambda v: mirror_containerd_hosts_toml(v[0], v[1], v[2], tls, client_certificate=client is not None)
        )

    def _storage(self, name: str, args: SelfHostedRegistryArgs) -> tuple[docker.Volume | None, S3Storage | None]:
        """The retained data volume, or the S3 bucket (declared or existing)."""
        protect = args.get("protect", False)
        s3_args = s.s3_args(args)
        if s3_args is not None:
            return None, declare_s3_storage(name, s3_args, protect=protect, parent=self)
        # The data outlives the container, and a `destroy`: retained, and protected when asked.
        # A derived name is fixed once created, so renaming the registry keeps its data (review M8);
        # an explicit volume_name is followed.
        explicit = args.get("volume_name")
        volume = docker.Volume(
            f"{name}-data",
            name=explicit if explicit is not None else f"{s.container_name(args)}-data",
            labels=[docker.VolumeLabelArgs(label=MANAGED_BY, value="pulumi")],
            opts=pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=True,
                protect=protect,
                ignore_changes=["name"] if explicit is None else None,
            ),
        )
        return volume, None

    def _registry_container(
        self,
        name: str,
        args: SelfHostedRegistryArgs,
        image_id: pulumi.Output[str],
        settings: pulumi.Output[RegistrySettings],
        htpasswd: pulumi.Output[str] | None,
        http_secret: random.RandomPassword,
        tls_material: TlsMaterial | None,
        s3: S3Storage | None,
        volume: docker.Volume | None,
        network: docker.Network | None,
        index: int = 0,
        previous: docker.Container | None = None,
    ) -> docker.Container:
        """Registry container `index` (0-based): published itself when it is the only one. Replicas are reached
        through the load balancer only, under generated names, one replaced after the other: the first one
        delete-before-replace (the same resource is the single container of `replicas: 1`, which holds the
        published port the load balancer of a scale-out takes), the others create-before-delete. Each successor
        runs and is healthy before the next replica is replaced, old replicas 2..N stop only once every successor
        runs, and a stopping replica drains (http.draintimeout)."""
        alone = s.replicas(args) == 1
        major = s.major_version(args)
        # Always a secret: config.yml may hold webhook headers and URLs, and the Redis password. The engine keeps
        # secretness per upload, so a secret htpasswd beside it would not cover it (review H1).
        uploads = [
            docker.ContainerUploadArgs(
                file=config_path(major),
                content=pulumi.Output.secret(settings.apply(render_registry_config)),
                permissions=PRIVATE_FILE_MODE,
            ),
        ]
        if self._client_certificate is not None:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=CLIENT_CA_PATH, content=self._client_certificate.ca_cert_pem, permissions=PUBLIC_FILE_MODE
                )
            )
        token_auth = s.token_auth_args(args)
        if token_auth is not None:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=TOKEN_ROOT_CERT_BUNDLE_PATH,
                    content=token_auth["root_cert_bundle"],
                    permissions=PUBLIC_FILE_MODE,
                )
            )
        if htpasswd is not None:
            uploads.append(
                docker.ContainerUploadArgs(file=HTPASSWD_PATH, content=htpasswd, permissions=PRIVATE_FILE_MODE)
            )
        if tls_material is not None:
            uploads.append(
                docker.ContainerUploadArgs(file=CERT_PATH, content=tls_material.cert_pem, permissions=PUBLIC_FILE_MODE)
            )
            uploads.append(
                docker.ContainerUploadArgs(file=KEY_PATH, content=tls_material.key_pem, permissions=PRIVATE_FILE_MODE)
            )
        envs: list[pulumi.Input[str]] = [pulumi.Output.concat("REGISTRY_HTTP_SECRET=", http_secret.result)]
        if major == 3:
            envs.append("OTEL_TRACES_EXPORTER=none")
        mirror = s.mirror_args(args) if s.is_mirror(args) else None
        if mirror is not None and "username" in mirror and "password" in mirror:
            # Upstream credentials by env only: config.yml is readable by whoever reads the container's files.
            envs.append(pulumi.Output.concat("REGISTRY_PROXY_USERNAME=", mirror["username"]))
            envs.append(pulumi.Output.concat("REGISTRY_PROXY_PASSWORD=", pulumi.Output.secret(mirror["password"])))
        if mirror is not None and "ca_certificate" in mirror:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=UPSTREAM_CA_PATH, content=mirror["ca_certificate"], permissions=PUBLIC_FILE_MODE
                )
            )
        if s3 is not None and s3.access_key_id is not None and s3.secret_access_key is not None:
            # Only credentials go by env: REGISTRY_STORAGE=s3 would replace the whole storage map.
            envs.append(pulumi.Output.concat("REGISTRY_STORAGE_S3_ACCESSKEY=", s3.access_key_id))
            envs.append(pulumi.Output.concat("REGISTRY_STORAGE_S3_SECRETKEY=", s3.secret_access_key))
        debug_port = debug_listen_port(s.network_mode(args), s.debug_host_port(args))
        # One container: a fixed name, removed before its successor starts (it holds the published port).
        # Replicas: no name given, so Pulumi names each one and gives a replacement a new name. The first replica
        # is the resource of the single container: deleting it first frees the port when 1 scales out to N (its
        # peers serve while it is rebuilt in a rolling replace). The others are created before their old one is
        # deleted; delete_before_replace=False is explicit, since pulumi-docker asks to delete containers first.
        grace = None if alone else STOP_GRACE_SECONDS
        delete_first = alone or index == 0
        return docker.Container(
            f"{name}-registry" if index == 0 else f"{name}-registry-{index + 1}",
            name=s.container_name(args) if alone else None,
            image=image_id,
            restart="unless-stopped",
            must_run=True,
            wait=True,
            wait_timeout=90,
            envs=envs,
            uploads=uploads,
            volumes=(
                None
                if volume is None
                else [docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)]
            ),
            network_mode="host" if network is None else None,
            networks_advanced=(
                None
                if network is None
                else [
                    docker.ContainerNetworksAdvancedArgs(
                        name=network.name, aliases=[REGISTRY_ALIAS if alone else REPLICA_ALIAS]
                    )
                ]
            ),
            ports=(
                None
                if network is None or not alone  # replicas are reached through the load balancer only
                else [
                    docker.ContainerPortArgs(
                        internal=5000,
                        external=s.port(args),
                        ip=args.get("bind_address", s.DEFAULT_BIND_ADDRESS),
                    ),
                    # Metrics, health, pprof and expvar: on the host's loopback, only when debug_port is given (never
                    # with secrets in config.yml: /debug/vars shows them, review M1).
                    *(
                        [
                            docker.ContainerPortArgs(
                                internal=debug_port, external=s.debug_host_port(args), ip="127.0.0.1"
                            )
                        ]
                        if s.debug_published(args)
                        else []
                    ),
                ]
            ),
            # The uploaded config.yml, named: never the image's default command (nor its built-in config).
            command=serve_command(major),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=pulumi.Output.from_input(args.get("bind_address", s.DEFAULT_BIND_ADDRESS)).apply(
                    lambda bind_address: health_check_command(
                        s.tls_mode(args) != "none", s.network_mode(args), bind_address, s.port(args), debug_port
                    )
                ),
                interval="5s",
                timeout="3s",
                retries=3,
                start_period="2s",
            ),
            labels=[docker.ContainerLabelArgs(label=MANAGED_BY, value="pulumi")],
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=delete_first,
                depends_on=[previous] if previous is not None else None,
            ),
            # Replicas drain on SIGTERM (http.draintimeout) before Docker kills them.
            stop_timeout=grace,
            destroy_grace_seconds=grace,
        )

    def _redis(
        self,
        name: str,
        args: SelfHostedRegistryArgs,
        settings: pulumi.Output[RegistrySettings],
        network: docker.Network,
    ) -> pulumi.Output[RegistrySettings]:
        """The Redis cache on the registry's network only (not published); returns `settings` pointing at it."""
        password = random.RandomPassword(
            f"{name}-redis-password", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self._sidecar(
            name,
            args,
            "redis",
            args.get("redis_image", DEFAULT_REDIS_IMAGE),
            # The password is in a file, never on the command line (docker inspect shows the command).
            command=["redis-server", REDIS_CONFIG_PATH],
            # Readable by the image's redis user, which the official entrypoint switches to.
            uploads=[
                docker.ContainerUploadArgs(
                    file=REDIS_CONFIG_PATH,
                    content=pulumi.Output.secret(password.result).apply(redis_config),
                    permissions=PUBLIC_FILE_MODE,
                )
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[REDIS_ALIAS])],
        )
        return pulumi.Output.all(settings, pulumi.Output.secret(password.result)).apply(
            lambda values: dataclasses.replace(values[0], redis=RedisSettings(addr=redis_addr(), password=values[1]))
        )

    def _load_balancer(
        self, name: str, args: SelfHostedRegistryArgs, network: docker.Network, replicas: list[docker.Container]
    ) -> docker.Container:
        """HAProxy published on bind_address:port, passing TLS through to the healthy replicas."""
        return self._sidecar(
            name,
            args,
            "lb",
            args.get("load_balancer_image", DEFAULT_LOAD_BALANCER_IMAGE),
            depends_on=list(replicas),
            command=["haproxy", "-f", HAPROXY_CONFIG_PATH],
            uploads=[
                docker.ContainerUploadArgs(
                    file=HAPROXY_CONFIG_PATH,
                    content=haproxy_config(s.tls_mode(args) != "none"),
                    permissions=PUBLIC_FILE_MODE,
                )
            ],
            # `up` returns once a replica is up behind it (its readiness endpoint answers 200).
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=load_balancer_healthcheck(), interval="2s", timeout="2s", retries=3, start_period="1s"
            ),
            wait=True,
            wait_timeout=120,
            # The UI reaches the registry by REGISTRY_ALIAS: through the load balancer.
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[REGISTRY_ALIAS])],
            ports=[
                docker.ContainerPortArgs(
                    internal=REGISTRY_PORT, external=s.port(args), ip=args.get("bind_address", s.DEFAULT_BIND_ADDRESS)
                )
            ],
        )

    def _sidecar(
        self,
        name: str,
        args: SelfHostedRegistryArgs,
        role: str,
        image: str,
        depends_on: list[pulumi.Resource] | None = None,
        **container: Any,
    ) -> docker.Container:
        """A pinned image and its container <container_name>-<role> beside the registry (UI, Redis, load
        balancer): restarted unless stopped, removed before it is replaced (Docker names are unique)."""
        pulled = docker.RemoteImage(
            f"{name}-{role}-image", name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=self)
        )
        return docker.Container(
            f"{name}-{role}",
            name=f"{s.container_name(args)}-{role}",
            image=pulled.image_id,
            restart="unless-stopped",
            must_run=True,
            labels=[docker.ContainerLabelArgs(label=MANAGED_BY, value="pulumi")],
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, delete_before_replace=True),
            **container,
        )

    def _ui(
        self,
        name: str,
        args: SelfHostedRegistryArgs,
        settings: pulumi.Output[RegistrySettings],
        hostname: pulumi.Output[str],
        tls_material: TlsMaterial | None,
        network: docker.Network,
        registry: docker.Container,
    ) -> pulumi.Output[str]:
        """The UI container, same-origin with the registry over its network; returns the UI's URL."""
        ui = s.ui_args(args)
        serves_tls = s.ui_serves_tls(args)
        ui_port = ui.get("port", s.DEFAULT_UI_PORT)
        bind_address = ui.get("bind_address", s.DEFAULT_BIND_ADDRESS)
        self._sidecar(
            name,
            args,
            "ui",
            ui.get("image", s.DEFAULT_UI_IMAGE),
            depends_on=[registry],
            envs=settings.apply(ui_environment),
            uploads=self._ui_uploads(s.tls_mode(args), serves_tls, settings, tls_material),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            ports=[docker.ContainerPortArgs(internal=ui_container_port(serves_tls), external=ui_port, ip=bind_address)],
        )
        return pulumi.Output.all(bind_address, hostname).apply(
            lambda values: s.ui_url(values[0], values[1], serves_tls, ui_port)
        )

    @staticmethod
    def _ui_uploads(
        tls_mode: str,
        serves_tls: bool,
        settings: pulumi.Output[RegistrySettings],
        tls_material: TlsMaterial | None,
    ) -> list[docker.ContainerUploadArgs]:
        """The registry's CA for the UI->registry hop and, with ui.tls, the registry's certificate and key."""
        uploads = [
            docker.ContainerUploadArgs(
                file=path,
                content=settings.apply(lambda resolved, i=index: ui_nginx_files(resolved)[i].content),
                permissions=PUBLIC_FILE_MODE,
            )
            for index, path in enumerate(ui_nginx_paths(tls_mode, serves_tls))
        ]
        if tls_material is None:
            return uploads
        # Provided certificates come with tls.ca_certificate (the stack config requires it with the UI).
        uploads.append(
            docker.ContainerUploadArgs(file=UI_CA_PATH, content=tls_material.ca_cert_pem, permissions=PUBLIC_FILE_MODE)
        )
        if serves_tls:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=UI_CERT_PATH, content=tls_material.cert_pem, permissions=PUBLIC_FILE_MODE
                )
            )
            uploads.append(
                docker.ContainerUploadArgs(
                    file=UI_KEY_PATH, content=tls_material.key_pem, permissions=PRIVATE_FILE_MODE
                )
            )
        return uploads
