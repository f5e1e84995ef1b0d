"""The GC CronJob's RBAC: every kubectl call its script makes is allowed by the Role bound to the pod's account.

The verbs each kubectl subcommand sends, read from kubectl's source (kubernetes/kubernetes,
staging/src/k8s.io/kubectl and staging/src/k8s.io/cli-runtime):
- every subcommand resolves `TYPE NAME` through resource.Builder, whose Do() adds RetrieveLazy (a GET of the named
  object) unless the command opts out; `rollout status` also calls Latest() (GET).
- `patch` (pkg/cmd/patch/patch.go RunPatch): the builder's GET, then helper.Patch (PATCH).
- `rollout restart` (pkg/cmd/rollout/rollout_restart.go RunRestart): the builder's GET, then helper.Patch.
- `rollout status` (pkg/cmd/rollout/rollout_status.go Run): the builder's GET, then watchtools.UntilWithSync over a
  cache.ListWatch whose ListFunc LISTs and WatchFunc WATCHes with fieldSelector metadata.name=<name> (RBAC's
  resourceNames applies to that list/watch, but only when the verb `list` is granted). The Deployment status viewer
  (pkg/polymorphichelpers/rollout_status.go) reads the watched object only: no ReplicaSet is read.
A subcommand missing from the table fails the test: add it, with its source, before the script may run it.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from tests.unit.test_kubernetes_registry import S3, _object, _run

KUBECTL_VERBS: dict[tuple[str, ...], frozenset[str]] = {
    ("patch",): frozenset({"get", "patch"}),
    ("rollout", "restart"): frozenset({"get", "patch"}),
    ("rollout", "status"): frozenset({"get", "list", "watch"}),
}
RESOURCES = {"deployment": ("apps", "deployments"), "deployments": ("apps", "deployments")}
"""kubectl's short resource names the script uses -> (API group, resource)."""
FLAGS_WITH_VALUE = {"--namespace", "-n", "--type", "--patch", "-p", "--timeout"}

CASES = {
    "claim": {"platform": "kubernetes", "kubernetes": {"garbageCollect": {"enabled": True}}},
    "claim-redis": {
        "platform": "kubernetes",
        "kubernetes": {"garbageCollect": {"enabled": True}, "redis": {"enabled": True}},
    },
    "s3-keys-redis": {
        "platform": "kubernetes",
        "storage": {**S3, "accessKey": "AKIAEXAMPLE", "secretKey": "example-secret"},
        "kubernetes": {"replicas": 2, "garbageCollect": {"enabled": True}, "redis": {"enabled": True}},
    },
    "s3-irsa": {
        "platform": "kubernetes",
        "storage": S3,
        "kubernetes": {
            "replicas": 2,
            "s3RoleArn": "arn:aws:iam::111122223333:role/registry-s3",
            "garbageCollect": {"enabled": True},
        },
    },
}


def kubectl_calls(script: str) -> list[list[str]]:
    """Every kubectl command line of the script (`run` prefixes and `||` chains split), as argv."""
    calls = []
    for line in script.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue  # a shell construct shlex cannot read (none holds kubectl)
        command: list[str] = []
        for word in [*words, "||"]:
            if word in {"||", "&&", ";"}:
                if command and command[0] == "run":
                    command = command[1:]
                if command and command[0] == "kubectl":
                    calls.append(command)
                command = []
            else:
                command.append(word)
    return calls


def request(call: list[str]) -> tuple[tuple[str, ...], str, str, str]:
    """(subcommand, API group, resource, object name) of one kubectl call."""
    positional = []
    words = iter(call[1:])
    for word in words:
        if word in FLAGS_WITH_VALUE:
            next(words)
        elif not word.startswith("-"):
            positional.append(word)
    subcommand = next((key for key in KUBECTL_VERBS if tuple(positional[: len(key)]) == key), None)
    assert subcommand is not None, f"kubectl {positional[:2]}: not in KUBECTL_VERBS; add it with its kubectl source"
    target = positional[len(subcommand) :]
    kind, name = target[0].split("/", 1) if "/" in target[0] else (target[0], target[1])
    group, resource = RESOURCES[kind]
    return subcommand, group, resource, name


def allowed_verbs(rules: list[dict[str, Any]], group: str, resource: str, name: str) -> set[str]:
    """The verbs the Role's rules grant on one named object (RBAC's rule matching, resourceNames included)."""
    verbs: set[str] = set()
    for rule in rules:
        if group not in rule.get("apiGroups", []) or resource not in rule.get("resources", []):
            continue
        names = rule.get("resourceNames") or []
        if names and name not in names:
            continue
        verbs |= set(rule["verbs"])
    return verbs


def _gc(self_hosted: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], str]:
    mocks, _ = _run(self_hosted)
    cron = _object(mocks, "CronJob", "registry-gc")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    role = _object(mocks, "Role", "registry-gc")
    binding = _object(mocks, "RoleBinding", "registry-gc")
    return role["rules"], binding, pod, pod["containers"][0]["command"][2]


def test_the_parser_finds_every_kubectl_call_of_the_script():
    _, _, _, script = _gc(CASES["claim-redis"])
    calls = [request(call) for call in kubectl_calls(script)]
    subcommands = [call[0] for call in calls]
    assert subcommands.count(("patch",)) == 3  # read-only; in the EXIT trap: unpin, or the config switch alone
    assert ("rollout", "status") in subcommands
    assert ("rollout", "restart") in subcommands
    assert {name for *_, name in calls} == {"registry", "registry-redis"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_role_grants_every_verb_each_kubectl_call_of_the_gc_script_needs(case):
    rules, binding, pod, script = _gc(CASES[case])
    calls = kubectl_calls(script)
    assert calls
    for call in calls:
        subcommand, group, resource, name = request(call)
        missing = KUBECTL_VERBS[subcommand] - allowed_verbs(rules, group, resource, name)
        assert not missing, f"{' '.join(call[:6])}: the Role lacks {sorted(missing)} on {resource}/{name}"
    # ...and the Role is bound to the account the GC pod runs as, with a token kubectl can use.
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "registry-gc"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "registry"}
    ]
    assert pod.get("automountServiceAccountToken", True) is True


def test_the_role_grants_nothing_the_script_does_not_use():
    rules, _, _, script = _gc(CASES["claim-redis"])
    needed: dict[tuple[str, str], set[str]] = {}
    for call in kubectl_calls(script):
        subcommand, group, resource, _ = request(call)
        needed.setdefault((group, resource), set()).update(KUBECTL_VERBS[subcommand])
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert set(rule["verbs"]) <= needed.get((group, resource), set()), rule
        assert rule.get("resourceNames") == ["registry", "registry-redis"]


def test_with_irsa_the_gc_pod_runs_under_the_account_that_carries_the_role():
    # The EKS pod identity webhook mutates a pod only when its own ServiceAccount has the role-arn annotation
    # (aws/amazon-eks-pod-identity-webhook pkg/handler/handler.go); garbage-collect needs S3 like the registry.
    mocks, _ = _run(CASES["s3-irsa"])
    pod = _object(mocks, "CronJob", "registry-gc")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    account = _object(mocks, "ServiceAccount", pod["serviceAccountName"])
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/registry-s3"
    }
    assert pod["automountServiceAccountToken"] is True  # kubectl's token; the registry pods still mount none
    assert _object(mocks, "Deployment", "registry")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert not {"REGISTRY_STORAGE_S3_ACCESSKEY", "REGISTRY_STORAGE_S3_SECRETKEY"} & env
