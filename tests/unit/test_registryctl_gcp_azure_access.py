"""`registryctl login|verify` for Artifact Registry and ACR, from the `artifactRegistry` / `acr` stack outputs.

No emulator exists for either registry: the push/pull probe is a recording stand-in, and `gcloud`, `az` and
`docker-credential-gcloud` are recording executables on a test PATH (argv, stdin, DOCKER_CONFIG). What is
proven: the docker config written, which CLI command deletes the probe, the order (login, push, delete), the
errors. Not proven: that the real CLIs and registries accept them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import registryctl.cli
from registryctl import cloud_registries as cloud
from registryctl.cli import EXIT_FAILED, main
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.recording_probe import RecordingProbe, executable_calls, fake_executable
from tests.support.registryctl_project import project_copy

TOKEN_PASSWORD = "acr-token-password-not-for-logs"
AR_OUTPUTS = {
    "registries": {"europe-west1": "europe-west1-docker.pkg.dev", "us": "us-docker.pkg.dev"},
    "repositories": {
        "apps": "europe-west1-docker.pkg.dev/acme-prod/apps",
        "gcr.io": "gcr.io/acme-prod",
    },
    "loginCommand": "gcloud auth configure-docker europe-west1-docker.pkg.dev,us-docker.pkg.dev,gcr.io",
    "dockerConfigJson": json.dumps({"credHelpers": {"europe-west1-docker.pkg.dev": "gcloud"}}),
    "ciServiceAccount": None,
}


def _token_config(user: str) -> str:
    auth = base64.b64encode(f"{user}:{TOKEN_PASSWORD}".encode()).decode()
    return json.dumps({"auths": {"acmeregistry.azurecr.io": {"auth": auth}}})


ACR_OUTPUTS = {
    "loginServer": "acmeregistry.azurecr.io",
    "repositories": {"api": "acmeregistry.azurecr.io/api", "web": "acmeregistry.azurecr.io/web"},
    "loginCommand": "az acr login -n acmeregistry",
    "dockerConfigJson": {"ci-push": _token_config("ci-push"), "ci-pull": _token_config("ci-pull")},
}


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding recording gcloud, az and docker-credential-gcloud (and python for the recorders)."""
    bin_dir = tmp_path / "tools"
    for name in ("gcloud", "az", cloud.GCLOUD_HELPER):
        fake_executable(bin_dir, name)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(cloud, "find_executable", lambda name: shutil.which(name, path=str(bin_dir)))
    return bin_dir


