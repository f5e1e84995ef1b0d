"""A run killed while its Kubernetes node runs a pod (tests/kube/node.py) leaves processes, the pod's containers,
mounts, a bridge, a NAT chain, cgroups, CNI's cached results and kubelet's kernel settings behind; the next run's
machine lock removes them and puts the settings back (remove_stale_nodes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.kube.controlplane import kube_bin
from tests.kube.node import KERNEL_TUNABLES, TUNABLES_FILE, WORKDIR, remove_stale_nodes

ROOT = Path(__file__).resolve().parents[2]

START_AND_HANG = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tests.kube.controlplane import ControlPlane
    from tests.kube.node import PAUSE_IMAGE, Node
    plane = ControlPlane(workdir=Path(sys.argv[1]), bin_dir=Path(sys.argv[2]))
    plane.start()
    node = Node(plane)
    node.start()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "left", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": PAUSE_IMAGE}]}}
    for _ in range(60):  # until the controllers have made the namespace's default ServiceAccount
        if plane.kubectl(["apply", "-f", "-"], input=json.dumps(pod), check=False).returncode == 0:
            break
        time.sleep(0.5)
    plane.kubectl(["wait", "--for=condition=Ready", "pod/left", "--timeout=120s"], timeout=130)
    print(node.suffix, flush=True)
    time.sleep(3600)
    """
)


def _left(suffix: str, workdir: Path) -> list[str]:
    names = {f"rkb{suffix}", f"RK-{suffix}", f"kubepods-{suffix}"}
    left = [f"link {n}" for n in names if Path(f"/sys/class/net/{n}").exists()]
    nat = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
    left += [f"chain {n}" for n in names if n in nat]
    left += [str(c / n) for c in Path("/sys/fs/cgroup").iterdir() for n in names if (c / n).exists()]
    left += [m for m in Path("/proc/self/mounts").read_text().split() if m.startswith(str(workdir))]
    left += [str(p) for p in Path("/var/lib/cni/results").glob(f"registries-{suffix}-*")]
    left += [str(p) for p in Path("/var/log/containers").glob("*.log") if str(workdir) in os.readlink(p)]
    left += [str(p) for p in Path("/var/log/pods").glob("*") if p.name.startswith("default_left_")]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(workdir).encode() in (proc / "cmdline").read_bytes():
                    left.append(f"process {proc.name}")
            except OSError:
                pass
    return left


def test_what_a_killed_run_s_node_leaves_is_removed_by_the_next_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kube-node-killed")
    settings = {key: (Path("/proc/sys") / key).read_text() for key in KERNEL_TUNABLES}
    kubelet_dir_existed = Path("/var/lib/kubelet").exists()
    assert WORKDIR.search(str(workdir)), f"{workdir} is not where remove_stale_nodes looks"
    process = subprocess.Popen(
        [sys.executable, "-c", START_AND_HANG, str(workdir), str(kube_bin())],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        suffix = process.stdout.readline().strip()
        assert len(suffix) == 6, "the node did not start"
        os.killpg(process.pid, signal.SIGKILL)  # the run is killed: no teardown runs
        process.wait(timeout=30)
        left = _left(suffix, workdir)
        assert any("/containerd-state/" in line for line in left), f"no pod's mounts were left: {left}"
        assert TUNABLES_FILE.exists()  # kubelet changed the kernel settings; the values before are kept there
        found = remove_stale_nodes()
        assert any(f"rkb{suffix}" in line for line in found), found
        assert _left(suffix, workdir) == []
        assert not TUNABLES_FILE.exists()
        assert Path("/var/lib/kubelet").exists() == kubelet_dir_existed
        assert {key: (Path("/proc/sys") / key).read_text() for key in KERNEL_TUNABLES} == settings
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        remove_stale_nodes()
