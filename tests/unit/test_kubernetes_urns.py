"""Users' state keeps working across the split of components/kubernetes_registry.py into components/kubernetes/
(issue 26): the Kubernetes configs declare the same resources (URNs, parents) with the same inputs and the same
resource options (protect, retainOnDelete, ignoreChanges, dependencies) as before it. The snapshot was taken from
the code before the split; never regenerate it to make this test pass."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from components.kubernetes.objects import secret_checksum
from components.kubernetes.settings import CONFIG_KEY, READ_ONLY_CONFIG_KEY
from tests.unit.conftest import KUBERNETES_STACK_FILES
from tests.unit.urn_snapshot import SNAPSHOTS, STACK, AliasRecordingMonitor, SnapshotMocks, assert_declares_the_snapshot

SNAPSHOT = SNAPSHOTS / "kubernetes_urns.json"
OPTIONS_SNAPSHOT = SNAPSHOTS / "kubernetes_options.json"


def snapshot_cases() -> list[dict[str, Any]]:
    """The Kubernetes stack file and the manifest tests' configs (every feature on, a claim with GC, no Ingress)."""
    from tests.unit.test_kubernetes_registry import CONFIGS

    stack_file = yaml.safe_load(KUBERNETES_STACK_FILES[0].read_text())["config"]["registries:selfHosted"]
    cases = [{"stack": "k8s", "config": stack_file, "secret": True}]
    cases += [{"stack": "k8s", "config": config, "secret": True} for config in CONFIGS.values() if config is not None]
    return cases


