"""docker:* resources, applied to a real Docker Engine the way pulumi-docker does."""

from __future__ import annotations

import base64
import io
import re
import tarfile
import time
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
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
            "name": inputs.get("name", logical),
            "environment": list(inputs.get("envs") or []),
            "labels": _labels(inputs, self.session),
            "detach": True,
        }
        if inputs.get("command"):
            kwargs["command"] = list(inputs["command"])
        if inputs.get("entrypoints"):
            kwargs["entrypoint"] = list(inputs["entrypoints"])
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
        container: Container = self.client.containers.create(**kwargs)
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
            container.remove(force=True, v=True)
            raise
        container.reload()
        outs = {**inputs, "name": container.name, "networkDatas": self._network_datas(container)}
        return container.id or "", outs

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

    @staticmethod
    def _network_datas(container: Container) -> list[dict[str, Any]]:
        networks = container.attrs["NetworkSettings"].get("Networks") or {}
        return [{"networkName": n, "ipAddress": d.get("IPAddress", "")} for n, d in networks.items()]

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
        """Refresh: inspect the object; a container that is gone, or stopped although it must run, is gone
        (pulumi-docker's read drops such a container, so the next `up` creates it again)."""
        if not self.exists(applied.typ, applied.ident):
            return None
        outputs = dict(applied.outputs)
        if applied.typ == "docker:index/container:Container":
            container = self.client.containers.get(applied.ident)
            if applied.inputs.get("mustRun", True) and container.status != "running":
                return None
            outputs["networkDatas"] = self._network_datas(container)
        return Read(applied.ident, outputs)

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """In-place update: a container's restart policy and limits (pulumi-docker calls ContainerUpdate);
        every other updatable input lives in state only."""
        if applied.typ == "docker:index/container:Container" and news.get("restart") != applied.inputs.get("restart"):
            policy = news.get("restart") or "no"
            self.client.api.update_container(applied.ident, restart_policy={"Name": policy})
        return None

    def delete(self, typ: str, ident: str, remove_volumes: bool = True) -> None:
        try:
            if typ == "docker:index/container:Container":
                # remove_volumes defaults to true in pulumi-docker: the container's anonymous volumes go with it.
                self.client.containers.get(ident).remove(force=True, v=remove_volumes)
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
            delete=lambda applied: self.delete(
                applied.typ, applied.ident, remove_volumes=applied.inputs.get("removeVolumes", True) is not False
            ),
            update=self.update,
            read=self.read,
        )

    def remove_everything(self) -> None:
        """Teardown: every container, network and volume this session labelled."""
        selector = {"label": f"{E2E_LABEL}={self.session}"}
        for container in self.client.containers.list(all=True, filters=selector):
            container.remove(force=True, v=True)
        for network in self.client.networks.list(filters=selector):
            network.remove()
        for volume in self.client.volumes.list(filters=selector):
            volume.remove(force=True)
