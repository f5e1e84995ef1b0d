"""Signed images end to end on the self-hosted registry (issue 27): the stack's `signing` block makes the keys, and the
real cosign and notation (scripts/signing-toolchain.sh, REGISTRIES_SIGNING_BIN) sign a pushed image with them, attach
an SPDX SBOM attestation, and verify both, running the commands the stack outputs as a user would paste them.

No transparency log or network: cosign signs with --tlog-upload=false and verifies with --insecure-ignore-tlog, as
the output commands say. The registry's TLS CA reaches both tools as SSL_CERT_FILE, its credentials as DOCKER_CONFIG.
The keys come from the local engine's pulumi-tls stand-in (tests/support/engine_tls.py, real keys made with
`cryptography`), so what cosign and notation accept here is what the program asks pulumi-tls for."""

from __future__ import annotations

import copy
import json
import os
import shutil
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REGISTRY_VERSIONS, Deployment
from tests.e2e.test_retention_apply import _push_image, _wait_until_serving

PASSWORD = "e2e-cosign-password"
SBOM = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "signing-e2e",
    "documentNamespace": "https://example.invalid/spdx/signing-e2e",
    "creationInfo": {"created": "2026-06-01T00:00:00Z", "creators": ["Tool: registries-e2e"]},
    "packages": [{"name": "app", "SPDXID": "SPDXRef-app", "downloadLocation": "NOASSERTION"}],
}


def _signing_bin() -> Path:
    """The signing toolchain: missing is a failure, never a skip."""
    value = os.environ.get("REGISTRIES_SIGNING_BIN")
    if not value:
        pytest.fail(
            "REGISTRIES_SIGNING_BIN is not set: run `export REGISTRIES_SIGNING_BIN=$(bash scripts/signing-toolchain.sh"
            " | tail -n1)` (scripts/test.sh does)",
            pytrace=False,
        )
    path = Path(value)
    for tool in ("cosign", "notation"):
        if not os.access(path / tool, os.X_OK):
            pytest.fail(f"{path / tool} is missing: rebuild with scripts/signing-toolchain.sh", pytrace=False)
    return path


