"""Signing keys out (issue 27): a `signing:` block of every registry kind but mirrors -> SigningKeys -> outputs
signing.<kind>, public parts plain, each private key a secret on its own, the cosign/notation commands; given keys
accepted; bad input refused naming the key, in the config and in the component (library users bypass the config)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.acr import Acr
from components.artifact_registry import ArtifactRegistry
from components.ecr import EcrRegistry
from components.signing import SigningKeys, check_signing_args
from registries.config import ConfigError, load_stack_spec
from registries.mapping.acr import acr_args
from registries.mapping.artifact_registry import artifact_registry_args
from registries.mapping.ecr import ecr_args
from registries.program import declare, load_spec
from tests.support.pulumi_runtime import StackOutput, run_program
from tests.support.recording_mocks import RecordingMocks

KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG-given\n-----END PRIVATE KEY-----\n"
PUB = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH-given\n-----END PUBLIC KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB-given\n-----END CERTIFICATE-----\n"
HUB = {"namespace": "acme", "username": "acmebot"}
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, into)
    else:
        into[prefix] = value


def _run(secret: bool = False, **sections: Any) -> tuple[RecordingMocks, dict[str, StackOutput]]:
    """Run the program; the signing output comes back one stack output per leaf ('signing.selfHosted.cosign.x'),
    each with its own secretness, as the engine stores nested secrets."""

    def program() -> dict[str, Any]:
        outputs = dict(declare(load_spec()))
        flat: dict[str, Any] = {}
        if "signing" in outputs:
            _flatten("signing", outputs.pop("signing"), flat)
        return {**outputs, **flat}

    mocks = RecordingMocks()
    config = {f"registries:{k}": json.dumps(v) for k, v in sections.items()}
    outputs = run_program(
        mocks, stack="dev", config=config, secret_keys=list(config) if secret else [], program=program
    )
    return mocks, outputs


def test_generated_keys_of_both_kinds_come_out_private_parts_secret_each():
    signing = {"cosign": {}, "notation": {"commonName": "acme CI"}}
    mocks, out = _run(selfHosted={"signing": signing}, dockerHub={**HUB, "signing": signing})
    for kind, registry in (("selfHosted", "localhost:5000"), ("dockerHub", "docker.io/acme")):
        root = f"signing.{kind}"
        assert out[f"{root}.cosign.privateKeyPem"].secret, kind
        assert out[f"{root}.notation.privateKeyPem"].secret, kind
        assert "PRIVATE KEY" in out[f"{root}.cosign.privateKeyPem"].value
        for public in ("cosign.publicKeyPem", "notation.certificateChainPem", "notation.caCertificatePem"):
            assert not out[f"{root}.{public}"].secret, f"{root}.{public} should be plain"
        assert out[f"{root}.cosign.publicKeyPem"].value.startswith("-----BEGIN PUBLIC KEY-----")
        chain = out[f"{root}.notation.certificateChainPem"].value
        assert chain.count("BEGIN CERTIFICATE") == 2  # leaf, then the CA
        assert chain.endswith(out[f"{root}.notation.caCertificatePem"].value)
        sign = out[f"{root}.cosign.commands"].value["sign"]
        assert sign.startswith("COSIGN_PASSWORD=<password> cosign sign --yes --tlog-upload=false --key cosign.key ")
        assert sign.endswith(f"{registry}/<repository>@<digest>")
        assert "cosign import-key-pair --key cosign.pem" in out[f"{root}.cosign.commands"].value["importKey"]
        save = out[f"{root}.cosign.commands"].value["saveKeys"]
        assert f"pulumi stack output signing --show-secrets --json | jq -r '.{kind}.cosign.privateKeyPem'" in save
        assert (
            out[f"{root}.notation.commands"].value["sign"]
            == f"notation sign --key registries {registry.replace('localhost:', '127.0.0.1:')}/<repository>@<digest>"
        )
        # notation 1.x talks plain HTTP to localhost:<port>: a loopback registry is named 127.0.0.1:<port> for it.
        assert out[f"{root}.notation.commands"].value["credentials"].startswith("export NOTATION_USERNAME=<user> ")
        policy = json.loads(out[f"{root}.notation.trustPolicyJson"].value)
        assert policy["trustPolicies"][0]["trustStores"] == ["ca:registries"]
        assert policy["trustPolicies"][0]["signatureVerification"] == {"level": "strict"}
    # Notation's leaf: code signing and digital signature, signed by a CA that may sign certificates only.
    leaf = mocks.find("tls:index/locallySignedCert:LocallySignedCert", "selfhosted-signing-notation-cert").plain
    assert sorted(leaf["allowedUses"]) == ["code_signing", "digital_signature"]
    assert mocks.find("tls:index/certRequest:CertRequest", "selfhosted-signing-notation-csr").plain["subject"] == {
        "commonName": "acme CI",
        "organization": "registries",
    }
    ca = mocks.find("tls:index/selfSignedCert:SelfSignedCert", "selfhosted-signing-notation-ca").plain
    assert ca["isCaCertificate"] is True
    assert sorted(ca["allowedUses"]) == ["cert_signing", "crl_signing"]
    cosign_key = mocks.find(PRIVATE_KEY, "selfhosted-signing-cosign-key").plain
    assert (cosign_key["algorithm"], cosign_key["ecdsaCurve"]) == ("ECDSA", "P256")


def test_only_what_is_asked_for_is_made():
    mocks, out = _run(selfHosted={"signing": {"cosign": {}}})
    assert [r.name for r in mocks.of_type(PRIVATE_KEY) if "signing" in r.name] == ["selfhosted-signing-cosign-key"]
    assert not any(key.startswith("signing.selfHosted.notation") for key in out)
    assert not any(key.startswith("signing.dockerHub") for key in out)
    _, plain = _run(selfHosted={})
    assert not any(key.startswith("signing") for key in plain)


def test_given_keys_are_used_as_secrets_and_nothing_is_generated():
    signing = {
        "cosign": {"privateKey": KEY, "publicKey": PUB},
        "notation": {"privateKey": KEY, "certificateChain": CERT + CERT, "caCertificate": CERT},
    }
    mocks, out = _run(secret=True, selfHosted={"signing": signing})
    assert not [r for r in mocks.resources if "signing" in r.name and r.typ.startswith("tls:")]
    assert out["signing.selfHosted.cosign.privateKeyPem"].value == KEY
    assert out["signing.selfHosted.cosign.privateKeyPem"].secret
    assert out["signing.selfHosted.notation.privateKeyPem"].secret
    assert out["signing.selfHosted.cosign.publicKeyPem"].value == PUB
    assert not out["signing.selfHosted.cosign.publicKeyPem"].secret
    assert out["signing.selfHosted.notation.caCertificatePem"].value == CERT


def test_given_private_keys_in_plain_config_are_refused_naming_the_key():
    signing = {"cosign": {"privateKey": KEY, "publicKey": PUB}}
    with pytest.raises(ConfigError) as error:
        _run(selfHosted={"signing": signing})
    assert "registries:selfHosted.signing.cosign.privateKey" in error.value.paths
    assert KEY not in str(error.value)


@pytest.mark.parametrize(
    ("signing", "path", "words"),
    [
        ({}, "signing", "cosign: {}, notation: {}"),
        ({"cosign": {"privateKey": KEY}}, "signing.cosign.publicKey", "required with a given key pair"),
        (
            {"cosign": {"privateKey": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n"}},
            "signing.cosign.privateKey",
            "import-key-pair",
        ),
        ({"cosign": {"publicKey": "ssh-ed25519 AAAA"}}, "signing.cosign.publicKey", "BEGIN PUBLIC KEY"),
        ({"notation": {"privateKey": KEY, "caCertificate": CERT}}, "signing.notation.certificateChain", "required"),
        ({"notation": {"validityHours": 100, "caValidityHours": 10}}, "signing.notation.caValidityHours", "(100)"),
        ({"notation": {"validityHours": 0}}, "signing.notation.validityHours", "greater than or equal to 1"),
        ({"gpg": {}}, "signing.gpg", "unknown key"),
    ],
)
def test_bad_signing_config_names_the_key(signing: dict[str, Any], path: str, words: str):
    for kind, section in (("selfHosted", {"signing": signing}), ("dockerHub", {**HUB, "signing": signing})):
        with pytest.raises(ConfigError) as error:
            load_stack_spec({kind: section}, "dev")
        problem = next((p for p in error.value.problems if p.path == f"registries:{kind}.{path}"), None)
        assert problem is not None, (kind, error.value.paths)
        assert words in str(problem), str(problem)
        assert "MIGHAgEAMBMG" not in str(error.value)  # a private key is never echoed


def test_a_mirror_refuses_a_signing_block():
    mirror = {"name": "hub", "port": 5444, "mirror": {"upstream": "https://registry-1.docker.io"}}
    with pytest.raises(ConfigError) as error:
        load_stack_spec({"mirrors": [{**mirror, "signing": {"cosign": {}}}]}, "dev")
    assert "registries:mirrors[0].signing" in error.value.paths


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"cosign": {}}, "args.registry: required"),
        ({"registry": "r:5443"}, "args: give cosign, notation or both"),
        ({"registry": "r:5443", "cosign": {"private_key_pem": KEY}}, "args.cosign.public_key_pem: required"),
        ({"registry": "r:5443", "cosign": {"key": KEY}}, "args.cosign.key: unknown"),
        (
            {
                "registry": "r:5443",
                "cosign": {"private_key_pem": "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----", "public_key_pem": PUB},
            },
            "args.cosign.private_key_pem: cosign's encrypted key format",
        ),
        ({"registry": "r:5443", "notation": {"private_key_pem": KEY}}, "args.notation.certificate_chain_pem: required"),
        ({"registry": "r:5443", "notation": {"validity_hours": True}}, "args.notation.validity_hours: True"),
        (
            {"registry": "r:5443", "notation": {"validity_hours": 10, "ca_validity_hours": 5}},
            "args.notation.ca_validity_hours: 5",
        ),
        ({"registry": "r:5443", "notation": {"common_name": ""}}, "args.notation.common_name: ''"),
        ({"registry": "r:5443", "output_path": "a b", "cosign": {}}, "args.output_path: 'a b'"),
    ],
)
def test_component_refuses_bad_args_naming_them(args: dict[str, Any], words: str):
    with pytest.raises(ValueError, match="^" + words.replace("(", r"\(").replace(")", r"\)")):
        check_signing_args(args)  # type: ignore[arg-type]


def test_component_checks_before_declaring_anything():
    mocks = RecordingMocks()

    def program() -> dict[str, Any]:
        SigningKeys("lib", {"registry": "r:5443", "notation": {"private_key_pem": KEY}})  # type: ignore[typeddict-item]
        return {}

    with pytest.raises(ValueError, match=r"args\.notation\.certificate_chain_pem"):
        run_program(mocks, stack="dev", config={}, program=program)
    assert mocks.resources == []


def test_library_use_outputs_per_element_secrets():
    mocks = RecordingMocks()

    def program() -> dict[str, Any]:
        keys = SigningKeys("lib", {"registry": pulumi.Output.from_input("r:5443"), "cosign": {}})
        assert keys.cosign is not None
        assert keys.notation is None
        return {"private": keys.cosign["privateKeyPem"], "public": keys.cosign["publicKeyPem"]}

    out = run_program(mocks, stack="dev", config={}, program=program)
    assert out["private"].secret
    assert not out["public"].secret


CLOUD = {
    "ecr": {"region": "eu-west-1", "repositories": [{"name": "app"}]},
    "artifactRegistry": {"project": "acme-registries", "location": "europe-west1", "repositories": [{"name": "apps"}]},
    "acr": {
        "resourceGroup": {"name": "rg-registries"},
        "name": "AcmeRegistry01",
        "sku": "Standard",
        "repositories": [{"name": "app"}],
    },
}
CLOUD_IMAGES = {
    "ecr": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/<repository>@<digest>",
    "artifactRegistry": "europe-west1-docker.pkg.dev/acme-registries/<repository>@<digest>",
    "acr": "acmeregistry01.azurecr.io/<repository>@<digest>",
}


@pytest.mark.parametrize("kind", list(CLOUD))
def test_cloud_kinds_hand_out_keys_naming_images_as_their_platform_does(kind: str):
    """ECR, Artifact Registry and ACR take the same block: the commands name the images where the kind's
    `repositories` output says they are pushed, each private key a secret on its own."""
    sections: dict[str, Any] = {kind: {**CLOUD[kind], "signing": {"cosign": {}, "notation": {}}}}
    mocks, out = _run(**sections)
    root = f"signing.{kind}"
    assert out[f"{root}.cosign.privateKeyPem"].secret
    assert out[f"{root}.notation.privateKeyPem"].secret
    assert "PRIVATE KEY" in out[f"{root}.notation.privateKeyPem"].value
    assert not out[f"{root}.cosign.publicKeyPem"].secret
    assert not out[f"{root}.notation.certificateChainPem"].secret
    cosign, notation = out[f"{root}.cosign.commands"].value, out[f"{root}.notation.commands"].value
    assert cosign["sign"].endswith(f" --key cosign.key {CLOUD_IMAGES[kind]}")
    assert notation["sign"] == f"notation sign --key registries {CLOUD_IMAGES[kind]}"
    assert cosign["verify"].endswith(f" --key cosign.pub {CLOUD_IMAGES[kind]}")
    # <repository> is a name the kind's own output turns into an image: the registry part is the same.
    (pushed,) = out[kind].value["repositories"].values()
    assert pushed.rsplit("/", 1)[0] + "/<repository>@<digest>" == CLOUD_IMAGES[kind]
    assert f"jq -r '.{kind}.cosign.privateKeyPem' > cosign.pem" in cosign["saveKeys"]
    made = sorted(r.name for r in mocks.of_type(PRIVATE_KEY) if "signing" in r.name)
    prefix = {"ecr": "ecr", "artifactRegistry": "artifact-registry", "acr": "acr"}[kind]
    assert made == [
        f"{prefix}-signing-cosign-key",
        f"{prefix}-signing-notation-ca-key",
        f"{prefix}-signing-notation-key",
    ]


@pytest.mark.parametrize("kind", list(CLOUD))
def test_cloud_kinds_refuse_a_plain_private_key_and_bad_blocks_naming_the_key(kind: str):
    given = {"cosign": {"privateKey": KEY, "publicKey": PUB}}
    sections: dict[str, Any] = {kind: {**CLOUD[kind], "signing": given}}
    with pytest.raises(ConfigError) as error:
        _run(**sections)
    assert f"registries:{kind}.signing.cosign.privateKey" in error.value.paths
    assert "MIGHAgEAMBMG" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_stack_spec({kind: {**CLOUD[kind], "signing": {}}}, "dev")
    assert f"registries:{kind}.signing" in error.value.paths


LIBRARY: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "ecr": (ecr_args, EcrRegistry),
    "artifactRegistry": (artifact_registry_args, ArtifactRegistry),
    "acr": (acr_args, Acr),
}
RETENTIONS = {  # a rule set each platform expresses unsigned, and the rule a signing block makes it refuse
    "ecr": ({"protect": ["v*"], "keepLatest": [{"tag": "*", "count": 5}]}, "keepLatest[0]"),
    "artifactRegistry": ({"protect": ["v*"], "taggedDays": 30}, "taggedDays"),
    "acr": ({"taggedDays": 180, "untaggedDays": 7}, "untaggedDays"),
}


@pytest.mark.parametrize("kind", list(CLOUD))
def test_a_signing_block_refuses_retention_the_platform_cannot_keep_signatures_through(kind: str):
    """Signed repositories hold sha256-<digest>.sig tags and referrers; no ECR, Artifact Registry or ACR rule that
    deletes keeps them exactly as long as their subject (components/retention/*.py REFERRERS_WHY): refused, naming
    the rule, in the config and in the component. Without the signing block the same retention is accepted."""
    retention, rule = RETENTIONS[kind]
    section = {**CLOUD[kind], "repositories": [{"name": "app", "retention": retention}]}
    load_stack_spec({kind: section}, "dev")  # accepted unsigned
    with pytest.raises(ConfigError) as error:
        load_stack_spec({kind: {**section, "signing": {"cosign": {}}}}, "dev")
    (problem,) = error.value.problems
    assert problem.path == f"registries:{kind}.repositories[0].retention.{rule}"
    assert "hold signatures, attestations or SBOMs" in str(problem)
    # The mapping tells the component; a library user's args with signed_images, the same refusal before anything
    # is declared.
    to_args, component = LIBRARY[kind]
    signed_spec = load_stack_spec({kind: {**CLOUD[kind], "signing": {"cosign": {}}}}, "dev")
    attribute = {"artifactRegistry": "artifact_registry"}.get(kind, kind)
    assert to_args(getattr(signed_spec, attribute), False).get("signed_images") is True
    assert "signed_images" not in to_args(getattr(load_stack_spec({kind: section}, "dev"), attribute), False)
    args: Any = {**to_args(getattr(load_stack_spec({kind: section}, "dev"), attribute), False), "signed_images": True}
    mocks = RecordingMocks()

    def program() -> dict[str, Any]:
        component("signed", args)
        return {}

    with pytest.raises(ValueError, match=r"repositories\[0\]\.retention.*hold signatures, attestations"):
        run_program(mocks, stack="dev", config={}, program=program)
    assert mocks.resources == []
