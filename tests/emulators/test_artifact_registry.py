"""registries:artifactRegistry notifications applied by the local engine to the gcloud Pub/Sub emulator: Artifact
Registry's own message, published to `gcr`, reaches a local HTTP receiver through the declared push subscription,
and a receiver that keeps failing gets it parked in the dead-letter subscription.

No emulator exists for the Artifact Registry API itself: its repositories are proven against the API's own model
(tests/unit/test_artifact_registry_api_model.py); this scenario declares notifications only. The emulator listens
on a free loopback port and no Docker is used, so this tier runs beside the machine tiers (tests/conftest.py)."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.support.engine_gcp import PubSubApplier
from tests.support.local_engine import LocalEngine
from tests.support.pubsub_emulator import PubSubEmulator, start_pubsub_emulator
from tests.support.pulumi_runtime import run_program

pytestmark = pytest.mark.e2e

# The message Artifact Registry publishes to `gcr` when an image is pushed (Artifact Registry docs, "Configure
# Pub/Sub notifications": action, digest, tag).
PUSH_EVENT = {
    "action": "INSERT",
    "digest": "us-east1-docker.pkg.dev/e2e-project/apps/hello@sha256:"
    "6ec128e26cd5f6a4d4c8b6d5f4d8a2c1b2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7",
    "tag": "us-east1-docker.pkg.dev/e2e-project/apps/hello:1.1",
}


@pytest.fixture(scope="session")
def pubsub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    """The Pub/Sub emulator; failing to start fails the run (never a skip)."""
    try:
        emulator = start_pubsub_emulator(tmp_path_factory.mktemp("pubsub"))
    except Exception as error:
        pytest.fail(f"Pub/Sub emulator did not start: {error}", pytrace=False)
    yield emulator
    emulator.stop()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records each POST; `status` is what it answers."""

    status: int = 204
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def wait_for(self, count: int, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.received.append((self.path, json.loads(body or b"{}")))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    state.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


def _config(project: str, url: str) -> dict[str, Any]:
    return {
        "project": project,
        "location": "us-east1",
        "projectNumber": "123456789012",  # the emulator has no project numbers; the service agents need one
        "notifications": [{"name": "deploy", "url": url}],
    }


def _apply(engine: LocalEngine, config: dict[str, Any]) -> dict[str, Any]:
    engine.begin_run()
    # Set with `pulumi config set --secret --path`: the whole key is encrypted (the hook URL carries a token).
    key = "registries:artifactRegistry"
    outputs = run_program(engine, stack="dev", config={key: json.dumps(config)}, secret_keys=[key])
    engine.end_run()
    return {name: value.value for name, value in outputs.items()}


def _engine(pubsub: PubSubEmulator) -> LocalEngine:
    engine = LocalEngine()
    engine.add_backend(PubSubApplier(pubsub.endpoint).backend())
    return engine


def _publish(pubsub: PubSubEmulator, project: str, event: dict[str, Any]) -> str:
    data = base64.b64encode(json.dumps(event).encode()).decode()
    answer = requests.post(
        pubsub.url(f"projects/{project}/topics/gcr:publish"), json={"messages": [{"data": data}]}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["messageIds"][0])


@pytest.fixture
def project() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def test_an_artifact_registry_push_event_reaches_the_receiver_through_the_declared_subscription(
    pubsub: PubSubEmulator, receiver: Receiver, project: str
):
    engine = _engine(pubsub)
    token = uuid.uuid4().hex
    outputs = _apply(engine, _config(project, f"http://127.0.0.1:{receiver.port}/ar-events?token={token}"))
    try:
        subscription = requests.get(pubsub.url(f"projects/{project}/subscriptions/gcr-deploy"), timeout=30).json()
        assert subscription["topic"] == f"projects/{project}/topics/gcr"
        assert subscription["deadLetterPolicy"] == {
            "deadLetterTopic": f"projects/{project}/topics/gcr-dead-letters",
            "maxDeliveryAttempts": 5,
        }
        message_id = _publish(pubsub, project, PUSH_EVENT)
        received = receiver.wait_for(1, timeout=30)
        assert len(received) == 1, received
        path, envelope = received[0]
        assert path == f"/ar-events?token={token}"  # the secret-bearing URL, as declared
        assert envelope["subscription"] == f"projects/{project}/subscriptions/gcr-deploy"
        assert envelope["message"]["messageId"] == message_id
        assert json.loads(base64.b64decode(envelope["message"]["data"])) == PUSH_EVENT
        # The hook URL is a secret end to end: not in the outputs, sealed in the state.
        assert token not in json.dumps(outputs)
        assert token not in engine.state_document()

        # Re-running with the same config changes nothing.
        _apply(engine, _config(project, f"http://127.0.0.1:{receiver.port}/ar-events?token={token}"))
        assert {step.op for step in engine.plan} == {"same"}, [(s.op, s.urn) for s in engine.plan if s.op != "same"]

        # A new URL (a rotated token) updates the subscription in place; the next event goes there.
        rotated = uuid.uuid4().hex
        _apply(engine, _config(project, f"http://127.0.0.1:{receiver.port}/ar-events?token={rotated}"))
        ops = {step.urn.rsplit("::", 1)[1]: step.op for step in engine.plan}
        assert ops["artifact-registry-hook-deploy"] == "update"
        _publish(pubsub, project, {**PUSH_EVENT, "action": "DELETE"})
        received = receiver.wait_for(2, timeout=30)
        assert received[1][0] == f"/ar-events?token={rotated}"
        assert json.loads(base64.b64decode(received[1][1]["message"]["data"]))["action"] == "DELETE"
    finally:
        engine.destroy()
    for path in ("topics/gcr", "topics/gcr-dead-letters", "subscriptions/gcr-deploy", "subscriptions/gcr-dead-letters"):
        assert requests.get(pubsub.url(f"projects/{project}/{path}"), timeout=30).status_code == 404, path


def test_an_event_the_receiver_keeps_refusing_is_parked_in_the_dead_letter_subscription(
    pubsub: PubSubEmulator, receiver: Receiver, project: str
):
    engine = _engine(pubsub)
    receiver.status = 500
    _apply(engine, _config(project, f"http://127.0.0.1:{receiver.port}/ar-events?token=t"))
    try:
        _publish(pubsub, project, PUSH_EVENT)
        pull = pubsub.url(f"projects/{project}/subscriptions/gcr-dead-letters:pull")
        deadline = time.monotonic() + 240  # 5 attempts with the declared 10 s..600 s backoff take about 90 s
        parked: list[dict[str, Any]] = []
        while not parked and time.monotonic() < deadline:
            # returnImmediately: a pull otherwise waits for messages (the emulator's long poll).
            answer = requests.post(pull, json={"maxMessages": 10, "returnImmediately": True}, timeout=60)
            parked = answer.json().get("receivedMessages", [])
            time.sleep(2)
        assert len(parked) == 1, f"nothing dead-lettered after {len(receiver.received)} deliveries"
        message = parked[0]["message"]
        assert json.loads(base64.b64decode(message["data"])) == PUSH_EVENT
        assert message["attributes"]["CloudPubSubDeadLetterSourceSubscription"] == "gcr-deploy"
        assert message["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
        assert len(receiver.received) == 5  # maxDeliveryAttempts, as declared
    finally:
        engine.destroy()


def test_a_push_endpoint_changed_out_of_band_shows_on_refresh_and_up_restores_it(
    pubsub: PubSubEmulator, receiver: Receiver, project: str
):
    engine = _engine(pubsub)
    url = f"http://127.0.0.1:{receiver.port}/ar-events?token={uuid.uuid4().hex}"
    _apply(engine, _config(project, url))
    subscription = pubsub.url(f"projects/{project}/subscriptions/gcr-deploy")
    try:
        # Someone points the subscription elsewhere by hand.
        changed = {"pushConfig": {"pushEndpoint": f"http://127.0.0.1:{receiver.port}/elsewhere"}}
        answer = requests.patch(subscription, json={"subscription": changed, "updateMask": "pushConfig"}, timeout=30)
        answer.raise_for_status()
        steps = {step.urn.rsplit("::", 1)[1]: step.op for step in engine.refresh()}
        assert steps["artifact-registry-hook-deploy"] == "update"  # refresh reports the drift
        _apply(engine, _config(project, url))
        ops = {step.urn.rsplit("::", 1)[1]: step.op for step in engine.plan}
        assert ops["artifact-registry-hook-deploy"] == "update"
        assert requests.get(subscription, timeout=30).json()["pushConfig"]["pushEndpoint"] == url
    finally:
        engine.destroy()
