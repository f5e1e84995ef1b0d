"""Level 2 of the Kubernetes path: the control plane of tests/kube/controlplane.py plus kube-controller-manager,
kube-scheduler and one kubelet on a private containerd (Debian's containerd, runc and CNI plugins), so that the
objects our component declares run as pods. Nothing is pulled: the pause image is Debian's static busybox in a
scratch image, and every other image is loaded into containerd from the Docker Engine (`docker save | ctr import`).

The node lives on this machine only: a bridge of its own joins the pods (CNI bridge + host-local, no masquerade) and
its gateway address is the node's (kubelet refuses a loopback one); every name carries a random suffix so two nodes
never meet. stop() deletes the pods, ends kubelet and containerd, kills the pods' shims, unmounts what
kubelet mounted and removes the interfaces and cgroups it made: nothing is left behind."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.kube.controlplane import SERVICE_CIDR, ControlPlane, StartError, cert_subject, free_port, issue_pair

PAUSE_IMAGE = "registries.local/pause:1"
"""The sandbox image: busybox-static's `sleep` as PID 1 (containerd stops sandboxes with SIGKILL)."""
NODE_START_TIMEOUT = 180.0
KERNEL_TUNABLES = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
"""What kubelet sets on the machine when it starts (pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables,
with protectKernelDefaults off). The values before are kept in TUNABLES_FILE until stop() (or, after a killed run,
remove_stale_nodes) puts them back."""
TUNABLES_FILE = Path("/tmp/registries-kube-node-sysctl.json")
KUBECTL_STANDIN = "registries.local/kubectl:test"
"""The GC job's kubectl image here (busybox + the machine's kubectl): never under an upstream image's name."""
WORKDIR = re.compile(r"/pytest-of-[^/]+/pytest-\d+/(popen-gw\d+/)?kube-node(-killed)?\d+(/|$)")
"""A node's work directory (tests/e2e's tmp_path_factory.mktemp): what remove_stale_nodes may remove."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROCESSES = ("kubelet", "kube-scheduler", "kube-controller-manager", "containerd")
"""What a node starts beside the control plane."""


def _run(argv: list[str], *, input: bytes | None = None, timeout: float = 300, check: bool = True) -> str:
    result = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise StartError(f"{' '.join(argv[:4])} failed ({result.returncode}): {result.stderr.decode()[-2000:]}")
    return result.stdout.decode()


@dataclass
class Node:
    """kube-controller-manager, kube-scheduler, containerd and kubelet beside `plane` (started with a node)."""

    plane: ControlPlane
    name: str = "registries-node"
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: random.randint(1, 250))
    timings: dict[str, float] = field(default_factory=dict)
    _tunables: dict[str, str] = field(default_factory=dict)
    _kubelet_dir_existed: bool = True
    _pod_logs_before: set[str] = field(default_factory=set)

    @property
    def dir(self) -> Path:
        return self.plane.workdir / "node"

    @property
    def socket(self) -> Path:
        return self.dir / "containerd.sock"

    @property
    def node_ip(self) -> str:
        """The pods' gateway on the node's bridge (host-local's default gateway: the subnet's first address)."""
        return f"10.244.{self.subnet}.1"

    @property
    def pod_cidr(self) -> str:
        return f"10.244.{self.subnet}.0/24"

    @property
    def bridge(self) -> str:
        return f"rkb{self.suffix}"

    @property
    def cgroup_parent(self) -> str:
        return f"kubepods-{self.suffix}"

    # --- start ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip"):
            if shutil.which(tool) is None:
                raise StartError(f"no {tool} on PATH (scripts/test.sh installs containerd, runc and iproute2)")
        if not Path("/usr/lib/cni/bridge").exists():
            raise StartError("no /usr/lib/cni/bridge: install Debian's containernetworking-plugins")
        if not (CGROUP_ROOT / "cpu" / "cpu.shares").exists():
            raise StartError(f"the node needs cgroup v1 hierarchies under {CGROUP_ROOT} (this machine kind's layout)")
        started = time.monotonic()
        self._tunables = _saved_tunables()
        self._kubelet_dir_existed = Path("/var/lib/kubelet").exists()
        self._pod_logs_before = {p.name for p in Path("/var/log/pods").glob("*")}
        self.dir.mkdir(parents=True)
        pki = self.plane.workdir / "pki"
        # The Node authorizer knows a kubelet by its certificate: user system:node:<name>, group system:nodes.
        issue_pair(
            pki, "node", cert_subject(f"system:node:{self.name}", "system:nodes"), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        node_address = x509.IPAddress(ipaddress.ip_address(self.node_ip))
        issue_pair(pki, "kubelet", cert_subject(self.name), ExtendedKeyUsageOID.SERVER_AUTH, sans=[node_address])
        for controller in _v1_hierarchies():  # kubelet's cgroupRoot, in every hierarchy mounted
            (controller / self.cgroup_parent).mkdir(exist_ok=True)
        cpuset = CGROUP_ROOT / "cpuset"
        for setting in ("cpuset.cpus", "cpuset.mems"):  # a new v1 cpuset group holds no CPU until given its parent's
            (cpuset / self.cgroup_parent / setting).write_text((cpuset / setting).read_text())
        # The pods' bridge, made before CNI would: its gateway address is the node's (kubelet refuses loopback).
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        _run(["ip", "addr", "add", f"{self.node_ip}/24", "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])
        self._start_containerd()
        self.load_image(PAUSE_IMAGE, self._pause_image(), remove=True)
        self._route_kubernetes_service()
        self._start_controllers()
        self._start_kubelet()
        self.timings["node"] = time.monotonic() - started

    def _start_containerd(self) -> None:
        (self.dir / "cni").mkdir()
        (self.dir / "cni" / "10-bridge.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": f"registries-{self.suffix}",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": self.bridge,
                            "isGateway": True,
                            "ipMasq": False,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": self.pod_cidr}]],
                                "routes": [{"dst": "0.0.0.0/0"}],  # via the bridge: Service addresses too
                                "dataDir": str(self.dir / "ipam"),
                            },
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                    ],
                }
            )
        )
        config = self.dir / "containerd.toml"
        cri = '[plugins."io.containerd.grpc.v1.cri"]'
        config.write_text(
            f"""version = 2
