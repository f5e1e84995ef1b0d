"""What the cheaper hashing of generated passwords must not give away, checked on the running registry.

Refusing anonymous and wrong-password requests and TLS below 1.2 are proven in
test_selfhosted_registry.py (test_refuses_anonymous_wrong_password_old_tls_and_plain_http); here: the
htpasswd file inside the container hashes a password a person chose at cost >= 10, a generated one at
the low cost, and the low-cost account still refuses a wrong password."""

from __future__ import annotations

import copy
import io
import tarfile
import time
from typing import Any

import bcrypt
import pytest

from components.selfhosted.credentials import GENERATED_PASSWORD_COST
from tests.e2e.conftest import Deployment
from tests.support.registry_client import RegistryUser

pytestmark = pytest.mark.e2e

CHOSEN = "carol-chose-this-password-1"


def _file_in_container(container: Any, path: str) -> str:
    stream, _stat = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        return member.read().decode()


def _status(client: RegistryUser, auth: tuple[str, str] | None) -> int:
    deadline = time.monotonic() + 30
    while True:  # the container may still be starting
        try:
            return client.api("GET", "/v2/", auth=auth).status_code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_running_registry_hashes_chosen_passwords_at_cost_10_and_generated_ones_cheaply(
    deployment: Deployment, base_stack: tuple[str, dict[str, Any]], each_registry_image: str
) -> None:
    name, spec = base_stack[0], {**copy.deepcopy(base_stack[1]), "image": each_registry_image}
    spec["users"] = [{"name": "carol", "password": CHOSEN}, {"name": "admin"}]
    outputs = deployment.apply(name, spec)
    generated = outputs["users"]["admin"]

    htpasswd = _file_in_container(deployment.registry_container(outputs), "/auth/htpasswd")
    lines = dict(line.split(":", 1) for line in htpasswd.splitlines())
    assert set(lines) == {"carol", "admin"}
    chosen_cost, generated_cost = (int(lines[user].split("$")[2]) for user in ("carol", "admin"))
    assert chosen_cost >= 10, "a password a person chose must keep bcrypt's work factor"
    assert generated_cost == GENERATED_PASSWORD_COST
    assert bcrypt.checkpw(CHOSEN.encode(), lines["carol"].encode())
    assert bcrypt.checkpw(generated.encode(), lines["admin"].encode())

    client = deployment.client(outputs)
    assert _status(client, ("carol", CHOSEN)) == 200
    assert _status(client, ("admin", generated)) == 200
    assert _status(client, None) == 401
    assert _status(client, ("admin", generated[:-1])) == 401  # cheap to check, still checked
    assert _status(client, ("admin", CHOSEN)) == 401
