"""`retention apply` and `gc` pieces that the end-to-end run cannot steer: catalog/tag pagination the way
distribution sends it (Link headers), unreadable push times, 404/405 on DELETE, the read-only config, and the
errors a user sees before anything is contacted."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

import registryctl.cli
from components.retention.model import Outcome, RetentionIntent
from registryctl.cli import EXIT_CONFIG, EXIT_FAILED, main
from registryctl.gc import read_only_config
from registryctl.registry_client import RegistryCtlError
from registryctl.retention_apply import (
    Listing,
    RegistryApi,
    api_for,
    delete_expired,
    list_images,
    parse_created,
    run_apply,
)
from registryctl.stack_files import PROJECT_DIR

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _blob(document: dict[str, Any]) -> tuple[str, bytes]:
    data = json.dumps(document).encode()
    return f"sha256:{hashlib.sha256(data).hexdigest()}", data


class Registry:
    """Repositories as distribution serves them: catalog and tags in pages of `n` with a `Link: rel="next"`."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, bytes] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.deletes: list[str] = []
        self.delete_status = 202
        self.refusal = "deletes disabled"
        """How a 405 looks: distribution's JSON UNSUPPORTED (deletes disabled) or its router's plain
        "Method not allowed" with `Allow: GET, HEAD` (read-only: DELETE is not routed)."""

    def index(self, repository: str, tags: list[str], children: list[str]) -> str:
        """An OCI index over `children` (manifests already stored), tagged `tags`."""
        digest, manifest = _blob(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [
                    {"digest": child, "mediaType": "application/vnd.oci.image.manifest.v1+json"} for child in children
                ],
            }
        )
        self.manifests[digest] = manifest
        self.tags.setdefault(repository, {}).update(dict.fromkeys(tags, digest))
        return digest

    def image(self, repository: str, tags: list[str], created: str | None) -> str:
        config_digest, config = _blob({"created": created} if created else {"os": "linux"})
        self.blobs[config_digest] = config
        digest, manifest = _blob(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"digest": config_digest},
            }
        )
        self.manifests[digest] = manifest
        self.tags.setdefault(repository, {}).update(dict.fromkeys(tags, digest))
        return digest


def _page(names: list[str], query: dict[str, list[str]], path: str) -> tuple[list[str], str | None]:
    size = int(query.get("n", ["100"])[0])
    last = query.get("last", [""])[0]
    rest = [name for name in sorted(names) if name > last]
    page = rest[:size]
    more = len(rest) > size
    return page, f'<{path}?last={page[-1]}&n={size}>; rel="next"' if more else None


