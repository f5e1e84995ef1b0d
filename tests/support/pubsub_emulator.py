"""The gcloud Pub/Sub emulator on 127.0.0.1 (`gcloud beta emulators pubsub start`), started and stopped by the tests.

It serves Pub/Sub's REST API (the same JSON the real service takes) and delivers push subscriptions itself, so a
declared Topic and push Subscription can be exercised end to end. It has no IAM (get/setIamPolicy answer 501)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

EMULATOR_DIR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator")
START_TIMEOUT_SECONDS = 90.0


class EmulatorError(RuntimeError):
    """The emulator could not be started; the message says what is missing."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PubSubEmulator:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.endpoint}/v1/{path}"

    def stop(self) -> None:
        """Stop gcloud and the Java server it started (one process group, which outlives a gcloud that exited)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_pubsub_emulator(data_dir: Path, project: str = "emulator-project") -> PubSubEmulator:
    """Start the emulator on a free loopback port and wait until it answers; EmulatorError naming what is missing."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError("gcloud is not installed (scripts/test.sh installs google-cloud-cli-pubsub-emulator)")
    if shutil.which("java") is None:
        raise EmulatorError("java is not installed; the Pub/Sub emulator needs a JRE (openjdk-17-jre-headless)")
    if not EMULATOR_DIR.is_dir():
        raise EmulatorError(f"{EMULATOR_DIR} is missing: install the Debian package google-cloud-cli-pubsub-emulator")
    port = free_port()
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    log = data_dir / "emulator.log"
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "CLOUDSDK_CONFIG": str(data_dir / "gcloud-config")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                gcloud,
                "beta",
                "emulators",
                "pubsub",
                "start",
                f"--host-port=127.0.0.1:{port}",
                f"--data-dir={data_dir / 'data'}",
                f"--project={project}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() takes the Java child with it
        )
    emulator = PubSubEmulator(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            emulator.stop()  # gcloud may have started the Java server before it failed
            raise EmulatorError(f"the emulator exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(emulator.endpoint, timeout=2).ok:
                return emulator
        except requests.RequestException:
            pass
        time.sleep(0.5)
    emulator.stop()
    raise EmulatorError(f"the emulator did not answer within {START_TIMEOUT_SECONDS:.0f}s: {log.read_text()[-2000:]}")
