"""`login` and `verify`: every registry kind the stack deployed, from its outputs (self-hosted, ECR, Artifact
Registry, ACR, Docker Hub); one line each, one failing kind does not hide the others.

Imports are late on purpose: the cloud SDKs load only for the kinds the stack has."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registryctl.errors import EXIT_FAILED, RegistryCtlError
from registryctl.stack_outputs import declared_spec, hub_credentials_of, open_stack, output_values, project_dir

if TYPE_CHECKING:
    from providers.dockerhub.client import Credentials
    from registries.config import StackSpec
    from registryctl.cloud_registries import Sign
    from registryctl.registry_client import ImageProbe, ProbeImage

KIND_LABELS = {
    "selfHosted": "self-hosted",
    "ecr": "ECR",
    "artifactRegistry": "Artifact Registry",
    "acr": "ACR",
    "dockerHub": "Docker Hub",
}


def declared_kinds(spec: Any, outputs: dict[str, Any]) -> list[str]:
    """The registry kinds the stack declares (its config), or has outputs of (kinds newer than this CLI's spec)."""
    declared = {
        "selfHosted": spec.self_hosted is not None,
        "ecr": spec.ecr is not None or "ecr" in outputs,
        "artifactRegistry": getattr(spec, "artifact_registry", None) is not None or "artifactRegistry" in outputs,
        "acr": getattr(spec, "acr", None) is not None or "acr" in outputs,
        "dockerHub": spec.docker_hub is not None,
    }
    return [kind for kind, present in declared.items() if present]


def _each_kind(kinds: list[str], run: Callable[[str], str]) -> int:
    """Run every kind (one failing does not hide the others); one line each; exit 1 if any failed."""
    failed = 0
    for kind in kinds:
        try:
            print(run(kind), flush=True)
        except RegistryCtlError as error:
            print(f"registryctl: {KIND_LABELS[kind]}: {error}", file=sys.stderr, flush=True)
            failed += 1
    return EXIT_FAILED if failed else 0


def _hub_provider_credentials(spec: StackSpec, stack: Any) -> Callable[[], Credentials]:
    hub = spec.docker_hub
    assert hub is not None
    return lambda: hub_credentials_of(hub, lambda: stack)


def _login_kind(kind: str, args: argparse.Namespace, spec: StackSpec, stack: Any, outputs: dict[str, Any]) -> str:
    from registryctl import cloud_registries as cloud
    from registryctl.docker_config import config_dir
    from registryctl.registry_client import login, trust_ca

    docker_dir = config_dir()
    if kind == "selfHosted":
        ca = trust_ca(outputs)
        trusted = f" (trusted the stack's CA at {ca})" if ca is not None else ""
        return f"self-hosted {outputs.get('endpoint')}: logged in as {login(outputs, args.user)}{trusted}"
    if kind == "ecr":
        return cloud.ecr_login(cloud.EcrOutputs.parse(outputs.get("ecr")), docker_dir)
    if kind == "artifactRegistry":
        return cloud.artifact_registry_login(cloud.ArtifactRegistryOutputs.parse(outputs.get(kind)), docker_dir)
    if kind == "acr":
        return cloud.acr_login(cloud.AcrOutputs.parse(outputs.get("acr")), docker_dir, args.user)
    from registryctl.hub_check import choose_hub_login, hub_login

    assert spec.docker_hub is not None
    choice = choose_hub_login(
        spec.docker_hub,
        outputs.get("dockerHubTokens") or {},
        outputs.get("dockerHubOrgTokens") or {},
        _hub_provider_credentials(spec, stack),
        args.user,
    )
    return hub_login(spec.docker_hub, choice, docker_dir)


def _verify_kind(
    kind: str, args: argparse.Namespace, spec: StackSpec, stack: Any, outputs: dict[str, Any], probe: ImageProbe
) -> str:
    from registryctl import cloud_registries as cloud
    from registryctl.docker_config import config_dir
    from registryctl.registry_client import login, trust_ca, verify

    docker_dir = config_dir()
    if kind == "selfHosted":
        trust_ca(outputs)
        user = login(outputs, args.user)
        digest = verify(outputs, probe=probe)
        line = f"self-hosted {outputs['endpoint']}: logged in as {user}, pushed and pulled {digest}"
        return line + _signing_checked(outputs, user, digest, docker_dir)
    sign = _cloud_signer(outputs, kind, docker_dir)
    if kind == "ecr":
        ecr = cloud.EcrOutputs.parse(outputs.get("ecr"))
        return cloud.ecr_verify(ecr, docker_dir, probe, args.repository, sign=sign)
    if kind == "artifactRegistry":
        registry = cloud.ArtifactRegistryOutputs.parse(outputs.get(kind))
        return cloud.artifact_registry_verify(registry, docker_dir, probe, args.repository, sign=sign)
    if kind == "acr":
        acr = cloud.AcrOutputs.parse(outputs.get("acr"))
        return cloud.acr_verify(acr, docker_dir, probe, args.repository, args.user, sign=sign)
    from registryctl.hub_check import verify_docker_hub

    assert spec.docker_hub is not None
    names = verify_docker_hub(spec.docker_hub, _hub_provider_credentials(spec, stack)(), project_dir(args))
    line = f"Docker Hub: {', '.join(names)} match the stack (read-only check)"
    signing = (outputs.get("signing") or {}).get(kind)
    if signing:
        # The check is read-only (Hub keeps untagged manifests, a signature's among them): the keys sign a probe that
        # never leaves this machine.
        from registryctl.signing_check import check_signing_locally

        checked = check_signing_locally(signing, f"docker.io/{spec.docker_hub.namespace}/registryctl-verify", kind)
        line += (
            f"; signed a local probe image with the stack's keys and verified it ({', '.join(checked)}); "
            "nothing was pushed to Docker Hub"
        )
    return line


def _cloud_signer(outputs: dict[str, Any], kind: str, docker_dir: Path) -> Sign | None:
    """When the stack hands out signing keys for a cloud kind: sign the probe with them and verify it, with docker's
    credentials (credential helpers included) for both tools; cloud_registries deletes what it pushed."""
    signing = (outputs.get("signing") or {}).get(kind)
    if not signing:
        return None
    from registryctl.signing_check import RegistryAccess, check_signing

    def sign(image: ProbeImage, created: list[str]) -> list[str]:
        return check_signing(signing, f"{image.repository}@{image.digest}", kind, RegistryAccess(docker_dir), created)

    return sign


def _signing_checked(outputs: dict[str, Any], user: str, digest: str, docker_dir: Path) -> str:
    """When the stack hands out self-hosted signing keys: the probe signed with them verifies (cosign, notation)."""
    signing = (outputs.get("signing") or {}).get("selfHosted")
    if not signing:
        return ""
    from registryctl.registry_client import PROBE_REPOSITORY
    from registryctl.signing_check import RegistryAccess, check_signing

    access = RegistryAccess(docker_dir, user, str(outputs["users"][user]), outputs.get("caCertPem") or None)
    image = f"{outputs['endpoint']}/{PROBE_REPOSITORY}@{digest}"
    checked = check_signing(signing, image, "selfHosted", access)
    return f"; signed it with the stack's keys and verified ({', '.join(checked)})"


def _kind_command(args: argparse.Namespace, run_kind: Callable[..., str]) -> int:
    spec = declared_spec(args)  # which kinds the stack declares
    stack = open_stack(args)
    outputs = output_values(stack)
    kinds = declared_kinds(spec, outputs)
    return _each_kind(kinds, lambda kind: run_kind(kind, args, spec, stack, outputs))


def cmd_login(args: argparse.Namespace) -> int:
    return _kind_command(args, _login_kind)


def cmd_verify(args: argparse.Namespace, probe: ImageProbe | None = None) -> int:
    """`probe` pushes and pulls the probe image (default: the docker CLI)."""
    from registryctl.registry_client import DockerProbe

    image_probe = probe or DockerProbe()
    return _kind_command(args, lambda *common: _verify_kind(*common, probe=image_probe))
