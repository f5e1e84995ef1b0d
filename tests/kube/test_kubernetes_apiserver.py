"""Every object KubernetesRegistry declares, applied to a real kube-apiserver (etcd behind it, RBAC on, the default
admission plugins; tests/kube/controlplane.py), as pulumi-kubernetes would: server-side apply with one field manager.

- each example and variant is accepted into a fresh namespace, with no warning, then deleted;
- a second apply of the same manifests changes nothing (no object's resourceVersion moves): the fields the server
  fills in are not ones we declare, so a second `pulumi up` has nothing to do;
- the GC pod's ServiceAccount may run every verb of every kubectl call of its script (the table of
  tests/unit/test_kubernetes_gc_rbac.py, asked with `kubectl auth can-i --as`), and nothing else tried;
- the Ingress hosts the review found (an IP address, upper case) are refused by the server and by our spec."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec
from tests.kube.controlplane import ControlPlane, serving_pem
from tests.unit.test_kubernetes_gc_rbac import CASES as GC_CASES
from tests.unit.test_kubernetes_gc_rbac import KUBECTL_VERBS, kubectl_calls, request
from tests.unit.test_kubernetes_registry import CONFIGS, _manifests_of

ROOT = Path(__file__).resolve().parents[2]
FIELD_MANAGER = "pulumi-kubernetes"
"""The field manager pulumi-kubernetes' server-side apply mode uses by default."""
VARIANTS: dict[str, dict[str, Any] | None] = {**CONFIGS, **{f"gc-{name}": config for name, config in GC_CASES.items()}}
DECLARED_NAMESPACE = "registry"
_counter = itertools.count()


def _fresh_namespace(case: str) -> str:
    return f"t{next(_counter)}-{re.sub(r'[^a-z0-9-]', '-', case)}"[:63].rstrip("-")


