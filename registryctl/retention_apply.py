"""`registryctl retention apply -s STACK`: enforce the stack's `retention` block on a self-hosted registry.

The registry has no retention of its own, so this lists every repository (catalog, paginated) and tag over the
registry HTTP API, groups tags by manifest digest into images, evaluates the intent (components/retention/intent.py,
the same evaluator `retention simulate --platform intent` runs), prints the plan, and with --yes deletes the expired
manifests by digest. Push time is the image config's `created` (see README "Retention").

Crash safety: only digests of the expire set are deleted, each by its own DELETE, and a 404 counts as done; so a
process killed mid-apply leaves every kept image intact and a re-run (which lists again) finishes the job.

A DELETE by digest removes every tag that names the digest when it arrives (distribution untags them all), and a
run can be long (--delete-interval, many repositories). So just before each delete the repository's tags are read
again: a digest that gained a tag outside the plan (promoted, or a reproducible rebuild pushed again) is skipped and
reported, never deleted with it. The platform images of expired indexes are checked the same way against the
indexes tagged at that moment. An index nobody tags but someone pulls by digest is not listable over the API.

The plan is per image (a digest and every tag on it), so it means "delete the manifest" except in one case: an
expired tagged image that an index tagged now lists as a platform image (per-architecture tags merged into a
multi-platform tag, e.g. `imagetools create -t app:v2 app:sha-amd64 app:sha-arm64`). Its tags expire, its manifest
is still needed. On distribution 3 `DELETE /v2/<name>/manifests/<tag>` removes that tag alone (v3.0.0 and v3.1.1
registry/handlers/manifests.go DeleteManifest: `if imh.Tag != "" { ... tagService.Untag ... }`), so the planned tags
go and the manifest stays; distribution 2.8 has no tag delete (v2.8.3 manifests.go DeleteManifest deletes
`imh.Digest`, empty for a tag: 400 DIGEST_INVALID), so there the image is kept whole and reported. Expired indexes
are deleted first, so an index that is itself expiring keeps nothing alive.

Signatures, attestations, SBOMs and referrer indexes (cosign's `sha256-<hex>.sig` / `.att` / `.sbom` tags, the OCI
referrers fallback tag `sha256-<hex>`, manifests with a `subject`; distribution has no referrers API) are not images
to the rules: each is planned with its subject and deleted right after it, and only once the subject is gone (just
before each delete the subject is looked up: one that is still there, e.g. kept after all, keeps them). The subject
of a listed referrer may have no tag: it is read by digest and planned as an untagged image (so `untaggedDays`
decides it, and its referrers go with it); a platform image of a listed index stands for that index; a subject that
is not in the registry is gone, and its referrers go. A run killed between a subject and its referrers leaves
referrers of a gone subject, which the next run deletes.

Docker Hub repositories are enforced by registryctl/hub_retention.py, which shares the plan, progress and delete loop
defined here."""

from __future__ import annotations

import hashlib
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar
from urllib.parse import quote

import requests

from components.retention.intent import evaluate, intent_rules, referrers_of
from components.retention.model import Image, Outcome, RetentionIntent
from registryctl.errors import UsageError
from registryctl.registry_client import RegistryCtlError

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
INDEX_TYPES = MANIFEST_TYPES[2:]
PAGE_SIZE = 100
T = TypeVar("T")
UNKNOWN = "unknown"


