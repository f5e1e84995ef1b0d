"""SigningKeys: the keys CI signs images with, cosign's key pair and a Notation signing certificate chain, made with
pulumi-tls (or given) and handed out as outputs: public parts plainly, private keys as Pulumi secrets, and the
exact `cosign` / `notation` commands that use them.

cosign: `cosign sign --key` reads only cosign's own password-encrypted key format (pkg/cosign/keys.go
LoadPrivateKey: PEM types ENCRYPTED SIGSTORE PRIVATE KEY / ENCRYPTED COSIGN PRIVATE KEY). The component outputs a
plain PKCS#8 PEM key instead and the `cosign import-key-pair` command that encrypts it with a password the user
chooses (ImportKeyPair reads PKCS#1 RSA, EC and PKCS#8 keys): no password is made or kept in the state.
`cosign verify --key` reads the PEM public key as output.

Notation: a CA (basicConstraints CA, keyUsage certSign) and a leaf with keyUsage digitalSignature and the
code-signing extended key usage, as Notation's signature specification requires of signing certificates; the chain
(leaf first, then the CA) goes to `certPath` of notation's signingkeys.json, the CA into a trust store of type ca.
"""

# No `from __future__ import annotations`: the component-provider analyzer reads these annotations at run time.
import json
import re
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_tls as tls

from components.signing_names import (
    CERT_PEM,
    COSIGN_SIGN_FLAGS,
    COSIGN_VERIFY_FLAGS,
    ENCRYPTED_COSIGN,
    KEY_PEM,
    NOTATION_KEY,
    PUBLIC_PEM,
    TRUST_STORE,
    notation_registry,
)

OUTPUT_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
GENERATED_ONLY = ("common_name", "organization", "validity_hours", "ca_validity_hours")
CA_USES = ["cert_signing", "crl_signing"]
# Notation signature specification, "Certificate Requirements": the leaf's keyUsage is digitalSignature and its
# extended key usage, when present, code signing.
LEAF_USES = ["digital_signature", "code_signing"]
MIN_VALIDITY_HOURS = 1


class CosignKeyArgs(TypedDict):
    """cosign's key pair. Omit both keys to generate an ECDSA P-256 pair; give both to use your own."""

    private_key_pem: NotRequired[pulumi.Input[str]]
    """Secret. A plain PEM private key (PKCS#8, EC or PKCS#1 RSA). Requires public_key_pem."""
    public_key_pem: NotRequired[pulumi.Input[str]]
    """The PEM public key (PUBLIC KEY) of private_key_pem."""


class NotationKeyArgs(TypedDict):
    """Notation's signing key and certificate chain. Omit the key and chain to generate a CA and a code-signing leaf;
    give private_key_pem, certificate_chain_pem and ca_certificate_pem to use your own."""

    common_name: NotRequired[str]
    """Subject common name of the generated leaf. Default: the component's name."""
    organization: NotRequired[str]
    """Subject organization of the generated certificates. Default: 'registries'."""
    validity_hours: NotRequired[int]
    """Validity of the generated leaf in hours. Default: 8760 (a year)."""
    ca_validity_hours: NotRequired[int]
    """Validity of the generated CA in hours, at least validity_hours. Default: 87600 (ten years)."""
    private_key_pem: NotRequired[pulumi.Input[str]]
    """Secret. A given leaf's plain PEM private key. Requires certificate_chain_pem and ca_certificate_pem."""
    certificate_chain_pem: NotRequired[pulumi.Input[str]]
    """The given leaf certificate first, then its intermediates (PEM)."""
    ca_certificate_pem: NotRequired[pulumi.Input[str]]
    """The given chain's root CA certificate (PEM): the trust anchor verifiers add to their trust store."""


class SigningKeysArgs(TypedDict):
    registry: pulumi.Input[str]
    """Where the images live, e.g. 'localhost:5443' or 'docker.io/acme': the commands name images under it."""
    output_path: NotRequired[str]
    """Where a program exports these outputs, as stack output name and dotted keys, e.g. 'signing.selfHosted': the
    commands that save the keys read them from there. Default: 'signing'."""
    cosign: NotRequired[CosignKeyArgs]
    """cosign's key pair. Default: none."""
    notation: NotRequired[NotationKeyArgs]
    """Notation's signing key and certificate chain. Default: none."""


def _text(value: Any) -> str | None:
    """The plain text of a value known now (not an Output), else None."""
    return value if isinstance(value, str) else None