class OptionsMonitor(AliasRecordingMonitor):
    """Also keeps each registration's resource options."""

    def __init__(self, mocks: SnapshotMocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self.options[urn] = {
            "parent": request.parent,
            "protect": request.protect,
            "retainOnDelete": request.retainOnDelete,
            "ignoreChanges": sorted(request.ignoreChanges),
            "dependencies": sorted(request.dependencies),
        }
        return super().RegisterResource(request)

    def state_options(self) -> dict[str, dict[str, Any]]:
        """The options by state URN, the parent and dependencies as state URNs too (the stack's own URN, which the
        mock monitor may name after another test's stack, as "stack")."""

        def state(urn: str) -> str:
            return self.state_urn(urn) if urn in self.registrations and self.registrations[urn][0] != STACK else "stack"

        return {
            state(urn): {
                **options,
                "parent": state(options["parent"]),
                "dependencies": sorted(map(state, options["dependencies"])),
            }
            for urn, options in self.options.items()
            if self.registrations[urn][0] != STACK
        }


class OptionsMocks(SnapshotMocks):
    def __init__(self) -> None:
        super().__init__()
        self.recorder = OptionsMonitor(self)


def declared_options(config: dict[str, Any], stack: str) -> dict[str, dict[str, Any]]:
    from tests.support.pulumi_runtime import run_program

    key = "registries:selfHosted"
    mocks = OptionsMocks()
    run_program(mocks, stack=stack, config={key: json.dumps(config)}, secret_keys=[key])
    return mocks.recorder.state_options()


def take_snapshot() -> None:
    """Taken once, before the split (python -c 'import tests.unit.test_kubernetes_urns as t; t.take_snapshot()')."""
    from tests.unit.urn_snapshot import write_snapshot

    cases = snapshot_cases()
    write_snapshot(SNAPSHOT, "selfHosted", cases)
    options = [{**case, "options": declared_options(case["config"], case["stack"])} for case in cases]
    OPTIONS_SNAPSHOT.write_text(json.dumps(options, indent=2, sort_keys=True) + "\n")


def reviewed_changes(urn: str, inputs: dict[str, Any], secret: dict[str, str] | None = None) -> dict[str, Any]:
    """The snapshot's inputs with the input changes made on purpose since, each reviewed and named here:
    - issue 25 (da087b4): the registry container's args name the mounted config.yml (`registry serve <path>`)
      instead of leaving the image's default CMD; an in-place update of the Deployment;
    - issue 29 (level 2, the rolling update on a node): with RollingUpdate, the registry container's 10 s preStop
      sleep; `http.draintimeout: 120s` in both configs and a grace period of 140 s, so a pod serves on while it
      leaves the Service's endpoints and then finishes what is in flight (a rolling update reset connections
      without them); the pod template's checksum/secret annotation follows the Secret (`secret`: its reviewed
      values, in the component's order). The values are written out here: a change of the constants is a new
      change to review."""
    if urn.endswith("::selfhosted-secret"):
        changed = copy.deepcopy(inputs)
        values = changed["stringData"]["value"]
        for key in (CONFIG_KEY, READ_ONLY_CONFIG_KEY):
            values[key] = with_drain_timeout(values[key])
        return changed
    if ":Deployment::" not in urn or urn.endswith("-redis"):
        return inputs
    changed = copy.deepcopy(inputs)
    for container in changed["spec"]["template"]["spec"]["containers"]:
        if container["name"] == "registry":
            mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
            container["args"] = ["registry", "serve", f"{mount}/config.yml"]
            if changed["spec"]["strategy"]["type"] == "RollingUpdate":
                container["lifecycle"] = {"preStop": {"sleep": {"seconds": 10}}}
    assert changed["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60
    changed["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 140
    if secret is not None:
        order = [CONFIG_KEY, READ_ONLY_CONFIG_KEY, "htpasswd", "http-secret", "s3-access-key", "s3-secret-key"]
        checksum = secret_checksum([secret[key] for key in order if key in secret])
        changed["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] = checksum
    return changed


def with_drain_timeout(config_yml: str) -> str:
    """`http.draintimeout: 120s` where the renderer puts it: the last key of `http`, after `debug`."""
    lines = config_yml.splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if i > lines.index("http:\n") and not line.startswith(" "))
    return "".join([*lines[:end], "  draintimeout: 120s\n", *lines[end:]])


def reviewed_case(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    secret_urn = next(u for u in case["declared"] if ":Secret::" in u and u.endswith("::selfhosted-secret"))
    secret = reviewed_changes(secret_urn, case["declared"][secret_urn])["stringData"]["value"]
    return {urn: reviewed_changes(urn, inputs, secret) for urn, inputs in case["declared"].items()}


def test_kubernetes_configs_declare_the_same_urns_and_inputs_as_before_the_split(tmp_path):
    cases = json.loads(SNAPSHOT.read_text())
    for case in cases:
        case["declared"] = reviewed_case(case)
    reviewed = tmp_path / SNAPSHOT.name
    reviewed.write_text(json.dumps(cases))
    assert_declares_the_snapshot(reviewed, "selfHosted")


def test_the_reviewed_changes_touch_only_the_registry_container_its_checksum_and_the_configs_drain_timeout():
    changed: dict[str, int] = {"Deployment": 0, "Secret": 0}
    for case in json.loads(SNAPSHOT.read_text()):
        for urn, after in reviewed_case(case).items():
            inputs = case["declared"][urn]
            if after == inputs:
                continue
            if ":Secret::" in urn:
                changed["Secret"] += 1
                for key in (CONFIG_KEY, READ_ONLY_CONFIG_KEY):
                    after_yml, before_yml = after["stringData"]["value"][key], inputs["stringData"]["value"][key]
                    assert after_yml.replace("  draintimeout: 120s\n", "", 1) == before_yml
                    assert yaml.safe_load(after_yml)["http"]["draintimeout"] == "120s"
                    after["stringData"]["value"][key] = before_yml
            else:
                changed["Deployment"] += 1
                for container in after["spec"]["template"]["spec"]["containers"]:
                    container.pop("args")
                    assert ("lifecycle" in container) == (inputs["spec"]["strategy"]["type"] == "RollingUpdate")
                    container.pop("lifecycle", None)
                after["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 60
                before = inputs["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
                annotations = after["spec"]["template"]["metadata"]["annotations"]
                assert annotations["checksum/secret"] != before
                annotations["checksum/secret"] = before
            assert after == inputs, urn
    assert changed == dict.fromkeys(changed, len(snapshot_cases())), "one registry Deployment and Secret a case"


def test_kubernetes_configs_declare_the_same_resource_options_as_before_the_split():
    cases = json.loads(OPTIONS_SNAPSHOT.read_text())
    assert len(cases) == len(snapshot_cases())
    for case in cases:
        assert declared_options(case["config"], case["stack"]) == case["options"]
