"""The stand-in pulumi-resource-aws under the real CLI and engine, configured as a stack configures pulumi-aws
(`pulumi config set aws:...`, the secret key with --secret, endpoints with --path), against moto with IAM
enforcement: up, preview --expect-no-changes, refresh, destroy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.engine.conftest import Project
from tests.engine.test_standin_plugins import program_project
from tests.support.moto_server import MotoServer
from tests.support.plugins.client import running_moto
from tests.support.pulumi_runtime import SECRET_SIG

PROGRAM = """
import pulumi
import pulumi_aws as aws

bucket_name = pulumi.Config().require("bucket")
bucket = aws.s3.Bucket("store", bucket=bucket_name, tags={"purpose": "registry"})
aws.s3.BucketVersioning(
    "store-versioning",
    bucket=bucket.id,
    versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
)
user = aws.iam.User("store-user", name=f"{bucket_name}-user")
key = aws.iam.AccessKey("store-key", user=user.name)
pulumi.export("bucket", bucket.id)
pulumi.export("keyId", key.id)
pulumi.export("keySecret", key.secret)
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from running_moto(tmp_path_factory)


@pytest.fixture
def aws_project(tmp_path: Path, toolchain_bin: Path, moto: MotoServer) -> Project:
    project = program_project(tmp_path, toolchain_bin, "standin-aws", PROGRAM)
    project.pulumi("stack", "init", "test")
    project.pulumi("config", "set", "bucket", f"standin-{uuid.uuid4().hex[:8]}")
    project.pulumi("config", "set", "aws:region", "us-east-1")
    project.pulumi("config", "set", "aws:accessKey", moto.admin_key)
    project.pulumi("config", "set", "--secret", "aws:secretKey", moto.admin_secret)
    project.pulumi("config", "set", "--path", "aws:endpoints[0].s3", moto.endpoint)
    project.pulumi("config", "set", "--path", "aws:endpoints[0].iam", moto.endpoint)
    for flag in ("s3UsePathStyle", "skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck"):
        project.pulumi("config", "set", f"aws:{flag}", "true")
    return project


def test_bucket_user_and_key_up_no_change_refresh_destroy(aws_project: Project, moto: MotoServer) -> None:
    project = aws_project
    project.pulumi("up", "--yes")
    outputs = project.outputs("test")
    s3 = moto.client("s3")
    assert s3.get_bucket_versioning(Bucket=outputs["bucket"])["Status"] == "Enabled"
    assert s3.get_bucket_tagging(Bucket=outputs["bucket"])["TagSet"] == [{"Key": "purpose", "Value": "registry"}]
    # The access key works against moto with IAM enforcement, and is encrypted in the state.
    identity = moto.client("sts", key=outputs["keyId"], secret=outputs["keySecret"]).get_caller_identity()
    assert identity["Arn"].endswith(f":user/{outputs['bucket']}-user")
    exported = project.export("test")
    assert outputs["keySecret"] not in exported
    assert moto.admin_secret not in exported
    key = next(r for r in json.loads(exported)["deployment"]["resources"] if r["urn"].endswith("::store-key"))
    assert SECRET_SIG in key["outputs"]["secret"]

    project.pulumi("preview", "--expect-no-changes")
    project.pulumi("refresh", "--yes")
    project.pulumi("preview", "--expect-no-changes")

    project.pulumi("destroy", "--yes")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=outputs["bucket"])
    with pytest.raises(ClientError):
        moto.client("iam").get_user(UserName=f"{outputs['bucket']}-user")