@pytest.fixture
def registry() -> Iterator[tuple[Registry, str]]:
    state = Registry()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            parts = url.path.split("/")
            if url.path == "/v2/_catalog":
                page, link = _page(list(state.tags), query, url.path)
                self._send(200, json.dumps({"repositories": page}).encode(), {"Link": link} if link else {})
            elif url.path.endswith("/tags/list"):
                repository = "/".join(parts[2:-2])
                page, link = _page(list(state.tags.get(repository, {})), query, url.path)
                body = json.dumps({"name": repository, "tags": page}).encode()
                self._send(200, body, {"Link": link} if link else {})
            elif "/manifests/" in url.path:
                repository, reference = url.path[4:].split("/manifests/")
                reference = unquote(reference)
                digest = state.tags.get(repository, {}).get(reference, reference)
                if digest not in state.manifests:
                    self._send(404)
                else:
                    self._send(200, state.manifests[digest], {"Docker-Content-Digest": digest})
            elif "/blobs/" in url.path:
                self._send(200, state.blobs[url.path.split("/blobs/")[1]])
            else:
                self._send(404)

        def do_HEAD(self) -> None:
            url = urlsplit(self.path)
            if "/manifests/" not in url.path:
                self._send(404)
                return
            repository, reference = url.path[4:].split("/manifests/")
            digest = state.tags.get(repository, {}).get(unquote(reference), unquote(reference))
            self._send(200 if digest in state.manifests else 404)

        def do_DELETE(self) -> None:
            repository, digest = urlsplit(self.path).path[4:].split("/manifests/")
            state.deletes.append(digest)
            if state.delete_status == 405 and state.refusal == "read-only":
                self._send(405, b"Method not allowed\n", {"Allow": "GET, HEAD", "Content-Type": "text/plain"})
            elif state.delete_status == 405:
                body = {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}
                self._send(405, json.dumps(body).encode(), {"Content-Type": "application/json"})
            elif state.delete_status != 202:
                self._send(state.delete_status)
            elif digest not in state.manifests:
                self._send(404)
            else:  # as distribution: the manifest goes, and every tag naming it
                del state.manifests[digest]
                state.tags[repository] = {t: d for t, d in state.tags.get(repository, {}).items() if d != digest}
                self._send(202)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_every_page_of_catalog_and_tags_is_listed_and_tags_group_by_digest(registry, monkeypatch):
    state, url = registry
    monkeypatch.setattr("registryctl.retention_apply.PAGE_SIZE", 2)
    digests = {f"repo-{i}": state.image(f"team/repo-{i}", ["a", "b", "c"], "2026-05-01T00:00:00Z") for i in range(5)}
    other = state.image("team/repo-0", ["d", "e"], "2026-05-02T00:00:00.123456789Z")
    listing = list_images(RegistryApi(url, "u", "p", None), NOW, lambda _m: None)
    found = {(image.repository, image.digest): image.tags for image in listing.images}
    assert found == {
        **{(f"team/{name}", digest): ("a", "b", "c") for name, digest in digests.items()},
        ("team/repo-0", other): ("d", "e"),
    }
    pushed = {image.digest: image.pushed_at for image in listing.images}
    assert pushed[other] == datetime(2026, 5, 2, 0, 0, 0, 123456, tzinfo=UTC)


def test_an_image_without_a_readable_created_is_never_expired_by_age(registry):
    state, url = registry
    old = state.image("app", ["old"], "2020-01-01T00:00:00Z")
    state.image("app", ["mystery"], None)
    out = io.StringIO()
    outcome = run_apply(
        RetentionIntent(tagged_days=30),
        {"endpoint": url[7:], "users": {"u": "p"}},
        now=NOW,
        yes=True,
        tls=False,
        out=out,
        err=io.StringIO(),
    )
    assert outcome.expire == {("app", old)}
    assert "pushed unknown tags mystery (taggedDays)" in out.getvalue()
    assert state.tags["app"] == {"mystery": state.tags["app"]["mystery"]}


def test_without_yes_nothing_is_deleted(registry):
    state, url = registry
    state.image("app", ["old"], "2020-01-01T00:00:00Z")
    out = io.StringIO()
    run_apply(
        RetentionIntent(tagged_days=30),
        {"endpoint": url[7:], "users": {"u": "p"}},
        now=NOW,
        yes=False,
        tls=False,
        out=out,
        err=io.StringIO(),
    )
    assert state.deletes == []
    assert "1 to delete, 0 to keep" in out.getvalue()
    assert "dry run" in out.getvalue()


def test_a_manifest_already_gone_counts_as_done_and_a_refused_delete_names_the_key(registry):
    state, url = registry
    digest = state.image("app", ["old"], "2020-01-01T00:00:00Z")
    api = RegistryApi(url, "u", "p", None)
    out = io.StringIO()
    assert delete_expired(api, frozenset({("app", digest)}), out, lambda _m: None) == 1
    assert delete_expired(api, frozenset({("app", digest)}), out, lambda _m: None) == 0  # a re-run after a crash
    assert f"already gone app@{digest}" in out.getvalue()
    state.delete_status = 405
    with pytest.raises(RegistryCtlError, match=r"registries:selfHosted\.storage\.deleteEnabled: true"):
        delete_expired(api, frozenset({("app", digest)}), io.StringIO(), lambda _m: None)


