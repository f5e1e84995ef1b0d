"""random:* resources, applied the way pulumi-random does: secrets + bcrypt."""

from __future__ import annotations

import base64
import secrets
import string
from typing import Any

import bcrypt

from tests.support.pulumi_runtime import wrap_secret

DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"


def _characters(inputs: dict[str, Any]) -> tuple[str, list[tuple[str, int]]]:
    special_chars = inputs.get("overrideSpecial") or DEFAULT_SPECIAL
    classes = [
        ("lower", string.ascii_lowercase, "minLower"),
        ("upper", string.ascii_uppercase, "minUpper"),
        ("numeric", string.digits, "minNumeric"),
        ("special", special_chars, "minSpecial"),
    ]
    pool = ""
    minimums: list[tuple[str, int]] = []
    for flag, chars, minimum in classes:
        if inputs.get(flag, True) is not False:
            pool += chars
            minimums.append((chars, int(inputs.get(minimum, 0))))
    if not pool:
        raise ValueError("random: at least one character class must be enabled")
    return pool, minimums


def random_string(inputs: dict[str, Any]) -> str:
    length = int(inputs["length"])
    pool, minimums = _characters(inputs)
    chars = [secrets.choice(chars) for chars, count in minimums for _ in range(count)]
    if len(chars) > length:
        raise ValueError(f"random: length {length} is shorter than the sum of the minimums")
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


# A few words of each list pulumi-random (golang-petname) draws from: enough for distinct names per run.
PET_ADVERBS = ("briskly", "calmly", "gladly", "quietly", "rapidly", "warmly")
PET_ADJECTIVES = ("brave", "calm", "eager", "jolly", "lucky", "proud", "quick", "witty")
PET_NAMES = ("badger", "falcon", "gecko", "heron", "lemur", "otter", "panda", "walrus")


def random_pet(inputs: dict[str, Any]) -> str:
    """The pet name pulumi-random returns as the ID: [prefix] adverbs... adjective name, joined by separator."""
    length = int(inputs.get("length", 2))
    words = [secrets.choice(PET_ADVERBS) for _ in range(max(length - 2, 0))]
    words += [secrets.choice(PET_ADJECTIVES)] if length >= 2 else []
    words.append(secrets.choice(PET_NAMES))
    prefix = inputs.get("prefix")
    return str(inputs.get("separator", "-")).join([prefix, *words] if prefix else words)


def apply_random(typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if typ == "random:index/randomPassword:RandomPassword":
        result = random_string(inputs)
        hashed = bcrypt.hashpw(result.encode(), bcrypt.gensalt(10)).decode()
        return "none", {**inputs, "result": wrap_secret(result), "bcryptHash": wrap_secret(hashed)}
    if typ == "random:index/randomString:RandomString":
        result = random_string(inputs)
        return result, {**inputs, "result": result}
    if typ == "random:index/randomBytes:RandomBytes":
        raw = secrets.token_bytes(int(inputs["length"]))
        # pulumi-random marks both encodings secret (additional_secret_outputs).
        encoded = base64.b64encode(raw).decode()
        return "none", {**inputs, "base64": wrap_secret(encoded), "hex": wrap_secret(raw.hex())}
    if typ == "random:index/randomId:RandomId":
        raw = secrets.token_bytes(int(inputs["byteLength"]))
        prefix = inputs.get("prefix", "")
        b64_url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        outs = {
            **inputs,
            "hex": prefix + raw.hex(),
            "b64Url": prefix + b64_url,
            "b64Std": prefix + base64.b64encode(raw).decode(),
            "dec": prefix + str(int.from_bytes(raw, "big")),
        }
        return b64_url, outs
    if typ == "random:index/randomPet:RandomPet":
        return random_pet(inputs), dict(inputs)
    raise NotImplementedError(f"local engine: no random handler for {typ}")
