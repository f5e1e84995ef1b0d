"""`registryctl login|verify -s STACK` for ECR, on moto's ECR API (127.0.0.1, IAM enforcement on).

What moto answers is the control plane: GetAuthorizationToken (token shape, expiry), BatchDeleteImage, and
the images a push would leave (put_image). ECR's data plane (docker push/pull to *.dkr.ecr.*) does not exist
here: the probe is a recording stand-in (tests/support/recording_probe.py) that lands its image in moto
the way a push would. The stack is opened through the recording `pulumi` stand-in (boundary test).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registryctl.cli
from registryctl import cloud_registries as cloud
from registryctl.cli import EXIT_FAILED, main
from registryctl.registry_client import ProbeImage
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.moto_server import MotoServer, start_moto
from tests.support.recording_probe import RecordingProbe, fake_executable
from tests.support.registryctl_project import project_copy

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def ecr(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's ECR with the stack's two repositories; AWS credentials in the environment as a user's would be."""
    client = moto.client("ecr", REGION)
    for name in ("app", "worker"):
        client.create_repository(repositoryName=name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.admin_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.admin_secret)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup leaves 127.0.0.1
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    yield client
    for name in ("app", "worker"):
        client.delete_repository(repositoryName=name, force=True)


def _outputs(client: Any) -> dict[str, Any]:
    """The `ecr` stack output as the program exports it, built from what moto holds."""
    urls = {r["repositoryName"]: r["repositoryUri"] for r in client.describe_repositories()["repositories"]}
    registry = next(iter(urls.values())).split("/", 1)[0]
    return {
        "registry": registry,
        "repositories": dict(sorted(urls.items())),
        "loginCommand": f"aws ecr get-login-password --region {REGION} | docker login --username AWS "
        f"--password-stdin {registry}",
        "dockerConfigJson": json.dumps({"credHelpers": {registry: "ecr-login"}}),
        "lifecyclePolicies": {},
        "ciRoleArn": None,
    }


def _push_to_moto(client: Any) -> RecordingProbe:
    """A probe whose push lands a manifest in moto's repository, as docker push would in ECR."""

    def land(image: ProbeImage) -> None:
        host_and_path, tag = image.reference.rsplit(":", 1)
        repository = host_and_path.split("/", 1)[1]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {"digest": image.digest}})
        client.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag, imageDigest=image.digest)

    return RecordingProbe(on_push=land)


def _no_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloud, "find_executable", lambda name: None if name == cloud.ECR_HELPER else shutil.which(name))


def _docker_config(tmp_path: Path) -> Path:
    return tmp_path / "docker"


@pytest.fixture
def docker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = _docker_config(tmp_path)
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {"auth": "bWU6eA=="}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


# --- login ---------------------------------------------------------------------------------------------


def test_without_the_helper_login_stores_moto_s_authorization_token_for_the_registry(ecr, docker_dir, monkeypatch):
    _no_helper(monkeypatch)
    line = cloud.ecr_login(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir)
    expected = ecr.get_authorization_token(registryIds=[ACCOUNT])["authorizationData"][0]["authorizationToken"]
    written = json.loads((docker_dir / "config.json").read_text())
    assert written["auths"][HOST] == {"auth": expected}
    assert base64.b64decode(expected).decode().startswith("AWS:")  # ECR's user name is AWS
    assert written["auths"]["ghcr.io"] == {"auth": "bWU6eA=="}  # kept
    assert stat.S_IMODE((docker_dir / "config.json").stat().st_mode) == 0o600
    assert "token login (ecr:GetAuthorizationToken" in line
    assert base64.b64decode(expected).decode().split(":", 1)[1] not in line


def test_with_the_helper_on_path_login_writes_cred_helpers_and_no_secret(ecr, docker_dir, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_executable(bin_dir, cloud.ECR_HELPER)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(shutil.which('python3') or '/usr/bin/python3').parent}")
    line = cloud.ecr_login(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir)
    written = json.loads((docker_dir / "config.json").read_text())
    assert written["credHelpers"] == {HOST: "ecr-login"}
    assert set(written["auths"]) == {"ghcr.io"}
    assert "ecr-login credential helper" in line


