"""The library rework declares exactly what the spec-bound component declared: same resources, same inputs,
same options, same stack outputs, for the stack files and for variants covering every branch.

The snapshot was written by the component as it was BEFORE the rework (commit d9401f5); regenerate it only for
an intended change: `.venv/bin/python -m tests.unit.test_selfhosted_unchanged --write`. The users' passwords,
salts and htpasswd hashes are left out (components/selfhosted/users.py owns them; its tests pin them).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.pulumi_runtime import SecretKeepingMonitor, is_secret, run_program, unwrap, wrap_secret
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import STACK_FILES, stack_config

SNAPSHOT = Path(__file__).with_name("snapshots") / "selfhosted_declared.json"
# Secret config of the variants is given as a secret, as `pulumi config set --secret` would.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "s3-created": {"storage": {"kind": "s3", "bucket": "acme-registry-images", "region": "eu-west-1"}},
    "s3-created-kms-tuned": {
        "storage": {
            "kind": "s3",
            "bucket": "acme-registry-kms",
            "region": "eu-west-1",
            "encryption": "aws:kms",
            "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "rootDirectory": "/",
            "noncurrentVersionExpirationDays": 30,
            "abortIncompleteUploadDays": 3,
            "redirectDisable": True,
            "storageClass": "REDUCED_REDUNDANCY",
            "cache": "none",
            "deleteEnabled": False,
        }
    },
    "s3-existing-minio": {
        "image": "registry:3.0.0",
        "storage": {
            "kind": "s3",
            "create": False,
            "bucket": "minio-bucket",
            "region": "us-east-1",
            "regionEndpoint": "http://127.0.0.1:9000",
            "secure": False,
            "skipVerify": True,
            "encryption": "none",
            "accessKey": "minio-access-key",
            "secretKey": "minio-secret-key-value",
        },
    },
    "s3-existing-instance-role": {
        "storage": {"kind": "s3", "create": False, "bucket": "role-bucket", "region": "us-west-2", "v4Auth": False}
    },
    "host-network": {"networkMode": "host", "bindAddress": "0.0.0.0", "port": 5443, "debugPort": 6000},
    "plain-http": {
        "tls": {"mode": "none"},
        "insecure": True,
        "ui": {"enabled": True, "tls": False, "deleteImages": False, "title": "Plain (test)"},
        "log": {"level": "debug", "formatter": "logstash"},
    },
    "v3-rsa-ui-tls": {
        "image": "registry:3.0.0",
        "hostname": "registry.test.internal",
        "port": 6000,
        "volumeName": "explicit-volume",
        "tls": {
            "keyAlgorithm": "RSA",
            "extraDnsNames": ["registry.test.internal", "alt.test.internal", "registry"],
            "ipAddresses": ["127.0.0.1", "::1"],
            "minimumTls": "tls1.3",
            "validityHours": 100,
            "caValidityHours": 50,
            "earlyRenewalHours": 10,
        },
        "ui": {"enabled": True, "port": 9443, "catalogElementsLimit": 10, "showContentDigest": False},
        "catalogMaxEntries": 10,
        "storage": {"uploadPurging": {"enabled": False, "age": "1h", "interval": "2h", "dryRun": True}},
    },
    "given-passwords-and-hooks": {
        "name": "hooks",
        "users": [{"name": "ci", "password": "a-given-password-42"}, {"name": "admin"}],
        "passwordLength": 40,
        "notifications": [
            {
                "name": "audit",
                "url": "https://audit.example.com/events",
                "headers": {"X-Team": "platform", "A-First": "one"},
                "authorization": "Bearer hook-token",
            },
            {"name": "plain", "url": "http://127.0.0.1:9999/hook", "ignoredActions": ["pull", "mount"]},
        ],
        "protect": True,
    },
    "provided-tls-with-ui": {
        "hostname": "registry.example.com",
        "tls": {
            "mode": "provided",
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB-test\n-----END CERTIFICATE-----\n",
            "privateKey": "test-key-material",
            "caCertificate": "-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n",
        },
        "ui": {"enabled": True, "bindAddress": "0.0.0.0"},
    },
}


class OptionsMonitor(SecretKeepingMonitor):
    """Also records each resource's options (the SDK's mocks see only its inputs)."""

    def __init__(self, mocks: OptionsRecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        if request.custom:
            self.recording.options[f"{request.type} {request.name}"] = {
                "parent": request.parent.rsplit("::", 1)[-1],
                "protect": bool(request.protect),
                "retainOnDelete": bool(request.retainOnDelete),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "ignoreChanges": sorted(request.ignoreChanges),
                "dependencies": sorted(urn.rsplit("::", 1)[-1] for urn in request.dependencies),
            }
        return super().RegisterResource(request)


class OptionsRecordingMocks(RecordingMocks):
    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, dict[str, Any]] = {}

    def monitor(self) -> OptionsMonitor:
        return OptionsMonitor(self)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _redacted(value: Any, inside_secret: bool = False) -> Any:
    """Secret strings as a digest, secret lists and maps with their shape kept and their strings digested:
    the snapshot compares them without holding key-shaped text."""
    if is_secret(value):
        inner = value["value"]
        if isinstance(inner, (dict, list)):
            return {"secret-of": _redacted(inner, inside_secret=True)}
        return {"secret-sha256": _digest(inner)}
    if isinstance(value, dict):
        return {k: _redacted(v, inside_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, inside_secret) for v in value]
    if inside_secret and isinstance(value, str):
        return {"sha256": _digest(value)}
    return value


def _owned_by_users(typ: str, name: str) -> bool:
    """Passwords, salts and hashes come from components/selfhosted/users.py, which may change how it hashes
    (its own tests pin that); this snapshot pins everything around it."""
    return typ.startswith("random:") and ("-password-" in name or "-salt-" in name)


def _without_hashes(inputs: dict[str, Any]) -> dict[str, Any]:
    """A container's htpasswd upload reduced to its user names (the hashes are users.py's business)."""
    uploads = inputs.get("uploads")
    if uploads is None:
        return inputs
    # Per element, as the engine keeps them: only the htpasswd entry changes, each secret stays where it is.
    entries = []
    for entry in uploads:
        if unwrap(entry)["file"] == "/auth/htpasswd":
            names = "users: " + ",".join(line.split(":")[0] for line in unwrap(entry)["content"].splitlines())
            content = wrap_secret(names) if is_secret(entry["content"]) else names
            entries.append({**entry, "content": content})
        else:
            entries.append(entry)
    return {**inputs, "uploads": entries}


def _declared(stack: str, config: dict[str, str], secret_keys: list[str]) -> dict[str, Any]:
    mocks = OptionsRecordingMocks()
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
    # The component itself is left out: its type token is what the rework changes (with an alias).
    custom = [r for r in mocks.resources if not r.typ.startswith("registries:") and not _owned_by_users(r.typ, r.name)]
    resources = {f"{r.typ} {r.name}": _redacted(_without_hashes(r.inputs)) for r in custom}
    assert len(resources) == len(custom), "two resources with one type and name"
    return {
        "resources": resources,
        "options": {
            key: {**options, "dependencies": [d for d in options["dependencies"] if not _owned_by_users("random:", d)]}
            for key, options in mocks.options.items()
            if not _owned_by_users(*key.split(" ", 1))
        },
        "outputs": {
            key: {"secret": out.secret, "value": _redacted(wrap_secret(out.value) if out.secret else out.value)}
            for key, out in outputs.items()
        },
    }


def cases() -> dict[str, tuple[str, dict[str, str], list[str]]]:
    out = {f"stack-{path.name}": stack_config(path) for path in STACK_FILES}
    for name, section in VARIANTS.items():
        config = {"registries:selfHosted": json.dumps(section)}
        out[f"variant-{name}"] = ("local", config, list(config))
    return out


def snapshot() -> dict[str, Any]:
    return {case: _declared(*args) for case, args in sorted(cases().items())}


@pytest.mark.parametrize("case", sorted(cases()))
def test_declares_what_the_spec_bound_component_declared(case):
    expected = json.loads(SNAPSHOT.read_text())[case]
    actual = json.loads(json.dumps(_declared(*cases()[case])))
    assert sorted(actual["resources"]) == sorted(expected["resources"])
    for key, inputs in expected["resources"].items():
        assert actual["resources"][key] == inputs, key
    assert actual["options"] == expected["options"]
    assert actual["outputs"] == expected["outputs"]


@pytest.mark.parametrize("case", sorted(cases()))
def test_a_second_run_declares_identical_inputs(case):
    args = cases()[case]
    assert _declared(*args) == _declared(*args)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
