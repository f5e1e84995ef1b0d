"""Proof that each compiler is exact: for random repositories and random rule sets, the platform's simulation of
the compiled document equals the intent's evaluation, or the compiler rejected the rule set. Each platform also
has a class of rule sets it must accept, so the equality cannot pass by rejecting everything.

Examples per test come from a Hypothesis settings profile: `retention-ci` (the default, 1,000 per property) or
`retention-quick` (set RETENTION_PROFILE=retention-quick while iterating)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.retention import acr, artifact_registry, ecr
from components.retention.intent import evaluate, first_deleting_rule, referrers_of
from components.retention.model import Image, KeepLatest, PolicyError, RetentionIntent

settings.register_profile(
    "retention-ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("retention-quick", parent=settings.get_profile("retention-ci"), max_examples=100)
PROPERTY = settings.get_profile(os.environ.get("RETENTION_PROFILE", "retention-ci"))
# The acceptance classes below back the properties up; fewer examples keep the suite near a minute on 2 cores.
ACCEPTANCE = settings(PROPERTY, max_examples=min(300, PROPERTY.max_examples))
# Image sets with signatures, attestations, SBOMs and referrer indexes (issue 27): 100 examples (~10 s CPU for four
# properties), larger sets.
REFERRERS = settings(PROPERTY, max_examples=min(100, PROPERTY.max_examples))

NOW = datetime(2026, 1, 31, tzinfo=UTC)
ALPHABET = "ab1"
# Every tag of one to three letters from a three-letter alphabet: patterns below collide with many of them.
TAGS = ["".join(chars) for size in (1, 2, 3) for chars in product(ALPHABET, repeat=size)]
PATTERNS = st.text(ALPHABET + "*", min_size=1, max_size=4).filter(lambda p: p.count("*") <= 4)
PREFIX_PATTERNS = st.text(ALPHABET, min_size=1, max_size=2).map(lambda p: p + "*")
DAYS = st.integers(1, 30)


@st.composite
def repositories(draw: st.DrawFn) -> list[Image]:
    """Up to 60 images in one or two repositories: several tags each (unique per repository), some untagged,
    push times on a half-day grid so ties and exact day boundaries happen."""
    count = draw(st.integers(0, 60))
    digests = draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count, unique=True))
    used: dict[str, set[str]] = {}
    images: list[Image] = []
    for digest in digests:
        repository = draw(st.sampled_from(["app", "app", "app", "web"]))
        wanted = draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))
        taken = used.setdefault(repository, set())
        tags = tuple(tag for tag in wanted if tag not in taken)
        taken |= set(tags)
        age = timedelta(hours=12 * draw(st.integers(0, 70)))
        images.append(Image(repository, f"sha256:{digest:04x}", tags, NOW - age))
    return images


REFERRER_SUFFIXES = (".sig", ".att", ".sbom", "")  # cosign's tag scheme, and the OCI referrers fallback tag


@st.composite
def signed_repositories(draw: st.DrawFn) -> list[Image]:
    """`repositories()` with 64-hex digests, plus what signing tools push next to some images: cosign tag-scheme
    tags (sha256-<hex>.sig/.att/.sbom), a referrers fallback index (sha256-<hex>), untagged OCI 1.1 referrers with a
    `subject` (some of them referring to another referrer), and referrers whose subject is gone."""
    plain = [
        Image(i.repository, f"sha256:{int(i.digest[7:], 16):064x}", i.tags, i.pushed_at) for i in draw(repositories())
    ]
    images = list(plain)
    serial = 0x10000

    def referrer(repository: str, subject: str, tag_suffix: str | None, age: timedelta) -> Image:
        nonlocal serial
        serial += 1
        tags = () if tag_suffix is None else (f"sha256-{subject[7:]}{tag_suffix}",)
        return Image(repository, f"sha256:{serial:064x}", tags, NOW - age, None if tags else subject)

    subjects = draw(st.lists(st.sampled_from(plain), max_size=12, unique_by=lambda i: i.key)) if plain else []
    for subject in subjects:
        age = timedelta(hours=12 * draw(st.integers(0, 70)))
        suffixes = draw(st.lists(st.sampled_from(REFERRER_SUFFIXES), max_size=4, unique=True))
        images += [referrer(subject.repository, subject.digest, suffix, age) for suffix in suffixes]
        for _ in range(draw(st.integers(0, 2))):
            images.append(referrer(subject.repository, subject.digest, None, age))
            if draw(st.booleans()):
                images.append(referrer(subject.repository, images[-1].digest, None, age))  # referrer of a referrer
    for _ in range(draw(st.integers(0, 2))):  # a subject that is gone
        gone = f"sha256:{draw(st.integers(0x20000, 0x2FFFF)):064x}"
        images.append(referrer("app", gone, draw(st.sampled_from([*REFERRER_SUFFIXES, None])), timedelta(days=1)))
    return images


@st.composite
def intents(
    draw: st.DrawFn,
    patterns: st.SearchStrategy[str] = PATTERNS | PREFIX_PATTERNS,
    max_protect: int = 2,
    max_keep_latest: int = 3,
) -> RetentionIntent:
    size = draw(st.integers(0, max_protect + max_keep_latest))  # uniform, so long rule lists are common
    chosen = draw(st.lists(patterns, min_size=size, max_size=size, unique=True))
    split = draw(st.integers(0, min(max_protect, len(chosen))))
    keep_latest = tuple(KeepLatest(p, draw(st.integers(1, 4))) for p in chosen[split:][:max_keep_latest])
    return RetentionIntent(
        protect=tuple(chosen[:split]),
        keep_latest=keep_latest,
        untagged_days=draw(st.none() | DAYS),
        tagged_days=draw(st.none() | DAYS),
    )


def as_sent(document: object) -> object:
    """The document as the platform's API receives it: JSON text, parsed back."""
    return json.loads(json.dumps(document))