class RegistryApi:
    """The registry's HTTP API as one user (Basic auth, the stack's CA), over a session."""

    def __init__(self, base_url: str, username: str, password: str, ca_file: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (username, password)
        self.verify: str | bool = ca_file or True  # per request: a session's verify loses to REQUESTS_CA_BUNDLE

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, f"{self.base_url}{path}", timeout=60, verify=self.verify, **kwargs)
        except requests.RequestException as error:
            raise RegistryCtlError(f"{method} {self.base_url}{path} failed: {type(error).__name__}: {error}") from None

    def _ok(self, response: requests.Response, what: str) -> requests.Response:
        if response.status_code == 401:
            raise RegistryCtlError(f"{what}: the registry refused the stack's credentials (401)")
        if response.status_code >= 400:
            raise RegistryCtlError(f"{what}: HTTP {response.status_code} {response.text[:200].strip()}")
        return response

    def _pages(self, path: str, key: str, what: str) -> Iterator[str]:
        """Follow the `Link: <...>; rel="next"` header distribution sends while more entries remain."""
        next_path: str | None = f"{path}?n={PAGE_SIZE}"
        while next_path:
            response = self._request("GET", next_path)
            if response.status_code == 404 and key == "tags":  # a repository whose last manifest is gone
                return
            body = self._ok(response, what).json()
            yield from body.get(key) or []
            match = re.search(r'<([^>]+)>;\s*rel="?next"?', response.headers.get("Link", ""))
            next_path = match.group(1) if match else None
            if next_path and next_path.startswith("http"):
                next_path = "/" + next_path.split("/", 3)[3]

    def repositories(self) -> list[str]:
        return list(self._pages("/v2/_catalog", "repositories", "listing the catalog"))

    def tags(self, repository: str) -> list[str]:
        return list(self._pages(f"/v2/{repository}/tags/list", "tags", f"listing the tags of {repository}"))

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest) of a tag or digest."""
        response = self._ok(
            self._request(
                "GET", f"/v2/{repository}/manifests/{quote(reference)}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
            ),
            f"reading the manifest {repository}:{reference}",
        )
        computed = f"sha256:{hashlib.sha256(response.content).hexdigest()}"
        digest = response.headers.get("Docker-Content-Digest") or computed
        return digest, response.json()

    def blob_json(self, repository: str, digest: str) -> dict[str, Any]:
        response = self._ok(
            self._request("GET", f"/v2/{repository}/blobs/{digest}"), f"reading the blob {repository}@{digest}"
        )
        return response.json()

    def tagged_now(self, repository: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every tag of `repository` as it is now: tag -> (digest, manifest)."""
        now: dict[str, tuple[str, dict[str, Any]]] = {}
        for tag in self.tags(repository):
            response = self._request(
                "GET", f"/v2/{repository}/manifests/{quote(tag)}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
            )
            if response.status_code == 404:  # untagged since the tag list was read
                continue
            self._ok(response, f"reading the manifest {repository}:{tag}")
            computed = f"sha256:{hashlib.sha256(response.content).hexdigest()}"
            now[tag] = (response.headers.get("Docker-Content-Digest") or computed, response.json())
        return now

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Remove one tag, leaving its manifest (distribution 3 only); False when the tag was already gone."""
        response = self._request("DELETE", f"/v2/{repository}/manifests/{quote(tag)}")
        if response.status_code == 404:
            return False
        if response.status_code == 405:
            raise RegistryCtlError(refused_delete_message(response))
        self._ok(response, f"deleting the tag {repository}:{tag}")
        return True

    def manifest_exists(self, repository: str, digest: str) -> bool:
        """Whether the repository holds the manifest `digest` (tagged or not)."""
        response = self._request(
            "HEAD", f"/v2/{repository}/manifests/{digest}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        if response.status_code == 404:
            return False
        self._ok(response, f"looking up {repository}@{digest}")
        return True

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete one manifest (every tag naming it goes with it); False when it was already gone."""
        response = self._request("DELETE", f"/v2/{repository}/manifests/{digest}")
        if response.status_code == 404:
            return False
        if response.status_code == 405:
            raise RegistryCtlError(refused_delete_message(response))
        self._ok(response, f"deleting {repository}@{digest}")
        return True


