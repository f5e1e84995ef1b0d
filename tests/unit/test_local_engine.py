"""The local engine itself: loud on unknown types, stateful like the Pulumi engine, faithful TLS and random."""

from __future__ import annotations

import ipaddress

import bcrypt
import pulumi
import pytest
from cryptography import x509

from tests.support.engine_tls import issue_chain
from tests.support.local_engine import LocalEngine
from tests.support.pulumi_runtime import unwrap


def _args(typ: str, name: str, inputs: dict) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(typ=typ, name=name, inputs=inputs, custom=True)


def test_unknown_resource_type_fails_loudly():
    with pytest.raises(NotImplementedError, match="no backend applies resources of type gcp:"):
        LocalEngine().new_resource(_args("gcp:artifactregistry/repository:Repository", "r", {}))


def test_unchanged_inputs_keep_outputs_changed_inputs_replace_and_dropped_ones_delete():
    engine = LocalEngine()
    engine.begin_run()
    first = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 20}))
    engine.end_run()
    password = unwrap(first[1]["result"])
    assert len(password) == 20
    assert bcrypt.checkpw(password.encode(), unwrap(first[1]["bcryptHash"]).encode())

    engine.begin_run()
    assert engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 20})) == first
    engine.end_run()
    assert engine.changed() == []

    engine.begin_run()
    longer = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", {"length": 24}))
    engine.end_run()
    assert len(unwrap(longer[1]["result"])) == 24
    assert engine.changed() == [("replace", "random:index/randomPassword:RandomPassword", "pw")]

    engine.begin_run()
    engine.end_run()
    assert engine.changed() == [("delete", "random:index/randomPassword:RandomPassword", "pw")]


def test_password_honours_character_classes():
    engine = LocalEngine()
    inputs = {"length": 40, "special": True, "overrideSpecial": "-_", "minUpper": 3, "minNumeric": 3}
    _, outs = engine.new_resource(_args("random:index/randomPassword:RandomPassword", "pw", inputs))
    result = unwrap(outs["result"])
    assert set(result) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert sum(c.isupper() for c in result) >= 3
    assert sum(c.isdigit() for c in result) >= 3


@pytest.mark.parametrize(
    "algorithm",
    [{"algorithm": "ECDSA", "ecdsaCurve": "P256"}, {"algorithm": "RSA", "rsaBits": 2048}, {"algorithm": "ED25519"}],
)
def test_locally_signed_certificate_chains_to_the_ca_with_sans_and_uses(algorithm):
    chain = issue_chain(algorithm, "localhost", ca_hours=10, cert_hours=5)
    cert, ca = chain["cert"], chain["ca"]
    issued = x509.load_pem_x509_certificate(cert["certPem"].encode())
    authority = x509.load_pem_x509_certificate(ca["certPem"].encode())
    issued.verify_directly_issued_by(authority)
    sans = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    eku = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert (issued.not_valid_after_utc - issued.not_valid_before_utc).total_seconds() == 5 * 3600
