"""The validated stack config: one StackSpec, or one ConfigError listing every bad key."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from registries.config import acr, artifact_registry, ecr, selfhosted, signing
from registries.config.acr import AcrSpec, acr_problems
from registries.config.artifact_registry import ArtifactRegistrySpec, artifact_registry_problems
from registries.config.base import (
    CamelModel,
    ConfigError,
    ConfigProblem,
    is_production_stack,
    problems_from_validation_error,
    validate_section,
)
from registries.config.dockerhub import DockerHubSpec, dockerhub_problems
from registries.config.ecr import EcrSpec, ecr_problems
from registries.config.selfhosted import S3_ONLY_KEYS, STORAGE_KINDS, SelfHostedSpec, selfhosted_problems

PROJECT = "registries"
# Top-level keys of the `registries:` namespace and the model of each.
SECTIONS: dict[str, type[CamelModel]] = {
    "selfHosted": SelfHostedSpec,
    "dockerHub": DockerHubSpec,
    "ecr": EcrSpec,
    "artifactRegistry": ArtifactRegistrySpec,
    "acr": AcrSpec,
}
MIRRORS = "mirrors"
"""`registries:mirrors`: self-hosted specs in mode: mirror beside `selfHosted` (one model, SelfHostedSpec)."""
# Plain secret keys that are read by providers at call time, not by the schema.
CREDENTIAL_KEYS = frozenset({"dockerHubSecret"})
UNION_TAGS = STORAGE_KINDS

__all__ = [
    "AcrSpec",
    "ArtifactRegistrySpec",
    "ConfigError",
    "ConfigProblem",
    "DockerHubSpec",
    "EcrSpec",
    "SelfHostedSpec",
    "StackSpec",
    "load_stack_spec",
    "plain_secret_problems",
]


class StackSpec(CamelModel):
    """Everything one stack declares. Each section is optional; at least one must be set."""

    stack: str
    self_hosted: SelfHostedSpec | None = None
    docker_hub: DockerHubSpec | None = None
    ecr: EcrSpec | None = None
    artifact_registry: ArtifactRegistrySpec | None = None
    acr: AcrSpec | None = None
    mirrors: list[SelfHostedSpec] | None = None
    """Pull-through caches (self-hosted specs in mode: mirror) declared beside `selfHosted`."""

    @property
    def is_production(self) -> bool:
        return is_production_stack(self.stack)

    def signing_sections(
        self,
    ) -> list[tuple[str, SelfHostedSpec | DockerHubSpec | EcrSpec | ArtifactRegistrySpec | AcrSpec]]:
        """(stack config key, section) of every declared kind that can hand out signing keys (all but mirrors)."""
        sections = (
            ("selfHosted", self.self_hosted),
            ("dockerHub", self.docker_hub),
            ("ecr", self.ecr),
            ("artifactRegistry", self.artifact_registry),
            ("acr", self.acr),
        )
        return [(key, section) for key, section in sections if section is not None]


def _with_hints(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Say why a key is unknown where it belongs to another storage kind."""
    prefix = f"{PROJECT}:selfHosted.storage."
    out = []
    for problem in problems:
        key = problem.path.removeprefix(prefix)
        if problem.path.startswith(prefix) and key in S3_ONLY_KEYS and problem.allowed.startswith("unknown key"):
            out.append(ConfigProblem(problem.path, problem.value, "only allowed with storage.kind: s3"))
        else:
            out.append(problem)
    return out


