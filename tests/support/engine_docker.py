"""docker:* resources, applied to a real Docker Engine the way pulumi-docker does."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import secrets
import tarfile
import time
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container, _create_container_args  # pyright: ignore[reportAttributeAccessIssue]
from docker.types import Healthcheck

from tests.support.local_engine import Applied, Backend, Read

E2E_LABEL = "registries.e2e"


def _ns(duration: str | None) -> int:
    """A Go duration ("5s", "1m30s", "250ms") in nanoseconds."""
    if not duration:
        return 0
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    total = 0
    for number, unit in re.findall(r"([0-9.]+)(ns|us|ms|s|m|h)", duration):
        total += int(float(number) * units[unit])
    return total


def _labels(inputs: dict[str, Any], session: str) -> dict[str, str]:
    labels = {item["label"]: item["value"] for item in inputs.get("labels") or []}
    labels[E2E_LABEL] = session
    return labels


def _upload_tar(uploads: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made: set[str] = set()
        for upload in uploads:
            path = upload["file"].lstrip("/")
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                directory = "/".join(parts[:i])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    made.add(directory)
            if "content" in upload:
                data = upload["content"].encode()
            elif "contentBase64" in upload:
                data = base64.b64decode(upload["contentBase64"])
            else:
                with open(upload["source"], "rb") as handle:
                    data = handle.read()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            mode = upload.get("permissions")
            info.mode = int(mode, 8) if mode else (0o755 if upload.get("executable") else 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# -- refresh: what pulumi-docker's read sets, mapped back to the inputs we declare -----------------------
# The provider (kreuzwerker v3) reads a container's image, restart, ports, healthcheck, name, command,
# entrypoint, user and network mode, but neither its env nor its labels ("taken over from the image");
# a volume's and a network's labels, driver and options, and a network's internal/attachable/ipv6 flags.
# Only the inputs the program set are mapped back (a faithful subset: see tests/support/README.md).
CONTAINER_READ_BACK = (
    "name",
    "image",
    "restart",
    "ports",
    "healthcheck",
    "command",
    "entrypoints",
    "user",
    "networkMode",
)
VOLUME_READ_BACK = ("name", "driver", "driverOpts", "labels")
NETWORK_READ_BACK = ("name", "driver", "options", "labels", "internal", "attachable", "ipv6")


def go_duration(nanoseconds: int) -> str:
    """A duration as Go's time.Duration.String() prints it ("5s", "1m30s", "250ms", "0s"), as the provider reads it."""
    if nanoseconds == 0:
        return "0s"
    if nanoseconds < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanoseconds >= size:
                return f"{nanoseconds / size:g}{unit}"
    hours, rest = divmod(nanoseconds, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1_000_000_000:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


def _shaped_like(read: Any, declared: Any) -> Any:
    """The value read back, cut to the keys the declared input has (a dict, or a list of dicts)."""
    if isinstance(declared, dict) and isinstance(read, dict):
        return {k: _shaped_like(read[k], declared[k]) for k in declared if k in read}
    if isinstance(declared, list) and isinstance(read, list):
        keys = {k for item in declared if isinstance(item, dict) for k in item}
        return [{k: v for k, v in item.items() if k in keys} if isinstance(item, dict) else item for item in read]
    return read


def _in_declared_order(read: list[Any], declared: list[Any]) -> list[Any]:
    """A set-like list (labels, ports) in the order the program declared it; what it does not declare, after."""
    remaining = list(read)
    ordered = []
    for item in declared:
        if item in remaining:
            remaining.remove(item)
            ordered.append(item)
    return ordered + sorted(remaining, key=repr)


def _label_set(labels: dict[str, str] | None, session: str) -> list[dict[str, str]]:
    # The harness's own session label is not the program's: leave it out of what refresh reports.
    return [{"label": k, "value": v} for k, v in (labels or {}).items() if not (k == E2E_LABEL and v == session)]


def _observed(read: dict[str, Any], inputs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    observed: dict[str, Any] = {}
    for key in keys:
        if key not in inputs or key not in read:
            continue
        value = _shaped_like(read[key], inputs[key])
        if isinstance(value, list) and key in ("labels", "ports"):
            value = _in_declared_order(value, inputs[key])
        observed[key] = value
    return observed


def _container_ports(ports: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for spec, bindings in (ports or {}).items():
        internal, _, protocol = spec.partition("/")
        ips = {b.get("HostIp") for b in bindings or []}
        for binding in bindings or []:
            if binding.get("HostIp") == "::" and "0.0.0.0" in ips:  # Docker's dual-stack twin of 0.0.0.0
                continue
            out.append(
                {
                    "internal": int(internal),
                    "external": int(binding["HostPort"]),
                    "ip": binding.get("HostIp") or "0.0.0.0",
                    "protocol": protocol or "tcp",
                }
            )
    return out


def container_read_back(attrs: dict[str, Any], inputs: dict[str, Any], session: str = "") -> dict[str, Any]:
    """A container's inspect document as the inputs the program set (pulumi-docker's read, that subset)."""
    config, host = attrs.get("Config") or {}, attrs.get("HostConfig") or {}
    read: dict[str, Any] = {
        "name": attrs.get("Name", "").lstrip("/"),
        "image": attrs.get("Image"),
        "restart": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "ports": _container_ports((attrs.get("NetworkSettings") or {}).get("Ports")),
        "command": config.get("Cmd"),
        "entrypoints": config.get("Entrypoint"),
        "user": config.get("User"),
        "networkMode": host.get("NetworkMode"),
    }
    check = config.get("Healthcheck")
    if check:
        read["healthcheck"] = {
            "tests": check.get("Test"),
            "interval": go_duration(check.get("Interval", 0)),
            "timeout": go_duration(check.get("Timeout", 0)),
            "startPeriod": go_duration(check.get("StartPeriod", 0)),
            "retries": check.get("Retries", 0),
        }
    return _observed(read, inputs, CONTAINER_READ_BACK)


def volume_read_back(attrs: dict[str, Any], inputs: dict[str, Any], session: str = "") -> dict[str, Any]:
    read = {
        "name": attrs.get("Name"),
        "driver": attrs.get("Driver"),
        "driverOpts": attrs.get("Options") or {},
        "labels": _label_set(attrs.get("Labels"), session),
    }
    return _observed(read, inputs, VOLUME_READ_BACK)


def network_read_back(attrs: dict[str, Any], inputs: dict[str, Any], session: str = "") -> dict[str, Any]:
    read = {
        "name": attrs.get("Name"),
        "driver": attrs.get("Driver"),
        "options": attrs.get("Options") or {},
        "labels": _label_set(attrs.get("Labels"), session),
        "internal": bool(attrs.get("Internal")),
        "attachable": bool(attrs.get("Attachable")),
        "ipv6": bool(attrs.get("EnableIPv6")),
    }
    return _observed(read, inputs, NETWORK_READ_BACK)


def _network_datas(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return [{"networkName": n, "ipAddress": d.get("IPAddress", "")} for n, d in networks.items()]


def remove_labelled(client: docker.DockerClient, label: str) -> list[str]:
    """Remove every container (with its anonymous volumes), then network, then volume matching `label` (a Docker
    label filter: `key` or `key=value`); returns what was removed, e.g. 'network local-registry-net'."""
    selector: dict[str, str | list[str] | bool] = {"label": label}
    removed: list[str] = []
    for container in client.containers.list(all=True, filters=selector):
        removed.append(f"container {container.name}")
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        removed.append(f"network {network.name}")
        network.remove()
    for volume in client.volumes.list(filters=selector):
        removed.append(f"volume {volume.name}")
        volume.remove(force=True)
    return removed


class DockerApplier:
    """Creates, checks and deletes Docker objects; every object it makes carries the session label."""

    def __init__(self, client: docker.DockerClient, session: str) -> None:
        self.client = client
        self.session = session

    # -- create ---------------------------------------------------------------------------------
    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if typ == "docker:index/network:Network":
            network = self.client.networks.create(
                inputs.get("name", name),
                driver=inputs.get("driver", "bridge"),
                internal=bool(inputs.get("internal", False)),
                labels=_labels(inputs, self.session),
                check_duplicate=True,
            )
            return network.id or "", {**inputs, "name": network.name, "driver": inputs.get("driver", "bridge")}
        if typ == "docker:index/volume:Volume":
            volume = self.client.volumes.create(
                name=inputs.get("name", name),
                driver=inputs.get("driver", "local"),
                driver_opts=inputs.get("driverOpts"),
                labels=_labels(inputs, self.session),
            )
            return volume.name or "", {**inputs, "name": volume.name, "mountpoint": volume.attrs.get("Mountpoint")}
        if typ == "docker:index/remoteImage:RemoteImage":
            image_name = inputs["name"]
            try:
                image = self.client.images.get(image_name)
            except docker.errors.ImageNotFound:
                raise RuntimeError(
                    f"Unable to pull image {image_name}: not present locally and no registry is reachable from here"
                ) from None
            digest = (image.attrs.get("RepoDigests") or [""])[0]
            return f"{image.id}{image_name}", {**inputs, "imageId": image.id, "repoDigest": digest}
        if typ == "docker:index/container:Container":
            return self._create_container(name, inputs)
        raise NotImplementedError(f"local engine: no docker handler for {typ}")

    def _create_container(self, logical: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        networks = inputs.get("networksAdvanced") or []
        network_mode = inputs.get("networkMode")
        kwargs: dict[str, Any] = {
            "image": inputs["image"],
            # No name given: pulumi-docker auto-names the container as Pulumi does (<logical>-<7 hex>), and a
            # replacement gets a new name (so it can be created before the old one is deleted).
            "name": inputs.get("name") or f"{logical}-{secrets.token_hex(4)[:7]}",
            "environment": list(inputs.get("envs") or []),
            "labels": _labels(inputs, self.session),
            "detach": True,
        }
        if inputs.get("command"):
            kwargs["command"] = list(inputs["command"])
        if inputs.get("entrypoints"):
            kwargs["entrypoint"] = list(inputs["entrypoints"])
        if inputs.get("stopSignal"):
            kwargs["stop_signal"] = inputs["stopSignal"]
        if inputs.get("restart") and inputs["restart"] != "no":
            kwargs["restart_policy"] = {"Name": inputs["restart"]}
        if inputs.get("user"):
            kwargs["user"] = inputs["user"]
        ports: dict[str, Any] = {}
        for port in inputs.get("ports") or []:
            key = f"{int(port['internal'])}/{port.get('protocol', 'tcp')}"
            external = int(port["external"]) if port.get("external") else None
            ports[key] = (port.get("ip", "0.0.0.0"), external)
        if ports:
            kwargs["ports"] = ports
        volumes: dict[str, dict[str, str]] = {}
        for volume in inputs.get("volumes") or []:
            source = volume.get("volumeName") or volume.get("hostPath")
            volumes[source] = {"bind": volume["containerPath"], "mode": "ro" if volume.get("readOnly") else "rw"}
        if volumes:
            kwargs["volumes"] = volumes
        check = inputs.get("healthcheck")
        if check:
            kwargs["healthcheck"] = Healthcheck(
                test=list(check["tests"]),
                interval=_ns(check.get("interval", "30s")),
                timeout=_ns(check.get("timeout", "30s")),
                retries=int(check.get("retries", 3)),
                start_period=_ns(check.get("startPeriod", "0s")),
            )
        if network_mode == "host":
            kwargs["network_mode"] = "host"
        elif networks:
            first = networks[0]
            kwargs["network"] = first["name"]
            kwargs["networking_config"] = {
                first["name"]: self.client.api.create_endpoint_config(aliases=first.get("aliases"))
            }
        container = self._create(kwargs, inputs.get("stopTimeout"))
        try:
            for extra in networks[1:]:
                self.client.networks.get(extra["name"]).connect(container, aliases=extra.get("aliases"))
            uploads = inputs.get("uploads") or []
            if uploads:  # copied in before the first start, as pulumi-docker does
                container.put_archive("/", _upload_tar(uploads))
            if inputs.get("start", True):
                container.start()
                self._wait(container, inputs)
        except Exception:
            with contextlib.suppress(docker.errors.NotFound):  # already gone: the first error is the one to report
                container.remove(force=True, v=True)
            raise
        container.reload()
        outs = {**inputs, "name": container.name, "networkDatas": _network_datas(container.attrs)}
        return container.id or "", outs

    def _create(self, kwargs: dict[str, Any], stop_timeout: int | None) -> Container:
        """containers.create, plus the stop timeout the Docker SDK's high-level create does not take."""
        create_kwargs = _create_container_args({**kwargs, "version": self.client.api.api_version})
        if stop_timeout is not None:
            create_kwargs["stop_timeout"] = int(stop_timeout)
        created = self.client.api.create_container(**create_kwargs)
        return self.client.containers.get(created["Id"])

    def _wait(self, container: Container, inputs: dict[str, Any]) -> None:
        must_run = inputs.get("mustRun", True)
        wait = bool(inputs.get("wait", False))
        deadline = time.monotonic() + float(inputs.get("waitTimeout", 60))
        while True:
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if must_run and state["Status"] in ("exited", "dead"):
                raise RuntimeError(f"container {container.name} exited: {container.logs(tail=40).decode()}")
            if not wait and state["Status"] == "running":
                return
            if wait and (health == "healthy" or (health is None and state["Status"] == "running")):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"container {container.name} not healthy in time ({health}): {container.logs(tail=40).decode()}"
                )
            time.sleep(0.25)

    # -- exists / delete ------------------------------------------------------------------------
    def exists(self, typ: str, ident: str) -> bool:
        try:
            if typ == "docker:index/network:Network":
                self.client.networks.get(ident)
            elif typ == "docker:index/volume:Volume":
                self.client.volumes.get(ident)
            elif typ == "docker:index/container:Container":
                self.client.containers.get(ident)
            return True
        except docker.errors.NotFound:
            return False

    def read(self, applied: Applied) -> Read | None:
        """Refresh as pulumi-docker reads (by ID): the object inspected and mapped back to the inputs we set
        (see CONTAINER_READ_BACK); a container stopped although it must run is removed and leaves state, as the
        provider's read does (its refresh wait fails with "container failed to be created" and it deletes)."""
        try:
            found = self._inspect(applied)
        except docker.errors.NotFound:
            return None
        if found is None:
            return None
        if applied.typ == "docker:index/container:Container":
            if applied.inputs.get("mustRun", True) and not found["State"].get("Running"):
                self.delete_applied(applied)
                return None
            observed = container_read_back(found, applied.inputs, self.session)
            outputs = {**applied.outputs, **observed}
            if "networkDatas" in applied.outputs:  # a computed output our create records
                outputs["networkDatas"] = _network_datas(found)
        elif applied.typ == "docker:index/remoteImage:RemoteImage":
            observed = {}
            outputs = {**applied.outputs, "imageId": found["Id"], "repoDigest": (found.get("RepoDigests") or [""])[0]}
        else:
            reader = volume_read_back if applied.typ == "docker:index/volume:Volume" else network_read_back
            observed = reader(found, applied.inputs, self.session)
            outputs = {**applied.outputs, **observed}
        return Read(applied.ident, outputs, inputs={**applied.inputs, **observed})

    def _inspect(self, applied: Applied) -> dict[str, Any] | None:
        """The object's inspect document, as the provider fetches it by ID (an image: by its name)."""
        if applied.typ == "docker:index/container:Container":
            return self.client.api.inspect_container(applied.ident)
        if applied.typ == "docker:index/volume:Volume":
            return self.client.api.inspect_volume(applied.ident)
        if applied.typ == "docker:index/network:Network":
            return self.client.api.inspect_network(applied.ident)
        if applied.typ == "docker:index/remoteImage:RemoteImage":
            return self.client.api.inspect_image(applied.inputs["name"])
        return None

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """In-place update: a container's restart policy and limits (pulumi-docker calls ContainerUpdate);
        every other updatable input lives in state only."""
        if applied.typ == "docker:index/container:Container" and news.get("restart") != applied.inputs.get("restart"):
            policy = news.get("restart") or "no"
            self.client.api.update_container(applied.ident, restart_policy={"Name": policy})
        return None

    def delete_applied(self, applied: Applied) -> None:
        """Delete as pulumi-docker does for this resource's inputs (removeVolumes defaults to true; with
        destroyGraceSeconds the container is stopped with that timeout first, SIGTERM then SIGKILL)."""
        self.delete(
            applied.typ,
            applied.ident,
            remove_volumes=applied.inputs.get("removeVolumes", True) is not False,
            grace_seconds=int(applied.inputs.get("destroyGraceSeconds") or 0),
        )

    def delete(self, typ: str, ident: str, remove_volumes: bool = True, grace_seconds: int = 0) -> None:
        try:
            if typ == "docker:index/container:Container":
                container = self.client.containers.get(ident)
                if grace_seconds > 0:
                    container.stop(timeout=grace_seconds)
                # remove_volumes defaults to true in pulumi-docker: the container's anonymous volumes go with it.
                container.remove(force=True, v=remove_volumes)
            elif typ == "docker:index/network:Network":
                self.client.networks.get(ident).remove()
            elif typ == "docker:index/volume:Volume":
                self.client.volumes.get(ident).remove(force=True)
        except docker.errors.NotFound:
            pass

    def backend(self) -> Backend:
        return Backend(
            ("docker:",),
            self.create,
            exists=lambda applied: self.exists(applied.typ, applied.ident),
            delete=self.delete_applied,
            update=self.update,
            read=self.read,
        )

    def remove_everything(self) -> None:
        """Teardown: every container, network and volume this session labelled."""
        remove_labelled(self.client, f"{E2E_LABEL}={self.session}")
