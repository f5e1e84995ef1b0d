"""ECR notifications: EventBridge rules whose patterns match AWS's documented ECR events, an API destination
authenticated by a secret header, a role that may invoke only that destination, and a dead-letter queue.

moto does not implement TestEventPattern (its handler is `pass`), so the patterns are matched with moto's own
EventBridge pattern matcher (moto.events.models.EventPattern), which its rules use to route events."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from registries.config import ConfigError, load_stack_spec
from tests.support.pulumi_runtime import is_secret, without_secrets
from tests.unit.conftest import problem_at

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"
DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
HOOK_URL = "https://ci.example.com/hooks/ecr?key=s3cr3t-url-key"
HOOK_TOKEN = "hook-token-not-real-5678"

# The samples of the ECR user guide ("Amazon ECR events and EventBridge"), repository name changed.
PUSH_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "team/api",
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}
SCAN_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
    "detail-type": "ECR Image Scan",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-10-29T02:36:48Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:ecr:eu-west-1:123456789012:repository/team/api"],
    "detail": {
        "scan-status": "COMPLETE",
        "repository-name": "team/api",
        "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9},
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "image-tags": [],
    },
}

# With enhanced scanning, Amazon Inspector (not ECR) reports a finished scan: the sample of the ECR user guide
# ("EventBridge events sent for enhanced scanning in Amazon ECR": event for an initial image scan), repository
# changed. Its repository-name is the repository ARN, not the name.
INSPECTOR_SCAN_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "739c0d3c-4f02-85c7-5a88-94a9EXAMPLE",
    "detail-type": "Inspector2 Scan",
    "source": "aws.inspector2",
    "account": "123456789012",
    "time": "2021-12-03T18:03:16Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:ecr:eu-west-1:123456789012:repository/team/api"],
    "detail": {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": "arn:aws:ecr:eu-west-1:123456789012:repository/team/api",
        "finding-severity-counts": {"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "TOTAL": 158},
        "image-digest": "sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e59e3a8e4914",
        "image-tags": ["latest"],
    },
}

ECR: dict[str, Any] = {
    "region": "eu-west-1",
    "repositories": [{"name": "team/api"}, {"name": "team/worker"}],
    "notifications": [
        {
            "name": "ci",
            "url": HOOK_URL,
            "events": ["push", "scan"],
            "authHeader": {"name": "X-Hook-Token", "token": HOOK_TOKEN},
            "repositories": ["team/api"],
        },
        {"name": "audit", "url": HOOK_URL, "events": ["delete"], "authHeader": {"name": "X-Audit", "token": "t"}},
    ],
}


def _event(sample: dict[str, Any], **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample)
    event["detail"].update(detail)
    return event


def _matches(pattern_text: str, event: dict[str, Any]) -> bool:
    return EventPattern.load(pattern_text).matches_event(cast(Any, event))  # moto types events as its own dict


def test_rule_patterns_match_the_documented_events_of_their_repositories(run):
    mocks, _ = run(ecr=ECR, secret=True)
    action = mocks.find(RULE, "ecr-hook-ci-rule-action").plain["eventPattern"]
    scan = mocks.find(RULE, "ecr-hook-ci-rule-scan").plain["eventPattern"]
    assert _matches(action, PUSH_EVENT)
    assert not _matches(action, _event(PUSH_EVENT, **{"action-type": "DELETE"}))  # ci asked for push only
    assert not _matches(action, _event(PUSH_EVENT, result="FAILURE"))
    assert not _matches(action, _event(PUSH_EVENT, **{"repository-name": "team/worker"}))  # not its repository
    assert not _matches(action, SCAN_EVENT)
    assert _matches(scan, SCAN_EVENT)
    assert not _matches(scan, _event(SCAN_EVENT, **{"scan-status": "FAILED"}))
    assert not _matches(scan, PUSH_EVENT)
    audit = mocks.find(RULE, "ecr-hook-audit-rule-action").plain["eventPattern"]
    assert _matches(audit, _event(PUSH_EVENT, **{"action-type": "DELETE", "repository-name": "team/worker"}))
    assert not _matches(audit, PUSH_EVENT)
    assert [r.name for r in mocks.of_type(RULE) if r.name.startswith("ecr-hook-audit")] == [
        "ecr-hook-audit-rule-action"
    ]


def _scan_patterns(mocks: Any, hook: str) -> list[str]:
    return [r.plain["eventPattern"] for r in mocks.of_type(RULE) if r.name.startswith(f"ecr-hook-{hook}-rule-scan")]


@pytest.mark.parametrize("scan_type", ["ENHANCED", "BASIC", None])
def test_scan_notifications_fire_on_the_events_of_the_scanning_type(run, scan_type: str | None):
    config = copy.deepcopy(ECR)
    if scan_type is not None:
        config.update(manageRegistrySettings=True, scanning={"type": scan_type})
    mocks, _ = run(ecr=config, secret=True)
    patterns = _scan_patterns(mocks, "ci")
    inspector = _event(INSPECTOR_SCAN_EVENT)
    other_repository = _event(
        INSPECTOR_SCAN_EVENT, **{"repository-name": "arn:aws:ecr:eu-west-1:123456789012:repository/team/worker"}
    )
    nested = _event(
        INSPECTOR_SCAN_EVENT, **{"repository-name": "arn:aws:ecr:eu-west-1:123456789012:repository/x/team/api"}
    )
    fired = {
        "inspector": any(_matches(p, inspector) for p in patterns),
        "ecr": any(_matches(p, SCAN_EVENT) for p in patterns),
    }
    # ENHANCED: only Inspector reports scans; BASIC: only ECR; unmanaged here: the account may have either.
    expected = {"ENHANCED": (True, False), "BASIC": (False, True), None: (True, True)}[scan_type]
    assert (fired["inspector"], fired["ecr"]) == expected
    for pattern in patterns:
        assert not _matches(pattern, other_repository)  # ci notifies for team/api only
        assert not _matches(pattern, nested)
        assert not _matches(pattern, PUSH_EVENT)
        assert not _matches(pattern, _event(SCAN_EVENT, **{"repository-name": "team/worker"}))


def test_targets_invoke_the_destination_with_a_role_a_retry_policy_and_a_dead_letter_queue(run):
    mocks, _ = run(ecr=ECR, secret=True)
    target = mocks.find(TARGET, "ecr-hook-ci-target-action").plain
    destination_arn = "arn:aws:cloudwatch:eu-west-1:123456789012:ecr-hook-ci-destination"
    assert target["arn"] == destination_arn
    assert target["roleArn"] == "arn:aws:iam::123456789012:role/ecr-hook-ci-role"
    assert target["deadLetterConfig"] == {"arn": "arn:aws:sqs:eu-west-1:123456789012:ecr-hook-ci-dlq"}
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 86400, "maximumRetryAttempts": 185}
    policy = json.loads(mocks.find(ROLE_POLICY, "ecr-hook-ci-invoke").plain["policy"])
    assert policy["Statement"] == [
        {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": destination_arn}
    ]
    trust = json.loads(mocks.find(ROLE, "ecr-hook-ci-role").plain["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    queue = mocks.find(QUEUE, "ecr-hook-ci-dlq").plain
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 1209600
    dlq_policy = json.loads(mocks.find(QUEUE_POLICY, "ecr-hook-ci-dlq-policy").plain["policy"])["Statement"][0]
    assert dlq_policy["Action"] == "sqs:SendMessage"
    assert dlq_policy["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": [
                "arn:aws:cloudwatch:eu-west-1:123456789012:ecr-hook-ci-rule-action",
                "arn:aws:cloudwatch:eu-west-1:123456789012:ecr-hook-ci-rule-scan",
                "arn:aws:cloudwatch:eu-west-1:123456789012:ecr-hook-ci-rule-scan-enhanced",
            ]
        }
    }


def test_url_and_header_token_are_secrets_everywhere(run):
    mocks, outputs = run(ecr=ECR, secret=True)
    destination = mocks.find(DESTINATION, "ecr-hook-ci-destination")
    assert is_secret(destination.inputs["invocationEndpoint"])
    assert destination.plain["invocationEndpoint"] == HOOK_URL
    assert destination.plain["httpMethod"] == "POST"
    connection = mocks.find(CONNECTION, "ecr-hook-ci-connection")
    assert connection.plain["authorizationType"] == "API_KEY"
    assert connection.plain["authParameters"] == {"apiKey": {"key": "X-Hook-Token", "value": HOOK_TOKEN}}
    everything = json.dumps([without_secrets(r.inputs) for r in mocks.resources])
    assert HOOK_URL not in everything
    assert HOOK_TOKEN not in everything
    assert HOOK_URL not in json.dumps({k: v.value for k, v in outputs.items()})


def test_bad_notifications_are_named_without_showing_the_url():
    config = copy.deepcopy(ECR)
    config["notifications"][0].update(url="http://ci.example.com/?key=plain-http-key", events=["push", "push"])
    config["notifications"][0]["repositories"] = ["team/nope"]
    config["notifications"][1]["name"] = "ci"
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    error = caught.value
    root = "registries:ecr.notifications"
    assert problem_at(error, f"{root}[0].url").value == "a secret value (not shown)"
    assert "plain-http-key" not in str(error)
    assert "repeats" in problem_at(error, f"{root}[0].events[1]").allowed
    assert "declared repositories" in problem_at(error, f"{root}[0].repositories[0]").allowed
    assert "repeats" in problem_at(error, f"{root}[1].name").allowed
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": {**ECR, "notifications": [{"name": "x", "url": HOOK_URL, "events": ["pull"]}]}}, "dev")
    assert problem_at(caught.value, f"{root}[0].authHeader").allowed == "required key is missing"
    assert "push" in problem_at(caught.value, f"{root}[0].events[0]").allowed


def test_a_secret_given_in_plain_text_is_refused_before_any_resource(run):
    with pytest.raises(ConfigError) as caught:
        run(ecr=ECR, secret=False)
    error = caught.value
    assert error.paths == [
        "registries:ecr.notifications[0].url",
        "registries:ecr.notifications[1].url",
        "registries:ecr.notifications[0].authHeader.token",
        "registries:ecr.notifications[1].authHeader.token",
    ]
    assert "pulumi config set --secret --path" in str(error)
    assert HOOK_URL not in str(error)
    assert HOOK_TOKEN not in str(error)
