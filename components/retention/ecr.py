"""ECR lifecycle policies: a simulator of their documented evaluation rules, and the compiler intent -> policy.

Evaluation (ECR user guide, "Lifecycle policy evaluation rules"): rules apply lowest rulePriority first; an image
that matches a rule's tagging requirements cannot be expired by a lower-priority rule; a rule still counts images
that higher-priority rules matched or expired; imageCountMoreThan keeps the countNumber youngest it matches;
sinceImagePushed expires images pushed more than countNumber days ago. Several entries in tagPatternList (or
tagPrefixList) mean AND: every entry must match one of the image's tags. Ties in push time are not documented;
the simulator breaks them like the intent (by digest)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.retention.document import as_choice, as_int, as_object, as_str, as_str_list, required
from components.retention.intent import live_rules, refuse_with_referrers
from components.retention.model import (
    SECONDS_PER_DAY,
    Image,
    Outcome,
    PolicyError,
    RetentionIntent,
    by_repository,
    newest_first,
    pushed_more_than,
)
from components.retention.patterns import any_tag_matches, pattern_problem

# ECR has no "keep" action: a protect pattern becomes a rule that matches its images (so no later rule can expire
# them) and expires only past this many images, which no repository reaches (countNumber is a 32-bit integer).
# A pattern without `*` is one tag, which names at most one image per repository, so 1 is already exact there.
NEVER_EXPIRE_COUNT = 2_147_483_647
UNSIMULATED_COUNT_TYPES = ("sinceImagePulled", "sinceImageTransitioned")
REFERRERS_WHY = (
    "ECR lifecycle policies count and expire them as images (cosign's sha256-<digest>.sig/.att/.sbom tags are "
    "ordinary tags to a rule, an OCI 1.1 referrer an untagged image) and never delete them with their subject "
    "(lifecycle policy evaluation rules; aws/containers-roadmap#2613)"
)


@dataclass(frozen=True)
class EcrRule:
    priority: int
    tag_status: str  # tagged | untagged | any
    tag_patterns: tuple[str, ...]
    tag_prefixes: tuple[str, ...]
    count_type: str  # imageCountMoreThan | sinceImagePushed
    count_number: int

    def selects(self, image: Image) -> bool:
        if self.tag_status == "untagged":
            return not image.tags
        if self.tag_status == "any":
            return True
        return (
            bool(image.tags)
            and all(any_tag_matches(pattern, image.tags) for pattern in self.tag_patterns)
            and all(any(tag.startswith(prefix) for tag in image.tags) for prefix in self.tag_prefixes)
        )


def _parse_rule(value: object, path: str) -> EcrRule:
    rule = as_object(value, path, ("rulePriority", "description", "selection", "action"))
    priority = as_int(required(rule, "rulePriority", path), f"{path}.rulePriority", minimum=1)
    if "description" in rule:
        as_str(rule["description"], f"{path}.description")
    spath = f"{path}.selection"
    selection = as_object(
        required(rule, "selection", path),
        spath,
        ("tagStatus", "tagPatternList", "tagPrefixList", "countType", "countUnit", "countNumber", "storageClass"),
    )
    status = as_choice(required(selection, "tagStatus", spath), f"{spath}.tagStatus", ("tagged", "untagged", "any"))
    patterns = as_str_list(selection.get("tagPatternList", []), f"{spath}.tagPatternList")
    prefixes = as_str_list(selection.get("tagPrefixList", []), f"{spath}.tagPrefixList")
    if status == "tagged" and bool(patterns) == bool(prefixes):
        raise PolicyError(spath, "tagStatus tagged needs exactly one of tagPatternList or tagPrefixList, non-empty")
    if status != "tagged" and (patterns or prefixes):
        raise PolicyError(spath, f"tagStatus {status} must omit tagPatternList and tagPrefixList")
    for index, pattern in enumerate(patterns):
        if problem := pattern_problem(pattern):
            raise PolicyError(f"{spath}.tagPatternList[{index}]", f"{problem} (got {pattern!r})")
    count_type = required(selection, "countType", spath)
    if count_type in UNSIMULATED_COUNT_TYPES:
        raise PolicyError(f"{spath}.countType", f"{count_type} needs pull/archive times, which images do not carry")
    count_type = as_choice(count_type, f"{spath}.countType", ("imageCountMoreThan", "sinceImagePushed"))
    if count_type == "sinceImagePushed":
        as_choice(required(selection, "countUnit", spath), f"{spath}.countUnit", ("days",))
    elif "countUnit" in selection:
        raise PolicyError(f"{spath}.countUnit", "only allowed with countType sinceImagePushed")
    if "storageClass" in selection:
        as_choice(selection["storageClass"], f"{spath}.storageClass", ("standard",))
    number = as_int(required(selection, "countNumber", spath), f"{spath}.countNumber", minimum=1)
    action = as_object(required(rule, "action", path), f"{path}.action", ("type", "targetStorageClass"))
    as_choice(required(action, "type", f"{path}.action"), f"{path}.action.type", ("expire",))
    if "targetStorageClass" in action:
        raise PolicyError(f"{path}.action.targetStorageClass", "only allowed with action type transition")
    return EcrRule(priority, status, patterns, prefixes, count_type, number)


def parse_lifecycle_policy(document: object) -> list[EcrRule]:
    """The rules of a lifecycle policy document (`{"rules": [...]}`), lowest priority first; PolicyError if invalid."""
    policy = as_object(document, "policy", ("rules",))
    raw_rules = required(policy, "rules", "policy")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PolicyError("policy.rules", "must be a non-empty list of rules")
    rules = [_parse_rule(value, f"policy.rules[{index}]") for index, value in enumerate(raw_rules)]
    seen: dict[object, int] = {}
    for index, rule in enumerate(rules):
        path = f"policy.rules[{index}]"
        if rule.priority in seen:
            raise PolicyError(f"{path}.rulePriority", f"{rule.priority} is used by rules[{seen[rule.priority]}]")
        seen[rule.priority] = index
        selector = (rule.tag_status, frozenset(rule.tag_patterns), frozenset(rule.tag_prefixes))
        if rule.tag_status != "tagged":
            selector = "untagged"  # `any` also selects untagged images; only one rule may
        if selector in seen:
            raise PolicyError(f"{path}.selection", f"selects the same images as rules[{seen[selector]}]")
        seen[selector] = index
    top = max(rule.priority for rule in rules)
    for index, rule in enumerate(rules):
        if rule.tag_status == "any" and rule.priority != top:
            raise PolicyError(f"policy.rules[{index}].rulePriority", "a tagStatus any rule must have the highest")
    return sorted(rules, key=lambda rule: rule.priority)


def simulate(rules: list[EcrRule], images: Iterable[Image], now: datetime) -> Outcome:
    """What ECR expires under these rules (from parse_lifecycle_policy) at `now`."""
    images = list(images)
    expired: set[tuple[str, str]] = set()
    for group in by_repository(images).values():
        youngest = {
            rule.priority: {
                image.key for image in newest_first(i for i in group if rule.selects(i))[: rule.count_number]
            }
            for rule in rules
            if rule.count_type == "imageCountMoreThan"
        }
        for image in group:
            rule = next((r for r in rules if r.selects(image)), None)
            if rule is None:
                continue
            if rule.count_type == "imageCountMoreThan":
                if image.key not in youngest[rule.priority]:
                    expired.add(image.key)
            elif pushed_more_than(image, now, rule.count_number * SECONDS_PER_DAY):
                expired.add(image.key)
    return Outcome.of(images, expired)


def _rule(priority: int, description: str, selection: dict[str, Any]) -> dict[str, Any]:
    return {"rulePriority": priority, "description": description, "selection": selection, "action": {"type": "expire"}}


def compile_lifecycle_policy(intent: RetentionIntent, *, referrers: bool = False) -> dict[str, Any]:
    """The lifecycle policy document whose ECR evaluation equals the intent's on every repository of fewer than
    NEVER_EXPIRE_COUNT images. One rule per intent rule, each with a one-entry tagPatternList (entries mean AND);
    rules no image can reach are left out (ECR also refuses two rules with the same patterns). With `referrers`
    (the repositories hold signatures, attestations, SBOMs) every rule that deletes is refused: ECR cannot keep them
    exactly as long as their subject."""
    if referrers:
        refuse_with_referrers(intent, "ECR", REFERRERS_WHY)
    rules: list[dict[str, Any]] = []
    for rule in live_rules(intent):
        priority = len(rules) + 1
        if rule.kind in ("protect", "keepLatest"):
            assert rule.pattern is not None
            tagged = {"tagStatus": "tagged", "tagPatternList": [rule.pattern]}
            if rule.kind == "protect":
                count = NEVER_EXPIRE_COUNT if "*" in rule.pattern else 1
                text = f"{rule.name}: never expire images tagged {rule.pattern}"
            else:
                text, count = f"{rule.name}: keep the newest {rule.count} images tagged {rule.pattern}", rule.count
            rules.append(_rule(priority, text, {**tagged, "countType": "imageCountMoreThan", "countNumber": count}))
            continue
        if rule.kind == "untaggedDays":
            selection: dict[str, Any] = {"tagStatus": "untagged"}
        else:
            selection = {"tagStatus": "tagged", "tagPatternList": ["*"]}
        since = {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": rule.days}
        text = f"{rule.name}: expire images pushed more than {rule.days} days ago"
        rules.append(_rule(priority, text, {**selection, **since}))
    if not rules:
        raise PolicyError("retention", "deletes nothing; ECR needs at least one rule (omit the lifecycle policy)")
    return {"rules": rules}


def lifecycle_policy_text(intent: RetentionIntent, *, referrers: bool = False) -> str:
    """Exactly the text `aws.ecr.LifecyclePolicy(policy=...)` receives (stable key order, so re-runs do not diff)."""
    return json.dumps(compile_lifecycle_policy(intent, referrers=referrers), indent=2)
