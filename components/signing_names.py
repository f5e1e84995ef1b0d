"""What a signing key or certificate looks like (PEM headers), and the names and flags the cosign / notation commands
use: shared by the SigningKeys component, the config and registryctl's signing check, which must not import pulumi."""

import re

KEY_PEM = re.compile(r"-----BEGIN (RSA |EC )?PRIVATE KEY-----")
"""A plain private key: PKCS#8, EC (SEC 1) or PKCS#1 RSA, the formats `cosign import-key-pair` reads."""
PUBLIC_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----")
CERT_PEM = re.compile(r"-----BEGIN CERTIFICATE-----")
ENCRYPTED_COSIGN = re.compile(r"-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----")
"""cosign's own password-encrypted format (cosign generate-key-pair / import-key-pair output)."""

TRUST_STORE = "registries"
"""Notation's trust store (type ca) and trust policy name."""
NOTATION_KEY = "registries"
"""The key name in notation's signingkeys.json."""
# cosign: no transparency log by default. The registry may be private (a Rekor entry publishes the image's digest
# and the signer's key) and CI here has no network; --tlog-upload=false signs, --insecure-ignore-tlog verifies.
COSIGN_SIGN_FLAGS = "--yes --tlog-upload=false"
COSIGN_VERIFY_FLAGS = "--insecure-ignore-tlog=true"


def notation_registry(registry: str) -> str:
    """The registry as notation must be given it: notation 1.x talks plain HTTP to any localhost:<port>
    (cmd/notation/registry.go getAuthClient), so a loopback registry over TLS is named 127.0.0.1:<port>."""
    host, sep, rest = registry.partition("/")
    name, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    if name == "localhost":
        return f"127.0.0.1{colon}{port}{sep}{rest}"
    return registry
