"""The rendered config.yml: one complete file with delete, maintenance, TLS, auth and health."""

from __future__ import annotations

import yaml

from components.selfhosted.config_file import (
    HTPASSWD_PATH,
    NotificationSettings,
    RegistrySettings,
    health_check_command,
    health_url,
    registry_layout,
    render_registry_config,
    serve_command,
)
from registries.config.selfhosted import SelfHostedSpec
from tests.support.selfhosted import rendered_config, settings_of


def rendered(**spec: object) -> dict:
    return yaml.safe_load(rendered_config(spec))


def test_default_config_has_delete_maintenance_tls_auth_and_health():
    config = rendered()
    assert config["version"] == 0.1
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["storage"]["filesystem"]["rootdirectory"] == "/var/lib/registry"
    assert config["storage"]["maintenance"]["uploadpurging"] == {
        "enabled": True,
        "age": "168h",
        "interval": "24h",
        "dryrun": False,
    }
    assert config["storage"]["cache"] == {"blobdescriptor": "inmemory"}
    assert config["http"]["tls"] == {
        "certificate": "/certs/server.crt",
        "key": "/certs/server.key",
        "minimumtls": "tls1.2",
    }
    assert config["auth"] == {"htpasswd": {"realm": "registry registry", "path": HTPASSWD_PATH}}
    assert config["health"]["storagedriver"]["enabled"] is True
    assert config["catalog"] == {"maxentries": 1000}


def test_headers_are_lists_and_hsts_only_with_tls():
    with_tls = rendered()["http"]["headers"]
    assert with_tls == {"X-Content-Type-Options": ["nosniff"], "Strict-Transport-Security": ["max-age=31536000"]}
    plain = rendered(tls={"mode": "none"}, insecure=True)
    assert "Strict-Transport-Security" not in plain["http"]["headers"]
    assert "tls" not in plain["http"]
    assert plain["http"]["host"] == "http://localhost:5000"


def test_http_secret_is_never_in_the_file():
    text = rendered_config(SelfHostedSpec())
    assert "secret" not in yaml.safe_load(text)["http"]


def test_delete_can_be_disabled_and_purging_tuned():
    config = rendered(
        storage={"deleteEnabled": False, "uploadPurging": {"age": "72h", "interval": "1h", "dryRun": True}}
    )
    assert config["storage"]["delete"] == {"enabled": False}
    assert config["storage"]["maintenance"]["uploadpurging"]["age"] == "72h"
    assert config["storage"]["maintenance"]["uploadpurging"]["dryrun"] is True


def test_v3_reads_config_from_distribution_path():
    spec = SelfHostedSpec(image="registry:3.0.0")
    assert registry_layout(settings_of(spec)).config_path == "/etc/distribution/config.yml"
    assert registry_layout(settings_of(SelfHostedSpec())).config_path == "/etc/distribution/config.yml"
    old = SelfHostedSpec(image="registry:2.8.3")
    assert registry_layout(settings_of(old)).config_path == "/etc/docker/registry/config.yml"
    assert serve_command(3) == ["registry", "serve", "/etc/distribution/config.yml"]
    assert serve_command(2) == ["registry", "serve", "/etc/docker/registry/config.yml"]


def _health(tls: bool = True, network_mode: str = "bridge", bind_address: str = "127.0.0.1", port: int = 5000) -> str:
    kind, command = health_check_command(tls, network_mode, bind_address, port, 5001)
    assert kind == "CMD-SHELL"
    return command


def test_the_health_check_needs_the_storage_driver_and_the_port_speaking_tls_or_401_without_credentials():
    assert _health() == (
        "wget -q -O /dev/null http://127.0.0.1:5001/debug/health"
        " && wget -S -O /dev/null http://127.0.0.1:5000/v2/ 2>&1 | grep -q 'HTTP/1.0 400 '"
    )
    assert _health(tls=False).endswith("http://127.0.0.1:5000/v2/ 2>&1 | grep -q 'HTTP/1.1 401 '")
    # Host networking: where the registry listens on the host.
    assert "http://127.0.0.1:5443/v2/" in _health(network_mode="host", bind_address="0.0.0.0", port=5443)
    assert "http://10.0.0.7:5443/v2/" in _health(network_mode="host", bind_address="10.0.0.7", port=5443)
    assert "http://[fd00::7]:5443/v2/" in _health(network_mode="host", bind_address="fd00::7", port=5443)


def test_host_network_listens_on_bind_address_and_port():
    spec = SelfHostedSpec(network_mode="host", bind_address="127.0.0.1", port=5443)
    config = yaml.safe_load(rendered_config(spec))
    assert config["http"]["addr"] == "127.0.0.1:5443"
    assert config["http"]["debug"]["addr"] == "127.0.0.1:5444"
    assert health_url(settings_of(spec).debug_listen_port) == "http://127.0.0.1:5444/debug/health"
    moved = SelfHostedSpec(network_mode="host", port=5443, debug_port=15443)
    assert yaml.safe_load(rendered_config(moved))["http"]["debug"]["addr"] == "127.0.0.1:15443"


def test_notifications_render_headers_as_lists_with_the_authorization():
    spec = SelfHostedSpec.model_validate(
        {
            "notifications": [
                {
                    "name": "audit",
                    "url": "https://audit.example.com/events",
                    "headers": {"X-Team": "platform"},
                    "authorization": "Bearer abc",
                    "timeout": "3s",
                    "threshold": 7,
                    "backoff": "2s",
                    "ignoredMediaTypes": ["application/octet-stream"],
                    "ignoredActions": ["pull"],
                }
            ]
        }
    )
    config = yaml.safe_load(rendered_config(spec))
    (endpoint,) = config["notifications"]["endpoints"]
    assert endpoint == {
        "name": "audit",
        "url": "https://audit.example.com/events",
        "headers": {"X-Team": ["platform"], "Authorization": ["Bearer abc"]},
        "timeout": "3s",
        "threshold": 7,
        "backoff": "2s",
        "ignore": {"mediatypes": ["application/octet-stream"], "actions": ["pull"]},
    }
    assert config["notifications"]["events"] == {"includereferences": True}


def test_hsts_is_off_only_when_a_plain_http_ui_shares_the_host():
    assert "Strict-Transport-Security" in rendered(ui={"enabled": True})["http"]["headers"]  # UI on https
    assert "Strict-Transport-Security" not in rendered(ui={"enabled": True, "tls": False})["http"]["headers"]


def test_bridge_debug_server_listens_on_every_container_interface_so_its_published_port_reaches_it():
    spec = SelfHostedSpec()
    assert registry_layout(settings_of(spec)).debug_addr == ":5001"
    assert health_url(settings_of(spec).debug_listen_port) == "http://127.0.0.1:5001/debug/health"
    assert spec.debug_host_port == 5001
    assert SelfHostedSpec(port=5443).debug_host_port == 5444


def test_the_renderer_takes_plain_settings_that_another_target_can_build_without_a_spec():
    """A later target (Kubernetes, a mirror) builds RegistrySettings itself: hostname and webhooks as resolved."""
    settings = RegistrySettings(
        name="mirror",
        hostname="pet-name.localhost",
        port=5443,
        notifications=(NotificationSettings(name="hook", url="https://hooks.example/x", authorization="Bearer t"),),
    )
    config = yaml.safe_load(render_registry_config(settings))
    assert config["http"]["host"] == "https://pet-name.localhost:5443"
    assert config["auth"]["htpasswd"]["realm"] == "mirror registry"
    assert config["notifications"]["endpoints"][0]["headers"] == {"Authorization": ["Bearer t"]}