def _without_refused(model: type[CamelModel], value: Mapping[str, Any], error: ValidationError) -> Any:
    """(the section validated without the keys pydantic refused, their paths), or None when that cannot be done
    (a refused list item or whole section, a missing key, or the rest is still invalid)."""
    section = copy.deepcopy(dict(value))
    paths = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if part not in ("function-after", "function-before", *UNION_TAGS)]
        if item["type"] == "missing" or not loc or not all(isinstance(part, str) for part in loc):
            return None
        parent: Any = section
        for part in loc[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            return None
        parent.pop(loc[-1], None)
        paths.append(".".join(str(part) for part in loc))
    try:
        return validate_section(model, section), paths
    except ValidationError:
        return None


def _cross_field_kept(problems: list[ConfigProblem], refused: list[str]) -> list[ConfigProblem]:
    """Cross-field problems, less those about a key that was refused (and left out) or under it."""
    return [
        problem
        for problem in problems
        if not any(problem.path == path or problem.path.startswith((f"{path}.", f"{path}[")) for path in refused)
    ]


def load_stack_spec(raw: Mapping[str, Any], stack: str, base_dir: Path | None = None) -> StackSpec:
    """Validate the `registries:*` config of one stack.

    `raw` maps keys without the namespace (`selfHosted`) to their structured values.
    Raises ConfigError naming every invalid key, with the bad value and what is allowed.
    """
    base = base_dir or Path.cwd()
    problems: list[ConfigProblem] = []
    sections: dict[str, CamelModel] = {}
    refused: dict[str, list[str]] = {}  # per section validated without its refused keys: their paths
    mirrors: list[SelfHostedSpec] = []
    for key, value in raw.items():
        if key in CREDENTIAL_KEYS:
            continue
        if key == MIRRORS:
            mirrors = _mirror_specs(value, stack, problems)
            continue
        model = SECTIONS.get(key)
        if model is None:
            allowed = ", ".join(sorted([*SECTIONS, MIRRORS]) + sorted(CREDENTIAL_KEYS))
            problems.append(ConfigProblem(f"{PROJECT}:{key}", "a value", f"unknown key; known keys: {allowed}"))
            continue
        if not isinstance(value, Mapping):
            problems.append(
                ConfigProblem(f"{PROJECT}:{key}", repr(type(value).__name__), "must be an object (a YAML mapping)")
            )
            continue
        try:
            sections[key] = validate_section(model, value)
        except ValidationError as error:
            problems.extend(_with_hints(problems_from_validation_error(f"{PROJECT}:{key}", error, UNION_TAGS)))
            # The cross-field checks still run on the rest of the section, so every problem shows at once.
            if (rest := _without_refused(model, value, error)) is not None:
                sections[key], refused[key] = rest
    field_count = len(problems)
    if not raw or not (set(raw) & {*SECTIONS, MIRRORS}):
        problems.append(
            ConfigProblem(
                f"{PROJECT}:*",
                "nothing",
                f"declare at least one of: {', '.join([*SECTIONS, MIRRORS])} (see stacks/Pulumi.local.yaml)",
            )
        )
    self_hosted = sections.get("selfHosted")
    docker_hub = sections.get("dockerHub")
    if isinstance(self_hosted, SelfHostedSpec):
        problems.extend(selfhosted_problems(self_hosted, stack))
    problems.extend(_side_by_side_problems(self_hosted if isinstance(self_hosted, SelfHostedSpec) else None, mirrors))
    if isinstance(docker_hub, DockerHubSpec):
        problems.extend(dockerhub_problems(docker_hub, stack, base))
    ecr = sections.get("ecr")
    if isinstance(ecr, EcrSpec):
        problems.extend(ecr_problems(ecr, stack))
    artifact_registry = sections.get("artifactRegistry")
    if isinstance(artifact_registry, ArtifactRegistrySpec):
        problems.extend(artifact_registry_problems(artifact_registry, stack))
    acr = sections.get("acr")
    if isinstance(acr, AcrSpec):
        problems.extend(acr_problems(acr, stack))
    for key, section in (
        ("selfHosted", self_hosted),
        ("dockerHub", docker_hub),
        ("ecr", ecr),
        ("artifactRegistry", artifact_registry),
        ("acr", acr),
    ):
        if isinstance(section, SelfHostedSpec | DockerHubSpec | EcrSpec | ArtifactRegistrySpec | AcrSpec):
            problems.extend(signing.signing_problems(section.signing, f"{PROJECT}:{key}.signing"))
    if problems:
        paths = [f"{PROJECT}:{key}.{path}" for key, section_paths in refused.items() for path in section_paths]
        raise ConfigError(problems[:field_count] + _cross_field_kept(problems[field_count:], paths))
    return StackSpec(
        stack=stack,
        self_hosted=self_hosted if isinstance(self_hosted, SelfHostedSpec) else None,
        docker_hub=docker_hub if isinstance(docker_hub, DockerHubSpec) else None,
        ecr=ecr if isinstance(ecr, EcrSpec) else None,
        artifact_registry=artifact_registry if isinstance(artifact_registry, ArtifactRegistrySpec) else None,
        acr=acr if isinstance(acr, AcrSpec) else None,
        mirrors=mirrors or None,
    )


def _mirror_specs(value: Any, stack: str, problems: list[ConfigProblem]) -> list[SelfHostedSpec]:
    """`registries:mirrors`: each item a self-hosted spec whose mode defaults to (and must be) mirror."""
    root = f"{PROJECT}:{MIRRORS}"
    if not isinstance(value, list):
        problems.append(ConfigProblem(root, repr(type(value).__name__), "must be a list of self-hosted mirror specs"))
        return []
    specs: list[SelfHostedSpec] = []
    for index, item in enumerate(value):
        where = f"{root}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(ConfigProblem(where, repr(type(item).__name__), "must be an object (a YAML mapping)"))
            continue
        try:
            spec = validate_section(SelfHostedSpec, {"mode": "mirror", **item})
        except ValidationError as error:
            problems.extend(problems_from_validation_error(where, error, UNION_TAGS))
            continue
        if spec.mode != "mirror":
            problems.append(
                ConfigProblem(f"{where}.mode", repr(spec.mode), "mirror (declare a registry under selfHosted)")
            )
        if spec.signing is not None:
            problems.append(
                ConfigProblem(
                    f"{where}.signing", "a signing block", "not on a mirror (it serves its upstream's images)"
                )
            )
        problems.extend(selfhosted_problems(spec, stack, where))
        specs.append(spec)
    return specs


def _side_by_side_problems(self_hosted: SelfHostedSpec | None, mirrors: list[SelfHostedSpec]) -> list[ConfigProblem]:
    """Registries on one Docker host need distinct container names and host ports."""
    problems: list[ConfigProblem] = []
    placed = [(f"{PROJECT}:selfHosted", self_hosted)] if self_hosted is not None else []
    placed += [(f"{PROJECT}:{MIRRORS}[{i}]", mirror) for i, mirror in enumerate(mirrors)]
    names: dict[str, str] = {}
    ports: dict[int, str] = {}
    for where, spec in placed:
        if spec.name in names:
            other = names[spec.name]
            problems.append(ConfigProblem(f"{where}.name", repr(spec.name), f"must differ from {other}.name"))
        names.setdefault(spec.name, where)
        for key, port in (("port", spec.port), ("debugPort", spec.debug_host_port)):
            if port in ports:
                problems.append(ConfigProblem(f"{where}.{key}", repr(port), f"already used by {ports[port]}"))
            ports.setdefault(port, where)
    return problems


def plain_secret_problems(spec: StackSpec, stored_encrypted: Callable[[str], bool]) -> list[ConfigProblem]:
    """Secrets held by a section that is not stored encrypted: named, never shown.

    `stored_encrypted(key)` says whether `registries:<key>` is a secret in the stack's config. `pulumi config set
    --secret --path` encrypts the whole key, so a plain key holding a token or a hook URL was set without --secret."""
    sections: list[tuple[str, list[str]]] = []
    if spec.self_hosted is not None:
        sections.append(("selfHosted", selfhosted.secret_value_paths(spec.self_hosted, f"{PROJECT}:selfHosted")))
    if spec.mirrors:
        mirrors = [selfhosted.secret_value_paths(m, f"{PROJECT}:{MIRRORS}[{i}]") for i, m in enumerate(spec.mirrors)]
        sections.append((MIRRORS, [path for paths in mirrors for path in paths]))
    if spec.ecr is not None:
        sections.append(("ecr", ecr.secret_value_paths(spec.ecr)))
    if spec.artifact_registry is not None:
        sections.append(("artifactRegistry", artifact_registry.secret_value_paths(spec.artifact_registry)))
    if spec.acr is not None:
        sections.append(("acr", acr.secret_value_paths(spec.acr)))
    for key, section in spec.signing_sections():
        sections.append((key, signing.secret_value_paths(section.signing, f"{PROJECT}:{key}.signing")))
    how = "must be set as a secret: pulumi config set --secret --path '{path}' <value>"
    return [
        ConfigProblem(path, "a value in plain text (not shown)", how.format(path=path))
        for key, paths in sections
        if not stored_encrypted(key)
        for path in paths
    ]
