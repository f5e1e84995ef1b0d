"""Push and pull throughput of the deployed registry (TLS + auth) against the same binary with neither.

Deploys the program's `local` stack with the local engine (as the end-to-end tests do) and starts the
same registry image with its default config (plain HTTP, no auth) beside it. Then, in rounds that
alternate which registry goes first (A B, B A, ...), each with freshly generated images:

- alone: one image of `--size-mb` in `--layer-mb` layers, pushed to and pulled from each registry;
- concurrent: `--clients` different images of `--client-mb` each, pushed at once, then pulled at once.

For every case it records the wall time, the registry container's CPU seconds (its cgroup), the
Docker daemon's CPU seconds (the client side: it compresses layers on push) and the requests in the
registry's access log. Prints the medians per case and the deployed/plain ratios last.

`--per-request` times sequential `GET /v2/` against the same binary with each way of authenticating
(no auth, htpasswd at several bcrypt costs, TLS with and without keep-alive) and against the deployed
registry; `--profile` samples a Go CPU profile from the deployed registry's loopback debug server
during one push and prints where its CPU went. `--s3-chunk-mb` adds the deployed stack with S3
storage (moto) per chunk size, alone case only. Everything it starts is removed at the end
(containers with their anonymous volumes, networks, volumes, images, CA trust entries).

    flock /tmp/registries-e2e.lock python -m benchmarks.registry_throughput \
        [--rounds 3] [--size-mb 200] [--layer-mb 10] [--clients 10] [--client-mb 50] \
        [--per-request] [--profile] [--s3-chunk-mb 5 10 32]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import io
import json
import os
import re
import shutil
import statistics
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import docker
import requests
import yaml
from docker.errors import APIError, ImageNotFound

from tests.support.e2e_stack import load_e2e_stack
from tests.support.engine_aws import AwsApplier
from tests.support.engine_docker import E2E_LABEL, DockerApplier
from tests.support.engine_tls import issue_chain
from tests.support.images import build_registry_images, build_scratch_image
from tests.support.local_engine import LocalEngine
from tests.support.moto_server import MotoServer, start_moto
from tests.support.pulumi_runtime import run_program, unwrap
from tests.support.registry_client import RegistryUser

ROOT = Path(__file__).resolve().parent.parent
PLAIN_PORT = 5100
S3_PORT = 5200
PROBE_PORT = 5300
PROBE_TLS_PORT = 5301
DIAGNOSTIC_PORT = 5310
PROBE_COSTS = (4, 5, 6, 10)
"""bcrypt costs whose per-request price --per-request measures."""
ProbeCase = tuple[str, Any, RegistryUser, tuple[str, str] | None, bool]
"""(what, container, client, credentials, keep-alive) of one --per-request row."""
PROFILE_CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("htpasswd (bcrypt.CompareHashAndPassword)", ("golang.org/x/crypto/bcrypt.CompareHashAndPassword",)),
    ("TLS records (crypto/tls Conn.Read/Write)", ("crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write")),
    ("TLS handshakes", ("crypto/tls.(*Conn).Handshake", "crypto/tls.(*Conn).HandshakeContext")),
    ("digests (crypto/sha256)", ("crypto/sha256.",)),
    ("garbage collector", ("runtime.gcBgMarkWorker",)),
]
"""Where a push's registry CPU goes, by the functions whose cumulative time says it."""
ACCESS_LINE = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) \S+ (HTTP/[\d.]+)" (\d{3}) ')
"""One request in the registry's access log (Apache combined format, written by gorilla/handlers)."""


@dataclass
class Target:
    name: str
    client: RegistryUser
    container: Any
    cleanup: Callable[[], None] = lambda: None
    debug_url: str | None = None
    """The loopback debug server (pprof), where the registry has one published."""
    credentials: tuple[str, str] | None = None
    """A user's name and password, where the registry asks for one."""


