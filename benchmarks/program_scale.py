"""Program evaluation at scale, ours against a bare program declaring the same resources with the same inputs.

ECR: N repositories (each with a lifecycle policy and a repository policy) through our config -> spec -> EcrRegistry
path, against a bare pulumi-aws program. Both run under the SDK's mock runtime in this process, alternating; prints
the median wall time and the peak traced memory of each, and the ratios last.

Docker Hub: N repositories through config -> spec -> mapping -> DockerHub, against a bare program declaring the same
`providers.dockerhub.Repository` dynamic resources with the same inputs. Each run is a whole process (interpreter
start, imports, evaluation under the mock runtime), ours and bare alternating; prints the median wall time and the
median peak RSS of the child (ru_maxrss), the ratios, and the load average before and after.

    python -m benchmarks.program_scale [--case ecr|hub|all] [--repositories N] [--hub-repositories 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

# Nothing else at module level: the Docker Hub children import this module, and what it imports is in both
# processes' measurements (pulumi_aws, the registries spec and the test support come in where they are used).

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
    import pulumi_aws as aws

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


def ecr_case(count: int, rounds: int) -> None:
    from tests.support.pulumi_runtime import run_program

    def ours() -> dict[str, Any]:
        return {k: v.value for k, v in run_program(AnsweringMocks(), stack="bench", config=stack_config(count)).items()}

    def bare() -> dict[str, Any]:
        outputs = run_program(AnsweringMocks(), stack="bench", config={}, program=bare_program(count))
        return {k: v.value for k, v in outputs.items()}

    programs = (("bare", bare), ("ours", ours))
    for _label, run in programs:  # warm-up: imports and the SDK's first-use caches are not the program's cost
        run()
    results: dict[str, list[tuple[float, int]]] = {"ours": [], "bare": []}
    for _ in range(rounds):
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
            f"ecr {label}: {count} repositories x 3 resources: {seconds:.2f} s (median of {rounds}), "
            f"peak {peak / 2**20:.1f} MiB traced"
        )
    time_ratio = summary["ours"][0] / summary["bare"][0]
    memory_ratio = summary["ours"][1] / summary["bare"][1]
    print(f"ecr ratio ours/bare: time {time_ratio:.2f}x, peak memory {memory_ratio:.2f}x (target <= 1.3x)")


# -- Docker Hub: whole processes ------------------------------------------------------------------------------------
HUB_NAMESPACE = "acmecorp"
HUB_TIME_TARGET = 1.3
HUB_MEMORY_TARGET = 1.2
REPO_ROOT = Path(__file__).resolve().parent.parent


class HubMocks(pulumi.runtime.Mocks):
    """Answers like the Hub providers' create (inputs back, a repository's pull count), recording nothing."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        if args.typ == "pulumi-python:dynamic/dockerhub:Repository":
            outputs["pullCount"] = 0
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(args.token)


def hub_names(count: int) -> list[str]:
    return [f"service-{index}" for index in range(count)]


def hub_stack_config(count: int) -> dict[str, str]:
    """A stack of `count` repositories, each with the defaults (private, no descriptions, mutable tags)."""
    return {
        "registries:dockerHub": json.dumps(
            {"namespace": HUB_NAMESPACE, "repositories": [{"name": name} for name in hub_names(count)]}
        )
    }


def hub_ours() -> Mapping[str, Any]:
    from registries.program import declare, load_spec

    outputs = declare(load_spec())
    return {"repositories": outputs["dockerHubRepositories"]}


def hub_bare(count: int) -> Callable[[], Mapping[str, Any]]:
    """What a user writes without us: the same Repository resources, same names and inputs, no component."""

    def program() -> Mapping[str, Any]:
        from providers.dockerhub import Repository

        names = hub_names(count)
        namespaces: list[pulumi.Output[str]] = []
        for name in names:
            repository = Repository(
                f"dockerhub-repo-{HUB_NAMESPACE}-{name}",
                {
                    "baseUrl": "https://hub.docker.com",
                    "namespace": HUB_NAMESPACE,
                    "name": name,
                    "description": "",
                    "fullDescription": "",
                    "private": True,
                    "immutableTags": {"enabled": False, "rules": []},
                },
                pulumi.ResourceOptions(protect=False),
            )
            namespaces.append(repository.namespace)
        # The full names, once the repositories exist (one Output over all of them, as a user would write it).
        return {
            "repositories": pulumi.Output.all(*namespaces).apply(
                lambda known: [f"{namespace}/{name}" for namespace, name in zip(known, names, strict=True)]
            )
        }

    return program


