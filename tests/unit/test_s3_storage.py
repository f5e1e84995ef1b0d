"""S3 storage: the hardened bucket, the least-privilege IAM policy, the rendered storage.s3, validation."""

from __future__ import annotations

import json

import pytest
import yaml

from components.selfhosted.config_file import render_registry_config
from components.selfhosted.s3_storage import least_privilege_bucket_policy
from schema import ConfigError
from schema.selfhosted import SelfHostedSpec
from tests.support.pulumi_runtime import is_secret
from tests.unit.conftest import problem_at, record_options

CONTAINER = "docker:index/container:Container"
S3 = {"kind": "s3", "region": "eu-west-1"}


def test_policy_grants_exactly_the_s3_driver_actions_on_bucket_and_prefix():
    policy = json.loads(least_privilege_bucket_policy("acme-registry", "/registry"))
    bucket, objects = policy["Statement"]
    assert bucket["Resource"] == "arn:aws:s3:::acme-registry"
    assert sorted(bucket["Action"]) == ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    assert objects["Resource"] == "arn:aws:s3:::acme-registry/registry/*"
    assert sorted(objects["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
    assert "*" not in bucket["Resource"]
    assert objects["Resource"].count("*") == 1


def test_policy_without_prefix_covers_the_bucket_objects_only():
    policy = json.loads(least_privilege_bucket_policy("b-1", "/"))
    assert policy["Statement"][1]["Resource"] == "arn:aws:s3:::b-1/*"


def test_rendered_s3_storage_keeps_delete_maintenance_and_cache():
    spec = SelfHostedSpec.model_validate({"storage": {**S3, "chunkSize": 16 * 1024 * 1024, "rootDirectory": "/imgs"}})
    storage = yaml.safe_load(render_registry_config(spec, bucket="acme-bucket"))["storage"]
    assert "filesystem" not in storage
    assert storage["delete"] == {"enabled": True}
    assert storage["maintenance"]["uploadpurging"]["enabled"] is True
    assert storage["cache"] == {"blobdescriptor": "inmemory"}
    assert storage["s3"] == {
        "region": "eu-west-1",
        "bucket": "acme-bucket",
        "encrypt": True,
        "secure": True,
        "skipverify": False,
        "v4auth": True,
        "chunksize": 16777216,
        "multipartcopychunksize": 33554432,
        "multipartcopymaxconcurrency": 100,
        "multipartcopythresholdsize": 33554432,
        "rootdirectory": "/imgs",
        "storageclass": "STANDARD",
    }
    assert "redirect" not in storage  # clients are redirected to S3 by default
    assert "accesskey" not in storage["s3"]


def test_custom_endpoint_sets_path_style_and_kms_sets_keyid():
    spec = SelfHostedSpec.model_validate(
        {
            "image": "registry:3.0.0",
            "storage": {
                **S3,
                "create": False,
                "bucket": "minio-bucket",
                "regionEndpoint": "https://minio.internal:9000",
                "encryption": "aws:kms",
                "kmsKeyId": "arn:aws:kms:eu-west-1:1:key/abc",
                "redirectDisable": True,
            },
        }
    )
    storage = yaml.safe_load(render_registry_config(spec))["storage"]
    assert storage["s3"]["regionendpoint"] == "https://minio.internal:9000"
    assert storage["s3"]["forcepathstyle"] is True
    assert storage["s3"]["keyid"] == "arn:aws:kms:eu-west-1:1:key/abc"
    assert storage["redirect"] == {"disable": True}


def test_created_bucket_is_hardened_and_the_key_goes_only_by_secret_env(run):
    mocks, outputs = run(
        selfHosted={"name": "acme", "storage": {**S3, "noncurrentVersionExpirationDays": 30}}, stack="dev"
    )
    bucket = mocks.find("aws:s3/bucket:Bucket", "selfhosted-bucket").plain
    assert bucket["bucket"] == "registries-dev-acme"
    assert bucket["region"] == "eu-west-1"
    assert outputs["bucket"].value == "registries-dev-acme"
    versioning = mocks.find("aws:s3/bucketVersioning:BucketVersioning", "selfhosted-versioning").plain
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    sse = mocks.find(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "selfhosted-encryption",
    ).plain
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = mocks.find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "selfhosted-public-access-block").plain
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = mocks.find("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "selfhosted-ownership").plain
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = mocks.find(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "selfhosted-lifecycle"
    ).plain["rules"]
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}

    policy = mocks.find("aws:iam/userPolicy:UserPolicy", "selfhosted-s3-policy").plain
    assert json.loads(policy["policy"]) == json.loads(least_privilege_bucket_policy("registries-dev-acme", "/registry"))
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert is_secret(registry.inputs["envs"])
    names = [e.split("=", 1)[0] for e in registry.plain["envs"]]
    assert names == ["REGISTRY_HTTP_SECRET", "REGISTRY_STORAGE_S3_ACCESSKEY", "REGISTRY_STORAGE_S3_SECRETKEY"]
    assert "REGISTRY_STORAGE" not in names
    assert "volumes" not in registry.plain
    assert not mocks.of_type("docker:index/volume:Volume")


def test_kms_encryption_is_declared_on_the_bucket(run):
    mocks, _ = run(selfHosted={"storage": {**S3, "encryption": "aws:kms", "kmsKeyId": "alias/registry"}})
    sse = mocks.find(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "selfhosted-encryption",
    ).plain["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "alias/registry"}
    assert sse["bucketKeyEnabled"] is True


def test_existing_bucket_declares_no_aws_resource_and_passes_keys_as_secrets(run):
    config = {
        "storage": {
            **S3,
            "create": False,
            "bucket": "shared-bucket",
            "regionEndpoint": "https://s3.internal:9000",
            "accessKey": "AKIAEXAMPLE",
            "secretKey": "secret-key-value",
        }
    }
    mocks, outputs = run(selfHosted=config, secret=True)
    assert not [r for r in mocks.resources if r.typ.startswith("aws:")]
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert is_secret(registry.inputs["envs"])
    assert "REGISTRY_STORAGE_S3_SECRETKEY=secret-key-value" in registry.plain["envs"]
    config_yml = next(u["content"] for u in registry.plain["uploads"] if u["file"].endswith("config.yml"))
    assert "secret-key-value" not in config_yml
    assert yaml.safe_load(config_yml)["storage"]["s3"]["bucket"] == "shared-bucket"
    assert outputs["bucket"].value == "shared-bucket"


def test_bucket_is_retained_and_protected_in_prod(run, monkeypatch):
    import components.selfhosted.s3_storage as module

    seen = record_options(monkeypatch, module.aws.s3, "Bucket")
    run(stack="prod", selfHosted={"image": "registry:2.8.3", "storage": S3})
    assert seen["selfhosted-bucket"].retain_on_delete is True
    assert seen["selfhosted-bucket"].protect is True
    run(stack="dev", selfHosted={"storage": S3})
    assert seen["selfhosted-bucket"].retain_on_delete is True
    assert not seen["selfhosted-bucket"].protect


BAD_S3 = [
    ({"kind": "s3"}, "registries:selfHosted.storage.region", "required"),
    ({**S3, "chunkSize": 1024}, "registries:selfHosted.storage.chunkSize", "greater than or equal to 5242880"),
    ({"chunkSize": 10485760}, "registries:selfHosted.storage.chunkSize", "only allowed with storage.kind: s3"),
    ({"bucket": "x-bucket"}, "registries:selfHosted.storage.bucket", "only allowed with storage.kind: s3"),
    ({**S3, "create": False}, "registries:selfHosted.storage.bucket", "required with create: false"),
    (
        {**S3, "create": False, "bucket": "abc", "accessKey": "AKIA1"},
        "registries:selfHosted.storage.secretKey",
        "both keys or neither",
    ),
    (
        {**S3, "accessKey": "AKIA1", "secretKey": "s"},
        "registries:selfHosted.storage.accessKey",
        "not with create: true",
    ),
    ({**S3, "kmsKeyId": "alias/x"}, "registries:selfHosted.storage.kmsKeyId", "encryption: aws:kms"),
    ({**S3, "region": "Europe"}, "registries:selfHosted.storage.region", "pattern"),
    ({**S3, "bucket": "Bad_Bucket"}, "registries:selfHosted.storage.bucket", "pattern"),
    ({**S3, "rootDirectory": "registry"}, "registries:selfHosted.storage.rootDirectory", "pattern"),
    (
        {**S3, "create": False, "bucket": "abc", "abortIncompleteUploadDays": 3},
        "registries:selfHosted.storage.abortIncompleteUploadDays",
        "only with create: true",
    ),
    ({"kind": "gcs"}, "registries:selfHosted.storage.kind", "'filesystem', 's3'"),
]


@pytest.mark.parametrize(("storage", "key", "words"), BAD_S3)
def test_bad_s3_config_names_the_key(run, storage, key, words):
    with pytest.raises(ConfigError) as caught:
        run(selfHosted={"storage": storage})
    assert words in problem_at(caught.value, key).allowed


def test_v3_with_endpoint_refuses_path_style_off(run):
    with pytest.raises(ConfigError) as caught:
        run(
            selfHosted={
                "image": "registry:3.0.0",
                "storage": {
                    **S3,
                    "create": False,
                    "bucket": "abc",
                    "regionEndpoint": "http://minio:9000",
                    "forcePathStyle": False,
                },
            }
        )
    assert caught.value.paths == ["registries:selfHosted.storage.forcePathStyle"]
