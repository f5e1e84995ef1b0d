"""S3 storage: the hardened bucket, the least-privilege IAM policy, the rendered storage.s3, validation."""

from __future__ import annotations

import json

import pytest
import yaml

from components.selfhosted.s3_storage import deny_insecure_transport_policy, least_privilege_bucket_policy
from registries.config import ConfigError
from registries.config.selfhosted import SelfHostedSpec
from tests.support.pulumi_runtime import env_element, is_secret
from tests.support.selfhosted import rendered_config
from tests.unit.conftest import problem_at, record_options

CONTAINER = "docker:index/container:Container"
S3 = {"kind": "s3", "region": "eu-west-1", "bucket": "acme-registry-images"}
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_SETTINGS = [
    "BucketVersioning",
    "BucketServerSideEncryptionConfiguration",
    "BucketPublicAccessBlock",
    "BucketOwnershipControls",
    "BucketLifecycleConfiguration",
    "BucketPolicy",
]


def _statements(policy_json: str) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in json.loads(policy_json)["Statement"]}


def test_policy_grants_exactly_the_s3_driver_actions_on_bucket_and_prefix():
    statements = _statements(least_privilege_bucket_policy("acme-registry", "/registry"))
    assert set(statements) == {"RegistryBucket", "RegistryList", "RegistryObjects"}
    bucket, listing, objects = statements["RegistryBucket"], statements["RegistryList"], statements["RegistryObjects"]
    assert bucket["Resource"] == listing["Resource"] == "arn:aws:s3:::acme-registry"
    assert sorted(bucket["Action"]) == ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    assert listing["Action"] == ["s3:ListBucket"]
    assert objects["Resource"] == "arn:aws:s3:::acme-registry/registry/*"
    assert sorted(objects["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
    assert objects["Resource"].count("*") == 1


def test_listing_is_limited_to_the_root_directory():
    listing = _statements(least_privilege_bucket_policy("acme-registry", "/registry/v1"))["RegistryList"]
    # What distribution lists: s3Path(p) = "<root without leading />" + p, always under "<root>/".
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["registry/v1/*"]}}


def test_policy_without_prefix_covers_the_bucket_objects_only():
    statements = _statements(least_privilege_bucket_policy("b-1", "/"))
    assert statements["RegistryObjects"]["Resource"] == "arn:aws:s3:::b-1/*"
    # With an empty root the health check lists prefix "": no condition could allow it.
    assert "Condition" not in statements["RegistryBucket"]
    assert "s3:ListBucket" in statements["RegistryBucket"]["Action"]


def test_policy_grants_the_customer_kms_key_to_write_and_read():
    statements = _statements(least_privilege_bucket_policy("acme-registry", "/registry", KMS_KEY))
    kms = statements["RegistryKmsKey"]
    assert kms["Effect"] == "Allow"
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == KMS_KEY
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert "RegistryKmsKey" not in _statements(least_privilege_bucket_policy("acme-registry", "/registry"))


