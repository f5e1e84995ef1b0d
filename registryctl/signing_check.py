"""verify's signing check: when a stack hands out signing keys (output `signing.<kind>`), the probe image is signed
with the stack's private keys and must verify against the stack's public parts, with the real `cosign` and
`notation` on PATH, the way CI would use them (components/signing.py's commands, without a shell).

Everything runs in a private temporary directory (mode 0700, removed afterwards): the keys, cosign's encrypted copy
of its key (a one-time password), notation's configuration (XDG_CONFIG_HOME) and trust store. The user's own docker
credentials are used read-only through DOCKER_CONFIG (with HOME and the rest of the environment kept, for credential
helpers); nothing of ~/.sigstore or ~/.config/notation is read or written. No key reaches argv, stdout or an error
message."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.signing_names import (
    COSIGN_SIGN_FLAGS,
    COSIGN_VERIFY_FLAGS,
    NOTATION_KEY,
    TRUST_STORE,
    notation_registry,
)
from registryctl.errors import RegistryCtlError

INSTALL = {
    "cosign": "go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5",
    "notation": "go install github.com/notaryproject/notation/cmd/notation@v1.3.2",
}


@dataclass(frozen=True)
class RegistryAccess:
    """How the tools reach the registry: docker's config directory (credentials and credential helpers, read by
    cosign and, when its own configuration holds none, by notation), optionally a user and password for notation
    (NOTATION_USERNAME/NOTATION_PASSWORD, taking precedence), and a CA to trust besides the system's (the stack's
    self-signed one)."""

    docker_config: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_pem: str | None = None


class SigningCheckFailed(RegistryCtlError):
    """The probe could not be signed, or its signature did not verify against the stack's public key."""


def _tool(name: str, kind: str, search_path: str | None) -> str:
    found = shutil.which(name, path=search_path)
    if found is None:
        raise SigningCheckFailed(
            f"the stack declares signing.{kind}.{name} but `{name}` is not on PATH: install it ({INSTALL[name]}) "
            "to check that the stack's keys sign and verify"
        )
    return found


_MAY_REMAIN = "the registry may still hold "


def _run(argv: list[str], env: Mapping[str, str], what: str, cwd: Path, may_remain: str | None = None) -> str:
    """Run a tool; a failure raises SigningCheckFailed naming the step (and what it may have pushed already)."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        remains = f"; {_MAY_REMAIN}{may_remain}" if may_remain else ""
        raise SigningCheckFailed(f"{what}: no answer in 300 s{remains}") from None
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        # cosign warns first that it could not reach Sigstore's TUF repository (offline, as here): not the cause.
        errors = [line for line in lines if line.startswith(("Error", "error"))] or lines[-3:]
        remains = f"; {_MAY_REMAIN}{may_remain}" if may_remain else ""
        raise SigningCheckFailed(f"{what} failed (exit {done.returncode}): {' / '.join(errors[:2])}{remains}")
    return done.stdout + done.stderr


def _private_file(path: Path, text: str) -> Path:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    return path


def _environment(work: Path, access: RegistryAccess) -> dict[str, str]:
    """The user's environment (HOME, proxies, the session bus a docker credential helper may need), with the tools'
    own state moved into `work` and none of the user's COSIGN_* / NOTATION_* settings."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("COSIGN_", "NOTATION_"))}
    env = {
        **inherited,
        "XDG_CONFIG_HOME": str(work / "config"),  # notation's signingkeys.json, trust store and policy
        "XDG_CACHE_HOME": str(work / "cache"),
        "TUF_ROOT": str(work / "tuf"),  # never the user's ~/.sigstore
        "DOCKER_CONFIG": str(access.docker_config),
    }
    if access.ca_pem:
        env["SSL_CERT_FILE"] = str(write_ca_bundle(work / "ca-bundle.pem", access.ca_pem))
    return env


def write_ca_bundle(path: Path, ca_pem: str) -> Path:
    """The system's trusted CAs plus `ca_pem` (a stack's self-signed CA) at `path`, for SSL_CERT_FILE: cosign and
    notation trust only the system store."""
    system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    path.write_text((system.read_text() if system.is_file() else "") + "\n" + ca_pem)
    return path


NOTATION_LISTED = re.compile(r"^\s+[├└]── (sha256:[0-9a-f]{64})$", re.MULTILINE)
"""A signature's manifest digest in `notation ls` output: a tree under the subject (notation 1.3, list.go)."""