def _check_pem(where: str, value: Any, pattern: re.Pattern[str], what: str) -> None:
    text = _text(value)
    if text is not None and not pattern.search(text):
        raise ValueError(f"{where}: must be {what} (PEM)")


def _check_hours(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_VALIDITY_HOURS:
        raise ValueError(f"{where}: {value!r} must be a whole number of hours, at least {MIN_VALIDITY_HOURS}")
    return value


def check_signing_args(args: SigningKeysArgs) -> None:
    """The run-time rules (library users bypass the config schema); ValueError naming the arg otherwise."""
    if not isinstance(args, dict):
        raise ValueError(f"args: must be a dict, not {type(args).__name__}")
    unknown = set(args) - set(SigningKeysArgs.__annotations__)
    if unknown:
        raise ValueError(f"args.{sorted(unknown)[0]}: unknown; allowed: registry, output_path, cosign, notation")
    path = args.get("output_path", "signing")
    if not isinstance(path, str) or not OUTPUT_PATH.fullmatch(path):
        raise ValueError(
            f"args.output_path: {path!r} must be an output name and dotted keys, e.g. 'signing.selfHosted'"
        )
    if "registry" not in args or (isinstance(args["registry"], str) and not args["registry"].strip()):
        raise ValueError("args.registry: required, the registry (host[/namespace]) the images are named under")
    if "cosign" not in args and "notation" not in args:
        raise ValueError("args: give cosign, notation or both (nothing to sign with otherwise)")
    cosign = args.get("cosign")
    if cosign is not None:
        if not isinstance(cosign, dict):
            raise ValueError("args.cosign: must be a dict ({} generates a key pair)")
        extra = set(cosign) - {"private_key_pem", "public_key_pem"}
        if extra:
            raise ValueError(f"args.cosign.{sorted(extra)[0]}: unknown; allowed: private_key_pem, public_key_pem")
        if ("private_key_pem" in cosign) != ("public_key_pem" in cosign):
            missing = "public_key_pem" if "private_key_pem" in cosign else "private_key_pem"
            raise ValueError(f"args.cosign.{missing}: required with a given key pair (give both keys or neither)")
        key = _text(cosign.get("private_key_pem"))
        if key is not None and ENCRYPTED_COSIGN.search(key):
            raise ValueError(
                "args.cosign.private_key_pem: cosign's encrypted key format is not accepted; give the plain PEM key "
                "(PKCS#8, EC or PKCS#1 RSA): the outputs carry the `cosign import-key-pair` command that encrypts it"
            )
        _check_pem("args.cosign.private_key_pem", cosign.get("private_key_pem"), KEY_PEM, "a plain private key")
        _check_pem("args.cosign.public_key_pem", cosign.get("public_key_pem"), PUBLIC_PEM, "a PUBLIC KEY")
    notation = args.get("notation")
    if notation is not None:
        if not isinstance(notation, dict):
            raise ValueError("args.notation: must be a dict ({} generates a CA and a code-signing certificate)")
        allowed = set(NotationKeyArgs.__annotations__)
        extra = set(notation) - allowed
        if extra:
            raise ValueError(f"args.notation.{sorted(extra)[0]}: unknown; allowed: {', '.join(sorted(allowed))}")
        given = [k for k in ("private_key_pem", "certificate_chain_pem", "ca_certificate_pem") if k in notation]
        if given and len(given) != 3:
            missing = next(
                k for k in ("private_key_pem", "certificate_chain_pem", "ca_certificate_pem") if k not in notation
            )
            raise ValueError(f"args.notation.{missing}: required with a given signing key (give all three or none)")
        if given:
            generated = [
                k for k in ("common_name", "organization", "validity_hours", "ca_validity_hours") if k in notation
            ]
            if generated:
                raise ValueError(f"args.notation.{generated[0]}: applies to a generated chain, not to a given one")
        _check_pem("args.notation.private_key_pem", notation.get("private_key_pem"), KEY_PEM, "a plain private key")
        _check_pem(
            "args.notation.certificate_chain_pem", notation.get("certificate_chain_pem"), CERT_PEM, "certificates"
        )
        _check_pem("args.notation.ca_certificate_pem", notation.get("ca_certificate_pem"), CERT_PEM, "a certificate")
        hours = _check_hours("args.notation.validity_hours", notation.get("validity_hours", 8760))
        ca_hours = _check_hours("args.notation.ca_validity_hours", notation.get("ca_validity_hours", 87600))
        if ca_hours < hours:
            raise ValueError(
                f"args.notation.ca_validity_hours: {ca_hours} must be at least validity_hours ({hours}): "
                "a leaf must not outlive its CA"
            )
        for field in ("common_name", "organization"):
            value = notation.get(field, "x")
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"args.notation.{field}: {value!r} must be a non-empty string")


