"""aws:s3/* and aws:iam/* resources, applied with boto3 to an S3/IAM API (a moto server here)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.support.local_engine import Applied, Backend, Diff, Read
from tests.support.pulumi_runtime import unwrap, wrap_secret


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
    flt = rule.get("filter") or {}
    out["Filter"] = {"Prefix": flt.get("prefix", "")}
    if rule.get("abortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
        }
    if rule.get("noncurrentVersionExpiration"):
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["noncurrentVersionExpiration"]["noncurrentDays"])
        }
    return out


class AwsApplier:
    """Applies the pulumi-aws resources the program declares, as the provider would, through boto3."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.iam = session.client("iam", endpoint_url=endpoint)

    def create(self, typ: str, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        s3, iam = self.s3, self.iam
        bucket = inputs.get("bucket")
        if typ == "aws:s3/bucket:Bucket":
            s3.create_bucket(Bucket=bucket)
            if inputs.get("tags"):
                s3.put_bucket_tagging(
                    Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]}
                )
            return bucket, {**inputs, "arn": f"arn:aws:s3:::{bucket}", "bucketDomainName": f"{bucket}.s3.amazonaws.com"}
        if typ == "aws:s3/bucketVersioning:BucketVersioning":
            status = inputs["versioningConfiguration"]["status"]
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
            return bucket, inputs
        if typ == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            rules = []
            for rule in inputs["rules"]:
                default = rule["applyServerSideEncryptionByDefault"]
                applied = {"SSEAlgorithm": default["sseAlgorithm"]}
                if default.get("kmsMasterKeyId"):
                    applied["KMSMasterKeyID"] = default["kmsMasterKeyId"]
                rules.append(
                    {
                        "ApplyServerSideEncryptionByDefault": applied,
                        "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
                    }
                )
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
            return bucket, inputs
        if typ == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": bool(inputs.get("blockPublicAcls")),
                    "IgnorePublicAcls": bool(inputs.get("ignorePublicAcls")),
                    "BlockPublicPolicy": bool(inputs.get("blockPublicPolicy")),
                    "RestrictPublicBuckets": bool(inputs.get("restrictPublicBuckets")),
                },
            )
            return bucket, inputs
        if typ == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
            s3.put_bucket_ownership_controls(
                Bucket=bucket,
                OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]},
            )
            return bucket, inputs
        if typ == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in inputs["rules"]]}
            )
            return bucket, inputs
        if typ == "aws:s3/bucketPolicy:BucketPolicy":
            # moto applies a bucket policy's statements without their Condition (its put_bucket_policy says so),
            # so the aws:SecureTransport deny would refuse every object request, TLS or not: state only here.
            return bucket, inputs
        if typ == "aws:iam/user:User":
            tags = [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]
            user = iam.create_user(UserName=inputs["name"], Path=inputs.get("path", "/"), Tags=tags)["User"]
            return user["UserName"], {**inputs, "arn": user["Arn"], "uniqueId": user["UserId"]}
        if typ == "aws:iam/userPolicy:UserPolicy":
            iam.put_user_policy(UserName=inputs["user"], PolicyName=inputs["name"], PolicyDocument=inputs["policy"])
            return f"{inputs['user']}:{inputs['name']}", inputs
        if typ == "aws:iam/accessKey:AccessKey":
            key = iam.create_access_key(UserName=inputs["user"])["AccessKey"]
            return key["AccessKeyId"], {
                **inputs,
                "status": key["Status"],
                "secret": wrap_secret(key["SecretAccessKey"]),
                "createDate": key["CreateDate"].isoformat(),
            }
        raise NotImplementedError(f"local engine: no aws handler for {typ}")

    def exists(self, applied: Applied) -> bool:
        try:
            if applied.typ == "aws:s3/bucket:Bucket":
                self.s3.head_bucket(Bucket=applied.ident)
            elif applied.typ == "aws:iam/user:User":
                self.iam.get_user(UserName=applied.ident)
            elif applied.typ == "aws:iam/accessKey:AccessKey":
                keys = self.iam.list_access_keys(UserName=applied.inputs["user"])["AccessKeyMetadata"]
                return any(k["AccessKeyId"] == applied.ident for k in keys)
            return True
        except ClientError:
            return False

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """In-place update of the inputs the provider can change (the engine replaces on the others)."""
        s3, typ = self.s3, applied.typ
        if typ == "aws:s3/bucket:Bucket":
            tags = [{"Key": k, "Value": v} for k, v in (news.get("tags") or {}).items()]
            if tags:
                s3.put_bucket_tagging(Bucket=applied.ident, Tagging={"TagSet": tags})
            else:
                s3.delete_bucket_tagging(Bucket=applied.ident)
            return applied.ident, {**applied.outputs, **news}
        if typ == "aws:iam/accessKey:AccessKey":
            status = news.get("status", "Active")
            self.iam.update_access_key(UserName=news["user"], AccessKeyId=applied.ident, Status=status)
            return applied.ident, {**applied.outputs, **news}
        if typ == "aws:iam/user:User":
            # pulumi-aws renames a user in place (UpdateUser); tags stay in state only here.
            renamed = {"NewUserName": news["name"]} if news.get("name") != applied.ident else {}
            if renamed or news.get("path", "/") != applied.inputs.get("path", "/"):
                self.iam.update_user(UserName=applied.ident, NewPath=news.get("path", "/"), **renamed)
            return news["name"], {**applied.outputs, **news}
        return self.create(typ, applied.name, news)  # the bucket settings and policies are PUTs

    def delete(self, applied: Applied) -> None:
        """Delete as pulumi-aws does; a retained bucket never gets here (the engine honours retainOnDelete),
        but its settings do: deleting them resets the bucket to the defaults."""
        inputs, s3, bucket = applied.inputs, self.s3, applied.inputs.get("bucket")
        try:
            if applied.typ == "aws:iam/accessKey:AccessKey":
                self.iam.delete_access_key(UserName=inputs["user"], AccessKeyId=applied.ident)
            elif applied.typ == "aws:iam/userPolicy:UserPolicy":
                self.iam.delete_user_policy(UserName=inputs["user"], PolicyName=inputs["name"])
            elif applied.typ == "aws:iam/user:User":
                self.iam.delete_user(UserName=applied.ident)
            elif applied.typ == "aws:s3/bucket:Bucket":
                s3.delete_bucket(Bucket=applied.ident)  # fails while it holds objects, as without forceDestroy
            elif applied.typ == "aws:s3/bucketVersioning:BucketVersioning":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
            elif applied.typ.startswith("aws:s3/bucketServerSideEncryptionConfiguration:"):
                s3.delete_bucket_encryption(Bucket=bucket)
            elif applied.typ == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
                s3.delete_public_access_block(Bucket=bucket)
            elif applied.typ == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
                s3.delete_bucket_ownership_controls(Bucket=bucket)
            elif applied.typ == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
                s3.delete_bucket_lifecycle(Bucket=bucket)
            elif applied.typ == "aws:s3/bucketPolicy:BucketPolicy":
                s3.delete_bucket_policy(Bucket=bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchEntity", "NoSuchBucket", "404"):
                raise

    def read(self, applied: Applied) -> Read | None:
        return Read(applied.ident, applied.outputs) if self.exists(applied) else None

    def backend(self) -> Backend:
        return Backend(
            ("aws:",), self.create, exists=self.exists, delete=self.delete, update=self.update, read=self.read
        )


# Inputs of the aws:ecr types that the provider (terraform-provider-aws, ForceNew) applies by replacing the object.
ECR_REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    "aws:ecr/repository:Repository": frozenset({"name", "encryptionConfigurations", "region"}),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": frozenset({"repository", "region"}),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": frozenset({"repository", "region"}),
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": frozenset({"region"}),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": frozenset({"region"}),
}
# What moto (5.2) does not implement: applying them fails loudly instead of pretending.
ECR_UNSUPPORTED = (
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
    "aws:ecr/pullTimeUpdateExclusion:PullTimeUpdateExclusion",
)


