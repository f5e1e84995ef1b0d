"""registryctl's writes to docker's config.json: merged host by host, 0600, atomic, no secret printed."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from registryctl.docker_config import (
    DOCKER_HUB_HOST,
    Credential,
    config_dir,
    merge_config,
    read_config,
    store_credential,
    use_credential_helper,
)
from registryctl.registry_client import RegistryCtlError
from tests.support.recording_probe import executable_calls, fake_executable

SECRET = "s3cret-token-never-printed"
EXISTING = {
    "auths": {"ghcr.io": {"auth": base64.b64encode(b"me:ghp_x").decode()}, "registry.example:5000": {}},
    "credHelpers": {"us-docker.pkg.dev": "gcloud"},
    "proxies": {"default": {"httpProxy": "http://127.0.0.1:3128"}},
    "psFormat": "table {{.ID}}",
}


def _write(directory: Path, document: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(document))
    path.chmod(0o644)  # docker itself often leaves it world-readable
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_token_login_adds_its_host_and_keeps_every_other_entry(tmp_path: Path, capsys):
    path = _write(tmp_path, EXISTING)
    store_credential(tmp_path, "123456789012.dkr.ecr.us-east-1.amazonaws.com", Credential("AWS", SECRET))
    written = json.loads(path.read_text())
    assert written["auths"]["123456789012.dkr.ecr.us-east-1.amazonaws.com"] == {
        "auth": base64.b64encode(f"AWS:{SECRET}".encode()).decode()
    }
    for key, value in EXISTING.items():  # nothing else changed
        if key == "auths":
            assert {h: v for h, v in written["auths"].items() if h in value} == value
        else:
            assert written[key] == value
    assert _mode(path) == 0o600
    out, err = capsys.readouterr()
    assert SECRET not in out + err


def test_a_new_config_is_created_0600_in_a_0700_directory(tmp_path: Path):
    directory = tmp_path / "new" / ".docker"
    where = store_credential(directory, DOCKER_HUB_HOST, Credential("acme", SECRET))
    assert where == str(directory / "config.json")
    assert _mode(directory / "config.json") == 0o600
    assert _mode(directory) == 0o700
    assert list(directory.iterdir()) == [directory / "config.json"]  # no temporary file left behind


def test_a_credential_helper_replaces_only_its_hosts_stale_token(tmp_path: Path):
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    _write(tmp_path, {**EXISTING, "auths": {**EXISTING["auths"], host: {"auth": "c3RhbGU6dG9rZW4="}}})
    use_credential_helper(tmp_path, [host], "ecr-login")
    written = read_config(tmp_path)
    assert written["credHelpers"] == {"us-docker.pkg.dev": "gcloud", host: "ecr-login"}
    assert host not in written["auths"]
    assert written["auths"]["ghcr.io"] == EXISTING["auths"]["ghcr.io"]


def test_a_token_login_removes_a_helper_entry_of_the_same_host_that_would_win_over_it(tmp_path: Path):
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    _write(tmp_path, {"credHelpers": {host: "ecr-login", "gcr.io": "gcloud"}})
    store_credential(tmp_path, host, Credential("AWS", SECRET))
    assert read_config(tmp_path)["credHelpers"] == {"gcr.io": "gcloud"}


def test_with_a_creds_store_the_secret_goes_to_the_store_on_stdin_not_into_the_file(tmp_path: Path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_executable(bin_dir, "docker-credential-desktop")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    path = _write(tmp_path / "docker", {"credsStore": "desktop", "auths": {"ghcr.io": {}}})
    where = store_credential(tmp_path / "docker", DOCKER_HUB_HOST, Credential("acme", SECRET))
    assert where == "docker's credential store 'desktop'"
    assert SECRET not in path.read_text()
    assert json.loads(path.read_text())["auths"] == {"ghcr.io": {}, DOCKER_HUB_HOST: {}}
    [call] = executable_calls(bin_dir, "docker-credential-desktop")
    assert call["argv"] == ["store"]
    assert json.loads(call["stdin"]) == {"ServerURL": DOCKER_HUB_HOST, "Username": "acme", "Secret": SECRET}


def test_a_failing_creds_store_is_an_error_without_the_secret(tmp_path: Path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_executable(bin_dir, "docker-credential-pass", exit_code=1, stderr="pass store is not initialized")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    _write(tmp_path / "docker", {"credsStore": "pass"})
    with pytest.raises(RegistryCtlError, match="pass store is not initialized") as raised:
        store_credential(tmp_path / "docker", DOCKER_HUB_HOST, Credential("acme", SECRET))
    assert SECRET not in str(raised.value)


def test_a_broken_config_is_refused_and_left_as_it_was(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"ghcr.io": {"auth": "eA=="}')  # truncated
    with pytest.raises(RegistryCtlError, match="not valid JSON"):
        store_credential(tmp_path, DOCKER_HUB_HOST, Credential("acme", SECRET))
    assert path.read_text() == '{"auths": {"ghcr.io": {"auth": "eA=="}'


def test_a_symlinked_config_is_updated_where_it_points(tmp_path: Path):
    target = tmp_path / "dotfiles" / "docker.json"
    target.parent.mkdir()
    target.write_text(json.dumps(EXISTING))
    directory = tmp_path / ".docker"
    directory.mkdir()
    (directory / "config.json").symlink_to(target)
    store_credential(directory, DOCKER_HUB_HOST, Credential("acme", SECRET))
    assert (directory / "config.json").is_symlink()
    assert DOCKER_HUB_HOST in json.loads(target.read_text())["auths"]


def test_merging_a_stacks_docker_config_fragment(tmp_path: Path):
    _write(tmp_path, EXISTING)
    fragment = {
        "auths": {"acme.azurecr.io": {"auth": base64.b64encode(f"ci-push:{SECRET}".encode()).decode()}},
        "credHelpers": {"europe-docker.pkg.dev": "gcloud"},
    }
    merge_config(tmp_path, fragment)
    written = read_config(tmp_path)
    assert written["auths"]["acme.azurecr.io"] == fragment["auths"]["acme.azurecr.io"]
    assert written["credHelpers"] == {"us-docker.pkg.dev": "gcloud", "europe-docker.pkg.dev": "gcloud"}
    assert written["proxies"] == EXISTING["proxies"]


def test_config_dir_follows_docker_config_then_home():
    assert config_dir({"DOCKER_CONFIG": "/x/docker", "HOME": "/h"}) == Path("/x/docker")
    assert config_dir({"HOME": "/h"}) == Path("/h/.docker")
