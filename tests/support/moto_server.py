"""A moto server on 127.0.0.1 with IAM enforcement on, and an admin identity for the local engine."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

ADMIN_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
ROOT = Path(__file__).resolve().parents[2]
MOTO_MAIN = [sys.executable, "-m", "tests.support.moto_main"]
# The requests that may go unsigned before enforcement starts: the ones that create the admin below.
BOOTSTRAP_ACTIONS = 3


@dataclass
class MotoServer:
    endpoint: str
    admin_key: str
    admin_secret: str
    process: subprocess.Popen[bytes]

    def client(self, service: str, region: str = "us-east-1", key: str | None = None, secret: str | None = None) -> Any:
        """A boto3 client of this server, as the admin unless another key pair is given."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key or self.admin_key,
            aws_secret_access_key=secret or self.admin_secret,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto_once(
    log_dir: Path, command: Callable[[int], list[str]] | None
) -> tuple[str, subprocess.Popen[bytes]] | None:
    """(endpoint, process) of a moto that answers on its port, or None when another process answered there."""
    port = _free_port()
    # moto_server with S3's per-object authorization of multi-object deletes (tests/support/moto_main.py).
    argv = command(port) if command is not None else [*MOTO_MAIN, "-H", "127.0.0.1", "-p", str(port)]
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_ACTIONS),
        "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    }
    log_path = log_dir / f"moto-{port}.log"
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(argv, stdout=log, stderr=log, env=env, cwd=ROOT)
    endpoint = f"http://127.0.0.1:{port}"
    nonce = secrets.token_hex(8)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{endpoint}/moto-api/", params={"started": nonce}, timeout=1)
            break
        except requests.RequestException:
            if process.poll() is not None:  # e.g. its port taken meanwhile: the caller starts another
                return None
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"moto_server did not answer on {endpoint}")
    # The access log is written as the request is answered; allow it a moment to reach the file.
    for _ in range(50):
        if nonce in log_path.read_text(errors="replace"):
            return endpoint, process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    process.wait()
    return None


def start_moto(log_dir: Path, command: Callable[[int], list[str]] | None = None) -> MotoServer:
    """Start moto with IAM enforcement; raises (failing the run) if it does not answer. `command(port)` runs it
    another way (e.g. in a container published on 127.0.0.1:port); default: moto_server on 127.0.0.1.

    The port is chosen free and then bound by moto, so another process (a parallel worker's moto) can take it in
    between: the readiness request carries a nonce that must show in this moto's own access log, else this one lost
    the port and starts again on another."""
    for _ in range(5):
        started = _start_moto_once(log_dir, command)
        if started is not None:
            endpoint, process = started
            break
    else:
        raise RuntimeError(
            f"moto_server did not start in 5 tries (exited, or lost its port): see moto-*.log in {log_dir}"
        )
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="engine-admin")
    iam.put_user_policy(UserName="engine-admin", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName="engine-admin")["AccessKey"]
    return MotoServer(endpoint, key["AccessKeyId"], key["SecretAccessKey"], process)
