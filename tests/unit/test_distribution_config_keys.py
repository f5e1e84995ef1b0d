"""Every key config.yml can hold is one the registry version it is rendered for reads (issue 25).

Neither 2.8 nor 3.x parses config.yml strictly (configuration/parser.go: yaml.Unmarshal), so a key one version
does not know is dropped without a word: the renderer must render per version. The allowed paths are the yaml
tags of distribution 3.1.2's configuration/configuration.go and its filesystem and s3-aws driver parameters, and
those of 2.8.x for 2.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.selfhosted.config_file import (
    NotificationSettings,
    ProxySettings,
    RedisSettings,
    RegistrySettings,
    S3Settings,
    StorageSettings,
    TokenAuthSettings,
    render_registry_config,
)

COMMON = {
    "version",
    *(f"log.{k}" for k in ("level", "formatter", "fields")),
    "storage.filesystem.rootdirectory",
    "storage.filesystem.maxthreads",
    *(
        f"storage.s3.{k}"
        for k in (
            "region",
            "bucket",
            "regionendpoint",
            "encrypt",
            "keyid",
            "secure",
            "skipverify",
            "v4auth",
            "chunksize",
            "multipartcopychunksize",
            "multipartcopymaxconcurrency",
            "multipartcopythresholdsize",
            "rootdirectory",
            "storageclass",
        )
    ),
    "storage.delete.enabled",
    *(f"storage.maintenance.uploadpurging.{k}" for k in ("enabled", "age", "interval", "dryrun")),
    "storage.maintenance.readonly.enabled",
    "storage.redirect.disable",
    "storage.cache.blobdescriptor",
    *(f"http.{k}" for k in ("addr", "host", "headers", "draintimeout")),
    "http.debug.addr",
    "http.debug.prometheus.enabled",
    "http.debug.prometheus.path",
    *(f"http.tls.{k}" for k in ("certificate", "key", "minimumtls")),
    "auth.htpasswd.realm",
    "auth.htpasswd.path",
    *(f"auth.token.{k}" for k in ("realm", "service", "issuer", "rootcertbundle")),
    *(f"health.storagedriver.{k}" for k in ("enabled", "interval", "threshold")),
    "catalog.maxentries",
    "proxy.remoteurl",
    "notifications.events.includereferences",
    *(f"notifications.endpoints.{k}" for k in ("name", "url", "headers", "timeout", "threshold", "backoff")),
    "notifications.endpoints.ignore.mediatypes",
    "notifications.endpoints.ignore.actions",
    *(f"redis.{k}" for k in ("password", "db", "dialtimeout", "readtimeout", "writetimeout")),
}
ALLOWED = {
    # 2.8 infers path style from a custom endpoint and ignores forcepathstyle; redis is one address.
    2: COMMON | {"redis.addr", "storage.s3.forcepathstyle"},
    # 3.x: go-redis UniversalOptions (addrs), proxy.ttl, s3 forcepathstyle.
    3: COMMON | {"redis.addrs", "proxy.ttl", "storage.s3.forcepathstyle"},
}
OPAQUE = {"log.fields", "http.headers", "notifications.endpoints.headers"}
"""Maps whose keys are the user's (header names, log fields), not configuration keys."""


def _paths(node: Any, prefix: str = "") -> set[str]:
    if prefix in OPAQUE:
        return {prefix}
    if isinstance(node, dict):
        return {path for key, value in node.items() for path in _paths(value, f"{prefix}.{key}" if prefix else key)}
    if isinstance(node, list) and node and isinstance(node[0], dict):
        return {path for item in node for path in _paths(item, prefix)}
    return {prefix}


def _everything(major: int, token: bool) -> RegistrySettings:
    return RegistrySettings(
        major_version=major,
        storage=StorageSettings(
            s3=S3Settings(
                bucket="b",
                region="eu-west-1",
                region_endpoint="https://s3.example",
                force_path_style=True,
                kms_key_id="k",
                encryption="aws:kms",
                redirect_disable=True,
            )
        ),
        notifications=(
            NotificationSettings(
                name="n",
                url="https://hooks.example",
                headers={"X-A": "1"},
                authorization="Bearer t",
                ignored_media_types=("a/b",),
                ignored_actions=("pull",),
            ),
        ),
        redis=RedisSettings(addr="redis:6379", password="p"),
        read_only=True,
        proxy=ProxySettings(remote_url="https://up.example", ttl="72h" if major == 3 else None),
        drain_timeout="120s",
        token_auth=TokenAuthSettings(realm="https://auth.example", service="s", issuer="i") if token else None,
    )


@pytest.mark.parametrize("token", [False, True], ids=["htpasswd", "token"])
@pytest.mark.parametrize("major", [2, 3])
def test_every_rendered_key_is_read_by_the_version_it_is_rendered_for(major, token):
    rendered = _paths(yaml.safe_load(render_registry_config(_everything(major, token))))
    assert rendered - ALLOWED[major] == set()
    other = 5 - major
    assert rendered & (ALLOWED[other] - ALLOWED[major]) == set(), f"a registry {other} key rendered for {major}"


def test_filesystem_storage_keys_too():
    for major in (2, 3):
        rendered = _paths(yaml.safe_load(render_registry_config(RegistrySettings(major_version=major))))
        assert rendered - ALLOWED[major] == set()
        assert "storage.filesystem.rootdirectory" in rendered


def test_a_key_only_3_reads_is_refused_for_2_naming_key_and_version():
    with pytest.raises(ValueError, match=r"mirror\.ttl: proxy\.ttl exists in registry 3\.x only"):
        render_registry_config(RegistrySettings(major_version=2, proxy=ProxySettings(ttl="1h")))
