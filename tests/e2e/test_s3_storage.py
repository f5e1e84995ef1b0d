"""The registry on S3: the bucket and least-privilege IAM user the program declares, applied to a moto
server with IAM enforcement on; the registry authenticates with the key the program created."""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from components.selfhosted.config_file import config_path as registry_config_path
from components.selfhosted.s3_storage import OBJECT_ACTIONS
from registries.config.selfhosted import SelfHostedSpec
from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import s3_storage_stack
from tests.support.engine_aws import AwsApplier
from tests.support.images import build_scratch_image
from tests.support.local_engine import EngineError
from tests.support.moto_server import MotoServer, start_moto

pytestmark = pytest.mark.e2e


def _admin(moto: MotoServer, service: str) -> Any:
    return moto.client(service)


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


def test_push_pull_through_s3_with_the_created_least_privilege_key(
    s3_deployment, docker_client, moto, base_stack, each_registry_image
):
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    spec["image"] = each_registry_image  # the S3 drivers of 2.8 and 3.x differ (3.x fails a push on a failed delete)
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
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
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
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    outputs = s3_deployment.apply(name, spec)
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "durable-s3"), "team/durable", "2")
    before = set(_keys(moto, bucket))

    s3_deployment.registry_container(outputs).remove(force=True, v=True)
    assert set(_keys(moto, bucket)) == before
    again = s3_deployment.apply(name, spec, refresh=True)  # same config, same http.secret from state
    assert ("create", "docker:index/container:Container", "selfhosted-registry") in s3_deployment.engine.changed() or (
        "replace",
        "docker:index/container:Container",
        "selfhosted-registry",
    ) in s3_deployment.engine.changed()
    assert not [op for op in s3_deployment.engine.changed() if op[1].startswith("aws:")]
    client.remove_local("team/durable", "2")
    assert client.pull("team/durable", "2") == digest
    assert again["bucket"] == bucket


def _ops_key(moto: MotoServer, bucket: str) -> dict[str, str]:
    """What an ops team hands over for an existing bucket: a key allowed on it."""
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
    return {"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"]}


def test_existing_bucket_with_given_credentials(s3_deployment, docker_client, moto, base_stack):
    name, spec, bucket = s3_storage_stack(
        base_stack, moto.endpoint, create=False, forcePathStyle=True, encryption="none"
    )
    _admin(moto, "s3").create_bucket(Bucket=bucket)
    spec["storage"].update(_ops_key(moto, bucket))
    outputs = s3_deployment.apply(name, spec)
    assert not [r for r in s3_deployment.engine.state.values() if r.typ.startswith("aws:")]
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "existing"), "team/existing", "1")
    client.remove_local("team/existing", "1")
    assert client.pull("team/existing", "1") == digest
    keys = _keys(moto, bucket)
    assert any(k.startswith("images/docker/registry/v2/") for k in keys)
    # encryption: none sends no SSE header (a MinIO without KMS refuses PutObject that carries one).
    s3 = _admin(moto, "s3")
    assert all("ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key=k) for k in keys)


def _bucket_hardening(moto: MotoServer, bucket: str) -> dict[str, Any]:
    s3 = _admin(moto, "s3")
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"
        ]["SSEAlgorithm"],
        "publicAccessBlock": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0][
            "ObjectOwnership"
        ],
        "lifecycle": [rule["ID"] for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]],
    }


def test_destroy_keeps_the_hardened_bucket_and_a_later_up_adopts_it(s3_deployment, docker_client, moto, base_stack):
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    outputs = s3_deployment.apply(name, spec)
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, "adopted"), "team/adopted", "1")
    hardened = _bucket_hardening(moto, bucket)
    assert hardened["versioning"] == "Enabled"

    # `pulumi destroy`: nothing declared any more.
    s3_deployment.engine.begin_run()
    s3_deployment.engine.end_run()
    assert not s3_deployment.engine.state
    assert _bucket_hardening(moto, bucket) == hardened
    assert all(hardened["publicAccessBlock"].values())
    assert any(k.startswith("images/docker/registry/v2/repositories/team/adopted/") for k in _keys(moto, bucket))
    with pytest.raises(_admin(moto, "iam").exceptions.NoSuchEntityException):
        _admin(moto, "iam").get_user(UserName=f"{bucket}-registry")  # the IAM user was not retained

    # The README's adopt path: the same bucket as an existing one, with a key allowed on it.
    spec["storage"].update(create=False, forcePathStyle=True, **_ops_key(moto, bucket))
    again = s3_deployment.apply(name, spec)
    assert again["bucket"] == bucket
    assert not [r for r in s3_deployment.engine.state.values() if r.typ.startswith("aws:")]
    client = _login(s3_deployment, again)
    client.remove_local("team/adopted", "1")
    assert client.pull("team/adopted", "1") == digest
    assert _bucket_hardening(moto, bucket) == hardened


def test_destroy_on_prod_stops_at_the_protected_bucket_and_strips_nothing(
    s3_deployment, docker_client, moto, base_stack
):
    _name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    outputs = s3_deployment.apply("prod-s3", spec)
    client = _login(s3_deployment, outputs)
    client.push(_image(docker_client, "protected"), "team/protected", "1")
    hardened = _bucket_hardening(moto, bucket)
    with pytest.raises(EngineError, match="because it is protected"):
        s3_deployment.engine.destroy()
    assert _bucket_hardening(moto, bucket) == hardened
    assert s3_deployment.engine.find(
        "aws:s3/bucketVersioning:BucketVersioning", "selfhosted-versioning"
    ).options.protect

    # Pointing prod at another bucket would start it empty: refused as a protected replacement.
    spec["storage"]["bucket"] = f"{bucket}-new"
    with pytest.raises(EngineError, match="marked for protection"):
        s3_deployment.apply("prod-s3", spec)
    assert spec["storage"]["bucket"] not in [b["Name"] for b in _admin(moto, "s3").list_buckets()["Buckets"]]
    assert s3_deployment.engine.find("aws:s3/bucket:Bucket", "selfhosted-bucket").ident == bucket
    assert _bucket_hardening(moto, bucket) == hardened


