"""Signed images end to end on the self-hosted registry (issue 27): the stack's `signing` block makes the keys, and the
real cosign and notation (scripts/signing-toolchain.sh, REGISTRIES_SIGNING_BIN) sign a pushed image with them, attach
an SPDX SBOM attestation, and verify both, running the commands the stack outputs as a user would paste them.

No transparency log or network: cosign signs with --tlog-upload=false and verifies with --insecure-ignore-tlog, as
the output commands say. The registry's TLS CA reaches both tools as SSL_CERT_FILE, its credentials as DOCKER_CONFIG.
The keys come from the local engine's pulumi-tls stand-in (tests/support/engine_tls.py, real keys made with
`cryptography`), so what cosign and notation accept here is what the program asks pulumi-tls for."""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from registryctl.access import _signing_checked
from registryctl.registry_client import PROBE_REPOSITORY
from registryctl.signing_check import SigningCheckFailed, write_ca_bundle
from registryctl.stack_files import PROJECT_DIR
from tests.e2e.conftest import REGISTRY_VERSIONS, Deployment
from tests.e2e.test_retention_apply import Scenario, _push_image, _volume_bytes, _wait_until_serving
from tests.support.fake_pulumi_cli import use_fake_pulumi

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
    ca_bundle = write_ca_bundle(tmp_path / "ca-bundle.pem", outputs["caCertPem"])
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


NOW = datetime(2026, 6, 1, tzinfo=UTC)
RETENTION = {"protect": ["v1"], "taggedDays": 30}
"""v1 (400 days old) is protected, old (100 days) expires, fresh (1 day) is kept by taggedDays."""


def _blob_digests(user: Any, auth: tuple[str, str], repository: str, tag: str) -> set[str]:
    """The blobs (config and layers) of the manifest under `tag`."""
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    manifest = user.api("GET", f"/v2/{repository}/manifests/{tag}", auth=auth, headers={"Accept": accept}).json()
    return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest.get("layers", []))}


