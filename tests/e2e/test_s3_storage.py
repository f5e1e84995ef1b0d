"""The registry on S3: the bucket and least-privilege IAM user the program declares, applied to a moto
server with IAM enforcement on; the registry authenticates with the key the program created."""

from __future__ import annotations

import copy
import json
import os
import uuid
from typing import Any

import boto3
import pytest

from components.selfhosted.s3_storage import OBJECT_ACTIONS
from tests.e2e.conftest import Deployment
from tests.support.engine_aws import AwsApplier
from tests.support.images import build_scratch_image
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.e2e


def _admin(moto: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id=moto.admin_key,
        aws_secret_access_key=moto.admin_secret,
    )


def _s3_stack(
    base_stack: tuple[str, dict[str, Any]], moto: MotoServer, **storage: Any
) -> tuple[str, dict[str, Any], str]:
    name, spec = base_stack
    spec = copy.deepcopy(spec)
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    # Host networking: the registry reaches moto on this machine's loopback.
    spec["networkMode"] = "host"
    spec["storage"] = {
        "kind": "s3",
        "bucket": bucket,
        "region": "us-east-1",
        "regionEndpoint": moto.endpoint,
        "secure": False,
        "rootDirectory": "/images",
        # moto's IAM enforcement cannot check presigned URLs (it fails with KeyError HTTP_AUTHORIZATION),
        # so blobs are served through the registry instead of redirecting clients to S3.
        "redirectDisable": True,
        **storage,
    }
    return name, spec, bucket


@pytest.fixture
def s3_deployment(deployment: Deployment, moto: MotoServer) -> Deployment:
    deployment.engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    return deployment


def _login(deployment: Deployment, outputs: dict[str, Any]):
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    return client


def _image(docker_client, name: str) -> str:
    tag = f"e2e-src/{name}:latest"
    build_scratch_image(docker_client, tag, [os.urandom(64 * 1024), os.urandom(6 * 1024 * 1024)])
    return tag


def _keys(moto: MotoServer, bucket: str) -> list[str]:
    pages = _admin(moto, "s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_push_pull_through_s3_with_the_created_least_privilege_key(s3_deployment, docker_client, moto, base_stack):
    name, spec, bucket = _s3_stack(base_stack, moto)
    outputs = s3_deployment.apply(name, spec)
    assert outputs["bucket"] == bucket
    s3 = _admin(moto, "s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}

    iam_user = f"{bucket}-registry"
    policy = _admin(moto, "iam").get_user_policy(UserName=iam_user, PolicyName="registry-s3-access")["PolicyDocument"]
    resources = {r for statement in policy["Statement"] for r in [statement["Resource"]]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/images/*"}

    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "s3push"), "team/s3app", "1")
    client.remove_local("team/s3app", "1")
    assert client.pull("team/s3app", "1") == digest
    keys = _keys(moto, bucket)
    assert any(k.startswith("images/docker/registry/v2/blobs/") for k in keys)
    assert any(k.startswith("images/docker/registry/v2/repositories/team/s3app/") for k in keys)
    assert all(k.startswith("images/") for k in keys)


def test_a_policy_missing_one_action_makes_push_fail(s3_deployment, docker_client, moto, base_stack):
    name, spec, bucket = _s3_stack(base_stack, moto)
    outputs = s3_deployment.apply(name, spec)
    client = _login(s3_deployment, outputs)
    iam = _admin(moto, "iam")
    iam_user = f"{bucket}-registry"
    document = iam.get_user_policy(UserName=iam_user, PolicyName="registry-s3-access")["PolicyDocument"]
    crippled = copy.deepcopy(document)
    for statement in crippled["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "s3:PutObject"]
    iam.put_user_policy(UserName=iam_user, PolicyName="registry-s3-access", PolicyDocument=json.dumps(crippled))
    source = _image(docker_client, "denied")
    ref = f"{client.endpoint}/team/denied:1"
    client.docker("tag", source, ref)
    assert client.docker("push", ref, check=False).returncode != 0
    assert not [k for k in _keys(moto, bucket) if "/repositories/team/denied/" in k]

    iam.put_user_policy(UserName=iam_user, PolicyName="registry-s3-access", PolicyDocument=json.dumps(document))
    assert client.push(source, "team/denied", "1").startswith("sha256:")


def test_bucket_outlives_the_container_and_a_new_one_serves_the_same_images(
    s3_deployment, docker_client, moto, base_stack
):
    name, spec, bucket = _s3_stack(base_stack, moto)
    outputs = s3_deployment.apply(name, spec)
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "durable-s3"), "team/durable", "2")
    before = set(_keys(moto, bucket))

    s3_deployment.registry_container(outputs).remove(force=True)
    assert set(_keys(moto, bucket)) == before
    again = s3_deployment.apply(name, spec)  # same config, same http.secret from state
    assert ("create", "docker:index/container:Container", "selfhosted-registry") in s3_deployment.engine.changed() or (
        "replace",
        "docker:index/container:Container",
        "selfhosted-registry",
    ) in s3_deployment.engine.changed()
    assert not [op for op in s3_deployment.engine.changed() if op[1].startswith("aws:")]
    client.remove_local("team/durable", "2")
    assert client.pull("team/durable", "2") == digest
    assert again["bucket"] == bucket


def test_existing_bucket_with_given_credentials(s3_deployment, docker_client, moto, base_stack):
    name, spec, bucket = _s3_stack(base_stack, moto)
    # What an ops team hands over: a bucket, and a key allowed on it.
    _admin(moto, "s3").create_bucket(Bucket=bucket)
    iam = _admin(moto, "iam")
    iam.create_user(UserName=f"{bucket}-ops")
    iam.put_user_policy(
        UserName=f"{bucket}-ops",
        PolicyName="registry",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                        "Resource": f"arn:aws:s3:::{bucket}",
                    },
                    {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": f"arn:aws:s3:::{bucket}/*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=f"{bucket}-ops")["AccessKey"]
    spec["storage"].update(
        create=False, forcePathStyle=True, accessKey=key["AccessKeyId"], secretKey=key["SecretAccessKey"]
    )
    outputs = s3_deployment.apply(name, spec)
    assert not [r for r in s3_deployment.engine.state if r[0].startswith("aws:")]
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "existing"), "team/existing", "1")
    client.remove_local("team/existing", "1")
    assert client.pull("team/existing", "1") == digest
    assert any(k.startswith("images/docker/registry/v2/") for k in _keys(moto, bucket))