class Shell:
    """Runs the stack's output commands in one directory with the user's environment for the registry."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env

    def run(self, command: str, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if ok:
            assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done


def _environment(tmp_path: Path, outputs: dict[str, Any], tools: Path) -> dict[str, str]:
    ca_bundle = tmp_path / "ca-bundle.pem"
    system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    ca_bundle.write_text((system.read_text() if system.exists() else "") + outputs["caCertPem"])
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(outputs["dockerConfigJson"])
    return {
        "PATH": f"{tools}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # notation's configuration: signingkeys.json, trust store
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(docker_config),
        "SSL_CERT_FILE": str(ca_bundle),
        "COSIGN_PASSWORD": PASSWORD,
        "TUF_ROOT": str(tmp_path / "tuf"),  # never the user's ~/.sigstore
    }


def _fill(command: str, image: str) -> str:
    """The output command for `image` (<registry>/<repository>@<digest>): its placeholders filled in."""
    registry, _, reference = image.partition("/")
    assert command.count(f"{registry}/<repository>@<digest>") <= 1, command
    return command.replace("<password>", PASSWORD).replace("<repository>@<digest>", reference)


@pytest.mark.parametrize("version", list(REGISTRY_VERSIONS))
def test_cosign_and_notation_sign_attest_and_verify_with_the_stacks_keys(
    deployment: Deployment, base_stack: tuple[str, dict[str, Any]], tmp_path: Path, version: str
) -> None:
    tools = _signing_bin()
    name, base_spec = base_stack
    spec = copy.deepcopy(base_spec)
    spec["image"] = REGISTRY_VERSIONS[version]
    spec["signing"] = {"cosign": {}, "notation": {"commonName": "registries e2e"}}
    outputs = deployment.apply(name, spec)
    signing = outputs["signing"]["selfHosted"]
    assert deployment.outputs["signing"].secret  # the whole output carries the private keys (each one a secret)

    user = deployment.client(outputs)
    auth = next(iter(outputs["users"].items()))
    _wait_until_serving(user, auth)
    pushed = _push_image(user, auth, "app", ["v1"], datetime(2026, 6, 1, tzinfo=UTC)).image
    digest_hex = pushed.digest.removeprefix("sha256:")
    image = f"{outputs['endpoint']}/app@{pushed.digest}"

    work = tmp_path / "work"
    work.mkdir()
    shell = Shell(work, _environment(tmp_path, outputs, tools))
    # The files saveKeys writes (from `pulumi stack output`), here straight from the outputs.
    (work / "cosign.pem").write_text(signing["cosign"]["privateKeyPem"])
    (work / "cosign.pub").write_text(signing["cosign"]["publicKeyPem"])
    notation = signing["notation"]
    (work / "notation-key.pem").write_text(notation["privateKeyPem"])
    (work / "notation-chain.pem").write_text(notation["certificateChainPem"])
    (work / "notation-ca.pem").write_text(notation["caCertificatePem"])
    (work / "trustpolicy.json").write_text(notation["trustPolicyJson"])
    (work / "sbom.spdx.json").write_text(json.dumps(SBOM))

    cosign_commands, notation_commands = signing["cosign"]["commands"], notation["commands"]
    for step in ("importKey", "sign", "attestSbom"):
        shell.run(_fill(cosign_commands[step], image))
    assert not (work / "cosign.pem").exists(), "importKey leaves the plain key behind"
    assert (work / "cosign.key").read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    user_name, user_password = auth
    shell.env.update(NOTATION_USERNAME=user_name, NOTATION_PASSWORD=user_password)  # notation_commands["credentials"]
    assert notation_commands["credentials"] == "export NOTATION_USERNAME=<user> NOTATION_PASSWORD=<password>"
    # notation names a loopback registry 127.0.0.1:<port> (it talks plain HTTP to localhost:<port>).
    notation_image = image.replace("localhost:", "127.0.0.1:")
    for step in ("addKey", "sign", "trust"):
        shell.run(_fill(notation_commands[step], notation_image))

    verified = shell.run(_fill(cosign_commands["verify"], image))
    assert f'"docker-manifest-digest":"{pushed.digest}"' in verified.stdout.replace(" ", "")
    attested = shell.run(_fill(cosign_commands["verifySbom"], image))
    statement = json.loads(__import__("base64").b64decode(json.loads(attested.stdout.splitlines()[0])["payload"]))
    assert statement["predicateType"] == "https://spdx.dev/Document"
    assert statement["predicate"]["name"] == "signing-e2e"
    assert statement["subject"][0]["digest"] == {"sha256": digest_hex}
    notation_ok = shell.run(_fill(notation_commands["verify"], notation_image))
    assert f"Successfully verified signature for {notation_image}" in notation_ok.stdout + notation_ok.stderr

    # What the registry holds next to the image: cosign's tag scheme and, with no referrers API on distribution,
    # Notation's referrers-tag index (the artifacts retention must keep with their subject).
    tags = set(user.api("GET", "/v2/app/tags/list", auth=auth).json()["tags"])
    assert {"v1", f"sha256-{digest_hex}.sig", f"sha256-{digest_hex}.att", f"sha256-{digest_hex}"} <= tags, tags

    # And a verification fails as it should: another key, another image.
    other = tmp_path / "other"
    other.mkdir()
    shell_other = Shell(other, shell.env)
    shell_other.run("cosign generate-key-pair --output-key-prefix cosign >/dev/null")
    refused = shell_other.run(_fill(cosign_commands["verify"], image), ok=False)
    assert refused.returncode != 0, "cosign verified the image against a key that did not sign it"
    unsigned = _push_image(user, auth, "app", ["v2"], datetime(2026, 6, 2, tzinfo=UTC)).image
    unsigned_ref = f"{outputs['endpoint']}/app@{unsigned.digest}"
    unsigned_notation = unsigned_ref.replace("localhost:", "127.0.0.1:")
    assert shell.run(_fill(notation_commands["verify"], unsigned_notation), ok=False).returncode != 0
    assert shell.run(_fill(cosign_commands["verify"], unsigned_ref), ok=False).returncode != 0
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
