"""The stand-in pulumi-resource-aws over gRPC (no CLI), configured as a stack passes the provider config, against a
moto server with IAM enforcement."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from botocore.exceptions import ClientError
from pulumi.runtime.proto import provider_pb2

from tests.support.moto_server import MotoServer
from tests.support.plugins.client import PluginProcess, running_moto, start_plugin, urn
from tests.support.plugins.server import UNKNOWN, from_struct, to_struct
from tests.support.pulumi_runtime import is_secret, unwrap, wrap_secret

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
BUCKET = "aws:s3/bucket:Bucket"
USER = "aws:iam/user:User"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from running_moto(tmp_path_factory)


@pytest.fixture(scope="module")
def aws(moto: MotoServer) -> Iterator[PluginProcess]:
    plugin = start_plugin("aws")
    try:
        # As `pulumi config set aws:...` gives it: the secret key arrives as a secret.
        configured = plugin.configure(
            {
                "region": "us-east-1",
                "accessKey": moto.admin_key,
                "secretKey": wrap_secret(moto.admin_secret),
                "endpoints": [{"s3": moto.endpoint, "iam": moto.endpoint}],
                "s3UsePathStyle": True,
                "skipCredentialsValidation": True,
                "skipRequestingAccountId": True,
            }
        )
        assert configured.acceptSecrets
        yield plugin
    finally:
        plugin.stop()


def test_bucket_create_diff_update_refresh_delete(aws: PluginProcess, moto: MotoServer) -> None:
    s3 = moto.client("s3")
    target = urn(BUCKET, "store-bucket")
    news = aws.check(target, {"bucket": "standin-store", "tags": {"purpose": "registry"}})
    ident, planned = aws.create(target, news, preview=True)
    assert ident == ""
    assert planned["arn"] == UNKNOWN
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="standin-store")  # a preview creates nothing

    ident, outputs = aws.create(target, news)
    assert ident == "standin-store"
    assert outputs["arn"] == "arn:aws:s3:::standin-store"
    assert s3.get_bucket_tagging(Bucket=ident)["TagSet"] == [{"Key": "purpose", "Value": "registry"}]

    assert aws.diff(target, ident, news, outputs, news).changes == DIFF_NONE
    renamed = aws.diff(target, ident, news, outputs, {**news, "bucket": "standin-other"})
    assert list(renamed.replaces) == ["bucket"]
    retagged = {**news, "tags": {"purpose": "cache"}}
    tags = aws.diff(target, ident, news, outputs, retagged)
    assert tags.changes == DIFF_SOME
    assert list(tags.replaces) == []
    outputs = aws.update(target, ident, news, outputs, retagged)
    assert s3.get_bucket_tagging(Bucket=ident)["TagSet"] == [{"Key": "purpose", "Value": "cache"}]

    s3.put_bucket_tagging(Bucket=ident, Tagging={"TagSet": [{"Key": "purpose", "Value": "drift"}]})
    found, read, read_inputs = aws.read(target, ident, outputs, retagged)
    assert found == ident
    assert read["tags"] == read_inputs["tags"] == {"purpose": "drift"}  # refresh sees the change made by hand

    aws.delete(target, ident, outputs, retagged)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=ident)
    assert aws.read(target, ident, outputs, retagged)[0] == ""


def test_access_key_secret_is_a_secret_output(aws: PluginProcess, moto: MotoServer) -> None:
    user_urn, key_urn = urn(USER, "s3-user"), urn(ACCESS_KEY, "s3-key")
    user_inputs = aws.check(user_urn, {"name": "standin-registry", "path": "/"})
    user_id, user = aws.create(user_urn, user_inputs)
    key_inputs = aws.check(key_urn, {"user": user_id})
    key_id, key = aws.create(key_urn, key_inputs)
    try:
        assert is_secret(key["secret"])
        assert not is_secret(key["status"])
        assert key["status"] == "Active"
        # The key works against moto (IAM enforcement on): it is the user's own.
        identity = moto.client("sts", key=key_id, secret=unwrap(key["secret"])).get_caller_identity()
        assert identity["Arn"].endswith(":user/standin-registry")
        found, read, _ = aws.read(key_urn, key_id, key, key_inputs)
        assert found == key_id
        assert is_secret(read["secret"])  # refresh keeps it secret
    finally:
        aws.delete(key_urn, key_id, key, key_inputs)
        aws.delete(user_urn, user_id, user, user_inputs)
    with pytest.raises(ClientError):
        moto.client("iam").get_user(UserName="standin-registry")


def test_invokes_and_refusals(aws: PluginProcess, moto: MotoServer) -> None:
    answer = aws.stub.Invoke(
        provider_pb2.InvokeRequest(tok="aws:index/getCallerIdentity:getCallerIdentity", args=to_struct({}))
    )
    identity = from_struct(getattr(answer, "return"))
    assert identity["arn"].endswith(":user/engine-admin")

    with pytest.raises(grpc.RpcError) as unserved:
        aws.check(urn("aws:ec2/instance:Instance", "vm"), {})
    assert "does not serve aws:ec2/instance:Instance" in str(unserved.value.details())  # pyright: ignore[reportAttributeAccessIssue]


def test_without_endpoints_the_stand_in_refuses_naming_the_key(tmp_path: Path) -> None:
    plugin = start_plugin("aws", env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    try:
        with pytest.raises(grpc.RpcError) as no_endpoints:
            plugin.configure({"region": "us-east-1", "accessKey": "a", "secretKey": "b"})
        assert "aws:endpoints" in str(no_endpoints.value.details())  # pyright: ignore[reportAttributeAccessIssue]
        with pytest.raises(grpc.RpcError) as no_region:
            plugin.configure({"endpoints": [{"s3": "http://127.0.0.1:1"}]})
        message = str(no_region.value.details())  # pyright: ignore[reportAttributeAccessIssue]
        assert "aws:accessKey" in message
        assert "aws:secretKey" in message
    finally:
        plugin.stop()


def test_first_calls_in_parallel_on_a_fresh_plugin(moto: MotoServer) -> None:
    """The engine calls a plugin from many threads at once (a refresh reads every resource together): the first
    look-ups of each type's SDK class, lazily imported modules, must not race."""
    types = sorted(
        {
            BUCKET,
            USER,
            ACCESS_KEY,
            "aws:s3/bucketVersioning:BucketVersioning",
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:iam/userPolicy:UserPolicy",
            "aws:iam/role:Role",
            "aws:ecr/repository:Repository",
            "aws:sqs/queue:Queue",
            "aws:cloudwatch/eventRule:EventRule",
        }
    )
    plugin = start_plugin("aws")
    try:
        plugin.configure(
            {"region": "us-east-1", "accessKey": "a", "secretKey": "b", "endpoints": [{"s3": moto.endpoint}]}
        )
        with ThreadPoolExecutor(len(types)) as pool:
            planned = list(pool.map(lambda typ: plugin.create(urn(typ, "x"), {}, preview=True), types))
        assert [ident for ident, _ in planned] == [""] * len(types)
    finally:
        plugin.stop()
