"""S3 storage of the registry: a hardened bucket and a least-privilege IAM user on AWS, or an existing bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.selfhosted.args import SelfHostedS3Args
from components.selfhosted.settings import text

# What distribution's S3 driver calls, and nothing else.
BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
# What SSE-KMS with a customer key needs from the uploader: a data key to write, Decrypt to read and
# to complete multipart uploads.
KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def least_privilege_bucket_policy(bucket: str, root_directory: str, kms_key_arn: str | None = None) -> str:
    """IAM policy JSON granting the registry exactly its S3 driver's actions on `bucket` under `root_directory`,
    and the customer KMS key its objects are encrypted with."""
    prefix = root_directory.strip("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    objects = f"{bucket_arn}/{prefix}/*" if prefix else f"{bucket_arn}/*"
    statements: list[dict[str, object]] = []
    if prefix:
        # The driver lists only under "<root>/" (s3Path() of every Stat/List/Walk/Delete path, the health
        # check's Stat("/") included); an empty root lists the whole bucket, so it gets no condition.
        statements += [
            {
                "Sid": "RegistryBucket",
                "Effect": "Allow",
                "Action": [a for a in BUCKET_ACTIONS if a != "s3:ListBucket"],
                "Resource": bucket_arn,
            },
            {
                "Sid": "RegistryList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
            },
        ]
    else:
        statements.append(
            {"Sid": "RegistryBucket", "Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": bucket_arn}
        )
    statements.append({"Sid": "RegistryObjects", "Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": objects})
    if kms_key_arn is not None:
        region = kms_key_arn.split(":")[3]
        statements.append(
            {
                "Sid": "RegistryKmsKey",
                "Effect": "Allow",
                "Action": KMS_ACTIONS,
                "Resource": kms_key_arn,
                # Only when S3 uses the key on the registry's behalf, not for direct KMS calls.
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def deny_insecure_transport_policy(bucket: str) -> str:
    """Bucket policy JSON refusing every request to `bucket` and its objects that does not use TLS."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class S3Storage:
    """What the registry needs: the bucket name and, unless an instance role is used, a key pair (secret)."""

    bucket: pulumi.Output[str]
    access_key_id: pulumi.Output[str] | None
    secret_access_key: pulumi.Output[str] | None


def declare_s3_storage(name: str, storage: SelfHostedS3Args, *, protect: bool, parent: pulumi.Resource) -> S3Storage:
    """Declare the bucket and its IAM user (create, the default), or pass the existing bucket through."""
    bucket_name = storage["bucket"]
    if not storage.get("create", True):
        access_key, secret_key = storage.get("access_key"), storage.get("secret_key")
        if (access_key is None) != (secret_key is None):
            raise ValueError("storage.s3.access_key, storage.s3.secret_key: give both keys or neither")
        return S3Storage(
            bucket=pulumi.Output.from_input(bucket_name),
            access_key_id=None if access_key is None else pulumi.Output.secret(access_key),
            secret_access_key=None if secret_key is None else pulumi.Output.secret(secret_key),
        )

    child = pulumi.ResourceOptions(parent=parent)
    region = storage["region"]
    encryption = text(storage.get("encryption", "AES256"))
    kms_key_id = storage.get("kms_key_id")
    # The images outlive a destroy or a replacement of the stack; prod also refuses to delete it.
    bucket = aws.s3.Bucket(
        f"{name}-bucket",
        bucket=bucket_name,
        region=region,
        tags={"managed-by": "pulumi", "purpose": "container-registry"},
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True, protect=protect),
    )
    # Its hardening stays with it: deleting these would suspend versioning, drop encryption and the
    # public-access block, and re-enable ACLs on the retained bucket.
    bucket_opts = pulumi.ResourceOptions(parent=parent, depends_on=[bucket], retain_on_delete=True, protect=protect)
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.bucket,
        region=region,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=bucket_opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.bucket,
        region=region,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=encryption, kms_master_key_id=kms_key_id
                ),
                bucket_key_enabled=encryption == "aws:kms",
            )
        ],
        opts=bucket_opts,
    )
    public_access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.bucket,
        region=region,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=bucket_opts,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.bucket,
        region=region,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=bucket_opts,
    )
    rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="registry-housekeeping",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=storage.get("abort_incomplete_upload_days", 7)
        ),
        noncurrent_version_expiration=(
            None
            if (noncurrent_days := storage.get("noncurrent_version_expiration_days")) is None
            else aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=noncurrent_days)
        ),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.bucket, region=region, rules=[rule], opts=bucket_opts
    )

    aws.s3.BucketPolicy(
        f"{name}-bucket-policy",
        bucket=bucket.bucket,
        region=region,
        policy=bucket.bucket.apply(deny_insecure_transport_policy),
        # After the public-access block: S3 refuses concurrent changes to one bucket's settings.
        opts=pulumi.ResourceOptions.merge(bucket_opts, pulumi.ResourceOptions(depends_on=[public_access_block])),
    )

    kms_key_arn = kms_key_id if encryption == "aws:kms" else None
    root_directory = storage.get("root_directory", "/registry")
    user = aws.iam.User(
        f"{name}-s3-user",
        name=pulumi.Output.from_input(bucket_name).apply(lambda b: f"{b}-registry"[:64]),
        tags={"managed-by": "pulumi", "purpose": "container-registry"},
        opts=child,
    )
    aws.iam.UserPolicy(
        f"{name}-s3-policy",
        name="registry-s3-access",
        user=user.name,
        policy=pulumi.Output.all(bucket.bucket, kms_key_arn).apply(
            lambda values: least_privilege_bucket_policy(values[0], root_directory, values[1])
        ),
        opts=child,
    )
    key = aws.iam.AccessKey(f"{name}-s3-key", user=user.name, opts=child)
    return S3Storage(
        bucket=bucket.bucket,
        access_key_id=pulumi.Output.secret(key.id),
        secret_access_key=pulumi.Output.secret(key.secret),
    )
