"""The Pydantic models behind the wire contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

# The hard ceiling on one message's content, in characters: 8 MiB of text, or 6 MiB of bytes once
# base64-encoded. The worker applies its own, usually lower, byte limit (NEWSINGEST_MAX_PAGE_BYTES)
# after decoding; this one only keeps a hostile message from exhausting memory in validation.
MAX_CONTENT_CHARS = 8 * 1024 * 1024


def _within_content_limit(value: str) -> str:
    # Not Field(max_length=...): pydantic counts the characters through the string's UTF-8, ~0.1
    # to 0.2 ms for a 170 KB page in every worker (a profile of ingest); len() is free. That
    # walk also refused half a surrogate pair; the worker's receive() finds one when it encodes
    # the content for its hash, and rejects the page.
    if len(value) > MAX_CONTENT_CHARS:
        msg = f"content is {len(value):,} characters; at most {MAX_CONTENT_CHARS:,} are accepted"
        raise ValueError(msg)
    return value


# News archives go back centuries, and a producer's clock may run a little fast; a value outside
# these bounds is a mistake, and one past year 9999 in UTC (9999-12-31T23:59-14:00) or before
# year 1 could be stored but never read back by a driver.
EARLIEST_FETCHED_AT = datetime(1800, 1, 1, tzinfo=UTC)
FETCHED_AT_SLACK = timedelta(days=2)


def _plausible_fetch_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_FETCHED_AT <= utc <= datetime.now(UTC) + FETCHED_AT_SLACK:
        msg = "fetched_at must lie between 1800-01-01 and two days from now (UTC)"
        raise ValueError(msg)
    return value


class RawPage(BaseModel):
    """A page dump as a producer enqueues it: the content plus what the producer knows about it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RawPage")

    content: Annotated[str, AfterValidator(_within_content_limit)] = Field(
        description="The dump: HTML or plain text, or base64 of the raw bytes when "
        "content_encoding is 'base64' (use it for bytes that are not UTF-8).",
        json_schema_extra={"maxLength": MAX_CONTENT_CHARS},
    )
    content_encoding: Literal["text", "base64"] = Field(
        default="text", description="How `content` carries the dump."
    )
    content_type: str | None = Field(
        default=None,
        max_length=200,
        description="MIME type with optional charset, e.g. 'text/html; charset=iso-8859-1'. "
        "Sniffed from the content when absent.",
    )
    # file: URLs say which local file a dump was read from (`newsingest ingest` of files); the
    # pipeline reads no dates, slugs or regions from them, and nothing ever fetches a page's URL.
    # A pattern, checked inside pydantic-core: a Python validator cost ~0.4 µs a page, a tenth of
    # what reading a small file takes.
    url: str | None = Field(
        default=None,
        max_length=4096,
        pattern=r"^(?:https?://|file:///)",
        description="Where the page was fetched from (http or https), or for a dump read from a "
        "local file with no URL of its own, that file (file:///path).",
    )
    source: str = Field(
        default="unknown",
        min_length=1,
        max_length=200,
        description="Who sent it: a crawl source name, a feed, a script.",
    )
    fetched_at: Annotated[AwareDatetime | None, AfterValidator(_plausible_fetch_time)] = Field(
        default=None,
        description="When the producer fetched the page (timezone-aware, from 1800-01-01 to two "
        "days after the worker's clock). Relative dates on the page ('2 hrs ago') resolve against "
        "it; it is never used as the publication time.",
    )
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Producer-chosen idempotency key for this receipt: a redelivered message with "
        "the same id is recorded once. `newsingest enqueue` sets a UUID.",
    )
    original_size: int | None = Field(
        default=None,
        ge=0,
        description="Set by a producer that cut an oversized dump down to the size limit: the "
        "size in bytes before the cut. Such a page is recorded as rejected (too_large) with the "
        "part that was sent.",
    )


class EvidenceItem(BaseModel):
    """One place mention that voted for the article's region."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    place: str
    country: str | None = Field(description="ISO 3166-1 alpha-2 code, null for a section label.")
    region: str
    where: Literal["dateline", "headline", "lead", "body", "section", "url"]
    weight: float


class Article(BaseModel):
    """A normalized article record, as consumers read it from the store."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Article", defer_build=True)

    id: int
    headline: str
    headline_key: str = Field(description="The headline normalized for dedupe.")
    published_at: datetime | None = Field(
        description="The page's own publication time in UTC; null when the page states none."
    )
    published_precision: Literal["minute", "day"] | None
    published_source: (
        Literal["jsonld", "meta", "time_tag", "text", "url", "feed", "script", "htmldate"] | None
    ) = Field(
        description="Where the time was read: JSON-LD, a <meta> tag, a <time> tag, the visible "
        "text, the URL, the feed entry, a script's state data, or (the last resort, a day) the "
        "htmldate library's reading of the page."
    )
    published_utc_offset_minutes: int | None = Field(
        description="The UTC offset the page stated, in minutes; null when it named no zone."
    )
    body: list[str] = Field(description="Article paragraphs, page chrome removed.")
    byline: str | None
    section_labels: list[str]
    region: str = Field(description="A region of the taxonomy, or 'unknown'.")
    region_confidence: float = Field(ge=0.0, le=1.0)
    region_scores: dict[str, float]
    region_evidence: list[EvidenceItem]
    url: str | None = Field(
        description="Where the page was fetched from: an http(s) address, or a file:/// URL for "
        "a dump ingested from a local file."
    )
    source: str
    content_type: Literal["text", "html"]
    first_seen_at: datetime
    last_seen_at: datetime
    seen_count: int = Field(ge=1)
    extractor_version: str
    classifier_version: str
