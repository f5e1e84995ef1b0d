"""Scanning (issue 27): each cloud kind says where its scan findings are read: a console link per repository that is
scanned, and the CLI command that lists one image's findings, as stack outputs."""

from __future__ import annotations

import json
from typing import Any

from registries.program import declare, load_spec
from tests.support.pulumi_runtime import StackOutput, run_program
from tests.support.recording_mocks import RecordingMocks


def _outputs(**sections: Any) -> dict[str, StackOutput]:
    config = {f"registries:{k}": json.dumps(v) for k, v in sections.items()}
    return run_program(RecordingMocks(), stack="dev", config=config, program=lambda: dict(declare(load_spec())))


def test_ecr_links_each_repository_and_reads_findings_with_the_cli():
    out = _outputs(ecr={"region": "eu-west-1", "repositories": [{"name": "team/app"}, {"name": "base"}]})["ecr"]
    assert out.value["scanResults"] == {
        "team/app": "https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/app"
        "?region=eu-west-1",
        "base": "https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/base?region=eu-west-1",
    }
    assert out.value["scanFindingsCommand"] == (
        "aws ecr describe-image-scan-findings --region eu-west-1 --repository-name <repository> "
        "--image-id imageDigest=<digest>"
    )


def test_artifact_registry_links_only_scanned_repositories_in_their_own_location():
    section = {
        "project": "acme-registries",
        "location": "europe-west1",
        "repositories": [
            {"name": "apps"},
            {"name": "vendor", "vulnerabilityScanning": False},
        ],
        "gcrDomains": ["eu.gcr.io"],  # a repository named eu.gcr.io in the europe multi-region
    }
    out = _outputs(artifactRegistry=section)["artifactRegistry"]
    console = "https://console.cloud.google.com/artifacts/docker/acme-registries"
    assert out.value["scanResults"] == {
        "apps": f"{console}/europe-west1/apps?project=acme-registries",
        "eu.gcr.io": f"{console}/europe/eu.gcr.io?project=acme-registries",
    }
    assert out.value["scanFindingsCommand"] == (
        "gcloud artifacts docker images describe europe-west1-docker.pkg.dev/acme-registries/<repository>/<image>"
        "@<digest> --show-package-vulnerability"
    )


def test_acr_points_at_defender_and_queries_this_registry_only():
    base = {"resourceGroup": {"name": "rg-registries"}, "name": "AcmeRegistry01", "sku": "Standard"}
    out = _outputs(acr={**base, "repositories": [{"name": "app"}, {"name": "web"}]})["acr"].value
    defender = (
        "https://portal.azure.com/#view/Microsoft_Azure_Security_CloudNativeCompute/"
        "AzureContainerRegistryRecommendationDetailsBlade/assessmentKey/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
    )
    assert out["scanResults"] == {"app": defender, "web": defender}
    command = out["scanFindingsCommand"]
    assert command.startswith("az graph query -q 'securityresources | where type =~ ")
    assert 'registryHost =~ "acmeregistry01.azurecr.io"' in command
    bare = _outputs(acr=base)["acr"].value
    assert bare["scanResults"] == {"acmeregistry01.azurecr.io": defender}
