"""What a signing key or certificate looks like (PEM headers): shared by the SigningKeys component and the config,
which must not import pulumi."""

import re

KEY_PEM = re.compile(r"-----BEGIN (RSA |EC )?PRIVATE KEY-----")
"""A plain private key: PKCS#8, EC (SEC 1) or PKCS#1 RSA, the formats `cosign import-key-pair` reads."""
PUBLIC_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----")
CERT_PEM = re.compile(r"-----BEGIN CERTIFICATE-----")
ENCRYPTED_COSIGN = re.compile(r"-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----")
"""cosign's own password-encrypted format (cosign generate-key-pair / import-key-pair output)."""
