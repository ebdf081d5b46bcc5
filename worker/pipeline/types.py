"""The values that flow between the pure pipeline stages.

Every stage takes one of these and gives one of these (or a `Rejection`); none of them touches the
database, the broker or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ContentKind = Literal["text", "html"]
Precision = Literal["minute", "day"]
DateSource = Literal["jsonld", "meta", "time_tag", "text", "url", "feed", "script", "htmldate"]
EvidenceWhere = Literal["dateline", "headline", "lead", "body", "section", "url"]

RejectReason = Literal[
    "empty",  # nothing but whitespace
    "too_large",  # over the configured size limit
    "binary",  # bytes that are not text in any encoding we can name
    "undecodable",  # declared or sniffed charset does not decode the bytes
    "no_headline",  # cleaning found no headline
    "no_body",  # cleaning found no article text (an index page, an error page, ...)
    "invalid_message",  # a queue message that is not a valid RawPage
    "stage_error",  # a stage raised: a bug, recorded with the page for a replay after the fix
    "unstorable",  # the store refused the page's record (not transiently): kept for a replay
]


def pickle_by_fields(value: Any) -> tuple[Any, ...]:
    """`__reduce__` for the frozen dataclasses a pool process hands back: their fields, in order.

    A frozen slotted dataclass pickles through Python-level __getstate__ and __setstate__ per
    object, and a result is a dozen of them (its place evidence most): 62 -> 35 µs a text page,
    pickled in the pool and loaded in `newsingest ingest`.
    """
    return (type(value), tuple([getattr(value, name) for name in value.__match_args__]))


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a dump did not become an article: a stable reason code and a human-readable detail."""

    reason: RejectReason
    detail: str

    __reduce__ = pickle_by_fields


@dataclass(frozen=True, slots=True)
class PublishedAt:
    """A page's own publication time, converted to UTC and truncated to its precision."""

    at: datetime  # timezone-aware, UTC; seconds dropped, and the time too at day precision
    precision: Precision
    source: DateSource
    utc_offset_minutes: int | None = None  # the offset the page stated; None when it named no zone

    __reduce__ = pickle_by_fields


@dataclass(frozen=True, slots=True)
class DecodedPage:
    """A dump as text, with what the producer told us about it."""

    text: str
    kind: ContentKind
    url: str | None = None
    # Timezone-aware; relative dates ("2 hrs ago") resolve against it.
    fetched_at: datetime | None = None
    # `text` as UTF-8, when the dump's bytes are exactly that: the HTML parser reads bytes, and
    # encoding a 170 KB page again for it cost ~0.1-0.3 ms.
    utf8: bytes | None = None


@dataclass(frozen=True, slots=True)
class CleanPage:
    """The article inside a dump: headline, timestamp and body paragraphs, page chrome removed."""

    headline: str
    published: PublishedAt | None
    body: tuple[str, ...]
    kind: ContentKind
    byline: str | None = None
    # Section labels the page shows about itself or its related stories (the seed's "| Europe"),
    # a breadcrumb, or a JSON-LD articleSection. Never in the body; the classifier may use them.
    section_labels: tuple[str, ...] = ()
    language: str | None = None

    __reduce__ = pickle_by_fields


@dataclass(frozen=True, slots=True)
class Evidence:
    """One place mention that voted for a region, and how much its position made it weigh."""

    place: str
    country: str | None  # ISO 3166-1 alpha-2, None for a label that names a region directly
    region: str
    where: EvidenceWhere
    weight: float

    __reduce__ = pickle_by_fields


@dataclass(frozen=True, slots=True)
class RegionVerdict:
    """The region an article belongs to, how sure we are, and the mentions that decided it."""

    region: str  # a region of the taxonomy, or "unknown" when nothing points anywhere
    confidence: float  # in [0, 1]
    scores: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()

    __reduce__ = pickle_by_fields
