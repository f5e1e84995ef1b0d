"""The ACR declarations checked against Azure's own API model (azure-mgmt-containerregistry, the api-version each
pulumi-azure-native 3 resource uses): no ACR emulator exists, so this is what catches names and shapes the Pulumi SDK
would accept but ARM would refuse.

Each declared resource's inputs become the ARM request pulumi-azure-native sends (URL names + body with `properties`),
and the SDK's own request builder and (de)serializer run over it. The generated 14.x code still carries Azure's
rules (URL name patterns and lengths in the request builders, `_validation` required/read-only/min/max in the models)
but its runtime stopped enforcing them (`client_side_validation = False`, a vendored serializer without validate),
so these tests enforce exactly that metadata: URL names, required, read-only, minimum/maximum/length/pattern; and
on top, every body key must be a field of the model and every enum-typed value one of the model's enum values."""

from __future__ import annotations

import importlib
import inspect
import re
from datetime import datetime
from types import ModuleType
from typing import Any

import pytest
from azure.core.exceptions import DeserializationError, SerializationError

from tests.unit.test_acr_component import CR, SUBSCRIPTION, TOKEN_PASSWORD, AzureMocks, run_acr
from tests.unit.test_acr_schema import ACR

PACKAGE = "azure.mgmt.containerregistry"
# Pulumi type -> (api-version package pulumi-azure-native 3.29 uses, operations module, body model, URL name input).
RESOURCES: dict[str, tuple[str, str, str, str | None]] = {
    f"{CR}:Registry": ("v2023_01_01_preview", "_registries_operations", "Registry", None),
    f"{CR}:Replication": ("v2024_11_01_preview", "_replications_operations", "Replication", "replicationName"),
    f"{CR}:Webhook": ("v2024_11_01_preview", "_webhooks_operations", "WebhookCreateParameters", "webhookName"),
    f"{CR}:ScopeMap": ("v2024_11_01_preview", "_scope_maps_operations", "ScopeMap", "scopeMapName"),
    f"{CR}:Token": ("v2024_11_01_preview", "_tokens_operations", "Token", "tokenName"),
    f"{CR}:CacheRule": ("v2024_11_01_preview", "_cache_rules_operations", "CacheRule", "cacheRuleName"),
    f"{CR}:CredentialSet": ("v2023_01_01_preview", "_credential_sets_operations", "CredentialSet", "credentialSetName"),
    f"{CR}:Task": ("v2019_06_01_preview", "_tasks_operations", "Task", "taskName"),
}


RESOURCE_GROUP_LOCATION = "westeurope"


class ApiModelError(AssertionError):
    """A declaration Azure's API model refuses."""


