"""SelfHostedRegistry: distribution on a Docker host, with TLS, htpasswd users, a data volume and the UI."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.selfhosted.config_file import (
    CERT_PATH,
    DATA_DIR,
    HTPASSWD_PATH,
    KEY_PATH,
    PRIVATE_FILE_MODE,
    PUBLIC_FILE_MODE,
    REGISTRY_ALIAS,
    health_url,
    registry_layout,
    render_registry_config,
)
from components.selfhosted.credentials import docker_config_json
from components.selfhosted.s3_storage import S3Storage, declare_s3_storage
from components.selfhosted.tls import TlsMaterial, declare_tls
from components.selfhosted.ui import (
    UI_CA_PATH,
    UI_CERT_PATH,
    UI_KEY_PATH,
    ui_container_port,
    ui_environment,
    ui_nginx_files,
)
from components.selfhosted.users import declare_users
from registries.spec.selfhosted import S3StorageSpec, SelfHostedSpec

__all__ = ["REGISTRY_ALIAS", "SelfHostedRegistry", "SelfHostedRegistryArgs"]


@dataclass(frozen=True)
class SelfHostedRegistryArgs:
    spec: SelfHostedSpec
    """The validated `registries:selfHosted` config."""
    protect_data: bool
    """Protect the data volume from deletion (prod stacks)."""


class SelfHostedRegistry(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    """host:port that clients push to and pull from."""
    ui_url: pulumi.Output[str]
    """URL of the web UI, or "" when it is off."""
    ca_cert_pem: pulumi.Output[str]
    """CA certificate clients must trust (copy to /etc/docker/certs.d/<endpoint>/ca.crt)."""
    user_passwords: pulumi.Output[dict[str, str]]
    """user -> password (secret)."""
    docker_config_json: pulumi.Output[str]
    """~/.docker/config.json logging in as the first user (secret)."""
    login_command: pulumi.Output[str]
    """`docker login` command line, without the password."""
    container_name: pulumi.Output[str]
    volume_name: pulumi.Output[str]
    """Docker volume holding the images ("" with S3 storage)."""
    bucket: pulumi.Output[str]
    """S3 bucket holding the images ("" with filesystem storage)."""

    def __init__(self, name: str, args: SelfHostedRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("registries:selfhosted:SelfHostedRegistry", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        # Docker names are unique: a replacement must remove the old object before creating the new one.
        replace_first = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        labels = [docker.ContainerLabelArgs(label="registries.managed-by", value="pulumi")]

        network = None
        if spec.network_mode == "bridge":
            network = docker.Network(
                f"{name}-network",
                name=f"{spec.name}-net",
                labels=[docker.NetworkLabelArgs(label="registries.managed-by", value="pulumi")],
                opts=replace_first,
            )
        volume: docker.Volume | None = None
        s3: S3Storage | None = None
        if isinstance(spec.storage, S3StorageSpec):
            bucket_name = spec.storage.bucket
            if bucket_name is None:  # the schema requires it: S3 names are global, so none is derived
                raise ValueError("storage.bucket: required for S3 storage (a globally unique bucket name)")
            s3 = declare_s3_storage(name, spec.storage, bucket_name, protect=args.protect_data, parent=self)
        else:
            # The data outlives the container, and a `destroy`: retained, and protected in prod.
            # A derived name is fixed once created, so renaming the registry keeps its data (review M8);
            # an explicit volumeName is followed.
            volume = docker.Volume(
                f"{name}-data",
                name=spec.data_volume_name,
                labels=[docker.VolumeLabelArgs(label="registries.managed-by", value="pulumi")],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    retain_on_delete=True,
                    protect=args.protect_data,
                    ignore_changes=["name"] if spec.volume_name is None else None,
                ),
            )
        image = docker.RemoteImage(f"{name}-image", name=spec.image, keep_locally=True, opts=child)

        names = [user.name for user in spec.users]
        given = [
            (user.name, user.password.get_secret_value() if user.password is not None else None) for user in spec.users
        ]
        passwords, htpasswd = declare_users(name, given, spec.password_length, self)

        http_secret = random.RandomPassword(f"{name}-http-secret", length=64, special=False, opts=child)
        tls_material = declare_tls(name, spec, self)

        auth_names = [hook.name for hook in spec.notifications if hook.authorization is not None]
        auth_values = [
            pulumi.Output.secret(hook.authorization.get_secret_value())
            for hook in spec.notifications
            if hook.authorization is not None
        ]
        bucket = s3.bucket if s3 is not None else pulumi.Output.from_input("")
        config_yml = pulumi.Output.all(bucket, *auth_values).apply(
            lambda values: render_registry_config(
                spec, dict(zip(auth_names, values[1:], strict=True)), bucket=values[0] or None
            )
        )

        layout = registry_layout(spec)
        uploads = [
            docker.ContainerUploadArgs(file=layout.config_path, content=config_yml, permissions=PRIVATE_FILE_MODE),
            docker.ContainerUploadArgs(file=HTPASSWD_PATH, content=htpasswd, permissions=PRIVATE_FILE_MODE),
        ]
        if tls_material is not None:
            uploads.append(
                docker.ContainerUploadArgs(file=CERT_PATH, content=tls_material.cert_pem, permissions=PUBLIC_FILE_MODE)
            )
            uploads.append(
                docker.ContainerUploadArgs(file=KEY_PATH, content=tls_material.key_pem, permissions=PRIVATE_FILE_MODE)
            )
        envs: list[pulumi.Input[str]] = [pulumi.Output.concat("REGISTRY_HTTP_SECRET=", http_secret.result)]
        if spec.registry_major == 3:
            envs.append("OTEL_TRACES_EXPORTER=none")
        if s3 is not None and s3.access_key_id is not None and s3.secret_access_key is not None:
            # Only credentials go by env: REGISTRY_STORAGE=s3 would replace the whole storage map.
            envs.append(pulumi.Output.concat("REGISTRY_STORAGE_S3_ACCESSKEY=", s3.access_key_id))
            envs.append(pulumi.Output.concat("REGISTRY_STORAGE_S3_SECRETKEY=", s3.secret_access_key))

        container = docker.Container(
            f"{name}-registry",
            name=spec.name,
            image=image.image_id,
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
                else [docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[REGISTRY_ALIAS])]
            ),
            ports=(
                None
                if network is None
                else [
                    docker.ContainerPortArgs(internal=5000, external=spec.port, ip=spec.bind_address),
                    # Metrics, health and pprof: on the host's loopback only.
                    docker.ContainerPortArgs(
                        internal=spec.debug_listen_port, external=spec.debug_host_port, ip="127.0.0.1"
                    ),
                ]
            ),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "wget", "-q", "-O", "/dev/null", health_url(spec)],
                interval="5s",
                timeout="3s",
                retries=3,
                start_period="2s",
            ),
            labels=labels,
            opts=replace_first,
        )

        ui_url = ""
        if spec.ui.enabled and network is not None:
            ui_image = docker.RemoteImage(f"{name}-ui-image", name=spec.ui.image, keep_locally=True, opts=child)
            docker.Container(
                f"{name}-ui",
                name=f"{spec.name}-ui",
                image=ui_image.image_id,
                restart="unless-stopped",
                must_run=True,
                envs=ui_environment(spec),
                uploads=self._ui_uploads(spec, tls_material),
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
                ports=[
                    docker.ContainerPortArgs(
                        internal=ui_container_port(spec), external=spec.ui.port, ip=spec.ui.bind_address
                    )
                ],
                labels=labels,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[container], delete_before_replace=True),
            )
            wildcard = spec.ui.bind_address in ("0.0.0.0", "::")  # noqa: S104 - a comparison, not a bind
            host = spec.hostname if wildcard else spec.ui.bind_address
            ui_url = f"{'https' if spec.ui_serves_tls else 'http'}://{host}:{spec.ui.port}"

        first_user = names[0]
        self.endpoint = pulumi.Output.from_input(spec.endpoint)
        self.ui_url = pulumi.Output.from_input(ui_url)
        self.ca_cert_pem = tls_material.ca_cert_pem if tls_material is not None else pulumi.Output.from_input("")
        self.user_passwords = pulumi.Output.secret(
            pulumi.Output.all(*passwords).apply(lambda pws: dict(zip(names, pws, strict=True)))
        )
        self.docker_config_json = pulumi.Output.secret(
            passwords[0].apply(lambda pw: docker_config_json(spec.endpoint, first_user, pw))
        )
        self.login_command = pulumi.Output.from_input(
            f"docker login {spec.endpoint} --username {first_user} --password-stdin"
        )
        self.container_name = container.name
        self.volume_name = volume.name if volume is not None else pulumi.Output.from_input("")
        self.bucket = bucket
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "uiUrl": self.ui_url,
                "caCertPem": self.ca_cert_pem,
                "users": self.user_passwords,
                "dockerConfigJson": self.docker_config_json,
                "loginCommand": self.login_command,
            }
        )

    @staticmethod
    def _ui_uploads(spec: SelfHostedSpec, tls_material: TlsMaterial | None) -> list[docker.ContainerUploadArgs]:
        """The registry's CA for the UI->registry hop and, with ui.tls, the registry's certificate and key."""
        uploads = [
            docker.ContainerUploadArgs(file=f.path, content=f.content, permissions=PUBLIC_FILE_MODE)
            for f in ui_nginx_files(spec)
        ]
        if tls_material is None:
            return uploads
        # Provided certificates come with tls.caCertificate (the schema requires it with the UI).
        ca_pem = tls_material.ca_cert_pem
        uploads.append(docker.ContainerUploadArgs(file=UI_CA_PATH, content=ca_pem, permissions=PUBLIC_FILE_MODE))
        if spec.ui_serves_tls:
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