def subject_tag(image: str) -> str:
    """`sha256-<hex>` for `<repository>@sha256:<hex>`: the stem of cosign's tags and the OCI referrers tag."""
    return image.rsplit("@", 1)[1].replace(":", "-", 1)


def _cosign_keys(cosign: Mapping[str, Any], kind: str, work: Path, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """cosign, with the stack's key pair in `work`: cosign.pub, and probe.key (the private key in cosign's encrypted
    format, which `cosign sign --key` wants) under a one-time password in the returned environment."""
    tool = _tool("cosign", kind, env.get("PATH", ""))
    _private_file(work / "cosign.pem", str(cosign["privateKeyPem"]))
    (work / "cosign.pub").write_text(str(cosign["publicKeyPem"]))
    env = {**env, "COSIGN_PASSWORD": secrets.token_urlsafe(24)}  # only for the encrypted copy, removed with `work`
    _run([tool, "import-key-pair", "--key", "cosign.pem", "--output-key-prefix", "probe"], env, "cosign import", work)
    return tool, env


def _check_cosign(
    cosign: Mapping[str, Any], image: str, kind: str, work: Path, env: dict[str, str], created: list[str]
) -> None:
    tool, env = _cosign_keys(cosign, kind, work, env)
    signature = f"{subject_tag(image)}.sig"  # cosign 2's tag scheme (no OCI 1.1 mode asked for)
    _run([tool, "sign", *COSIGN_SIGN_FLAGS.split(), "--key", "probe.key", image], env, "cosign sign", work, signature)
    created.append(signature)
    verified = _run(
        [tool, "verify", *COSIGN_VERIFY_FLAGS.split(), "--key", "cosign.pub", image], env, "cosign verify", work
    )
    digest = image.rsplit("@", 1)[1]
    if f'"docker-manifest-digest":"{digest}"' not in verified.replace(" ", ""):
        raise SigningCheckFailed(f"cosign verify did not name the probe's digest {digest}")


def _notation_keys(notation: Mapping[str, Any], kind: str, work: Path, env: dict[str, str]) -> str:
    """notation, configured in `work` (XDG_CONFIG_HOME) with the stack's key, chain, CA and trust policy."""
    tool = _tool("notation", kind, env.get("PATH", ""))
    key = _private_file(work / "notation-key.pem", str(notation["privateKeyPem"]))
    chain = work / "notation-chain.pem"
    chain.write_text(str(notation["certificateChainPem"]))
    (work / "notation-ca.pem").write_text(str(notation["caCertificatePem"]))
    (work / "trustpolicy.json").write_text(str(notation["trustPolicyJson"]))
    config = Path(env["XDG_CONFIG_HOME"]) / "notation"
    config.mkdir(parents=True)
    keys = {"default": NOTATION_KEY, "keys": [{"name": NOTATION_KEY, "keyPath": str(key), "certPath": str(chain)}]}
    (config / "signingkeys.json").write_text(json.dumps(keys))
    _run([tool, "cert", "add", "--type", "ca", "--store", TRUST_STORE, "notation-ca.pem"], env, "notation cert", work)
    _run([tool, "policy", "import", "--force", "trustpolicy.json"], env, "notation policy import", work)
    return tool


def _check_notation(
    notation: Mapping[str, Any], image: str, kind: str, work: Path, env: dict[str, str], created: list[str]
) -> None:
    tool = _notation_keys(notation, kind, work, env)
    target = notation_registry(image)
    # notation 1.x stores signatures with the referrers tag schema by default (--force-referrers-tag=true): the
    # signature manifest, untagged, then the index tagged sha256-<hex> that lists it; `notation ls` names the former.
    index = subject_tag(image)
    maybe = f"its signature manifest and the index {index}"
    _run([tool, "sign", "--key", NOTATION_KEY, target], env, "notation sign", work, maybe)
    created.append(index)
    unlisted = "its signature manifest (untagged; `notation ls` lists it)"
    listed = NOTATION_LISTED.findall(_run([tool, "ls", target], env, "notation ls", work, unlisted))
    if not listed:
        raise SigningCheckFailed(f"notation ls listed no signature of {target}; {_MAY_REMAIN}{unlisted}")
    created.extend(listed)
    verified = _run([tool, "verify", target], env, "notation verify", work)
    if f"Successfully verified signature for {target}" not in verified:
        raise SigningCheckFailed(f"notation verify did not report {target} as verified")


def check_signing(
    signing: Mapping[str, Any], image: str, kind: str, access: RegistryAccess, created: list[str] | None = None
) -> list[str]:
    """Sign `image` (<registry>/<repository>@<digest>) with each tool the stack's `signing.<kind>` output holds keys
    for and verify it with the public parts; returns the tools checked. Raises SigningCheckFailed naming the step.

    `created` receives, as each signature is pushed, what it added to the image's repository (a tag, or a manifest
    digest `sha256:...`), also when a later step fails: what a caller that deletes the probe must delete with it."""
    checked: list[str] = []
    created = [] if created is None else created
    with tempfile.TemporaryDirectory(prefix="registryctl-signing-") as directory:
        work = Path(directory)  # mkdtemp: mode 0700
        env = _environment(work, access)
        if signing.get("cosign"):
            _check_cosign(signing["cosign"], image, kind, work, env, created)
            checked.append("cosign")
        if signing.get("notation"):
            notation_env = dict(env)
            if access.username is not None and access.password is not None:
                notation_env.update(NOTATION_USERNAME=access.username, NOTATION_PASSWORD=access.password)
            _check_notation(signing["notation"], image, kind, work, notation_env, created)
            checked.append("notation")
    return checked


def _layout_probe(layout: Path) -> tuple[Path, str]:
    """A generated one-layer image in an OCI image layout at `layout`: (its manifest file, its digest)."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(content: bytes, media_type: str) -> dict[str, Any]:
        digest = hashlib.sha256(content).hexdigest()
        (blobs / digest).write_bytes(content)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(content)}

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:  # one file of random bytes: a probe no other image equals
        content = os.urandom(256)
        member = tarfile.TarInfo("probe")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    diff_id = "sha256:" + hashlib.sha256(layer.getvalue()).hexdigest()  # uncompressed: the layer's own digest
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(layer.getvalue(), "application/vnd.oci.image.layer.v1.tar")],
    }
    described = blob(json.dumps(manifest).encode(), str(manifest["mediaType"]))
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [described]}
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(json.dumps(index))
    return blobs / described["digest"].split(":", 1)[1], described["digest"]


def check_signing_locally(signing: Mapping[str, Any], scope: str, kind: str) -> list[str]:
    """Sign a generated probe image with each tool the stack's `signing.<kind>` output holds keys for and verify it
    with the public parts, with no registry: the image is in an OCI layout in the private work directory. cosign 2
    signs images only in a registry, so it signs the probe's manifest (sign-blob / verify-blob, the same key pair and
    algorithm); notation signs the image in the layout (`--oci-layout`, experimental in notation 1.x) and verifies it
    under the trust policy's scope `scope`. Returns the tools checked; raises SigningCheckFailed naming the step."""
    checked: list[str] = []
    with tempfile.TemporaryDirectory(prefix="registryctl-signing-") as directory:
        work = Path(directory)  # mkdtemp: mode 0700
        env = _environment(work, RegistryAccess(work / "docker"))  # no registry: no credentials to read
        manifest, digest = _layout_probe(work / "probe")
        if signing.get("cosign"):
            tool, cosign_env = _cosign_keys(signing["cosign"], kind, work, env)
            sign = [tool, "sign-blob", *COSIGN_SIGN_FLAGS.split(), "--key", "probe.key"]
            _run([*sign, "--output-signature", "probe.sig", str(manifest)], cosign_env, "cosign sign-blob", work)
            verify = [tool, "verify-blob", *COSIGN_VERIFY_FLAGS.split(), "--key", "cosign.pub"]
            verified = _run([*verify, "--signature", "probe.sig", str(manifest)], env, "cosign verify-blob", work)
            if "Verified OK" not in verified:
                raise SigningCheckFailed("cosign verify-blob did not report the probe's manifest as verified")
            checked.append("cosign")
        if signing.get("notation"):
            tool = _notation_keys(signing["notation"], kind, work, env)
            layout_env = {**env, "NOTATION_EXPERIMENTAL": "1"}  # --oci-layout is experimental in notation 1.x
            target = f"probe@{digest}"
            _run([tool, "sign", "--oci-layout", "--key", NOTATION_KEY, target], layout_env, "notation sign", work)
            verify = [tool, "verify", "--oci-layout", "--scope", scope, target]
            verified = _run(verify, layout_env, "notation verify", work)
            if f"Successfully verified signature for {target}" not in verified:
                raise SigningCheckFailed(f"notation verify did not report the probe {target} as verified")
            checked.append("notation")
    return checked
