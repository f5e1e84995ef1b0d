"""tls:* resources, applied with `cryptography` the way pulumi-tls does."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.pulumi_runtime import unwrap, wrap_secret
from tests.support.recording_mocks import RecordingMocks

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
_SUBJECT_FIELDS = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "country": NameOID.COUNTRY_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "postalCode": NameOID.POSTAL_CODE,
    "streetAddresses": NameOID.STREET_ADDRESS,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}
_EKU = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_KEY_USAGE = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
    "encipher_only": "encipher_only",
    "decipher_only": "decipher_only",
}


def _load_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    return key


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(subject: dict[str, Any] | None) -> x509.Name:
    attributes = []
    for key, oid in _SUBJECT_FIELDS.items():
        value = (subject or {}).get(key)
        for item in value if isinstance(value, list) else ([value] if value else []):
            attributes.append(x509.NameAttribute(oid, str(item)))
    return x509.Name(attributes)


def _sans(inputs: dict[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
    names += [x509.UniformResourceIdentifier(u) for u in inputs.get("uris") or []]
    return names


def _subject_key_id(inputs: dict[str, Any], public_key: Any) -> x509.SubjectKeyIdentifier | None:
    """pulumi-tls (Go) sets a subject key identifier on CA certificates always, on others when asked."""
    if inputs.get("isCaCertificate") or inputs.get("setSubjectKeyId"):
        return x509.SubjectKeyIdentifier.from_public_key(public_key)  # SHA-1 of the key, as the provider does
    return None


def _sign(
    inputs: dict[str, Any],
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    signer: PrivateKey,
    sans: list,
    authority_key_id: bytes | None,
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hours = int(inputs["validityPeriodHours"])
    end = now + dt.timedelta(hours=hours)
    uses = list(inputs.get("allowedUses") or [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(end)
    )
    is_ca = bool(inputs.get("isCaCertificate", False))
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    usage = {v: (k in uses) for k, v in _KEY_USAGE.items()}
    if any(usage.values()):
        builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    ekus = [_EKU[u] for u in uses if u in _EKU]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    subject_key_id = _subject_key_id(inputs, public_key)
    if subject_key_id is not None:
        builder = builder.add_extension(subject_key_id, critical=False)
    if authority_key_id is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False)
    cert = builder.sign(signer, _hash_for(signer))
    early = int(inputs.get("earlyRenewalHours", 0))
    return {
        **inputs,
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": now.isoformat(),
        "validityEndTime": end.isoformat(),
        "readyForRenewal": early >= hours,
    }


def apply_tls(typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if typ == "tls:index/privateKey:PrivateKey":
        algorithm = inputs.get("algorithm", "RSA")
        key: PrivateKey
        if algorithm == "RSA":
            key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
        elif algorithm == "ECDSA":
            key = ec.generate_private_key(_CURVES[inputs.get("ecdsaCurve", "P224")]())
        elif algorithm == "ED25519":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"tls: unsupported algorithm {algorithm!r}")
        fmt = (
            serialization.PrivateFormat.PKCS8
            if isinstance(key, ed25519.Ed25519PrivateKey)
            else serialization.PrivateFormat.TraditionalOpenSSL
        )
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        pkcs8 = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        ident = hashlib.sha1(public).hexdigest()  # noqa: S324 - pulumi-tls uses the SHA-1 of the public key as id
        return ident, {
            **inputs,
            "privateKeyPem": wrap_secret(pem),
            "privateKeyPemPkcs8": wrap_secret(pkcs8),
            "publicKeyPem": public.decode(),
        }
    if typ == "tls:index/selfSignedCert:SelfSignedCert":
        key = _load_key(inputs["privateKeyPem"])
        subject = _name(inputs.get("subject"))
        # set_authority_key_id copies the certificate's own subject key identifier (it must have one).
        authority = None
        if inputs.get("setAuthorityKeyId"):
            own = _subject_key_id(inputs, key.public_key())
            if own is None:
                raise ValueError("tls: Could not determine Authority Key Identifier")
            authority = own.digest
        outs = _sign(inputs, subject, key.public_key(), subject, key, _sans(inputs), authority)
        return str(x509.load_pem_x509_certificate(outs["certPem"].encode()).serial_number), outs
    if typ == "tls:index/certRequest:CertRequest":
        key = _load_key(inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
        sans = _sans(inputs)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        csr = builder.sign(key, _hash_for(key))
        return "csr", {**inputs, "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}
    if typ == "tls:index/locallySignedCert:LocallySignedCert":
        csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
        ca_key = _load_key(inputs["caPrivateKeyPem"])
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
        # Go's x509.CreateCertificate takes the authority key identifier from the issuer's SKI, if any.
        try:
            issuer_ski: bytes | None = ca_cert.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value.digest
        except x509.ExtensionNotFound:
            issuer_ski = None
        outs = _sign(inputs, csr.subject, csr.public_key(), ca_cert.subject, ca_key, sans, issuer_ski)
        return str(x509.load_pem_x509_certificate(outs["certPem"].encode()).serial_number), outs
    raise NotImplementedError(f"local engine: no tls handler for {typ}")


def issue_chain(algorithm: dict[str, Any], hostname: str, ca_hours: int, cert_hours: int) -> dict[str, dict[str, Any]]:
    """A CA and a server certificate for `hostname` and 127.0.0.1, made as the program's TLS resources are.

    Returns the outputs of each step: ca_key, ca, key, csr, cert."""
    _, ca_key = apply_tls("tls:index/privateKey:PrivateKey", algorithm)
    _, ca = apply_tls(
        "tls:index/selfSignedCert:SelfSignedCert",
        {
            "privateKeyPem": ca_key["privateKeyPem"]["value"],
            "isCaCertificate": True,
            "subject": {"commonName": f"{hostname} test CA"},
            "validityPeriodHours": ca_hours,
            "allowedUses": ["cert_signing"],
        },
    )
    _, key = apply_tls("tls:index/privateKey:PrivateKey", algorithm)
    _, csr = apply_tls(
        "tls:index/certRequest:CertRequest",
        {
            "privateKeyPem": key["privateKeyPem"]["value"],
            "subject": {"commonName": hostname},
            "dnsNames": [hostname],
            "ipAddresses": ["127.0.0.1"],
        },
    )
    _, cert = apply_tls(
        "tls:index/locallySignedCert:LocallySignedCert",
        {
            "certRequestPem": csr["certRequestPem"],
            "caCertPem": ca["certPem"],
            "caPrivateKeyPem": ca_key["privateKeyPem"]["value"],
            "validityPeriodHours": cert_hours,
            "allowedUses": ["server_auth", "digital_signature"],
        },
    )
    return {"ca_key": ca_key, "ca": ca, "key": key, "csr": csr, "cert": cert}


class RealTlsMocks(RecordingMocks):
    """Recording mocks whose tls:* resources are real keys and certificates, made as pulumi-tls makes them."""

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        ident, outs = super().new_resource(args)
        if args.typ.startswith("tls:"):
            ident, outs = apply_tls(args.typ, unwrap({k: v for k, v in args.inputs.items() if k != "__provider"}))
        return ident, outs
