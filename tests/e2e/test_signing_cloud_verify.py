"""`registryctl verify`'s signing check on ECR, Artifact Registry and ACR (issue 27), with the real cosign and notation
(scripts/signing-toolchain.sh) and the keys the program makes for a `signing:` block on each kind.

Stand-ins, because no cloud registry is reachable here (tests/support/cloud_data_plane.py): the data plane is
distribution 3 on loopback behind a CONNECT proxy, answering for the cloud host with a certificate naming it; the
control plane is what verify calls to log in and delete: boto3's ECR client (GetAuthorizationToken,
BatchDeleteImage), `gcloud artifacts docker images delete` and `docker-credential-gcloud`, `az acr login` and
`az acr repository delete`, each acting on that registry as the platform documents. The probe is pushed over the
registry API (`docker push`'s requests), since the Docker daemon does not use the test's proxy.

What a user checks: the line says the probe was signed with the stack's keys and verified by both tools, the tools
reached the registry under its cloud name with the credentials verify logged in with (a token in docker's config,
the gcloud credential helper, `az acr login`), and nothing is left in the registry afterwards: not the probe, not
cosign's `.sig` tag, not notation's signature nor its referrers index; also when verification fails."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.selfhosted.versions import DISTRIBUTION_3_VERSION
from registryctl import cloud_registries as cloud
from registryctl.access import _cloud_signer
from registryctl.registry_client import ProbeImage
from registryctl.signing_check import SigningCheckFailed, check_signing_locally, write_ca_bundle
from tests.e2e.test_signing_e2e import _signing_bin
from tests.support.cloud_data_plane import ENV, ConnectProxy, DataPlane, EcrApi, install_tools, start_data_plane
from tests.support.engine_tls import RealTlsMocks, apply_tls
from tests.support.images import go_registry_binary
from tests.support.pulumi_runtime import run_program
from tests.unit.test_signing_keys import CLOUD, _flatten

USERS = {"ecr": "AWS", "artifactRegistry": "oauth2accesstoken", "acr": "00000000-0000-0000-0000-000000000000"}


@pytest.fixture(scope="module")
def stack_outputs() -> dict[str, Any]:
    """The three kinds' outputs and `signing`, as the program exports them for `signing: {cosign, notation}` on each
    (leaves flattened to come back with their own secretness, then put together as `pulumi stack output` does)."""
    from registries.program import declare, load_spec

    def program() -> dict[str, Any]:
        outputs = dict(declare(load_spec()))
        flat: dict[str, Any] = {}
        _flatten("signing", outputs.pop("signing"), flat)
        return {**outputs, **flat}

    hub = {"dockerHub": {"namespace": "acme", "username": "acmebot"}}
    sections = {kind: {**spec, "signing": {"cosign": {}, "notation": {}}} for kind, spec in {**CLOUD, **hub}.items()}
    config = {f"registries:{kind}": json.dumps(spec) for kind, spec in sections.items()}
    outputs = run_program(RealTlsMocks(), stack="dev", config=config, program=program)
    assert outputs["signing.ecr.cosign.privateKeyPem"].secret  # the keys verify signs with are the stack's secrets
    result: dict[str, Any] = {"signing": {}}
    for name, output in outputs.items():
        if not name.startswith("signing."):
            result[name] = output.value
            continue
        node = result
        *path, leaf = name.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = output.value
    return result


@pytest.fixture(scope="module")
def registry_binary() -> Path:
    return go_registry_binary(DISTRIBUTION_3_VERSION)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH: the platform CLI stand-ins, cosign and notation (the real ones, behind wrappers that record their argv
    in <bin>/<tool>.argv.jsonl), python3's directory."""
    bin_dir = tmp_path / "bin"
    install_tools(bin_dir)
    signing = _signing_bin()
    for tool in ("cosign", "notation"):
        wrapper = bin_dir / tool
        dump = shlex.quote("import json,sys; print(json.dumps(sys.argv[1:]))")
        log = shlex.quote(f"{bin_dir / tool}.argv.jsonl")
        record = f'{shlex.quote(sys.executable)} -c {dump} "$@" >> {log}'
        wrapper.write_text(f'#!/bin/sh\n{record}\nexec {shlex.quote(str(signing / tool))} "$@"\n')
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent)]))
    return bin_dir


def _tool_argv(bin_dir: Path, tool: str) -> list[list[str]]:
    path = bin_dir / f"{tool}.argv.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _host(outputs: dict[str, Any], kind: str) -> str:
    return str(next(iter(outputs[kind]["repositories"].values()))).split("/", 1)[0]


@pytest.fixture
def plane(
    request: pytest.FixtureRequest,
    stack_outputs: dict[str, Any],
    registry_binary: Path,
    tmp_path: Path,
    tools: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DataPlane]:
    kind = request.param
    data_plane = start_data_plane([_host(stack_outputs, kind)], USERS[kind], tmp_path / "plane", registry_binary)
    try:
        bundle = write_ca_bundle(tmp_path / "ca-bundle.pem", data_plane.ca_pem)
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name, value in data_plane.environment(bundle).items():
            monkeypatch.setenv(name, value)
        # ECR: boto3 must find credentials (verify checks before pushing); nothing reaches AWS (EcrApi answers).
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLESTANDIN00")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setattr(cloud, "find_executable", lambda name: shutil.which(name, path=str(tools)))
        yield data_plane
    finally:
        data_plane.stop()