def test_no_helper_and_no_aws_credentials_says_what_to_set(ecr, docker_dir, monkeypatch, tmp_path):
    _no_helper(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws of the machine's user
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    before = (docker_dir / "config.json").read_text()
    with pytest.raises(
        cloud.RegistryCtlError, match="no ECR credential helper and no AWS credentials: set AWS_PROFILE"
    ):
        cloud.ecr_login(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir)
    assert (docker_dir / "config.json").read_text() == before


def test_an_identity_without_get_authorization_token_gets_an_error_naming_the_permission(ecr, docker_dir, monkeypatch):
    # moto does not enforce IAM on ECR: AWS's AccessDenied answer comes from botocore's Stubber instead.
    from botocore.stub import Stubber

    _no_helper(monkeypatch)
    client = cloud.ecr_client(REGION)
    stubber = Stubber(client)
    message = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken"
    stubber.add_client_error("get_authorization_token", "AccessDeniedException", message)
    with stubber, pytest.raises(cloud.RegistryCtlError, match="your AWS identity needs ecr:GetAuthorizationToken"):
        cloud.ecr_login(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir, lambda region: client)


def test_the_registry_output_must_be_an_ecr_host():
    with pytest.raises(cloud.RegistryCtlError, match="not an ECR registry host"):
        cloud.EcrOutputs.parse({"registry": "ghcr.io", "repositories": {}})
    with pytest.raises(cloud.RegistryCtlError, match="run `up` first"):
        cloud.EcrOutputs.parse(None)


# --- verify --------------------------------------------------------------------------------------------


def test_verify_logs_in_first_pushes_pulls_and_deletes_only_its_probe(ecr, docker_dir, monkeypatch):
    _no_helper(monkeypatch)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {"digest": "sha256:" + "a" * 64}})
    ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")  # a user's image
    probe = _push_to_moto(ecr)
    line = cloud.ecr_verify(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir, probe)
    [push] = probe.pushes
    assert push.repository == f"{HOST}/app"  # the first declared repository
    assert HOST in push.docker_config["auths"]  # logged in before the push
    assert [i.get("imageTag") for i in ecr.list_images(repositoryName="app")["imageIds"]] == ["v1"]
    assert line == f"ECR {HOST}: pushed, pulled and deleted {push.image.digest} in app"


def test_verify_deletes_the_probe_even_when_the_pull_fails(ecr, docker_dir, monkeypatch):
    _no_helper(monkeypatch)
    probe = _push_to_moto(ecr)
    probe.fail_pull = "`docker pull` failed: manifest unknown"
    with pytest.raises(cloud.RegistryCtlError, match="manifest unknown"):
        cloud.ecr_verify(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir, probe, repository="worker")
    assert probe.pushes[0].repository == f"{HOST}/worker"
    assert ecr.list_images(repositoryName="worker")["imageIds"] == []


def test_verify_of_an_unknown_repository_names_the_declared_ones(ecr, docker_dir, monkeypatch):
    _no_helper(monkeypatch)
    with pytest.raises(cloud.RegistryCtlError, match="no repository 'api' in the stack; repositories: app, worker"):
        cloud.ecr_verify(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir, RecordingProbe(), repository="api")


