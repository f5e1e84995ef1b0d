"""Bad stack config: one ConfigError naming the key, the value and what is allowed; nothing declared."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registries.config import ConfigError, SelfHostedSpec, load_stack_spec
from tests.unit.conftest import problem_at

CERT = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"

# (selfHosted config, stack, the key the error must name, words the message must contain)
MALFORMED: list[tuple[dict[str, Any], str, str, str]] = [
    ({"port": 0}, "local", "registries:selfHosted.port", "greater than or equal to 1"),
    ({"port": 70000}, "local", "registries:selfHosted.port", "less than or equal to 65535"),
    ({"port": "five"}, "local", "registries:selfHosted.port", "integer"),
    ({"tls": {"mode": "none"}}, "local", "registries:selfHosted.tls.mode", "insecure: true"),
    ({"tls": {"mode": "off"}}, "local", "registries:selfHosted.tls.mode", "'selfSigned', 'provided' or 'none'"),
    ({"insecure": True}, "local", "registries:selfHosted.insecure", "only meaningful with tls.mode: none"),
    (
        {"tls": {"mode": "provided"}},
        "local",
        "registries:selfHosted.tls.certificate",
        "required with tls.mode: provided",
    ),
    (
        {"tls": {"certificate": CERT}},
        "local",
        "registries:selfHosted.tls.certificate",
        "only allowed with tls.mode: provided",
    ),
    ({"tls": {"ipAddresses": ["300.1.1.1"]}}, "local", "registries:selfHosted.tls.ipAddresses[0]", "IPv4 or IPv6"),
    (
        {"tls": {"validityHours": 100, "earlyRenewalHours": 200}},
        "local",
        "registries:selfHosted.tls.earlyRenewalHours",
        "less than tls.validityHours",
    ),
    ({"users": []}, "local", "registries:selfHosted.users", "at least 1"),
    ({"users": [{"name": "ad:min"}]}, "local", "registries:selfHosted.users[0].name", "pattern"),
    ({"users": [{"name": "a"}, {"name": "a"}]}, "local", "registries:selfHosted.users[1].name", "unique"),
    (
        {"users": [{"name": "a", "password": "short"}]},
        "local",
        "registries:selfHosted.users[0].password",
        "at least 12",
    ),
    ({"users": [{"name": "a", "password": "é" * 40}]}, "local", "registries:selfHosted.users[0].password", "72 bytes"),
    ({"users": [{"name": "a", "pasword": "x"}]}, "local", "registries:selfHosted.users[0].pasword", "unknown key"),
    ({"bindAdress": "0.0.0.0"}, "local", "registries:selfHosted.bindAdress", "unknown key"),
    ({"bindAddress": "localhost"}, "local", "registries:selfHosted.bindAddress", "IPv4 or IPv6"),
    ({"image": "registry:latest"}, "prod", "registries:selfHosted.image", "pin a full version"),
    ({"image": "registry:2"}, "dev", "registries:selfHosted.image", "pin a full version"),
    ({"image": "registry"}, "local", "registries:selfHosted.image", "pattern"),
    ({"image": "registry:edge"}, "local", "registries:selfHosted.majorVersion", "required (2 or 3)"),
    (
        {"ui": {"enabled": True, "deleteImages": True}, "storage": {"deleteEnabled": False}},
        "local",
        "registries:selfHosted.ui.deleteImages",
        "storage.deleteEnabled",
    ),
    (
        {"ui": {"enabled": True, "catalogElementsLimit": 2000}},
        "local",
        "registries:selfHosted.ui.catalogElementsLimit",
        "catalogMaxEntries (1000)",
    ),
    ({"ui": {"enabled": True, "port": 5000}}, "local", "registries:selfHosted.ui.port", "must differ from port"),
    (
        {"ui": {"enabled": True}, "networkMode": "host"},
        "local",
        "registries:selfHosted.ui.enabled",
        "networkMode: bridge",
    ),
    ({"storage": {"kind": "s4"}}, "local", "registries:selfHosted.storage.kind", "'filesystem'"),
    (
        {"storage": {"uploadPurging": {"age": "7 days"}}},
        "local",
        "registries:selfHosted.storage.uploadPurging.age",
        "pattern",
    ),
    (
        {"notifications": [{"name": "a", "url": "ftp://x"}]},
        "local",
        "registries:selfHosted.notifications[0].url",
        "http:// or https://",
    ),
    (
        {"notifications": [{"name": "a", "url": "http://x", "headers": {"Authorization": "Bearer t0ken"}}]},
        "local",
        "registries:selfHosted.notifications[0].headers.Authorization",
        "secret key `authorization`",
    ),
    (
        {"notifications": [{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]},
        "local",
        "registries:selfHosted.notifications[1].name",
        "unique",
    ),
    ({"log": {"level": "verbose"}}, "local", "registries:selfHosted.log.level", "'error', 'warn', 'info' or 'debug'"),
    ({"name": "My_Registry"}, "local", "registries:selfHosted.name", "pattern"),
    (
        {"networkMode": "host", "port": 6000, "debugPort": 6000},
        "local",
        "registries:selfHosted.debugPort",
        "must differ",
    ),
    ({"debugPort": 5000}, "local", "registries:selfHosted.debugPort", "must differ"),
    ({"catalogMaxEntries": 0}, "local", "registries:selfHosted.catalogMaxEntries", "greater than or equal to 1"),
    (
        {"ui": {"enabled": True, "bindAddress": "0.0.0.0", "tls": False}},
        "dev",
        "registries:selfHosted.ui.bindAddress",
        "relays registry passwords (Basic auth) in clear text",
    ),
    (
        {"ui": {"enabled": True, "bindAddress": "10.0.0.5", "tls": False}},
        "dev",
        "registries:selfHosted.ui.bindAddress",
        "set insecure: true to accept that",
    ),
    (
        {"ui": {"enabled": True, "tls": False}, "insecure": True},
        "local",
        "registries:selfHosted.insecure",
        "only meaningful with tls.mode: none or a plain-HTTP UI",
    ),
    (
        {"ui": {"enabled": True, "tls": True}, "tls": {"mode": "none"}, "insecure": True},
        "local",
        "registries:selfHosted.ui.tls",
        "needs the registry's TLS",
    ),
    (
        {"ui": {"enabled": True}, "tls": {"mode": "provided", "certificate": CERT, "privateKey": "k"}},
        "local",
        "registries:selfHosted.tls.caCertificate",
        "the UI verifies the registry's certificate against it",
    ),
    ({"ui": {"enabled": True, "port": 5001}}, "local", "registries:selfHosted.ui.port", "debug port (5001"),
    ({"ui": {"title": "Dev~registry"}}, "local", "registries:selfHosted.ui.title", "letters, digits, spaces"),
    ({"ui": {"title": "R&D"}}, "local", "registries:selfHosted.ui.title", "sed and HTML"),
    ({"ui": {"title": "<script>x</script>"}}, "local", "registries:selfHosted.ui.title", ". , : ( ) _ + -"),
    ({"volumeName": "../data"}, "local", "registries:selfHosted.volumeName", "pattern"),
    (
        {"volumeName": "data", "storage": {"kind": "s3", "region": "eu-west-1", "bucket": "b-1-2"}},
        "local",
        "registries:selfHosted.volumeName",
        "only with storage.kind: filesystem",
    ),
]


@pytest.mark.parametrize(
    ("config", "stack", "key", "words"),
    MALFORMED,
    ids=[m[2].split(":", 1)[1] + "-" + str(i) for i, m in enumerate(MALFORMED)],
)
def test_malformed_config_names_the_key_and_declares_nothing(run, config, stack, key, words):
    with pytest.raises(ConfigError) as caught:
        run(stack=stack, selfHosted=config)
    assert words in problem_at(caught.value, key).allowed
    assert key in str(caught.value)


# Wrong JSON types that lax validation would coerce: (selfHosted config, key, the value as shown, allowed words).
WRONG_TYPES: list[tuple[dict[str, Any], str, str, str]] = [
    ({"port": "5000"}, "port", "'5000'", "integer"),
    ({"port": 5000.0}, "port", "5000.0", "integer"),
    ({"port": True}, "port", "True", "integer"),
    ({"debugPort": "5001"}, "debugPort", "'5001'", "integer"),
    ({"catalogMaxEntries": 1e3}, "catalogMaxEntries", "1000.0", "integer"),
    ({"passwordLength": "40"}, "passwordLength", "'40'", "integer"),
    ({"insecure": "yes"}, "insecure", "'yes'", "true or false"),
    ({"insecure": 1}, "insecure", "1", "true or false"),
    ({"protect": "true"}, "protect", "'true'", "true or false"),
    ({"name": 5}, "name", "5", "must be a string"),
    ({"hostname": 127001}, "hostname", "127001", "must be a string"),
    ({"bindAddress": 0}, "bindAddress", "0", "must be a string"),
    ({"majorVersion": "2"}, "majorVersion", "'2'", "2 or 3"),
    ({"tls": "selfSigned"}, "tls", "'selfSigned'", "must be an object"),
    ({"tls": {"validityHours": "100"}}, "tls.validityHours", "'100'", "integer"),
    ({"tls": {"extraDnsNames": "reg"}}, "tls.extraDnsNames", "'reg'", "must be a list"),
    ({"tls": {"ipAddresses": [2130706433]}}, "tls.ipAddresses[0]", "2130706433", "must be a string"),
    ({"users": "admin"}, "users", "'admin'", "must be a list"),
    ({"users": [{"name": 42}]}, "users[0].name", "42", "must be a string"),
    ({"users": [{"name": "a", "password": 123456789012}]}, "users[0].password", "not shown", "must be a string"),
    ({"ui": {"enabled": "true"}}, "ui.enabled", "'true'", "true or false"),
    ({"ui": {"port": "8080"}}, "ui.port", "'8080'", "integer"),
    ({"ui": {"title": 2026}}, "ui.title", "2026", "must be a string"),
    ({"ui": {"showContentDigest": "no"}}, "ui.showContentDigest", "'no'", "true or false"),
    ({"storage": {"deleteEnabled": "false"}}, "storage.deleteEnabled", "'false'", "true or false"),
    ({"storage": {"uploadPurging": {"enabled": 0}}}, "storage.uploadPurging.enabled", "0", "true or false"),
    ({"log": {"level": 1}}, "log.level", "1", "'error', 'warn', 'info' or 'debug'"),
    (
        {"notifications": [{"name": "a", "url": "http://x", "threshold": "5"}]},
        "notifications[0].threshold",
        "'5'",
        "integer",
    ),
    (
        {"notifications": [{"name": "a", "url": "http://x", "headers": {"X-Team": 1}}]},
        "notifications[0].headers.X-Team",
        "a secret value (not shown)",  # a header value: never shown
        "must be a string",
    ),
]


@pytest.mark.parametrize(("config", "key", "shown", "words"), WRONG_TYPES, ids=[row[1] for row in WRONG_TYPES])
def test_values_of_the_wrong_type_are_refused_not_coerced(config, key, shown, words):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": config}, "local")
    problem = problem_at(caught.value, f"registries:selfHosted.{key}")
    assert words in problem.allowed
    assert shown in problem.value
    assert f"registries:selfHosted.{key}: " in str(caught.value)


def test_a_plain_ui_off_loopback_is_allowed_only_when_insecure_is_said():
    spec = load_stack_spec(
        {"selfHosted": {"ui": {"enabled": True, "bindAddress": "0.0.0.0", "tls": False}, "insecure": True}}, "dev"
    ).self_hosted
    assert spec is not None
    assert spec.plain_ui_off_loopback
    tls_ui = load_stack_spec({"selfHosted": {"ui": {"enabled": True, "bindAddress": "0.0.0.0"}}}, "dev").self_hosted
    assert tls_ui is not None
    assert tls_ui.ui_serves_tls


def test_no_resource_is_declared_when_config_is_invalid():
    from tests.support.pulumi_runtime import run_program
    from tests.support.recording_mocks import RecordingMocks

    mocks = RecordingMocks()
    with pytest.raises(ConfigError):
        run_program(mocks, stack="local", config={"registries:selfHosted": '{"port": 0, "users": []}'})
    assert mocks.resources == []


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": {"port": 0, "users": [{"name": "a:b"}], "bogus": 1}}, "local")
    assert set(caught.value.paths) == {
        "registries:selfHosted.port",
        "registries:selfHosted.users[0].name",
        "registries:selfHosted.bogus",
    }


def test_secret_values_never_appear_in_errors():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": {"users": [{"name": "a", "password": "tiny-secret"}]}}, "local")
    assert "tiny-secret" not in str(caught.value)
    assert "not shown" in str(caught.value)


def test_unknown_top_level_key_and_empty_stack_are_errors():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHostd": {}}, "local")
    assert "registries:selfHostd" in caught.value.paths
    with pytest.raises(ConfigError, match="declare at least one of"):
        load_stack_spec({}, "local")


def test_defaults_are_the_safe_ones():
    spec = SelfHostedSpec()
    assert spec.tls.mode == "selfSigned"
    assert spec.bind_address == "127.0.0.1"
    assert spec.insecure is False
    assert spec.ui.enabled is False
    assert [u.name for u in spec.users] == ["admin"]
    assert spec.users[0].password is None  # generated
    assert spec.image == "registry:3.1.2"  # components/selfhosted/versions.py


@settings(max_examples=60, deadline=None)
@given(
    port=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=65536),
        st.text(max_size=5).filter(lambda t: not (t.strip().isdecimal() and 0 < int(t) < 65536)),
        st.none(),
    )
)
def test_any_out_of_range_port_is_a_config_error(port):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": {"port": port}}, "local")
    assert caught.value.paths == ["registries:selfHosted.port"]


@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=20).filter(lambda n: ":" in n or not n.isascii()))
def test_user_names_with_colons_or_non_ascii_are_refused(name):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"selfHosted": {"users": [{"name": name}]}}, "local")
    assert caught.value.paths == ["registries:selfHosted.users[0].name"]


@pytest.mark.parametrize(
    "section",
    [
        {"selfHosted": {"name": "reg", "notifications": [{"name": "ci", "url": ["https://h.example/?k=leak-me-1"]}]}},
        {
            "ecr": {
                "region": "eu-west-1",
                "repositories": [{"name": "app"}],
                "notifications": [
                    {
                        "name": "ci",
                        "url": ["https://h.example/?k=leak-me-1"],
                        "events": ["push"],
                        "authHeader": {"name": "X-Token", "token": "t"},
                    }
                ],
            }
        },
    ],
)
def test_a_notification_url_of_the_wrong_type_is_named_but_never_shown(section):
    # A webhook URL often carries the receiver's token: errors name the key, never echo the value.
    with pytest.raises(ConfigError) as caught:
        load_stack_spec(section, "dev")
    key = next(p.path for p in caught.value.problems if p.path.endswith(".url"))
    assert problem_at(caught.value, key).value == "a secret value (not shown)"
    assert "leak-me-1" not in str(caught.value)
