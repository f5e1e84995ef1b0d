"""`registryctl verify -s STACK` for Docker Hub: read-only comparison of the declared repositories with Hub.

The Hub API emulator (tests/support/hub_emulator.py) answers on 127.0.0.1; the stack is opened through the
recording `pulumi` stand-in (boundary test: no real CLI here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.dockerhub.client import Credentials, HubClient
from registryctl.cli import EXIT_FAILED, main
from tests.support.fake_pulumi_cli import FakePulumi
from tests.support.hub_emulator import HubEmulator
from tests.support.registryctl_project import fake_pulumi_without_hub_login, project_copy, quick_hub

USER, PASSWORD = "acmebot", "hub-password-not-for-logs"


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    with quick_hub({USER: PASSWORD}) as emulator:
        yield emulator


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return fake_pulumi_without_hub_login(tmp_path, monkeypatch)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubEmulator) -> Path:
    """The project with a Docker Hub stack pointed at the emulator."""
    root = project_copy(tmp_path, monkeypatch)
    (root / "README.md").write_text("# api\n\nThe API.\n")
    (root / "stacks" / "Pulumi.hub.yaml").write_text(
        "config:\n"
        "  registries:dockerHub:\n"
        f"    namespace: acme\n    username: {USER}\n    baseUrl: {hub.url}\n"
        "    repositories:\n"
        "      - name: api\n"
        "        description: The API\n"
        "        fullDescriptionFile: README.md\n"
        "        immutableTags: {enabled: true, rules: ['v.*']}\n"
        "      - name: worker\n"
        "        description: Jobs\n"
        "        private: false\n"
    )
    return root


def _create(hub: HubEmulator, name: str, description: str, private: bool, full: str = "", rules=None) -> None:
    client = HubClient(hub.url, Credentials(USER, PASSWORD))
    body = {"name": name, "description": description, "full_description": full, "is_private": private}
    client.request("POST", "/v2/namespaces/acme/repositories", name, body=body)
    if rules is not None:
        body = {"immutable_tags": True, "immutable_tags_rules": rules}
        client.request("PATCH", f"/v2/namespaces/acme/repositories/{name}/immutabletags", name, body=body)
    client.close()


def _as_deployed(hub: HubEmulator) -> None:
    _create(hub, "api", "The API", True, "# api\n\nThe API.\n", ["v.*"])
    _create(hub, "worker", "Jobs", False)


def test_verify_passes_when_hub_matches_and_only_reads(fake, project, hub, monkeypatch, capsys):
    _as_deployed(hub)
    monkeypatch.setenv("DOCKER_USERNAME", USER)
    monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
    before = len(hub.state.requests)
    assert main(["verify", "-s", "hub"]) == 0
    assert "acme/api, acme/worker" in capsys.readouterr().out
    methods = {method for method, path in hub.state.requests[before:] if not path.startswith("/v2/auth")}
    assert methods == {"GET"}


def test_verify_lists_every_difference_and_exits_1(fake, project, hub, monkeypatch, capsys):
    _create(hub, "api", "Changed in the UI", True, "# api\n\nThe API.\n", ["latest"])
    monkeypatch.setenv("DOCKER_USERNAME", USER)
    monkeypatch.setenv("DOCKER_HUB_TOKEN", PASSWORD)
    assert main(["verify", "-s", "hub"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "acme/api: description is 'Changed in the UI' on Docker Hub, the stack declares 'The API'" in err
    assert "acme/api: immutableTags" in err
    assert "acme/worker: declared in the stack but not on Docker Hub" in err
    assert "3 difference(s)" in err
    assert PASSWORD not in err


def test_verify_uses_the_stacks_hub_secret_when_the_environment_has_none(fake, project, hub, capsys):
    _as_deployed(hub)
    fake.set_scenario(outputs={}, config={"registries:dockerHubSecret": {"value": PASSWORD, "secret": True}})
    assert main(["verify", "-s", "hub"]) == 0
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    config_gets = [c.args for c in fake.calls() if c.args[:2] == ["config", "get"]]
    assert [args[2] for args in config_gets] == ["registries:dockerHubSecret"]


def test_verify_without_any_hub_credentials_says_how_to_give_them(fake, project, hub, capsys):
    assert main(["verify", "-s", "hub"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "DOCKER_USERNAME" in err
    assert "registries:dockerHubSecret" in err


def test_verify_compares_as_the_provider_does_so_hub_spellings_are_not_drift(fake, project, hub, monkeypatch, capsys):
    # Hub keeps CRLF line endings and keeps (or defaults) rules while immutable tags are disabled:
    # `up` plans no change for either, so verify must not report them.
    _create(hub, "api", "The API", True, "# api\r\n\r\nThe API.\r\n", ["v.*"])
    _create(hub, "worker", "Jobs", False)
    client = HubClient(hub.url, Credentials(USER, PASSWORD))
    body = {"immutable_tags": False, "immutable_tags_rules": ["kept-by-hub"]}
    client.request("PATCH", "/v2/namespaces/acme/repositories/worker/immutabletags", "worker", body=body)
    client.close()
    monkeypatch.setenv("DOCKER_USERNAME", USER)
    monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
    assert main(["verify", "-s", "hub"]) == 0, capsys.readouterr().err


def test_verify_with_hub_signing_keys_signs_a_local_probe_and_still_only_reads(fake, project, hub, monkeypatch, capsys):
    """With `signing.dockerHub`, the keys sign a probe that never leaves the machine (check_signing_locally, run
    with the real tools in tests/e2e/test_signing_cloud_verify.py); Hub still sees only reads."""
    _as_deployed(hub)
    monkeypatch.setenv("DOCKER_USERNAME", USER)
    monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
    signing = {"dockerHub": {"cosign": {"privateKeyPem": "k", "publicKeyPem": "p"}}}
    fake.set_scenario(outputs={"signing": {"value": signing, "secret": True}})
    asked: list[tuple[object, str, str]] = []

    def check_signing_locally(keys: object, scope: str, kind: str) -> list[str]:
        asked.append((keys, scope, kind))
        return ["cosign"]

    monkeypatch.setattr("registryctl.signing_check.check_signing_locally", check_signing_locally)
    before = len(hub.state.requests)
    assert main(["verify", "-s", "hub"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(
        "; signed a local probe image with the stack's keys and verified it (cosign); nothing was pushed to Docker Hub"
    )
    assert asked == [(signing["dockerHub"], "docker.io/acme/registryctl-verify", "dockerHub")]
    assert {method for method, path in hub.state.requests[before:] if not path.startswith("/v2/auth")} == {"GET"}