def _into(manifests: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The manifests moved from the declared namespace into `namespace` (the Namespace object renamed)."""
    moved = []
    for manifest in copy.deepcopy(manifests):
        metadata = manifest["metadata"]
        if manifest["kind"] == "Namespace":
            assert metadata["name"] == DECLARED_NAMESPACE
            metadata["name"] = namespace
        else:
            assert metadata.get("namespace") == DECLARED_NAMESPACE, manifest["kind"]
            metadata["namespace"] = namespace
        if manifest.get("type") == "kubernetes.io/tls" and "stringData" in manifest:
            manifest["stringData"] = _real_tls(manifest["stringData"])
        for subject in manifest.get("subjects", []):
            if subject.get("namespace") == DECLARED_NAMESPACE:
                subject["namespace"] = namespace
        moved.append(manifest)
    moved.sort(key=lambda m: m["kind"] != "Namespace")
    return moved


def _real_tls(placeholders: dict[str, str]) -> dict[str, str]:
    """Real PEM in place of the mocks' placeholders, in the same shape (the same keys; tls.crt a chain)."""
    real = serving_pem("registry.example.com")
    assert set(placeholders) == set(real), sorted(placeholders)
    assert placeholders["tls.crt"].count("BEGIN CERTIFICATE") == 2
    assert placeholders["tls.key"].startswith("-----BEGIN PRIVATE KEY-----")
    return real


def _apply(plane: ControlPlane, manifests: list[dict[str, Any]], *, check: bool = True) -> Any:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    return plane.kubectl(
        ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-"], input=document, check=check
    )


def _live(plane: ControlPlane, manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The live objects of `manifests` (managedFields included), read in one request each, keyed by kind and name."""
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    result = plane.kubectl(["get", "-f", "-", "-o", "json", "--show-managed-fields"], input=document)
    got = json.loads(result.stdout)
    items = got["items"] if got["kind"] == "List" else [got]
    live = {(o["kind"], o["metadata"]["name"]): o for o in items}
    assert set(live) == {key for key, _ in _keyed(manifests)}, sorted(live)
    return live


def _delete(plane: ControlPlane, manifests: list[dict[str, Any]], namespace: str) -> None:
    """Deletes the objects, then the namespace: no kube-controller-manager runs its finalizer, so the test does."""
    namespaced = [m for m in manifests if m["kind"] != "Namespace"]
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": namespaced})
    plane.kubectl(["delete", "--wait=false", "--ignore-not-found", "-f", "-"], input=document)
    plane.kubectl(["delete", "namespace", namespace, "--wait=false"])
    live = plane.json(["get", "namespace", namespace])
    live["spec"]["finalizers"] = []
    plane.kubectl(["replace", "--raw", f"/api/v1/namespaces/{namespace}/finalize", "-f", "-"], input=json.dumps(live))
    gone = plane.kubectl(["get", "namespace", namespace, "--ignore-not-found", "-o", "name"])
    assert gone.stdout.strip() == "", gone.stdout


REWRITTEN_UNCHANGED = {"PersistentVolumeClaim"}
"""Kinds kube-apiserver 1.32 stores once more, unchanged but with a new resourceVersion, on the first server-side
apply after the create (a bare claim does it too; the family of kubernetes/kubernetes#95460 and #124605). Every
other field stays as it was, managedFields included, and a third apply writes nothing: the test checks both."""


def _keyed(manifests: list[dict[str, Any]]) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    return [((m["kind"], m["metadata"]["name"]), m) for m in manifests]


def _without_version(live: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(live)
    del copied["metadata"]["resourceVersion"]
    return copied


def _declared_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _declared_leaves(item, (*path, key))] or [(path, {})]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _declared_leaves(item, (*path, i))] or [(path, [])]
    return [(path, value)]


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _as_stored(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the server keeps of a declared object: a Secret's stringData is written into data (base64)."""
    stored = copy.deepcopy(manifest)
    if stored["kind"] == "Secret" and "stringData" in stored:
        data = stored.setdefault("data", {})
        for key, text in stored.pop("stringData").items():
            data[key] = base64.b64encode(text.encode()).decode()
    return stored


@pytest.mark.parametrize("case", list(VARIANTS))
def test_every_declared_object_is_accepted_and_a_second_apply_changes_nothing(control_plane, case):
    namespace = _fresh_namespace(case)
    declared = _manifests_of(VARIANTS[case])
    manifests = _into(declared, namespace)
    if not any(m["kind"] == "Namespace" for m in manifests):  # kubernetes.createNamespace: false
        control_plane.kubectl(["create", "namespace", namespace])
    try:
        first = _apply(control_plane, manifests)
        # No admission warning (a deprecated API version, a field the server drops or ignores).
        assert "Warning" not in first.stderr, first.stderr
        applied = first.stdout.splitlines()
        assert len(applied) == len(manifests)
        assert all(line.endswith(" serverside-applied") for line in applied), applied

        live = _live(control_plane, manifests)
        for key, manifest in _keyed(manifests):
            obj = live[key]
            # Every field we declare is stored as we declare it (no normalization a diff would see) ...
            for path, value in _declared_leaves(_as_stored(manifest)):
                assert _at(obj, path) == value, (
                    f"{key} {'.'.join(map(str, path))}: declared {value!r}, live {_at(obj, path)!r}"
                )
            # ... and owned by our field manager through Apply.
            managers = {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}
            assert (FIELD_MANAGER, "Apply") in managers, (key, managers)

        _apply(control_plane, manifests)  # the second `pulumi up`
        second = _live(control_plane, manifests)
        for key, manifest in _keyed(manifests):
            before, again = live[key], second[key]
            # Nothing moved, managedFields included (an entry's time changes only when its fields do) ...
            assert _without_version(again) == _without_version(before), f"{key}: the second apply changed it"
            # ... and no new revision was written, except where this server rewrites an unchanged object.
            if manifest["kind"] not in REWRITTEN_UNCHANGED:
                assert again["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (
                    f"{key}: a second server-side apply of the same manifest wrote a new revision"
                )

        _apply(control_plane, manifests)  # a third `pulumi up`: nothing is written at all
        third = _live(control_plane, manifests)
        for key in second:
            version = third[key]["metadata"]["resourceVersion"]
            assert version == second[key]["metadata"]["resourceVersion"], (
                f"{key}: a third server-side apply of the same manifest wrote a new revision"
            )
    finally:
        _delete(control_plane, manifests, namespace)


# --- the GC job's RBAC -----------------------------------------------------------------------------------------


def _can_i(plane: ControlPlane, verb: str, resource: str, namespace: str, account: str) -> bool:
    result = plane.kubectl(
        ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{namespace}:{account}", "-n", namespace],
        check=False,
    )
    answer = result.stdout.strip()
    assert answer in {"yes", "no"}, (result.returncode, result.stdout, result.stderr)
    return answer == "yes"


@pytest.mark.parametrize("case", sorted(GC_CASES))
def test_the_gc_account_may_run_every_kubectl_call_of_its_script_and_nothing_else(control_plane, case):
    namespace = _fresh_namespace(f"gc-rbac-{case}")
    manifests = _into(_manifests_of(GC_CASES[case]), namespace)
    cron = next(m for m in manifests if m["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    script = pod["containers"][0]["command"][2]
    try:
        _apply(control_plane, manifests)
        checked = []
        for call in kubectl_calls(script):
            subcommand, group, resource, name = request(call)
            for verb in sorted(KUBECTL_VERBS[subcommand]):
                target = f"{resource}.{group}/{name}" if group else f"{resource}/{name}"
                assert _can_i(control_plane, verb, target, namespace, account), (
                    f"the API server forbids {account} to {verb} {target}, which `{' '.join(call[:4])}` needs"
                )
                checked.append((verb, target))
        assert checked
        # What the script does not do is refused: the control that the answers above can be "no".
        for verb, target in (
            ("delete", "deployments.apps/registry"),
            ("create", "deployments.apps"),
            ("list", "deployments.apps"),  # without a name: every Deployment of the namespace
            ("patch", "deployments.apps/someone-else"),
            ("get", "secrets/registry-secret"),
            ("create", "pods/exec"),
        ):
            assert not _can_i(control_plane, verb, target, namespace, account), f"{account} may {verb} {target}"
        _run_the_scripts_calls(control_plane, script, namespace, account)
        # The account of the registry pods themselves may not touch the Deployment.
        registry = next(m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "registry")
        registry_account = registry["spec"]["template"]["spec"].get("serviceAccountName", "default")
        if registry_account != account:
            assert not _can_i(control_plane, "patch", "deployments.apps/registry", namespace, registry_account)
    finally:
        _delete(control_plane, manifests, namespace)


def _run_the_scripts_calls(plane: ControlPlane, script: str, namespace: str, account: str) -> None:
    """The script's own kubectl calls, run with a token of the GC pod's account (TokenRequest, as the kubelet
    mounts it), in the order the job runs them: pin and switch to read-only, wait, restart Redis, switch back.
    No controller runs here, so `rollout status` waits until its (shortened) timeout: what matters is that the
    server serves its get, list and watch to this account rather than refusing them."""
    token = plane.kubectl(["create", "token", account, "-n", namespace, "--duration=10m"]).stdout.strip()
    calls = [
        [
            namespace if i > 0 and call[i - 1] == "--namespace" else w.replace("$NODE_NAME", "node-1")
            for i, w in enumerate(call)
        ]
        for call in kubectl_calls(script)
    ]
    patches = [c for c in calls if request(c)[0] == ("patch",)]
    read_only = next(c for c in patches if "config-readonly.yml" in " ".join(c))
    back = [c for c in patches if c is not read_only]
    others = [c for c in calls if request(c)[0] != ("patch",)]
    for call in [read_only, *others, *back]:
        subcommand = request(call)[0]
        args = [w if not w.startswith("--timeout=") else "--timeout=2s" for w in call[1:]]
        result = plane.kubectl(args, token=token, check=False, timeout=60)
        assert "forbidden" not in result.stderr.lower(), f"{' '.join(call)}:\n{result.stderr}"
        if subcommand == ("rollout", "status"):
            assert "timed out waiting for the condition" in result.stderr, result.stderr
        else:
            assert result.returncode == 0, f"{' '.join(call)}:\n{result.stderr}"
    # The same token is refused what the Role does not grant.
    refused = plane.kubectl(["-n", namespace, "get", "secrets"], token=token, check=False)
    assert "forbidden" in refused.stderr.lower(), refused.stderr


# --- Ingress hosts ------------------------------------------------------------------------------------------------

REFUSED_HOSTS = {
    # kubernetes pkg/apis/networking/validation validateIngressRules, as this server words it.
    "10.0.0.5": "must be a DNS name, not an IP address",
    "Registry.Example.com": "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
}


@pytest.mark.parametrize(("host", "server_says"), sorted(REFUSED_HOSTS.items()))
def test_an_ingress_host_the_server_refuses_is_refused_by_our_spec_too(control_plane, host, server_says):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": {"platform": "kubernetes", "hostname": host}}, "k8s", ROOT)
    problems = {problem.path: problem.allowed for problem in caught.value.problems}
    assert "registries:selfHosted.hostname" in problems, problems

    namespace = _fresh_namespace("ingress-host")
    manifests = _into(_manifests_of(CONFIGS["stack-file"]), namespace)
    ingress = next(m for m in manifests if m["kind"] == "Ingress")
    control_plane.kubectl(["create", "namespace", namespace])
    try:
        accepted = _apply(control_plane, [ingress])  # the declared host is accepted ...
        assert accepted.returncode == 0
        broken = copy.deepcopy(ingress)
        broken["metadata"]["name"] = "registry-host"
        broken["spec"]["rules"][0]["host"] = host
        refused = _apply(control_plane, [broken], check=False)  # ... the review's is not
        assert refused.returncode != 0
        assert f'spec.rules[0].host: Invalid value: "{host}": {server_says}' in refused.stderr, refused.stderr
    finally:
        _delete(control_plane, [ingress], namespace)
