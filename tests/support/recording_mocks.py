"""Inert mocks for unit tests: record every declared resource, return deterministic provider outputs."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import bcrypt
import pulumi

from tests.support.pulumi_runtime import unwrap, wrap_secret


@dataclass(frozen=True)
class Declared:
    typ: str
    name: str
    inputs: dict[str, Any]
    """Inputs as the provider receives them: secret ones still wrapped."""

    @property
    def plain(self) -> dict[str, Any]:
        return unwrap(self.inputs)


MOCK_AWS_ACCOUNT = "123456789012"
"""The AWS account id the mocks answer with (registryId, ARNs)."""


def _fake(name: str, what: str) -> str:
    return hashlib.sha256(f"{name}/{what}".encode()).hexdigest()


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns what each provider would, deterministically from the resource name."""

    def __init__(self) -> None:
        self.resources: list[Declared] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        self.resources.append(Declared(args.typ, args.name, dict(args.inputs)))
        outs: dict[str, Any] = dict(inputs)
        typ = args.typ
        if typ == "random:index/randomPassword:RandomPassword":
            password = _fake(args.name, "password")[: int(unwrap(inputs.get("length", 32)))]
            # A fixed salt keeps the mock deterministic, as provider state keeps the real hash stable.
            hashed = bcrypt.hashpw(password.encode(), b"$2a$04$abcdefghijklmnopqrstuu").decode()
            outs.update(result=wrap_secret(password), bcryptHash=wrap_secret(hashed))
        elif typ == "docker:index/container:Container" and not inputs.get("name"):
            # No name given: auto-named as Pulumi does (<logical>-<7 characters>), here deterministically.
            outs["name"] = f"{args.name}-{_fake(args.name, 'autoname')[:7]}"
        elif typ == "random:index/randomPet:RandomPet":
            # A pet name as pulumi-random makes it (its ID), derived from the resource name.
            return f"{args.name}-{_fake(args.name, 'pet')[:6]}", outs
        elif typ == "random:index/randomBytes:RandomBytes":
            raw = hashlib.sha256(f"{args.name}/bytes".encode()).digest()[: int(unwrap(inputs["length"]))]
            outs.update(base64=wrap_secret(base64.b64encode(raw).decode()), hex=wrap_secret(raw.hex()))
        elif typ == "tls:index/privateKey:PrivateKey":
            outs.update(
                privateKeyPem=wrap_secret(f"-----BEGIN PRIVATE KEY-----\n{_fake(args.name, 'key')}\n"),
                privateKeyPemPkcs8=wrap_secret(f"-----BEGIN PRIVATE KEY-----\n{_fake(args.name, 'pkcs8')}\n"),
                publicKeyPem=f"-----BEGIN PUBLIC KEY-----\n{_fake(args.name, 'pub')}\n",
            )
        elif typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            outs["certPem"] = f"-----BEGIN CERTIFICATE-----\n{_fake(args.name, 'cert')}\n-----END CERTIFICATE-----\n"
        elif typ == "tls:index/certRequest:CertRequest":
            outs["certRequestPem"] = f"-----BEGIN CERTIFICATE REQUEST-----\n{_fake(args.name, 'csr')}\n"
        elif typ == "docker:index/remoteImage:RemoteImage":
            outs["imageId"] = "sha256:" + _fake(str(unwrap(inputs["name"])), "image")
            outs["repoDigest"] = f"{unwrap(inputs['name'])}@sha256:{_fake(args.name, 'digest')}"
        elif typ in ("pulumi-python:dynamic/dockerhub:AccessToken", "pulumi-python:dynamic/dockerhub:OrgAccessToken"):
            outs["token"] = wrap_secret(f"dckr_fake_{_fake(args.name, 'token')[:16]}")
        elif typ == "pulumi-python:dynamic/dockerhub:Team":
            outs["teamId"] = int(_fake(args.name, "team")[:6], 16)
        elif typ == "aws:iam/accessKey:AccessKey":
            outs["secret"] = wrap_secret(_fake(args.name, "aws-secret")[:40])
            return "AKIA" + _fake(args.name, "key-id")[:16].upper(), outs
        elif typ == "aws:s3/bucket:Bucket":
            outs["arn"] = f"arn:aws:s3:::{unwrap(inputs['bucket'])}"
        elif typ == "aws:ecr/repository:Repository":
            region, repository = unwrap(inputs.get("region", "us-east-1")), unwrap(inputs["name"])
            outs.update(
                registryId=MOCK_AWS_ACCOUNT,
                repositoryUrl=f"{MOCK_AWS_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{repository}",
                arn=f"arn:aws:ecr:{region}:{MOCK_AWS_ACCOUNT}:repository/{repository}",
            )
            return repository, outs
        elif typ == "azure-native:containerregistry:Registry":
            # ACR's login server: the registry's name, lower case, under azurecr.io.
            name = str(unwrap(inputs["registryName"]))
            outs.update(name=name, loginServer=f"{name.lower()}.azurecr.io")
        elif typ == "aws:secretsmanager/secret:Secret":
            region, secret_name = unwrap(inputs.get("region", "us-east-1")), unwrap(inputs["name"])
            outs["arn"] = f"arn:aws:secretsmanager:{region}:{MOCK_AWS_ACCOUNT}:secret:{secret_name}-AbCdEf"
            return outs["arn"], outs
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(unwrap(inputs["url"])).removeprefix("https://")
            outs["arn"] = f"arn:aws:iam::{MOCK_AWS_ACCOUNT}:oidc-provider/{host}"
        elif typ.startswith(("aws:cloudwatch/", "aws:sqs/", "aws:iam/role:")):
            region = unwrap(inputs.get("region", "us-east-1"))
            service = typ.split(":")[1].split("/")[0]
            if service == "iam":  # IAM is global: no region in its ARNs
                outs.setdefault("arn", f"arn:aws:iam::{MOCK_AWS_ACCOUNT}:role/{args.name}")
            else:
                outs.setdefault("arn", f"arn:aws:{service}:{region}:{MOCK_AWS_ACCOUNT}:{args.name}")
            outs.setdefault("name", args.name)
            if typ == "aws:sqs/queue:Queue":
                outs["url"] = f"https://sqs.{region}.amazonaws.com/{MOCK_AWS_ACCOUNT}/{args.name}"
        elif typ.startswith("docker:"):
            outs.setdefault("name", args.name)
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"Mock call not implemented: {args.token}")

    def find(self, typ: str, name: str) -> Declared:
        matches = [r for r in self.resources if r.typ == typ and r.name == name]
        assert len(matches) == 1, f"expected one {typ} named {name}, found {len(matches)}: {self.names()}"
        return matches[0]

    def of_type(self, typ: str) -> list[Declared]:
        return [r for r in self.resources if r.typ == typ]

    def names(self) -> list[str]:
        return [f"{r.typ} {r.name}" for r in self.resources]
