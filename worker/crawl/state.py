"""Crawl state in PostgreSQL, so crawls resume and stay incremental across restarts and workers.

- `crawl_sources`: one row per source name: when it was last scheduled, started and finished, how
  that crawl went, how many crawls in a row failed, and whether it is paused for that.
- `crawl_urls`: one row per (source, URL) seen: its validators (ETag, Last-Modified) for conditional
  GETs, the hash of the body last enqueued (an unchanged page is not enqueued again), the last HTTP
  status and outcome, and its own run of failures.

Every group of fetches written also appends the source's fetch and error counts to
`source_tallies`, where the source's health is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from worker.store.models import Base, source_tallies


class CrawlSource(Base):
    """How a source's crawls have gone, and whether it is paused."""

    __tablename__ = "crawl_sources"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, server_default=false())
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    last_scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_enqueued: Mapped[int] = mapped_column(Integer, server_default="0")


class CrawlUrl(Base):
    """What the crawler knows of one URL of one source."""

    __tablename__ = "crawl_urls"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    # URLs may be longer than a btree entry allows; their SHA-256 is the key.
    url_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_outcome: Mapped[str] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("source", "url_hash"),)


PENDING = "pending"  # discovered, never fetched


@dataclass(frozen=True, slots=True)
class UrlState:
    """The stored state of one URL, as a crawl reads it."""

    url: str
    kind: str
    etag: str | None
    last_modified: str | None
    content_hash: bytes | None
    last_outcome: str
    consecutive_failures: int
    last_fetched_at: datetime | None


@dataclass(frozen=True, slots=True)
class UrlRecord:
    """What one fetch taught us about a URL, to be written to its state."""

    url: str
    kind: str
    outcome: str
    fetched_at: datetime
    failed: bool
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: bytes | None = None
    enqueued: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """The stored state of a source."""

    name: str
    paused: bool
    consecutive_failures: int
    last_scheduled_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_enqueued: int
    urls_known: int = 0


def url_hash(url: str) -> bytes:
    """The key of a URL in `crawl_urls`: the SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).digest()


def get_url_states(*, session: Session, source: str, urls: Iterable[str]) -> dict[str, UrlState]:
    """The stored state of those of `urls` the source has seen before, by URL."""
    hashes = list({url_hash(url) for url in urls})
    states: dict[str, UrlState] = {}
    for start in range(0, len(hashes), 1000):
        rows = session.scalars(
            select(CrawlUrl).where(
                CrawlUrl.source == source, CrawlUrl.url_hash.in_(hashes[start : start + 1000])
            )
        )
        for row in rows:
            states[row.url] = _url_state(row)
    return states


def list_retryable(
    *, session: Session, source: str, max_failures: int, limit: int
) -> list[UrlState]:
    """Pages of the source never fetched, or failed fewer than `max_failures` times in a row."""
    rows = session.scalars(
        select(CrawlUrl)
        .where(
            CrawlUrl.source == source,
            CrawlUrl.kind == "page",
            (CrawlUrl.last_outcome == PENDING)
            | (
                (CrawlUrl.consecutive_failures > 0) & (CrawlUrl.consecutive_failures < max_failures)
            ),
        )
        .order_by(CrawlUrl.id)
        .limit(limit)
    )
    return [_url_state(row) for row in rows]


def _url_state(row: CrawlUrl) -> UrlState:
    return UrlState(
        url=row.url,
        kind=row.kind,
        etag=row.etag,
        last_modified=row.last_modified,
        content_hash=row.content_hash,
        last_outcome=row.last_outcome,
        consecutive_failures=row.consecutive_failures,
        last_fetched_at=row.last_fetched_at,
    )


def add_discovered(*, session: Session, source: str, urls: Sequence[str], kind: str) -> None:
    """Record URLs found in feeds, sitemaps or start pages as pending, leaving known ones alone."""
    rows = [
        {
            "source": source,
            "url_hash": url_hash(url),
            "url": url,
            "kind": kind,
            "last_outcome": PENDING,
        }
        for url in dict.fromkeys(urls)
    ]
    for start in range(0, len(rows), 1000):
        session.execute(
            insert(CrawlUrl).values(rows[start : start + 1000]).on_conflict_do_nothing()
        )


def record_fetches(*, session: Session, source: str, records: Sequence[UrlRecord]) -> None:
    """Write what fetches found to the URLs' state (creating rows for URLs not seen before)."""
    table = CrawlUrl.__table__
    for record in records:
        values: dict[str, object] = {
            "last_outcome": record.outcome,
            "last_status": record.status,
            "last_error": record.error,
            "last_fetched_at": record.fetched_at,
        }
        if record.etag is not None or record.last_modified is not None or record.enqueued:
            values |= {"etag": record.etag, "last_modified": record.last_modified}
        if record.enqueued:
            values |= {"content_hash": record.content_hash, "last_enqueued_at": record.fetched_at}
        statement = insert(CrawlUrl).values(
            source=source,
            url_hash=url_hash(record.url),
            url=record.url,
            kind=record.kind,
            consecutive_failures=1 if record.failed else 0,
            **values,
        )
        failures = table.c.consecutive_failures + 1 if record.failed else 0
        session.execute(
            statement.on_conflict_do_update(
                constraint="uq_crawl_urls_source_url_hash",
                set_={**values, "consecutive_failures": failures},
            )
        )
    # crawl_urls keeps only each URL's last fetch; the source's health counts every one. A URL
    # robots.txt refused was never fetched.
    fetched = [record for record in records if record.outcome != "disallowed"]
    if fetched:
        session.execute(
            insert(source_tallies).values(
                source=source,
                fetches=len(fetched),
                fetch_errors=sum(record.failed for record in fetched),
            )
        )


