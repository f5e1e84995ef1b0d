"""Load a stack file for the end-to-end scenarios, adapted to what this machine allows."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.support.engine_tls import issue_chain
from tests.support.pulumi_runtime import unwrap

SELF_HOSTED = "registries:selfHosted"


def provided_certificate(hostname: str) -> tuple[str, str, str]:
    """(certificate, key, CA) for `hostname` and 127.0.0.1, as a user's own CA would issue them."""
    chain = issue_chain({"algorithm": "ECDSA", "ecdsaCurve": "P256"}, hostname, ca_hours=48, cert_hours=24)
    return chain["cert"]["certPem"], unwrap(chain["key"]["privateKeyPemPkcs8"]), chain["ca"]["certPem"]


def load_e2e_stack(path: Path) -> tuple[str, dict[str, Any], list[str]]:
    """(stack name, registries:selfHosted object, notes) for a stack file, adapted for this machine:
    the UI is off (its image cannot be built here), the registry listens on loopback as `localhost`,
    and secrets a user would set with `pulumi config set --secret` are filled in."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    document = yaml.safe_load(path.read_text())
    spec = copy.deepcopy((document.get("config") or {}).get(SELF_HOSTED))
    if spec is None:
        raise ValueError(f"{path} declares no {SELF_HOSTED}; the end-to-end scenarios need one")
    notes: list[str] = []
    if spec.get("ui", {}).get("enabled"):
        spec["ui"]["enabled"] = False
        notes.append("ui disabled: the joxit image cannot be built here")
    if spec.get("hostname", "localhost") != "localhost":
        tls = spec.setdefault("tls", {})
        tls["extraDnsNames"] = [*tls.get("extraDnsNames", []), spec["hostname"]]
        spec["hostname"] = "localhost"
        notes.append("hostname set to localhost: only loopback is reachable")
    spec["bindAddress"] = "127.0.0.1"
    tls = spec.get("tls", {})
    if tls.get("mode") == "provided":
        tls["certificate"], tls["privateKey"], tls["caCertificate"] = provided_certificate("localhost")
        notes.append("tls.certificate and tls.privateKey generated, as a user's CA would issue them")
    if spec.get("notifications"):
        spec["notifications"] = []
        notes.append("notifications removed: their endpoints are off this machine (a scenario of its own covers them)")
    return stack, spec, notes


def runtime_config(spec: dict[str, Any]) -> dict[str, str]:
    return {SELF_HOSTED: json.dumps(spec)}


def s3_storage_stack(
    base_stack: tuple[str, dict[str, Any]], moto_endpoint: str, **storage: Any
) -> tuple[str, dict[str, Any], str]:
    """(stack, selfHosted config with S3 storage on the moto server, bucket name): a copy of `base_stack`."""
    name, spec = base_stack
    spec = copy.deepcopy(spec)
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    # Host networking: the registry reaches moto on this machine's loopback.
    spec["networkMode"] = "host"
    spec["storage"] = {
        "kind": "s3",
        "bucket": bucket,
        "region": "us-east-1",
        # http:// in the endpoint is what the driver uses (aws-sdk-go adds a scheme only when none is given),
        # so `secure` stays at its default, which create: true requires.
        "regionEndpoint": moto_endpoint,
        "rootDirectory": "/images",
        # moto's IAM enforcement cannot check presigned URLs (it fails with KeyError HTTP_AUTHORIZATION),
        # so blobs are served through the registry instead of redirecting clients to S3.
        "redirectDisable": True,
        **storage,
    }
    return name, spec, bucket
