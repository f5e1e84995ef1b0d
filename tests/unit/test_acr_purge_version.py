"""The ACR purge task runs the acr-cli release whose semantics the simulator models, and uses only its flags.

ACR Tasks resolve the first word of a `cmd` step through the task's alias map: the task's own `alias.values` are
read first and the built-in image aliases never overwrite them (Azure/acr-builder graph/preprocessor.go
readAliasFromBytes, ExpandCommandAliases), so `alias: values: {acr: <image>}` pins the image `acr purge` runs. The
built-in `acr` alias moved from acr-cli 0.14 to 0.19 over 2024-2026 (acr-builder graph/global-defaults-linux.go
history; the Tasks YAML reference still lists 0.14), and the flags we emit changed meaning across those releases.
"""

from __future__ import annotations

import re

import pytest
import yaml

from components.acr import purge_commands, purge_task_yaml
from components.retention.acr import ACR_CLI_IMAGE, ACR_CLI_VERSION, compile_acr_policy
from components.retention.model import RetentionIntent

# `cmd.Flags()` of `acr purge` (Azure/acr-cli cmd/acr/purge.go, newPurgeCmd) at tag v0.18
# (9b1a801, 2026-02-18); the root command's persistent flags (--registry, --username, --password) are not emitted.
PURGE_FLAGS_V0_18 = frozenset(
    {
        "--untagged",
        "--untagged-only",  # new in v0.18 (Azure/acr-cli#489)
        "--dry-run",
        "--include-locked",
        "--ago",
        "--keep",
        "--filter",
        "--config",
        "--filter-timeout-seconds",
        "--concurrency",
        "--repository-page-size",
        "--help",
    }
)
# The same at tag v0.14 (the image the Tasks YAML reference still names for the `acr` alias): no --untagged-only,
# and --untagged deleted every untagged manifest whatever --ago said (purgeDanglingManifests took no cutoff).
PURGE_FLAGS_V0_14 = frozenset(
    {
        "--untagged",
        "--dry-run",
        "--ago",
        "--keep",
        "--filter",
        "--config",
        "--filter-timeout-seconds",
        "--concurrency",
        "--repository-page-size",
        "--help",
    }
)
FLAGS_BY_VERSION = {"0.18": PURGE_FLAGS_V0_18}


def _commands(dry_run: bool) -> list[str]:
    """Every flag the compiler can emit: untaggedDays (--untagged-only) and taggedDays (--untagged), dry run."""
    document = compile_acr_policy(RetentionIntent(untagged_days=7, tagged_days=30))
    return purge_commands(document, dry_run)


def unknown_flags(commands: list[str], flags: frozenset[str]) -> set[str]:
    return {flag for command in commands for flag in re.findall(r"(?<!\S)(--[a-z-]+)", command)} - flags


@pytest.mark.parametrize("dry_run", [False, True])
def test_every_flag_we_emit_exists_in_the_pinned_acr_cli_release(dry_run):
    commands = _commands(dry_run)
    assert {"--untagged-only", "--untagged", "--ago"} <= {w for c in commands for w in c.split()}
    assert unknown_flags(commands, FLAGS_BY_VERSION[ACR_CLI_VERSION]) == set()


def test_the_check_would_refuse_the_release_the_docs_name_for_the_alias():
    assert unknown_flags(_commands(False), PURGE_FLAGS_V0_14) == {"--untagged-only"}


def test_the_task_yaml_pins_the_acr_alias_to_the_modelled_release():
    document = yaml.safe_load(purge_task_yaml(_commands(False), 600))
    assert f"mcr.microsoft.com/acr/acr-cli:{ACR_CLI_VERSION}" == ACR_CLI_IMAGE
    assert document["alias"] == {"values": {"acr": ACR_CLI_IMAGE}}
    assert document["version"] == "v1.1.0"  # aliases exist from v1.1.0 on
    assert all(step["cmd"].startswith("acr purge ") for step in document["steps"])