@pytest.mark.parametrize("key", ["customer", "aws-managed"])
def test_kms_encrypts_every_object_with_the_configured_key(s3_deployment, docker_client, moto, base_stack, key):
    key_arn = _admin(moto, "kms").create_key(Description="registry e2e")["KeyMetadata"]["Arn"]
    storage: dict[str, Any] = {"encryption": "aws:kms"}
    if key == "customer":
        storage["kmsKeyId"] = key_arn
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint, **storage)
    outputs = s3_deployment.apply(name, spec)
    policy = _admin(moto, "iam").get_user_policy(UserName=f"{bucket}-registry", PolicyName="registry-s3-access")
    granted = [s for s in policy["PolicyDocument"]["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    if key == "customer":
        assert [(sorted(s["Action"]), s["Resource"]) for s in granted] == [
            (["kms:Decrypt", "kms:GenerateDataKey"], key_arn)
        ]
    else:
        assert granted == []  # the AWS-managed aws/s3 key is usable by the account's S3 principals
    client = _login(s3_deployment, outputs)
    digest = client.push(_image(docker_client, f"kms-{key}"), "team/kms", "1")
    client.remove_local("team/kms", "1")
    assert client.pull("team/kms", "1") == digest
    s3 = _admin(moto, "s3")
    objects = [s3.head_object(Bucket=bucket, Key=k) for k in _keys(moto, bucket)]
    assert objects
    # Never the AES256 header distribution sends for `encrypt` without `keyid`.
    assert {o["ServerSideEncryption"] for o in objects} == {"aws:kms"}
    if key == "customer":
        assert {o["SSEKMSKeyId"] for o in objects} == {key_arn}


@pytest.fixture
def logging_moto(tmp_path: Path) -> Iterator[tuple[MotoServer, Path]]:
    """A moto server of its own, so that every bucket listing in its request log is the registry's (the
    engine's handlers never list)."""
    server = start_moto(tmp_path)
    try:
        yield server, next(tmp_path.glob("moto-*.log"))
    finally:
        server.stop()


# The query parameters of ListObjects and ListObjectsV2; any other marks a sub-resource (?location, ?uploads, ...).
LIST_PARAMETERS = {"list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token", "start-after"}
LIST_PARAMETERS |= {"encoding-type", "fetch-owner"}


def _list_bucket_prefixes(log: Path, bucket: str) -> list[str | None]:
    """The s3:prefix of every ListObjects(V2) request in moto's request log (None: no prefix parameter)."""
    prefixes: list[str | None] = []
    for target in re.findall(r'"GET (\S+) HTTP/1\.[01]"', log.read_text(errors="replace")):
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path.strip("/") == bucket and set(query) <= LIST_PARAMETERS:
            prefixes.append(query["prefix"][0] if "prefix" in query else None)
    return prefixes


def _string_like(patterns: list[str], value: str | None) -> bool:
    """IAM StringLike: `*` and `?` wildcards, case-sensitive; an absent key matches nothing."""
    return value is not None and any(fnmatch.fnmatchcase(value, p.replace("[", "[[]")) for p in patterns)


def test_registry_lists_only_under_its_root_directory(deployment, docker_client, logging_moto, base_stack):
    moto, log = logging_moto
    deployment.engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    outputs = deployment.apply(name, spec)
    client = _login(deployment, outputs)
    client.push(_image(docker_client, "listed-a"), "team/listed-a", "1")
    digest = client.push(_image(docker_client, "listed-b"), "team/listed-b", "1")
    client.remove_local("team/listed-b", "1")
    assert client.pull("team/listed-b", "1") == digest
    user, password = next(iter(outputs["users"].items()))
    catalog = client.api("GET", "/v2/_catalog", auth=(user, password))
    assert catalog.json()["repositories"] == ["team/listed-a", "team/listed-b"]
    client.api("GET", "/v2/team/listed-a/tags/list", auth=(user, password)).raise_for_status()
    deleted = client.api("DELETE", f"/v2/team/listed-b/manifests/{digest}", auth=(user, password))
    assert deleted.status_code == 202
    config_path = registry_config_path(SelfHostedSpec.model_validate(spec).registry_major)
    gc = deployment.registry_container(outputs).exec_run(["registry", "garbage-collect", config_path])
    assert gc.exit_code == 0, gc.output.decode(errors="replace")[-2000:]

    document = _admin(moto, "iam").get_user_policy(UserName=f"{bucket}-registry", PolicyName="registry-s3-access")
    (listing,) = [s for s in document["PolicyDocument"]["Statement"] if "s3:ListBucket" in s["Action"]]
    allowed = listing["Condition"]["StringLike"]["s3:prefix"]
    prefixes = _list_bucket_prefixes(log, bucket)
    # Push, pull, catalog, health check and GC all listed; every listing is allowed by the condition.
    assert len(prefixes) >= 10
    assert "images/docker/registry/v2/repositories/" in prefixes
    assert [p for p in prefixes if not _string_like(allowed, p)] == []
    assert not _string_like(allowed, "imagesX/docker/")
    assert not _string_like(allowed, "")
