"""aws:s3/* and aws:iam/* resources, applied with boto3 to an S3/IAM API (a moto server here)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote

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


# Error codes with which pulumi-aws's read finds a resource gone (it then leaves state).
AWS_GONE_CODES = frozenset(
    {
        "NoSuchBucket",
        "404",
        "NoSuchEntity",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "OwnershipControlsNotFoundError",
        "NoSuchLifecycleConfiguration",
    }
)


def _lifecycle_rule_read(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule as S3 returns it, in the provider's input names (the inverse of _lifecycle_rule)."""
    out: dict[str, Any] = {"id": rule.get("ID"), "status": rule.get("Status")}
    out["filter"] = {"prefix": (rule.get("Filter") or {}).get("Prefix", "")}
    if rule.get("AbortIncompleteMultipartUpload"):
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["abortIncompleteMultipartUpload"] = {"daysAfterInitiation": days}
    if rule.get("NoncurrentVersionExpiration"):
        out["noncurrentVersionExpiration"] = {"noncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]}
    return out


def _shaped_like(read: Any, declared: Any) -> Any:
    """The value read back, cut to the keys the declared input has (recursively, lists item by item)."""
    if isinstance(declared, dict) and isinstance(read, dict):
        return {k: _shaped_like(read[k], declared[k]) for k in declared if k in read}
    if isinstance(declared, list) and isinstance(read, list):
        if len(declared) == len(read):
            return [_shaped_like(r, d) for r, d in zip(read, declared, strict=True)]
        return read
    if isinstance(declared, int | float) and not isinstance(declared, bool) and isinstance(read, int | float):
        return type(declared)(read)
    return read


def _json_or_none(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def input_diff(old: Applied, news: dict[str, Any], force_new: frozenset[str]) -> Diff:
    """The bridged provider's diff: old inputs against new ones, replacing on the ForceNew keys."""
    changed = sorted(
        key
        for key in set(old.inputs) | set(news)
        if key != "__provider" and unwrap(old.inputs.get(key)) != unwrap(news.get(key))
    )
    return Diff(
        changes=bool(changed), replaces=tuple(k for k in changed if k in force_new), changed_keys=tuple(changed)
    )


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
        """Refresh as pulumi-aws reads: each setting described and mapped back to the inputs we set (see
        AWS_READ_BACK); a setting removed out of band (NoSuch...) leaves state, so the next `up` puts it back."""
        try:
            observed = self._read_back(applied)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in AWS_GONE_CODES:
                return None
            raise
        if observed is None:
            return None
        observed = {k: v for k, v in observed.items() if k in applied.inputs}  # only the inputs the program set
        return Read(applied.ident, {**applied.outputs, **observed}, inputs={**applied.inputs, **observed})

    def _read_back(self, applied: Applied) -> dict[str, Any] | None:
        s3, typ, inputs = self.s3, applied.typ, applied.inputs
        bucket = inputs.get("bucket")
        if typ == "aws:s3/bucket:Bucket":
            s3.head_bucket(Bucket=applied.ident)
            try:
                tag_set = s3.get_bucket_tagging(Bucket=applied.ident)["TagSet"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchTagSet":
                    raise
                tag_set = []
            return {"tags": {t["Key"]: t["Value"] for t in tag_set}} if tag_set or inputs.get("tags") else {}
        if typ == "aws:s3/bucketVersioning:BucketVersioning":
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status") or "Disabled"
            return {"versioningConfiguration": {**inputs["versioningConfiguration"], "status": status}}
        if typ == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            return {name[0].lower() + name[1:]: bool(block.get(name)) for name in names}
        if typ == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            read_rules = []
            for rule in rules:
                default = rule.get("ApplyServerSideEncryptionByDefault") or {}
                by_default = {"sseAlgorithm": default.get("SSEAlgorithm")}
                if default.get("KMSMasterKeyID"):
                    by_default["kmsMasterKeyId"] = default["KMSMasterKeyID"]
                read_rules.append(
                    {
                        "applyServerSideEncryptionByDefault": by_default,
                        "bucketKeyEnabled": bool(rule.get("BucketKeyEnabled")),
                    }
                )
            return {"rules": _shaped_like(read_rules, inputs.get("rules"))}
        if typ == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
            rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
            return {"rule": {"objectOwnership": rules[0]["ObjectOwnership"]}}
        if typ == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            return {"rules": _shaped_like([_lifecycle_rule_read(r) for r in rules], inputs.get("rules"))}
        if typ == "aws:s3/bucketPolicy:BucketPolicy":
            s3.head_bucket(Bucket=bucket)  # the policy lives in state only (see create)
            return {}
        if typ == "aws:iam/user:User":
            user = self.iam.get_user(UserName=applied.ident)["User"]
            tags = {t["Key"]: t["Value"] for t in user.get("Tags") or []}
            return {"name": user["UserName"], "path": user.get("Path", "/"), **({"tags": tags} if tags else {})}
        if typ == "aws:iam/userPolicy:UserPolicy":
            document = self.iam.get_user_policy(UserName=inputs["user"], PolicyName=inputs["name"])["PolicyDocument"]
            read = json.loads(unquote(document)) if isinstance(document, str) else document
            # The provider suppresses a diff between equivalent JSON documents: keep the declared text then.
            same = _json_or_none(inputs.get("policy")) == read
            return {"policy": inputs["policy"] if same else json.dumps(read)}
        if typ == "aws:iam/accessKey:AccessKey":
            keys = self.iam.list_access_keys(UserName=inputs["user"])["AccessKeyMetadata"]
            match = [k for k in keys if k["AccessKeyId"] == applied.ident]
            return {"status": match[0]["Status"]} if match else None
        return {} if self.exists(applied) else None

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
    "aws:ecr/registryPolicy:RegistryPolicy": frozenset({"region"}),
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
        if typ == "aws:ecr/registryPolicy:RegistryPolicy":
            # One per account and region, as in the provider: the ID is the registry (account) id.
            answer = ecr.put_registry_policy(policyText=inputs["policy"])
            return answer["registryId"], {**inputs, "registryId": answer["registryId"]}
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
            if applied.typ == "aws:ecr/registryPolicy:RegistryPolicy":
                return ecr.get_registry_policy()
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
        observed: dict[str, Any] = {
            "imageTagMutability": found["imageTagMutability"],
            "imageScanningConfiguration": {"scanOnPush": found["imageScanningConfiguration"]["scanOnPush"]},
        }
        if found.get("imageTagMutabilityExclusionFilters") or "imageTagMutabilityExclusionFilters" in applied.inputs:
            observed["imageTagMutabilityExclusionFilters"] = [
                {"filter": f["filter"], "filterType": f["filterType"]}
                for f in found.get("imageTagMutabilityExclusionFilters") or []
            ] or None
        if "encryptionConfigurations" in applied.inputs:
            found_encryption = found.get("encryptionConfiguration") or {"encryptionType": "AES256"}
            encryption: dict[str, Any] = {"encryptionType": found_encryption["encryptionType"]}
            declared = (unwrap(applied.inputs["encryptionConfigurations"]) or [{}])[0]
            if declared.get("kmsKey") and found_encryption.get("kmsKey"):  # kmsKey is computed when not declared
                encryption["kmsKey"] = found_encryption["kmsKey"]
            observed["encryptionConfigurations"] = [encryption]
        # The read values replace the inputs too: the provider diffs its refreshed state against the program.
        observed = {k: v for k, v in observed.items() if v is not None or k in applied.inputs}
        return Read(applied.ident, {**applied.outputs, **observed}, inputs={**applied.inputs, **observed})

    def diff(self, old: Applied, news: dict[str, Any]) -> Diff:
        force_new = ECR_REPLACE_ON_CHANGE.get(old.typ)
        if force_new is None:
            raise NotImplementedError(f"local engine: no replace-on-change table for {old.typ}")
        return input_diff(old, news, force_new)

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
            elif applied.typ == "aws:ecr/registryPolicy:RegistryPolicy":
                ecr.delete_registry_policy()
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


def _physical_name(logical: str) -> str:
    """What Pulumi's auto-naming gives a resource without an explicit name: the logical name and a random suffix."""
    return f"{logical}-{uuid.uuid4().hex[:7]}"


# Inputs of the notification and CI resource types that the provider applies by replacing the object.
NOTIFY_REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"role", "name", "namePrefix"}),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": frozenset({"url"}),
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue", "region"}),
    "aws:sqs/queuePolicy:QueuePolicy": frozenset({"queueUrl", "region"}),
    "aws:cloudwatch/eventConnection:EventConnection": frozenset({"name", "region"}),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": frozenset({"name", "region"}),
    "aws:cloudwatch/eventRule:EventRule": frozenset({"name", "namePrefix", "eventBusName", "region"}),
    "aws:cloudwatch/eventTarget:EventTarget": frozenset({"rule", "targetId", "eventBusName", "region"}),
}


