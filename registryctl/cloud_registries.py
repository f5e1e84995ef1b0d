"""`registryctl login` and `verify` for the cloud registries a stack declares: ECR, Artifact Registry, ACR.

Each reads the stack's outputs (`ecr`, `artifactRegistry`, `acr`). Login writes docker's config
(registryctl.docker_config: merged per host, 0600, no secret printed). Verify logs in, pushes a generated
probe image to a declared repository, pulls it back, and deletes it with the platform's own API or CLI:
ECR `BatchDeleteImage` (boto3), Artifact Registry `gcloud artifacts docker images delete`, ACR
`az acr repository delete`. A probe that was pushed is deleted even when the pull fails.

When the stack hands out signing keys for the kind, the probe is signed with them and verified between the pull and
the delete (registryctl.signing_check), and what the signing pushed (cosign's `sha256-<hex>.sig` tag, notation's
signature manifests and its `sha256-<hex>` referrers index) is deleted with the probe, first, also when the check
failed: verify leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registryctl.docker_config import Credential, merge_config, store_credential, use_credential_helper
from registryctl.registry_client import ImageProbe, ProbeFailed, ProbeImage, RegistryCtlError
from registryctl.signing_check import subject_tag

find_executable: Callable[[str], str | None] = shutil.which
"""How an executable is looked up on PATH (tests replace it to take a helper away)."""

ECR_HELPER = "docker-credential-ecr-login"
GCLOUD_HELPER = "docker-credential-gcloud"
ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
NO_AWS_CREDENTIALS = (
    "no ECR credential helper and no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or install amazon-ecr-credential-helper (docker-credential-ecr-login) and configure "
    "AWS credentials for it"
)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RegistryCtlError(f"the stack output {where} is missing or not an object: is it deployed? run `up` first")
    return value


def _required(outputs: Mapping[str, Any], key: str, where: str) -> Any:
    value = outputs.get(key)
    if value in (None, "", {}):
        raise RegistryCtlError(f"the stack output {where}.{key} is missing: run `registryctl up` for this stack first")
    return value


def _host(url: str) -> str:
    return url.split("/", 1)[0]


def pick_repository(repositories: Mapping[str, str], wanted: str | None, kind: str) -> tuple[str, str]:
    """(name, url) of the repository to probe: `wanted`, else the first declared one."""
    if not repositories:
        raise RegistryCtlError(f"{kind}: the stack declares no repository to push a probe image to")
    if wanted is None:
        name = next(iter(repositories))
    elif wanted in repositories:
        name = wanted
    else:
        known = ", ".join(repositories)
        raise RegistryCtlError(f"{kind}: no repository {wanted!r} in the stack; repositories: {known}")
    return name, str(repositories[name])


Sign = Callable[[ProbeImage, list[str]], list[str]]
"""Signs the pushed probe and verifies it, appending to the list what each signature added to the probe's
repository (a tag, or a digest `sha256:...`) as it is pushed; returns the tools that verified."""

Delete = Callable[[ProbeImage, Sequence[str]], None]
"""Deletes the probe and, before it, the given tags and digests of its repository (its signatures)."""


@dataclass(frozen=True)
class ProbeResult:
    image: ProbeImage
    verified_with: list[str]
    """The signing tools the probe verified with (none: the stack has no signing keys for the kind)."""
    signatures: int
    """How many tags and manifests signing pushed, deleted with the probe."""

    def summary(self) -> str:
        """`pushed, pulled and deleted <digest>`, with what signing did when it ran."""
        if not self.verified_with:
            return f"pushed, pulled and deleted {self.image.digest}"
        return (
            f"pushed and pulled {self.image.digest}, signed it with the stack's keys and verified "
            f"({', '.join(self.verified_with)}), deleted it with its {self.signatures} signature tags and manifests"
        )


def reference(repository: str, tag_or_digest: str) -> str:
    """`repository:tag` or `repository@sha256:...`."""
    separator = "@" if tag_or_digest.startswith("sha256:") else ":"
    return f"{repository}{separator}{tag_or_digest}"


def _delete_after(error: RegistryCtlError, image: ProbeImage, created: list[str], delete: Delete) -> RegistryCtlError:
    """Delete what a failed probe left (the image, its signatures); the error to raise names what could not go."""
    try:
        delete(image, created)
    except RegistryCtlError as cleanup:
        pushed = f" and what signing pushed ({', '.join(created)})" if created else ""
        probe = f"the probe {image.reference} ({image.digest})"
        return RegistryCtlError(f"{error}; {probe} was pushed, and deleting it{pushed} failed: {cleanup}")
    return error


def run_probe(
    probe: ImageProbe, repository_url: str, docker_dir: Path, delete: Delete, sign: Sign | None = None
) -> ProbeResult:
    """Push/pull a probe to `repository_url`, sign and verify it when `sign` is given, then delete it with what the
    signing pushed (also after a failed pull or check, and after an interrupt during the check)."""
    try:
        image = probe.push_pull(repository_url, docker_dir)
    except ProbeFailed as error:
        if error.pushed is not None:
            raise _delete_after(error, error.pushed, [], delete) from None
        raise
    created: list[str] = []
    verified_with: list[str] = []
    if sign is not None:
        try:
            verified_with = sign(image, created)
        except RegistryCtlError as error:
            raise _delete_after(error, image, created, delete) from None
        except BaseException:  # Ctrl-C during a tool run, an OSError: clean up as far as it goes, then let it through
            _delete_interrupted(image, created, delete)
            raise
    delete(image, created)
    return ProbeResult(image, verified_with, len(created))


def _delete_interrupted(image: ProbeImage, created: list[str], delete: Delete) -> None:
    """After an interrupt during signing: delete what is known, and say on stderr what may remain (a tool stopped
    halfway through its push leaves what it had not reported: cosign's .sig, notation's index and signature)."""
    stem = subject_tag(f"{image.repository}@{image.digest}")
    unknown = [tag for tag in (f"{stem}.sig", stem) if tag not in created]
    try:
        delete(image, created)
    except RegistryCtlError as cleanup:
        print(f"registryctl: the probe {image.reference} ({image.digest}) may remain: {cleanup}", file=sys.stderr)
    else:
        if unknown:
            print(
                f"registryctl: the probe {image.reference} was deleted; signing was interrupted, so check "
                f"{image.repository} for {', '.join(unknown)} (and an untagged signature manifest)",
                file=sys.stderr,
            )


def delete_each(targets: list[str], delete_one: Callable[[str], object]) -> None:
    """Try every target in order; one error naming each that failed, and what was deleted before and after."""
    failed: list[str] = []
    for target in targets:
        try:
            delete_one(target)
        except RegistryCtlError as error:
            failed.append(str(error))
    if failed:
        gone = len(targets) - len(failed)
        raise RegistryCtlError(f"{'; '.join(failed)} ({gone} of {len(targets)} deleted)")


def _run_cli(argv: list[str], what: str, env: Mapping[str, str] | None = None) -> str:
    """Run a platform CLI (gcloud, az) with no secret in argv; its stderr becomes the error."""
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,  # never wait on a prompt
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        raise RegistryCtlError(f"{what}: {argv[0]} is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise RegistryCtlError(f"{what}: `{' '.join(argv[:4])} ...` did not finish in 600 s") from None
    if result.returncode != 0:
        raise RegistryCtlError(f"{what} failed (`{' '.join(argv[:4])} ...`): {result.stderr.strip()}")
    return result.stdout


# --- ECR -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EcrOutputs:
    registry: str
    account: str
    region: str
    repositories: dict[str, str]

    @classmethod
    def parse(cls, value: Any) -> EcrOutputs:
        outputs = _mapping(value, "ecr")
        registry = str(_required(outputs, "registry", "ecr"))
        match = ECR_HOST.match(registry)
        if match is None:
            expected = "ACCOUNT.dkr.ecr.REGION.amazonaws.com"
            raise RegistryCtlError(f"ecr.registry: {registry!r} is not an ECR registry host ({expected})")
        repositories = {str(k): str(v) for k, v in _mapping(outputs.get("repositories"), "ecr.repositories").items()}
        return cls(registry, match["account"], match["region"], repositories)


def ecr_client(region: str) -> Any:
    """boto3's ECR client: credentials, profile and endpoint (AWS_ENDPOINT_URL_ECR) as the AWS CLI finds them."""
    import boto3

    return boto3.client("ecr", region_name=region)


