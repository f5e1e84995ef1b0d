"""Library users' password inputs: checked naming the arg, before any resource or once a password resolves."""

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from components.kubernetes_registry import KubernetesRegistry
from components.selfhosted import SelfHostedRegistry
from tests.support.pulumi_runtime import run_program
from tests.support.recording_mocks import RecordingMocks

COMPONENTS = [SelfHostedRegistry, KubernetesRegistry]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("length", [8, 100])
def test_a_password_length_outside_16_to_72_fails_before_any_resource_naming_it(component, length):
    mocks = RecordingMocks()
    with pytest.raises(Exception, match=rf"password_length: {length} must be 16-72"):
        run_program(
            mocks,
            stack="library",
            config={},
            program=lambda: {"r": component("bad", {"password_length": length}).endpoint},
        )
    assert [r.typ for r in mocks.resources if not r.typ.startswith("registries:")] == []


@pytest.fixture
def abandoned_failures() -> Iterator[list[dict[str, Any]]]:
    """A run failing inside an apply leaves dependents' futures failed and unread: collect them quietly."""
    loop = asyncio.get_event_loop()
    previous = loop.get_exception_handler()
    abandoned: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: abandoned.append(context))
    try:
        yield abandoned
        gc.collect()
    finally:
        loop.set_exception_handler(previous)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("é" * 37, r"users\[1\].password: 74 bytes; bcrypt reads at most 72"),
        ("short-pw", r"users\[1\].password: 8 characters; a given password needs at least 12"),
    ],
)
def test_a_given_password_that_resolves_too_long_or_short_fails_naming_the_user_without_showing_it(
    component, password, message, abandoned_failures
):
    users = [{"name": "ci"}, {"name": "push", "password": pulumi.Output.secret(password)}]
    with pytest.raises(Exception, match=message) as failure:
        run_program(
            RecordingMocks(),
            stack="library",
            config={},
            program=lambda: {"r": component("bad", {"users": users}).endpoint},
        )
    assert password not in str(failure.value)
