"""Second looks at stored dumps: replay rejections after a fix, reprocess articles after a change.

Both run the pipeline again over the raw content kept in `raw_pages` and rewrite what it decides,
keeping the books balanced: every receipt still has exactly one outcome, and articles keep one row
per dedupe key (a reprocessed article whose key now collides with another is merged into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.orm import Session

from schemas import RawPage as WireRawPage
from worker.config import Settings
from worker.pipeline import Processed, Received, process
from worker.pipeline.shingles import body_print, shingle_bytes
from worker.pipeline.types import Rejection
from worker.store._storable import storable_values
from worker.store.batch import (
    article_row,
    dedupe_key,
    upsert_articles,
)
from worker.store.forms import resolve_forms
from worker.store.models import Article, Match, Outcome, RawPage, Sighting
from worker.store.stories import delete_bands, insert_bands, story_rules

log = structlog.get_logger(__name__)

# Columns that reprocessing never rewrites: identity, history and counters.
_KEPT = {"id", "story_id", "first_seen_at", "last_seen_at", "seen_count"}


@dataclass
class ReviseReport:
    """What a replay or reprocess run did."""

    examined: int = 0
    stored: int = 0  # replay: rejections that became new articles
    duplicates: int = 0  # replay: rejections that joined an existing article
    updated: int = 0  # reprocess: articles rewritten in place
    merged: int = 0  # reprocess: articles whose new key belonged to another, merged into it
    unchanged: int = 0
    rejected: int = 0  # still (replay) or now (reprocess, article left as it was) rejected

    def add(self, other: ReviseReport) -> None:
        """Add another run's counts to these."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def _received(row: RawPage) -> Received:
    # The wire fields come back from the row; the content is the kept bytes, not re-encoded.
    content = row.dump_bytes()
    truncated = row.size > len(content)
    page = WireRawPage(
        content="",
        content_type=row.content_type,
        url=row.url,
        source=row.source,
        fetched_at=row.fetched_at,
        original_size=row.size if truncated else None,
    )
    return Received(
        page=page,
        content=content,
        content_hash=bytes(row.content_hash),
        receipt_key=f"raw:{row.id}",
    )


def list_rejected_ids(*, session: Session, reason: str | None = None) -> list[int]:
    """Ids of the rejected raw pages, oldest first, optionally of one reason."""
    query = select(RawPage.id).where(RawPage.outcome == Outcome.REJECTED).order_by(RawPage.id)
    if reason is not None:
        query = query.where(RawPage.reason == reason)
    return list(session.scalars(query))


def list_article_ids(
    *, session: Session, since: datetime | None = None, source: str | None = None
) -> list[int]:
    """Ids of the articles to reprocess: first seen since `since`, from `source`, oldest first."""
    query = select(Article.id).order_by(Article.id)
    if since is not None:
        query = query.where(Article.first_seen_at >= since)
    if source is not None:
        query = query.where(Article.source == source)
    return list(session.scalars(query))


def replay_rejections(*, session: Session, ids: Sequence[int], settings: Settings) -> ReviseReport:
    """Run rejected raw pages through the pipeline again; those that pass become articles."""
    report = ReviseReport()
    rows = session.scalars(select(RawPage).where(RawPage.id.in_(ids)).order_by(RawPage.id)).all()
    received = {bytes(row.content_hash): _received(row) for row in rows}
    results: dict[bytes, Processed | Rejection] = {
        content_hash: process(page, max_page_bytes=settings.max_page_bytes)
        for content_hash, page in received.items()
    }
    report.examined = len(rows)
    passed = resolve_forms(
        session=session,
        results={h: r for h, r in results.items() if isinstance(r, Processed)},
        first_page=received,
    )
    results.update(passed)
    writes = upsert_articles(session, passed, received, story_rules(settings))
    for row in rows:
        result = results[bytes(row.content_hash)]
        if isinstance(result, Rejection):
            report.rejected += 1
            row.reason, row.detail = result.reason, result.detail
            continue
        key = dedupe_key(result, row.source)
        created = writes.created_by.get(key) == bytes(row.content_hash)
        article_id = writes.article_ids[key]
        report.stored += created
        report.duplicates += not created
        # A replayed page that upgraded its article (a fuller copy) is the one that stores it.
        holds = writes.holder(key) == bytes(row.content_hash)
        row.outcome = Outcome.STORED if holds else Outcome.DUPLICATE
        row.article_id, row.reason, row.detail = article_id, None, None
        first = Match.NEW if created else Match.RICHER_COPY if holds else Match.SAME_KEY
        _relink_sightings(session, raw_page_id=row.id, article_id=article_id, first=first)
    session.flush()
    return report


