"""`registryctl retention apply` and `registryctl gc` on the real registry of the local stack.

Twelve images are pushed over the registry API with chosen tags and push times (the image config's `created`, which
apply reads as the push time); apply runs as a user runs it (`python -m registryctl ...` in a subprocess, the stack
opened through the recording `pulumi` stand-in that serves this deployment's outputs)."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
import yaml

from components.retention.intent import evaluate
from components.retention.model import Image
from components.selfhosted.config_file import config_path as registry_config_path
from registries.config import load_stack_spec
from registries.config.retention import load_retention
from registryctl.stack_files import PROJECT_DIR
from tests.e2e.conftest import Deployment
from tests.support.fake_pulumi_cli import use_fake_pulumi
from tests.support.registry_client import RegistryUser

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RETENTION = {"protect": ["latest", "v*.*.*"], "keepLatest": [{"tag": "pr-*", "count": 2}], "taggedDays": 30}
# (repository, tags, age in days). pr-5 is protected by v2.0.0 yet counts among the 2 newest pr-* images.
IMAGES: list[tuple[str, list[str], int]] = [
    ("app", ["v1.0.0"], 400),
    ("app", ["latest"], 1),
    ("app", ["pr-1"], 100),
    ("app", ["pr-2"], 50),
    ("app", ["pr-3"], 10),
    ("app", ["pr-4"], 5),
    ("app", ["pr-5", "v2.0.0"], 1),
    ("app", ["feature-a"], 60),
    ("app", ["feature-b"], 10),
    ("tools/ci", ["nightly-1"], 90),
    ("tools/ci", ["nightly-2"], 2),
    ("tools/ci", ["latest"], 300),
]
LAYER_BYTES = 512 * 1024


@dataclass(frozen=True)
class Pushed:
    image: Image
    layer_size: int


def _push_image(
    user: RegistryUser,
    auth: tuple[str, str],
    repository: str,
    tags: list[str],
    created: datetime,
    architecture: str = "amd64",
) -> Pushed:
    """Push a one-layer image whose config says `created`, under each tag (none: by digest only); returns it as
    the evaluator sees it."""
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        data = os.urandom(LAYER_BYTES)  # incompressible: GC must free about this many bytes
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(layer_tar.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": created.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),  # Go's RFC 3339 with nanoseconds
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar.getvalue()).hexdigest()}"]},
        }
    ).encode()
    for blob in (layer, config):
        start = user.api("POST", f"/v2/{repository}/blobs/uploads/", auth=auth)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        location = location if location.startswith("http") else f"{user.base_url}{location}"
        digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
        done = requests.put(
            location, params={"digest": digest}, data=blob, auth=auth, verify=user.ca_file or False, timeout=30
        )
        assert done.status_code == 201, done.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": f"sha256:{hashlib.sha256(layer).hexdigest()}",
                }
            ],
        }
    ).encode()
    digest = f"sha256:{hashlib.sha256(manifest).hexdigest()}"
    for reference in tags or [digest]:
        put = user.api(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            auth=auth,
            data=manifest,
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert put.status_code == 201, put.text
    return Pushed(Image(repository, digest, tuple(sorted(tags)), created), len(layer))


INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def _push_index(
    user: RegistryUser, auth: tuple[str, str], repository: str, tag: str, created: datetime
) -> tuple[str, list[str]]:
    """A multi-platform image: two platform images pushed by digest (untagged), and a tagged OCI index over them;
    returns (index digest, platform digests)."""
    platforms = [_push_image(user, auth, repository, [], created, arch).image.digest for arch in ("amd64", "arm64")]
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    sizes = [
        len(user.api("GET", f"/v2/{repository}/manifests/{digest}", auth=auth, headers=accept).content)
        for digest in platforms
    ]
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": digest,
                    "size": size,
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for digest, size, arch in zip(platforms, sizes, ("amd64", "arm64"), strict=True)
            ],
        }
    ).encode()
    put = user.api(
        "PUT", f"/v2/{repository}/manifests/{tag}", auth=auth, data=index, headers={"Content-Type": INDEX_TYPE}
    )
    assert put.status_code == 201, put.text
    return f"sha256:{hashlib.sha256(index).hexdigest()}", platforms


@dataclass
class Scenario:
    outputs: dict[str, Any]
    user: RegistryUser
    auth: tuple[str, str]
    pushed: list[Pushed]
    env: dict[str, str]
    project: Path
    stack: str
    spec: dict[str, Any]

    def registryctl(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        """`python -m registryctl ARGS` with this scenario's project (its stack file) and the `pulumi` stand-in."""
        code = (
            "import sys; from pathlib import Path; import registryctl.cli as cli; "
            "cli.PROJECT_DIR = Path(sys.argv[1]); sys.exit(cli.main(sys.argv[2:]))"
        )
        return subprocess.Popen(
            [sys.executable, "-c", code, str(self.project), *args],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def run(self, *args: str) -> tuple[str, str]:
        process = self.registryctl(*args)
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"registryctl {' '.join(args)} exited {process.returncode}:\n{out}\n{err}"
        return out, err

    def manifest_status(self, image: Image) -> int:
        accept = "application/vnd.docker.distribution.manifest.v2+json"
        path = f"/v2/{image.repository}/manifests/{image.digest}"
        return self.user.api("GET", path, auth=self.auth, headers={"Accept": accept}).status_code

    def tags(self, repository: str) -> set[str]:
        response = self.user.api("GET", f"/v2/{repository}/tags/list", auth=self.auth)
        return set(response.json().get("tags") or []) if response.status_code == 200 else set()


@pytest.fixture
def scenario(
    deployment: Deployment, base_stack: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Scenario:
    return _scenario(deployment, base_stack, tmp_path, monkeypatch, IMAGES)


@pytest.fixture
def scenario_on_each_version(
    deployment: Deployment,
    base_stack: tuple[str, dict[str, Any]],
    each_registry_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Scenario:
    """The stack on each registry version (3.x, 2.8), with no images pushed."""
    name, base_spec = base_stack
    return _scenario(deployment, (name, {**base_spec, "image": each_registry_image}), tmp_path, monkeypatch, [])


def _scenario(
    deployment: Deployment,
    base_stack: tuple[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    images: list[tuple[str, list[str], int]],
) -> Scenario:
    name, base_spec = base_stack
    spec = copy.deepcopy(base_spec)
    spec["retention"] = RETENTION
    outputs = deployment.apply(name, spec)
    user = deployment.client(outputs)
    auth = next(iter(outputs["users"].items()))
    _wait_until_serving(user, auth)
    pushed = [_push_image(user, auth, repo, tags, NOW - timedelta(days=age)) for repo, tags, age in images]
    # The project as the user has it: Pulumi.yaml and the stack file with the retention block.
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": {"registries:selfHosted": spec}}))
    # The stand-in serves this deployment's outputs (secrets in its scenario file, never on a command line).
    secret = {"users", "dockerConfigJson"}
    use_fake_pulumi(tmp_path, monkeypatch, outputs={k: {"value": v, "secret": k in secret} for k, v in outputs.items()})
    # Its own TMPDIR: the registryctl the kill test stops with SIGKILL cannot remove its temporary CA directory.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "TMPDIR": str(temporary)}
    return Scenario(outputs, user, auth, pushed, env, project, name, spec)


def _wait_until_serving(user: RegistryUser, auth: tuple[str, str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if user.api("GET", "/v2/", auth=auth).status_code == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{user.endpoint} did not serve /v2/ within 30s")
        time.sleep(0.5)


def _expected(pushed: list[Pushed]) -> tuple[set[Image], set[Image]]:
    """(expired, kept) as the intent evaluator (`retention simulate --platform intent`) says."""
    images = [p.image for p in pushed]
    outcome = evaluate(load_retention(RETENTION), images, NOW)
    return {i for i in images if i.key in outcome.expire}, {i for i in images if i.key in outcome.keep}


def _volume_bytes(client: docker.DockerClient, volume: str) -> int:
    usage = next(v for v in client.df()["Volumes"] if v["Name"] == volume)
    return int(usage["UsageData"]["Size"])


def _assert_kept_pull(scenario: Scenario, kept: set[Image]) -> None:
    user, (name, password) = scenario.user, scenario.auth
    scenario.user.login(name, password)
    for image in kept:
        for tag in image.tags:
            assert user.pull(image.repository, tag) == image.digest, f"{image.repository}:{tag}"
            user.remove_local(image.repository, tag)


def test_apply_deletes_exactly_the_simulated_expire_set_and_gc_frees_their_layers(
    scenario: Scenario, deployment: Deployment
) -> None:
    expired, kept = _expected(scenario.pushed)
    # A hand check of the evaluator on this scenario: pr-3 goes because protected pr-5 counts among the newest.
    assert {t for i in expired for t in i.tags} == {"pr-1", "pr-2", "pr-3", "feature-a", "nightly-1"}

    plan, _ = scenario.run("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat())
    assert f"{len(expired)} to delete, {len(kept)} to keep" in plan
    assert all(scenario.manifest_status(i) == 200 for i in expired | kept), "a plan without --yes deleted something"

    out, err = scenario.run("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes")
    assert {line.split()[1] for line in out.splitlines() if line.startswith("deleted ") and "@" in line} == {
        f"{i.repository}@{i.digest}" for i in expired
    }
    assert "[2/2] tools/ci" in err  # the progress display
    assert password_free(out + err, scenario)
    for image in expired:
        assert scenario.manifest_status(image) == 404, f"{image.tags} still served"
    assert scenario.tags("app") == {t for i in kept if i.repository == "app" for t in i.tags}
    assert scenario.tags("tools/ci") == {t for i in kept if i.repository == "tools/ci" for t in i.tags}
    _assert_kept_pull(scenario, kept)

    volume = str(scenario.outputs["volumeName"])
    assert volume, "this scenario measures a filesystem volume; an S3 stack needs an object count instead"
    before = _volume_bytes(deployment.docker_client, volume)
    out, _ = scenario.run("gc", "-s", scenario.stack)
    after = _volume_bytes(deployment.docker_client, volume)
    freed = sum(p.layer_size for p in scenario.pushed if p.image in expired)
    print(f"gc: volume {before} -> {after} bytes; the deleted images' layers held {freed}")
    assert before - after >= 0.95 * freed, f"gc freed {before - after} bytes, the deleted layers hold {freed}"
    _wait_until_serving(scenario.user, scenario.auth)
    _assert_kept_pull(scenario, kept)
    # Read-write again: a push after gc lands.
    _push_image(scenario.user, scenario.auth, "app", ["after-gc"], NOW)


def password_free(text: str, scenario: Scenario) -> bool:
    return all(password not in text for password in scenario.outputs["users"].values())


def test_apply_killed_after_its_first_delete_keeps_every_kept_image_and_a_rerun_finishes(scenario: Scenario) -> None:
    expired, kept = _expected(scenario.pushed)
    args = ("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes", "--delete-interval", "30")
    process = scenario.registryctl(*args, start_new_session=True)
    assert process.stdout is not None
    first = ""
    for line in process.stdout:
        if line.startswith("deleted "):
            first = line
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()
    assert first, "apply printed no delete before it was killed"
    gone = {i for i in expired if scenario.manifest_status(i) == 404}
    assert len(gone) == 1, f"{len(gone)} deleted before the kill"
    assert all(scenario.manifest_status(i) == 200 for i in kept)

    out, _ = scenario.run(*args[:-2])
    assert all(scenario.manifest_status(i) == 404 for i in expired)
    # The re-run lists again: the image deleted before the kill is no longer there to expire.
    assert f"{len(expired) - 1} to delete, {len(kept)} to keep" in out
    _assert_kept_pull(scenario, kept)


def test_gc_after_an_interrupted_gc_restores_the_config_and_the_registry_takes_pushes(
    scenario: Scenario, deployment: Deployment
) -> None:
    from registryctl.gc import SAVED_SUFFIX, read_file, read_only_config, write_file

    container = deployment.registry_container(scenario.outputs)
    self_hosted = load_stack_spec({"selfHosted": scenario.spec}, scenario.stack).self_hosted
    assert self_hosted is not None
    config_path = registry_config_path(self_hosted.registry_major)
    original = read_file(container, config_path)
    assert original is not None
    # What a gc killed inside its window leaves: the saved config, and a registry restarted read-only.
    write_file(container, config_path + SAVED_SUFFIX, original)
    write_file(container, config_path, read_only_config(original))
    container.restart(timeout=30)
    _wait_until_serving(scenario.user, scenario.auth)
    with pytest.raises(AssertionError):  # read-only indeed: the push is refused
        _push_image(scenario.user, scenario.auth, "app", ["while-read-only"], NOW)

    out, _ = scenario.run("gc", "-s", scenario.stack)
    assert "eligible for deletion" in out
    assert read_file(container, config_path) == original
    assert read_file(container, config_path + SAVED_SUFFIX) is None
    _wait_until_serving(scenario.user, scenario.auth)
    _push_image(scenario.user, scenario.auth, "app", ["after-gc"], NOW)


def test_gc_keeps_every_platform_image_of_a_kept_multi_platform_index(scenario: Scenario) -> None:
    index, platforms = _push_index(scenario.user, scenario.auth, "multi", "latest", NOW - timedelta(days=400))
    old_index, old_platforms = _push_index(scenario.user, scenario.auth, "multi", "old", NOW - timedelta(days=400))
    plan, _ = scenario.run("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes")
    assert f"keep   multi@{index}" in plan
    assert f"expire multi@{old_index}" in plan
    assert "and 2 platform images of the expired multi-platform indexes" in plan
    accept = {"Accept": f"{INDEX_TYPE}, application/vnd.docker.distribution.manifest.v2+json"}
    for digest in [old_index, *old_platforms]:  # the expired index goes with its platform images
        gone = scenario.user.api("GET", f"/v2/multi/manifests/{digest}", auth=scenario.auth, headers=accept)
        assert gone.status_code == 404, f"{digest} of the expired index is still served"
    scenario.run("gc", "-s", scenario.stack)
    _wait_until_serving(scenario.user, scenario.auth)
    assert scenario.user.api("GET", "/v2/multi/manifests/latest", auth=scenario.auth, headers=accept).status_code == 200
    for digest in platforms:  # what `docker pull multi:latest` fetches on each platform
        manifest = scenario.user.api("GET", f"/v2/multi/manifests/{digest}", auth=scenario.auth, headers=accept)
        assert manifest.status_code == 200, f"platform image {digest} of the kept index is gone after gc"
        layer = manifest.json()["layers"][0]["digest"]
        assert scenario.user.api("GET", f"/v2/multi/blobs/{layer}", auth=scenario.auth).status_code == 200


def test_a_tag_or_index_added_during_a_slow_apply_keeps_what_it_names(scenario: Scenario) -> None:
    """Review M2: a DELETE by digest untags every tag naming the digest when it arrives. During an apply spread out
    by --delete-interval, `prod` is pushed onto an expired digest and an index `v2` reusing a platform image of an
    expired index: both survive (the run reads the tags and the tagged indexes again before each delete)."""
    old_index, old_platforms = _push_index(scenario.user, scenario.auth, "app", "multi-old", NOW - timedelta(days=400))
    expired, _kept = _expected(scenario.pushed)
    # The last one of the expire set (deleted in (repository, digest) order): still there after the first delete.
    target = max((i for i in expired), key=lambda i: (i.repository, i.digest))
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    path = f"/v2/{target.repository}/manifests/{target.digest}"
    manifest = scenario.user.api("GET", path, auth=scenario.auth, headers=accept).content
    reused = old_platforms[0]
    child = scenario.user.api("GET", f"/v2/app/manifests/{reused}", auth=scenario.auth, headers=accept).content
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": reused,
                    "size": len(child),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()

    args = ("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes", "--delete-interval", "2")
    process = scenario.registryctl(*args)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("deleted "):  # the run is under way: another client pushes now
            put = scenario.user.api(
                "PUT",
                f"/v2/{target.repository}/manifests/prod",
                auth=scenario.auth,
                data=manifest,
                headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
            )
            assert put.status_code == 201, put.text
            put = scenario.user.api(
                "PUT", "/v2/app/manifests/v2", auth=scenario.auth, data=index, headers={"Content-Type": INDEX_TYPE}
            )
            assert put.status_code == 201, put.text
            break
    out, err = process.communicate(timeout=600)
    out = "".join(lines) + out
    assert process.returncode == 0, f"{out}\n{err}"
    assert f"expire {target.repository}@{target.digest}" in out
    assert f"skipped (tagged prod since the listing; kept) {target.repository}@{target.digest}" in out
    prod = scenario.user.api("GET", f"/v2/{target.repository}/manifests/prod", auth=scenario.auth, headers=accept)
    assert prod.status_code == 200, "the tag pushed during the run was deleted with its digest"
    # The expired index went; the platform image v2 lists stays, the other one of the expired index goes.
    index_accept = {"Accept": f"{INDEX_TYPE}, application/vnd.docker.distribution.manifest.v2+json"}
    assert (
        scenario.user.api("GET", f"/v2/app/manifests/{old_index}", auth=scenario.auth, headers=index_accept).status_code
        == 404
    )
    assert f"skipped (the index app:v2 lists it; kept) app@{reused}" in out
    assert scenario.user.api("GET", "/v2/app/manifests/v2", auth=scenario.auth, headers=index_accept).status_code == 200
    assert (
        scenario.user.api("GET", f"/v2/app/manifests/{reused}", auth=scenario.auth, headers=accept).status_code == 200
    )
    assert (
        scenario.user.api(
            "GET", f"/v2/app/manifests/{old_platforms[1]}", auth=scenario.auth, headers=accept
        ).status_code
        == 404
    )


def test_an_expired_per_architecture_tag_of_a_kept_index_goes_alone_on_3x_and_the_image_stays_on_2_8(
    scenario_on_each_version: Scenario,
) -> None:
    """Review M2, "on distribution 3 delete by tag where that is what the plan means": `sha-amd64` expires
    (taggedDays), the protected index `v3.0.0` lists its manifest as the amd64 image. A DELETE by digest would break
    `v3.0.0` on amd64 (it did before this fix, on both versions). On 3.x the tag goes alone (DELETE by tag); 2.8
    cannot delete a tag alone (400 DIGEST_INVALID), so there the image is kept whole and reported."""
    scenario = scenario_on_each_version
    user, auth = scenario.user, scenario.auth
    old = NOW - timedelta(days=400)
    amd64 = _push_image(user, auth, "app", ["sha-amd64"], old).image.digest
    arm64 = _push_image(user, auth, "app", ["sha-arm64"], old, "arm64").image.digest
    accept = {"Accept": f"{INDEX_TYPE}, application/vnd.docker.distribution.manifest.v2+json"}
    children = [
        {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest,
            "size": len(user.api("GET", f"/v2/app/manifests/{digest}", auth=auth, headers=accept).content),
            "platform": {"architecture": arch, "os": "linux"},
        }
        for digest, arch in ((amd64, "amd64"), (arm64, "arm64"))
    ]
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": children}).encode()
    put = user.api("PUT", "/v2/app/manifests/v3.0.0", auth=auth, data=index, headers={"Content-Type": INDEX_TYPE})
    assert put.status_code == 201, put.text
    # A tagged image nobody lists, expired too: still deleted by digest on both versions.
    lone = _push_image(user, auth, "app", ["sha-lone"], old).image.digest

    out, _ = scenario.run("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes")
    assert f"expire app@{amd64}" in out
    assert f"expire app@{arm64}" in out
    assert f"deleted app@{lone}" in out
    assert scenario.manifest_status(Image("app", lone, (), NOW)) == 404
    on_3x = str(scenario.spec["image"]).startswith("registry:3")
    if on_3x:
        assert f"untagged sha-amd64 (the index app:v3.0.0 lists it; the manifest stays) app@{amd64}" in out
        assert scenario.tags("app") == {"v3.0.0"}
    else:
        assert (
            f"skipped (the index app:v3.0.0 lists it; kept whole: registry 2.x cannot delete a tag alone) app@{amd64}"
            in out
        )
        assert scenario.tags("app") == {"v3.0.0", "sha-amd64", "sha-arm64"}
    # What `docker pull app:v3.0.0` fetches on each platform is still there.
    assert user.api("GET", "/v2/app/manifests/v3.0.0", auth=auth, headers=accept).status_code == 200
    for digest in (amd64, arm64):
        manifest = user.api("GET", f"/v2/app/manifests/{digest}", auth=auth, headers=accept)
        assert manifest.status_code == 200, f"the platform image {digest} of the kept index v3.0.0 was deleted"


def test_signatures_attestations_and_sboms_stay_with_a_kept_image_and_go_with_an_expired_one(
    scenario: Scenario,
) -> None:
    """Issue 27, cosign's tag scheme on the real registry (no cosign: small artifacts pushed under the tag names
    cosign and OCI 1.1 clients use). Every referrer is older than taggedDays: before, a kept image lost its
    signature and attestation, and an expired image left its SBOM and referrers index behind."""
    user, auth, old = scenario.user, scenario.auth, NOW - timedelta(days=400)
    kept = _push_image(user, auth, "signed", ["v1.0.0"], old).image
    expired = _push_image(user, auth, "signed", ["feature-s"], NOW - timedelta(days=60)).image

    def scheme(subject: Image, suffix: str, created: datetime = old) -> Image:
        tag = f"sha256-{subject.digest.removeprefix('sha256:')}{suffix}"
        return _push_image(user, auth, "signed", [tag], created).image

    kept_referrers = [scheme(kept, ".sig"), scheme(kept, ".att"), scheme(kept, "")]
    expired_referrers = [scheme(expired, ".sig"), scheme(expired, ".sbom"), scheme(expired, "")]
    orphan = _push_image(user, auth, "signed", [f"sha256-{'9' * 64}.sig"], NOW - timedelta(days=1)).image
    plan, _ = scenario.run("retention", "apply", "-s", scenario.stack, "--now", NOW.isoformat(), "--yes")
    for referrer in kept_referrers:
        assert f"keep   signed@{referrer.digest}" in plan
        assert f"(with its subject {kept.digest})" in plan
    for image in [expired, *expired_referrers, orphan]:
        assert f"expire signed@{image.digest}" in plan
        assert scenario.manifest_status(image) == 404, f"{image.tags} is still served"
    assert f"(sha256:{'9' * 64} is gone)" in plan
    deleted = [line.split()[1] for line in plan.splitlines() if line.startswith("deleted signed@")]
    first_referrer = min(deleted.index(f"signed@{r.digest}") for r in expired_referrers)
    assert deleted.index(f"signed@{expired.digest}") < first_referrer  # the subject first, then what refers to it
    assert scenario.tags("signed") == {t for image in [kept, *kept_referrers] for t in image.tags}
    for image in [kept, *kept_referrers]:
        assert scenario.manifest_status(image) == 200