def refused_delete_message(response: requests.Response) -> str:
    """Why distribution answered a DELETE with 405. Read-only (a `registryctl gc` window, or
    storage.maintenance.readonly): DELETE is not routed at all, so the router's plain "Method not allowed" with
    `Allow: GET, HEAD` (distribution v2.8.3/v3.0.0 registry/handlers/manifests.go registers PUT and DELETE only
    when not read-only). Deletes disabled: the handler's JSON error UNSUPPORTED."""
    allowed = {method.strip().upper() for method in response.headers.get("Allow", "").split(",") if method.strip()}
    if "UNSUPPORTED" not in response.text and (not allowed or "DELETE" not in allowed):
        return (
            "the registry is read-only (405 on DELETE): a `registryctl gc` is running (or was interrupted, which "
            "the next `registryctl gc` repairs), or storage.maintenance.readonly is on; run retention apply again "
            "once gc has finished"
        )
    return "the registry refuses deletes (405): set registries:selfHosted.storage.deleteEnabled: true and deploy"


# Reproducible builds pin `created` to an epoch; no real image was built before this.
REPRODUCIBLE_BUILD_DATES_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)


def parse_created(value: Any) -> datetime | None:
    """An image config's `created` (RFC 3339, Go prints up to 9 fraction digits), or None when absent/unreadable."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        created = datetime.fromisoformat(text)
    except ValueError:
        return None
    if created.tzinfo is None or created < REPRODUCIBLE_BUILD_DATES_BEFORE:
        return None  # a pinned build date (ko, Jib, Bazel, Nix: 1970; buildpacks: 1980) says nothing of age
    return created


def pushed_at(api: RegistryApi, repository: str, manifest: Mapping[str, Any]) -> datetime | None:
    """The config's `created`; for a multi-platform index, the newest `created` among its platform images."""
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        times = [
            pushed_at(api, repository, api.manifest(repository, child["digest"])[1])
            for child in manifest.get("manifests", [])
        ]
        known = [t for t in times if t is not None]
        return max(known) if known else None
    config = manifest.get("config") or {}
    if "digest" not in config:
        return None
    return parse_created(api.blob_json(repository, config["digest"]).get("created"))


@dataclass
class Listing:
    """The registry's tagged images, and those whose push time could not be read (counted as pushed now)."""

    images: list[Image] = field(default_factory=list)
    unknown_time: set[tuple[str, str]] = field(default_factory=set)
    platforms: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """Per multi-platform index: the digests of its platform images (untagged manifests of the same repository)."""

    def platform_leftovers(self, outcome: Outcome) -> frozenset[tuple[str, str]]:
        """Platform images of expired indexes that no kept index and no kept tag still needs: deleting the index
        alone would leave them linked, so gc could not free them."""
        expired = {(r, d) for (r, i), ds in self.platforms.items() if (r, i) in outcome.expire for d in ds}
        needed = {(r, d) for (r, i), ds in self.platforms.items() if (r, i) not in outcome.expire for d in ds}
        return frozenset(expired - needed - outcome.keep)


def list_images(api: RegistryApi, now: datetime, progress: Callable[[str], None]) -> Listing:
    """Every tagged image of every repository (untagged manifests are not listable over the API)."""
    listing = Listing()
    repositories = api.repositories()
    for number, repository in enumerate(repositories, 1):
        tags_by_digest: dict[str, list[str]] = {}
        manifests: dict[str, dict[str, Any]] = {}
        for tag in api.tags(repository):
            digest, manifest = api.manifest(repository, tag)
            tags_by_digest.setdefault(digest, []).append(tag)
            manifests[digest] = manifest
        for digest, tags in tags_by_digest.items():
            _add_image(api, listing, repository, digest, tuple(sorted(tags)), manifests[digest], now)
        _add_subjects(api, listing, repository, now)
        progress(f"[{number}/{len(repositories)}] {repository}: {len(tags_by_digest)} images")
    return listing


def _subject_field(manifest: Mapping[str, Any]) -> str | None:
    subject = manifest.get("subject")
    return str(subject["digest"]) if isinstance(subject, dict) and subject.get("digest") else None


