"""What the status page shows, read through the `newsingest.v1_*` views.

Everything but a rejection's raw content comes from the views, so the page works for a login in the
read-only role `newsingest_reader`. The raw content lives only in `public.raw_pages`, which that
role may not read: `get_rejected_content` says so with `RawContentDenied` rather than failing.
Values are always bound parameters; the only SQL text is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Date, and_, cast, column, func, select, table
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session

from worker.health import list_source_health
from worker.store.models import Outcome, RawPage, Sighting

log = structlog.get_logger(__name__)

_ARTICLES = table(
    "v1_articles", column("id"), column("region"), column("published_at"), schema="newsingest"
)
_STORY_FIELDS = (
    "id", "story_id", "headline", "published_at", "published_precision", "region", "source",
    "url", "revisions", "first_seen_at",
)  # fmt: skip
_STORIES = table("v1_stories", *(column(name) for name in _STORY_FIELDS), schema="newsingest")
_SIGHTINGS = table(
    "v1_sightings",
    *(column(name) for name in ("id", "outcome", "reason", "url", "source", "received_at")),
    schema="newsingest",
)
_INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for a permission refused


class RawContentDenied(Exception):
    """The page's login may not read `public.raw_pages` (a newsingest_reader login)."""


@dataclass(frozen=True, slots=True)
class RegionDay:
    """Articles first seen on one UTC day in one region."""

    day: date
    region: str
    articles: int


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """One source's receipts over the page's window, by outcome."""

    source: str
    received: int
    stored: int
    duplicates: int
    rejected: int
    # Health and drift flags (worker/store/health.py, #21) join here, in `list_source_counts`.
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected receipt, as v1_sightings shows it."""

    sighting_id: int
    received_at: datetime
    source: str
    url: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RejectedContent:
    """A rejected dump's raw content, cut to the size the page shows."""

    sighting_id: int
    raw_page_id: int
    source: str
    url: str | None
    reason: str
    detail: str | None
    content_type: str | None
    size: int  # bytes received
    text: str  # the first `limit` bytes, decoded as UTF-8 with replacement characters
    cut: bool  # whether `text` is only the start of the dump


