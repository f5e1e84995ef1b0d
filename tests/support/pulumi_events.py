"""Engine events shaped like the Pulumi CLI's event log (apitype.EngineEvent as JSON lines), for the stand-in.

`pulumi up --event-log FILE` writes one JSON object per line: a preludeEvent, a resourcePreEvent before
each step and a resOutputsEvent after it (`planning: true` in a preview), diagnosticEvents, a
resOpFailedEvent when a step fails, a summaryEvent with the change counts, and a cancelEvent last.
Secret values in step state arrive already masked as "[secret]".
"""

from __future__ import annotations

from typing import Any

PROJECT, STACK = "registries", "local"


def urn(type_: str, name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def _metadata(op: str, type_: str, name: str, parent_type: str = "", outputs: dict[str, Any] | None = None):
    resource_urn = urn(type_, name, parent_type)
    state = {
        "type": type_,
        "urn": resource_urn,
        "custom": not type_.startswith(("pulumi:pulumi:", "registries:")),
        "delete": False,
        "id": "",
        "parent": "",
        "inputs": {},
        "outputs": outputs or {},
        "provider": "",
    }
    return {"op": op, "urn": resource_urn, "type": type_, "old": None, "new": state, "provider": ""}


def pre(op: str, type_: str, name: str, parent_type: str = "", planning: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {"metadata": _metadata(op, type_, name, parent_type)}
    if planning:
        event["planning"] = True
    return {"resourcePreEvent": event}


def done(op: str, type_: str, name: str, parent_type: str = "", outputs: dict[str, Any] | None = None):
    return {"resOutputsEvent": {"metadata": _metadata(op, type_, name, parent_type, outputs)}}


def failed(op: str, type_: str, name: str, parent_type: str = "") -> dict[str, Any]:
    return {"resOpFailedEvent": {"metadata": _metadata(op, type_, name, parent_type), "status": 1, "steps": 0}}


def diagnostic(severity: str, message: str, resource_urn: str = "") -> dict[str, Any]:
    return {
        "diagnosticEvent": {
            "urn": resource_urn,
            "prefix": f"{severity}: ",
            "message": message,
            "color": "never",
            "severity": severity,
        }
    }


def summary(duration: int = 0, **changes: int) -> dict[str, Any]:
    return {
        "summaryEvent": {
            "maybeCorrupt": False,
            "durationSeconds": duration,
            "resourceChanges": {k.replace("_", "-"): v for k, v in changes.items()},
            "PolicyPacks": {},
        }
    }


STACK_TYPE, COMPONENT = "pulumi:pulumi:Stack", "registries:selfhosted:SelfHostedRegistry"
NETWORK, VOLUME, CONTAINER = (
    "docker:index/network:Network",
    "docker:index/volume:Volume",
    "docker:index/container:Container",
)
PASSWORD = "random:index/randomPassword:RandomPassword"


def local_up_events() -> list[dict[str, Any]]:
    """A second `up` of the local stack: the container is replaced, a user's password created, rest unchanged."""
    return [
        {"preludeEvent": {"config": {"registries:selfHosted": '{"name":"local"}'}}},
        pre("same", STACK_TYPE, f"{PROJECT}-{STACK}"),
        pre("same", COMPONENT, "selfhosted", STACK_TYPE),
        pre("same", NETWORK, "selfhosted-network", COMPONENT),
        done("same", NETWORK, "selfhosted-network", COMPONENT),
        pre("same", VOLUME, "selfhosted-volume", COMPONENT),
        done("same", VOLUME, "selfhosted-volume", COMPONENT),
        pre("create", PASSWORD, "selfhosted-user-ci", COMPONENT),
        pre("replace", CONTAINER, "selfhosted-container", COMPONENT),
        done("create", PASSWORD, "selfhosted-user-ci", COMPONENT, {"result": "[secret]"}),
        diagnostic(
            "warning", "container restarted to pick up the new htpasswd\n", urn(CONTAINER, "selfhosted-container")
        ),
        done("replace", CONTAINER, "selfhosted-container", COMPONENT),
        done("same", COMPONENT, "selfhosted", STACK_TYPE),
        done("same", STACK_TYPE, f"{PROJECT}-{STACK}"),
        summary(duration=7, same=4, create=1, replace=1),
    ]


def local_preview_events() -> list[dict[str, Any]]:
    """The preview of that same change."""
    return [
        {"preludeEvent": {"config": {}}},
        pre("same", STACK_TYPE, f"{PROJECT}-{STACK}", planning=True),
        pre("create", PASSWORD, "selfhosted-user-ci", COMPONENT, planning=True),
        pre("replace", CONTAINER, "selfhosted-container", COMPONENT, planning=True),
        summary(same=4, create=1, replace=1),
    ]


def failing_up_events() -> list[dict[str, Any]]:
    """An `up` whose container cannot be created (the port is taken)."""
    container = urn(CONTAINER, "selfhosted-container", COMPONENT)
    return [
        {"preludeEvent": {"config": {}}},
        pre("create", CONTAINER, "selfhosted-container", COMPONENT),
        diagnostic("error", "Unable to start container: port 5000 is already allocated\n", container),
        failed("create", CONTAINER, "selfhosted-container", COMPONENT),
        summary(duration=2, create=0),
    ]


LOCAL_OUTPUTS = {
    "endpoint": {"value": "localhost:5000", "secret": False},
    "users": {"value": {"admin": "very-secret-admin-password"}, "secret": True},
    "caCertPem": {"value": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "secret": False},
}