def _models(version: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{version}.models")


def _serialization(version: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{version}._utils.serialization")


def _enum_of(cls: type, attribute: str, models: ModuleType) -> type | None:
    """The enum a field is typed with in the model's constructor (`Union[str, "_models.WebhookStatus"]`)."""
    parameter = inspect.signature(cls.__init__).parameters.get(attribute)  # type: ignore[misc]
    found = re.search(r"_models\.(\w+)", str(parameter.annotation)) if parameter is not None else None
    enum = getattr(models, found.group(1), None) if found else None
    return enum if isinstance(enum, type) and hasattr(enum, "__members__") else None


def _fields(cls: type) -> dict[str, tuple[str, str]]:
    """REST key (dotted under properties) -> (attribute, type) of a model class."""
    return {spec["key"].replace("\\.", "."): (attr, spec["type"]) for attr, spec in cls._attribute_map.items()}  # type: ignore[attr-defined]


def check_rules(value: Any, rules: dict[str, Any], where: str) -> None:
    """The SDK's validation metadata (`_validation` of a model field, kwargs of a URL parameter) on one value."""
    if value is None:
        if rules.get("required"):
            raise ApiModelError(f"{where}: required")
        return
    if "pattern" in rules and not re.search(rules["pattern"], str(value)):
        raise ApiModelError(f"{where}: {value!r} does not match {rules['pattern']}")
    if "max_length" in rules and len(value) > rules["max_length"]:
        raise ApiModelError(f"{where}: {value!r} is longer than {rules['max_length']}")
    if "min_length" in rules and len(value) < rules["min_length"]:
        raise ApiModelError(f"{where}: {value!r} is shorter than {rules['min_length']}")
    if ("maximum" in rules or "minimum" in rules) and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ApiModelError(f"{where}: {value!r} is not a number")
    if "maximum" in rules and value > rules["maximum"]:
        raise ApiModelError(f"{where}: {value!r} is above {rules['maximum']}")
    if "minimum" in rules and value < rules["minimum"]:
        raise ApiModelError(f"{where}: {value!r} is below {rules['minimum']}")


class ValidatingSerializer:
    """The request builders' URL serializer, enforcing the name rules each builder passes to it."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def url(self, name: str, data: Any, data_type: str, **rules: Any) -> str:
        check_rules(data, {**rules, "required": True}, f"URL {name}")
        return self.wrapped.url(name, data, data_type)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.wrapped, attribute)


def check_shape(cls: type, data: dict[str, Any], models: ModuleType, path: str) -> None:
    """Every key a field of `cls` (not read-only), required fields present, values within the model's rules, every
    enum value a member, recursively; ApiModelError if not."""
    subtypes = getattr(cls, "_subtype_map", None)
    if subtypes:
        discriminator, names = next(iter(subtypes.items()))
        if data.get(discriminator) not in names:
            raise ApiModelError(f"{path}.{discriminator}: {data.get(discriminator)!r} is not one of {sorted(names)}")
        cls = getattr(models, names[data[discriminator]])
    fields = _fields(cls)
    flat = {f"properties.{k}": v for k, v in data.get("properties", {}).items()}
    flat.update({k: v for k, v in data.items() if k != "properties"})
    validation: dict[str, dict[str, Any]] = cls._validation  # type: ignore[attr-defined]
    readonly = {attr for attr, rule in validation.items() if rule.get("readonly")}
    for key, value in flat.items():
        where = f"{path}.{key}"
        if key not in fields:
            raise ApiModelError(f"{where}: not a field of {cls.__name__} (fields: {sorted(fields)})")
        attribute, kind = fields[key]
        if attribute in readonly:
            raise ApiModelError(f"{where}: read-only in {cls.__name__}")
        enum = _enum_of(cls, attribute, models)
        values = value if kind.startswith("[") and isinstance(value, list) else [value]
        inner = kind.strip("[]")
        for index, item in enumerate(values):
            at = f"{where}[{index}]" if kind.startswith("[") else where
            if enum is not None and item not in {member.value for member in enum}:  # type: ignore[attr-defined]
                allowed = sorted(member.value for member in enum)  # type: ignore[attr-defined]
                raise ApiModelError(f"{at}: {item!r} is not a {enum.__name__} ({allowed})")
            model = getattr(models, inner, None)
            if isinstance(model, type) and hasattr(model, "_attribute_map"):
                if not isinstance(item, dict):
                    raise ApiModelError(f"{at}: must be an object ({inner})")
                check_shape(model, item, models, at)

    keys = {attr: key for key, (attr, _) in fields.items()}
    for attribute, rules in validation.items():
        if not rules.get("readonly") and attribute in keys:
            check_rules(flat.get(keys[attribute]), rules, f"{path}.{keys[attribute]}")


def arm_request(typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL and body pulumi-azure-native sends for a resource's inputs, validated by the SDK's request builder
    (URL names) and serializer (body); ApiModelError naming what Azure's model refuses."""
    version, operations, body_model, name_key = RESOURCES[typ]
    models = _models(version)
    cls = getattr(models, body_model)
    url_keys = {"resourceGroupName", "registryName", *([name_key] if name_key else [])}
    top_level = {key for key in _fields(cls) if "." not in key}
    body: dict[str, Any] = {k: v for k, v in inputs.items() if k in top_level}
    if "location" in top_level and "location" not in body:
        body["location"] = RESOURCE_GROUP_LOCATION  # pulumi-azure-native fills it with the resource group's
    properties = {k: v for k, v in inputs.items() if k not in url_keys and k not in top_level}
    if properties:
        body["properties"] = properties
    check_shape(cls, body, models, typ.rsplit(":", 1)[-1])
    serialization = _serialization(version)
    model_classes = {k: v for k, v in vars(models).items() if isinstance(v, type)}
    try:
        instance = serialization.Deserializer(model_classes)(body_model, body)
        serialized = serialization.Serializer(model_classes).body(instance, body_model)
    except (DeserializationError, SerializationError, ValueError) as error:  # a value of the wrong type
        raise ApiModelError(f"{typ}: {error}") from None
    if serialized != body:
        raise ApiModelError(f"{typ}: the model changes the body: {serialized} != {body}")
    module = importlib.import_module(f"{PACKAGE}.{version}.operations.{operations}")
    names = {
        "resource_group_name": inputs["resourceGroupName"],
        "registry_name": inputs["registryName"],
        "subscription_id": SUBSCRIPTION,
    }
    if name_key is not None:
        names[re.sub(r"(?<!^)([A-Z])", r"_\1", name_key).lower()] = inputs[name_key]
    original = module._SERIALIZER
    setattr(module, "_SERIALIZER", ValidatingSerializer(original))  # noqa: B010 (a module global of the SDK)
    try:
        request = module.build_create_request(**names, json=serialized)
    except ApiModelError as error:
        raise ApiModelError(f"{typ}: {error}") from None
    finally:
        setattr(module, "_SERIALIZER", original)  # noqa: B010
    return request.url, serialized


def declared(mocks: AzureMocks) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.typ, r.name, r.plain) for r in mocks.resources if r.typ in RESOURCES]


