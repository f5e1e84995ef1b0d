"""The local engine: the Pulumi engine's up / preview / refresh / destroy, applied to real local backends.

The program runs under the SDK's mock runtime, with a monitor (EngineMonitor) that hands the engine the
whole register-resource request: inputs, and the resource options (protect, retainOnDelete,
deleteBeforeReplace, replaceOnChanges, ignoreChanges, additionalSecretOutputs, aliases, dependencies,
parent, provider). For each resource the engine then does what Pulumi's step generator does: check,
diff against the state of the last run (every run, through the provider for dynamic resources),
and create, update, replace (create-before-delete unless told otherwise) or leave it alone; what the
program no longer declares is deleted at the end, in reverse dependency order. See
tests/support/README.md for what it models and what it does not.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from tests.support.engine_random import apply_random
from tests.support.engine_tls import apply_tls
from tests.support.pulumi_runtime import (
    SECRET_SIG,
    SECRET_VALUE,
    deserialize_keeping_secrets,
    is_secret,
    unwrap,
    wrap_secret,
)

Handler = Callable[[str, str, dict[str, Any]], tuple[str, dict[str, Any]]]
PROVIDER_KEY = "__provider"

# Inputs whose change the provider can only apply by replacing the object (Terraform's ForceNew /
# RequiresReplace in the provider each SDK bridges; the SDKs do not ship their schema). Everything
# else is updated in place. Read from kreuzwerker/terraform-provider-docker v3 (which pulumi-docker 4-5
# bridges), hashicorp/terraform-provider-random, -tls, and -aws; each entry is tested.
ALL_INPUTS = frozenset({"*"})
# Types whose bridged provider asks for delete-before-replace on every replacement (tfbridge ResourceInfo
# DeleteBeforeReplace: pulumi-docker's provider/resources.go sets it for docker_container). A resource's own
# deleteBeforeReplace option, when set either way (deleteBeforeReplaceDefined), overrides that, as the
# engine's step generator lets it.
PROVIDER_DELETE_BEFORE_REPLACE = frozenset({"docker:index/container:Container"})
REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    "docker:index/container:Container": frozenset(
        [
            "name",
            "readOnly",
            "image",
            "hostname",
            "domainname",
            "command",
            "entrypoints",
            "user",
            "dns",
            "dnsOpts",
            "dnsSearches",
            "publishAllPorts",
            "workingDir",
            "capabilities",
            "securityOpts",
            "runtime",
            "stopSignal",
            "stopTimeout",
            "mounts",
            "volumes",
            "ports",
            "hosts",
            "ulimits",
            "envs",
            "privileged",
            "devices",
            "labels",
            "shmSize",
            "logDriver",
            "logOpts",
            "networkMode",
            "networksAdvanced",
            "pidMode",
            "usernsMode",
            "uploads",
            "sysctls",
            "ipcMode",
            "groupAdds",
            "tty",
            "stdinOpen",
            "storageOpts",
            "gpus",
            "cpus",
            "cgroupnsMode",
            "cgroupParent",
        ]
    ),
    "docker:index/network:Network": frozenset(
        [
            "name",
            "labels",
            "driver",
            "options",
            "internal",
            "attachable",
            "ingress",
            "ipv6",
            "ipamDriver",
            "ipamOptions",
            "ipamConfigs",
        ]
    ),
    "docker:index/volume:Volume": frozenset({"name", "labels", "driver", "driverOpts"}),
    "docker:index/remoteImage:RemoteImage": frozenset({"name", "pullTriggers", "triggers", "platform"}),
    "random:index/randomPassword:RandomPassword": ALL_INPUTS,
    "random:index/randomString:RandomString": ALL_INPUTS,
    "random:index/randomId:RandomId": ALL_INPUTS,
    "random:index/randomBytes:RandomBytes": ALL_INPUTS,
    "tls:index/privateKey:PrivateKey": ALL_INPUTS,
    # A certificate's earlyRenewalHours is updated in place; every other input makes a new certificate.
    "tls:index/selfSignedCert:SelfSignedCert": frozenset(
        [
            "privateKeyPem",
            "subject",
            "dnsNames",
            "ipAddresses",
            "uris",
            "validityPeriodHours",
            "allowedUses",
            "isCaCertificate",
            "setSubjectKeyId",
            "setAuthorityKeyId",
        ]
    ),
    "tls:index/locallySignedCert:LocallySignedCert": frozenset(
        [
            "certRequestPem",
            "caCertPem",
            "caPrivateKeyPem",
            "validityPeriodHours",
            "allowedUses",
            "isCaCertificate",
            "setSubjectKeyId",
        ]
    ),
    "tls:index/certRequest:CertRequest": ALL_INPUTS,
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled", "region"}),
    "aws:s3/bucketVersioning:BucketVersioning": frozenset({"bucket", "expectedBucketOwner", "region"}),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": frozenset(
        {"bucket", "expectedBucketOwner", "region"}
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": frozenset({"bucket", "region"}),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": frozenset({"bucket", "region"}),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": frozenset(
        {"bucket", "expectedBucketOwner", "region"}
    ),
    "aws:s3/bucketPolicy:BucketPolicy": frozenset({"bucket", "region"}),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": frozenset({"repository", "region"}),
    "aws:iam/user:User": frozenset(),
    "aws:iam/userPolicy:UserPolicy": frozenset({"name", "namePrefix", "user"}),
    "aws:iam/accessKey:AccessKey": frozenset({"user", "pgpKey"}),
}


class EngineError(RuntimeError):
    """The operation failed as the Pulumi engine would fail it."""


def protected_delete_message(urn: str) -> str:
    return (
        f'resource "{urn}" cannot be deleted\n'
        "because it is protected. To unprotect the resource, either remove the `protect` flag "
        "from the resource in your Pulumi program and run `pulumi up`, or use the command:\n"
        f"`pulumi state unprotect '{urn}'`"
    )


def protected_replace_message(urn: str, because_of: str | None = None) -> str:
    part = f' as part of replacing "{because_of}"' if because_of else ""
    return (
        f'unable to replace resource "{urn}"{part}\n'
        "as it is currently marked for protection. To unprotect the resource, remove the `protect` flag from the "
        "resource in your Pulumi program and run `pulumi up`"
    )


@dataclass(frozen=True)
class Options:
    """The resource options of one register-resource request, as the engine stores them in state."""

    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None
    """The option as given: None when the program left it unset (the provider's diff decides)."""
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parent: str = ""
    provider: str = ""

    def depends_on(self) -> set[str]:
        """Every URN this resource depends on: explicit, through a property, and its parent."""
        deps = set(self.dependencies) | {u for urns in self.property_dependencies.values() for u in urns}
        return deps | ({self.parent} if self.parent else set())


@dataclass
class Applied:
    """One resource in the engine's state."""

    typ: str
    name: str
    ident: str
    inputs: dict[str, Any]
    """Plain inputs (secrets unwrapped), without the dynamic provider."""
    outputs: dict[str, Any]
    """Outputs as the engine hands them to the program: secret ones wrapped."""
    raw_inputs: dict[str, Any] = field(default_factory=dict)
    """Inputs as received, secret ones still wrapped (what a provider would log or store)."""
    urn: str = ""
    custom: bool = True
    options: Options = field(default_factory=Options)

    @property
    def raw_provider(self) -> str:
        """The serialized dynamic provider of this resource."""
        return str(unwrap(self.raw_inputs[PROVIDER_KEY]))


@dataclass(frozen=True)
class Diff:
    """What a provider's diff said: whether anything changed, which keys need a replacement."""

    changes: bool
    replaces: tuple[str, ...] = ()
    delete_before_replace: bool = False
    changed_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Read:
    """What a provider's read found; None in its place means the object is gone."""

    ident: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None = None


@dataclass
class Backend:
    """Something that can create, read, diff, update and delete the resources of some type prefixes."""

    prefixes: tuple[str, ...]
    create: Handler
    exists: Callable[[Applied], bool] = lambda applied: True
    delete: Callable[[Applied], None] = lambda applied: None
    update: Callable[[Applied, dict[str, Any]], tuple[str, dict[str, Any]] | None] = lambda applied, news: None
    """In-place update: returns (id, outputs); None means the state alone changes (no call to the backend)."""
    read: Callable[[Applied], Read | None] | None = None
    """Refresh; defaults to `exists` with the stored outputs."""
    diff: Callable[[Applied, dict[str, Any]], Diff] | None = None
    """The provider's own diff (old outputs vs new inputs); None: the engine diffs inputs by the table above."""
    check: Callable[[Applied | None, dict[str, Any]], dict[str, Any]] | None = None
    """The provider's check of new inputs; returns the checked inputs or raises."""
    configure: Callable[[dict[str, str], str], None] = lambda config, project: None
    """Called at the start of each operation with the stack config (qualified keys) and the project."""


@dataclass(frozen=True)
class Step:
    """One planned or applied step, per URN, as `pulumi preview` lists them."""

    op: str
    urn: str
    typ: str
    name: str
    keys: tuple[str, ...] = ()


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_unknown(v) for v in value)
    return False