def test_verify_without_aws_credentials_stops_before_pushing(ecr, docker_dir, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_executable(bin_dir, cloud.ECR_HELPER)  # docker could push through the helper, but nothing could delete
    monkeypatch.setattr(cloud, "find_executable", lambda name: str(bin_dir / name))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    probe = RecordingProbe()
    with pytest.raises(cloud.RegistryCtlError, match="ecr:BatchDeleteImage, which needs AWS credentials"):
        cloud.ecr_verify(cloud.EcrOutputs.parse(_outputs(ecr)), docker_dir, probe)
    assert probe.pushes == []


# --- through the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return use_fake_pulumi(tmp_path, monkeypatch, outputs={})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return project_copy(tmp_path, monkeypatch, "aws")


def test_cli_login_and_verify_of_an_ecr_stack_print_one_line(fake, project, ecr, docker_dir, monkeypatch, capsys):
    _no_helper(monkeypatch)
    fake.set_scenario(outputs={"ecr": {"value": _outputs(ecr), "secret": False}})
    probe = _push_to_moto(ecr)
    monkeypatch.setattr(registryctl.cli, "image_probe", probe)
    assert main(["login", "-s", "aws"]) == 0
    assert main(["verify", "-s", "aws"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"ECR {HOST}: token login")
    assert lines[1] == f"ECR {HOST}: pushed, pulled and deleted {probe.pushes[0].image.digest} in app"
    token = json.loads((docker_dir / "config.json").read_text())["auths"][HOST]["auth"]
    assert token not in out + err
    assert base64.b64decode(token).decode().split(":", 1)[1] not in out + err


def test_cli_verify_of_an_undeployed_ecr_stack_fails_with_what_to_do(fake, project, ecr, capsys):
    assert main(["verify", "-s", "aws"]) == EXIT_FAILED
    assert "ECR: the stack output ecr is missing or not an object: is it deployed? run `up` first" in (
        capsys.readouterr().err
    )


def test_the_programs_own_ecr_output_logs_in_and_verifies_against_moto(
    fake, project, moto, docker_dir, monkeypatch, capsys
):
    # The `ecr` output as the program exports it (recording mocks; ACCOUNT is the mocks' and moto's account),
    # so a change of its keys or host format breaks this test, not a user's login.
    from tests.support.pulumi_runtime import run_program
    from tests.support.recording_mocks import RecordingMocks
    from tests.unit.test_ecr_schema import ECR

    outputs = run_program(RecordingMocks(), stack="aws", config={"registries:ecr": json.dumps(ECR)})
    ecr_output = outputs["ecr"].value
    assert ecr_output["registry"] == HOST
    assert ecr_output["loginCommand"].endswith(f"docker login --username AWS --password-stdin {HOST}")
    client = moto.client("ecr", REGION)
    for name in ecr_output["repositories"]:
        client.create_repository(repositoryName=name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.admin_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.admin_secret)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _no_helper(monkeypatch)
    fake.set_scenario(outputs={"ecr": {"value": ecr_output, "secret": outputs["ecr"].secret}})
    probe = _push_to_moto(client)
    monkeypatch.setattr(registryctl.cli, "image_probe", probe)
    try:
        assert main(["login", "-s", "aws"]) == 0
        assert main(["verify", "-s", "aws"]) == 0, capsys.readouterr().err
        auth = json.loads((docker_dir / "config.json").read_text())["auths"][HOST]["auth"]
        # The same credential the loginCommand's `aws ecr get-login-password` pipes into `docker login -u AWS`.
        token = client.get_authorization_token(registryIds=[ACCOUNT])["authorizationData"][0]["authorizationToken"]
        assert auth == token
        assert probe.pushes[0].repository == f"{HOST}/team/api"
        assert client.list_images(repositoryName="team/api")["imageIds"] == []
    finally:
        for name in ecr_output["repositories"]:
            client.delete_repository(repositoryName=name, force=True)


def _sign_in_moto(client: Any, fail_verify: bool) -> Any:
    """What `registryctl verify`'s signing check pushes, landed in moto as cosign and notation would push it: cosign's
    `sha256-<hex>.sig` tag, notation's untagged signature manifest and its `sha256-<hex>` referrers index; then a
    verify that passes or fails. (The real tools against a registry: tests/e2e/test_signing_cloud_verify.py.)"""
    from registryctl.signing_check import SigningCheckFailed

    def put(repository: str, tag: str | None, payload: str) -> str:
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {"digest": payload}})
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        extra = {"imageTag": tag} if tag else {}
        client.put_image(repositoryName=repository, imageManifest=manifest, imageDigest=digest, **extra)
        return digest

    def check_signing(signing: Any, image: str, kind: str, access: Any, created: list[str]) -> list[str]:
        repository = image.split("/", 1)[1].split("@", maxsplit=1)[0]
        stem = image.rsplit("@", 1)[1].replace(":", "-")
        put(repository, f"{stem}.sig", "cosign")
        created.append(f"{stem}.sig")
        signature = put(repository, None, "notation")
        put(repository, stem, "index")
        created.extend([stem, signature])
        if fail_verify:
            raise SigningCheckFailed("cosign verify failed (exit 1): Error: no matching signatures")
        return ["cosign", "notation"]

    return check_signing


