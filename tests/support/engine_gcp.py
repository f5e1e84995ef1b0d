"""gcp:pubsub/* resources, applied over Pub/Sub's REST API to the gcloud Pub/Sub emulator on 127.0.0.1.

Topics and subscriptions are created, read, patched and deleted as pulumi-gcp does (ids projects/<p>/topics/<name>
and projects/<p>/subscriptions/<name>; an input the provider marks ForceNew replaces). The emulator has no IAM
(getIamPolicy/setIamPolicy answer 501 UNIMPLEMENTED), so TopicIAMMember and SubscriptionIAMMember are state only:
applying one checks that its topic or subscription exists, and nothing else."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.engine_aws import input_diff
from tests.support.local_engine import Applied, Backend, Diff, Read

TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
# ForceNew inputs of hashicorp/terraform-provider-google (pulumi-gcp bridges it): google_pubsub_topic,
# google_pubsub_subscription and the IAM member resources, whose every input is ForceNew.
PUBSUB_REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    TOPIC: frozenset({"name", "project"}),
    SUBSCRIPTION: frozenset({"name", "topic", "project", "enableMessageOrdering"}),
    TOPIC_IAM: frozenset({"topic", "role", "member", "project", "condition"}),
    SUBSCRIPTION_IAM: frozenset({"subscription", "role", "member", "project", "condition"}),
}
# Subscription inputs the API takes as they are (the provider's field names are the REST names).
SUBSCRIPTION_FIELDS = (
    "pushConfig",
    "ackDeadlineSeconds",
    "messageRetentionDuration",
    "retainAckedMessages",
    "labels",
    "deadLetterPolicy",
    "retryPolicy",
    "filter",
    "enableMessageOrdering",
    "enableExactlyOnceDelivery",
)


def _integers(value: Any) -> Any:
    """Pulumi numbers arrive as floats; the API wants integers where they are whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def subscription_body(inputs: dict[str, Any]) -> dict[str, Any]:
    """The REST Subscription for the provider's inputs (expirationPolicy.ttl "" = never expires = {})."""
    body: dict[str, Any] = {"topic": inputs["topic"]}
    body.update({k: _integers(inputs[k]) for k in SUBSCRIPTION_FIELDS if k in inputs})
    if "expirationPolicy" in inputs:
        ttl = inputs["expirationPolicy"].get("ttl", "")
        body["expirationPolicy"] = {"ttl": ttl} if ttl else {}
    return body


class PubSubApplier:
    """Applies gcp:pubsub/* to the Pub/Sub emulator, as pulumi-gcp applies them to Pub/Sub."""

    PREFIXES = ("gcp:pubsub/",)

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.session = requests.Session()

    def _url(self, path: str) -> str:
        return f"{self.endpoint}/v1/{path}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.request(method, self._url(path), json=body, timeout=30)
        if not response.ok:
            raise RuntimeError(f"Pub/Sub {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def _get(self, path: str) -> dict[str, Any] | None:
        response = self.session.get(self._url(path), timeout=30)
        if response.status_code == 404:
            return None
        if not response.ok:
            raise RuntimeError(f"Pub/Sub GET {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    @staticmethod
    def _topic_path(inputs: dict[str, Any]) -> str:
        return f"projects/{inputs['project']}/topics/{inputs['name']}"

    @staticmethod
    def _subscription_path(inputs: dict[str, Any]) -> str:
        return f"projects/{inputs['project']}/subscriptions/{inputs['name']}"

    @staticmethod
    def _iam_target(typ: str, inputs: dict[str, Any]) -> str:
        kind, key = ("topics", "topic") if typ == TOPIC_IAM else ("subscriptions", "subscription")
        target = str(inputs[key])
        return target if target.startswith("projects/") else f"projects/{inputs['project']}/{kind}/{target}"

    def create(self, typ: str, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if "project" not in inputs:
            raise ValueError(f"{typ}: the stack sets no project (the provider's default project is not modelled)")
        if typ == TOPIC:
            path = self._topic_path(inputs)
            body = {k: inputs[k] for k in ("labels", "messageRetentionDuration", "kmsKeyName") if k in inputs}
            self._call("PUT", path, body)
            return path, {**inputs, "id": path}
        if typ == SUBSCRIPTION:
            path = self._subscription_path(inputs)
            self._call("PUT", path, subscription_body(inputs))
            return path, {**inputs, "id": path}
        if typ in (TOPIC_IAM, SUBSCRIPTION_IAM):
            target = self._iam_target(typ, inputs)
            if self._get(target) is None:
                raise RuntimeError(f"Error applying IAM policy: {target} not found (404)")
            ident = f"{target}/{inputs['role']}/{inputs['member']}"
            return ident, {**inputs, "etag": "emulator-has-no-iam"}
        raise NotImplementedError(f"local engine: no handler for {typ}")

    def read(self, applied: Applied) -> Read | None:
        if applied.typ in (TOPIC, SUBSCRIPTION):
            found = self._get(applied.ident)
            if found is None:
                return None
            inputs = dict(applied.inputs)
            if applied.typ == SUBSCRIPTION:
                # Read back what the program set, in the provider's names: drift shows in the next up.
                for key in ("pushConfig", "ackDeadlineSeconds", "deadLetterPolicy", "retryPolicy", "labels"):
                    if key in inputs:
                        inputs[key] = found.get(key)
            return Read(applied.ident, {**applied.outputs, **inputs}, inputs)
        target = self._iam_target(applied.typ, applied.inputs)
        return Read(applied.ident, applied.outputs) if self._get(target) is not None else None

    def diff(self, old: Applied, news: dict[str, Any]) -> Diff:
        return input_diff(old, news, PUBSUB_REPLACE_ON_CHANGE[old.typ])

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if applied.typ == SUBSCRIPTION:
            body = subscription_body(news)
            body.pop("topic")
            changed = [k for k in body if body[k] != subscription_body(applied.inputs).get(k)]
            if changed:
                self._call("PATCH", applied.ident, {"subscription": body, "updateMask": ",".join(changed)})
            return applied.ident, {**applied.outputs, **news}
        if applied.typ == TOPIC:
            labels = news.get("labels") or {}
            self._call("PATCH", applied.ident, {"topic": {"labels": labels}, "updateMask": "labels"})
            return applied.ident, {**applied.outputs, **news}
        return None  # IAM members are state only

    def delete(self, applied: Applied) -> None:
        if applied.typ in (TOPIC, SUBSCRIPTION):
            response = self.session.delete(self._url(applied.ident), timeout=30)
            if response.status_code not in (200, 404):
                raise RuntimeError(f"Pub/Sub DELETE {applied.ident}: {response.status_code} {response.text[:300]}")

    def backend(self) -> Backend:
        return Backend(
            self.PREFIXES, self.create, delete=self.delete, update=self.update, read=self.read, diff=self.diff
        )