def _known(values: dict[str, Any]) -> dict[str, Any]:
    """The values a preview can report: unknown ones left out, so the program sees them as unknown."""
    return {k: v for k, v in values.items() if not _has_unknown(v)}


def _top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


_MISSING = object()
PathSegment = str | int


def parse_property_path(path: str) -> list[PathSegment]:
    """A Pulumi property path (`a.b`, `a[0].b`, `a["x.y"]`, `a[*]`, `*`) as keys and indices."""
    segments: list[PathSegment] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == "[":
            end = path.find("]", i)
            if path.startswith(('["', "['"), i):
                quote = path[i + 1]
                close = path.find(quote + "]", i + 2)
                if close < 0:
                    raise ValueError(f"invalid property path {path!r}: unterminated quoted key")
                segments.append(path[i + 2 : close])
                i = close + 2
            elif end < 0:
                raise ValueError(f"invalid property path {path!r}: missing ']'")
            else:
                inner = path[i + 1 : end]
                if inner == "*":
                    segments.append("*")
                elif inner.isdigit():
                    segments.append(int(inner))
                else:
                    raise ValueError(
                        f"invalid property path {path!r}: index {inner!r} is not a number, * or a quoted key"
                    )
                i = end + 1
            if i < n and path[i] == ".":
                i += 1
            continue
        end = min((j for j in (path.find(".", i), path.find("[", i)) if j >= 0), default=n)
        if end == i:
            raise ValueError(f"invalid property path {path!r}: empty key at {i}")
        segments.append(path[i:end])
        i = end + 1 if end < n and path[end] == "." else end
    if not segments:
        raise ValueError("invalid property path ''")
    return segments


