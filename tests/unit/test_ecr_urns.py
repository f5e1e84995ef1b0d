"""Users' state keeps working across the ECR library refactoring (issue 10): the ECR configs declare the same
resources (URNs, with the component's alias applied) with the same inputs as before it. The snapshot was taken
from the code before the refactoring; never regenerate it to make this test pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.unit.conftest import ROOT
from tests.unit.urn_snapshot import SNAPSHOTS, assert_declares_the_snapshot, component_registration, write_snapshot

SNAPSHOT = SNAPSHOTS / "ecr_urns.json"


def snapshot_cases() -> list[dict[str, Any]]:
    """The AWS stack file (registry settings, CI role, replication sources, pull-through cache), the notification
    tests' config and the registry-settings tests' config (upstream credentials), with secrets as secrets."""
    from tests.unit.test_ecr_notifications import ECR as NOTIFICATIONS
    from tests.unit.test_ecr_registry_settings import SETTINGS
    from tests.unit.test_ecr_schema import ECR

    aws_stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.aws.yaml").read_text())["config"]["registries:ecr"]
    return [
        {"stack": "aws", "config": aws_stack, "secret": False},
        {"stack": "prod", "config": ECR, "secret": False},
        {"stack": "dev", "config": NOTIFICATIONS, "secret": True},
        {"stack": "dev", "config": SETTINGS, "secret": True},
    ]


def take_snapshot() -> None:
    """Taken once, before the refactoring (python -c 'import tests.unit.test_ecr_urns as t; t.take_snapshot()')."""
    write_snapshot(SNAPSHOT, "ecr", snapshot_cases())


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def secret_per_element(inputs: dict[str, Any]) -> dict[str, Any]:
    """The snapshot was recorded by the SDK's mock monitor, which raised an element's secretness to the whole
    `authParameters` object. The real engine (and our mocks since 840a386, review H1) keep it on the element the
    program made secret: `apiKey.value`. The same plaintext reaches AWS; only where state marks the secret moved."""
    auth = inputs.get("authParameters")
    if not isinstance(auth, dict) or auth.get(SECRET_SIG) is None:
        return inputs
    api_key = auth["value"]["apiKey"]
    wrapped = {SECRET_SIG: auth[SECRET_SIG], "value": api_key["value"]}
    return {**inputs, "authParameters": {"apiKey": {**api_key, "value": wrapped}}}


def reviewed_changes(inputs: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's inputs with the input changes made on purpose since, each reviewed and named here:
    - cloud review 7: the Lambda pull statement is conditioned on the function's ARN (StringLike aws:SourceArn
      arn:<partition>:lambda:<region>:<account>:function:*, as the Lambda developer guide documents) instead of
      aws:SourceAccount, which no AWS document says Lambda's image retrieval carries.
    - review H1: secrets are kept per element (`secret_per_element`)."""
    inputs = secret_per_element(inputs)
    policy = inputs.get("policy")
    if not isinstance(policy, str) or '"LambdaPull"' not in policy:
        return inputs
    document = json.loads(policy)
    for statement in document["Statement"]:
        if statement["Sid"] == "LambdaPull":
            account = statement["Condition"]["StringEquals"]["aws:SourceAccount"]
            functions = f"arn:aws:lambda:{inputs['region']}:{account}:function:*"
            statement["Condition"] = {"StringLike": {"aws:SourceArn": functions}}
    return {**inputs, "policy": json.dumps(document, indent=2)}


def test_ecr_configs_declare_the_urns_and_inputs_of_before_the_refactoring(tmp_path: Path):
    cases = json.loads(SNAPSHOT.read_text())
    for case in cases:
        case["declared"] = {urn: reviewed_changes(inputs) for urn, inputs in case["declared"].items()}
    reviewed = tmp_path / SNAPSHOT.name
    reviewed.write_text(json.dumps(cases))
    assert_declares_the_snapshot(reviewed, "ecr")


def test_the_reviewed_changes_touch_only_the_lambda_condition_and_where_a_secret_is_marked():
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            if SECRET_SIG in value:
                return plain(value["value"])
            return {k: plain(v) for k, v in value.items()}
        return value

    snapshot = [inputs for case in json.loads(SNAPSHOT.read_text()) for inputs in case["declared"].values()]
    moved = [inputs for inputs in snapshot if secret_per_element(inputs) != inputs]
    assert moved, "the snapshot has EventConnection secrets to compare"
    for inputs in moved:
        assert plain(secret_per_element(inputs)) == plain(inputs)
        assert secret_per_element(inputs)["authParameters"]["apiKey"]["value"][SECRET_SIG]
    changed = [
        (urn, secret_per_element(inputs))
        for case in json.loads(SNAPSHOT.read_text())
        for urn, inputs in case["declared"].items()
        if reviewed_changes(inputs) != secret_per_element(inputs)
    ]
    assert changed, "the snapshot has Lambda statements to compare"
    for urn, inputs in changed:
        before, after = json.loads(inputs["policy"]), json.loads(reviewed_changes(inputs)["policy"])
        assert [s for s in before["Statement"] if s["Sid"] != "LambdaPull"] == [
            s for s in after["Statement"] if s["Sid"] != "LambdaPull"
        ], urn


def test_the_component_has_the_package_token_and_its_old_one_as_an_alias():
    typ, aliases = component_registration("ecr", snapshot_cases()[0]["config"], "aws", "ecr")
    assert typ == "registries:index:EcrRegistry"
    assert aliases == ["registries:ecr:EcrRegistry"]
