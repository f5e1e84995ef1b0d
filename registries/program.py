"""The Pulumi program: load the validated spec, build the components, return the stack outputs.

`__main__.py` runs it for the CLI; registryctl runs it as an Automation API inline program;
the tests run it under the SDK's mock runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from registries.config import PROJECT, ConfigError, SelfHostedSpec, StackSpec, load_stack_spec, plain_secret_problems
from registries.config.signing import SigningSpec

if TYPE_CHECKING:
    from components.selfhosted import SelfHostedRegistry

# Each kind's component (and its provider SDK) is imported only when the stack declares that kind, so a local
# stack loads neither the GCP, Azure nor Kubernetes SDK (tests/unit/test_lazy_imports.py).

PROJECT_DIR = Path(__file__).resolve().parent.parent


def read_raw_config() -> dict[str, Any]:
    """Every `registries:*` key of the current stack, structured values parsed."""
    prefix = f"{PROJECT}:"
    keys = sorted({k[len(prefix) :] for k in {**get_config_env(), **CONFIG.get()} if k.startswith(prefix)})
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in keys:
        try:
            raw[key] = config.get_object(key)
        except Exception:  # a plain string is not JSON; let the schema say it must be an object
            raw[key] = config.get(key)
    return raw


def load_spec() -> StackSpec:
    spec = load_stack_spec(read_raw_config(), pulumi.get_stack(), PROJECT_DIR)
    if problems := plain_secret_problems(spec, lambda key: is_config_secret(f"{PROJECT}:{key}")):
        raise ConfigError(problems)
    return spec


def declare(spec: StackSpec) -> dict[str, pulumi.Input[Any]]:
    """Declare everything `spec` selects; returns the stack outputs."""
    outputs: dict[str, pulumi.Input[Any]] = {}
    signing_outputs: dict[str, Any] = {}
    if spec.self_hosted is not None and spec.self_hosted.platform == "kubernetes":
        from components.kubernetes_registry import KubernetesRegistry
        from registries.mapping.kubernetes import kubernetes_args

        cluster = KubernetesRegistry("selfhosted", kubernetes_args(spec.self_hosted, spec.is_production))
        outputs.update(
            {
                "endpoint": cluster.endpoint,
                "caCertPem": cluster.ca_cert_pem,
                "users": cluster.user_passwords,
                "dockerConfigJson": cluster.docker_config_json,
                "loginCommand": cluster.login_command,
                "kubernetesNamespace": cluster.namespace,
                "kubernetesDeployment": cluster.deployment_name,
                "bucket": cluster.bucket,
            }
        )
    registry: SelfHostedRegistry | None = None
    if spec.self_hosted is not None and spec.self_hosted.platform == "docker":
        from components.selfhosted import SelfHostedRegistry
        from registries.mapping.selfhosted import selfhosted_args

        sh = spec.self_hosted
        registry = SelfHostedRegistry("selfhosted", selfhosted_args(sh, spec.is_production))
        outputs.update(
            {
                "endpoint": registry.endpoint,
                "uiUrl": registry.ui_url,
                "caCertPem": registry.ca_cert_pem,
                "users": registry.user_passwords,
                "dockerConfigJson": registry.docker_config_json,
                "loginCommand": registry.login_command,
                "containerName": registry.container_name,
                "replicaContainerNames": registry.replica_container_names,
                "volumeName": registry.volume_name,
                "bucket": registry.bucket,
            }
        )
        if sh.mode == "mirror":
            outputs.update(_mirror_outputs(registry))
    if spec.self_hosted is not None and spec.self_hosted.signing is not None:
        endpoint = registry.endpoint if registry is not None else outputs["endpoint"]
        signing_outputs["selfHosted"] = _declare_signing("selfhosted", spec.self_hosted.signing, endpoint, "selfHosted")
    if spec.mirrors:
        outputs["mirrors"] = {mirror.name: _declare_mirror(mirror, spec, registry) for mirror in spec.mirrors}
    if spec.docker_hub is not None:
        from components.dockerhub import DockerHub
        from registries.mapping.dockerhub import dockerhub_args

        hub = DockerHub("dockerhub", dockerhub_args(spec.docker_hub, spec.is_production, PROJECT_DIR))
        if spec.docker_hub.signing is not None:
            signing_outputs["dockerHub"] = _declare_signing(
                "dockerhub", spec.docker_hub.signing, f"docker.io/{spec.docker_hub.namespace}", "dockerHub"
            )
        outputs.update(
            {
                "dockerHubRepositories": hub.repositories,
                "dockerHubTokens": hub.access_tokens,
                "dockerHubOrgTokens": hub.org_access_tokens,
            }
        )
    if spec.ecr is not None:
        from components.ecr import EcrRegistry
        from registries.mapping.ecr import ecr_args

        ecr = EcrRegistry("ecr", ecr_args(spec.ecr, spec.is_production))
        outputs["ecr"] = {
            "registry": ecr.registry,
            "repositories": ecr.repository_urls,
            "loginCommand": ecr.login_command,
            "dockerConfigJson": ecr.docker_config_json,
            "lifecyclePolicies": ecr.lifecycle_policies,
            "ciRoleArn": ecr.ci_role_arn,
            "scanResults": ecr.scan_results,
            "scanFindingsCommand": ecr.scan_findings_command,
        }
        if spec.ecr.signing is not None:
            signing_outputs["ecr"] = _declare_signing("ecr", spec.ecr.signing, ecr.registry, "ecr")
    if spec.artifact_registry is not None:
        from components.artifact_registry import ArtifactRegistry
        from registries.mapping.artifact_registry import artifact_registry_args

        gar = ArtifactRegistry("artifact-registry", artifact_registry_args(spec.artifact_registry, spec.is_production))
        outputs["artifactRegistry"] = {
            "registries": gar.registries,
            "repositories": gar.repository_urls,
            "pushRepositories": gar.push_repositories,
            "immutableRepositories": gar.immutable_repositories,
            "loginCommand": gar.login_command,
            "dockerConfigJson": gar.docker_config_json,
            "ciServiceAccount": gar.ci_service_account_email,
            "scanResults": gar.scan_results,
            "scanFindingsCommand": gar.scan_findings_command,
        }
        ar = spec.artifact_registry
        if ar.signing is not None:
            from components.artifact_registry import registry_host

            host = f"{registry_host(ar.location)}/{ar.project}"  # images: <host>/<project>/<repository>/<image>
            signing_outputs["artifactRegistry"] = _declare_signing(
                "artifact-registry", ar.signing, host, "artifactRegistry"
            )
    if spec.acr is not None:
        from components.acr import Acr
        from registries.mapping.acr import acr_args

        acr = Acr("acr", acr_args(spec.acr, spec.is_production))
        outputs["acr"] = {
            "loginServer": acr.login_server,
            "repositories": acr.repository_urls,
            "loginCommand": acr.login_command,
            "dockerConfigJson": acr.docker_config_json,
            "pushTokens": acr.push_tokens,
            "scanResults": acr.scan_results,
            "scanFindingsCommand": acr.scan_findings_command,
        }
        if spec.acr.signing is not None:
            signing_outputs["acr"] = _declare_signing("acr", spec.acr.signing, acr.login_server, "acr")
    if signing_outputs:
        outputs["signing"] = signing_outputs
    return outputs


def _declare_signing(name: str, spec: SigningSpec, registry: pulumi.Input[str], kind: str) -> dict[str, Any]:
    """A kind's signing keys (SigningKeys) and their outputs, exported under signing.<kind>."""
    from components.signing import SigningKeys
    from registries.mapping.signing import signing_args

    keys = SigningKeys(f"{name}-signing", signing_args(spec, registry, f"signing.{kind}"))
    return {key: value for key, value in (("cosign", keys.cosign), ("notation", keys.notation)) if value is not None}


