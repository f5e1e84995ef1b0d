"""What a newcomer meets first (review newcomer-8b2eaff): the install has every runtime dependency, bad files give
one line and no traceback, the console script, exit codes as documented, every config problem at once, retention
inputs in YAML or JSON and an output that names repository, tags and rule, the offline examples."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from registryctl.cli import EXIT_CONFIG, EXIT_MISSING_EXTRA, EXIT_NO_CLI, EXIT_NOT_CONFIRMED, EXIT_USAGE, main
from registryctl.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Import name -> distribution name, for the modules registryctl imports that are not named like their distribution.
DISTRIBUTIONS = {
    "yaml": "pyyaml",
    "docker": "docker",
    "boto3": "boto3",
    "botocore": "boto3",
    "pydantic_core": "pydantic",
}
LOCAL = {"registries", "registryctl", "components", "providers", "examples", "plugin", "tests"}


def registryctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registryctl", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def requirement_names(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower())
    return names


def third_party_imports(folder: Path) -> set[str]:
    modules = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in LOCAL and m != "__future__"}


def test_every_module_registryctl_imports_is_a_runtime_dependency() -> None:
    # newcomer fix 1: gc (docker) and ECR login/verify (boto3) crashed after the README's install.
    runtime = requirement_names(ROOT / "requirements.txt")
    for module in sorted(third_party_imports(ROOT / "registryctl")):
        distribution = DISTRIBUTIONS.get(module, module.replace("_", "-"))
        assert distribution in runtime, f"registryctl imports {module}; add {distribution} to requirements.txt"
    assert {"docker", "boto3"} <= runtime


def test_pyproject_installs_requirements_txt_and_the_console_script() -> None:
    project = PYPROJECT["project"]
    assert project["scripts"] == {"registryctl": "registryctl.cli:main"}
    assert "dependencies" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]


def test_version_help_and_one_example_per_subcommand() -> None:
    version = registryctl("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("registryctl ")
    top = registryctl("--help")
    assert "exit codes:" in top.stdout
    for command in ("validate", "preview", "up", "refresh", "destroy", "outputs", "login", "verify", "gc"):
        page = registryctl(command, "--help")
        assert page.returncode == 0, command
        assert f"example:\n  registryctl {command}" in page.stdout, command
        assert f"  {command}" in top.stdout  # listed with a help line
    for action in ("simulate", "compile", "apply"):
        assert "example" in registryctl("retention", action, "--help").stdout, action


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"config:\n  registries:selfHosted:\n   port: 1\n  bad: [\n", "invalid YAML at line"),
        (b"- a\n- list\n", "got a YAML list"),
        (b"config: 3\n", "config: got a YAML int"),
        (b"config:\n  registries:selfHosted: {}\n\xff\xfe", "not UTF-8"),
        (None, "a directory"),
    ],
)
def test_a_bad_stack_file_is_one_line_and_validate_goes_on(tmp_path: Path, content: bytes | None, says: str) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    good = tmp_path / "Pulumi.local.yaml"
    good.write_text((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    result = registryctl("validate", "--stack-file", str(bad), "--stack-file", str(good))
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert f"{bad}: not a stack file" in result.stderr
    assert says in result.stderr
    assert "Pulumi.local.yaml: valid (selfHosted)" in result.stdout  # the next file was still checked


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory whose stacks/ the CLI reads, with a broken stack `bad` and the real `local` and `prod`."""
    from registryctl import cli

    (tmp_path / "stacks").mkdir()
    for name in ("local", "prod"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text("config: [unclosed\n")
    monkeypatch.setattr(cli, "PROJECT_DIR", tmp_path)
    monkeypatch.setattr("shutil.which", lambda name: None)  # no Pulumi CLI
    return tmp_path


@pytest.mark.parametrize("argv", [["up", "-s", "bad"], ["preview", "-s", "bad"], ["login", "-s", "bad"]])
def test_engine_commands_on_a_bad_stack_file_exit_2_without_traceback(project: Path, argv: list[str], capsys) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Pulumi.bad.yaml: not a stack file: invalid YAML" in err


def test_exit_codes_follow_the_documented_table(project: Path, capsys) -> None:
    assert main(["up", "-s", "nosuch"]) == EXIT_USAGE  # missing stack file
    assert "stacks: bad, local, prod" in capsys.readouterr().err
    assert main(["destroy", "-s", "local"]) == EXIT_USAGE  # destroy without --yes
    # Config is checked before the production question: prod lacks its TLS secrets, so 2, not 4.
    assert main(["up", "-s", "prod"]) == EXIT_CONFIG
    assert "tls.certificate" in capsys.readouterr().err
    for command in (
        ["up"],
        ["outputs"],
        ["destroy", "--yes"],
        ["login"],
        ["gc"],
        ["retention", "apply"],
    ):  # --backend checked without the CLI
        assert main([*command, "-s", "local", "--backend", "ftp://x"]) == EXIT_USAGE, command
    assert main(["up", "-s", "local"]) == EXIT_NO_CLI
    assert main(["validate", "-s", "nosuch"]) == EXIT_USAGE
    assert "stacks: bad, local, prod" in capsys.readouterr().err
    assert main(["validate", "-s", "local", "--stack-file", "x"]) == EXIT_USAGE
    with pytest.raises(SystemExit) as usage:
        main(["up"])  # argparse: -s is required
    assert usage.value.code == EXIT_USAGE
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 5, 130}
    assert EXIT_NOT_CONFIRMED == 4