def _add_image(
    api: RegistryApi,
    listing: Listing,
    repository: str,
    digest: str,
    tags: tuple[str, ...],
    manifest: Mapping[str, Any],
    now: datetime,
) -> None:
    if "manifests" in manifest:
        listing.platforms[(repository, digest)] = tuple(str(child["digest"]) for child in manifest["manifests"])
    created = pushed_at(api, repository, manifest)
    if created is None:  # unknown age: newest, so no age rule can delete it
        listing.unknown_time.add((repository, digest))
    listing.images.append(Image(repository, digest, tags, created or now, _subject_field(manifest)))


def _add_subjects(api: RegistryApi, listing: Listing, repository: str, now: datetime) -> None:
    """The subjects of the repository's referrers that have no tag: a platform image of a listed index stands for
    that index (the referrer goes with the index); one the registry holds is added as an untagged image; one it
    does not hold is gone (the referrer goes)."""
    own = [image for image in listing.images if image.repository == repository]
    listed = {image.digest for image in own}
    index_of = {
        child: index
        for (name, index), children in sorted(listing.platforms.items(), reverse=True)
        if name == repository
        for child in children
    }
    for image in own:
        subject = image.refers_to
        if subject is None or subject in listed:
            continue
        if subject in index_of:
            position = listing.images.index(image)
            listing.images[position] = replace(image, subject=index_of[subject])
        elif api.manifest_exists(repository, subject):
            _, manifest = api.manifest(repository, subject)
            _add_image(api, listing, repository, subject, (), manifest, now)
            listed.add(subject)


def governing_rule(intent: RetentionIntent, image: Image) -> str:
    return next((rule.name for rule in intent_rules(intent) if rule.matches(image)), "no rule")