@pytest.mark.parametrize("version", list(REGISTRY_VERSIONS))
def test_signed_images_verify_and_keep_their_signatures_through_retention_and_gc(
    deployment: Deployment,
    base_stack: tuple[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
) -> None:
    tools = _signing_bin()
    name, base_spec = base_stack
    spec = copy.deepcopy(base_spec)
    spec["image"] = REGISTRY_VERSIONS[version]
    spec["signing"] = {"cosign": {}, "notation": {"commonName": "registries e2e"}}
    spec["retention"] = RETENTION
    outputs = deployment.apply(name, spec)
    signing = outputs["signing"]["selfHosted"]
    assert deployment.outputs["signing"].secret  # the whole output carries the private keys (each one a secret)

    user = deployment.client(outputs)
    auth = next(iter(outputs["users"].items()))
    _wait_until_serving(user, auth)
    images = {
        tag: _push_image(user, auth, "app", [tag], NOW - timedelta(days=age))
        for tag, age in (("v1", 400), ("old", 100), ("fresh", 1))
    }
    endpoint = outputs["endpoint"]

    def ref(tag: str) -> str:
        return f"{endpoint}/app@{images[tag].image.digest}"

    def notation_ref(tag: str) -> str:  # notation names a loopback registry 127.0.0.1:<port> (localhost: plain HTTP)
        return ref(tag).replace("localhost:", "127.0.0.1:")

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
    shell.run(_fill(cosign_commands["importKey"], ref("v1")))
    assert not (work / "cosign.pem").exists(), "importKey leaves the plain key behind"
    assert (work / "cosign.key").read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    user_name, user_password = auth
    assert notation_commands["credentials"] == "export NOTATION_USERNAME=<user> NOTATION_PASSWORD=<password>"
    shell.env.update(NOTATION_USERNAME=user_name, NOTATION_PASSWORD=user_password)
    for step in ("addKey", "trust"):
        shell.run(notation_commands[step])
    for tag in ("v1", "old"):
        for step in ("sign", "attestSbom"):
            shell.run(_fill(cosign_commands[step], ref(tag)))
        shell.run(_fill(notation_commands["sign"], notation_ref(tag)))

    def verify(tag: str) -> None:
        digest = images[tag].image.digest
        verified = shell.run(_fill(cosign_commands["verify"], ref(tag)))
        assert f'"docker-manifest-digest":"{digest}"' in verified.stdout.replace(" ", "")
        attested = shell.run(_fill(cosign_commands["verifySbom"], ref(tag)))
        statement = json.loads(base64.b64decode(json.loads(attested.stdout.splitlines()[0])["payload"]))
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert statement["predicate"]["name"] == "signing-e2e"
        assert statement["subject"][0]["digest"] == {"sha256": digest.removeprefix("sha256:")}
        notation_ok = shell.run(_fill(notation_commands["verify"], notation_ref(tag)))
        assert f"Successfully verified signature for {notation_ref(tag)}" in notation_ok.stdout + notation_ok.stderr

    for tag in ("v1", "old"):
        verify(tag)

    # What the registry holds next to each image: cosign's tag scheme and, with no referrers API on distribution,
    # Notation's referrers-tag index: the artifacts retention must keep with their subject.
    def referrer_tags(tag: str) -> set[str]:
        hexdigest = images[tag].image.digest.removeprefix("sha256:")
        return {f"sha256-{hexdigest}.sig", f"sha256-{hexdigest}.att", f"sha256-{hexdigest}"}

    tags = set(user.api("GET", "/v2/app/tags/list", auth=auth).json()["tags"])
    assert tags == {"v1", "old", "fresh"} | referrer_tags("v1") | referrer_tags("old"), tags
    # Blobs only the expired image's signatures and attestation hold (cosign's payload and DSSE envelope layers).
    old_hex = images["old"].image.digest.removeprefix("sha256:")
    old_signature_blobs = {
        d for t in (f"sha256-{old_hex}.sig", f"sha256-{old_hex}.att") for d in _blob_digests(user, auth, "app", t)
    }
    kept_blobs = {
        d
        for t in referrer_tags("v1") - {t for t in referrer_tags("v1") if "." not in t}
        for d in _blob_digests(user, auth, "app", t)
    }
    old_signature_blobs -= kept_blobs  # cosign's empty config blob is shared
    assert len(old_signature_blobs) >= 2, old_signature_blobs  # the signature payload and the attestation envelope

    # A foreign key and an unsigned image fail verification.
    other = tmp_path / "other"
    other.mkdir()
    Shell(other, shell.env).run("cosign generate-key-pair --output-key-prefix cosign >/dev/null")
    assert Shell(other, shell.env).run(_fill(cosign_commands["verify"], ref("v1")), ok=False).returncode != 0
    assert shell.run(_fill(notation_commands["verify"], notation_ref("fresh")), ok=False).returncode != 0
    assert shell.run(_fill(cosign_commands["verify"], ref("fresh")), ok=False).returncode != 0

    # retention apply --yes, as a user runs it (the stack file with the retention block, its outputs served by the
    # `pulumi` stand-in), then gc.
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": {"registries:selfHosted": spec}}))
    secret = {"users", "dockerConfigJson", "signing"}
    use_fake_pulumi(tmp_path, monkeypatch, outputs={k: {"value": v, "secret": k in secret} for k, v in outputs.items()})
    scenario = Scenario(
        outputs, user, auth, list(images.values()), {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}, project, name, spec
    )
    scenario.run("retention", "apply", "-s", name, "--now", NOW.isoformat(), "--yes")
    assert scenario.manifest_status(images["old"].image) == 404
    assert scenario.tags("app") == {"v1", "fresh"} | referrer_tags("v1"), "old's signatures stay or v1's went"
    verify("v1")

    volume = str(outputs["volumeName"])
    before = _volume_bytes(deployment.docker_client, volume)
    scenario.run("gc", "-s", name)
    after = _volume_bytes(deployment.docker_client, volume)
    print(f"gc: volume {before} -> {after} bytes; old's layer {images['old'].layer_size}")
    assert before - after >= 0.95 * images["old"].layer_size
    _wait_until_serving(user, auth)
    for blob in old_signature_blobs:
        assert user.api("HEAD", f"/v2/app/blobs/{blob}", auth=auth).status_code == 404, f"gc kept {blob}"
    verify("v1")  # after gc too

    # `registryctl verify`'s signing check on the probe it pushed: signed with the stack's private keys, verified
    # with its public parts, by the real tools; a public key that is not the pair's fails naming the step.
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    probe = _push_image(user, auth, PROBE_REPOSITORY, ["registryctl-verify-e2e"], NOW)
    digest = probe.image.digest
    docker_dir = Path(shell.env["DOCKER_CONFIG"])
    line = _signing_checked(outputs, user_name, digest, docker_dir)
    assert line == "; signed it with the stack's keys and verified (cosign, notation)"
    probe_tags = set(user.api("GET", f"/v2/{PROBE_REPOSITORY}/tags/list", auth=auth).json()["tags"])
    hexdigest = digest.removeprefix("sha256:")
    assert {f"sha256-{hexdigest}.sig", f"sha256-{hexdigest}"} <= probe_tags  # cosign's and notation's artifacts
    stranger = (other / "cosign.pub").read_text()
    forged = {**outputs, "signing": {"selfHosted": {"cosign": {**signing["cosign"], "publicKeyPem": stranger}}}}
    with pytest.raises(SigningCheckFailed, match=r"^cosign verify failed \(exit \d+\): Error: no matching signatures"):
        _signing_checked(forged, user_name, digest, docker_dir)
    (tmp_path / "no-tools").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # a PATH that holds neither tool, on any machine
    with pytest.raises(SigningCheckFailed, match=r"signing.selfHosted.cosign but `cosign` is not on PATH: install"):
        _signing_checked(outputs, user_name, digest, docker_dir)
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
