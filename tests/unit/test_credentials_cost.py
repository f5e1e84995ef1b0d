"""bcrypt cost follows entropy: generated passwords are hashed cheaply, passwords a person chose are not."""

from __future__ import annotations

import base64
import json
import math
import string
from typing import Any, cast

import bcrypt
import pulumi
import pytest

from components.selfhosted.credentials import (
    GENERATED_PASSWORD_COST,
    GIVEN_PASSWORD_COST,
    MIN_GENERATED_LENGTH,
    bcrypt_hash_with_salt,
)
from components.selfhosted.users import GENERATED_ALPHABET, declare_users
from tests.support.engine_random import apply_random
from tests.support.pulumi_runtime import contains_secret, run_program, unwrap
from tests.support.recording_mocks import RecordingMocks

CONTAINER = "docker:index/container:Container"
SALT = "random:index/randomBytes:RandomBytes"
GIVEN = "a-person-chose-this-42"


class _ProviderRandomMocks(RecordingMocks):
    """random:* answered as pulumi-random answers (fresh secrets; RandomPassword.bcryptHash at cost 10),
    and, like the engine's state, the same outputs again for a resource whose inputs did not change."""

    def __init__(self, state: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] | None = None) -> None:
        super().__init__()
        self.state = state if state is not None else {}

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        ident, outs = super().new_resource(args)
        if not args.typ.startswith("random:"):
            return ident, outs
        inputs = unwrap({k: v for k, v in args.inputs.items() if k != "__provider"})
        key = (args.typ, args.name, json.dumps(inputs, sort_keys=True))
        if key not in self.state:
            self.state[key] = apply_random(args.typ, inputs)
        return self.state[key]


def _deploy(mocks: RecordingMocks, users: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    config = {"registries:selfHosted": json.dumps({"users": users, **extra})}
    outputs = run_program(mocks, stack="local", config=config, secret_keys=list(config))
    return {k: v.value for k, v in outputs.items()}


def _htpasswd(mocks: RecordingMocks) -> dict[str, str]:
    uploads = mocks.find(CONTAINER, "selfhosted-registry").plain["uploads"]
    text = next(u["content"] for u in uploads if u["file"] == "/auth/htpasswd")
    return dict(line.split(":", 1) for line in text.splitlines())


def _cost(hashed: str) -> int:
    return int(hashed.split("$")[2])


def test_generated_password_is_hashed_at_the_low_cost_with_a_salt_kept_in_state():
    mocks = _ProviderRandomMocks()
    outputs = _deploy(mocks, [{"name": "admin"}])
    password = outputs["users"]["admin"]
    hashed = _htpasswd(mocks)["admin"]
    assert _cost(hashed) == GENERATED_PASSWORD_COST  # pulumi-random's own bcrypt_hash is cost 10
    assert bcrypt.checkpw(password.encode(), hashed.encode())  # the registry accepts the generated password
    salt = mocks.find(SALT, "selfhosted-salt-admin")
    assert salt.plain["keepers"] == {"password": password}  # a new password draws a new salt
    assert contains_secret(salt.inputs["keepers"]), "the keeper is the password: it must stay secret in state"
    drawn = next(outs for (typ, name, _), (_, outs) in mocks.state.items() if name == "selfhosted-salt-admin")
    salt_bytes = base64.b64decode(unwrap(drawn["base64"]))
    assert hashed == bcrypt_hash_with_salt(password, salt_bytes, cost=GENERATED_PASSWORD_COST)


def test_given_password_keeps_the_high_cost_beside_a_generated_one():
    mocks = _ProviderRandomMocks()
    outputs = _deploy(mocks, [{"name": "ci", "password": GIVEN}, {"name": "admin"}])
    lines = _htpasswd(mocks)
    assert _cost(lines["ci"]) == GIVEN_PASSWORD_COST >= 10
    assert bcrypt.checkpw(GIVEN.encode(), lines["ci"].encode())
    assert _cost(lines["admin"]) == GENERATED_PASSWORD_COST
    assert bcrypt.checkpw(outputs["users"]["admin"].encode(), lines["admin"].encode())


def test_second_run_with_the_state_of_the_first_declares_identical_inputs():
    state: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
    users = [{"name": "ci", "password": GIVEN}, {"name": "admin"}, {"name": "bot"}]
    first, second = _ProviderRandomMocks(state), _ProviderRandomMocks(state)
    _deploy(first, users)
    _deploy(second, users)
    declared = {(r.typ, r.name): r.inputs for r in first.resources}
    assert len(declared) == len(first.resources)
    assert declared == {(r.typ, r.name): r.inputs for r in second.resources}
    assert _htpasswd(first) == _htpasswd(second)  # same htpasswd: no diff, no restart of the registry


def test_two_stacks_draw_different_salts_for_generated_passwords():
    hashes = []
    for mocks in (_ProviderRandomMocks(), _ProviderRandomMocks()):  # two fresh stacks, same config
        _deploy(mocks, [{"name": "admin"}])
        hashes.append(_htpasswd(mocks)["admin"])
    assert hashes[0][7:29] != hashes[1][7:29]


def test_generated_passwords_carry_at_least_96_bits():
    # The low cost is safe only because guessing a generated password is infeasible at any cost.
    assert len(set(GENERATED_ALPHABET)) == len(GENERATED_ALPHABET) == 66
    assert set(string.ascii_letters + string.digits) <= set(GENERATED_ALPHABET)
    assert MIN_GENERATED_LENGTH * math.log2(len(GENERATED_ALPHABET)) >= 96


def test_generated_password_declares_the_alphabet_the_entropy_is_counted_for():
    mocks = RecordingMocks()
    _deploy(mocks, [{"name": "admin"}])
    inputs = mocks.find("random:index/randomPassword:RandomPassword", "selfhosted-password-admin").plain
    alphabet = string.ascii_lowercase + string.ascii_uppercase + string.digits + inputs["overrideSpecial"]
    assert inputs["special"] is True
    assert all(inputs.get(kind, True) is not False for kind in ("upper", "lower", "numeric"))
    assert sorted(alphabet) == sorted(GENERATED_ALPHABET)
    assert inputs["length"] >= MIN_GENERATED_LENGTH


@pytest.mark.parametrize("length", [8, MIN_GENERATED_LENGTH - 1])
def test_a_generated_password_too_short_for_the_low_cost_is_refused(length):
    with pytest.raises(ValueError, match=rf"passwordLength: {length} .*at least {MIN_GENERATED_LENGTH}"):
        declare_users("selfhosted", [("admin", None)], length, cast(pulumi.Resource, None))