class _Probe:
    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.pushed: list[ProbeImage] = []

    def push_pull(self, repository: str, docker_config: Path | None = None) -> ProbeImage:
        image = self.plane.push_probe(repository)
        self.pushed.append(image)
        self.plane.proxy.tunnelled.clear()  # from here on, tunnels are the signing tools'
        return image


def _docker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def _verify(kind: str, outputs: dict[str, Any], docker_dir: Path, probe: _Probe, ecr: EcrApi) -> str:
    sign = _cloud_signer(outputs, kind, docker_dir)
    assert sign is not None
    if kind == "ecr":
        return cloud.ecr_verify(
            cloud.EcrOutputs.parse(outputs["ecr"]), docker_dir, probe, client_factory=lambda region: ecr, sign=sign
        )
    if kind == "artifactRegistry":
        parsed = cloud.ArtifactRegistryOutputs.parse(outputs[kind])
        return cloud.artifact_registry_verify(parsed, docker_dir, probe, sign=sign)
    return cloud.acr_verify(cloud.AcrOutputs.parse(outputs["acr"]), docker_dir, probe, sign=sign)


def _deleted(kind: str, plane: DataPlane, ecr: EcrApi) -> list[str]:
    """What verify asked the platform to delete, in order: tags and digests."""
    if kind == "ecr":
        return [i.get("imageTag") or i["imageDigest"] for call in ecr.deletes for i in call]
    targets = []
    for argv in plane.recorded_calls():
        if argv[0] == "gcloud" and "delete" in argv:
            targets.append(argv[5])
        elif argv[0] == "az" and "delete" in argv:
            targets.append(argv[argv.index("--image") + 1])
    return [t.rsplit("@", 1)[1] if "@" in t else t.rsplit(":", 1)[1] for t in targets]


