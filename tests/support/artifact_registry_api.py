"""Check request bodies against Artifact Registry's own API model (google.cloud.artifactregistry_v1, google.iam.v1).

Run as `python -m tests.support.artifact_registry_api` with a JSON list of {"kind", "body"} on stdin; prints a JSON
list of {"error"} or {"parsed"} (the message as the API's canonical JSON). A separate process on purpose: the
google-cloud libraries register google.rpc.Status in protobuf's default pool under google/rpc/status.proto, and the
Pulumi SDK registers the same symbol under another file name, so the two cannot be imported into one process."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

KINDS = ("createRepository", "setIamPolicy")


def check_in_subprocess(requests: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each (kind, body) parsed strictly by the API's message: {"parsed": canonical JSON} or {"error": message}."""
    payload = json.dumps([{"kind": kind, "body": body} for kind, body in requests])
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.artifact_registry_api"],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the API model checker failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _check(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    from google.cloud import artifactregistry_v1
    from google.iam.v1 import iam_policy_pb2
    from google.protobuf import json_format

    if kind == "createRepository":
        message: Any = artifactregistry_v1.CreateRepositoryRequest.pb(artifactregistry_v1.CreateRepositoryRequest())
    elif kind == "setIamPolicy":
        message = iam_policy_pb2.SetIamPolicyRequest()
    else:
        return {"error": f"unknown kind {kind!r}; one of {KINDS}"}
    try:
        json_format.ParseDict(body, message)  # strict: unknown fields, bad enums and malformed durations raise
    except json_format.ParseError as error:
        return {"error": str(error)}
    return {"parsed": json_format.MessageToDict(message)}


def main() -> None:
    requests = json.load(sys.stdin)
    json.dump([_check(item["kind"], item["body"]) for item in requests], sys.stdout)


if __name__ == "__main__":
    main()
