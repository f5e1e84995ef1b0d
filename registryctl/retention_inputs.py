"""The input files of `registryctl retention simulate|compile`: images (IMAGES.json or `aws ecr describe-images`
output) and policies (JSON or YAML), each error naming the file, the entry and the field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from components.retention.model import Image
from registries.config.base import ConfigProblem, problems_from_validation_error
from registryctl.errors import InputError

__all__ = ["InputError", "invalid", "load_images", "read_document"]


DIGEST = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"


class ImageRecord(BaseModel):
    """One entry of IMAGES.json."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    repository: str = Field(min_length=1)
    digest: str = Field(min_length=1)
    tags: list[str]
    pushed_at: AwareDatetime = Field(alias="pushedAt")
    subject: str | None = Field(default=None, pattern=DIGEST)
    """A referrer's subject (the digest its manifest's `subject` field names): it is kept and expired with it."""


def _pushed_at(value: object) -> datetime:
    """describe-images' imagePushedAt: ISO 8601 with offset (AWS CLI) or epoch seconds (some SDK dumps)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch seconds out of range ({value}; milliseconds are not accepted)") from None
    if isinstance(value, str):
        try:
            pushed_at = datetime.fromisoformat(value)
        except ValueError:
            pushed_at = None
        if pushed_at is not None and pushed_at.tzinfo is not None:
            return pushed_at
    raise ValueError("must be an ISO 8601 time with offset (2026-01-05T10:00:00+01:00) or epoch seconds")


class EcrImageDetail(BaseModel):
    """One `imageDetails` entry of `aws ecr describe-images`; keys this tool does not use are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    registryId: str = Field(min_length=1)
    repositoryName: str = Field(min_length=1)
    imageDigest: str = Field(min_length=1)
    imageTags: list[str] = []  # absent on untagged images
    imagePushedAt: Annotated[datetime, BeforeValidator(_pushed_at)]


class DescribeImagesPage(BaseModel):
    """What `aws ecr describe-images --output json` prints."""

    model_config = ConfigDict(extra="ignore", strict=True)

    imageDetails: list[EcrImageDetail]
    nextToken: str | None = None


PLAIN_WORDS = {
    "check its spelling against Pulumi.yaml": "check its spelling",
    "Input should have timezone info": "must be an ISO 8601 time with an offset, e.g. 2026-01-05T10:00:00Z",
}


def _plain(text: str) -> str:
    for pydantic_words, ours in PLAIN_WORDS.items():
        text = text.replace(pydantic_words, ours)
    return text


def invalid(what: str, path: Path, problems: list[ConfigProblem]) -> InputError:
    """One error for a file's problems, headed with the kind of file (never "stack config")."""
    lines = "\n".join(f"  - {_plain(str(problem))}" for problem in problems)
    return InputError(f"invalid {what} file {path} ({len(problems)} problem(s)):\n{lines}")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{what} file {path}: not UTF-8 text (byte {error.start}); give JSON or YAML") from None
    except OSError as error:
        raise InputError(f"{what} file {path}: cannot be read ({error.strerror})") from None


def read_document(path: Path, what: str) -> Any:
    """A JSON or YAML file's document (JSON first: its error messages are the more precise)."""
    text = _read(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError(f"{what} file {path}: not JSON or YAML (as JSON: {json_error})") from None


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()  # a time without zone stays without: the model says it needs one
    raise TypeError(f"{type(value).__name__} is not JSON")


def _yaml_as_json(text: str) -> Any:
    """A YAML document, or None when the text is not YAML either (the JSON validation then reports it)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _is_describe_images(document: Any) -> bool:
    """describe-images output, or a list of it (pages, repositories), rather than the IMAGES.json list."""
    if isinstance(document, dict):
        return "imageDetails" in document
    return (
        isinstance(document, list)
        and bool(document)
        and all(isinstance(page, dict) and "imageDetails" in page for page in document)
    )


def load_images(path: Path) -> tuple[list[Image], str | None]:
    """The images of IMAGES.json or of describe-images output, and a note when a dump is incomplete; InputError
    naming the entry and field when malformed."""
    text = _read(path, "images")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = _yaml_as_json(text)
        if document is not None:
            text = json.dumps(document, default=_iso)
    if _is_describe_images(document):
        return _load_describe_images(path, text, single=isinstance(document, dict))
    try:
        records = TypeAdapter(list[ImageRecord]).validate_json(text)
    except ValidationError as error:
        raise invalid("images", path, problems_from_validation_error("images", error)) from None
    problems = [
        ConfigProblem(f"images[{i}].subject", repr(r.subject), "a manifest cannot be its own subject")
        for i, r in enumerate(records)
        if r.subject == r.digest
    ]
    if problems:
        raise invalid("images", path, problems)
    images = [Image(r.repository, r.digest, tuple(r.tags), r.pushed_at, r.subject) for r in records]
    return _unique_images_at(
        path, [(f"images[{i}]", ".digest", ".tags", image) for i, image in enumerate(images)]
    ), None


def _load_describe_images(path: Path, text: str, single: bool) -> tuple[list[Image], str | None]:
    try:
        pages = (
            [DescribeImagesPage.model_validate_json(text)]
            if single
            else TypeAdapter(list[DescribeImagesPage]).validate_json(text)
        )
    except ValidationError as error:
        raise invalid("images", path, problems_from_validation_error("images", error)) from None
    entries = [
        (
            f"images{'' if single else f'[{page_index}]'}.imageDetails[{index}]",
            ".imageDigest",
            ".imageTags",
            Image(entry.repositoryName, entry.imageDigest, tuple(entry.imageTags), entry.imagePushedAt),
        )
        for page_index, page in enumerate(pages)
        for index, entry in enumerate(page.imageDetails)
    ]
    note = None
    if pages[-1].nextToken:
        # The CLI paginates itself; a nextToken means --max-items cut the listing short.
        note = (
            f"images file {path}: the last page has a nextToken, so the dump is incomplete; images on later pages "
            "are not evaluated (omit --max-items, or fetch them with --starting-token and pass every page)"
        )
    return _unique_images_at(path, entries), note


def _unique_images_at(path: Path, entries: list[tuple[str, str, str, Image]]) -> list[Image]:
    """The images, each (where, digest key, tags key, image); InputError when a digest or a tag repeats within a
    repository."""
    problems: list[ConfigProblem] = []
    seen_digests: set[tuple[str, str]] = set()
    seen_tags: set[tuple[str, str]] = set()
    for where, digest_key, tags_key, image in entries:
        if (image.repository, image.digest) in seen_digests:
            problems.append(ConfigProblem(where + digest_key, repr(image.digest), "listed twice in its repository"))
        seen_digests.add((image.repository, image.digest))
        for tag in image.tags:
            if (image.repository, tag) in seen_tags:
                problems.append(ConfigProblem(where + tags_key, repr(tag), "a tag names one image per repository"))
            seen_tags.add((image.repository, tag))
    if problems:
        raise invalid("images", path, problems)
    return [image for *_, image in entries]


def ecr_policy_document(document: Any, path: Path) -> Any:
    """The lifecycle policy of `aws ecr get-lifecycle-policy` output; any other document as it is."""
    if not (isinstance(document, dict) and "lifecyclePolicyText" in document):
        return document
    text = document["lifecyclePolicyText"]
    if not isinstance(text, str):
        raise InputError(
            f"policy file {path}: lifecyclePolicyText: got a {type(text).__name__}; must be the policy as a JSON "
            "string (as get-lifecycle-policy prints it)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"policy file {path}: lifecyclePolicyText: not JSON ({error})") from None
