"""TLS material for the registry: a private CA and a server certificate it signs, or provided PEM."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.selfhosted.args import SelfHostedTlsArgs
from components.selfhosted.config_file import REGISTRY_ALIAS
from components.selfhosted.settings import DEFAULT_IP_SANS, text

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


def server_dns_names(hostname: str, extra_dns_names: list[str], bridge: bool) -> list[str]:
    """The generated certificate's DNS SANs: the hostname first, the extra names, and the network alias."""
    names = [hostname, *[n for n in extra_dns_names if n != hostname]]
    if bridge and REGISTRY_ALIAS not in names:
        # The UI (and anything else on the registry's network) verifies the registry by its alias.
        names.append(REGISTRY_ALIAS)
    return names


def declare_tls(
    name: str, cfg: SelfHostedTlsArgs, hostname: pulumi.Input[str], bridge: bool, parent: pulumi.Resource
) -> TlsMaterial | None:
    """Declare the TLS resources for `cfg["mode"]` as children of `parent`; None when TLS is off."""
    mode = text(cfg.get("mode", "selfSigned"))
    if mode == "none":
        return None
    if mode == "provided":
        certificate, private_key = cfg.get("certificate"), cfg.get("private_key")
        if certificate is None or private_key is None:
            raise ValueError("tls.certificate and tls.private_key: required with tls.mode provided")
        return TlsMaterial(
            cert_pem=pulumi.Output.secret(certificate),
            key_pem=pulumi.Output.secret(private_key),
            ca_cert_pem=pulumi.Output.from_input(cfg.get("ca_certificate") or ""),
        )

    child = pulumi.ResourceOptions(parent=parent)
    algorithm = text(cfg.get("key_algorithm", "ECDSA"))
    validity_hours = cfg.get("validity_hours", 8760)
    ca_validity_hours = cfg.get("ca_validity_hours", 87600)
    early_renewal_hours = cfg.get("early_renewal_hours", 720)
    ca_key = _private_key(f"{name}-ca-key", algorithm, parent)
    ca_cert = tls.SelfSignedCert(
        f"{name}-ca-cert",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        # Named after the hostname, not `name`: renaming the registry must not make clients re-trust a new CA.
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=pulumi.Output.concat(hostname, " registry CA"), organization="registries"
        ),
        validity_period_hours=ca_validity_hours,
        early_renewal_hours=min(early_renewal_hours, ca_validity_hours - 1),
        allowed_uses=CA_USES,
        # Strict verifiers (Python 3.13's default context, VERIFY_X509_STRICT) want key identifiers.
        set_subject_key_id=True,
        set_authority_key_id=True,
        opts=child,
    )
    server_key = _private_key(f"{name}-server-key", algorithm, parent)
    extra = cfg.get("extra_dns_names") or []
    dns_names = pulumi.Output.all(hostname, *extra).apply(
        lambda names: server_dns_names(names[0], list(names[1:]), bridge)
    )
    request = tls.CertRequest(
        f"{name}-server-csr",
        private_key_pem=server_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=hostname, organization="registries"),
        dns_names=dns_names,
        ip_addresses=list(cfg.get("ip_addresses", DEFAULT_IP_SANS)),
        opts=child,
    )
    server_cert = tls.LocallySignedCert(
        f"{name}-server-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca_cert.cert_pem,
        validity_period_hours=validity_hours,
        early_renewal_hours=early_renewal_hours,
        allowed_uses=SERVER_USES,
        set_subject_key_id=True,  # its authority key identifier comes from the CA's subject key identifier
        opts=child,
    )
    # Serve the chain, so clients that trust only the CA can verify the server.
    chain = pulumi.Output.all(server_cert.cert_pem, ca_cert.cert_pem).apply(lambda pems: pems[0] + pems[1])
    return TlsMaterial(
        cert_pem=chain, key_pem=pulumi.Output.secret(server_key.private_key_pem), ca_cert_pem=ca_cert.cert_pem
    )


CLIENT_USES = ["digital_signature", "key_encipherment", "client_auth"]


@dataclass(frozen=True)
class ClientCertificate:
    """Mutual TLS for a mirror's clients: the CA the registry verifies them with (public, http.tls.clientcas), and
    the one client certificate and key (secret) every Docker host presents."""

    ca_cert_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]


def declare_client_certificate(
    name: str, hostname: pulumi.Input[str], validity_hours: int, parent: pulumi.Resource
) -> ClientCertificate:
    """A client CA of its own (not the server's CA: a provided server certificate has no key here, and a server
    certificate must never pass as a client one) and a client certificate it signs, ECDSA P-256."""
    child = pulumi.ResourceOptions(parent=parent)
    ca_key = _private_key(f"{name}-client-ca-key", "ECDSA", parent)
    ca_cert = tls.SelfSignedCert(
        f"{name}-client-ca-cert",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=pulumi.Output.concat(hostname, " mirror client CA"), organization="registries"
        ),
        validity_period_hours=87600,
        early_renewal_hours=720,
        allowed_uses=CA_USES,
        set_subject_key_id=True,
        set_authority_key_id=True,
        opts=child,
    )
    client_key = _private_key(f"{name}-client-key", "ECDSA", parent)
    request = tls.CertRequest(
        f"{name}-client-csr",
        private_key_pem=client_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name="docker-host", organization="registries"),
        opts=child,
    )
    client_cert = tls.LocallySignedCert(
        f"{name}-client-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca_cert.cert_pem,
        validity_period_hours=validity_hours,
        early_renewal_hours=min(720, validity_hours - 1),
        allowed_uses=CLIENT_USES,
        set_subject_key_id=True,
        opts=child,
    )
    return ClientCertificate(
        ca_cert_pem=ca_cert.cert_pem,
        cert_pem=client_cert.cert_pem,
        key_pem=pulumi.Output.secret(client_key.private_key_pem),
    )
