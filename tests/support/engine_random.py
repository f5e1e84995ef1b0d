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
    raise NotImplementedError(f"local engine: no random handler for {typ}")