def format_plan(
    intent: RetentionIntent | Mapping[str, RetentionIntent],
    listing: Listing,
    outcome: Outcome,
    reasons: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """One line per image: action, repository@digest, push time, tags, the rule that governs it (or its entry in
    `reasons`). `intent` is one for every repository, or one per repository."""
    lines = []
    for image in sorted(listing.images, key=lambda i: (i.repository, i.pushed_at, i.digest)):
        action = "expire" if image.key in outcome.expire else "keep"
        when = UNKNOWN if image.key in listing.unknown_time else image.pushed_at.astimezone(UTC).isoformat()
        tags = ",".join(image.tags) or "-"
        own = intent if isinstance(intent, RetentionIntent) else intent[image.repository]
        reason = (reasons or {}).get(image.key) or governing_rule(own, image)
        lines.append(f"{action:<6} {image.repository}@{image.digest} pushed {when} tags {tags} ({reason})")
    lines.append(f"{len(outcome.expire)} to delete, {len(outcome.keep)} to keep")
    if leftovers := listing.platform_leftovers(outcome):
        lines.append(f"and {len(leftovers)} platform images of the expired multi-platform indexes")
    return "\n".join(lines)


DELETED = "deleted"


def delete_each(
    items: Sequence[T],
    delete: Callable[[T], str],
    label: Callable[[T], str],
    out: TextIO,
    progress: Callable[[str], None],
    interval: float = 0.0,
) -> int:
    """Delete each item in order, one request each, printing `<what happened> <label>` per item (`delete` returns
    DELETED, "already gone", or why it left the item alone); returns how many were deleted now."""
    deleted = 0
    for number, item in enumerate(items, 1):
        result = delete(item)
        deleted += result == DELETED
        print(f"{result} {label(item)}", file=out, flush=True)
        progress(f"[{number}/{len(items)}] deleted")
        if interval and number < len(items):
            time.sleep(interval)  # spreads the deletes (and gives tests a window to kill the process)
    return deleted


Check = Callable[[tuple[str, str]], str | None]
"""Just before a delete: why the manifest must stay after all (it changed since the listing), or None."""


def delete_expired(
    api: RegistryApi,
    expire: frozenset[tuple[str, str]],
    out: TextIO,
    progress: Callable[[str], None],
    interval: float = 0.0,
    check: Check | None = None,
    first: frozenset[tuple[str, str]] = frozenset(),
) -> int:
    """Delete each expired manifest that `check` still lets go, those in `first` first; returns how many were
    deleted now. A check's reason starting with UNTAGGED means it removed the tags itself and kept the manifest."""

    def delete(key: tuple[str, str]) -> str:
        reason = check(key) if check is not None else None
        if reason is not None:
            return reason if reason.startswith(UNTAGGED) else f"skipped ({reason})"
        return DELETED if api.delete_manifest(*key) else "already gone"

    order = sorted(expire, key=lambda key: (key not in first, key))
    return delete_each(order, delete, lambda key: f"{key[0]}@{key[1]}", out, progress, interval)


UNTAGGED = "untagged"


def gained_tags(
    api: RegistryApi, planned: Mapping[tuple[str, str], tuple[str, ...]], *, tag_deletes: bool = False
) -> Check:
    """The check of an expired manifest: the tags naming it now must all be tags the plan saw on it, and no index
    tagged now may list it. When one does, the plan's meaning is "remove these tags": with `tag_deletes`
    (distribution 3) they are removed one by one and the manifest stays; without (2.8), the image is kept whole."""

    def check(key: tuple[str, str]) -> str | None:
        repository, digest = key
        tagged = api.tagged_now(repository)
        now = {tag for tag, (named, _m) in tagged.items() if named == digest}
        extra = sorted(now - set(planned.get(key, ())))
        if extra:
            return f"tagged {', '.join(extra)} since the listing; kept"
        listing = sorted(
            tag
            for tag, (named, manifest) in tagged.items()
            if named != digest and any(child.get("digest") == digest for child in manifest.get("manifests") or [])
        )
        if not listing:
            return None
        index = f"the index {repository}:{listing[0]} lists it"
        if not tag_deletes:
            return f"{index}; kept whole: registry 2.x cannot delete a tag alone"
        removed = [tag for tag in sorted(now) if api.delete_tag(repository, tag)]
        return f"{UNTAGGED} {', '.join(removed) or '(none left)'} ({index}; the manifest stays)"

    return check


def still_needed(api: RegistryApi) -> Check:
    """The check of a platform image of an expired index: no tag names it and no index tagged now lists it."""

    def check(key: tuple[str, str]) -> str | None:
        repository, digest = key
        tagged = api.tagged_now(repository)
        tags = sorted(tag for tag, (named, _m) in tagged.items() if named == digest)
        if tags:
            return f"tagged {', '.join(tags)} since the listing; kept"
        for tag, (_named, manifest) in sorted(tagged.items()):
            if any(child.get("digest") == digest for child in manifest.get("manifests") or []):
                return f"the index {repository}:{tag} lists it; kept"
        return None

    return check


def referrer_reasons(images: Sequence[Image]) -> dict[tuple[str, str], str]:
    """The plan's reason for each referrer: the subject it goes with, or that its subject is gone."""
    roots = referrers_of(images)
    return {
        image.key: f"with its subject {roots[image.key][1]}" if image.key in roots else f"{image.refers_to} is gone"
        for image in images
        if image.refers_to is not None
    }


def referrer_depths(images: Sequence[Image]) -> dict[tuple[str, str], int]:
    """Per referrer: how many links lead from it to an image (1 for a signature of an image), capped at the count
    of images (a loop)."""
    by_key = {image.key: image for image in images}
    depths: dict[tuple[str, str], int] = {}
    for image in images:
        depth, current = 0, image
        while current.refers_to is not None and depth < len(images):
            depth += 1
            following = by_key.get((image.repository, current.refers_to))
            if following is None:
                break
            current = following
        if depth:
            depths[image.key] = depth
    return depths


def subject_gone(
    api: RegistryApi,
    referrers: Mapping[tuple[str, str], Image],
    roots: Mapping[tuple[str, str], tuple[str, str]],
    then: Check,
) -> Check:
    """The check of an expired referrer: the manifest it refers to (and the image at the root of its chain) must be
    gone now; then `then`."""

    def check(key: tuple[str, str]) -> str | None:
        repository = key[0]
        for digest in dict.fromkeys([referrers[key].refers_to, roots.get(key, (repository, None))[1]]):
            if digest is not None and api.manifest_exists(repository, digest):
                return f"its subject {digest} is still there; kept with it"
        return then(key)

    return check


def progress_printer(err: TextIO) -> Callable[[str], None]:
    """The progress display: one `retention: ...` line per step on stderr."""

    def progress(message: str) -> None:
        print(f"retention: {message}", file=err, flush=True)

    return progress


def show_plan(plan: str, yes: bool, out: TextIO) -> bool:
    """Print the plan; True when the run may delete (--yes), else say that nothing was deleted."""
    print(plan, file=out, flush=True)
    if not yes:
        print("dry run: nothing deleted; run again with --yes to delete", file=out)
    return yes


def api_for(outputs: Mapping[str, Any], user: str | None, ca_dir: Path, *, tls: bool) -> RegistryApi:
    """A client of the stack's registry from its outputs: endpoint, CA (none: the system's trust), a user's
    password; `tls` is whether the registry serves HTTPS (a publicly trusted certificate comes with no CA)."""
    users: Mapping[str, str] = outputs.get("users") or {}
    if not users or not outputs.get("endpoint"):
        raise RegistryCtlError("the stack has no endpoint/users outputs: is registries:selfHosted deployed?")
    name = user or next(iter(users))
    if name not in users:
        raise RegistryCtlError(f"no user {name!r} in the stack; users: {', '.join(users)}")
    ca_pem = str(outputs.get("caCertPem") or "")
    ca_file = None
    if ca_pem:
        ca_file = ca_dir / "ca.crt"
        ca_file.write_text(ca_pem)
    scheme = "https" if tls else "http"
    return RegistryApi(f"{scheme}://{outputs['endpoint']}", name, users[name], str(ca_file) if ca_file else None)


def run_apply(
    intent: RetentionIntent,
    outputs: Mapping[str, Any],
    *,
    now: datetime,
    yes: bool,
    tls: bool,
    user: str | None = None,
    interval: float = 0.0,
    tag_deletes: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> Outcome:
    """List, evaluate, print the plan; delete the expire set only when `yes`. `tag_deletes`: the registry
    deletes a tag alone (distribution 3)."""
    progress = progress_printer(err)
    if intent.is_empty:
        raise UsageError("registries:selfHosted.retention has no rules: nothing would ever be deleted")
    with tempfile.TemporaryDirectory(prefix="registryctl-") as ca_dir:
        api = api_for(outputs, user, Path(ca_dir), tls=tls)
        try:
            listing = list_images(api, now, progress)
            outcome = evaluate(intent, listing.images, now)
            reasons = referrer_reasons(listing.images)
            if not show_plan(format_plan(intent, listing, outcome, reasons), yes, out):
                return outcome
            planned = {image.key: image.tags for image in listing.images}
            check = gained_tags(api, planned, tag_deletes=tag_deletes)
            referrers = {image.key: image for image in listing.images if image.refers_to is not None}
            images = outcome.expire - set(referrers)
            indexes = frozenset(listing.platforms)  # first: an expiring index must not keep its platform images
            deleted = delete_expired(api, images, out, progress, interval, check, first=indexes)
            # Then what refers to them, each only once its subject is gone (a subject kept after all keeps them).
            depths = referrer_depths(listing.images)
            with_subject = subject_gone(api, referrers, referrers_of(listing.images), check)
            for depth in sorted(set(depths.values())):
                level = frozenset(key for key in outcome.expire if depths.get(key) == depth)
                deleted += delete_expired(api, level, out, progress, interval, with_subject)
            # After the indexes: a crash in between leaves orphaned platform images, never a broken kept image.
            leftovers = listing.platform_leftovers(outcome)
            deleted += delete_expired(api, leftovers, out, progress, interval, still_needed(api))
            print(f"deleted {deleted} manifests; run `registryctl gc -s STACK` to free their storage", file=out)
            return outcome
        finally:
            api.close()