def test_every_config_problem_shows_at_once_field_and_cross_field(tmp_path: Path, capsys) -> None:
    # The README's example: a bad port (field) and tls.mode none without insecure (cross-field).
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text("config:\n  registries:selfHosted:\n    port: 70000\n    tls: {mode: none}\n")
    assert main(["validate", "--stack-file", str(stack)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "registries:selfHosted.port" in err
    assert "registries:selfHosted.tls.mode" in err


def test_a_cross_field_problem_about_a_refused_key_is_not_doubled(tmp_path: Path, capsys) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text("config:\n  registries:selfHosted:\n    tls: {mode: none, insecure: maybe}\n")
    assert main(["validate", "--stack-file", str(stack)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "tls.insecure" in err


EXAMPLES = ROOT / "examples" / "retention"
NOW = "2026-01-31T00:00:00Z"


def test_the_offline_retention_example_gives_the_documented_outcome() -> None:
    result = registryctl(
        "retention", "simulate", "--platform", "intent", "--policy", str(EXAMPLES / "retention.yaml"),
        "--images", str(EXAMPLES / "images.json"), "--now", NOW,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    expired = {(e["repository"], e["digest"], tuple(e["tags"]), e["rule"]) for e in outcome["expire"]}
    assert expired == {
        ("app", "sha256:a06", ("release-1",), "keepLatest[0] (release-*, newest 3)"),
        ("app", "sha256:a09", ("pr-10",), "keepLatest[1] (pr-*, newest 2)"),
        ("app", "sha256:a10", (), "untaggedDays (7 days)"),
        ("app", "sha256:a12", ("nightly",), "taggedDays (180 days)"),
    }
    # One digest in two repositories: the output says which one each entry is about.
    kept = {(e["repository"], e["digest"]): e["rule"] for e in outcome["keep"]}
    assert kept[("tools", "sha256:a10")] == "protect[1] (stable)"
    for doc in (EXAMPLES / "README.md").read_text(), result.stdout:
        assert "sha256:a06" in doc


def test_policy_in_yaml_or_json_bare_or_wrapped_and_one_flag_name(tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"untaggedDays": 7}))
    wrapped = tmp_path / "wrapped.yaml"
    wrapped.write_text("retention:\n  untaggedDays: 7\n")
    outputs = [
        registryctl("retention", "compile", "--platform", "ecr", flag, str(path)).stdout
        for flag in ("--policy", "--intent")
        for path in (bare, wrapped)
    ]
    assert outputs[0]
    assert len(set(outputs)) == 1


def test_errors_name_the_kind_of_file(tmp_path: Path) -> None:
    images = tmp_path / "images.json"
    images.write_text('[{"repository": "a", "digest": "d", "tags": [], "pushedAt": "2026-01-01T00:00:00"}]')
    result = registryctl(
        "retention", "simulate", "--platform", "intent", "--policy", str(EXAMPLES / "retention.yaml"),
        "--images", str(images), "--now", NOW,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"invalid images file {images}" in result.stderr
    assert "stack config" not in result.stderr
    assert "Pulumi.yaml" not in result.stderr
    images.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in registryctl("retention", "simulate", "--platform", "intent", "--policy",
                                      str(EXAMPLES / "retention.yaml"), "--images", str(images)).stderr  # fmt: skip
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    compiled = registryctl("retention", "compile", "--platform", "ecr", "--policy", str(empty))
    assert "retention.retention" not in compiled.stderr


def test_intent_from_a_stack_file_with_s(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(
        "config:\n  registries:selfHosted:\n    image: registry:2.8.3\n    tls: {mode: selfSigned}\n"
        "    users: [{name: ci}]\n    retention: {untaggedDays: 7}\n"
    )
    result = registryctl(
        "retention", "simulate", "--platform", "intent", "--stack-file", str(stack),
        "--images", str(EXAMPLES / "images.json"), "--now", NOW,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [e["digest"] for e in json.loads(result.stdout)["expire"]] == ["sha256:a10"]
    assert registryctl("retention", "simulate", "--platform", "intent", "-s", "local", "--images",
                       str(EXAMPLES / "images.json")).returncode == 2  # fmt: skip


@pytest.mark.parametrize(("stack", "extra"), [("gcp", "gcp"), ("azure", "azure"), ("k8s", "k8s")])
def test_a_stack_names_the_extra_it_needs_before_anything_runs(
    stack: str, extra: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import importlib.util

    from registryctl.extras import EXTRA_MODULES

    real_find_spec = importlib.util.find_spec
    missing = set(EXTRA_MODULES[extra])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real_find_spec(name))
    monkeypatch.setattr("shutil.which", lambda name: None)  # the extra is named before the CLI is looked for
    assert main(["up", "-s", stack, "--yes"]) == EXIT_MISSING_EXTRA
    err = capsys.readouterr().err
    assert f"pip install -e '.[{extra}]'" in err
    assert main(["up", "-s", "local"]) == EXIT_NO_CLI  # a local stack needs no extra


def test_each_extra_installs_the_modules_registryctl_checks_for() -> None:
    from registryctl.extras import EXTRA_MODULES

    extras = PYPROJECT["tool"]["setuptools"]["dynamic"]["optional-dependencies"]
    for extra, modules in EXTRA_MODULES.items():
        files = extras[extra]["file"]
        names = set().union(*(requirement_names(ROOT / f) for f in files))
        assert {module.replace("_", "-") for module in modules} <= names, extra
        assert set(files) <= set(extras["all"]["file"])
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert all(f"-r {f}" in dev for f in extras["all"]["file"])  # CI installs every extra