def test_a_405_in_a_gc_window_says_the_registry_is_read_only_not_that_deletes_are_off(registry):
    """Review L3: in read-only mode distribution does not route DELETE at all (plain 405, Allow: GET, HEAD);
    sending the user to set deleteEnabled, which is already true, would be wrong."""
    state, url = registry
    digest = state.image("app", ["old"], "2020-01-01T00:00:00Z")
    state.delete_status, state.refusal = 405, "read-only"
    with pytest.raises(RegistryCtlError) as raised:
        delete_expired(RegistryApi(url, "u", "p", None), frozenset({("app", digest)}), io.StringIO(), lambda _m: None)
    message = str(raised.value)
    assert "read-only" in message
    assert "registryctl gc" in message
    assert "deleteEnabled" not in message


def _apply_changing_after_the_listing(
    state: Registry, url: str, monkeypatch: pytest.MonkeyPatch, change: Any
) -> tuple[Outcome, str]:
    """run_apply, with `change()` made to the registry right after it listed (as another client would)."""
    import registryctl.retention_apply as module

    listed = module.list_images

    def list_then_change(*args: Any, **kwargs: Any) -> Listing:
        listing = listed(*args, **kwargs)
        change()
        return listing

    monkeypatch.setattr(module, "list_images", list_then_change)
    out = io.StringIO()
    outcome = run_apply(
        RetentionIntent(tagged_days=30),
        {"endpoint": url[7:], "users": {"u": "p"}},
        now=NOW,
        yes=True,
        tls=False,
        out=out,
        err=io.StringIO(),
    )
    return outcome, out.getvalue()


def test_a_digest_tagged_after_the_listing_is_skipped_and_reported_not_deleted(registry, monkeypatch):
    """Review M2: a DELETE by digest untags every tag naming it, also one promoted onto it after the listing."""
    state, url = registry
    old = state.image("app", ["sha-1"], "2020-01-01T00:00:00Z")
    other = state.image("app", ["sha-2"], "2020-01-02T00:00:00Z")
    outcome, out = _apply_changing_after_the_listing(
        state, url, monkeypatch, lambda: state.tags["app"].update(prod=old)
    )
    assert outcome.expire == {("app", old), ("app", other)}
    assert state.tags["app"] == {"sha-1": old, "prod": old}, "the promoted tag (and its digest) must survive"
    assert old not in state.deletes
    assert f"skipped (tagged prod since the listing; kept) app@{old}" in out
    assert f"deleted app@{other}" in out


def test_a_planned_tag_moved_away_does_not_keep_the_digest(registry, monkeypatch):
    state, url = registry
    old = state.image("app", ["sha-1", "stale"], "2020-01-01T00:00:00Z")
    newer = state.image("app", ["current"], "2026-05-31T00:00:00Z")
    _outcome, out = _apply_changing_after_the_listing(
        state, url, monkeypatch, lambda: state.tags["app"].update(stale=newer)
    )
    assert old in state.deletes
    assert f"deleted app@{old}" in out


def test_a_platform_image_an_index_pushed_after_the_listing_lists_is_kept(registry, monkeypatch):
    """Review M2: the leftovers of an expired index are checked against the indexes tagged at delete time."""
    state, url = registry
    shared = state.image("app", [], "2020-01-01T00:00:00Z")
    alone = state.image("app", [], "2020-01-02T00:00:00Z")
    expired_index = state.index("app", ["v1"], [shared, alone])
    outcome, out = _apply_changing_after_the_listing(
        state, url, monkeypatch, lambda: state.index("app", ["v2"], [shared])
    )
    assert outcome.expire == {("app", expired_index)}
    assert expired_index in state.deletes
    assert alone in state.deletes, "the leftover no index needs is deleted"
    assert shared not in state.deletes, "v2 lists it: deleting it breaks v2 on that platform"
    assert f"skipped (the index app:v2 lists it; kept) app@{shared}" in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-31T12:00:00Z", datetime(2026, 5, 31, 12, tzinfo=UTC)),
        ("2026-05-31T12:00:00.999999999Z", datetime(2026, 5, 31, 12, 0, 0, 999999, tzinfo=UTC)),
        ("2026-05-31T14:00:00+02:00", datetime(2026, 5, 31, 12, tzinfo=UTC)),
        ("2026-05-31T12:00:00", None),  # no zone: unknown, not guessed
        ("yesterday", None),
        (None, None),
    ],
)
def test_created_is_read_as_rfc3339(value, expected):
    assert parse_created(value) == expected