def _save(output_path: str, key: str, file: str, secret: bool = False) -> str:
    """The command that writes output `key` (under `output_path`) to `file`."""
    name, _, rest = output_path.partition(".")
    jq_path = "".join(f".{part}" for part in [*rest.split("."), *key.split(".")] if part)
    show = " --show-secrets" if secret else ""
    return f"pulumi stack output {name}{show} --json | jq -r '{jq_path}' > {file}"


def cosign_commands(registry: str, output_path: str = "signing") -> dict[str, str]:
    """The commands, with the key files as saveKeys names them and <repository>@<digest> to fill in."""
    image = f"{registry}/<repository>@<digest>"
    return {
        "saveKeys": _save(output_path, "cosign.privateKeyPem", "cosign.pem", secret=True)
        + " && "
        + _save(output_path, "cosign.publicKeyPem", "cosign.pub"),
        "importKey": "COSIGN_PASSWORD=<password> cosign import-key-pair --key cosign.pem --output-key-prefix "
        "cosign-import && mv cosign-import.key cosign.key && rm cosign-import.pub cosign.pem",
        "sign": f"COSIGN_PASSWORD=<password> cosign sign {COSIGN_SIGN_FLAGS} --key cosign.key {image}",
        "attestSbom": f"COSIGN_PASSWORD=<password> cosign attest {COSIGN_SIGN_FLAGS} --key cosign.key "
        f"--type spdxjson --predicate sbom.spdx.json {image}",
        "verify": f"cosign verify {COSIGN_VERIFY_FLAGS} --key cosign.pub {image}",
        "verifySbom": f"cosign verify-attestation {COSIGN_VERIFY_FLAGS} --key cosign.pub --type spdxjson {image}",
    }


def notation_trust_policy() -> str:
    """A trust policy: every repository, strict verification, signatures by certificates of the stack's CA."""
    policy = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": TRUST_STORE,
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": [f"ca:{TRUST_STORE}"],
                "trustedIdentities": ["*"],
            }
        ],
    }
    return json.dumps(policy, indent=2)


def notation_commands(registry: str, output_path: str = "signing") -> dict[str, str]:
    registry = notation_registry(registry)
    image = f"{registry}/<repository>@<digest>"
    config = '"${XDG_CONFIG_HOME:-$HOME/.config}/notation"'
    keys = {"default": NOTATION_KEY, "keys": [{"name": NOTATION_KEY, "keyPath": "%s", "certPath": "%s"}]}
    return {
        "saveKeys": " && ".join(
            [
                _save(output_path, "notation.privateKeyPem", "notation-key.pem", secret=True),
                _save(output_path, "notation.certificateChainPem", "notation-chain.pem"),
                _save(output_path, "notation.caCertificatePem", "notation-ca.pem"),
                _save(output_path, "notation.trustPolicyJson", "trustpolicy.json"),
            ]
        ),
        "addKey": f"mkdir -p {config} && printf '{json.dumps(keys)}' \"$PWD/notation-key.pem\" "
        f'"$PWD/notation-chain.pem" > {config}/signingkeys.json',
        # notation reads the registry's password from these (or `notation login` with a credential store; it will
        # not write a plain-text one), not from a docker config's auths for another host name.
        "credentials": "export NOTATION_USERNAME=<user> NOTATION_PASSWORD=<password>",
        "sign": f"notation sign --key {NOTATION_KEY} {image}",
        "trust": f"notation cert add --type ca --store {TRUST_STORE} notation-ca.pem && "
        "notation policy import --force trustpolicy.json",
        "verify": f"notation verify {image}",
    }