def _get(value: Any, segment: PathSegment) -> Any:
    if isinstance(segment, int):
        return value[segment] if isinstance(value, list) and 0 <= segment < len(value) else _MISSING
    return value.get(segment, _MISSING) if isinstance(value, dict) else _MISSING


def _children(old: Any, new: Any) -> list[PathSegment]:
    """What a `*` segment stands for: every key or index of either side."""
    if isinstance(old, dict) or isinstance(new, dict):
        keys = [*(old if isinstance(old, dict) else {}), *(new if isinstance(new, dict) else {})]
        return list(dict.fromkeys(keys))
    longest = max(len(old) if isinstance(old, list) else 0, len(new) if isinstance(new, list) else 0)
    return list(range(longest))


def _reset(old: Any, new: Any, segments: list[PathSegment]) -> tuple[Any, bool]:
    """Pulumi's PropertyPath.Reset: the value at the path in `new` becomes the one in `old`; where `old`
    has none it is deleted from `new`. Returns (new value, False when `new` lacks the path's parent)."""
    head, rest = segments[0], segments[1:]
    if head == "*":
        ok = True
        for child in _children(old, new):
            new, child_ok = _reset(old, new, [child, *rest])
            ok = ok and child_ok
        return new, ok
    old_child, new_child = _get(old, head), _get(new, head)
    if rest:
        if old_child is _MISSING and new_child is _MISSING:
            return new, True
        if new_child is _MISSING:
            return new, False
        value, ok = _reset(None if old_child is _MISSING else old_child, new_child, rest)
    else:
        if old_child is _MISSING and new_child is _MISSING:
            return new, True
        value = old_child
        ok = True
    if isinstance(new, dict):
        new = dict(new)
        if value is _MISSING:
            new.pop(head, None)
        else:
            new[head] = value
        return new, ok
    if isinstance(new, list) and isinstance(head, int):
        new = list(new)
        if value is _MISSING:
            if head < len(new):
                del new[head]
        elif head < len(new):
            new[head] = value
        elif head == len(new):
            new.append(value)
        else:
            return new, False
        return new, ok
    return new, False


