"""The README's main command on the real Pulumi engine, in a fresh clone: `registryctl up -s local`, docker
login/push/pull with the stack's outputs, `registryctl verify`, a second `up` (and plain `pulumi preview
--expect-no-changes`) that changes nothing, `registryctl destroy --yes` keeping the volume, and `up` again serving
the image pushed before.

The README's command chooses no backend and no passphrase: registryctl keeps state in $XDG_STATE_HOME/registries
with a generated passphrase (here XDG_STATE_HOME is the tier's temporary home), and plain `pulumi` reaches the same
stacks with the README's `export PULUMI_BACKEND_URL=... PULUMI_CONFIG_PASSPHRASE_FILE=...`.
"""

from __future__ import annotations

import json
import os

import docker
import docker.errors

from tests.engine.conftest import Project, plain_secrets_in, secret_values
from tests.engine.test_engine_operations import restore_stack_file
from tests.support.images import build_scratch_image
from tests.support.registry_client import RegistryUser

CONTAINER, VOLUME, NETWORK = "local-registry", "local-registry-data", "local-registry-net"


def _readme_env(project: Project) -> dict[str, str]:
    """The README: `export PULUMI_BACKEND_URL=file://$HOME/.local/state/registries
    PULUMI_CONFIG_PASSPHRASE_FILE=$HOME/.config/registries/passphrase` (XDG_STATE_HOME, XDG_CONFIG_HOME set here)."""
    state = f"{project.env['XDG_STATE_HOME']}/registries"
    passphrase = f"{project.env['XDG_CONFIG_HOME']}/registries/passphrase"  # apart from the state it encrypts
    return {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE_FILE": passphrase}


def _result(stdout: str) -> dict:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert lines, stdout[-2000:]
    assert lines[-1]["type"] == "result", stdout[-2000:]
    return lines[-1]


def test_readme_up_push_pull_verify_rerun_destroy_and_up_again(project: Project, docker_client, docker_cleanup):
    for name, getter in ((CONTAINER, docker_client.containers), (VOLUME, docker_client.volumes)):
        try:
            getter.get(name)
            raise AssertionError(f"{name} exists before the test: remove the leftover first")
        except docker.errors.NotFound:
            pass

    # The README's main command (its venv was made as the README says, by the fixture).
    first = project.registryctl("up", "-s", "local")
    assert "no Pulumi backend chosen" in first.stderr  # the default backend, said once
    assert "created" in first.stdout
    assert "[secret]" in first.stdout
    readme_env = _readme_env(project)
    assert oct(os.stat(readme_env["PULUMI_CONFIG_PASSPHRASE_FILE"]).st_mode & 0o777) == "0o600"
    outputs = project.outputs("local", env=readme_env)
    assert outputs["endpoint"] == "localhost:5000"
    password = outputs["users"]["admin"]
    for secret in secret_values(outputs["users"]):
        assert secret not in first.stdout + first.stderr

    # docker login / push / pull with the outputs, as "Use it" says.
    user = RegistryUser(outputs["endpoint"], outputs["caCertPem"])
    try:
        user.login("admin", password)
        source = "engine-tier/readme:1"
        build_scratch_image(docker_client, source, [os.urandom(8192)])
        digest = user.push(source, "team/readme", "1")
        user.remove_local("team/readme", "1")
        assert user.pull("team/readme", "1") == digest
        assert docker_client.containers.get(CONTAINER).status == "running"

        verified = project.registryctl("verify", "-s", "local")
        assert "self-hosted localhost:5000: logged in as admin, pushed and pulled sha256:" in verified.stdout

        # A second up changes nothing; so does plain `pulumi preview` with the README's environment.
        second = _result(project.registryctl("up", "-s", "local", "--json").stdout)
        assert second["status"] == "succeeded"
        assert set(second["resourceChanges"]) == {"same"}, second["resourceChanges"]
        project.pulumi("preview", "-s", "local", "--expect-no-changes", "--non-interactive", env=readme_env)

        # destroy keeps the volume (retainOnDelete) and so the pushed image.
        container_id = docker_client.containers.get(CONTAINER).id
        project.registryctl("destroy", "-s", "local", "--yes")
        try:
            docker_client.containers.get(container_id)
            raise AssertionError("the registry container survived destroy")
        except docker.errors.NotFound:
            pass
        assert docker_client.volumes.get(VOLUME).name == VOLUME
        exported = json.loads(project.export("local", env=readme_env))
        assert not exported["deployment"].get("resources"), "destroy left resources in the state"

        # up again: a new container on the kept volume serves the old image (the password is a new one).
        project.registryctl("up", "-s", "local")
        again = project.outputs("local", env=readme_env)
        user.login("admin", again["users"]["admin"])
        user.remove_local("team/readme", "1")
        assert user.pull("team/readme", "1") == digest

        # The state holds no secret output in plain text.
        exported_text = project.export("local", env=readme_env)
        assert plain_secrets_in(exported_text, secret_values(again["users"])) == []
        assert project.secrets_in_plain("local", env=readme_env) == []
    finally:
        user.close()
        project.registryctl("destroy", "-s", "local", "--yes", check=False)
        restore_stack_file(project, "local")  # its encryptionsalt is of the generated passphrase: later tests differ