def test_read_only_config_only_switches_readonly_on():
    config = {"version": 0.1, "storage": {"delete": {"enabled": True}, "maintenance": {"readonly": {"enabled": False}}}}
    changed = yaml.safe_load(read_only_config(yaml.safe_dump(config).encode()))
    assert changed == {
        "version": 0.1,
        "storage": {"delete": {"enabled": True}, "maintenance": {"readonly": {"enabled": True}}},
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "stacks").mkdir()
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", tmp_path)
    return tmp_path


def _stack(project: Path, self_hosted: dict[str, Any]) -> None:
    (project / "stacks" / "Pulumi.local.yaml").write_text(
        yaml.safe_dump({"config": {"registries:selfHosted": self_hosted}})
    )


def test_apply_without_a_retention_block_says_which_key(project, capsys):
    _stack(project, {})
    assert main(["retention", "apply", "-s", "local"]) == EXIT_CONFIG  # a usage error: nothing ran
    assert "registries:selfHosted.retention" in capsys.readouterr().err


def test_retention_with_deletes_disabled_is_a_config_error(project, capsys):
    _stack(project, {"retention": {"taggedDays": 30}, "storage": {"kind": "filesystem", "deleteEnabled": False}})
    assert main(["retention", "apply", "-s", "local"]) == EXIT_CONFIG
    assert "registries:selfHosted.storage.deleteEnabled" in capsys.readouterr().err


def test_gc_with_deletes_disabled_says_which_key(project, capsys):
    _stack(project, {"storage": {"kind": "filesystem", "deleteEnabled": False}})
    assert main(["gc", "-s", "local"]) == EXIT_FAILED
    assert "registries:selfHosted.storage.deleteEnabled is false" in capsys.readouterr().err


def test_platform_images_go_with_their_expired_index_unless_a_kept_index_or_tag_needs_them():
    listing = Listing(platforms={("app", "old"): ("a", "shared", "tagged"), ("app", "new"): ("shared", "b")})
    outcome = Outcome(expire=frozenset({("app", "old")}), keep=frozenset({("app", "new"), ("app", "tagged")}))
    assert listing.platform_leftovers(outcome) == {("app", "a")}


def test_a_pinned_build_date_is_not_an_age(registry):
    # Reproducible builds set `created` to 1970 (ko, Jib, Bazel, Nix) or 1980 (buildpacks): never aged out.
    state, url = registry
    old = state.image("app", ["old"], "2020-01-01T00:00:00Z")
    state.image("app", ["ko"], "1970-01-01T00:00:00Z")
    state.image("app", ["buildpack"], "1980-01-01T00:00:01Z")
    outcome = run_apply(
        RetentionIntent(tagged_days=30),
        {"endpoint": url[7:], "users": {"u": "p"}},
        now=NOW,
        yes=True,
        tls=False,
        out=io.StringIO(),
        err=io.StringIO(),
    )
    assert outcome.expire == {("app", old)}
    assert set(state.tags["app"]) == {"ko", "buildpack"}


def test_a_registry_with_a_publicly_trusted_certificate_is_reached_over_https(tmp_path):
    # tls.mode: provided without tls.caCertificate leaves no caCertPem output: still HTTPS, system trust.
    api = api_for({"endpoint": "registry.example.com", "users": {"u": "p"}}, None, tmp_path, tls=True)
    try:
        assert api.base_url == "https://registry.example.com"
        assert api.verify is True
    finally:
        api.close()


