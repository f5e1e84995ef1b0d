"""The Artifact Registry service agent: declared (a fresh project has none until its first repository), granted the
mirror's secret and the CMEK keys, before the repositories that need those grants; gcr.io-named repositories in
their multi-region also when the component is used directly.

"Artifact Registry creates the Artifact Registry Service Agent when you create the first Artifact Registry repository
in a Google Cloud project ... You can manually create the service agent" (gcloud beta services identity create
--service=artifactregistry.googleapis.com; docs.cloud.google.com/artifact-registry/docs/ar-service-account), which
is what gcp.projects.ServiceIdentity does; a CMEK repository needs roles/cloudkms.cryptoKeyEncrypterDecrypter for
that agent on its key before it is created (artifact-registry/docs/cmek)."""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp
import pytest

from components.artifact_registry import ArtifactRegistry
from tests.support.pulumi_runtime import run_program
from tests.unit.conftest import record_options
from tests.unit.test_artifact_registry_component import (
    AR_AGENT,
    REPO,
    SECRET_IAM,
    GcpMocks,
    by_name,
    run_ar,
)
from tests.unit.test_artifact_registry_schema import ar_config

IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
KEY_IAM = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
KEY = "projects/acme-prod-1/locations/europe-west1/keyRings/registry/cryptoKeys/images"
ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def _names(resources: Any) -> set[str]:
    return {resource._name for resource in resources or []}  # the resource's logical name


def test_the_mirror_secret_is_granted_to_the_declared_service_identity_before_the_mirror(
    monkeypatch: pytest.MonkeyPatch,
):
    repos = record_options(monkeypatch, gcp.artifactregistry, "Repository")
    mocks, _ = run_ar(ar_config(projectNumber="111111111111"))
    (identity,) = mocks.of_type(IDENTITY)
    assert identity.plain == {"project": "acme-prod-1", "service": "artifactregistry.googleapis.com"}
    grant = by_name(mocks, SECRET_IAM)["artifact-registry-mirror-dockerhub-secret-access"]
    # The member is the identity's output (the agent of this project), not a name built from projectNumber.
    assert grant["member"] == AR_AGENT
    assert "artifact-registry-mirror-dockerhub-secret-access" in _names(
        repos["artifact-registry-mirror-dockerhub"].depends_on
    )


def test_a_cmek_repository_is_created_after_its_key_is_granted_to_the_service_agent(monkeypatch: pytest.MonkeyPatch):
    repos = record_options(monkeypatch, gcp.artifactregistry, "Repository")
    config = ar_config(
        mirrors=[], virtual=[], gcrDomains=[], repositories=[{"name": "apps", "kmsKeyName": KEY}, {"name": "plain"}]
    )
    mocks, _ = run_ar(config)
    grants = mocks.of_type(KEY_IAM)
    assert [g.plain for g in grants] == [{"cryptoKeyId": KEY, "role": ENCRYPTER, "member": AR_AGENT}]
    assert len(mocks.of_type(IDENTITY)) == 1
    assert _names(repos["artifact-registry-repo-apps"].depends_on) == {grants[0].name}
    assert not _names(repos["artifact-registry-repo-plain"].depends_on)


def test_one_grant_per_key_and_none_without_cmek_or_mirror_credentials():
    config = ar_config(
        mirrors=[{"name": "hub"}],
        virtual=[],
        gcrDomains=[],
        repositories=[{"name": "a", "kmsKeyName": KEY}, {"name": "b", "kmsKeyName": KEY}],
    )
    mocks, _ = run_ar(config)
    assert len(mocks.of_type(KEY_IAM)) == 1
    mocks, _ = run_ar(ar_config(mirrors=[{"name": "hub"}], virtual=[], gcrDomains=[], repositories=[{"name": "a"}]))
    assert mocks.of_type(IDENTITY) == []
    assert mocks.of_type(KEY_IAM) == []


def _declare(args: dict[str, Any]) -> GcpMocks:
    mocks = GcpMocks()
    run_program(mocks, stack="dev", config={}, program=lambda: {"x": ArtifactRegistry("lib", args).login_command})  # type: ignore[arg-type]
    return mocks


@pytest.mark.parametrize(
    ("name", "location"), [("gcr.io", "us"), ("us.gcr.io", "us"), ("eu.gcr.io", "europe"), ("asia.gcr.io", "asia")]
)
def test_a_gcr_io_repository_goes_to_its_multi_region_when_the_component_is_used_directly(name, location):
    mocks = _declare({"project": "acme-prod-1", "location": "europe-west1", "repositories": [{"name": name}]})
    assert by_name(mocks, REPO)[f"lib-repo-{name}"]["location"] == location


def test_a_gcr_io_repository_in_another_location_is_refused_naming_the_arg():
    args = {"project": "acme-prod-1", "location": "us", "repositories": [{"name": "eu.gcr.io", "location": "us"}]}
    with pytest.raises(ValueError, match=r"^repositories\[0\]\.location: 'us' .*eu\.gcr\.io.* only in 'europe'"):
        _declare(args)