@dataclass
class Sample:
    seconds: float
    megabytes: float
    registry_cpu_s: float
    dockerd_cpu_s: float
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def mb_s(self) -> float:
        return self.megabytes / self.seconds


# -- CPU and request accounting -----------------------------------------------------------------


def container_cpu_seconds(container: Any) -> float:
    """CPU seconds a container used so far, from its cgroup (v1 or v2), else from `docker stats`."""
    cid = container.id
    for path in (
        f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
        f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage",
    ):
        with contextlib.suppress(OSError):
            return int(Path(path).read_text()) / 1e9
    for path in (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat", f"/sys/fs/cgroup/docker/{cid}/cpu.stat"):
        with contextlib.suppress(OSError):
            stat = dict(line.split() for line in Path(path).read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
    return container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def dockerd_cpu_seconds() -> float:
    """CPU seconds of the Docker daemon (the client that compresses, uploads and unpacks layers)."""
    with contextlib.suppress(OSError, ValueError):
        pid = Path("/var/run/docker.pid").read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return float("nan")


def access_log(container: Any) -> list[tuple[str, str, str]]:
    """(method, protocol, status) of every request the registry logged so far."""
    text = container.logs(stdout=True, stderr=True).decode(errors="replace")
    return ACCESS_LINE.findall(text)


def _request_counts(before: list[tuple[str, str, str]], after: list[tuple[str, str, str]]) -> Counter[str]:
    new = after[len(before) :]
    counts: Counter[str] = Counter(method for method, _, _ in new)
    counts.update(protocol for _, protocol, _ in new)
    counts["total"] = len(new)
    counts["401"] = sum(1 for _, _, status in new if status == "401")
    return counts


def measured(target: Target, megabytes: float, action: Callable[[], object]) -> Sample:
    log_before = access_log(target.container)
    cpu_before, dockerd_before = container_cpu_seconds(target.container), dockerd_cpu_seconds()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    return Sample(
        seconds,
        megabytes,
        container_cpu_seconds(target.container) - cpu_before,
        dockerd_cpu_seconds() - dockerd_before,
        _request_counts(log_before, access_log(target.container)),
    )


# -- registries -----------------------------------------------------------------------------------


def deploy(client: docker.DockerClient, session: str, label: str, spec: dict, moto: MotoServer | None = None) -> Target:
    """Deploy the program with this selfHosted config through the local engine; log in as its first user."""
    engine = LocalEngine()
    engine.add_backend(DockerApplier(client, session).backend())
    if moto is not None:
        engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    engine.begin_run()
    config = {"registries:selfHosted": json.dumps(spec)}  # a secret key, as `pulumi config set --secret` stores it
    outputs = run_program(engine, stack="local", config=config, secret_keys=list(config))
    engine.end_run()
    values = {k: v.value for k, v in outputs.items()}
    user = RegistryUser(values["endpoint"], values["caCertPem"])
    name, password = next(iter(values["users"].items()))
    user.login(name, password)
    debug_port = spec.get("debugPort", spec.get("port", 5000) + 1)
    return Target(
        label,
        user,
        client.containers.get(values["containerName"]),
        user.close,
        debug_url=f"http://127.0.0.1:{debug_port}",
        credentials=(name, password),
    )


def s3_spec(base: dict, moto: MotoServer, chunk_mb: int, port: int, session: str) -> dict:
    spec = copy.deepcopy(base)
    spec.update(name=f"bench-s3-{chunk_mb}", port=port, networkMode="host")
    spec["storage"] = {
        "kind": "s3",
        "bucket": f"bench-{session}-{chunk_mb}",
        "region": "us-east-1",
        "regionEndpoint": moto.endpoint,
        "chunkSize": chunk_mb * 1024 * 1024,
        "redirectDisable": True,  # moto's IAM enforcement cannot check presigned URLs
    }
    return spec


def _wait_serving(user: RegistryUser, expected: set[int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if user.api("GET", "/v2/").status_code in expected:
                return
        time.sleep(0.2)
    raise RuntimeError(f"registry at {user.endpoint} did not answer")


def _archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), 0o400
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def start_same_binary(
    client: docker.DockerClient,
    image: str,
    session: str,
    role: str,
    port: int,
    env: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    ca_pem: str = "",
) -> tuple[Any, RegistryUser]:
    """The registry image with its default config, changed only by `env` (and the `files` it names)."""
    container = client.containers.create(
        image,
        name=f"bench-{role}-{session}",
        ports={"5000/tcp": ("127.0.0.1", port)},
        environment=env or {},
        labels={E2E_LABEL: session},
    )
    if files:
        container.put_archive("/", _archive(files))
    container.start()
    user = RegistryUser(f"localhost:{port}", ca_pem, tls=bool(ca_pem))
    try:
        _wait_serving(user, {200, 401})
    except Exception:
        container.remove(force=True, v=True)
        user.close()
        raise
    return container, user


AUTH_ENV = {
    "REGISTRY_AUTH": "htpasswd",
    "REGISTRY_AUTH_HTPASSWD_REALM": "bench",
    "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd",
}
"""htpasswd auth for the same binary, from a file at /auth/htpasswd."""


def _tls_material() -> tuple[dict[str, str], dict[str, str], str]:
    """(files, env, CA PEM) that make the same binary serve TLS for localhost, as the deployed one does."""
    chain = issue_chain({"algorithm": "ECDSA", "ecdsaCurve": "P256"}, "localhost", ca_hours=2, cert_hours=1)
    key = unwrap(chain["key"]["privateKeyPem"])
    files = {"/certs/server.crt": chain["cert"]["certPem"], "/certs/server.key": key}
    env = {"REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/server.crt", "REGISTRY_HTTP_TLS_KEY": "/certs/server.key"}
    return files, env, chain["ca"]["certPem"]


def start_plain_registry(client: docker.DockerClient, image: str, session: str) -> Target:
    container, user = start_same_binary(client, image, session, "plain", PLAIN_PORT)

    def cleanup() -> None:
        container.remove(force=True, v=True)  # the image's VOLUME /var/lib/registry is anonymous: remove it too
        user.close()

    return Target("same binary, no TLS, no auth", user, container, cleanup)


# -- images and cases -----------------------------------------------------------------------------


def _drop_local(client: docker.DockerClient, refs: list[str]) -> None:
    for ref in refs:
        with contextlib.suppress(ImageNotFound):
            client.images.remove(ref, force=True)


def _refs(targets: list[Target], repository: str, tag: str) -> list[str]:
    return [f"{t.client.endpoint}/{repository}:{tag}" for t in targets]


def _fresh_image(client: docker.DockerClient, size_mb: int, layer_mb: int) -> tuple[str, float]:
    """A new image of random (incompressible) layers; returns (tag, MB)."""
    layers = [os.urandom(layer_mb * 1024 * 1024) for _ in range(max(1, size_mb // layer_mb))]
    megabytes = sum(len(layer) for layer in layers) / 1024 / 1024
    source = f"bench-src/payload:{uuid.uuid4().hex[:10]}"
    build_scratch_image(client, source, layers)
    return source, megabytes


def _parallel(actions: list[Callable[[], object]]) -> None:
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        for future in [pool.submit(action) for action in actions]:
            future.result()


Results = dict[str, dict[str, list[Sample]]]
"""case -> target name -> samples, one per round."""


def run_round(
    client: docker.DockerClient,
    compared: list[Target],
    alone_only: list[Target],
    args: argparse.Namespace,
    results: Results,
) -> None:
    """One round on fresh images: the alone cases on every target, the concurrent cases on `compared`,
    each case visiting the targets in the order given (the caller rotates it from round to round)."""
    every = compared + alone_only
    repository, tag = f"bench/payload-{uuid.uuid4().hex[:6]}", "v1"
    source, megabytes = _fresh_image(client, args.size_mb, args.layer_mb)
    refs = [source, *_refs(every, repository, tag)]
    for target in every:
        results["push alone"].setdefault(target.name, []).append(
            measured(target, megabytes, lambda t=target: t.client.push(source, repository, tag))
        )
    for target in every:
        _drop_local(client, refs)  # nothing local may be reused: every layer comes over the wire
        results["pull alone"].setdefault(target.name, []).append(
            measured(target, megabytes, lambda t=target: t.client.pull(repository, tag))
        )
    _drop_local(client, refs)
    if args.clients <= 0:
        return
    images = [_fresh_image(client, args.client_mb, args.layer_mb) for _ in range(args.clients)]
    total_mb = sum(mb for _, mb in images)
    names = [(f"bench/client{i}-{uuid.uuid4().hex[:6]}", "v1") for i in range(args.clients)]
    local = [tag_ for tag_, _ in images] + [r for name, t in names for r in _refs(compared, name, t)]
    for target in compared:
        pushes: list[Callable[[], object]] = [
            lambda t=target, s=src, n=name: t.client.push(s, n[0], n[1])
            for (src, _), name in zip(images, names, strict=True)
        ]
        results["push concurrent"].setdefault(target.name, []).append(
            measured(target, total_mb, lambda p=pushes: _parallel(p))
        )
    for target in compared:
        _drop_local(client, local)
        pulls: list[Callable[[], object]] = [lambda t=target, n=name: t.client.pull(n[0], n[1]) for name in names]
        results["pull concurrent"].setdefault(target.name, []).append(
            measured(target, total_mb, lambda p=pulls: _parallel(p))
        )
    _drop_local(client, local)


def start_diagnostic_targets(client: docker.DockerClient, image: str, session: str, cost: int) -> list[Target]:
    """The same binary with one of the deployed registry's layers at a time, to attribute a gap."""
    password = uuid.uuid4().hex + uuid.uuid4().hex
    htpasswd = f"bench:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()}\n"
    tls_files, tls_env, ca = _tls_material()
    auth_env = AUTH_ENV
    no_h2 = {"REGISTRY_HTTP_HTTP2_DISABLED": "true"}
    variants: list[tuple[str, dict[str, str], dict[str, str], bool]] = [
        ("same binary, TLS, no auth", tls_env, tls_files, True),
        ("same binary, TLS without HTTP/2, no auth", {**tls_env, **no_h2}, tls_files, True),
        (
            f"same binary, TLS w/o HTTP/2 + htpasswd cost {cost}",
            {**tls_env, **no_h2, **auth_env},
            {**tls_files, "/auth/htpasswd": htpasswd},
            True,
        ),
    ]
    targets: list[Target] = []
    for index, (label, env, files, tls) in enumerate(variants):
        ca_pem = ca if tls else ""
        port = DIAGNOSTIC_PORT + index
        container, user = start_same_binary(client, image, session, f"diag{index}", port, env, files, ca_pem)
        credentials = ("bench", password) if "REGISTRY_AUTH" in env else None
        if credentials is not None:
            user.login(*credentials)

        def cleanup(c: Any = container, u: RegistryUser = user) -> None:
            c.remove(force=True, v=True)
            u.close()

        targets.append(Target(label, user, container, cleanup, credentials=credentials))
    return targets


# -- per-request cost -----------------------------------------------------------------------------


def _median_ms(url: str, auth: tuple[str, str] | None, verify: str | bool, keep_alive: bool, count: int) -> float:
    times = []
    session = requests.Session()
    session.get(url, auth=auth, verify=verify, timeout=30)  # warm up: first connection and handshake
    for _ in range(count):
        if not keep_alive:
            session.close()
            session = requests.Session()
        start = time.perf_counter()
        response = session.get(url, auth=auth, verify=verify, timeout=30)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    session.close()
    return statistics.median(times) * 1000


def per_request_costs(
    client: docker.DockerClient, image: str, session: str, deployed: Target, plain: Target, count: int
) -> list[tuple[str, float, float]]:
    """(what, ms per request, registry CPU ms per request) of sequential `GET /v2/` on the same binary."""
    password = uuid.uuid4().hex + uuid.uuid4().hex  # a 64-character random password, like a generated one
    htpasswd = "".join(
        f"cost{cost}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()}\n" for cost in PROBE_COSTS
    )
    auth_env = AUTH_ENV
    tls_files, tls_env, ca_pem = _tls_material()
    probes: list[tuple[Any, RegistryUser]] = []
    rows: list[tuple[str, float, float]] = []
    try:
        auth = start_same_binary(
            client, image, session, "probe-auth", PROBE_PORT, auth_env, {"/auth/htpasswd": htpasswd}
        )
        probes.append(auth)
        tls = start_same_binary(client, image, session, "probe-tls", PROBE_TLS_PORT, tls_env, tls_files, ca_pem=ca_pem)
        probes.append(tls)
        cases: list[ProbeCase] = [("no TLS, no auth (plain)", plain.container, plain.client, None, True)]
        cases += [(f"no TLS, htpasswd cost {c}", auth[0], auth[1], (f"cost{c}", password), True) for c in PROBE_COSTS]
        cases.append(("TLS keep-alive, no auth", tls[0], tls[1], None, True))
        cases.append(("TLS new connection each, no auth", tls[0], tls[1], None, False))
        cases.append(
            ("deployed (TLS keep-alive + htpasswd)", deployed.container, deployed.client, deployed.credentials, True)
        )
        for what, container, user, credential, keep_alive in cases:
            before = container_cpu_seconds(container)
            ms = _median_ms(f"{user.base_url}/v2/", credential, user.ca_file or False, keep_alive, count)
            rows.append((what, ms, (container_cpu_seconds(container) - before) * 1000 / (count + 1)))
    finally:
        for container, user in probes:
            container.remove(force=True, v=True)
            user.close()
    return rows


# -- CPU profile (pprof protobuf, decoded here: no Go toolchain on these machines) -----------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: ints for varints, bytes for the rest."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire} not supported")
        yield number, wire, value


def _ints(wire: int, value: Any) -> list[int]:
    """A repeated integer field: packed (bytes of varints) or one varint."""
    if wire == 0:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        item, pos = _varint(value, pos)
        out.append(item)
    return out


def profile_functions(profile: bytes) -> tuple[float, dict[str, float], dict[str, float]]:
    """(total CPU seconds, flat seconds per function, cumulative seconds per function) of a Go CPU profile."""
    data = gzip.decompress(profile) if profile[:2] == b"\x1f\x8b" else profile
    strings: list[str] = []
    functions: dict[int, int] = {}
    locations: dict[int, list[int]] = {}
    samples: list[tuple[list[int], list[int]]] = []
    for number, _wire, value in _fields(data):
        if number == 6:
            strings.append(value.decode(errors="replace"))
        elif number == 5:
            fn = {n: v for n, _, v in _fields(value)}
            functions[fn.get(1, 0)] = fn.get(2, 0)
        elif number == 4:
            ident, lines = 0, []
            for n, _, v in _fields(value):
                if n == 1:
                    ident = v
                elif n == 4:
                    lines.append(next((lv for ln, _, lv in _fields(v) if ln == 1), 0))
            locations[ident] = lines
        elif number == 2:
            ids: list[int] = []
            values: list[int] = []
            for n, w, v in _fields(value):
                if n == 1:
                    ids += _ints(w, v)
                elif n == 2:
                    values += _ints(w, v)
            samples.append((ids, values))
    flat: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)
    total = 0.0
    for ids, values in samples:
        seconds = values[-1] / 1e9  # the last sample type of a CPU profile is cpu/nanoseconds
        total += seconds
        names = [strings[functions[f]] for loc in ids for f in reversed(locations.get(loc, []))]
        if names:
            flat[names[0]] += seconds
        for name in set(names):
            cumulative[name] += seconds
    return total, flat, cumulative


def profile_push(client: docker.DockerClient, target: Target, args: argparse.Namespace) -> None:
    assert target.debug_url is not None
    source, megabytes = _fresh_image(client, args.size_mb, args.layer_mb)
    repository = f"bench/profiled-{uuid.uuid4().hex[:6]}"
    profile: dict[str, bytes] = {}
    seconds = 8

    def sample() -> None:
        url = f"{target.debug_url}/debug/pprof/profile?seconds={seconds}"
        profile["data"] = requests.get(url, timeout=seconds + 30).content

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        target.client.push(source, repository, "v1")
    finally:
        sampler.join()
        _drop_local(client, [source, *_refs([target], repository, "v1")])
    total, flat, cumulative = profile_functions(profile["data"])
    print(f"\nCPU profile of {target.name}, {seconds} s during a {megabytes:.0f} MB push: {total:.2f} CPU s sampled")
    print("  cumulative CPU under (a function may sit under two of these):")
    for category, prefixes in PROFILE_CATEGORIES:
        spent = sum(v for name, v in cumulative.items() if name in prefixes or name.startswith(prefixes))
        print(f"  {category:44} {spent:6.2f} s  {spent / max(total, 1e-9):4.0%}")
    print("  top functions by own CPU:")
    for name, value in sorted(flat.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {value:6.2f} s  {value / max(total, 1e-9):4.0%}  {name}")


# -- report ---------------------------------------------------------------------------------------


def _median(samples: list[Sample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def print_results(results: Results, deployed: Target, plain: Target) -> None:
    columns = ("MB/s", "min", "max", "reg CPU s", "dockerd s", "requests", "401s", "HTTP/2")
    widths = (7, 6, 6, 9, 9, 8, 5, 6)
    print(f"\n{'case':16} {'registry':42} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for case, by_target in results.items():
        for name, samples in by_target.items():
            speeds = [s.mb_s for s in samples]
            requests_ = statistics.median(s.requests["total"] for s in samples)
            unauthorized = statistics.median(s.requests["401"] for s in samples)
            http2 = statistics.median(s.requests["HTTP/2.0"] for s in samples)
            print(
                f"{case:16} {name:42} {statistics.median(speeds):7.1f} {min(speeds):6.1f} {max(speeds):6.1f} "
                f"{_median(samples, 'registry_cpu_s'):9.2f} {_median(samples, 'dockerd_cpu_s'):9.2f} "
                f"{requests_:8.0f} {unauthorized:5.0f} {http2:6.0f}"
            )
    print(f"\nrounds: {len(next(iter(results['push alone'].values())))} (medians; min/max show the spread)")
    others = [name for name in results["push alone"] if name not in (deployed.name, plain.name)]
    for name in [*others, deployed.name]:  # the deployed registry's ratios last
        ratios = [
            f"{case} {_median(by_target[name], 'mb_s') / _median(by_target[plain.name], 'mb_s'):.2f}"
            for case, by_target in results.items()
            if name in by_target and plain.name in by_target
        ]
        label = "deployed" if name == deployed.name else name
        print(f"ratio {label} / plain (median MB/s): " + ", ".join(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median of these)")
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--layer-mb", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients; 0 skips the concurrent case")
    parser.add_argument("--client-mb", type=int, default=50, help="each concurrent client's image")
    parser.add_argument(
        "--per-request", type=int, default=0, metavar="N", help="time N sequential GET /v2/ per auth mode"
    )
    parser.add_argument("--profile", action="store_true", help="CPU profile of the deployed registry during a push")
    parser.add_argument(
        "--diagnostic",
        type=int,
        metavar="COST",
        help="also the same binary with TLS, TLS without HTTP/2, and that plus htpasswd at bcrypt COST",
    )
    parser.add_argument("--s3-chunk-mb", type=int, nargs="*", default=[5, 10, 32], help="S3 chunk sizes to compare")
    parser.add_argument(
        "--image",
        action="append",
        metavar="IMAGE",
        help="registry image to measure (repeat for several, e.g. registry:3.1.2 and registry:2.8.3, in one run);"
        " default: the local stack's",
    )
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    stack_image = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"][
        "registries:selfHosted"
    ]["image"]
    images = args.image or [stack_image]
    build_registry_images(client, images)
    summary: list[tuple[str, str]] = []
    for image in images:
        print(f"\n=== {image}: deployed (TLS + htpasswd) vs the same image's default config (plain) ===", flush=True)
        results, deployed, plain = measure(client, image, args)
        print_results({k: v for k, v in results.items() if v}, deployed, plain)
        summary.append((image, deployed_ratios(results, deployed, plain)))
    print("\ndeployed / plain, median MB/s, per image:")
    for image, ratios in summary:
        print(f"  {image:20} {ratios}")


def deployed_ratios(results: Results, deployed: Target, plain: Target) -> str:
    return ", ".join(
        f"{case} {_median(by_target[deployed.name], 'mb_s') / _median(by_target[plain.name], 'mb_s'):.2f}"
        for case, by_target in results.items()
        if deployed.name in by_target and plain.name in by_target
    )


def measure(client: docker.DockerClient, image: str, args: argparse.Namespace) -> tuple[Results, Target, Target]:
    """The rounds for one registry image: the program's deployment of it against the image's default config."""
    session = uuid.uuid4().hex[:12]
    targets: list[Target] = []
    _stack, base, _ = load_e2e_stack(ROOT / "stacks" / "Pulumi.local.yaml")
    base = {**base, "image": image}
    moto_dir = Path(tempfile.mkdtemp(prefix="bench-moto-"))
    moto = start_moto(moto_dir) if args.s3_chunk_mb else None
    results: Results = {"push alone": {}, "pull alone": {}, "push concurrent": {}, "pull concurrent": {}}
    try:
        deployed = deploy(client, session, "deployed, volume (TLS + htpasswd)", base)
        targets.append(deployed)
        plain = start_plain_registry(client, image, session)
        targets.append(plain)
        s3_targets = []
        for i, chunk in enumerate(args.s3_chunk_mb):
            assert moto is not None
            spec = s3_spec(base, moto, chunk, S3_PORT + 10 * i, session)
            s3_targets.append(deploy(client, session, f"deployed, S3 (moto) chunk {chunk} MiB", spec, moto))
        targets += s3_targets
        diagnostic = start_diagnostic_targets(client, image, session, args.diagnostic) if args.diagnostic else []
        targets += diagnostic
        if args.per_request:
            rows = per_request_costs(client, image, session, deployed, plain, args.per_request)
            print(f"\nsequential GET /v2/, same binary, median of {args.per_request} (registry CPU per request)")
            for what, ms, cpu_ms in rows:
                print(f"  {what:42} {ms:7.1f} ms  {cpu_ms:6.1f} ms CPU")
        if args.profile:
            profile_push(client, deployed, args)
        for round_number in range(args.rounds):
            compared = [deployed, plain, *diagnostic]
            shift = round_number % len(compared)  # each target goes first in turn: no position bias
            run_round(client, compared[shift:] + compared[:shift], s3_targets, args, results)
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    finally:
        for target in targets:
            target.cleanup()
        DockerApplier(client, session).remove_everything()
        for dangling in client.images.list(name="bench-src/payload"):
            with contextlib.suppress(APIError):
                client.images.remove(dangling.id, force=True)
        if moto is not None:
            moto.stop()
        shutil.rmtree(moto_dir, ignore_errors=True)
    return results, deployed, plain


if __name__ == "__main__":
    main()
