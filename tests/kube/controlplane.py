"""A real Kubernetes API server on loopback for tests: Debian's etcd and kube-apiserver built from the Go module proxy
(scripts/kube-toolchain.sh), with certificates this module generates (cryptography), the Node and RBAC authorizers,
the default admission plugins (and NodeRestriction) and a service-account signing key. Nothing is left running:
stop() ends every process started here (a node's too, tests/kube/node.py)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
KUBE_BIN_ENV = "REGISTRIES_KUBE_BIN"
TOOLCHAIN_SCRIPT = ROOT / "scripts" / "kube-toolchain.sh"
SERVICE_CIDR = "10.96.0.0/24"
START_TIMEOUT = 90.0


class StartError(RuntimeError):
    """etcd or kube-apiserver did not start; the message ends with the log tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kube_bin() -> Path:
    """kube-apiserver's directory: $REGISTRIES_KUBE_BIN (scripts/test.sh exports it), else the script's last line."""
    given = os.environ.get(KUBE_BIN_ENV)
    if given:
        directory = Path(given)
    else:
        result = subprocess.run(["bash", str(TOOLCHAIN_SCRIPT)], capture_output=True, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise StartError(f"bash scripts/kube-toolchain.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
        directory = Path(lines[-1])
    if not os.access(directory / "kube-apiserver", os.X_OK):
        raise StartError(f"{directory}/kube-apiserver is missing or not executable ({KUBE_BIN_ENV}={given!r})")
    return directory


# --- certificates -----------------------------------------------------------------------------------------------


def cert_subject(common_name: str, organization: str | None = None) -> x509.Name:
    """A certificate subject: CN, and O (a Kubernetes group) if given."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_pki(directory: Path) -> dict[str, Path]:
    """A CA (its key kept for issue_pair: a node's certificates), the server's certificate (loopback and the
    in-cluster names), an admin client certificate (group system:masters), the API server's client certificate for
    kubelets and the service-account signing key pair, as files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)
        files[name] = path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = cert_subject("registries-test-ca")
    ca = _issue(ca_name, ca_key, None)
    write("ca.crt", ca.public_bytes(serialization.Encoding.PEM))
    write("ca.key", _pem_key(ca_key))
    service_ip = next(iter(ipaddress.ip_network(SERVICE_CIDR).hosts()))
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(service_ip),
        x509.DNSName("localhost"),
        *(x509.DNSName(n) for n in ("kubernetes", "kubernetes.default", "kubernetes.default.svc")),
    ]
    for name, subject, usage, names in (
        ("apiserver", cert_subject("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans),
        ("admin", cert_subject("registries-test-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, None),
        (
            "apiserver-kubelet-client",
            cert_subject("kube-apiserver-kubelet-client", "system:masters"),
            ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
        ),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(subject, key, (ca_name, ca_key), usage=usage, sans=names)
        write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))
        write(f"{name}.key", _pem_key(key))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("sa.key", _pem_key(sa_key))
    write(
        "sa.pub",
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    return files


def issue_pair(
    pki: Path, name: str, subject: x509.Name, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName] | None = None
) -> None:
    """`<name>.crt` and `<name>.key` in `pki`, issued by the CA write_pki made there."""
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(subject, key, (ca.subject, ca_key), usage=usage, sans=sans)
    for suffix, data in (("crt", cert.public_bytes(serialization.Encoding.PEM)), ("key", _pem_key(key))):
        path = pki / f"{name}.{suffix}"
        path.write_bytes(data)
        path.chmod(0o600)


def serving_pem(hostname: str) -> dict[str, str]:
    """A CA and a server certificate for `hostname`, as a kubernetes.io/tls Secret holds them (tls.crt: the leaf,
    then the CA; tls.key; ca.crt): what pulumi-tls generates for the Ingress under the real engine, where the unit
    tests' mocks return placeholder text the API server warns about."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = cert_subject(f"{hostname} CA")
    ca = _issue(ca_name, ca_key, None).public_bytes(serialization.Encoding.PEM).decode()
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _issue(
        cert_subject(hostname),
        key,
        (ca_name, ca_key),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[x509.DNSName(hostname)],
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM).decode() + ca
    return {"tls.crt": chain, "tls.key": _pem_key(key).decode(), "ca.crt": ca}


# --- processes ----------------------------------------------------------------------------------------------------


@dataclass
class ControlPlane:
    """etcd and kube-apiserver started in `workdir`; `kubectl()` runs the machine's kubectl as the admin."""

    workdir: Path
    bin_dir: Path
    url: str = ""
    kubeconfig: Path = field(default_factory=Path)
    timings: dict[str, float] = field(default_factory=dict)
    _processes: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Starts `argv` as `name`, its output in <workdir>/<name>.log; stop() ends it."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self._processes.append((name, process, log_path))
        return process

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, name: str, what: str) -> StartError:
        return StartError(f"{name} {what}; the last lines of {self.workdir / (name + '.log')}:\n{self.log_tail(name)}")

    def wait_ready(self, name: str, process: subprocess.Popen[bytes], ready: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if process.poll() is not None:
                raise self.failure(name, f"exited with {process.returncode} while starting")
            if time.monotonic() > deadline:
                raise self.failure(name, f"was not ready after {START_TIMEOUT:.0f}s")
            time.sleep(0.2)

    def start(self) -> None:
        etcd = shutil.which("etcd")
        if etcd is None:
            raise StartError("no etcd on PATH: install Debian's etcd-server (scripts/test.sh does)")
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise StartError("no kubectl on PATH (scripts/test.sh installs kubernetes-client)")
        pki = write_pki(self.workdir / "pki")
        started = time.monotonic()
        client, peer = free_port(), free_port()
        etcd_process = self.spawn(
            "etcd",
            [
                etcd,
                "--name=registries-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=registries-test=http://127.0.0.1:{peer}",
                "--log-level=warn",
            ],
        )
        self.wait_ready("etcd", etcd_process, lambda: _http_ok(f"http://127.0.0.1:{client}/health"))
        self.timings["etcd"] = time.monotonic() - started

        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(_kubeconfig(self.url, pki))
        apiserver = self.spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'pki'}",
                f"--tls-cert-file={pki['apiserver.crt']}",
                f"--tls-private-key-file={pki['apiserver.key']}",
                f"--client-ca-file={pki['ca.crt']}",
                # As a cluster's: kubelets (group system:nodes) reach only their own node's objects.
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={pki['apiserver-kubelet-client.crt']}",
                f"--kubelet-client-key={pki['apiserver-kubelet-client.key']}",
                f"--kubelet-certificate-authority={pki['ca.crt']}",
                # A node's address, never its name: no DNS lookup leaves this machine.
                "--kubelet-preferred-address-types=InternalIP",
                "--anonymous-auth=false",
                f"--service-account-key-file={pki['sa.pub']}",
                f"--service-account-signing-key-file={pki['sa.key']}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # The default admission plugins of this release, and NodeRestriction (not on by default).
                "--profiling=false",
                "--v=1",
            ],
        )
        self.wait_ready("kube-apiserver", apiserver, self._ready)
        self.timings["kube-apiserver"] = time.monotonic() - started - self.timings["etcd"]

    def _ready(self) -> bool:
        result = self.kubectl(["get", "--raw", "/readyz"], check=False, timeout=10)
        return result.returncode == 0 and result.stdout.strip() == "ok"

    def kubectl(
        self,
        args: list[str],
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
        token: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as the admin (a system:masters client certificate), or with `token` as that token's account."""
        kubeconfig = self.kubeconfig
        if token is not None:
            kubeconfig = self.workdir / f"kubeconfig-token-{hashlib.sha256(token.encode()).hexdigest()[:12]}"
            kubeconfig.write_text(_kubeconfig(self.url, {"ca.crt": self.workdir / "pki" / "ca.crt"}, token=token))
        result = subprocess.run(
            ["kubectl", f"--kubeconfig={kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir)},
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def json(self, args: list[str]) -> Any:
        return json.loads(self.kubectl([*args, "-o", "json"]).stdout)

    def stop(self) -> None:
        """Ends every process started here, the last started first (the API server before etcd)."""
        for name, _, _ in reversed(self._processes):
            self.stop_process(name)

    def stop_process(self, name: str) -> None:
        """Ends one process this control plane (or a node beside it) started; kills it if it does not end in 20s."""
        for started, process, _ in self._processes:
            if started == name and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    def running(self, names: tuple[str, ...] | None = None) -> list[int]:
        """The pids still running of what was started here (of `names` only, if given)."""
        return [
            process.pid
            for name, process, _ in self._processes
            if process.poll() is None and (names is None or name in names)
        ]


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except OSError:
        return False


def _kubeconfig(url: str, pki: dict[str, Path], token: str | None = None) -> str:
    user = (
        {"token": token}
        if token is not None
        else {"client-certificate": str(pki["admin.crt"]), "client-key": str(pki["admin.key"])}
    )
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": url, "certificate-authority": str(pki["ca.crt"])}}],
            "users": [{"name": "admin", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
            "current-context": "test",
        }
    )
