"""Config model of a registry kind's `signing:` block: the keys CI signs images with (components/signing.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, StrictInt

from components.signing_names import CERT_PEM, ENCRYPTED_COSIGN, KEY_PEM, PUBLIC_PEM
from registries.config.base import CamelModel, ConfigProblem


def _private_key(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if ENCRYPTED_COSIGN.search(text):
        raise ValueError(
            "cosign's encrypted key format is not accepted: give the plain PEM key (PKCS#8, EC or PKCS#1 RSA); "
            "the outputs carry the `cosign import-key-pair` command that encrypts it"
        )
    if not KEY_PEM.search(text):
        raise ValueError("must be a plain PEM private key (BEGIN PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
    return value


def _public_key(value: str) -> str:
    if not PUBLIC_PEM.search(value):
        raise ValueError("must be a PEM public key (BEGIN PUBLIC KEY)")
    return value


def _certificates(value: str) -> str:
    if not CERT_PEM.search(value):
        raise ValueError("must be PEM certificates (BEGIN CERTIFICATE)")
    return value


PrivateKeyPem = Annotated[SecretStr, AfterValidator(_private_key)]
PublicKeyPem = Annotated[str, AfterValidator(_public_key)]
CertificatesPem = Annotated[str, AfterValidator(_certificates)]


class CosignSigningSpec(CamelModel):
    """cosign's key pair: {} generates an ECDSA P-256 pair; privateKey and publicKey give yours."""

    private_key: PrivateKeyPem | None = None
    """Your plain PEM private key, set as a secret (pulumi config set --secret --path). Requires publicKey."""
    public_key: PublicKeyPem | None = None
    """The PEM public key of privateKey."""


class NotationSigningSpec(CamelModel):
    """Notation's signing key and certificate chain: {} generates a CA and a code-signing leaf certificate;
    privateKey, certificateChain and caCertificate give yours."""

    common_name: str | None = Field(default=None, min_length=1, max_length=64)
    """Subject common name of the generated signing certificate. Default: <kind>-signing (selfhosted-signing,
    dockerhub-signing, ecr-signing, artifact-registry-signing, acr-signing)."""
    organization: str | None = Field(default=None, min_length=1, max_length=64)
    """Subject organization of the generated certificates. Default: registries."""
    validity_hours: StrictInt = Field(default=8760, ge=1)
    """Validity of the generated signing certificate in hours. Default: 8760 (a year)."""
    ca_validity_hours: StrictInt = Field(default=87600, ge=1)
    """Validity of the generated CA in hours, at least validityHours. Default: 87600 (ten years)."""
    private_key: PrivateKeyPem | None = None
    """Your signing certificate's plain PEM private key, set as a secret. Requires certificateChain and
    caCertificate."""
    certificate_chain: CertificatesPem | None = None
    """Your signing certificate first, then its intermediates (PEM)."""
    ca_certificate: CertificatesPem | None = None
    """The root CA certificate of certificateChain (PEM): the trust anchor verifiers add to their trust store."""


class SigningSpec(CamelModel):
    """Keys CI signs this registry's images with, handed out as stack outputs (private keys as secrets)."""

    cosign: CosignSigningSpec | None = None
    """cosign's key pair ({} to generate). Default: none."""
    notation: NotationSigningSpec | None = None
    """Notation's signing certificate chain ({} to generate). Default: none."""


def secret_value_paths(spec: SigningSpec | None, root: str) -> list[str]:
    """The keys under `root` (e.g. registries:selfHosted.signing) holding secrets: the given private keys."""
    if spec is None:
        return []
    paths = [f"{root}.cosign.privateKey"] if spec.cosign is not None and spec.cosign.private_key is not None else []
    if spec.notation is not None and spec.notation.private_key is not None:
        paths.append(f"{root}.notation.privateKey")
    return paths


def signing_problems(spec: SigningSpec | None, root: str) -> list[ConfigProblem]:
    """Cross-field rules of a `signing:` block at `root` (e.g. registries:selfHosted.signing). Checked here, not
    in model validators, so an error never echoes the block's private keys."""
    if spec is None:
        return []
    problems: list[ConfigProblem] = []
    if spec.cosign is None and spec.notation is None:
        problems.append(
            ConfigProblem(root, "{}", "give cosign: {}, notation: {} or both (an empty block signs nothing)")
        )
    cosign = spec.cosign
    if cosign is not None and (cosign.private_key is None) != (cosign.public_key is None):
        missing = "publicKey" if cosign.public_key is None else "privateKey"
        problems.append(
            ConfigProblem(
                f"{root}.cosign.{missing}", "nothing", "required with a given key pair (give both, or neither)"
            )
        )
    notation = spec.notation
    if notation is not None:
        given = {
            "privateKey": notation.private_key,
            "certificateChain": notation.certificate_chain,
            "caCertificate": notation.ca_certificate,
        }
        present = [key for key, value in given.items() if value is not None]
        if present and len(present) != len(given):
            for key in (key for key, value in given.items() if value is None):
                problems.append(
                    ConfigProblem(
                        f"{root}.notation.{key}",
                        "nothing",
                        "required with a given signing key (give privateKey, certificateChain and caCertificate, "
                        "or none to generate)",
                    )
                )
        if present:
            for key, value in (("commonName", notation.common_name), ("organization", notation.organization)):
                if value is not None:
                    problems.append(
                        ConfigProblem(f"{root}.notation.{key}", repr(value), "only for a generated certificate chain")
                    )
        if notation.ca_validity_hours < notation.validity_hours:
            problems.append(
                ConfigProblem(
                    f"{root}.notation.caValidityHours",
                    str(notation.ca_validity_hours),
                    f"at least validityHours ({notation.validity_hours}): a certificate must not outlive its CA",
                )
            )
    return problems