def run_hub_child(which: str, count: int) -> dict[str, Any]:
    """One whole-process run (this is the child): evaluate the program under the SDK's mock runtime, with the same
    runner for both (not tests.support, which imports the registries spec: the bare process must not pay for it)."""
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    started = time.perf_counter()
    pulumi.runtime.set_mocks(HubMocks(), project="registries", stack="bench", preview=False)
    pulumi.runtime.set_all_config(hub_stack_config(count) if which == "ours" else {}, [])
    program = hub_ours if which == "ours" else hub_bare(count)
    collected: dict[str, Any] = {}

    async def resolve(outputs: Mapping[str, Any]) -> None:
        for key, value in outputs.items():
            collected[key] = await pulumi.Output.from_input(value).future()

    def body() -> None:
        _sync_await(resolve(program()))

    _sync_await(run_pulumi_func(body))
    return {
        "repositories": len(collected["repositories"]),
        "evaluation_seconds": time.perf_counter() - started,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


@dataclass(frozen=True)
class ProcessRun:
    """One child process: wall time from the parent (start to exit), its program evaluation time and peak RSS."""

    seconds: float
    evaluation_seconds: float
    maxrss_kib: int


@dataclass(frozen=True)
class CaseSummary:
    seconds: float
    evaluation_seconds: float
    maxrss_mib: float
    rounds: int


def summarise(runs: Sequence[ProcessRun]) -> CaseSummary:
    """Medians over the rounds (the machine is shared: one slow round must not decide)."""
    if not runs:
        raise ValueError("no runs to summarise")
    return CaseSummary(
        seconds=statistics.median(run.seconds for run in runs),
        evaluation_seconds=statistics.median(run.evaluation_seconds for run in runs),
        maxrss_mib=statistics.median(run.maxrss_kib for run in runs) / 1024,
        rounds=len(runs),
    )


def hub_report(count: int, ours: CaseSummary, bare: CaseSummary, load: Sequence[float]) -> list[str]:
    """The printed report: each side, then the ratios against the targets (the last line)."""
    lines = [
        f"hub {label}: {count} repositories, whole process {case.seconds:.2f} s (evaluation "
        f"{case.evaluation_seconds:.2f} s), peak RSS {case.maxrss_mib:.0f} MiB; medians of {case.rounds}"
        for label, case in (("ours", ours), ("bare", bare))
    ]
    time_ratio = ours.seconds / bare.seconds
    memory_ratio = ours.maxrss_mib / bare.maxrss_mib
    verdict = "within" if time_ratio <= HUB_TIME_TARGET and memory_ratio <= HUB_MEMORY_TARGET else "OVER"
    lines.append("load average: " + " / ".join(f"{value:.2f}" for value in load))
    lines.append(
        f"hub ratio ours/bare: time {time_ratio:.2f}x (target <= {HUB_TIME_TARGET}x), peak RSS {memory_ratio:.2f}x "
        f"(target <= {HUB_MEMORY_TARGET}x): {verdict} target"
    )
    return lines


def hub_process(which: str, count: int) -> ProcessRun:
    command = [sys.executable, "-m", "benchmarks.program_scale", "--child", which, "--hub-repositories", str(count)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hub {which} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["repositories"] != count:  # both declared everything: the comparison is fair
        raise SystemExit(f"hub {which}: {result['repositories']} repositories, expected {count}")
    return ProcessRun(seconds, result["evaluation_seconds"], result["maxrss_kib"])


def hub_case(count: int, rounds: int) -> None:
    load = list(os.getloadavg())
    runs: dict[str, list[ProcessRun]] = {"ours": [], "bare": []}
    hub_process("bare", count)  # warm-up: the page cache and .pyc files are nobody's cost
    for round_ in range(rounds):
        order = ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours")  # alternating, neither always first
        for which in order:
            runs[which].append(hub_process(which, count))
    load += os.getloadavg()
    for line in hub_report(count, summarise(runs["ours"]), summarise(runs["bare"]), load):
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--case", choices=("ecr", "hub", "all"), default="all")
    parser.add_argument("--repositories", type=int, default=1000, help="ECR repositories")
    parser.add_argument("--hub-repositories", type=int, default=2000, help="Docker Hub repositories")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("ours", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_hub_child(args.child, args.hub_repositories)))
        return 0
    if args.case in ("hub", "all"):
        hub_case(args.hub_repositories, args.rounds)
    if args.case in ("ecr", "all"):
        ecr_case(args.repositories, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