def _since(now: datetime, days: int) -> datetime:
    """Midnight UTC `days - 1` days before `now`: a window of `days` calendar days."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start - timedelta(days=days - 1)


def list_region_days(*, session: Session, now: datetime, days: int) -> list[RegionDay]:
    """Articles per region per UTC day of publication, over the last `days` days up to `now`.

    By publication rather than arrival: the range is then one scan of ix_articles_newest that
    grows with the window's articles, not with the archive (no index leads with first_seen_at),
    and undated articles, which have no day, are left out.
    """
    published = _ARTICLES.c.published_at
    day = cast(func.timezone("UTC", published), Date)
    rows = session.execute(
        select(day, _ARTICLES.c.region, func.count())
        .where(published >= _since(now, days), published < _since(now, 0))  # to midnight
        .group_by(day, _ARTICLES.c.region)
        .order_by(day, _ARTICLES.c.region)
    ).all()
    return [RegionDay(*row) for row in rows]


def list_newest_stories(*, session: Session, offset: int, limit: int) -> list[dict[str, Any]]:
    """Stories at their latest revision, newest published first (undated ones last)."""
    query = (
        select(*_STORIES.c)
        .order_by(_STORIES.c.published_at.desc().nulls_last(), _STORIES.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(query)]


def list_source_counts(
    *, session: Session, now: datetime, days: int, offset: int, limit: int
) -> list[SourceCounts]:
    """Receipts per source over the last `days` days by outcome, the busiest source first."""
    counts = (
        select(
            _SIGHTINGS.c.source,
            func.count().label("received"),
            func.count().filter(_SIGHTINGS.c.outcome == "stored").label("stored"),
            func.count().filter(_SIGHTINGS.c.outcome == "duplicate").label("duplicates"),
            func.count().filter(_SIGHTINGS.c.outcome == "rejected").label("rejected"),
        )
        .where(_SIGHTINGS.c.received_at >= _since(now, days))
        .group_by(_SIGHTINGS.c.source)
        .subquery()
    )
    rows = session.execute(
        select(*counts.c)
        .order_by(counts.c.received.desc(), counts.c.source)
        .offset(offset)
        .limit(limit)
    ).all()
    flags = _health_flags(session=session, now=now)
    return [
        SourceCounts(
            source=row.source,
            received=row.received,
            stored=row.stored,
            duplicates=row.duplicates,
            rejected=row.rejected,
            flags=flags.get(row.source, ()),
        )
        for row in rows
    ]


def _health_flags(*, session: Session, now: datetime) -> dict[str, tuple[str, ...]]:
    """Each drifting source's flags as the page shows them ('rejected_share 0.02 → 0.97', judged
    by `worker.health`); none where the login may not read the tallies (a newsingest_reader login
    reads only `v1_source_health`)."""
    try:
        with session.begin_nested():  # a refused read must not end the page's transaction
            judged = list_source_health(session=session, now=now)
    except DBAPIError as exc:
        log.info("status_page_health_unreadable", error=str(exc.orig).strip())
        return {}
    return {
        health.source: tuple(
            f"{flag.measure.value} {flag.baseline:.3g} → {flag.today:.3g}" for flag in health.flags
        )
        for health in judged
        if health.flags
    }


def count_rejections_by_reason(*, session: Session, now: datetime, days: int) -> dict[str, int]:
    """Rejected receipts over the last `days` days per reason, the commonest first."""
    rows = session.execute(
        select(_SIGHTINGS.c.reason, func.count())
        .where(
            and_(_SIGHTINGS.c.outcome == "rejected", _SIGHTINGS.c.received_at >= _since(now, days))
        )
        .group_by(_SIGHTINGS.c.reason)
        .order_by(func.count().desc(), _SIGHTINGS.c.reason)
    ).all()
    return {str(reason): int(n) for reason, n in rows}


def list_rejections(
    *, session: Session, reason: str | None, offset: int, limit: int
) -> list[Rejection]:
    """Rejected receipts, newest first, of one reason or all."""
    query = (
        select(
            _SIGHTINGS.c.id,
            _SIGHTINGS.c.received_at,
            _SIGHTINGS.c.source,
            _SIGHTINGS.c.url,
            _SIGHTINGS.c.reason,
        )
        .where(_SIGHTINGS.c.outcome == "rejected")
        .order_by(_SIGHTINGS.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if reason is not None:
        query = query.where(_SIGHTINGS.c.reason == reason)
    return [Rejection(*row) for row in session.execute(query)]


def get_rejected_content(
    *, session: Session, sighting_id: int, limit: int
) -> RejectedContent | None:
    """The raw content of a rejected receipt, its first `limit` bytes; None if no such rejection.

    Raises RawContentDenied when the login may not read the raw pages table.
    """
    query = (
        select(Sighting.id, RawPage)
        .join(RawPage, RawPage.id == Sighting.raw_page_id)
        .where(Sighting.id == sighting_id, Sighting.outcome == Outcome.REJECTED)
    )
    try:
        # A savepoint, so that a refusal leaves the transaction usable for the rest of the page.
        with session.begin_nested():
            row = session.execute(query).first()
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            raise RawContentDenied(str(exc.orig).strip()) from exc
        raise
    if row is None:
        return None
    found_id, page = row
    content = page.dump_bytes()
    return RejectedContent(
        sighting_id=found_id,
        raw_page_id=page.id,
        source=page.source,
        url=page.url,
        reason=page.reason or "",
        detail=page.detail,
        content_type=page.content_type,
        size=page.size,
        text=content[:limit].decode("utf-8", errors="replace"),
        cut=len(content) > limit,
    )
