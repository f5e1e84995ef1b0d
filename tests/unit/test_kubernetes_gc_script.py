"""The GC CronJob's script, run by /bin/sh with stub kubectl and registry on PATH: what it asks the cluster."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_kubernetes_registry import _object, _run

ON_A_CLAIM = {"platform": "kubernetes", "kubernetes": {"garbageCollect": {"enabled": True}}}


def _gc_container(self_hosted: dict[str, Any]) -> dict[str, Any]:
    mocks, _ = _run(self_hosted)
    (container,) = _object(mocks, "CronJob", "registry-gc")["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ]
    return container


def _run_script(
    script: str, tmp_path: Path, failing: str | None = None, hanging: str | None = None
) -> tuple[int, list[list[str]]]:
    """Run `script` with a kubectl that logs its args (and fails when they contain `failing`, or hangs when they
    contain `hanging`, until the script gets SIGTERM as from activeDeadlineSeconds); the registry binary at
    /tools/registry is a stub logging too. Returns the exit code and the logged calls in order."""
    log = tmp_path / "calls.jsonl"
    stub = (
        "#!/usr/bin/env python3\n"
        "import json, sys, time\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv) + '\\n')\n"
        f"if {hanging!r} and {hanging!r} in ' '.join(sys.argv): time.sleep(60)\n"
        f"sys.exit(1 if {failing!r} and {failing!r} in ' '.join(sys.argv) else 0)\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kubectl", "registry"):
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(0o755)
    script = script.replace("/tools/registry", str(bin_dir / "registry"))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "NODE_NAME": "node-a"}
    shell = subprocess.Popen(["/bin/sh", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if hanging is not None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(hanging in " ".join(call) for call in _calls(log)):
            time.sleep(0.1)
        shell.send_signal(signal.SIGTERM)
    code = shell.wait(timeout=30)
    return code, _calls(log)


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line)[1:] for line in log.read_text().splitlines()] if log.exists() else []


def _patch(call: list[str]) -> list[dict[str, Any]]:
    return json.loads(call[call.index("--patch") + 1])


def test_on_a_claim_the_read_only_switch_pins_the_registry_to_the_gc_pods_node_and_read_write_unpins(tmp_path):
    container = _gc_container(ON_A_CLAIM)
    node_name = {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    assert node_name in container["env"]
    code, calls = _run_script(container["command"][2], tmp_path)
    assert code == 0
    patches = [_patch(call) for call in calls if call[:1] == ["--namespace"] and "patch" in call]
    read_only, read_write = patches
    assert {"op": "add", "path": "/spec/template/spec/nodeSelector", "value": {"kubernetes.io/hostname": "node-a"}} in (
        read_only
    )
    assert {"op": "remove", "path": "/spec/template/spec/nodeSelector"} in read_write
    assert read_write[2]["value"] == "config.yml"


@pytest.mark.parametrize("failing", ["rollout status", "garbage-collect"])
def test_a_failed_step_still_switches_back_to_read_write_and_fails_the_job(tmp_path, failing):
    script = _gc_container(ON_A_CLAIM)["command"][2]
    code, calls = _run_script(script, tmp_path, failing=failing)
    assert code != 0
    assert calls, "the script asked nothing"
    last = calls[-1]
    assert "patch" in last
    assert _patch(last)[2]["value"] == "config.yml", "the last call switches back to the read-write config"
    if failing == "rollout status":  # never collect while the registry may still accept pushes
        assert not any("garbage-collect" in call for call in calls)


@pytest.mark.parametrize("hanging", ["rollout status", "garbage-collect"])
def test_a_hung_step_stopped_by_the_job_deadline_still_switches_back(tmp_path, hanging):
    script = _gc_container(ON_A_CLAIM)["command"][2]
    started = time.monotonic()
    code, calls = _run_script(script, tmp_path, hanging=hanging)
    assert time.monotonic() - started < 20, "the signal interrupted the hung step"
    assert code != 0
    assert _patch(calls[-1])[2]["value"] == "config.yml"