@pytest.mark.parametrize("plane", list(CLOUD), indirect=True)
def test_verify_signs_the_probe_with_the_stack_s_keys_and_leaves_nothing_behind(
    plane: DataPlane, stack_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    kind = next(k for k in CLOUD if _host(stack_outputs, k) in plane.hosts)
    docker_dir = _docker_dir(tmp_path, monkeypatch)
    probe, ecr = _Probe(plane), EcrApi(plane)
    line = _verify(kind, stack_outputs, docker_dir, probe, ecr)
    (image,) = probe.pushed
    stem = image.digest.replace(":", "-")
    assert "signed it with the stack's keys and verified (cosign, notation)" in line
    assert line.endswith(
        "deleted it with its 3 signature tags and manifests in " + ("apps" if kind == "artifactRegistry" else "app")
    )
    assert plane.manifests() == {}, "verify left manifests in the registry"
    assert plane.tags() == {}
    if kind == "ecr":  # tags in a call of their own, first: ECR refuses a manifest an index still lists
        assert [[next(iter(i)) for i in call] for call in ecr.deletes] == [["imageTag"] * 2, ["imageDigest"] * 2]
    deleted = _deleted(kind, plane, ecr)
    # cosign's tag, notation's referrers index, notation's signature (untagged, by digest), then the probe.
    assert deleted[:2] == [f"{stem}.sig", stem]
    assert deleted[2].startswith("sha256:")
    assert deleted[2] != image.digest
    assert deleted[3:] == [image.digest]
    assert set(plane.proxy.tunnelled) == set(plane.hosts)  # cosign and notation reached it by its cloud name
    assert not [host for host in plane.proxy.refused if not host.endswith(":443")]
    # Keys and passwords never reach a command line: not the tools', not the platform CLIs'.
    tools = os.environ["PATH"].split(os.pathsep)[0]
    commands = _tool_argv(Path(tools), "cosign") + _tool_argv(Path(tools), "notation") + plane.recorded_calls()
    assert any(argv[:1] == ["sign"] for argv in commands)
    for argv in commands:
        assert plane.password not in " ".join(argv)
        assert "PRIVATE KEY" not in " ".join(argv)


@pytest.mark.parametrize("plane", ["ecr"], indirect=True)
def test_a_public_key_that_is_not_the_pair_s_fails_verify_and_still_leaves_nothing(
    plane: DataPlane, stack_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    other = apply_tls("tls:index/privateKey:PrivateKey", {"algorithm": "ECDSA", "ecdsaCurve": "P256"})[1]
    outputs = json.loads(json.dumps(stack_outputs))
    outputs["signing"]["ecr"]["cosign"]["publicKeyPem"] = other["publicKeyPem"]
    docker_dir = _docker_dir(tmp_path, monkeypatch)
    probe, ecr = _Probe(plane), EcrApi(plane)
    with pytest.raises(
        cloud.RegistryCtlError, match=r"^cosign verify failed \(exit 12\): Error: no matching signatures"
    ):
        _verify("ecr", outputs, docker_dir, probe, ecr)
    assert plane.manifests() == {}
    assert plane.tags() == {}
    (image,) = probe.pushed  # cosign had signed (its .sig went with the probe); notation never ran
    assert [i.get("imageTag") or i["imageDigest"] for call in ecr.deletes for i in call] == [
        image.digest.replace(":", "-") + ".sig",
        image.digest,
    ]


@pytest.mark.parametrize("plane", ["artifactRegistry"], indirect=True)
def test_a_notation_trust_store_without_the_signing_ca_fails_verify_and_still_leaves_nothing(
    plane: DataPlane, stack_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """notation fails after both tools pushed: cosign's tag, notation's index and signature all go with the probe."""
    outputs = json.loads(json.dumps(stack_outputs))
    other_ca = stack_outputs["signing"]["acr"]["notation"]["caCertificatePem"]  # a CA, but not this kind's
    outputs["signing"]["artifactRegistry"]["notation"]["caCertificatePem"] = other_ca
    docker_dir = _docker_dir(tmp_path, monkeypatch)
    probe, ecr = _Probe(plane), EcrApi(plane)
    with pytest.raises(cloud.RegistryCtlError, match=r"^notation verify failed \(exit 1\)"):
        _verify("artifactRegistry", outputs, docker_dir, probe, ecr)
    assert plane.manifests() == {}
    assert plane.tags() == {}
    assert len(_deleted("artifactRegistry", plane, ecr)) == 4  # .sig, index, signature, probe


@pytest.mark.parametrize("plane", ["acr"], indirect=True)
def test_a_signature_the_platform_refuses_to_delete_is_named_and_the_rest_still_goes(
    plane: DataPlane, stack_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`az acr repository delete` refused on cosign's tag: the index, the signature and the probe are still deleted,
    and the error names exactly what is left."""
    monkeypatch.setenv(ENV, json.dumps({**plane.settings(), "refuse": ".sig"}))
    docker_dir = _docker_dir(tmp_path, monkeypatch)
    probe, ecr = _Probe(plane), EcrApi(plane)
    with pytest.raises(cloud.RegistryCtlError) as raised:
        _verify("acr", stack_outputs, docker_dir, probe, ecr)
    (image,) = probe.pushed
    left = f"app:{image.digest.replace(':', '-')}.sig"
    assert f"deleting {left} failed" in str(raised.value)
    assert "PERMISSION_DENIED" in str(raised.value)
    assert str(raised.value).endswith("(3 of 4 deleted)")
    assert plane.tags() == {"app": [left.split(":", 1)[1]]}  # only what was refused
    assert len(plane.manifests()["app"]) == 1


@pytest.fixture
def offline(tools: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    """HTTPS_PROXY: a proxy that refuses every host and records it (the tools' only way off the machine)."""
    proxy = ConnectProxy([], 0)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("HOME", str(tools.parent / "home"))
    try:
        yield proxy
    finally:
        proxy.close()


def test_docker_hub_keys_sign_a_local_probe_and_verify_with_no_registry(
    stack_outputs: dict[str, Any], offline: ConnectProxy, tools: Path
):
    """Docker Hub's verify pushes nothing: the keys sign a probe in an OCI layout, and both tools verify it."""
    signing = stack_outputs["signing"]["dockerHub"]
    assert check_signing_locally(signing, "docker.io/acme/registryctl-verify", "dockerHub") == ["cosign", "notation"]
    assert [argv[0] for argv in _tool_argv(tools, "cosign")] == ["import-key-pair", "sign-blob", "verify-blob"]
    assert "--oci-layout" in _tool_argv(tools, "notation")[-1]
    for argv in _tool_argv(tools, "cosign") + _tool_argv(tools, "notation"):
        assert "PRIVATE KEY" not in " ".join(argv)
    # Only Sigstore's TUF repository was tried (cosign, offline here); no registry, no Docker Hub.
    assert {host.split(":")[0] for host in offline.refused} <= {"tuf-repo-cdn.sigstore.dev"}


@pytest.mark.parametrize(
    ("part", "fails_at"),
    [(("cosign", "publicKeyPem"), "cosign verify-blob"), (("notation", "caCertificatePem"), "notation verify")],
)
def test_docker_hub_keys_that_are_not_a_pair_fail_naming_the_step(
    stack_outputs: dict[str, Any], offline: ConnectProxy, part: tuple[str, str], fails_at: str
):
    signing = json.loads(json.dumps(stack_outputs["signing"]["dockerHub"]))
    tool, key = part
    signing[tool][key] = stack_outputs["signing"]["ecr"][tool][key]  # a real key or CA, of another kind
    with pytest.raises(SigningCheckFailed, match=rf"^{fails_at} failed \(exit \d+\)"):
        check_signing_locally(signing, "docker.io/acme/registryctl-verify", "dockerHub")