@PROPERTY
@given(images=repositories(), intent=intents())
def test_ecr_lifecycle_policy_expires_exactly_what_the_intent_does(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        text = ecr.lifecycle_policy_text(intent)
    except PolicyError:
        assert evaluate(intent, images, NOW).expire == frozenset()  # rejected only when it deletes nothing
        return
    rules = ecr.parse_lifecycle_policy(json.loads(text))
    assert ecr.simulate(rules, images, NOW) == evaluate(intent, images, NOW)


@PROPERTY
@given(images=repositories(), intent=intents())
def test_artifact_registry_cleanup_deletes_exactly_what_the_intent_does_or_is_rejected(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        document = artifact_registry.compile_cleanup_policies(intent)
    except PolicyError:
        return
    policies = artifact_registry.parse_cleanup_policies(as_sent(document))
    assert artifact_registry.simulate(policies, images, NOW) == evaluate(intent, images, NOW)


@PROPERTY
@given(images=repositories(), intent=intents())
def test_acr_purge_deletes_exactly_what_the_intent_does_or_is_rejected(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        document = acr.compile_acr_policy(intent)
    except PolicyError:
        return
    policy = acr.parse_acr_policy(as_sent(document))
    deleted, tags_left = acr.run(policy, images, NOW)
    assert acr.simulate(policy, images, NOW) == evaluate(intent, images, NOW)
    assert tags_left == {i.key: i.tags for i in images if i.key not in deleted}  # no kept image loses a tag


# The classes each compiler must accept (and be exact on), so the properties above cannot pass vacuously.


@ACCEPTANCE
@given(images=repositories(), intent=intents(patterns=PREFIX_PATTERNS, max_keep_latest=0))
def test_artifact_registry_accepts_prefix_protect_and_day_rules(images: list[Image], intent: RetentionIntent) -> None:
    policies = artifact_registry.parse_cleanup_policies(as_sent(artifact_registry.compile_cleanup_policies(intent)))
    assert artifact_registry.simulate(policies, images, NOW) == evaluate(intent, images, NOW)


@ACCEPTANCE
@given(images=repositories(), untagged_days=DAYS, extra_days=st.none() | st.integers(0, 30))
def test_acr_accepts_untagged_days_with_tagged_days_not_shorter(
    images: list[Image], untagged_days: int, extra_days: int | None
) -> None:
    tagged_days = None if extra_days is None else untagged_days + extra_days
    intent = RetentionIntent(untagged_days=untagged_days, tagged_days=tagged_days)
    policy = acr.parse_acr_policy(as_sent(acr.compile_acr_policy(intent)))
    assert acr.simulate(policy, images, NOW) == evaluate(intent, images, NOW)


@ACCEPTANCE
@given(images=repositories(), intent=intents(), untagged_days=DAYS)
def test_ecr_accepts_every_rule_set_that_can_delete(
    images: list[Image], intent: RetentionIntent, untagged_days: int
) -> None:
    intent = RetentionIntent(intent.protect, intent.keep_latest, untagged_days, intent.tagged_days)
    rules = ecr.parse_lifecycle_policy(json.loads(ecr.lifecycle_policy_text(intent)))
    assert ecr.simulate(rules, images, NOW) == evaluate(intent, images, NOW)


# Signatures, attestations, SBOMs and referrer indexes (issue 27).


@REFERRERS
@given(images=signed_repositories(), intent=intents())
def test_referrers_never_change_what_happens_to_images_and_go_exactly_with_their_subject(
    images: list[Image], intent: RetentionIntent
) -> None:
    plain = [image for image in images if image.refers_to is None]
    outcome = evaluate(intent, images, NOW)
    assert evaluate(intent, plain, NOW).expire == outcome.expire & {image.key for image in plain}
    deletes = first_deleting_rule(intent) is not None
    roots = referrers_of(images)
    for image in images:
        if image.refers_to is None:
            continue
        root = roots.get(image.key)
        expected = (root is None and deletes) or (root is not None and root in outcome.expire)
        assert (image.key in outcome.expire) == expected


@REFERRERS
@given(images=signed_repositories(), intent=intents())
def test_ecr_with_referrers_expires_exactly_what_the_intent_does_or_names_the_rule(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        text = ecr.lifecycle_policy_text(intent, referrers=True)
    except PolicyError as error:
        refusal = error.problem
    else:
        rules = ecr.parse_lifecycle_policy(json.loads(text))
        assert ecr.simulate(rules, images, NOW) == evaluate(intent, images, NOW)
        return
    assert evaluate(intent, images, NOW).expire == frozenset() or "signatures" in refusal


@REFERRERS
@given(images=signed_repositories(), intent=intents())
def test_artifact_registry_with_referrers_deletes_exactly_what_the_intent_does_or_names_the_rule(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        document = artifact_registry.compile_cleanup_policies(intent, referrers=True)
    except PolicyError:
        return
    policies = artifact_registry.parse_cleanup_policies(as_sent(document))
    assert artifact_registry.simulate(policies, images, NOW) == evaluate(intent, images, NOW)


@REFERRERS
@given(images=signed_repositories(), intent=intents())
def test_acr_with_referrers_deletes_exactly_what_the_intent_does_or_names_the_rule(
    images: list[Image], intent: RetentionIntent
) -> None:
    try:
        document = acr.compile_acr_policy(intent, referrers=True)
    except PolicyError:
        return
    policy = acr.parse_acr_policy(as_sent(document))
    assert acr.simulate(policy, images, NOW) == evaluate(intent, images, NOW)


def test_the_plain_compilations_are_not_exact_with_referrers() -> None:
    """Why the compilers refuse with referrers: the documents they emit without them expire a kept image's signature
    (ECR, Artifact Registry, ACR: tagged days reach the sha256-<hex>.sig tag) or leave an expired image's."""
    digest = f"{0xA:064x}"
    image = Image("app", f"sha256:{digest}", ("v1",), NOW - timedelta(days=1))
    signature = Image("app", f"sha256:{0xB:064x}", (f"sha256-{digest}.sig",), NOW - timedelta(days=40))
    intent = RetentionIntent(untagged_days=30, tagged_days=30)
    images = [image, signature]
    assert evaluate(intent, images, NOW).expire == frozenset()
    ecr_rules = ecr.parse_lifecycle_policy(json.loads(ecr.lifecycle_policy_text(intent)))
    assert ecr.simulate(ecr_rules, images, NOW).expire == {signature.key}
    cleanup = artifact_registry.parse_cleanup_policies(as_sent(artifact_registry.compile_cleanup_policies(intent)))
    assert artifact_registry.simulate(cleanup, images, NOW).expire == {signature.key}
    purge = acr.parse_acr_policy(as_sent(acr.compile_acr_policy(intent)))
    assert acr.simulate(purge, images, NOW).expire == {signature.key}
    for compile_ in (ecr.compile_lifecycle_policy, artifact_registry.compile_cleanup_policies, acr.compile_acr_policy):
        with pytest.raises(PolicyError) as refused:
            compile_(intent, referrers=True)
        assert refused.value.where == "untaggedDays"
        assert "signatures" in refused.value.problem