root = "{self.dir / "containerd-root"}"
state = "{self.dir / "containerd-state"}"
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.dir / "containerd.sock.ttrpc"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{self.dir / "opt"}"
{cri}
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "{free_port()}"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
{cri[:-1]}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
{cri[:-1]}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
{cri[:-1]}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{self.dir / "runc"}"
{cri[:-1]}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{self.dir / "cni"}"
"""
        )
        # Nothing is pulled: a pull (a missing or misnamed image) goes to a proxy that is not there and fails at once.
        no_pulls = {
            **os.environ,
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
        }
        process = self.plane.spawn(
            "containerd", ["containerd", "--config", str(config), "--log-level", "info"], env=no_pulls
        )
        self.plane.wait_ready("containerd", process, lambda: self._ctr(["version"], check=False) is not None)

    def _ctr(self, args: list[str], *, input: bytes | None = None, check: bool = True) -> str | None:
        result = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
            input=input,
            capture_output=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            if check:
                raise StartError(f"ctr {' '.join(args[:3])} failed: {result.stderr.decode()[-2000:]}")
            return None
        return result.stdout.decode()

    def _pause_image(self) -> str:
        """Builds PAUSE_IMAGE in the Docker Engine from busybox-static (no base image pulled)."""
        busybox = Path("/bin/busybox")
        if not busybox.exists():
            raise StartError("no /bin/busybox: install Debian's busybox-static (the pause image is built from it)")
        with tempfile.TemporaryDirectory() as context:
            shutil.copy(busybox, Path(context) / "busybox")
            (Path(context) / "Dockerfile").write_text(
                'FROM scratch\nCOPY busybox /busybox\nENTRYPOINT ["/busybox", "sleep", "2147483647"]\n'
            )
            _run(["docker", "build", "-q", "-t", PAUSE_IMAGE, context])
        return PAUSE_IMAGE

    def kubectl_image(self, tag: str = KUBECTL_STANDIN) -> str:
        """The GC job's kubectl image (alpine/k8s upstream), built in the Docker Engine from what it holds that the
        job uses: busybox's sh and the machine's kubectl (a static Go binary). Loaded into the node (and removed from
        the Docker Engine); returns `tag`."""
        kubectl = Path(shutil.which("kubectl") or "/usr/bin/kubectl").resolve()
        with tempfile.TemporaryDirectory() as context:
            root = Path(context) / "rootfs" / "bin"
            root.mkdir(parents=True)
            shutil.copy(Path("/bin/busybox"), root / "busybox")
            shutil.copy(kubectl, root / "kubectl")
            for applet in ("sh", "cat", "ls", "env", "sleep"):
                (root / applet).symlink_to("busybox")
            (Path(context) / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n")
            _run(["docker", "build", "-q", "-t", tag, context])
        self.load_image(tag, remove=True)
        return tag

    def kill_container(self, container_id: str) -> None:
        """SIGKILL to a container's process, as a crash would; the kubelet restarts it in its pod."""
        self._ctr(["tasks", "kill", "--signal", "SIGKILL", container_id])

    def load_image(self, reference: str, docker_reference: str | None = None, remove: bool = False) -> None:
        """Copies an image from the Docker Engine into the node's containerd (the names kubelet will ask for); with
        `remove`, a stand-in built for the node only, it is untagged from the Docker Engine afterwards."""
        archive = subprocess.run(
            ["docker", "save", docker_reference or reference], capture_output=True, timeout=600, check=False
        )
        if archive.returncode != 0:
            raise StartError(f"docker save {docker_reference or reference}: {archive.stderr.decode()[-500:]}")
        self._ctr(["images", "import", "--no-unpack", "-"], input=archive.stdout)
        if remove:
            _run(["docker", "rmi", docker_reference or reference], check=False)

    @property
    def chain(self) -> str:
        return f"RK-{self.suffix}"

    def _route_kubernetes_service(self) -> None:
        """kube-proxy's part for the one Service pods use here, `kubernetes` (the GC job's kubectl): 10.96.0.1:443
        from the node's bridge goes to the API server on loopback (route_localnet on this bridge only); and what a
        network plugin allows, traffic between the node's pods."""
        (Path("/proc/sys/net/ipv4/conf") / self.bridge / "route_localnet").write_text("1")
        for table, hook in CHAIN_HOOKS.items():
            _run(["iptables", "-w", "-t", table, "-N", self.chain])
            _run(["iptables", "-w", "-t", table, "-I", hook, "-i", self.bridge, "-j", self.chain])
        # Pod to pod on the bridge: the Docker Engine's br_netfilter sends bridged frames through FORWARD, whose
        # policy it sets to DROP (the registry's Redis dials timed out without this).
        _run(["iptables", "-w", "-t", "filter", "-A", self.chain, "-o", self.bridge, "-j", "ACCEPT"])
        service_ip = next(iter(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        self._dnat(str(service_ip), 443, int(self.plane.url.rsplit(":", 1)[1]))

    def expose_loopback(self, port: int) -> str:
        """A server of the tests on 127.0.0.1:`port` (moto) made reachable from the pods at <node address>:`port`;
        returns that address's URL authority."""
        self._dnat(self.node_ip, port, port)
        return f"{self.node_ip}:{port}"

    def _dnat(self, address: str, port: int, loopback_port: int) -> None:
        rule = ["-d", f"{address}/32", "-p", "tcp", "--dport", str(port), "-j", "DNAT"]
        _run(
            [
                "iptables",
                "-w",
                "-t",
                "nat",
                "-A",
                self.chain,
                *rule,
                "--to-destination",
                f"127.0.0.1:{loopback_port}",
            ]
        )

    def _start_controllers(self) -> None:
        pki = self.plane.workdir / "pki"
        self.plane.spawn(
            "kube-controller-manager",
            [
                str(self.plane.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.plane.kubeconfig}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle",
                "--v=1",
            ],
        )
        self.plane.spawn(
            "kube-scheduler",
            [
                str(self.plane.bin_dir / "kube-scheduler"),
                f"--kubeconfig={self.plane.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--v=1",
            ],
        )

    def _start_kubelet(self) -> None:
        pki = self.plane.workdir / "pki"
        kubeconfig = self.dir / "kubelet.kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "test",
                            "cluster": {"server": self.plane.url, "certificate-authority": str(pki / "ca.crt")},
                        }
                    ],
                    "users": [
                        {
                            "name": "node",
                            "user": {"client-certificate": str(pki / "node.crt"), "client-key": str(pki / "node.key")},
                        }
                    ],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "node"}}],
                    "current-context": "test",
                }
            )
        )
        config = self.dir / "kubelet.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    "address": self.node_ip,
                    "port": free_port(),
                    "readOnlyPort": 0,
                    "healthzBindAddress": "127.0.0.1",
                    "healthzPort": free_port(),
                    "tlsCertFile": str(pki / "kubelet.crt"),
                    "tlsPrivateKeyFile": str(pki / "kubelet.key"),
                    "authentication": {
                        "anonymous": {"enabled": False},
                        "webhook": {"enabled": True},
                        "x509": {"clientCAFile": str(pki / "ca.crt")},
                    },
                    "authorization": {"mode": "Webhook"},
                    "containerRuntimeEndpoint": f"unix://{self.socket}",
                    "cgroupDriver": "cgroupfs",
                    "cgroupRoot": f"/{self.cgroup_parent}",
                    "failSwapOn": False,
                    "failCgroupV1": False,
                    "podCIDR": self.pod_cidr,
                    # No cluster DNS here, and no lookup leaves the machine: pods ask 127.0.0.1 (nothing answers).
                    "resolvConf": str(self._resolv_conf()),
                    "podLogsDir": str(self.dir / "pod-logs"),
                    "clusterDomain": "cluster.local",
                    # Never evict or collect images because of this shared machine's disk: the images are loaded once.
                    "evictionHard": {"memory.available": "1Mi", "nodefs.available": "0%", "imagefs.available": "0%"},
                    "imageGCHighThresholdPercent": 100,
                    "imageGCLowThresholdPercent": 99,
                    "serializeImagePulls": False,
                    "staticPodPath": "",
                    "volumePluginDir": str(self.dir / "volume-plugins"),
                    "registerNode": True,
                    "protectKernelDefaults": False,
                }
            )
        )
        process = self.plane.spawn(
            "kubelet",
            [
                str(self.plane.bin_dir / "kubelet"),
                f"--config={config}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.dir / 'kubelet'}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.node_ip}",
                f"--cert-dir={self.dir / 'kubelet-pki'}",
                "--v=1",
            ],
        )
        deadline = time.monotonic() + NODE_START_TIMEOUT
        while not self._ready():
            if process.poll() is not None:
                raise self.plane.failure("kubelet", f"exited with {process.returncode} while starting")
            if time.monotonic() > deadline:
                raise self.plane.failure("kubelet", f"did not make node {self.name} Ready in {NODE_START_TIMEOUT:.0f}s")
            time.sleep(1)

    def _resolv_conf(self) -> Path:
        path = self.dir / "resolv.conf"
        path.write_text("nameserver 127.0.0.1\n")
        return path

    def _ready(self) -> bool:
        got = self.plane.kubectl(["get", "node", self.name, "-o", "json"], check=False, timeout=10)
        if got.returncode != 0:
            return False
        conditions = json.loads(got.stdout)["status"].get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def describe(self, namespace: str) -> str:
        """What to read when a rollout fails: the namespace's pods and events, and the kubelet's last lines."""
        pods = self.plane.kubectl(["-n", namespace, "describe", "pods"], check=False).stdout
        return f"{pods[-6000:]}\n--- kubelet log ---\n{self.plane.log_tail('kubelet', 60)}\n"

    # --- stop ----------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """The controllers first (no pod is recreated), then the pods (kubelet tears down their volumes, and CNI
        releases their addresses), then kubelet and containerd, the pods' shims and processes, mounts, the bridge,
        the NAT chain, cgroups, kubelet's files outside the node's directory and its kernel settings. Every step runs
        even if an earlier one failed; the failures are raised together at the end."""
        errors: list[str] = []

        def step(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except Exception as error:
                errors.append(f"{what}: {error}")

        for name in ("kube-controller-manager", "kube-scheduler"):
            step(f"stop {name}", lambda name=name: self.plane.stop_process(name))
        if self.plane.running(("kubelet",)):
            step("delete the pods", self._delete_pods)
        step("stop kubelet", lambda: self.plane.stop_process("kubelet"))
        for task in (self._ctr(["tasks", "list", "-q"], check=False) or "").split():
            self._ctr(["tasks", "kill", "-s", "SIGKILL", task], check=False)
        step("stop containerd", lambda: self.plane.stop_process("containerd"))
        step("kill the shims", self._kill_shims)
        tops = [c / self.cgroup_parent for c in _hierarchies() if (c / self.cgroup_parent).is_dir()]
        step("kill the pods' processes", lambda: _kill_cgroup_processes(tops))
        step("unmount", lambda: _unmount(self._mounts()))
        step("remove the bridge", lambda: _run(["ip", "link", "del", self.bridge], check=False))
        step("remove the iptables chains", lambda: _remove_chains(self.chain))
        step("remove the cgroups", lambda: _remove_cgroups(tops))
        step("remove kubelet's files", self._remove_host_files)
        step("restore the kernel settings", _restore_tunables)
        if errors:
            raise StartError("stopping the node: " + "; ".join(errors))

    def _delete_pods(self) -> None:
        self.plane.kubectl(
            ["delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false"],
            check=False,
            timeout=60,
        )
        for _ in range(60):
            if not (self._ctr(["tasks", "list", "-q"], check=False) or "").strip():
                return
            time.sleep(1)

    def _remove_host_files(self) -> None:
        """What kubelet and CNI write outside --root-dir: /var/log/containers links into this node's pod logs, CNI's
        cached results for this node's network, and /var/lib/kubelet (device-plugins) if it was not there before."""
        logs = str(self.dir / "pod-logs")
        for link in Path("/var/log/containers").glob("*.log"):
            if link.is_symlink() and os.readlink(link).startswith(logs):
                link.unlink()
        _remove_cni_results(self.suffix)
        if not self._kubelet_dir_existed:
            shutil.rmtree("/var/lib/kubelet", ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What stop() should have removed or restored and did not: processes, shims, mounts, the bridge, the NAT
        chain, cgroups, kubelet's and CNI's files outside the node's directory, kernel settings."""
        left = [f"process {pid}" for pid in self.plane.running(PROCESSES)]
        left += [f"shim {pid}" for pid in self._shims()]
        left += [f"mount {target}" for target in self._mounts()]
        left += [f"link {self.bridge}"] if Path(f"/sys/class/net/{self.bridge}").exists() else []
        for table in CHAIN_HOOKS:
            chains = _run(["iptables", "-w", "-t", table, "-S"], check=False)
            left += [f"iptables {table} chain {self.chain}"] if self.chain in chains else []
        left += [str(c / self.cgroup_parent) for c in _hierarchies() if (c / self.cgroup_parent).exists()]
        logs = str(self.dir / "pod-logs")
        left += [str(p) for p in Path("/var/log/containers").glob("*.log") if str(p.resolve()).startswith(logs)]
        left += [str(p) for p in Path("/var/lib/cni/results").glob(f"registries-{self.suffix}-*")]
        left += [str(p) for p in Path("/var/log/pods").glob("*") if p.name not in self._pod_logs_before]
        left += ["/var/lib/kubelet"] if not self._kubelet_dir_existed and Path("/var/lib/kubelet").exists() else []
        left += [str(TUNABLES_FILE)] if TUNABLES_FILE.exists() else []
        left += [
            f"kernel setting {key}: {(Path('/proc/sys') / key).read_text().strip()} (was {value.strip()})"
            for key, value in self._tunables.items()
            if (Path("/proc/sys") / key).read_text() != value
        ]
        return left

    def _shims(self) -> list[int]:
        """containerd-shim-runc-v2 processes started for this node's containerd (its socket is in their argv)."""
        marker = str(self.socket).encode()
        return [
            pid
            for pid, argv in _processes()
            if argv[0].endswith(b"containerd-shim-runc-v2") and marker in b" ".join(argv)
        ]

    def _kill_shims(self) -> None:
        """containerd-shim-runc-v2 processes outlive containerd."""
        for pid in self._shims():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _mounts(self) -> list[str]:
        """Mount points under the node's directory: pod volumes, overlay snapshots, sandbox shm, netns."""
        return [target for target in _mount_points() if target.startswith(str(self.dir) + "/")]


# --- machine state shared by stop() and remove_stale_nodes ------------------------------------------------------


def _processes() -> list[tuple[int, list[bytes]]]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0]:
                found.append((int(proc.name), argv))
    return found