def test_gc_on_a_kubernetes_stack_points_at_the_cronjob(project, capsys):
    # There is no Docker container to exec into; the message says where collection happens instead.
    config = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.k8s.yaml").read_text())["config"]
    config["registries:selfHosted"]["storage"]["deleteEnabled"] = True
    (project / "stacks" / "Pulumi.local.yaml").write_text(yaml.safe_dump({"config": config}))
    assert main(["gc", "-s", "local"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "platform is kubernetes" in err
    assert "registries:selfHosted.kubernetes.garbageCollect" in err
    assert "no registry container" not in err


def _referrer(state: Registry, repository: str, tags: list[str], subject: str | None, created: str) -> str:
    """A signature/attestation manifest (an OCI 1.1 artifact; with `subject` when given), tagged `tags`."""
    config_digest, config = _blob({"created": created})
    state.blobs[config_digest] = config
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "config": {"digest": config_digest},
        "annotations": {"signed": ",".join(tags) or str(subject)},  # as a real signature, one per subject
    }
    if subject is not None:
        document["subject"] = {"digest": subject, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    digest, manifest = _blob(document)
    state.manifests[digest] = manifest
    state.tags.setdefault(repository, {}).update(dict.fromkeys(tags, digest))
    return digest


def _scheme(subject: str, suffix: str = "") -> str:
    return f"sha256-{subject.removeprefix('sha256:')}{suffix}"


def test_signed_images_plan_and_delete_each_subject_with_its_referrers(registry):
    """Issue 27: referrers are never counted or aged; an expired image goes with its cosign tags, its referrers
    index and the referrer manifests that index lists; a kept image keeps its old signature; a signature of an
    untagged image goes with it (untaggedDays); a signature of a digest the registry does not hold goes."""
    state, url = registry
    old = "2020-01-01T00:00:00Z"
    kept = state.image("app", ["v1"], "2020-01-01T00:00:01Z")
    kept_sig = _referrer(state, "app", [_scheme(kept, ".sig")], None, old)
    nightly = state.image("app", ["nightly"], "2020-01-01T00:00:02Z")
    nightly_sig = _referrer(state, "app", [_scheme(nightly, ".sig")], None, old)
    nightly_att = _referrer(state, "app", [_scheme(nightly, ".att")], None, old)
    notation = _referrer(state, "app", [], nightly, old)  # untagged: listed by the referrers index only
    referrers_index = state.index("app", [_scheme(nightly)], [notation])
    untagged = state.image("app", [], "2020-01-01T00:00:03Z")
    untagged_sig = _referrer(state, "app", [_scheme(untagged, ".sig")], None, "2026-05-31T00:00:00Z")
    orphan_sig = _referrer(state, "app", [_scheme("sha256:" + "9" * 64, ".sig")], None, "2026-05-31T00:00:00Z")
    out = io.StringIO()
    outcome = run_apply(
        RetentionIntent(protect=("v*",), keep_latest=(), untagged_days=7, tagged_days=30),
        {"endpoint": url[7:], "users": {"u": "p"}},
        now=NOW,
        yes=True,
        tls=False,
        out=out,
        err=io.StringIO(),
    )
    gone = {nightly, nightly_sig, nightly_att, referrers_index, untagged, untagged_sig, orphan_sig}
    assert {digest for _, digest in outcome.expire} == gone
    assert set(state.manifests) & (gone | {notation}) == set()
    assert state.tags["app"] == {"v1": kept, _scheme(kept, ".sig"): kept_sig}
    text = out.getvalue()
    assert (
        f"keep   app@{kept_sig} pushed 2020-01-01T00:00:00+00:00 tags {_scheme(kept, '.sig')} (with its subject {kept})"
        in text
    )
    assert f"(sha256:{'9' * 64} is gone)" in text
    order = [line.split()[1] for line in text.splitlines() if line.startswith("deleted app@")]
    assert order.index(f"app@{nightly}") < min(order.index(f"app@{d}") for d in (nightly_sig, referrers_index))
    assert order.index(f"app@{untagged}") < order.index(f"app@{untagged_sig}")
    assert order[-1] == f"app@{notation}"  # the referrers index's leftovers come last


def test_a_subject_kept_after_all_keeps_its_referrers(registry, monkeypatch):
    """A subject that gains a tag after the listing is skipped; its signature, planned with it, stays with it."""
    state, url = registry
    old = state.image("app", ["sha-1"], "2020-01-01T00:00:00Z")
    signature = _referrer(state, "app", [_scheme(old, ".sig")], None, "2020-01-01T00:00:00Z")
    outcome, out = _apply_changing_after_the_listing(
        state, url, monkeypatch, lambda: state.tags["app"].update(prod=old)
    )
    assert outcome.expire == {("app", old), ("app", signature)}
    assert signature not in state.deletes
    assert f"skipped (its subject {old} is still there; kept with it) app@{signature}" in out
