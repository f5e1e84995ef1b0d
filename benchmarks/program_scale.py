"""Program evaluation at scale: a stack of N ECR repositories (each with a lifecycle policy and a repository policy)
through our config -> schema -> EcrRegistry path, against a bare pulumi-aws program that declares the same resources
with the same inputs directly. Both run under the SDK's mock runtime in this process, alternating; prints the median
wall time and the peak traced memory of each, and the ratios last.

    python -m benchmarks.program_scale [--repositories 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from tests.support.pulumi_runtime import run_program

ACCOUNT = "123456789012"
REGION = "eu-west-1"
READER = "arn:aws:iam::111122223333:root"
RETENTION = {"untaggedDays": 7, "keepLatest": [{"tag": "v*", "count": 50}]}


class AnsweringMocks(pulumi.runtime.Mocks):
    """Answers like the provider (inputs back, plus a repository's URL), recording nothing: measures the program."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "aws:ecr/repository:Repository":
            outputs["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{args.inputs['name']}"
            outputs["registryId"] = ACCOUNT
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(args.token)


def names(count: int) -> list[str]:
    return [f"team{index // 100}/service-{index}" for index in range(count)]


def stack_config(count: int) -> dict[str, str]:
    ecr = {
        "region": REGION,
        "defaults": {"retention": RETENTION, "readers": [READER]},
        "repositories": [{"name": name} for name in names(count)],
    }
    return {"registries:ecr": json.dumps(ecr)}


def bare_program(count: int) -> Callable[[], Mapping[str, Any]]:
    """What a user writes without us: the same three resources per repository, policies as literal JSON."""

    def program() -> Mapping[str, Any]:
        lifecycle = json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "description": "keepLatest[0]: keep the newest 50 images tagged v*",
                        "selection": {
                            "tagStatus": "tagged",
                            "tagPatternList": ["v*"],
                            "countType": "imageCountMoreThan",
                            "countNumber": 50,
                        },
                        "action": {"type": "expire"},
                    },
                    {
                        "rulePriority": 2,
                        "description": "untaggedDays: expire images pushed more than 7 days ago",
                        "selection": {
                            "tagStatus": "untagged",
                            "countType": "sinceImagePushed",
                            "countUnit": "days",
                            "countNumber": 7,
                        },
                        "action": {"type": "expire"},
                    },
                ]
            },
            indent=2,
        )
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Pull",
                        "Effect": "Allow",
                        "Principal": {"AWS": [READER]},
                        "Action": [
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                            "ecr:BatchCheckLayerAvailability",
                        ],
                    }
                ],
            },
            indent=2,
        )
        urls: dict[str, pulumi.Output[str]] = {}
        for name in names(count):
            suffix = name.replace("/", "--")
            repository = aws.ecr.Repository(
                f"ecr-repo-{suffix}",
                name=name,
                region=REGION,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
                force_delete=False,
                opts=pulumi.ResourceOptions(delete_before_replace=True),
            )
            aws.ecr.LifecyclePolicy(
                f"ecr-lifecycle-{suffix}", repository=repository.name, region=REGION, policy=lifecycle
            )
            aws.ecr.RepositoryPolicy(f"ecr-policy-{suffix}", repository=repository.name, region=REGION, policy=policy)
            urls[name] = repository.repository_url
        return {"repositories": pulumi.Output.all(**urls).apply(dict)}

    return program


def timed(run: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """Wall time of one program run (untraced: tracemalloc slows allocation-heavy code unevenly)."""
    gc.collect()
    started = time.perf_counter()
    outputs = run()
    return time.perf_counter() - started, outputs


def peak_memory(run: Callable[[], dict[str, Any]]) -> int:
    """Peak bytes Python allocated during one program run."""
    gc.collect()
    tracemalloc.start()
    run()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    count = args.repositories

    def ours() -> dict[str, Any]:
        return {k: v.value for k, v in run_program(AnsweringMocks(), stack="bench", config=stack_config(count)).items()}

    def bare() -> dict[str, Any]:
        outputs = run_program(AnsweringMocks(), stack="bench", config={}, program=bare_program(count))
        return {k: v.value for k, v in outputs.items()}

    programs = (("bare", bare), ("ours", ours))
    for _label, run in programs:  # warm-up: imports and the SDK's first-use caches are not the program's cost
        run()
    results: dict[str, list[tuple[float, int]]] = {"ours": [], "bare": []}
    for _ in range(args.rounds):
        for label, run in programs:
            elapsed, outputs = timed(run)
            repositories = outputs["ecr"]["repositories"] if label == "ours" else outputs["repositories"]
            if len(repositories) != count:  # both declared everything: the comparison is fair
                raise SystemExit(f"{label}: {len(repositories)} repositories, expected {count}")
            results[label].append((elapsed, peak_memory(run)))
    summary = {
        label: (statistics.median(t for t, _ in runs), max(p for _, p in runs)) for label, runs in results.items()
    }
    for label, (seconds, peak) in summary.items():
        print(
            f"{label}: {count} repositories x 3 resources: {seconds:.2f} s (median of {args.rounds}), "
            f"peak {peak / 2**20:.1f} MiB traced"
        )
    time_ratio = summary["ours"][0] / summary["bare"][0]
    memory_ratio = summary["ours"][1] / summary["bare"][1]
    print(f"ratio ours/bare: time {time_ratio:.2f}x, peak memory {memory_ratio:.2f}x (target <= 1.3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