def _apply_ignore_changes(olds: dict[str, Any] | None, news: dict[str, Any], ignore: Iterable[str]) -> dict[str, Any]:
    """Keep the old value at each ignored property path, as the engine does before it diffs (processIgnoreChanges:
    PropertyPath.Reset from the old inputs); a path whose parent the new inputs lack fails the step."""
    if olds is None:
        return news
    provider = news.get(PROVIDER_KEY, _MISSING)
    out = input_props(news)
    invalid: list[str] = []
    for path in ignore:
        out, ok = _reset(olds, out, parse_property_path(path))
        if not ok:
            invalid.append(path)
    if invalid:
        raise EngineError(
            "cannot ignore changes to the following properties because one or more elements of the path are missing: "
            + ", ".join(f'"{p}"' for p in invalid)
        )
    if provider is not _MISSING:
        out[PROVIDER_KEY] = provider
    return out


def table_diff(typ: str, old: Applied, news: dict[str, Any]) -> Diff:
    """A bridged provider's diff: the old state of each input against its new value."""
    force_new = REPLACE_ON_CHANGE.get(typ)
    if force_new is None:
        raise NotImplementedError(f"local engine: no replace-on-change table for {typ}")
    changed: list[str] = []
    for key in sorted(set(old.inputs) | set(news)):
        if key == PROVIDER_KEY:
            continue
        before = unwrap(old.outputs.get(key, old.inputs.get(key))) if key in old.inputs else None
        after = news.get(key)
        if _has_unknown(after) or before != after:
            changed.append(key)
    replaces = tuple(k for k in changed if force_new is ALL_INPUTS or k in force_new)
    dbr = bool(replaces) and typ in PROVIDER_DELETE_BEFORE_REPLACE
    return Diff(changes=bool(changed), replaces=replaces, delete_before_replace=dbr, changed_keys=tuple(changed))


def read_resource(backend: Backend, applied: Applied) -> Read | None:
    """The backend's read (refresh) of one resource; without a read of its own, its stored outputs while it exists."""
    if backend.read is not None:
        return backend.read(applied)
    return Read(applied.ident, applied.outputs) if backend.exists(applied) else None


def backend_diff(backend: Backend, old: Applied, news: dict[str, Any]) -> Diff:
    """The backend's own diff where it has one (dynamic providers, ECR), else the replace-on-change table's."""
    return backend.diff(old, news) if backend.diff is not None else table_diff(old.typ, old, news)


class SecretBox:
    """Encrypts secret values the way a stack's secrets provider does for the state file."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal(self, value: Any) -> dict[str, str]:
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, json.dumps(unwrap(value)).encode(), None)
        return {SECRET_SIG: SECRET_VALUE, "ciphertext": base64.b64encode(nonce + ciphertext).decode()}

    def seal_all(self, value: Any) -> Any:
        if is_secret(value):
            return self.seal(value)
        if isinstance(value, dict):
            return {k: self.seal_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.seal_all(v) for v in value]
        return value


class EngineMonitor(MockMonitor):
    """The SDK's mock monitor, handing the engine the whole register-resource request (options included)."""

    def __init__(self, engine: LocalEngine) -> None:
        super().__init__(engine)
        self.engine = engine

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        # Unknowns stay unknown (preview), and secrets secret where the SDK put them (per element), as the
        # engine sees them.
        inputs = deserialize_keeping_secrets(request.object, keep_unknowns=True)
        options = options_from_request(request, self._alias_urns(request))
        ident, state = self.engine.register(urn, request.type, request.name, bool(request.custom), inputs, options)
        obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, ident, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=ident, object=obj_proto)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's type chain (the mock monitor does not).
        if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
            parent = ""
        return super().make_urn(parent, type_, name)

    def _alias_urns(self, request: Any) -> list[str]:
        """Every former URN the request names: plain URNs, and specs (new name/type/parent) made into URNs."""
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return urns