def aws_credentials_found() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def _aws_error(error: Exception, action: str) -> RegistryCtlError:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        hint = f"; your AWS identity needs {action}" if "denied" in (code + message).lower() else ""
        return RegistryCtlError(f"{action}: {code} {message}{hint}")
    return RegistryCtlError(f"{action}: {error}")


def ecr_login(ecr: EcrOutputs, docker_dir: Path, client_factory: Callable[[str], Any] = ecr_client) -> str:
    """The ecr-login credential helper when it is installed (no stored secret), else a 12-hour token."""
    if find_executable(ECR_HELPER):
        path = use_credential_helper(docker_dir, [ecr.registry], "ecr-login")
        line = f"ECR {ecr.registry}: docker gets tokens from the ecr-login credential helper (credHelpers in {path})"
        if not aws_credentials_found():
            line += "; note: no AWS credentials found, the helper needs them (set AWS_PROFILE)"
        return line
    if not aws_credentials_found():
        raise RegistryCtlError(NO_AWS_CREDENTIALS)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client_factory(ecr.region).get_authorization_token(registryIds=[ecr.account])
    except (BotoCoreError, ClientError) as error:
        raise _aws_error(error, "ecr:GetAuthorizationToken") from None
    data = answer["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    where = store_credential(docker_dir, ecr.registry, Credential(username, password))
    expires = data.get("expiresAt")
    until = f", valid until {expires.isoformat()}" if hasattr(expires, "isoformat") else ""
    return (
        f"ECR {ecr.registry}: token login (ecr:GetAuthorizationToken; {ECR_HELPER} is not on PATH) stored in "
        f"{where}{until}"
    )


def ecr_delete(client: Any, ecr: EcrOutputs, repository: str, digest: str, referrers: Sequence[str] = ()) -> None:
    """BatchDeleteImage: the referrers' tags (deleting an image's last tag deletes the image, per the API reference),
    then their digests with the probe's."""
    from botocore.exceptions import BotoCoreError, ClientError

    tags = [{"imageTag": r} for r in referrers if not r.startswith("sha256:")]
    digests = [{"imageDigest": r} for r in referrers if r.startswith("sha256:")]
    # Tags first (cosign's .sig, notation's referrers index), in a call of their own: ECR refuses to delete a manifest
    # an index still lists (ImageReferencedByManifestList), and a batch has no documented order.
    failures: list[dict[str, Any]] = []
    for ids in ([tags] if tags else []) + [[*digests, {"imageDigest": digest}]]:
        try:
            answer = client.batch_delete_image(registryId=ecr.account, repositoryName=repository, imageIds=ids)
        except (BotoCoreError, ClientError) as error:
            raise _aws_error(error, "ecr:BatchDeleteImage") from None
        failures += answer.get("failures") or []
    if failures:
        reasons = "; ".join(
            f"{f.get('imageId', {}).get('imageTag') or f.get('imageId', {}).get('imageDigest')}: "
            f"{f.get('failureCode')}: {f.get('failureReason')}"
            for f in failures
        )
        raise RegistryCtlError(f"ecr:BatchDeleteImage in {repository} left {reasons}")


def ecr_verify(
    ecr: EcrOutputs,
    docker_dir: Path,
    probe: ImageProbe,
    repository: str | None = None,
    client_factory: Callable[[str], Any] = ecr_client,
    sign: Sign | None = None,
) -> str:
    """Login, push/pull a probe to a declared repository (sign and verify it), delete it with ecr:BatchDeleteImage."""
    if not aws_credentials_found():  # checked first: without them the probe could be pushed but never deleted
        raise RegistryCtlError(
            "verify deletes its probe image with ecr:BatchDeleteImage, which needs AWS credentials: set AWS_PROFILE "
            "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    name, url = pick_repository(ecr.repositories, repository, "ECR")
    ecr_login(ecr, docker_dir, client_factory)
    client = client_factory(ecr.region)
    result = run_probe(
        probe, url, docker_dir, lambda image, refs: ecr_delete(client, ecr, name, image.digest, refs), sign
    )
    return f"ECR {ecr.registry}: {result.summary()} in {name}"


# --- Artifact Registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactRegistryOutputs:
    hosts: list[str]
    repositories: dict[str, str]
    push_repositories: list[str]
    """The standard repositories; mirrors and virtual repositories are pull-only."""
    immutable_repositories: list[str]
    """Standard repositories with immutable tags: a probe tag pushed there could never be deleted."""

    @classmethod
    def parse(cls, value: Any) -> ArtifactRegistryOutputs:
        outputs = _mapping(value, "artifactRegistry")
        registries = _mapping(outputs.get("registries") or {}, "artifactRegistry.registries")
        repositories = {
            str(k): str(v)
            for k, v in _mapping(outputs.get("repositories") or {}, "artifactRegistry.repositories").items()
        }
        # gcr.io-named repositories live on their own hosts (gcr.io, eu.gcr.io), not <location>-docker.pkg.dev.
        # No host at all: a notifications-only stack (login and verify then have nothing to do).
        hosts = sorted({str(h) for h in registries.values()} | {_host(url) for url in repositories.values()})
        pushable = outputs.get("pushRepositories")
        # Outputs of an older deployment lack the key: every repository counts as one to push to.
        push_repositories = [str(name) for name in pushable] if isinstance(pushable, list) else sorted(repositories)
        immutable = outputs.get("immutableRepositories")
        immutable_repositories = [str(name) for name in immutable] if isinstance(immutable, list) else []
        return cls(hosts, repositories, push_repositories, immutable_repositories)


GCLOUD_MISSING = (
    "Artifact Registry logins go through the gcloud credential helper ({what} is not on PATH): install the Google "
    "Cloud CLI (https://cloud.google.com/sdk/docs/install) and run `gcloud auth login`"
)


def artifact_registry_login(outputs: ArtifactRegistryOutputs, docker_dir: Path) -> str:
    """credHelpers -> gcloud for every host of the stack (docker-credential-gcloud uses your gcloud account)."""
    if not outputs.hosts:
        return "Artifact Registry: the stack declares no repository (notifications only): nothing to log in to"
    if not find_executable(GCLOUD_HELPER):
        raise RegistryCtlError(GCLOUD_MISSING.format(what=GCLOUD_HELPER))
    path = use_credential_helper(docker_dir, outputs.hosts, "gcloud")
    return (
        f"Artifact Registry {', '.join(outputs.hosts)}: docker gets tokens from the gcloud credential helper "
        f"(your `gcloud auth` account; credHelpers in {path})"
    )


def artifact_registry_delete(image: ProbeImage, referrers: Sequence[str] = ()) -> None:
    """The referrers (by tag or digest), then the probe. --delete-tags: Artifact Registry refuses to delete a digest
    that a tag still names; given a tag, gcloud deletes the version it names."""
    targets = [*(reference(image.repository, r) for r in referrers), f"{image.repository}@{image.digest}"]
    argv = ["gcloud", "artifacts", "docker", "images", "delete"]
    delete_each(targets, lambda target: _run_cli([*argv, target, "--delete-tags", "--quiet"], f"deleting {target}"))


def artifact_registry_verify(
    outputs: ArtifactRegistryOutputs,
    docker_dir: Path,
    probe: ImageProbe,
    repository: str | None = None,
    sign: Sign | None = None,
) -> str:
    standard = [name for name in outputs.push_repositories if name in outputs.repositories]
    if repository is None and not standard:
        return (
            "Artifact Registry: nothing to probe: the stack declares no standard repository (mirrors and virtual "
            "repositories are pull-only); nothing was pushed"
        )
    if not find_executable("gcloud"):
        raise RegistryCtlError(GCLOUD_MISSING.format(what="gcloud"))
    # Immutable tags cannot be deleted: a probe pushed there would stay for good.
    mutable = [name for name in standard if name not in outputs.immutable_repositories]
    if repository is not None and repository in outputs.repositories and repository not in outputs.push_repositories:
        raise RegistryCtlError(
            f"Artifact Registry: {repository!r} is a mirror or virtual repository (pull-only); "
            f"push the probe to one of: {', '.join(mutable) or 'none declared'}"
        )
    if repository is not None and repository in outputs.immutable_repositories:
        suggestion = (
            f"use --repository <a mutable one>: {', '.join(mutable)}"
            if mutable
            else "no standard repository has mutable tags, so nothing can be probed without leaving a tag"
        )
        raise RegistryCtlError(
            f"Artifact Registry: {repository!r} has immutable tags: a probe tag pushed there could never be deleted; "
            f"{suggestion}"
        )
    if repository is None and not mutable:
        raise RegistryCtlError(
            f"Artifact Registry: every standard repository ({', '.join(standard)}) has immutable tags: nothing can be "
            "probed without leaving a tag that can never be deleted (declare a repository with immutableTags: false "
            "to verify pushes)"
        )
    pushable = {name: outputs.repositories[name] for name in mutable}
    name, url = pick_repository(
        pushable if repository is None else outputs.repositories, repository, "Artifact Registry"
    )
    artifact_registry_login(outputs, docker_dir)
    # An Artifact Registry repository holds many images: the probe is an image of its own inside it.
    result = run_probe(probe, f"{url}/registryctl-verify", docker_dir, artifact_registry_delete, sign)
    return f"Artifact Registry {_host(url)}: {result.summary()} in {name}"


# --- ACR -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcrOutputs:
    login_server: str
    repositories: dict[str, str]
    token_configs: dict[str, str]
    push_tokens: list[str] | None
    """Enabled tokens whose scope map allows content/write (None: outputs of an older deployment, unknown)."""

    @classmethod
    def parse(cls, value: Any) -> AcrOutputs:
        outputs = _mapping(value, "acr")
        login_server = str(_required(outputs, "loginServer", "acr"))
        repositories = {str(k): str(v) for k, v in _mapping(outputs.get("repositories") or {}, "acr").items()}
        tokens = outputs.get("dockerConfigJson") or {}
        tokens = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in _mapping(tokens, "acr").items()}
        pushers = outputs.get("pushTokens")
        push_tokens = [str(name) for name in pushers] if isinstance(pushers, list) else None
        return cls(login_server, repositories, tokens, push_tokens)

    @property
    def registry_name(self) -> str:
        return self.login_server.split(".", 1)[0]


AZ_MISSING = "the Azure CLI (az) is not on PATH: install it (https://aka.ms/azure-cli) and run `az login`"


def acr_login(outputs: AcrOutputs, docker_dir: Path, token: str | None = None) -> str:
    """A repository-scoped token's credential when the stack declares tokens, else `az acr login`."""
    if outputs.token_configs:
        if token is not None and token not in outputs.token_configs:
            raise RegistryCtlError(f"ACR: no token {token!r} in the stack; tokens: {', '.join(outputs.token_configs)}")
        name = token or next(iter(outputs.token_configs))
        try:
            fragment = json.loads(outputs.token_configs[name])
        except ValueError:
            raise RegistryCtlError(f"ACR: the dockerConfigJson of token {name!r} is not JSON") from None
        where = merge_config(docker_dir, fragment)
        return f"ACR {outputs.login_server}: logged in with the stack's repository-scoped token {name!r} ({where})"
    if token is not None:
        raise RegistryCtlError(f"ACR: --user {token!r}: the stack declares no tokens (registries:acr.tokens)")
    if not find_executable("az"):
        raise RegistryCtlError(f"ACR: the stack declares no token, so login uses your Azure identity, but {AZ_MISSING}")
    _run_cli(
        ["az", "acr", "login", "--name", outputs.registry_name],
        f"`az acr login --name {outputs.registry_name}`",
        {"DOCKER_CONFIG": str(docker_dir)},
    )
    return (
        f"ACR {outputs.login_server}: logged in with your Azure identity (`az acr login --name "
        f"{outputs.registry_name}`; the stack declares no token)"
    )


def _push_token(outputs: AcrOutputs, token: str | None) -> str | None:
    """The token verify logs in with: `token`, else the first that may push (scope map with content/write)."""
    if not outputs.token_configs or outputs.push_tokens is None:
        return token
    pushers = [name for name in outputs.push_tokens if name in outputs.token_configs]
    if token is not None and token in outputs.token_configs and token not in pushers:
        raise RegistryCtlError(
            f"ACR: --user: token {token!r} may not push (its scope map lacks content/write, so the probe push would "
            f"be refused); tokens that may push: {', '.join(pushers) or 'none'}"
        )
    if token is None and not pushers:
        raise RegistryCtlError(
            f"ACR: none of the stack's tokens ({', '.join(outputs.token_configs)}) may push (no scope map with "
            "content/write): declare a token whose scope map allows content/write on a repository to verify pushes"
        )
    return token if token is not None else pushers[0]


def acr_delete(outputs: AcrOutputs, image: ProbeImage, referrers: Sequence[str] = ()) -> None:
    """The referrers (by tag or digest), then the probe; given a tag, az deletes the manifest it names."""
    repository = image.repository.removeprefix(f"{outputs.login_server}/")
    targets = [*(reference(repository, r) for r in referrers), f"{repository}@{image.digest}"]
    argv = ["az", "acr", "repository", "delete", "--name", outputs.registry_name, "--image"]
    delete_each(targets, lambda target: _run_cli([*argv, target, "--yes"], f"deleting {target}"))


def acr_verify(
    outputs: AcrOutputs,
    docker_dir: Path,
    probe: ImageProbe,
    repository: str | None = None,
    token: str | None = None,
    sign: Sign | None = None,
) -> str:
    if not find_executable("az"):  # checked first: the probe must be deletable before it is pushed
        raise RegistryCtlError(f"ACR: verify deletes its probe image with `az acr repository delete`, but {AZ_MISSING}")
    if outputs.repositories:
        name, url = pick_repository(outputs.repositories, repository, "ACR")
    else:  # ACR creates a repository on first push
        name, url = "registryctl-verify", f"{outputs.login_server}/registryctl-verify"
    acr_login(outputs, docker_dir, _push_token(outputs, token))
    result = run_probe(probe, url, docker_dir, lambda image, refs: acr_delete(outputs, image, refs), sign)
    return f"ACR {outputs.login_server}: {result.summary()} in {name}"