class SigningKeys(pulumi.ComponentResource):
    """Keys to sign a registry's images with: each private key a secret on its own, the public parts and commands
    plain. In Python, `cosign` and `notation` are also dicts of these outputs (None when not asked for), the shape
    the program exports as `signing.<kind>`; the component provider (plugin/) serves the flat outputs below."""

    cosign_public_key_pem: pulumi.Output[str | None]
    """cosign's PEM public key (`cosign verify --key`); None without cosign."""
    cosign_private_key_pem: pulumi.Output[str | None]
    """Secret. cosign's plain PEM private key (encrypt it with `cosign import-key-pair`); None without cosign."""
    cosign_commands: pulumi.Output[dict[str, str] | None]
    """The cosign commands (saveKeys, importKey, sign, attestSbom, verify, verifySbom); None without cosign."""
    notation_certificate_chain_pem: pulumi.Output[str | None]
    """Notation's signing certificate, then its CA (PEM); None without notation."""
    notation_ca_certificate_pem: pulumi.Output[str | None]
    """The CA verifiers trust (`notation cert add --type ca`); None without notation."""
    notation_private_key_pem: pulumi.Output[str | None]
    """Secret. Notation's plain PEM signing key; None without notation."""
    notation_trust_policy_json: pulumi.Output[str | None]
    """A strict trust policy for the CA (`notation policy import`); None without notation."""
    notation_commands: pulumi.Output[dict[str, str] | None]
    """The notation commands (saveKeys, addKey, credentials, sign, trust, verify); None without notation."""

    def __init__(self, name: str, args: SigningKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_signing_args(args)  # before anything is declared
        super().__init__("registries:index:SigningKeys", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        registry = pulumi.Output.from_input(args["registry"])
        path = args.get("output_path", "signing")
        self.cosign: dict[str, pulumi.Output[Any]] | None = None
        self.notation: dict[str, pulumi.Output[Any]] | None = None
        cosign = args.get("cosign")
        if cosign is not None:
            if "private_key_pem" in cosign:
                private = pulumi.Output.secret(cosign["private_key_pem"])
                public: pulumi.Output[str] = pulumi.Output.from_input(cosign.get("public_key_pem", ""))
            else:
                key = tls.PrivateKey(f"{name}-cosign-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
                private = pulumi.Output.secret(key.private_key_pem_pkcs8)
                public = key.public_key_pem
            self.cosign = {
                "publicKeyPem": public,
                "privateKeyPem": private,
                "commands": registry.apply(lambda r: cosign_commands(r, path)),
            }
        notation = args.get("notation")
        if notation is not None:
            if "private_key_pem" in notation:
                n_private = pulumi.Output.secret(notation["private_key_pem"])
                chain: pulumi.Output[str] = pulumi.Output.from_input(notation.get("certificate_chain_pem", ""))
                ca_pem: pulumi.Output[str] = pulumi.Output.from_input(notation.get("ca_certificate_pem", ""))
            else:
                n_private, chain, ca_pem = self._notation_chain(name, notation, child)
            self.notation = {
                "certificateChainPem": chain,
                "caCertificatePem": ca_pem,
                "privateKeyPem": n_private,
                "trustPolicyJson": pulumi.Output.from_input(notation_trust_policy()),
                "commands": registry.apply(lambda r: notation_commands(r, path)),
            }
        none: pulumi.Output[Any] = pulumi.Output.from_input(None)
        cosign_out, notation_out = self.cosign or {}, self.notation or {}
        self.cosign_public_key_pem = cosign_out.get("publicKeyPem", none)
        self.cosign_private_key_pem = cosign_out.get("privateKeyPem", none)
        self.cosign_commands = cosign_out.get("commands", none)
        self.notation_certificate_chain_pem = notation_out.get("certificateChainPem", none)
        self.notation_ca_certificate_pem = notation_out.get("caCertificatePem", none)
        self.notation_private_key_pem = notation_out.get("privateKeyPem", none)
        self.notation_trust_policy_json = notation_out.get("trustPolicyJson", none)
        self.notation_commands = notation_out.get("commands", none)
        self.register_outputs({"cosign": self.cosign, "notation": self.notation})

    def _notation_chain(
        self, name: str, notation: NotationKeyArgs, child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
        organization = notation.get("organization", "registries")
        hours = notation.get("validity_hours", 8760)
        ca_key = tls.PrivateKey(f"{name}-notation-ca-key", algorithm="ECDSA", ecdsa_curve="P384", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-notation-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{name} CA", organization=organization),
            validity_period_hours=notation.get("ca_validity_hours", 87600),
            allowed_uses=CA_USES,
            set_subject_key_id=True,
            set_authority_key_id=True,
            opts=child,
        )
        leaf_key = tls.PrivateKey(f"{name}-notation-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        request = tls.CertRequest(
            f"{name}-notation-csr",
            private_key_pem=leaf_key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=notation.get("common_name", name), organization=organization
            ),
            opts=child,
        )
        leaf = tls.LocallySignedCert(
            f"{name}-notation-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=hours,
            allowed_uses=LEAF_USES,
            set_subject_key_id=True,
            opts=child,
        )
        chain = pulumi.Output.all(leaf.cert_pem, ca.cert_pem).apply(lambda pems: pems[0] + pems[1])
        return pulumi.Output.secret(leaf_key.private_key_pem_pkcs8), chain, ca.cert_pem
