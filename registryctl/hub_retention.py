"""`registryctl retention apply -s STACK` on Docker Hub: enforce each repository's `retention` block through Hub's
tag API, with the same contract as the self-hosted apply (registryctl/retention_apply.py, whose plan, progress and
delete loop this reuses).

Hub's image model is per tag. `GET /v2/namespaces/{ns}/repositories/{repo}/tags` lists every tag with the digest it
points at (for a multi-platform image, the index's digest) and `tag_last_pushed`; tags are grouped by digest into
the images the intent evaluates. An image's push time is the NEWEST `tag_last_pushed` of its tags (the tag's
`last_updated` when Hub has no push time for it; neither: treated as pushed now and shown `pushed unknown`): an image
someone pushed again yesterday under any tag is in use, so age rules must not see it as old, and it can only make
an image look newer, never older, than any one of its tags (the safe side). It also keeps a half-deleted image from
moving up a keepLatest ranking and pushing a kept image out (losing tags only lowers its newest push time).

Hub cannot delete an image by digest: an expired image goes away tag by tag (`DELETE
/v2/repositories/{ns}/{repo}/tags/{tag}/`, the route Hub's UI and hub-tool use; the published spec has none), and the
untagged manifest stays on Hub. A run killed between two tags of one image leaves an image with fewer tags, which a
fresh evaluation might keep (e.g. it now matches only a rule that keeps it). So before the first delete the plan's
expire set (digest, tags and push time per image) is written to a journal ($XDG_STATE_HOME/registries/retention/,
per stack); the next run re-evaluates the journaled images whose remaining tags still point at the journaled digest
and gained no new tag, as journaled (every tag, push time) under TODAY's retention: it finishes those still expired,
leaves and reports those no longer expired (e.g. a `protect` added since), then removes the journal. Each tag is
read again right before its delete and left alone when it now points at another image (a push since the listing).
Untagged images are not listed by the tags API, so `untaggedDays` does not apply on Hub.

Signatures, attestations, SBOMs and referrer indexes (cosign's `sha256-<hex>.sig` / `.att` / `.sbom` tags, the OCI
referrers fallback tag `sha256-<hex>`) are not images to the rules: each goes with its subject, in the same plan,
journal and run, its tags deleted right after the subject's. A referrer whose subject has no tag is kept: Hub keeps
the untagged manifest (pullable by digest), so the signature still verifies it; only a subject an interrupted apply
journaled as expired counts as gone."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from components.retention.intent import evaluate
from components.retention.model import Image, Outcome, RetentionIntent, by_repository
from providers.dockerhub.client import HubClient, HubError, HubNotFound
from registries.config.dockerhub import DockerHubSpec
from registryctl.backend import state_dir
from registryctl.errors import UsageError
from registryctl.registry_client import RegistryCtlError
from registryctl.retention_apply import (
    DELETED,
    Listing,
    delete_each,
    format_plan,
    progress_printer,
    referrer_reasons,
    show_plan,
)
from registryctl.stack_outputs import hub_credentials_of, open_stack

JOURNAL_VERSION = 1
Key = tuple[str, str]
"""(namespace/repository, digest) of an image."""
TagRef = tuple[str, str, str]
"""(namespace/repository, digest, tag): one tag of an expired image."""


def hub_time(value: Any) -> datetime | None:
    """A Hub date-time (`2021-01-05T21:06:53.506400Z`), or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def tag_digest(tag: Mapping[str, Any]) -> str | None:
    """The digest a listed tag points at: its `digest`, else the digest of its only platform image."""
    digest = tag.get("digest")
    if isinstance(digest, str) and digest:
        return digest
    platforms = [image for image in tag.get("images") or [] if isinstance(image, dict) and image.get("digest")]
    return str(platforms[0]["digest"]) if len(platforms) == 1 else None


def tag_pushed_at(tag: Mapping[str, Any]) -> datetime | None:
    return hub_time(tag.get("tag_last_pushed")) or hub_time(tag.get("last_updated"))


def list_hub_images(
    client: HubClient, repositories: Sequence[str], now: datetime, progress: Callable[[str], None]
) -> tuple[Listing, list[str]]:
    """The tagged images of each repository (namespace/name), and the tags Hub gives no digest for (left alone)."""
    listing = Listing()
    no_digest: list[str] = []
    for number, full_name in enumerate(repositories, 1):
        namespace, name = full_name.split("/", 1)
        pushes: dict[str, list[tuple[str, datetime | None]]] = {}
        try:
            for tag in client.list_tags(namespace, name):
                digest = tag_digest(tag)
                if digest is None:
                    no_digest.append(f"{full_name}:{tag.get('name')}")
                    continue
                pushes.setdefault(digest, []).append((str(tag["name"]), tag_pushed_at(tag)))
        except HubNotFound:
            raise RegistryCtlError(
                f"Docker Hub has no repository {full_name}: deploy the stack (`registryctl up`) first"
            ) from None
        for digest, tags in pushes.items():
            known = [pushed for _, pushed in tags if pushed is not None]
            if not known:  # unknown age: newest, so no age rule can delete it
                listing.unknown_time.add((full_name, digest))
            listing.images.append(Image(full_name, digest, tuple(sorted(t for t, _ in tags)), max(known or [now])))
        tag_count = sum(map(len, pushes.values()))
        progress(f"[{number}/{len(repositories)}] {full_name}: {tag_count} tags, {len(pushes)} images")
    return listing, no_digest