def get_source_states(*, session: Session) -> dict[str, SourceState]:
    """Every source's stored state, by name, with how many URLs it has seen."""
    counted = session.execute(
        select(CrawlUrl.source, func.count())
        .where(CrawlUrl.kind == "page")
        .group_by(CrawlUrl.source)
    )
    counts: dict[str, int] = {row[0]: row[1] for row in counted}
    return {
        row.name: _source_state(row, counts.get(row.name, 0))
        for row in session.scalars(select(CrawlSource))
    }


def _source_state(row: CrawlSource, urls_known: int) -> SourceState:
    return SourceState(
        name=row.name,
        paused=row.paused,
        consecutive_failures=row.consecutive_failures,
        last_scheduled_at=row.last_scheduled_at,
        last_started_at=row.last_started_at,
        last_finished_at=row.last_finished_at,
        last_status=row.last_status,
        last_error=row.last_error,
        last_enqueued=row.last_enqueued,
        urls_known=urls_known,
    )


def mark_scheduled(*, session: Session, names: Sequence[str], at: datetime) -> None:
    """Note that crawls of these sources were sent to the queue at `at`."""
    for name in names:
        session.execute(
            insert(CrawlSource)
            .values(name=name, last_scheduled_at=at)
            .on_conflict_do_update(index_elements=["name"], set_={"last_scheduled_at": at})
        )


def start_crawl(*, session: Session, name: str, at: datetime) -> None:
    """Note that a crawl of the source started at `at`."""
    session.execute(
        insert(CrawlSource)
        .values(name=name, last_started_at=at)
        .on_conflict_do_update(index_elements=["name"], set_={"last_started_at": at})
    )


def finish_crawl(
    *,
    session: Session,
    name: str,
    at: datetime,
    failed: bool,
    enqueued: int,
    error: str | None,
    pause_after: int,
) -> SourceState:
    """Record how a crawl ended; a source failing `pause_after` crawls in a row is paused, and a
    successful crawl resets the run and unpauses it."""
    row = session.get(CrawlSource, name, with_for_update=True)
    if row is None:
        row = CrawlSource(name=name, paused=False, consecutive_failures=0, last_enqueued=0)
        session.add(row)
    row.last_finished_at = at
    row.last_status = "failed" if failed else "ok"
    row.last_error = error
    row.last_enqueued = enqueued
    row.consecutive_failures = (row.consecutive_failures or 0) + 1 if failed else 0
    row.paused = row.consecutive_failures >= pause_after
    session.flush()
    return _source_state(row, 0)
