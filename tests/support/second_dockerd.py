"""A second Docker daemon on this machine, for tests of what dockerd itself does (e.g. a registry mirror from
daemon.json): its own data root, exec root, pid file, unix socket and daemon.json in a temporary directory; no
iptables, no IP forwarding or masquerading; its own containerd (started by dockerd under the exec root, stopped with
it); its own default bridge (a Linux bridge this helper creates and deletes, on a /30 of 198.18.0.0/15).

Never `--bridge=none` in this network namespace: dockerd then DELETES the interface named docker0 (libnetwork
removeDefaultBridgeInterface), the machine's daemon's default bridge (seen here: every container on the default
network failed with "could not find bridge docker0" until it was recreated).

dockerd reads registry certificates from /etc/docker/certs.d, a fixed path (moby registry/config_unix.go
CertsDir; only a rootless daemon reads another). So the daemon runs in a private mount namespace
(`unshare -m`) where a temporary directory is bind-mounted over /etc/docker/certs.d: the machine's own daemon,
and its certs.d, are not touched."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

CERTS_D = "/etc/docker/certs.d"


@dataclass
class SecondDockerd:
    root: Path
    client: docker.DockerClient
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def second_dockerd(daemon_json: dict[str, Any], certs: dict[str, dict[str, str]]) -> Iterator[SecondDockerd]:
    """Start dockerd with `daemon_json` and certs.d holding `certs` ({"host:port": {file name: PEM}}; a file named
    *.key gets mode 0600); stop it and remove everything after."""
    # Short (unix socket paths are <= 107 bytes), and hex only: dockerd names its containerd namespace after the
    # directory, and containerd refuses an identifier with "_" next to a separator (mkdtemp's "e2e-dockerd-_rrc6toz").
    root = Path("/tmp") / f"e2e-dockerd-{secrets.token_hex(6)}"
    root.mkdir(mode=0o700)
    certs_d = root / "certs.d"
    for host, files in certs.items():
        (certs_d / host).mkdir(parents=True)
        for file_name, content in files.items():
            path = certs_d / host / file_name
            path.write_text(content)
            path.chmod(0o600 if file_name.endswith(".key") else 0o644)
    certs_d.mkdir(exist_ok=True)
    (root / "daemon.json").write_text(json.dumps(daemon_json))
    socket = root / "docker.sock"
    log_path = root / "dockerd.log"
    bridge = f"e2edd{secrets.token_hex(4)}"  # <= 15 characters, unique to this daemon
    command = (
        f"mount --bind {certs_d} {CERTS_D} && exec dockerd --data-root {root}/data --exec-root {root}/exec"
        f" --pidfile {root}/dockerd.pid -H unix://{socket} --config-file {root}/daemon.json"
        f" --bridge={bridge} --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false"
        f" --storage-driver vfs --containerd-namespace {root.name} --containerd-plugins-namespace {root.name}-plugins"
    )
    process: subprocess.Popen[bytes] | None = None
    bridge_made = False
    try:
        subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
        bridge_made = True
        address = f"198.18.{secrets.randbelow(256)}.{4 * secrets.randbelow(64) + 1}/30"
        subprocess.run(["ip", "addr", "add", address, "dev", bridge], check=True)
        with log_path.open("wb") as log:
            # unshare execs sh, which execs dockerd: the process is dockerd itself.
            process = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", command],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = docker.DockerClient(base_url=f"unix://{socket}", version="1.41", timeout=120)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.ping()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the second dockerd did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield SecondDockerd(root, client, log_path)
        client.close()
    finally:
        if process is not None and process.poll() is None:
            process.terminate()  # dockerd stops its containerd on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        _stop_leftovers(root)
        if bridge_made:
            subprocess.run(["ip", "link", "delete", bridge], check=False)
        shutil.rmtree(root, ignore_errors=True)


def _stop_leftovers(root: Path) -> None:
    """A containerd (or shim) of this daemon that outlived it: the processes whose command line names `root`,
    a directory unique to this daemon, each by its id."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(root) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(proc.name), signal.SIGKILL)
