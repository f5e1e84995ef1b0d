"""A Hub API emulator on loopback, and credentials for it in the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.dockerhub import resources
from tests.support.hub_emulator import HubEmulator

USER, PASSWORD = "acmebot", "hub-password-not-for-logs"


@pytest.fixture(autouse=True)
def fresh_provider_process() -> Iterator[None]:
    """Each test starts like a new provider host process: no cached Hub client or login."""
    forget = resources.forget_clients
    forget()
    yield
    forget()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    with HubEmulator(users={USER: PASSWORD}) as emulator:
        emulator.retry_after = "0"
        monkeypatch.setenv("DOCKER_USERNAME", USER)
        monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
        monkeypatch.delenv("DOCKER_HUB_TOKEN", raising=False)
        yield emulator