def options_from_request(request: Any, aliases: list[str]) -> Options:
    return Options(
        protect=bool(request.protect),
        retain_on_delete=bool(request.retainOnDelete),
        delete_before_replace=(
            bool(request.deleteBeforeReplace)
            if request.deleteBeforeReplace or request.deleteBeforeReplaceDefined
            else None
        ),
        ignore_changes=tuple(request.ignoreChanges),
        replace_on_changes=tuple(request.replaceOnChanges),
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
        aliases=tuple(aliases),
        dependencies=tuple(request.dependencies),
        property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
        parent=request.parent,
        provider=request.provider,
    )


class LocalEngine(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, Applied] = {}
        """urn -> resource, in creation order, as the last completed operation left it."""
        self.backends: list[Backend] = [
            Backend(("random:",), lambda typ, name, inputs: apply_random(typ, inputs)),
            Backend(("tls:",), lambda typ, name, inputs: apply_tls(typ, inputs)),
        ]
        self.plan: list[Step] = []
        self.preview = False
        self.project = "registries"
        self.stack = "stack"
        self.config: dict[str, str] = {}
        self.secret_box = SecretBox()
        self._registered: set[str] = set()
        self._condemned: list[Applied] = []
        self._replacing: set[str] = set()
        self._errors: list[str] = []
        self._failed = False
        self._first_error = ""
        self._lock = threading.Lock()

    def add_backend(self, backend: Backend) -> None:
        self.backends.append(backend)

    def _backend(self, typ: str) -> Backend:
        for backend in self.backends:
            if typ.startswith(backend.prefixes):
                return backend
        raise NotImplementedError(f"local engine: no backend applies resources of type {typ}")

    def monitor(self) -> EngineMonitor:
        return EngineMonitor(self)

    # -- Mocks (for callers that bypass the monitor: no options) ----------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        urn = f"urn:pulumi:{self.stack}::{self.project}::{args.typ}::{args.name}"
        return self.register(urn, args.typ, args.name, bool(args.custom), dict(args.inputs), Options())

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"local engine: no function {args.token}")

    # -- runs -----------------------------------------------------------------------------------
    def program_started(self, *, stack: str, project: str, config: dict[str, str], preview: bool) -> None:
        """Called by run_program before the program runs: the stack, its config, and the kind of run."""
        self.stack, self.project, self.config, self.preview = stack, project, dict(config), preview
        self._configure()

    def _configure(self) -> None:
        for backend in self.backends:
            backend.configure(self.config, self.project)

    def begin_run(self) -> None:
        self._registered = set()
        self._condemned = []
        self._replacing = set()
        self._errors = []
        self._failed = False
        self._first_error = ""
        self.plan = []
        self.preview = False

    def end_run(self) -> None:
        """Delete what was replaced and what the run no longer declared, in reverse dependency order."""
        if self._failed and not self.preview:
            raise EngineError("the update failed: nothing it would delete was deleted")
        gone = [a for urn, a in self.resources.items() if urn not in self._registered]
        for applied in gone:
            self._record("delete", applied)
        try:
            self._delete_all(
                [*self._condemned, *gone], drop_from=self.resources, replaced={id(a) for a in self._condemned}
            )
        finally:
            self._condemned = []
        if self._errors:
            raise EngineError("\n".join(self._errors))

    def changed(self) -> list[tuple[str, str, str]]:
        return [(step.op, step.typ, step.name) for step in self.plan if step.op != "same"]

    @property
    def state(self) -> dict[tuple[str, str], Applied]:
        """(type, name) -> resource, for callers that look resources up by type and logical name."""
        return {(a.typ, a.name): a for a in self.resources.values()}

    def find(self, typ: str, name: str) -> Applied:
        matches = [a for a in self.resources.values() if a.typ == typ and a.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {typ} named {name} in state")
        return matches[0]

    def _record(self, op: str, applied: Applied, keys: Iterable[str] = ()) -> None:
        self.plan.append(Step(op, applied.urn, applied.typ, applied.name, tuple(keys)))

    # -- register: one resource of a running program ---------------------------------------------
    def register(
        self, urn: str, typ: str, name: str, custom: bool, raw: dict[str, Any], options: Options
    ) -> tuple[str, dict[str, Any]]:
        with self._lock:
            if self._failed and not self.preview:
                # The engine starts no step after one failed; the SDK would go on registering. Whichever
                # error the SDK surfaces, it carries the first one (e.g. Pulumi's protect message).
                raise EngineError(f"{urn}: not applied, the update stopped at an earlier error: {self._first_error}")
            try:
                return self._register_locked(urn, typ, name, custom, raw, options)
            except Exception as error:
                if not self._failed:
                    self._first_error = str(error)
                self._failed = True
                raise

    def _register_locked(
        self, urn: str, typ: str, name: str, custom: bool, raw: dict[str, Any], options: Options
    ) -> tuple[str, dict[str, Any]]:
        for alias in options.aliases:  # the state of an aliased resource moves to its new URN
            if urn not in self.resources and alias in self.resources:
                self.resources[urn] = replace(self.resources.pop(alias), urn=urn)
        self._registered.add(urn)
        if not custom:
            return self._register_component(urn, typ, name, raw, options)
        return self._register_custom(urn, typ, name, raw, options)

    def _register_component(
        self, urn: str, typ: str, name: str, raw: dict[str, Any], options: Options
    ) -> tuple[str, dict[str, Any]]:
        new = Applied(typ, name, "", {}, {}, raw, urn, False, options)
        self._record("same" if urn in self.resources else "create", new)
        if not self.preview:
            self.resources[urn] = new
        return "", {}

    def _register_custom(
        self, urn: str, typ: str, name: str, raw: dict[str, Any], options: Options
    ) -> tuple[str, dict[str, Any]]:
        backend = self._backend(typ)
        old = self.resources.get(urn)
        plain = unwrap({k: v for k, v in raw.items() if k != PROVIDER_KEY})
        news = _apply_ignore_changes(old.inputs if old else None, plain, options.ignore_changes)
        if PROVIDER_KEY in raw:
            news[PROVIDER_KEY] = unwrap(raw[PROVIDER_KEY])
        if backend.check is not None:
            news = backend.check(old, news)
        new = Applied(typ, name, old.ident if old else "", input_props(news), {}, raw, urn, True, options)

        if old is None:
            replacing = urn in self._replacing
            self._record("replace" if replacing else "create", new)
            return self._create(backend, new, news)

        diff = backend_diff(backend, old, news)
        replaces = list(diff.replaces)
        changed_keys = set(diff.changed_keys) or {
            k for k in set(old.inputs) | set(input_props(news)) if old.inputs.get(k) != news.get(k)
        }
        if diff.changes and any(_top_key(p) in changed_keys or p == "*" for p in options.replace_on_changes):
            replaces += [k for k in changed_keys if k not in replaces]
        if not diff.changes:
            self._record("same", new)
            new.ident, new.outputs = old.ident, old.outputs
            self._keep(new)
            return old.ident, old.outputs
        if not replaces:
            self._record("update", new, sorted(changed_keys))
            return self._update(backend, old, new, news)
        self._record("replace", new, replaces)
        if old.options.protect and options.protect:
            message = protected_replace_message(urn)
            if self.preview:
                self._errors.append(message)
                return self._preview_outputs(new, news, old=None)
            raise EngineError(message)
        # Unprotecting and replacing in one run is allowed: the old object is deleted under the new flag.
        old = replace(old, options=replace(old.options, protect=options.protect))
        delete_first = (
            diff.delete_before_replace if options.delete_before_replace is None else options.delete_before_replace
        )
        if delete_first:
            self._delete_before_replace(old)
            return self._create(backend, new, news)
        self._condemned.append(old)  # create before delete: the old one goes at the end of the run
        return self._create(backend, new, news)

    def _keep(self, new: Applied) -> None:
        if not self.preview:
            self.resources[new.urn] = new

    def _preview_outputs(self, new: Applied, news: dict[str, Any], old: Applied | None) -> tuple[str, dict[str, Any]]:
        """What a preview hands the program: known inputs; computed outputs unknown (left out)."""
        base = dict(old.outputs) if old is not None else {}
        return new.ident, self._mark_secrets(new, {**base, **_known(input_props(news))})

    def _create(self, backend: Backend, new: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.preview:
            return self._preview_outputs(new, news, old=None)
        ident, outs = backend.create(new.typ, new.name, news)
        new.ident, new.outputs = ident, self._mark_secrets(new, outs)
        self.resources[new.urn] = new
        return new.ident, new.outputs

    def _update(self, backend: Backend, old: Applied, new: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.preview:
            # A dynamic provider cannot preview an update: the engine hands back the new inputs alone.
            base = None if backend.diff is not None else old
            return self._preview_outputs(new, news, old=base)
        updated = backend.update(old, news)
        ident, outs = updated if updated is not None else (old.ident, {**old.outputs, **input_props(news)})
        new.ident, new.outputs = ident, self._mark_secrets(new, outs)
        self.resources[new.urn] = new
        return new.ident, new.outputs

    def _mark_secrets(self, new: Applied, outs: dict[str, Any]) -> dict[str, Any]:
        outs = {k: v for k, v in outs.items() if k != PROVIDER_KEY}
        # An output that echoes a secret input stays secret (the engine's annotateSecrets, recursively).
        outs = {k: _annotate_secrets(v, new.raw_inputs[k]) if k in new.raw_inputs else v for k, v in outs.items()}
        secret_keys = set(new.options.additional_secret_outputs)
        return {
            k: wrap_secret(unwrap(v)) if k in secret_keys and v is not None and not is_secret(v) else v
            for k, v in outs.items()
        }

    # -- delete-before-replace, and the dependents it takes with it -------------------------------
    def _delete_before_replace(self, root: Applied) -> None:
        doomed = self._dependent_replacements(root)
        for dependent in reversed(doomed):  # dependents first, as the engine orders them
            if dependent.options.protect:
                raise EngineError(protected_replace_message(dependent.urn, because_of=root.urn))
        if self.preview:
            for dependent in doomed:
                self._replacing.add(dependent.urn)
            return
        for dependent in reversed(doomed):
            self._delete_one(dependent)
            self.resources.pop(dependent.urn, None)
            self._replacing.add(dependent.urn)
        self._delete_one(root)
        self.resources.pop(root.urn, None)

    def _dependent_replacements(self, root: Applied) -> list[Applied]:
        """Resources not yet registered this run that a replacement of `root` forces to be replaced too:
        those with an input that depends on it where an unknown value of that input means a replacement."""
        replaced = {root.urn}
        doomed: list[Applied] = []
        for applied in list(self.resources.values()):
            if applied.urn in self._registered or not applied.custom:
                continue
            keys = [k for k, urns in applied.options.property_dependencies.items() if replaced & set(urns)]
            if not keys:
                continue
            news = {**applied.inputs, **{k: pulumi.output.UNKNOWN for k in keys}}
            if PROVIDER_KEY in applied.raw_inputs:
                news[PROVIDER_KEY] = applied.raw_provider
            backend = self._backend(applied.typ)
            diff = backend_diff(backend, applied, news)
            if diff.replaces:
                doomed.append(applied)
                replaced.add(applied.urn)
        return doomed

    # -- deletes ----------------------------------------------------------------------------------
    def _delete_one(self, applied: Applied) -> None:
        if applied.options.protect:
            raise EngineError(protected_delete_message(applied.urn))
        if self.preview or not applied.custom or applied.options.retain_on_delete:
            return  # a retained resource leaves state only; its object stays in the backend
        self._backend(applied.typ).delete(applied)

    def _delete_all(self, doomed: list[Applied], drop_from: dict[str, Applied], replaced: set[int]) -> None:
        """Delete in reverse dependency order, one antichain at a time as the engine schedules them. An antichain
        holding a protected resource fails, after its other members are deleted (the real engine runs an antichain's
        deletes in parallel: `pulumi destroy --skip-preview` on a prod stack deletes the volume's network beside it);
        no later antichain runs."""
        for chain in delete_antichains(doomed):
            protected = [a for a in chain if a.options.protect]
            for applied in chain:
                if applied.options.protect:
                    continue
                self._delete_one(applied)
                if not self.preview and id(applied) not in replaced:
                    drop_from.pop(applied.urn, None)
            if protected:
                message = "\n".join(protected_delete_message(a.urn) for a in protected)
                if self.preview:
                    self._errors.append(message)
                    continue
                raise EngineError(message)

    # -- operations -------------------------------------------------------------------------------
    def destroy(self) -> list[Step]:
        """`pulumi destroy`: delete everything in state, dependents first, honouring protect and retain."""
        self.begin_run()
        self._configure()
        doomed = list(self.resources.values())
        for applied in reversed(doomed):
            self._record("delete", applied)
        self._delete_all(doomed, drop_from=self.resources, replaced=set())
        return list(self.plan)

    def refresh(self) -> list[Step]:
        """`pulumi refresh`: read every resource from its backend; one gone out of band leaves state."""
        self.begin_run()
        self._configure()
        for urn, applied in list(self.resources.items()):
            if not applied.custom:
                continue
            found = read_resource(self._backend(applied.typ), applied)
            if found is None:
                del self.resources[urn]
                self._record("delete", applied)
                continue
            outputs = self._mark_secrets(applied, found.outputs)
            inputs = input_props(unwrap(found.inputs)) if found.inputs is not None else applied.inputs
            drift = unwrap(outputs) != unwrap(applied.outputs)  # what `pulumi refresh` reports as an update
            self._record("update" if drift else "same", applied)
            self.resources[urn] = replace(applied, ident=found.ident, outputs=outputs, inputs=inputs)
        return list(self.plan)

    def state_document(self) -> str:
        """The state as Pulumi writes its checkpoint: secrets encrypted, everything else in plain."""
        resources = [
            {
                "urn": a.urn,
                "custom": a.custom,
                "type": a.typ,
                "id": a.ident,
                "inputs": self.secret_box.seal_all(a.raw_inputs),
                "outputs": self.secret_box.seal_all(a.outputs),
                "parent": a.options.parent,
                "protect": a.options.protect,
                "retainOnDelete": a.options.retain_on_delete,
                "dependencies": sorted(a.options.depends_on() - {a.options.parent}),
                "additionalSecretOutputs": list(a.options.additional_secret_outputs),
            }
            for a in self.resources.values()
        ]
        return json.dumps({"version": 3, "checkpoint": {"latest": {"resources": resources}}}, indent=2)


def _annotate_secrets(output: Any, raw_input: Any) -> Any:
    """Mark `output` secret wherever the input it echoes was secret."""
    if is_secret(output) or output is None:
        return output
    if is_secret(raw_input):
        return wrap_secret(output)
    if isinstance(output, dict) and isinstance(raw_input, dict):
        return {k: _annotate_secrets(v, raw_input[k]) if k in raw_input else v for k, v in output.items()}
    if isinstance(output, list) and isinstance(raw_input, list) and len(output) == len(raw_input):
        return [_annotate_secrets(o, i) for o, i in zip(output, raw_input, strict=True)]
    return output


def input_props(values: dict[str, Any]) -> dict[str, Any]:
    """Inputs without the serialized dynamic provider."""
    return {k: v for k, v in values.items() if k != PROVIDER_KEY}


def delete_antichains(doomed: list[Applied]) -> list[list[Applied]]:
    """Group resources for deletion: each group holds those no remaining resource depends on."""
    remaining = list(doomed)
    chains: list[list[Applied]] = []
    while remaining:
        urns = {a.urn for a in remaining}
        needed = {dep for a in remaining for dep in a.options.depends_on() if dep in urns}
        chain = [a for a in remaining if a.urn not in needed]
        if not chain:  # a cycle cannot happen in a Pulumi program; fail rather than loop
            raise EngineError(f"dependency cycle among {sorted(urns)}")
        chains.append(chain)
        remaining = [a for a in remaining if a.urn in needed]
    return chains


def format_plan(steps: Iterable[Step]) -> str:
    """The plan as `pulumi preview` lists it: one line per resource, its operation and the keys that drive it."""
    steps = list(steps)
    symbols = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}
    lines = []
    for step in steps:
        keys = f" [{', '.join(step.keys)}]" if step.keys else ""
        lines.append(f"{symbols.get(step.op, '?'):>2} {step.op:<8} {step.urn}{keys}")
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.op] = counts.get(step.op, 0) + 1
    lines.append("Resources: " + ", ".join(f"{n} to {op}" for op, n in sorted(counts.items()) if op != "same"))
    return "\n".join(lines)