def test_every_declared_acr_resource_is_a_valid_arm_request():
    mocks, _ = run_acr(ACR)
    resources = declared(mocks)
    kinds = {typ for typ, _, _ in resources}
    assert kinds == set(RESOURCES), f"not covered: {set(RESOURCES) - kinds}"
    urls = {}
    for typ, name, inputs in resources:
        url, body = arm_request(typ, inputs)
        urls[name] = url
        assert body  # every resource sends a body
    assert urls["acr-registry"] == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-registries/providers/Microsoft.ContainerRegistry/"
        "registries/acmeregistry01?api-version=2023-01-01-preview"
    )
    assert urls["acr-purge"].endswith("/registries/acmeregistry01/tasks/retention-purge?api-version=2019-06-01-preview")


def test_the_example_stack_and_a_basic_registry_are_valid_arm_requests():
    from tests.unit.test_acr_component import PROJECT_ROOT, config_from_stack_file, run_program, yaml

    document = yaml.safe_load((PROJECT_ROOT / "stacks" / "Pulumi.azure.yaml").read_text())
    mocks = AzureMocks()
    run_program(mocks, stack="azure", config=config_from_stack_file(document))
    basic, _ = run_acr({"resourceGroup": {"name": "rg-existing"}, "name": "acme12345", "sku": "Basic"})
    for typ, _, inputs in declared(mocks) + declared(basic):
        arm_request(typ, inputs)


def test_the_token_password_request_is_a_valid_generate_credentials_call():
    mocks, _ = run_acr(ACR)
    version = "v2023_01_01_preview"
    models = _models(version)
    serialization = _serialization(version)
    classes = {k: v for k, v in vars(models).items() if isinstance(v, type)}
    for password in mocks.of_type(TOKEN_PASSWORD):
        inputs = password.plain
        body = {"tokenId": inputs["tokenId"], "name": inputs["name"]}
        if "expiry" in inputs:
            body["expiry"] = inputs["expiry"]
        check_shape(models.GenerateCredentialsParameters, body, models, password.name)
        instance = serialization.Deserializer(classes)("GenerateCredentialsParameters", body)
        sent = serialization.Serializer(classes).body(instance, "GenerateCredentialsParameters")
        assert {k: v for k, v in sent.items() if k != "expiry"} == {k: v for k, v in body.items() if k != "expiry"}
        if "expiry" in body:  # an ISO 8601 date-time the model parses to the same instant
            assert instance.expiry == datetime.fromisoformat(body["expiry"])
        assert inputs["registryId"].endswith("/registries/acmeregistry01")


# Deliberately wrong shapes, each one Pulumi's SDK would pass on to ARM; the API model must refuse every one.
WRONG_SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown field", f"{CR}:Webhook", {"serviceUrl": "https://x"}, "not a field of WebhookCreateParameters"),
    ("bad enum", f"{CR}:Webhook", {"actions": ["push", "chart_pull"]}, "is not a WebhookAction"),
    ("bad enum case", f"{CR}:Token", {"status": "Enabled"}, "is not a TokenStatus"),
    ("bad nested enum", f"{CR}:Registry", {"policies": {"retentionPolicy": {"days": 7, "status": "on"}}},
     "is not a PolicyStatus"),
    ("read-only field", f"{CR}:Registry", {"loginServer": "x.azurecr.io"}, "read-only"),
    ("unknown nested field", f"{CR}:Task", {"trigger": {"timerTriggers": [{"name": "t", "cron": "0 3 * * *"}]}},
     "not a field of TimerTrigger"),
    ("bad step type", f"{CR}:Task", {"step": {"type": "Encoded", "encodedTaskContent": "eA=="}}, "step.type"),
    ("missing required", f"{CR}:Task", {"platform": {"architecture": "amd64"}}, "platform.os: required"),
    ("below the minimum", f"{CR}:Task", {"timeout": 60}, "Task.properties.timeout: 60 is below 300"),
    ("malformed name", f"{CR}:ScopeMap", {"scopeMapName": "bad.name"}, "URL scope_map_name: 'bad.name' does not"),
    ("short name", f"{CR}:Webhook", {"webhookName": "hook"}, "URL webhook_name: 'hook' is shorter than 5"),
    ("malformed registry name", f"{CR}:Registry", {"registryName": "acme-registry"}, "URL registry_name"),
    ("wrong value type", f"{CR}:Task", {"timeout": "an hour"}, "'an hour' is not a number"),
    ("wrong nested value type", f"{CR}:Registry", {"adminUserEnabled": "no"}, "Unable to deserialize"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "typ", "change", "message"), WRONG_SHAPES, ids=[w[0] for w in WRONG_SHAPES])
def test_a_deliberately_wrong_shape_is_refused(what: str, typ: str, change: dict[str, Any], message: str):
    mocks, _ = run_acr(ACR)
    inputs = next(inputs for t, _, inputs in declared(mocks) if t == typ)
    arm_request(typ, inputs)  # the declared shape passes ...
    broken = {**inputs, **change}
    with pytest.raises(ApiModelError, match=re.escape(message)):  # ... and the broken one is refused
        arm_request(typ, broken)