def test_bucket_policy_denies_every_request_without_tls():
    (deny,) = json.loads(deny_insecure_transport_policy("acme-registry"))["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Resource"] == ["arn:aws:s3:::acme-registry", "arn:aws:s3:::acme-registry/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_rendered_s3_storage_keeps_delete_maintenance_and_cache():
    spec = SelfHostedSpec.model_validate(
        {"storage": {**S3, "bucket": "acme-bucket", "chunkSize": 16 * 1024 * 1024, "rootDirectory": "/imgs"}}
    )
    storage = yaml.safe_load(rendered_config(spec))["storage"]
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
    storage = yaml.safe_load(rendered_config(spec))["storage"]
    assert storage["s3"]["regionendpoint"] == "https://minio.internal:9000"
    assert storage["s3"]["forcepathstyle"] is True
    assert storage["s3"]["keyid"] == "arn:aws:kms:eu-west-1:1:key/abc"
    assert storage["redirect"] == {"disable": True}


def _rendered_s3(storage: dict) -> dict:
    spec = SelfHostedSpec.model_validate({"storage": storage})
    return yaml.safe_load(rendered_config(spec))["storage"]["s3"]


def test_per_object_encryption_follows_distributions_encrypt_and_keyid_semantics():
    # encrypt without keyid makes distribution send x-amz-server-side-encryption: AES256 on every object.
    aes = _rendered_s3(S3)
    assert aes["encrypt"] is True
    assert "keyid" not in aes
    customer_key = _rendered_s3({**S3, "encryption": "aws:kms", "kmsKeyId": KMS_KEY})
    assert customer_key["encrypt"] is True
    assert customer_key["keyid"] == KMS_KEY
    # aws:kms with the AWS-managed key: no header, so the bucket default (aws:kms) applies, never AES256.
    managed_key = _rendered_s3({**S3, "encryption": "aws:kms"})
    assert managed_key["encrypt"] is False
    assert "keyid" not in managed_key
    none = _rendered_s3({**S3, "create": False, "encryption": "none", "regionEndpoint": "https://minio.internal:9000"})
    assert none["encrypt"] is False
    assert "keyid" not in none


def test_created_bucket_is_hardened_and_the_key_goes_only_by_secret_env(run):
    mocks, outputs = run(
        selfHosted={"name": "acme", "storage": {**S3, "noncurrentVersionExpirationDays": 30}}, stack="dev"
    )
    bucket = mocks.find("aws:s3/bucket:Bucket", "selfhosted-bucket").plain
    assert bucket["bucket"] == "acme-registry-images"
    assert bucket["region"] == "eu-west-1"
    assert outputs["bucket"].value == "acme-registry-images"
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
    assert json.loads(policy["policy"]) == json.loads(
        least_privilege_bucket_policy("acme-registry-images", "/registry")
    )
    bucket_policy = mocks.find("aws:s3/bucketPolicy:BucketPolicy", "selfhosted-bucket-policy").plain
    assert bucket_policy["bucket"] == "acme-registry-images"
    assert json.loads(bucket_policy["policy"]) == json.loads(deny_insecure_transport_policy("acme-registry-images"))
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    assert is_secret(env_element(registry.inputs, "REGISTRY_STORAGE_S3_SECRETKEY"))
    names = [e.split("=", 1)[0] for e in registry.plain["envs"]]
    assert names == [
        "REGISTRY_HTTP_SECRET",
        "OTEL_TRACES_EXPORTER",  # registry 3.x (the default image): no trace exporter
        "REGISTRY_STORAGE_S3_ACCESSKEY",
        "REGISTRY_STORAGE_S3_SECRETKEY",
    ]
    assert "REGISTRY_STORAGE" not in names
    assert "volumes" not in registry.plain
    assert not mocks.of_type("docker:index/volume:Volume")


def test_kms_encryption_is_declared_on_the_bucket_and_granted_to_the_registry(run):
    mocks, _ = run(selfHosted={"storage": {**S3, "encryption": "aws:kms", "kmsKeyId": KMS_KEY}})
    sse = mocks.find(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "selfhosted-encryption",
    ).plain["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS_KEY}
    assert sse["bucketKeyEnabled"] is True
    policy = _statements(mocks.find("aws:iam/userPolicy:UserPolicy", "selfhosted-s3-policy").plain["policy"])
    assert policy["RegistryKmsKey"]["Resource"] == KMS_KEY
    assert sorted(policy["RegistryKmsKey"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_kms_with_the_aws_managed_key_is_the_bucket_default_and_needs_no_key_grant(run):
    mocks, _ = run(selfHosted={"storage": {**S3, "encryption": "aws:kms"}})
    sse = mocks.find(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "selfhosted-encryption",
    ).plain["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    policy = _statements(mocks.find("aws:iam/userPolicy:UserPolicy", "selfhosted-s3-policy").plain["policy"])
    assert "RegistryKmsKey" not in policy
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    config_yml = next(u["content"] for u in registry.plain["uploads"] if u["file"].endswith("config.yml"))
    assert yaml.safe_load(config_yml)["storage"]["s3"]["encrypt"] is False


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
    assert is_secret(env_element(registry.inputs, "REGISTRY_STORAGE_S3_SECRETKEY"))
    assert "REGISTRY_STORAGE_S3_SECRETKEY=secret-key-value" in registry.plain["envs"]
    config_yml = next(u["content"] for u in registry.plain["uploads"] if u["file"].endswith("config.yml"))
    assert "secret-key-value" not in config_yml
    assert yaml.safe_load(config_yml)["storage"]["s3"]["bucket"] == "shared-bucket"
    assert outputs["bucket"].value == "shared-bucket"


def test_bucket_and_its_hardening_are_retained_and_protected_in_prod(run, monkeypatch):
    import components.selfhosted.s3_storage as module

    recorded = [record_options(monkeypatch, module.aws.s3, cls) for cls in ["Bucket", *BUCKET_SETTINGS]]
    names = ["selfhosted-bucket", "selfhosted-versioning", "selfhosted-encryption", "selfhosted-public-access-block"]
    names += ["selfhosted-ownership", "selfhosted-lifecycle", "selfhosted-bucket-policy"]
    for stack, protected in (("prod", True), ("dev", False)):
        for by_name in recorded:
            by_name.clear()
        run(stack=stack, selfHosted={"image": "registry:2.8.3", "storage": S3})
        seen = {name: opts for by_name in recorded for name, opts in by_name.items()}
        assert sorted(seen) == sorted(names)
        for name in names:
            assert seen[name].retain_on_delete is True, name
            assert bool(seen[name].protect) is protected, name


def test_bucket_name_does_not_follow_the_registry_or_stack_name(run):
    names = set()
    for stack, registry in (("dev", "registry"), ("Dev_EU", "registry"), ("dev", "renamed")):
        mocks, _ = run(stack=stack, selfHosted={"name": registry, "storage": S3})
        names.add(mocks.find("aws:s3/bucket:Bucket", "selfhosted-bucket").plain["bucket"])
    assert names == {"acme-registry-images"}


MINIO = {**S3, "create": False, "regionEndpoint": "https://minio.internal:9000"}
BAD_S3 = [
    ({"kind": "s3"}, "registries:selfHosted.storage.region", "required"),
    ({"kind": "s3", "region": "eu-west-1"}, "registries:selfHosted.storage.bucket", "required"),
    ({**S3, "secure": False}, "registries:selfHosted.storage.secure", "true with create: true"),
    ({**S3, "encryption": "none"}, "registries:selfHosted.storage.encryption", "AES256 or aws:kms with create: true"),
    ({**S3, "encryption": "sse-c"}, "registries:selfHosted.storage.encryption", "'AES256', 'aws:kms' or 'none'"),
    (
        {**S3, "encryption": "aws:kms", "kmsKeyId": "alias/registry"},
        "registries:selfHosted.storage.kmsKeyId",
        "a key ARN in eu-west-1",
    ),
    (
        {**S3, "encryption": "aws:kms", "kmsKeyId": KMS_KEY.replace("eu-west-1", "us-east-1")},
        "registries:selfHosted.storage.kmsKeyId",
        "a key ARN in eu-west-1",
    ),
    ({**MINIO, "encryption": "aws:kms"}, "registries:selfHosted.storage.kmsKeyId", "use encryption: none"),
    ({**MINIO, "encryption": "none", "kmsKeyId": "k"}, "registries:selfHosted.storage.kmsKeyId", "aws:kms"),
    # distribution 2.8's s3-aws driver refuses any other class at start-up (v3 added the IA/tiering ones).
    ({**S3, "storageClass": "STANDARD_IA"}, "registries:selfHosted.storage.storageClass", "registry v2 accepts"),
    ({**S3, "chunkSize": 1024}, "registries:selfHosted.storage.chunkSize", "greater than or equal to 5242880"),
    ({"chunkSize": 10485760}, "registries:selfHosted.storage.chunkSize", "only allowed with storage.kind: s3"),
    ({"bucket": "x-bucket"}, "registries:selfHosted.storage.bucket", "only allowed with storage.kind: s3"),
    ({**S3, "bucket": "Acme_Registry"}, "registries:selfHosted.storage.bucket", "pattern"),
    ({"kind": "s3", "region": "eu-west-1", "create": False}, "registries:selfHosted.storage.bucket", "required"),
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
        # The storage class rule is registry 2.8's: the default image is 3.x.
        run(selfHosted={"storage": storage, **({"image": "registry:2.8.3"} if "registry v2" in words else {})})
    assert words in problem_at(caught.value, key).allowed


def test_v3_accepts_the_storage_classes_it_added(run):
    mocks, _ = run(selfHosted={"image": "registry:3.0.0", "storage": {**S3, "storageClass": "STANDARD_IA"}})
    registry = mocks.find(CONTAINER, "selfhosted-registry")
    config_yml = next(u["content"] for u in registry.plain["uploads"] if u["file"].endswith("config.yml"))
    assert yaml.safe_load(config_yml)["storage"]["s3"]["storageclass"] == "STANDARD_IA"


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