@pytest.fixture
def docker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"credHelpers": {"ghcr.io": "gh"}, "auths": {"quay.io": {}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def _config(docker_dir: Path) -> dict:
    return json.loads((docker_dir / "config.json").read_text())


# --- Artifact Registry ---------------------------------------------------------------------------------


def test_ar_login_points_every_host_of_the_stack_at_the_gcloud_helper(tools, docker_dir):
    line = cloud.artifact_registry_login(cloud.ArtifactRegistryOutputs.parse(AR_OUTPUTS), docker_dir)
    assert _config(docker_dir)["credHelpers"] == {
        "ghcr.io": "gh",
        "europe-west1-docker.pkg.dev": "gcloud",
        "gcr.io": "gcloud",
        "us-docker.pkg.dev": "gcloud",
    }
    assert _config(docker_dir)["auths"] == {"quay.io": {}}
    assert stat.S_IMODE((docker_dir / "config.json").stat().st_mode) == 0o600
    assert "gcloud credential helper" in line


def test_ar_login_without_gcloud_says_what_to_install(docker_dir, monkeypatch):
    monkeypatch.setattr(cloud, "find_executable", lambda name: None)
    with pytest.raises(cloud.RegistryCtlError, match=r"install the Google Cloud CLI .* and run `gcloud auth login`"):
        cloud.artifact_registry_login(cloud.ArtifactRegistryOutputs.parse(AR_OUTPUTS), docker_dir)


def test_ar_verify_pushes_an_image_inside_the_repository_and_deletes_it_with_gcloud(tools, docker_dir):
    probe = RecordingProbe()
    line = cloud.artifact_registry_verify(cloud.ArtifactRegistryOutputs.parse(AR_OUTPUTS), docker_dir, probe)
    [push] = probe.pushes
    assert push.repository == "europe-west1-docker.pkg.dev/acme-prod/apps/registryctl-verify"
    assert push.docker_config["credHelpers"]["europe-west1-docker.pkg.dev"] == "gcloud"  # login came first
    [delete] = executable_calls(tools, "gcloud")
    assert delete["argv"] == [
        "artifacts",
        "docker",
        "images",
        "delete",
        f"europe-west1-docker.pkg.dev/acme-prod/apps/registryctl-verify@{push.image.digest}",
        "--delete-tags",
        "--quiet",
    ]
    assert (
        line == f"Artifact Registry europe-west1-docker.pkg.dev: pushed, pulled and deleted {push.image.digest} in apps"
    )


def test_ar_verify_on_a_gcr_io_repository_keeps_the_container_registry_path(tools, docker_dir):
    probe = RecordingProbe()
    outputs = cloud.ArtifactRegistryOutputs.parse(AR_OUTPUTS)
    cloud.artifact_registry_verify(outputs, docker_dir, probe, repository="gcr.io")
    assert probe.pushes[0].repository == "gcr.io/acme-prod/registryctl-verify"


def test_ar_verify_deletes_the_probe_when_the_pull_fails_and_reports_a_failed_delete(tmp_path, docker_dir, monkeypatch):
    bin_dir = tmp_path / "tools"
    fake_executable(bin_dir, cloud.GCLOUD_HELPER)
    fake_executable(bin_dir, "gcloud", exit_code=1, stderr="ERROR: (gcloud.artifacts) PERMISSION_DENIED")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(cloud, "find_executable", lambda name: shutil.which(name, path=str(bin_dir)))
    probe = RecordingProbe(fail_pull="`docker pull` failed: unauthorized")
    with pytest.raises(cloud.RegistryCtlError) as raised:
        cloud.artifact_registry_verify(cloud.ArtifactRegistryOutputs.parse(AR_OUTPUTS), docker_dir, probe)
    message = str(raised.value)
    assert "`docker pull` failed: unauthorized" in message
    pushed = probe.pushes[0].image
    assert f"{pushed.reference} ({pushed.digest}) was pushed, and deleting it failed" in message
    assert "PERMISSION_DENIED" in message
    assert len(executable_calls(bin_dir, "gcloud")) == 1


# --- ACR -----------------------------------------------------------------------------------------------


def test_acr_login_uses_the_first_declared_token_and_keeps_other_hosts(tools, docker_dir, capsys):
    line = cloud.acr_login(cloud.AcrOutputs.parse(ACR_OUTPUTS), docker_dir)
    written = _config(docker_dir)
    assert (
        written["auths"]["acmeregistry.azurecr.io"]
        == json.loads(_token_config("ci-push"))["auths"]["acmeregistry.azurecr.io"]
    )
    assert written["auths"]["quay.io"] == {}
    assert written["credHelpers"] == {"ghcr.io": "gh"}
    assert "repository-scoped token 'ci-push'" in line
    assert TOKEN_PASSWORD not in line + capsys.readouterr().out
    assert executable_calls(tools, "az") == []  # no Azure identity needed


def test_acr_login_with_user_picks_that_token_or_names_the_declared_ones(tools, docker_dir):
    cloud.acr_login(cloud.AcrOutputs.parse(ACR_OUTPUTS), docker_dir, token="ci-pull")
    auth = _config(docker_dir)["auths"]["acmeregistry.azurecr.io"]["auth"]
    assert base64.b64decode(auth).decode() == f"ci-pull:{TOKEN_PASSWORD}"
    with pytest.raises(cloud.RegistryCtlError, match="no token 'admin' in the stack; tokens: ci-push, ci-pull"):
        cloud.acr_login(cloud.AcrOutputs.parse(ACR_OUTPUTS), docker_dir, token="admin")


def test_acr_login_without_tokens_runs_az_acr_login_into_the_same_docker_config(tools, docker_dir):
    outputs = {**ACR_OUTPUTS, "dockerConfigJson": {}}
    line = cloud.acr_login(cloud.AcrOutputs.parse(outputs), docker_dir)
    [call] = executable_calls(tools, "az")
    assert call["argv"] == ["acr", "login", "--name", "acmeregistry"]
    assert call["docker_config"] == str(docker_dir)
    assert "your Azure identity" in line
    assert "declares no token" in line


def test_acr_login_without_tokens_and_without_az_says_both_ways_out(docker_dir, monkeypatch):
    monkeypatch.setattr(cloud, "find_executable", lambda name: None)
    with pytest.raises(cloud.RegistryCtlError, match=r"declares no token.*install it .* and run `az login`"):
        cloud.acr_login(cloud.AcrOutputs.parse({**ACR_OUTPUTS, "dockerConfigJson": {}}), docker_dir)


def test_acr_verify_pushes_to_the_repository_and_deletes_by_digest_with_az(tools, docker_dir):
    probe = RecordingProbe()
    line = cloud.acr_verify(cloud.AcrOutputs.parse(ACR_OUTPUTS), docker_dir, probe, repository="web")
    [push] = probe.pushes
    assert push.repository == "acmeregistry.azurecr.io/web"
    assert "acmeregistry.azurecr.io" in push.docker_config["auths"]  # logged in with the token first
    [delete] = executable_calls(tools, "az")
    assert delete["argv"] == [
        "acr",
        "repository",
        "delete",
        "--name",
        "acmeregistry",
        "--image",
        f"web@{push.image.digest}",
        "--yes",
    ]
    assert TOKEN_PASSWORD not in json.dumps(delete)  # no secret on a command line
    assert line == f"ACR acmeregistry.azurecr.io: pushed, pulled and deleted {push.image.digest} in web"


def test_acr_verify_without_az_stops_before_pushing(docker_dir, monkeypatch):
    monkeypatch.setattr(cloud, "find_executable", lambda name: None)
    probe = RecordingProbe()
    with pytest.raises(cloud.RegistryCtlError, match="az acr repository delete"):
        cloud.acr_verify(cloud.AcrOutputs.parse(ACR_OUTPUTS), docker_dir, probe)
    assert probe.pushes == []


# --- several kinds in one stack, through the CLI -------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return use_fake_pulumi(tmp_path, monkeypatch, outputs={})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return project_copy(tmp_path, monkeypatch, "aws", as_stack="clouds")


def test_a_stack_with_several_kinds_verifies_each_one_line_per_kind_and_fails_if_one_fails(
    fake, project, tools, docker_dir, monkeypatch, capsys
):
    # ECR is declared but not deployed; Artifact Registry and ACR are: each kind is tried, one line each.
    fake.set_scenario(
        outputs={
            "artifactRegistry": {"value": AR_OUTPUTS, "secret": False},
            "acr": {"value": ACR_OUTPUTS, "secret": True},
        }
    )
    probe = RecordingProbe()
    monkeypatch.setattr(registryctl.cli, "image_probe", probe)
    assert main(["verify", "-s", "clouds"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "Artifact Registry europe-west1-docker.pkg.dev",
        "ACR acmeregistry.azurecr.io",
    ]
    assert "registryctl: ECR: the stack output ecr is missing" in err
    assert TOKEN_PASSWORD not in out + err
    assert [p.repository for p in probe.pushes] == [
        "europe-west1-docker.pkg.dev/acme-prod/apps/registryctl-verify",
        "acmeregistry.azurecr.io/api",
    ]


def test_login_of_a_stack_with_several_kinds_writes_each_into_one_docker_config(
    fake, project, tools, docker_dir, capsys
):
    fake.set_scenario(
        outputs={
            "artifactRegistry": {"value": AR_OUTPUTS, "secret": False},
            "acr": {"value": ACR_OUTPUTS, "secret": True},
        }
    )
    assert main(["login", "-s", "clouds"]) == EXIT_FAILED  # ECR is not deployed
    written = _config(docker_dir)
    assert written["credHelpers"]["us-docker.pkg.dev"] == "gcloud"
    assert "acmeregistry.azurecr.io" in written["auths"]
    assert written["credHelpers"]["ghcr.io"] == "gh"
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert TOKEN_PASSWORD not in out + err


AR_WITH_PULL_ONLY = {
    **AR_OUTPUTS,
    # As the engine returns outputs: keys sorted, so the virtual repository `all` comes first.
    "repositories": {
        "all": "europe-west1-docker.pkg.dev/acme-prod/all",
        "apps": "europe-west1-docker.pkg.dev/acme-prod/apps",
        "dockerhub": "europe-west1-docker.pkg.dev/acme-prod/dockerhub",
    },
    "pushRepositories": ["apps"],
}


def test_ar_verify_pushes_to_a_standard_repository_never_a_mirror_or_virtual_one(tools, docker_dir):
    probe = RecordingProbe()
    cloud.artifact_registry_verify(cloud.ArtifactRegistryOutputs.parse(AR_WITH_PULL_ONLY), docker_dir, probe)
    assert probe.pushes[0].repository == "europe-west1-docker.pkg.dev/acme-prod/apps/registryctl-verify"


@pytest.mark.parametrize("pull_only", ["all", "dockerhub"])
def test_ar_verify_on_a_pull_only_repository_says_so_before_pushing(tools, docker_dir, pull_only):
    probe = RecordingProbe()
    outputs = cloud.ArtifactRegistryOutputs.parse(AR_WITH_PULL_ONLY)
    with pytest.raises(cloud.RegistryCtlError, match=f"'{pull_only}' is a mirror or virtual repository.*: apps"):
        cloud.artifact_registry_verify(outputs, docker_dir, probe, repository=pull_only)
    assert probe.pushes == []


AR_WITH_IMMUTABLE = {**AR_WITH_PULL_ONLY, "pushRepositories": ["apps", "gcr.io"], "immutableRepositories": ["apps"]}


def test_ar_verify_never_pushes_to_a_repository_with_immutable_tags(tools, docker_dir):
    # Its probe tag could not be deleted (immutable tags cannot be deleted): the mutable gcr.io is probed instead.
    outputs = cloud.ArtifactRegistryOutputs.parse({**AR_WITH_IMMUTABLE, "repositories": AR_OUTPUTS["repositories"]})
    probe = RecordingProbe()
    cloud.artifact_registry_verify(outputs, docker_dir, probe)
    assert [p.repository for p in probe.pushes] == ["gcr.io/acme-prod/registryctl-verify"]
    with pytest.raises(
        cloud.RegistryCtlError,
        match=r"'apps' has immutable tags: a probe tag pushed there could never be deleted; "
        r"use --repository <a mutable one>: gcr\.io",
    ):
        cloud.artifact_registry_verify(outputs, docker_dir, probe, repository="apps")
    assert len(probe.pushes) == 1


def test_ar_verify_when_every_standard_repository_is_immutable_says_nothing_can_be_probed(tools, docker_dir):
    outputs = cloud.ArtifactRegistryOutputs.parse(AR_WITH_IMMUTABLE | {"pushRepositories": ["apps"]})
    probe = RecordingProbe()
    with pytest.raises(cloud.RegistryCtlError, match=r"every standard repository \(apps\) has immutable tags: nothing"):
        cloud.artifact_registry_verify(outputs, docker_dir, probe)
    assert probe.pushes == []
    assert executable_calls(tools, "gcloud") == []


@pytest.mark.parametrize(
    "outputs",
    [
        # notifications only: no host, no repository
        {"registries": {}, "repositories": {}, "pushRepositories": [], "immutableRepositories": [],
         "loginCommand": "", "dockerConfigJson": "{}", "ciServiceAccount": None},
        # a mirror and a virtual repository only: pull-only
        AR_WITH_PULL_ONLY | {"pushRepositories": [], "immutableRepositories": []},
    ],
)  # fmt: skip
def test_ar_verify_with_no_standard_repository_reports_nothing_to_probe_as_success(tools, docker_dir, outputs):
    probe = RecordingProbe()
    line = cloud.artifact_registry_verify(cloud.ArtifactRegistryOutputs.parse(outputs), docker_dir, probe)
    assert "nothing to probe" in line
    assert probe.pushes == []


ACR_WITH_PUSH_TOKENS = {
    **ACR_OUTPUTS,
    # As the engine returns outputs: keys sorted, so the pull-only token comes first.
    "dockerConfigJson": {"ci-pull": _token_config("ci-pull"), "ci-push": _token_config("ci-push")},
    "pushTokens": ["ci-push"],
}


def test_acr_verify_logs_in_with_a_token_that_may_push(tools, docker_dir):
    # dockerConfigJson comes back with sorted keys: ci-pull first. The probe needs a token with content/write.
    probe = RecordingProbe()
    cloud.acr_verify(cloud.AcrOutputs.parse(ACR_WITH_PUSH_TOKENS), docker_dir, probe)
    auth = probe.pushes[0].docker_config["auths"]["acmeregistry.azurecr.io"]["auth"]
    assert base64.b64decode(auth).decode().startswith("ci-push:")


def test_acr_verify_with_a_pull_only_token_or_none_that_may_push_names_the_choice(tools, docker_dir):
    probe = RecordingProbe()
    outputs = cloud.AcrOutputs.parse(ACR_WITH_PUSH_TOKENS)
    with pytest.raises(cloud.RegistryCtlError, match=r"token 'ci-pull' may not push .*content/write.*: ci-push"):
        cloud.acr_verify(outputs, docker_dir, probe, token="ci-pull")
    with pytest.raises(cloud.RegistryCtlError, match=r"none of the stack's tokens \(ci-pull, ci-push\) may push"):
        cloud.acr_verify(cloud.AcrOutputs.parse(ACR_WITH_PUSH_TOKENS | {"pushTokens": []}), docker_dir, probe)
    assert probe.pushes == []