def _mirror_outputs(mirror: SelfHostedRegistry) -> dict[str, pulumi.Input[Any]]:
    return {
        "mirrorUrl": mirror.mirror_url,
        "daemonJson": mirror.daemon_json,
        "mirrorCaPath": mirror.mirror_ca_path,
        "containerdHostsToml": mirror.containerd_hosts_toml,
        "mirrorClientCertPem": mirror.mirror_client_cert_pem,
        "mirrorClientKeyPem": mirror.mirror_client_key_pem,
    }


def _declare_mirror(
    mirror: SelfHostedSpec, spec: StackSpec, registry: SelfHostedRegistry | None
) -> dict[str, pulumi.Input[Any]]:
    """One `registries:mirrors` item; a mirror of this stack's own selfHosted registry trusts its CA."""
    from components.selfhosted import SelfHostedRegistry
    from registries.mapping.selfhosted import selfhosted_args

    args = selfhosted_args(mirror, spec.is_production)
    own = spec.self_hosted
    mirror_args = args.get("mirror")
    scheme = "https" if own is not None and own.tls.mode != "none" else "http"
    mirrors_own = (
        registry is not None
        and own is not None
        and mirror_args is not None
        and mirror_args.get("upstream") == f"{scheme}://{own.endpoint}"
    )
    if mirrors_own and registry is not None and mirror_args is not None and scheme == "https":
        mirror_args.setdefault("ca_certificate", registry.ca_cert_pem)
    # distribution 2.8 asks the upstream for its auth challenge at start and panics when it cannot reach it.
    opts = pulumi.ResourceOptions(depends_on=[registry]) if mirrors_own and registry is not None else None
    component = SelfHostedRegistry(f"mirror-{mirror.name}", args, opts)
    return {
        "endpoint": component.endpoint,
        "caCertPem": component.ca_cert_pem,
        "users": component.user_passwords,
        "dockerConfigJson": component.docker_config_json,
        "loginCommand": component.login_command,
        "containerName": component.container_name,
        "volumeName": component.volume_name,
        **_mirror_outputs(component),
    }


def pulumi_program() -> None:
    """Entry point for `pulumi up` and Automation API inline programs."""
    for key, value in declare(load_spec()).items():
        pulumi.export(key, value)