class EcrApplier:
    """Applies aws:ecr/* resources through boto3 (an ECR API: moto here), one client per `region` input.

    Register it before AwsApplier: the engine picks the first backend whose prefix matches."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self._session = boto3.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._endpoint = endpoint
        self._default_region = region

    def client(self, region: str | None) -> Any:
        return self._session.client("ecr", endpoint_url=self._endpoint, region_name=region or self._default_region)

    @staticmethod
    def _mutability(inputs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"imageTagMutability": inputs.get("imageTagMutability", "MUTABLE")}
        filters = inputs.get("imageTagMutabilityExclusionFilters") or []
        if filters:
            out["imageTagMutabilityExclusionFilters"] = [
                {"filter": f["filter"], "filterType": f["filterType"]} for f in filters
            ]
        return out

    def _repository_outputs(self, inputs: dict[str, Any], repo: dict[str, Any]) -> dict[str, Any]:
        return {
            **inputs,
            "arn": repo["repositoryArn"],
            "registryId": repo["registryId"],
            "repositoryUrl": repo["repositoryUri"],
            "forceDelete": bool(inputs.get("forceDelete")),
        }

    def create(self, typ: str, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ecr = self.client(inputs.get("region"))
        if typ == "aws:ecr/repository:Repository":
            encryption = (inputs.get("encryptionConfigurations") or [{}])[0]
            applied_encryption = {"encryptionType": encryption.get("encryptionType", "AES256")}
            if encryption.get("kmsKey"):
                applied_encryption["kmsKey"] = encryption["kmsKey"]
            repo = ecr.create_repository(
                repositoryName=inputs["name"],
                imageScanningConfiguration={
                    "scanOnPush": bool((inputs.get("imageScanningConfiguration") or {}).get("scanOnPush"))
                },
                encryptionConfiguration=applied_encryption,
                tags=[{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()],
                **self._mutability(inputs),
            )["repository"]
            return repo["repositoryName"], self._repository_outputs(inputs, repo)
        if typ == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            answer = ecr.put_lifecycle_policy(repositoryName=inputs["repository"], lifecyclePolicyText=inputs["policy"])
            return inputs["repository"], {**inputs, "registryId": answer["registryId"]}
        if typ == "aws:ecr/repositoryPolicy:RepositoryPolicy":
            answer = ecr.set_repository_policy(repositoryName=inputs["repository"], policyText=inputs["policy"])
            return inputs["repository"], {**inputs, "registryId": answer["registryId"]}
        if typ == "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration":
            rules = [
                {
                    "scanFrequency": rule["scanFrequency"],
                    "repositoryFilters": [
                        {"filter": f["filter"], "filterType": f["filterType"]} for f in rule["repositoryFilters"]
                    ],
                }
                for rule in inputs.get("rules") or []
            ]
            answer = ecr.put_registry_scanning_configuration(scanType=inputs["scanType"], rules=rules)
            return answer["registryScanningConfiguration"].get("registryId", "registry"), inputs
        if typ == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
            rules = [
                {
                    "destinations": [
                        {"region": d["region"], "registryId": d["registryId"]} for d in rule["destinations"]
                    ],
                    **(
                        {
                            "repositoryFilters": [
                                {"filter": f["filter"], "filterType": f["filterType"]}
                                for f in rule["repositoryFilters"]
                            ]
                        }
                        if rule.get("repositoryFilters")
                        else {}
                    ),
                }
                for rule in inputs["replicationConfiguration"]["rules"]
            ]
            ecr.put_replication_configuration(replicationConfiguration={"rules": rules})
            return inputs.get("region") or self._default_region, {
                **inputs,
                "registryId": rules[0]["destinations"][0]["registryId"],
            }
        if typ in ECR_UNSUPPORTED:
            raise NotImplementedError(f"local engine: moto does not implement {typ}; it is unit-tested only")
        raise NotImplementedError(f"local engine: no aws:ecr handler for {typ}")

    def _describe(self, applied: Applied) -> dict[str, Any] | None:
        ecr = self.client(applied.inputs.get("region"))
        name = applied.ident if applied.typ == "aws:ecr/repository:Repository" else applied.inputs.get("repository", "")
        try:
            if applied.typ == "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration":
                return ecr.get_registry_scanning_configuration()["scanningConfiguration"]
            if applied.typ == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
                return ecr.describe_registry()["replicationConfiguration"]
            if applied.typ == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
                return ecr.get_lifecycle_policy(repositoryName=name)
            if applied.typ == "aws:ecr/repositoryPolicy:RepositoryPolicy":
                return ecr.get_repository_policy(repositoryName=name)
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code.endswith("NotFoundException"):
                return None
            raise

    def exists(self, applied: Applied) -> bool:
        return self._describe(applied) is not None

    def read(self, applied: Applied) -> Read | None:
        """Refresh: the repository's settings as ECR reports them, so an out-of-band change shows as drift."""
        found = self._describe(applied)
        if found is None:
            return None
        if applied.typ.startswith(("aws:ecr/registryScanning", "aws:ecr/replication")):
            return Read(applied.ident, applied.outputs)
        if applied.typ != "aws:ecr/repository:Repository":
            text = found.get("lifecyclePolicyText", found.get("policyText"))
            return Read(applied.ident, {**applied.outputs, "policy": text})
        outputs = {
            **applied.outputs,
            "imageTagMutability": found["imageTagMutability"],
            "imageScanningConfiguration": {"scanOnPush": found["imageScanningConfiguration"]["scanOnPush"]},
        }
        if found.get("imageTagMutabilityExclusionFilters"):
            outputs["imageTagMutabilityExclusionFilters"] = [
                {"filter": f["filter"], "filterType": f["filterType"]}
                for f in found["imageTagMutabilityExclusionFilters"]
            ]
        return Read(applied.ident, outputs)

    def diff(self, old: Applied, news: dict[str, Any]) -> Diff:
        """The bridged provider's diff: old inputs against new ones, replacing on the ForceNew keys."""
        force_new = ECR_REPLACE_ON_CHANGE.get(old.typ)
        if force_new is None:
            raise NotImplementedError(f"local engine: no replace-on-change table for {old.typ}")
        changed = sorted(
            key
            for key in set(old.inputs) | set(news)
            if key != "__provider" and unwrap(old.inputs.get(key)) != unwrap(news.get(key))
        )
        return Diff(
            changes=bool(changed), replaces=tuple(k for k in changed if k in force_new), changed_keys=tuple(changed)
        )

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        ecr = self.client(news.get("region"))
        if applied.typ == "aws:ecr/repository:Repository":
            ecr.put_image_tag_mutability(repositoryName=applied.ident, **self._mutability(news))
            ecr.put_image_scanning_configuration(
                repositoryName=applied.ident,
                imageScanningConfiguration={
                    "scanOnPush": bool((news.get("imageScanningConfiguration") or {}).get("scanOnPush"))
                },
            )
            return applied.ident, {**applied.outputs, **news}
        return self.create(applied.typ, applied.name, news)  # policies are PUTs

    def delete(self, applied: Applied) -> None:
        """As pulumi-aws deletes: a repository that holds images is refused unless forceDelete (ECR's own rule)."""
        ecr = self.client(applied.inputs.get("region"))
        try:
            if applied.typ == "aws:ecr/repository:Repository":
                ecr.delete_repository(repositoryName=applied.ident, force=bool(applied.inputs.get("forceDelete")))
            elif applied.typ == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
                ecr.delete_lifecycle_policy(repositoryName=applied.inputs["repository"])
            elif applied.typ == "aws:ecr/repositoryPolicy:RepositoryPolicy":
                ecr.delete_repository_policy(repositoryName=applied.inputs["repository"])
            elif applied.typ == "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration":
                ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])  # the provider resets it
            elif applied.typ == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
                ecr.put_replication_configuration(replicationConfiguration={"rules": []})
        except ClientError as error:
            if not error.response.get("Error", {}).get("Code", "").endswith("NotFoundException"):
                raise

    def backend(self) -> Backend:
        return Backend(
            ("aws:ecr/",),
            self.create,
            exists=self.exists,
            delete=self.delete,
            update=self.update,
            read=self.read,
            diff=self.diff,
        )
