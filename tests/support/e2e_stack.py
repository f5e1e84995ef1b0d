"""Load a stack file for the end-to-end scenarios, adapted to what this machine allows."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SELF_HOSTED = "registries:selfHosted"


def provided_certificate(hostname: str) -> tuple[str, str, str]:
    """A CA and a server certificate for `hostname` and 127.0.0.1, as a user's own CA would issue."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e provided CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return cert.public_bytes(pem).decode(), key_pem, ca.public_bytes(pem).decode()


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
