"""The component's new type token keeps existing stacks' URNs: registered as registries:index:SelfHostedRegistry
with an alias to the token it had, registries:selfhosted:SelfHostedRegistry (the engine maps the old URNs of
the component and, through its parent chain, of every child onto the new ones)."""

from __future__ import annotations

from typing import Any

from tests.support.pulumi_runtime import SecretKeepingMonitor, run_program
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import STACK_FILES, stack_config

NEW_TOKEN = "registries:index:SelfHostedRegistry"
OLD_TOKEN = "registries:selfhosted:SelfHostedRegistry"


class RequestMonitor(SecretKeepingMonitor):
    """Keeps every register-resource request: type, name, parent URN, alias specs and URNs."""

    def __init__(self, mocks: RequestRecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.recording.requests.append(
            {
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent": request.parent,
                "aliases": [
                    {"urn": a.urn} if a.urn else {"type": a.spec.type, "name": a.spec.name} for a in request.aliases
                ],
            }
        )
        return response


class RequestRecordingMocks(RecordingMocks):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    def monitor(self) -> RequestMonitor:
        return RequestMonitor(self)


def test_every_stack_registers_the_component_under_the_new_token_aliased_to_the_old_one():
    for path in STACK_FILES:
        mocks = RequestRecordingMocks()
        stack, config, secret_keys = stack_config(path)
        run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
        (component,) = [r for r in mocks.requests if r["name"] == "selfhosted"]
        assert component["type"] == NEW_TOKEN, path.name
        # An alias spec of the type alone (empty name: the same name), under the same parent (the stack).
        assert component["aliases"] == [{"type": OLD_TOKEN, "name": ""}], path.name
        children = [r for r in mocks.requests if r["parent"] == component["urn"]]
        assert len(children) >= 8, path.name  # every child is parented, so the alias carries over to it
        assert all(f"{NEW_TOKEN}$" in child["urn"] for child in children)