def evaluate_each(intents: Mapping[str, RetentionIntent], images: Sequence[Image], now: datetime) -> Outcome:
    """Each repository's images under its own intent."""
    expired: set[Key] = set()
    for repository, own in by_repository(images).items():
        expired |= evaluate(intents[repository], own, now).expire
    return Outcome.of(images, expired)


@dataclass(frozen=True)
class JournaledImage:
    """An image as the interrupted run planned it: every tag it had, and its push time (None in older journals)."""

    tags: frozenset[str]
    pushed_at: datetime | None


@dataclass(frozen=True)
class Journal:
    """The expire set of a run that deletes, written before its first delete and removed after its last."""

    path: Path
    base_url: str

    @staticmethod
    def for_stack(stack: str, base_url: str, environ: Mapping[str, str] = os.environ) -> Journal:
        return Journal(state_dir(environ) / "retention" / f"{stack}.dockerhub.json", base_url)

    def load(self, note: Callable[[str], None]) -> dict[Key, JournaledImage]:
        """The journaled images; {} when there is none (or it is of another Hub)."""
        if not self.path.exists():
            return {}
        try:
            document = json.loads(self.path.read_text())
            images = {
                (e["repository"], e["digest"]): JournaledImage(frozenset(e["tags"]), hub_time(e.get("pushedAt")))
                for e in document["images"]
            }
            base_url = document["baseUrl"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RegistryCtlError(
                f"the retention journal {self.path} is unreadable ({type(error).__name__}: {error}); "
                "delete it to plan afresh"
            ) from None
        if base_url != self.base_url:
            note(f"ignoring {self.path}: it was written for {base_url}, the stack now uses {self.base_url}")
            return {}
        return images

    def write(
        self, images: Mapping[Key, Sequence[str]], now: datetime, pushed_at: Mapping[Key, datetime] | None = None
    ) -> None:
        pushed = pushed_at or {}
        document = {
            "version": JOURNAL_VERSION,
            "baseUrl": self.base_url,
            "plannedAt": now.astimezone(UTC).isoformat(),
            "images": [
                {"repository": r, "digest": d, "tags": list(images[r, d])}
                | ({"pushedAt": pushed[r, d].astimezone(UTC).isoformat()} if (r, d) in pushed else {})
                for r, d in sorted(images)
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_suffix(".partial")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
            json.dump(document, stream, indent=1)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, self.path)  # atomic: a crash leaves the old journal or the new one, never half

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def unfinished(journaled: Mapping[Key, JournaledImage], listing: Listing) -> tuple[dict[Key, tuple[str, ...]], int]:
    """Journaled images to finish (still tagged, only with journaled tags) with their remaining tags, and how many
    changed since (a new tag: they are evaluated afresh instead)."""
    current = {image.key: image.tags for image in listing.images}
    pending: dict[Key, tuple[str, ...]] = {}
    changed = 0
    for key, image in journaled.items():
        remaining = current.get(key)
        if not remaining:
            continue  # every tag gone (or the repository no longer enforced): nothing to finish
        if set(remaining) <= image.tags:
            pending[key] = remaining
        else:
            changed += 1
    return pending, changed


def untagged_subjects(listing: Listing, journaled: Mapping[Key, JournaledImage], now: datetime) -> list[Image]:
    """The subjects of listed referrers that have no tag (so are not listed), as untagged images pushed `now`: Hub
    keeps them, so their referrers stay. Subjects an interrupted apply journaled as expired are gone instead."""
    listed = {image.key for image in listing.images}
    missing = {
        (image.repository, image.refers_to)
        for image in listing.images
        if image.refers_to is not None and (image.repository, image.refers_to) not in listed
    }
    return [Image(r, d, (), now) for r, d in sorted(missing) if (r, d) not in journaled]


def units_first(keys: frozenset[Key], images: Sequence[Image]) -> list[Key]:
    """`keys` in deletion order: per repository, every image before what refers to it (subject, then its signatures,
    then theirs), so an interrupted run never leaves a kept subject without its referrers."""
    by_repository: dict[str, dict[str, Image]] = {}
    for image in images:
        by_repository.setdefault(image.repository, {})[image.digest] = image

    def depth(key: Key) -> int:
        found, image = 0, by_repository[key[0]][key[1]]
        while image.refers_to is not None and image.refers_to in by_repository[key[0]] and found < len(images):
            found, image = found + 1, by_repository[key[0]][image.refers_to]
        return found

    return sorted(keys, key=lambda key: (key[0], depth(key), key[1]))


def delete_tag(client: HubClient, ref: TagRef) -> str:
    """Delete one tag of an expired image, unless it has moved to another image since the listing."""
    repository, digest, tag = ref
    namespace, name = repository.split("/", 1)
    current = client.read_tag(namespace, name, tag)
    if current is None:
        return "already gone"
    if tag_digest(current) != digest:
        return f"left alone (pushed again as {tag_digest(current)})"
    return DELETED if client.delete_tag(namespace, name, tag) else "already gone"


def run_hub_apply(
    spec: DockerHubSpec,
    client: HubClient,
    journal: Journal,
    *,
    now: datetime,
    yes: bool,
    interval: float = 0.0,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> Outcome:
    """List, evaluate, print the plan (with what an interrupted run left); delete only when `yes`."""
    progress = progress_printer(err)
    intents: dict[str, RetentionIntent] = {}
    for repo in spec.repositories:
        block = spec.retention_of(repo)
        if block is not None and not (intent := block.intent()).is_empty:
            intents[f"{repo.namespace or spec.namespace}/{repo.name}"] = intent
    if not intents:
        raise UsageError("registries:dockerHub: no repository has a retention block with rules")
    try:
        listing, no_digest = list_hub_images(client, list(intents), now, progress)
        journaled = journal.load(progress)
        kept_untagged = untagged_subjects(listing, journaled, now)
        listing.images += kept_untagged
        listing.unknown_time |= {image.key for image in kept_untagged}
        pending, changed = unfinished(journaled, listing)
        # A half-deleted image is judged as the interrupted run saw it (every tag, its push time), by today's rules.
        images = [
            Image(
                i.repository, i.digest, tuple(sorted(journaled[i.key].tags)), journaled[i.key].pushed_at or i.pushed_at
            )
            if i.key in pending
            else i
            for i in listing.images
        ]
        plan = evaluate_each(intents, images, now)
        reasons = {key: "finishing an interrupted apply" for key in pending if key in plan.expire}
        reasons = {**referrer_reasons(images), **reasons}
        for image in kept_untagged:
            reasons[image.key] = "untagged on Docker Hub, kept: its signatures stay with it"
        notes = [f"tag {ref} has no digest on Docker Hub: left alone" for ref in no_digest]
        if no_longer := sorted(key for key in pending if key not in plan.expire):
            names = ", ".join(f"{r}@{d}" for r, d in no_longer)
            notes.append(
                f"{len(no_longer)} images of an interrupted apply are no longer expired under today's retention: "
                f"left alone and dropped from the journal: {names}"
            )
        if changed:
            notes.append(f"{changed} images of an interrupted apply were tagged again since: evaluated afresh")
        if any(intent.untagged_days for intent in intents.values()):
            notes.append("untaggedDays is not applied on Docker Hub: its tags API lists tagged images only")
        text = format_plan(intents, listing, plan, reasons)
        if not show_plan("\n".join([text, *notes]), yes, out):
            return plan
        tags = {image.key: image.tags for image in listing.images}
        planned = {image.key: image for image in images if image.key in plan.expire}
        known = {k: i.pushed_at for k, i in planned.items() if k not in listing.unknown_time}  # not a stand-in `now`
        journal.write({k: i.tags for k, i in planned.items()}, now, known)
        refs = [(r, d, tag) for r, d in units_first(plan.expire, images) for tag in tags[r, d]]
        deleted = delete_each(
            refs,
            lambda ref: delete_tag(client, ref),
            lambda ref: f"{ref[0]}:{ref[2]} ({ref[1]})",
            out,
            progress,
            interval,
        )
    except HubError as error:
        hint = ""
        if error.status == 403 and "DELETE" in str(error):
            hint = (
                "; the credentials may not delete tags here: log in as a member with admin rights on the repository "
                "(a personal access token needs the repo:admin scope: Read, Write, Delete)"
            )
        raise RegistryCtlError(f"Docker Hub: {error}{hint}") from None
    journal.remove()
    print(
        f"deleted {deleted} tags of {len(plan.expire)} images; Docker Hub keeps their untagged manifests",
        file=out,
    )
    return plan


def cmd_hub_apply(args: argparse.Namespace, spec: DockerHubSpec, now: datetime) -> None:
    # The stack is opened only when the environment has no Hub credentials.
    client = HubClient(spec.base_url, hub_credentials_of(spec, lambda: open_stack(args)))
    try:
        run_hub_apply(
            spec,
            client,
            Journal.for_stack(args.stack, spec.base_url),
            now=now,
            yes=args.yes,
            interval=args.delete_interval,
        )
    finally:
        client.close()
