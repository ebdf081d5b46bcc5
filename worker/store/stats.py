"""The books: what was received, stored, found duplicate and rejected, and whether they balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from worker.store.models import Article, Outcome, Sighting


@dataclass(frozen=True, slots=True)
class DayCount:
    """Receipts of one source on one (UTC) day, by outcome."""

    source: str
    day: date
    received: int
    stored: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class Books:
    """Counts per source and day, plus the cross-checks between the tables."""

    days: list[DayCount]
    articles: int  # rows in articles
    seen_total: int  # sum of articles.seen_count
    problems: list[str]  # empty when the books balance


def read_books(*, session: Session) -> Books:
    """Count receipts per source and day and check them against the articles table."""
    day = cast(func.timezone("UTC", Sighting.received_at), Date)
    rows = session.execute(
        select(
            Sighting.source,
            day,
            func.count(),
            func.count().filter(Sighting.outcome == Outcome.STORED),
            func.count().filter(Sighting.outcome == Outcome.DUPLICATE),
            func.count().filter(Sighting.outcome == Outcome.REJECTED),
        )
        .group_by(Sighting.source, day)
        .order_by(day, Sighting.source)
    ).all()
    days = [DayCount(*row) for row in rows]
    articles, seen_total = session.execute(
        select(func.count(), func.coalesce(func.sum(Article.seen_count), 0)).select_from(Article)
    ).one()
    stored = sum(d.stored for d in days)
    linked = sum(d.stored + d.duplicates for d in days)
    problems = [
        f"{d.source} {d.day}: received {d.received} != "
        f"{d.stored} stored + {d.duplicates} duplicates + {d.rejected} rejected"
        for d in days
        if d.received != d.stored + d.duplicates + d.rejected
    ]
    if stored != articles:
        problems.append(f"{stored} receipts stored an article but there are {articles} articles")
    if linked != seen_total:
        problems.append(
            f"{linked} receipts link to articles but the articles count {seen_total} sightings"
        )
    return Books(days=days, articles=articles, seen_total=seen_total, problems=problems)