def _relink_sightings(session: Session, *, raw_page_id: int, article_id: int, first: Match) -> None:
    """Point a formerly rejected page's receipts at its article; the first one joined it by
    `first` (and stored it if that is `new`), the others are copies of the same bytes."""
    receipts = session.scalars(
        select(Sighting).where(Sighting.raw_page_id == raw_page_id).order_by(Sighting.id)
    ).all()
    for position, receipt in enumerate(receipts):
        receipt.article_id = article_id
        receipt.match = first if position == 0 else Match.SAME_CONTENT
        receipt.outcome = Outcome.STORED if receipt.match is Match.NEW else Outcome.DUPLICATE
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(seen_count=Article.seen_count + len(receipts))
    )


def reprocess_articles(*, session: Session, ids: Sequence[int], settings: Settings) -> ReviseReport:
    """Clean and classify stored articles again from the raw page that created them."""
    report = ReviseReport()
    pairs = session.execute(
        select(Article, RawPage)
        .join(RawPage, RawPage.article_id == Article.id)
        .where(Article.id.in_(ids), RawPage.outcome == Outcome.STORED)
        .order_by(Article.id)
    ).all()
    for article, raw in pairs:
        report.examined += 1
        try:
            received = _received(raw)
        except ValueError as exc:
            # A packed page whose frame no longer inflates (its checksum fails): the article
            # stays as it is, and the run goes on.
            log.error("raw_page_unreadable", raw_page_id=raw.id, error=str(exc))
            report.rejected += 1
            continue
        result = process(received, max_page_bytes=settings.max_page_bytes)
        if isinstance(result, Rejection):
            # A page that passed once and fails now points at a regression: keep the article
            # and say so in the report rather than delete what consumers may already use.
            report.rejected += 1
            continue
        fresh = article_row(result, received)
        changes = {
            column: value
            for column, value in fresh.items()
            if column not in _KEPT and _differs(getattr(article, column), value)
        }
        if not changes:
            report.unchanged += 1
            continue
        key = dedupe_key(result, raw.source)
        owner = _key_owner(session, key)
        if owner is not None and owner != article.id:
            _merge_article(session, source_id=article.id, target_id=owner)
            report.merged += 1
            continue
        stored_print = body_print(article.body)  # before the update refreshes `article`
        fresh_print = body_print(fresh["body"])
        if "body" in changes:
            changes["body_shingles"] = shingle_bytes(fresh_print)
        session.execute(
            update(Article).where(Article.id == article.id).values(**storable_values(changes))
        )
        if "body" in changes or "published_at" in changes:
            # Its bands follow the body and the time; its story stays until `reprocess --stories`.
            delete_bands(session=session, prints={article.id: stored_print})
            insert_bands(
                session=session,
                prints={article.id: fresh_print},
                anchors={article.id: fresh["published_at"] or article.first_seen_at},
            )
        report.updated += 1
    return report


def _differs(stored: Any, fresh: Any) -> bool:
    if isinstance(stored, memoryview):
        stored = bytes(stored)
    return bool(stored != fresh)


def _key_owner(session: Session, key: tuple[str, Any, str | None]) -> int | None:
    headline_key, published_at, undated_source = key
    query = select(Article.id).where(Article.headline_key == headline_key)
    query = query.where(
        Article.published_at.is_(None)
        if published_at is None
        else Article.published_at == published_at
    )
    query = query.where(
        Article.undated_source.is_(None)
        if undated_source is None
        else Article.undated_source == undated_source
    )
    return session.scalar(query)


def _merge_article(session: Session, *, source_id: int, target_id: int) -> None:
    """Fold one article into another that owns its new key: receipts, pages, story and counts."""
    seen = session.scalar(select(Article.seen_count).where(Article.id == source_id)) or 0
    session.execute(
        update(Sighting)
        .where(Sighting.article_id == source_id)
        .values(
            article_id=target_id,
            outcome=Outcome.DUPLICATE,
            match=case(
                (Sighting.match == Match.NEW, literal(Match.SAME_KEY, Sighting.match.type)),
                else_=Sighting.match,
            ),
        )
    )
    session.execute(
        update(RawPage)
        .where(RawPage.article_id == source_id)
        .values(article_id=target_id, outcome=Outcome.DUPLICATE)
    )
    target_story = select(Article.story_id).where(Article.id == target_id).scalar_subquery()
    session.execute(
        update(Article).where(Article.story_id == source_id).values(story_id=target_story)
    )
    session.execute(
        update(Article).where(Article.linked_to == source_id).values(linked_to=target_id)
    )
    source_body = session.scalar(select(Article.body).where(Article.id == source_id)) or ""
    delete_bands(session=session, prints={source_id: body_print(source_body)})
    session.execute(
        update(Article).where(Article.id == target_id).values(seen_count=Article.seen_count + seen)
    )
    session.execute(delete(Article).where(Article.id == source_id))