class NotificationApplier:
    """Applies what ECR notifications and the CI role declare (EventBridge, SQS, IAM roles, OIDC providers) through
    boto3 to moto. Register it before AwsApplier, which takes every other aws: type."""

    PREFIXES = tuple(NOTIFY_REPLACE_ON_CHANGE)

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self._session = boto3.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._endpoint = endpoint
        self._region = region
        self.iam = self._session.client("iam", endpoint_url=endpoint)

    def _client(self, service: str, inputs: dict[str, Any]) -> Any:
        return self._session.client(
            service, endpoint_url=self._endpoint, region_name=inputs.get("region") or self._region
        )

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = self.iam
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            answer = iam.create_open_id_connect_provider(
                Url=inputs["url"],
                ClientIDList=inputs["clientIdLists"],
                ThumbprintList=inputs.get("thumbprintLists") or [],
            )
            return answer["OpenIDConnectProviderArn"], {**inputs, "arn": answer["OpenIDConnectProviderArn"]}
        if typ == "aws:iam/role:Role":
            role_name = inputs.get("name") or _physical_name(name)
            role = iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
                Description=inputs.get("description", ""),
                MaxSessionDuration=int(inputs.get("maxSessionDuration", 3600)),
            )["Role"]
            return role_name, {**inputs, "name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}
        if typ == "aws:iam/rolePolicy:RolePolicy":
            policy_name = inputs.get("name") or _physical_name(name)
            iam.put_role_policy(RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=inputs["policy"])
            return f"{inputs['role']}:{policy_name}", {**inputs, "name": policy_name}
        if typ == "aws:sqs/queue:Queue":
            sqs = self._client("sqs", inputs)
            # Pulumi numbers arrive as floats; SQS wants an integer string.
            attributes = {"MessageRetentionPeriod": str(int(inputs.get("messageRetentionSeconds", 345600)))}
            if inputs.get("sqsManagedSseEnabled") is not None:
                attributes["SqsManagedSseEnabled"] = str(bool(inputs["sqsManagedSseEnabled"])).lower()
            url = sqs.create_queue(QueueName=inputs.get("name") or _physical_name(name), Attributes=attributes)[
                "QueueUrl"
            ]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return url, {**inputs, "url": url, "arn": arn}
        if typ == "aws:sqs/queuePolicy:QueuePolicy":
            self._client("sqs", inputs).set_queue_attributes(
                QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]}
            )
            return inputs["queueUrl"], inputs
        events = self._client("events", inputs)
        if typ == "aws:cloudwatch/eventConnection:EventConnection":
            connection_name = inputs.get("name") or _physical_name(name)
            api_key = inputs["authParameters"]["apiKey"]
            answer = events.create_connection(
                Name=connection_name,
                Description=inputs.get("description", ""),
                AuthorizationType=inputs["authorizationType"],
                AuthParameters={
                    "ApiKeyAuthParameters": {"ApiKeyName": api_key["key"], "ApiKeyValue": api_key["value"]}
                },
            )
            return connection_name, {**inputs, "name": connection_name, "arn": answer["ConnectionArn"]}
        if typ == "aws:cloudwatch/eventApiDestination:EventApiDestination":
            destination_name = inputs.get("name") or _physical_name(name)
            answer = events.create_api_destination(
                Name=destination_name,
                ConnectionArn=inputs["connectionArn"],
                InvocationEndpoint=inputs["invocationEndpoint"],
                HttpMethod=inputs["httpMethod"],
                InvocationRateLimitPerSecond=int(inputs.get("invocationRateLimitPerSecond", 300)),
            )
            return destination_name, {**inputs, "name": destination_name, "arn": answer["ApiDestinationArn"]}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            rule_name = inputs.get("name") or _physical_name(name)
            answer = events.put_rule(
                Name=rule_name,
                EventPattern=inputs["eventPattern"],
                Description=inputs.get("description", ""),
                State="ENABLED",
            )
            return rule_name, {**inputs, "name": rule_name, "arn": answer["RuleArn"]}
        if typ == "aws:cloudwatch/eventTarget:EventTarget":
            target_id = inputs.get("targetId") or _physical_name(name)
            target: dict[str, Any] = {"Id": target_id, "Arn": inputs["arn"]}
            if inputs.get("roleArn"):
                target["RoleArn"] = inputs["roleArn"]
            if inputs.get("deadLetterConfig"):
                target["DeadLetterConfig"] = {"Arn": inputs["deadLetterConfig"]["arn"]}
            if inputs.get("retryPolicy"):
                retry = inputs["retryPolicy"]
                target["RetryPolicy"] = {
                    "MaximumRetryAttempts": int(retry["maximumRetryAttempts"]),
                    "MaximumEventAgeInSeconds": int(retry["maximumEventAgeInSeconds"]),
                }
            answer = events.put_targets(Rule=inputs["rule"], Targets=[target])
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"put_targets failed: {answer['FailedEntries']}")
            return f"{inputs['rule']}-{target_id}", {**inputs, "targetId": target_id}
        raise NotImplementedError(f"local engine: no handler for {typ}")

    def diff(self, old: Applied, news: dict[str, Any]) -> Diff:
        return input_diff(old, news, NOTIFY_REPLACE_ON_CHANGE[old.typ])

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if applied.typ == "aws:iam/role:Role":
            self.iam.update_assume_role_policy(RoleName=applied.ident, PolicyDocument=news["assumeRolePolicy"])
            return applied.ident, {**applied.outputs, **news}
        if applied.typ in ("aws:iam/rolePolicy:RolePolicy", "aws:sqs/queuePolicy:QueuePolicy"):
            return self.create(applied.typ, applied.name, {**news, "name": applied.outputs.get("name")})
        raise NotImplementedError(f"local engine: in-place update of {applied.typ} is not modelled")

    def delete(self, applied: Applied) -> None:
        inputs, typ = applied.inputs, applied.typ
        try:
            if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
                self.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=applied.ident)
            elif typ == "aws:iam/role:Role":
                self.iam.delete_role(RoleName=applied.ident)
            elif typ == "aws:iam/rolePolicy:RolePolicy":
                self.iam.delete_role_policy(RoleName=inputs["role"], PolicyName=applied.outputs["name"])
            elif typ == "aws:sqs/queue:Queue":
                self._client("sqs", inputs).delete_queue(QueueUrl=applied.ident)
            elif typ == "aws:sqs/queuePolicy:QueuePolicy":
                self._client("sqs", inputs).set_queue_attributes(QueueUrl=applied.ident, Attributes={"Policy": ""})
            elif typ == "aws:cloudwatch/eventConnection:EventConnection":
                self._client("events", inputs).delete_connection(Name=applied.ident)
            elif typ == "aws:cloudwatch/eventApiDestination:EventApiDestination":
                self._client("events", inputs).delete_api_destination(Name=applied.ident)
            elif typ == "aws:cloudwatch/eventRule:EventRule":
                self._client("events", inputs).delete_rule(Name=applied.ident)
            elif typ == "aws:cloudwatch/eventTarget:EventTarget":
                self._client("events", inputs).remove_targets(Rule=inputs["rule"], Ids=[applied.outputs["targetId"]])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchEntity", "ResourceNotFoundException"):
                raise

    def backend(self) -> Backend:
        return Backend(self.PREFIXES, self.create, delete=self.delete, update=self.update, diff=self.diff)