def _mount_points() -> list[str]:
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]


def _unmount(targets: list[str]) -> None:
    for target in sorted(targets, key=len, reverse=True):  # deepest first
        _run(["umount", "-l", target], check=False)


def _hierarchies() -> list[Path]:
    """Every cgroup hierarchy under CGROUP_ROOT (the v1 controllers, and the cgroup2 one runc also writes to)."""
    return [c for c in CGROUP_ROOT.iterdir() if c.is_dir()]


def _v1_hierarchies() -> list[Path]:
    return [c for c in _hierarchies() if c.name != "unified"]


def _cgroup_pids(top: Path) -> set[int]:
    pids: set[int] = set()
    for procs in top.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in procs.read_text().split())
    return pids


def _kill_cgroup_processes(tops: list[Path], timeout: float = 20) -> None:
    """SIGKILL to every process in the cgroups under `tops` (the pods', orphaned once their shims are gone), until
    they are empty."""
    deadline = time.monotonic() + timeout
    while (pids := {pid for top in tops for pid in _cgroup_pids(top)}) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _remove_cgroups(tops: list[Path]) -> None:
    for top in tops:
        for directory in sorted((d for d in top.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            directory.rmdir()
        top.rmdir()


CHAIN_HOOKS = {"nat": "PREROUTING", "filter": "FORWARD"}
"""Where a node's chains hang: its DNAT rules (nat) and its pod-to-pod ACCEPT (filter)."""


def _remove_chains(chain: str) -> None:
    """A node's chain in each table of CHAIN_HOOKS, its jump included."""
    for table, hook in CHAIN_HOOKS.items():
        for rule in _run(["iptables", "-w", "-t", table, "-S", hook], check=False).splitlines():
            if rule.endswith(f"-j {chain}"):
                _run(["iptables", "-w", "-t", table, *rule.replace("-A", "-D", 1).split()], check=False)
        _run(["iptables", "-w", "-t", table, "-F", chain], check=False)
        _run(["iptables", "-w", "-t", table, "-X", chain], check=False)


def _remove_kubelet_dir_if_only_a_stale_socket() -> list[str]:
    """/var/lib/kubelet as a killed node's kubelet leaves it (device-plugins/kubelet.sock, a path kubelet does not
    take from --root-dir), removed when that is all it holds and no kubelet runs on the machine."""
    kubelet_dir = Path("/var/lib/kubelet")
    if not kubelet_dir.is_dir() or any(
        Path(argv[0].decode(errors="replace")).name == "kubelet" for _, argv in _processes()
    ):
        return []
    held = sorted(str(p.relative_to(kubelet_dir)) for p in kubelet_dir.rglob("*"))
    if held not in (["device-plugins"], ["device-plugins", "device-plugins/kubelet.sock"]):
        return []
    shutil.rmtree(kubelet_dir)
    return [str(kubelet_dir)]


def _remove_cni_results(suffix: str) -> list[str]:
    """CNI's cached results for a node's network (registries-<suffix>-<container>-eth0) and the loopback plugin's
    for the same containers (cni-loopback-<container>-lo); returns the files removed."""
    removed = []
    results = Path("/var/lib/cni/results")
    for result in results.glob(f"registries-{suffix}-*"):
        container = result.name.split("-")[2]
        for path in (result, results / f"cni-loopback-{container}-lo"):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    return removed


def _saved_tunables() -> dict[str, str]:
    """The kernel settings kubelet changes, as they were before any node: from TUNABLES_FILE if a node (or a killed
    run's) saved them, else read now and saved there."""
    if TUNABLES_FILE.exists():
        return dict(json.loads(TUNABLES_FILE.read_text()))
    values = {key: (Path("/proc/sys") / key).read_text() for key in KERNEL_TUNABLES}
    TUNABLES_FILE.write_text(json.dumps(values))
    return values


def _restore_tunables() -> None:
    if TUNABLES_FILE.exists():
        for key, value in json.loads(TUNABLES_FILE.read_text()).items():
            (Path("/proc/sys") / key).write_text(value)
        TUNABLES_FILE.unlink()


STALE_NAME = re.compile(r"^(rkb|RK-|kubepods-)[0-9a-f]{6}$")
"""The names a Node gives its bridge, NAT chain and cgroups."""


def remove_stale_nodes() -> list[str]:
    """What a killed earlier run's node left behind (its processes, the pods' shims and processes, mounts, bridge,
    NAT chain, cgroups, kernel settings), removed; returns what was found. Run under the machine lock: no node of
    this run exists yet."""
    found: list[str] = []
    names = (*PROCESSES, "containerd-shim-runc-v2", "kube-apiserver", "etcd")
    for pid, argv in _processes():
        if Path(argv[0].decode(errors="replace")).name in names and WORKDIR.search(
            b" ".join(argv).decode(errors="replace")
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            found.append(f"process {pid} {Path(argv[0].decode(errors='replace')).name}")
    tops = [d for c in _hierarchies() for d in c.iterdir() if d.is_dir() and STALE_NAME.fullmatch(d.name)]
    _kill_cgroup_processes(tops)
    stale_mounts = [m for m in _mount_points() if WORKDIR.search(m)]
    _unmount(stale_mounts)
    found += [f"mount {m}" for m in stale_mounts]
    for link in Path("/sys/class/net").iterdir():
        if STALE_NAME.fullmatch(link.name):
            _run(["ip", "link", "del", link.name], check=False)
            found.append(f"link {link.name}")
    chains = {
        words[1]
        for table in CHAIN_HOOKS
        for words in (line.split() for line in _run(["iptables", "-w", "-t", table, "-S"], check=False).splitlines())
        if words[:1] == ["-N"] and STALE_NAME.fullmatch(words[1])
    }
    for chain in sorted(chains):
        _remove_chains(chain)
        found.append(f"iptables chain {chain}")
    for top in tops:
        with contextlib.suppress(OSError):
            _remove_cgroups([top])
        found.append(f"cgroup {top}")
    for result in Path("/var/lib/cni/results").glob("registries-*"):
        suffix = result.name.split("-")[1]
        if STALE_NAME.fullmatch("rkb" + suffix):
            found += _remove_cni_results(suffix)
    for link in Path("/var/log/containers").glob("*.log"):
        if link.is_symlink() and WORKDIR.search(os.readlink(link)):
            link.unlink()
            found.append(str(link))
    found += _remove_kubelet_dir_if_only_a_stale_socket()
    if TUNABLES_FILE.exists():
        found.append(f"kernel settings changed by kubelet (restored from {TUNABLES_FILE})")
        _restore_tunables()
    return found
