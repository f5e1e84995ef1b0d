"""TLS material for the registry: a private CA and a server certificate it signs, or provided PEM."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.selfhosted.config_file import REGISTRY_ALIAS
from registries.spec.selfhosted import SelfHostedSpec

SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]


@dataclass(frozen=True)
class TlsMaterial:
    """Server certificate chain and key (secret) to upload, and the CA clients must trust."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]


def _private_key(name: str, algorithm: str, parent: pulumi.Resource) -> tls.PrivateKey:
    if algorithm == "RSA":
        return tls.PrivateKey(name, algorithm="RSA", rsa_bits=4096, opts=pulumi.ResourceOptions(parent=parent))
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve="P256", opts=pulumi.ResourceOptions(parent=parent))


def declare_tls(name: str, spec: SelfHostedSpec, parent: pulumi.Resource) -> TlsMaterial | None:
    """Declare the TLS resources for `spec.tls.mode` as children of `parent`; None when TLS is off."""
    cfg = spec.tls
    if cfg.mode == "none":
        return None
    if cfg.mode == "provided":
        # Both are required by the schema in this mode.
        assert cfg.certificate is not None
        assert cfg.private_key is not None
        return TlsMaterial(
            cert_pem=pulumi.Output.secret(cfg.certificate.get_secret_value()),
            key_pem=pulumi.Output.secret(cfg.private_key.get_secret_value()),
            ca_cert_pem=pulumi.Output.from_input(cfg.ca_certificate or ""),
        )

    child = pulumi.ResourceOptions(parent=parent)
    ca_key = _private_key(f"{name}-ca-key", cfg.key_algorithm, parent)
    ca_cert = tls.SelfSignedCert(
        f"{name}-ca-cert",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        # Named after the hostname, not `name`: renaming the registry must not make clients re-trust a new CA.
        subject=tls.SelfSignedCertSubjectArgs(common_name=f"{spec.hostname} registry CA", organization="registries"),
        validity_period_hours=cfg.ca_validity_hours,
        early_renewal_hours=min(cfg.early_renewal_hours, cfg.ca_validity_hours - 1),
        allowed_uses=CA_USES,
        # Strict verifiers (Python 3.13's default context, VERIFY_X509_STRICT) want key identifiers.
        set_subject_key_id=True,
        set_authority_key_id=True,
        opts=child,
    )
    server_key = _private_key(f"{name}-server-key", cfg.key_algorithm, parent)
    dns_names = [spec.hostname, *[n for n in cfg.extra_dns_names if n != spec.hostname]]
    if spec.network_mode == "bridge" and REGISTRY_ALIAS not in dns_names:
        # The UI (and anything else on the registry's network) verifies the registry by its alias.
        dns_names.append(REGISTRY_ALIAS)
    request = tls.CertRequest(
        f"{name}-server-csr",
        private_key_pem=server_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=spec.hostname, organization="registries"),
        dns_names=dns_names,
        ip_addresses=list(cfg.ip_addresses),
        opts=child,
    )
    server_cert = tls.LocallySignedCert(
        f"{name}-server-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca_cert.cert_pem,
        validity_period_hours=cfg.validity_hours,
        early_renewal_hours=cfg.early_renewal_hours,
        allowed_uses=SERVER_USES,
        set_subject_key_id=True,  # its authority key identifier comes from the CA's subject key identifier
        opts=child,
    )
    # Serve the chain, so clients that trust only the CA can verify the server.
    chain = pulumi.Output.all(server_cert.cert_pem, ca_cert.cert_pem).apply(lambda pems: pems[0] + pems[1])
    return TlsMaterial(
        cert_pem=chain, key_pem=pulumi.Output.secret(server_key.private_key_pem), ca_cert_pem=ca_cert.cert_pem
    )