@pytest.mark.parametrize("fail_verify", [False, True])
def test_cli_verify_signs_the_probe_on_ecr_and_deletes_it_with_its_signatures(
    fake, project, ecr, docker_dir, monkeypatch, capsys, fail_verify
):
    """With signing keys for ECR, verify signs the probe between pull and delete; the one BatchDeleteImage takes the
    signatures' tags and digests with the probe, also when the check fails: the repository is left as it was."""
    _no_helper(monkeypatch)
    signing = {"ecr": {"cosign": {"publicKeyPem": "-----BEGIN PUBLIC KEY-----\n", "privateKeyPem": "x"}}}
    fake.set_scenario(
        outputs={"ecr": {"value": _outputs(ecr), "secret": False}, "signing": {"value": signing, "secret": True}}
    )
    monkeypatch.setattr("registryctl.signing_check.check_signing", _sign_in_moto(ecr, fail_verify))
    probe = _push_to_moto(ecr)
    monkeypatch.setattr(registryctl.cli, "image_probe", probe)
    code = main(["verify", "-s", "aws"])
    out, err = capsys.readouterr()
    assert ecr.list_images(repositoryName="app")["imageIds"] == []  # probe, .sig, index, signature: all gone
    digest = probe.pushes[0].image.digest
    if fail_verify:
        assert code == EXIT_FAILED
        assert err.strip().splitlines()[-1] == (
            "registryctl: ECR: cosign verify failed (exit 1): Error: no matching signatures"
        )
    else:
        assert code == 0, err
        assert out.strip() == (
            f"ECR {HOST}: pushed and pulled {digest}, signed it with the stack's keys and verified (cosign, "
            "notation), deleted it with its 3 signature tags and manifests in app"
        )


def test_a_signature_batch_delete_image_cannot_delete_is_named_with_the_probe(ecr, docker_dir, monkeypatch):
    """A tag BatchDeleteImage does not find is a failure naming the tag, and the probe's error says what is left."""
    _no_helper(monkeypatch)
    outputs = cloud.EcrOutputs.parse(_outputs(ecr))
    probe = _push_to_moto(ecr)

    def sign(image: ProbeImage, created: list[str]) -> list[str]:
        created.append("sha256-" + "0" * 64 + ".sig")  # never pushed: ECR answers ImageNotFound
        raise cloud.RegistryCtlError("notation sign failed (exit 1): Error: denied")

    with pytest.raises(cloud.RegistryCtlError) as raised:
        cloud.ecr_verify(outputs, docker_dir, probe, sign=sign)
    message = str(raised.value)
    assert message.startswith("notation sign failed (exit 1): Error: denied; the probe ")
    never = "sha256-" + "0" * 64 + ".sig"
    assert f"was pushed, and deleting it and what signing pushed ({never}) failed: " in message
    # Only what ECR reports as failed is named as left: the probe itself went.
    assert message.endswith(
        f"failed: ecr:BatchDeleteImage in app left {never}: ImageNotFound: Requested image not found"
    )
    assert ecr.list_images(repositoryName="app")["imageIds"] == []


def test_an_interrupt_during_signing_still_deletes_the_probe_and_what_signing_pushed(ecr, docker_dir, monkeypatch):
    """Ctrl-C while a signing tool runs: what was pushed is deleted, then the interrupt goes on."""
    _no_helper(monkeypatch)
    outputs = cloud.EcrOutputs.parse(_outputs(ecr))
    sign_in_moto = _sign_in_moto(ecr, fail_verify=False)

    def sign(image: ProbeImage, created: list[str]) -> list[str]:
        sign_in_moto({}, f"{image.repository}@{image.digest}", "ecr", None, created)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cloud.ecr_verify(outputs, docker_dir, _push_to_moto(ecr), sign=sign)
    assert ecr.list_images(repositoryName="app")["imageIds"] == []
