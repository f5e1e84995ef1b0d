"""The repository policy, evaluated as IAM evaluates a resource policy (moto does not evaluate resource policies:
its access control says "TODO add support for resource-based policies"), and the exclusion filters' wildcard
semantics (moto matches them as regexes with re.match)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from components.ecr import EcrRepositoryArgs, repository_policy_document, tag_is_mutable

ACCOUNT = "123456789012"
READER = "arn:aws:iam::111122223333:role/reader"
WRITER = "arn:aws:iam::444455556666:role/ci"
CONDITION_OPERATORS = {"StringEquals", "StringLike"}
FUNCTIONS = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*"
"""Lambda functions of the repository's account and region: what the Lambda statement admits."""
# The statement the AWS Lambda developer guide gives for Lambda's own image retrieval
# (awsdocs/aws-lambda-developer-guide doc_source/configuration-images.md, "Amazon ECR cross-account permissions",
# LambdaECRImageCrossAccountRetrievalPolicy): conditioned on the function's ARN. No AWS document says Lambda's
# image pull carries aws:SourceAccount, so a statement conditioned on that key alone may never match.
DOCUMENTED_LAMBDA_CONDITION = {"StringLike": {"aws:sourceARN": "arn:aws:lambda:us-east-1:123456789012:function:*"}}


def _account_of(principal: str) -> str:
    return principal if principal.isdigit() else principal.split(":")[4]


def _principal_matches(statement_principal: dict[str, Any], principal: dict[str, str]) -> bool:
    """A principal entry names a service, or an AWS principal: an account (id or :root) stands for every principal of
    that account (which then needs its own IAM policy too), an ARN for exactly that principal."""
    for kind, value in principal.items():
        listed = statement_principal.get(kind, [])
        listed = [listed] if isinstance(listed, str) else listed
        for entry in listed:
            if entry in ("*", value):
                return True
            if (
                kind == "AWS"
                and (entry.isdigit() or entry.endswith(":root"))
                and _account_of(entry) == _account_of(value)
            ):
                return True
    return False


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, pairs in conditions.items():
        if operator not in CONDITION_OPERATORS:
            raise NotImplementedError(f"the test evaluator does not model condition operator {operator}")
        for key, expected in pairs.items():
            values = [expected] if isinstance(expected, str) else expected
            actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)  # keys: case-insensitive
            if actual is None:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, v) for v in values):
                return False
            if operator == "StringEquals" and actual not in values:
                return False
    return True


def evaluate(policy: dict[str, Any], principal: dict[str, str], action: str, context: dict[str, str]) -> str:
    """ "Allow", "Deny" (explicit) or "ImplicitDeny" for one request against a resource policy."""
    decision = "ImplicitDeny"
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if not _principal_matches(statement["Principal"], principal):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement["Effect"] == "Deny":
            return "Deny"
        decision = "Allow"
    return decision


def _document(readers: list[str], writers: list[str], lambda_functions: str | None) -> dict[str, Any]:
    document = repository_policy_document(readers, writers, lambda_functions)
    assert document is not None
    return document


POLICY = _document([READER], [WRITER], FUNCTIONS)
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"]
ADMIN = ["ecr:DeleteRepository", "ecr:SetRepositoryPolicy", "ecr:BatchDeleteImage", "ecr:PutLifecyclePolicy"]


@pytest.mark.parametrize("action", PULL)
def test_reader_pulls(action: str):
    assert evaluate(POLICY, {"AWS": READER}, action, {}) == "Allow"


@pytest.mark.parametrize("action", PUSH + ADMIN)
def test_reader_cannot_push_or_administer(action: str):
    assert evaluate(POLICY, {"AWS": READER}, action, {}) == "ImplicitDeny"


@pytest.mark.parametrize("action", PULL + PUSH)
def test_writer_pushes_and_pulls(action: str):
    assert evaluate(POLICY, {"AWS": WRITER}, action, {}) == "Allow"


@pytest.mark.parametrize("action", ADMIN)
def test_writer_cannot_administer(action: str):
    assert evaluate(POLICY, {"AWS": WRITER}, action, {}) == "ImplicitDeny"


def test_someone_else_gets_nothing():
    other = "arn:aws:iam::999999999999:role/reader"
    assert {evaluate(POLICY, {"AWS": other}, a, {}) for a in PULL + PUSH} == {"ImplicitDeny"}


def test_lambda_pulls_for_functions_of_this_account_only():
    service = {"Service": "lambda.amazonaws.com"}
    function = {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:my-function"}
    # The request context the documented statement relies on: the function's ARN, nothing else.
    assert evaluate(POLICY, service, "ecr:BatchGetImage", function) == "Allow"
    assert evaluate(POLICY, service, "ecr:GetDownloadUrlForLayer", {"aws:sourceArn": function["aws:SourceArn"]}) == (
        "Allow"
    )
    # The confused deputy: Lambda acting for another account's (or region's) function.
    for other in ("arn:aws:lambda:eu-west-1:999999999999:function:f", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"):
        assert evaluate(POLICY, service, "ecr:BatchGetImage", {"aws:SourceArn": other}) == "ImplicitDeny"
    assert evaluate(POLICY, service, "ecr:PutImage", function) == "ImplicitDeny"


def test_the_lambda_statement_has_the_documented_condition_shape():
    statement = next(s for s in POLICY["Statement"] if s["Sid"] == "LambdaPull")
    ((operator, pairs),) = statement["Condition"].items()
    ((key, _),) = pairs.items()
    ((documented_operator, documented_pairs),) = DOCUMENTED_LAMBDA_CONDITION.items()
    assert operator == documented_operator
    assert key.lower() == next(iter(documented_pairs)).lower()


def test_an_account_id_grants_the_account():
    policy = _document(["111122223333"], [], None)
    assert evaluate(policy, {"AWS": READER}, "ecr:BatchGetImage", {}) == "Allow"
    assert evaluate(policy, {"AWS": READER}, "ecr:PutImage", {}) == "ImplicitDeny"


def test_nothing_granted_means_no_policy():
    assert repository_policy_document([], [], None) is None


@pytest.mark.parametrize(
    ("filters", "tag", "mutable"),
    [
        (["latest"], "latest", True),
        (["latest"], "latest-2", False),  # moto's re.match("latest", ...) would say mutable
        (["dev-*"], "dev-123", True),
        (["dev-*"], "devx", False),  # as a regex, dev-* matches "dev" + any dashes: moto says mutable
        (["*-snapshot"], "1.0-snapshot", True),
        (["*-snapshot"], "1.0-snapshot.1", False),
        (["v1.*"], "v1x2", False),  # `.` is a literal dot, not "any character"
        ([], "latest", False),
    ],
)
def test_exclusion_filters_are_wildcards_over_the_whole_tag(filters: list[str], tag: str, mutable: bool):
    assert tag_is_mutable(EcrRepositoryArgs(name="app", mutable_tags=filters), tag) is mutable


def test_every_tag_is_mutable_in_a_mutable_repository():
    assert tag_is_mutable(EcrRepositoryArgs(name="app", immutable_tags=False), "v1")
