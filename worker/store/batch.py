"""The batch upsert: the only code that writes pages, articles and sightings.

One call per batch, inside the caller's transaction. Dedupe is the database's job: every insert is
`INSERT … ON CONFLICT DO NOTHING` against a named unique constraint, so concurrent workers that meet
the same article make exactly one row, and a redelivered batch (same receipt keys) adds nothing.
Rows are inserted in key order so that two batches locking the same keys take the locks in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.pipeline import Processed, Received
from worker.pipeline.types import Rejection
from worker.store.models import Article, Match, Outcome, RawPage, Sighting

# (headline_key, published_at, undated_source): exactly the columns of uq_articles_dedupe_key.
DedupeKey = tuple[str, Any, str | None]


@dataclass(frozen=True, slots=True)
class KnownContent:
    """A raw page already in the store, found by its content hash."""

    raw_page_id: int
    outcome: Outcome
    article_id: int | None
    reason: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one received dump in a batch."""

    receipt_key: str
    outcome: Outcome | None  # None: this receipt was already recorded (a redelivered batch)
    match: Match | None = None
    article_id: int | None = None
    region: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The outcome of every dump in a batch, in the order they came."""

    items: tuple[ItemOutcome, ...]

    def count(self, outcome: Outcome) -> int:
        """How many dumps of the batch ended with `outcome`."""
        return sum(1 for item in self.items if item.outcome is outcome)

    @property
    def already_recorded(self) -> int:
        """How many receipts were recorded by an earlier delivery of the same batch."""
        return sum(1 for item in self.items if item.outcome is None)


def find_known_content(*, session: Session, hashes: Collection[bytes]) -> dict[bytes, KnownContent]:
    """The raw pages already stored for these content hashes, by hash."""
    if not hashes:
        return {}
    rows = session.execute(
        select(
            RawPage.content_hash,
            RawPage.id,
            RawPage.outcome,
            RawPage.article_id,
            RawPage.reason,
            RawPage.detail,
        ).where(RawPage.content_hash.in_(sorted(hashes)))
    )
    return {row[0]: KnownContent(*row[1:]) for row in rows}


def upsert_batch(
    *,
    session: Session,
    pages: Sequence[Received],
    results: Mapping[bytes, Processed | Rejection],
    known: Mapping[bytes, KnownContent],
) -> BatchOutcome:
    """Record a batch: new raw pages, new articles, one sighting per page, and the seen counters.

    `results` holds the pipeline's result for each content hash that was not `known` before the
    batch; pages whose hash is in neither are a caller's bug.
    """
    first_page: dict[bytes, Received] = {}
    for page in pages:
        first_page.setdefault(page.content_hash, page)

    created_by, article_ids = _upsert_articles(session, results, first_page)
    inserted = _insert_raw_pages(session, results, first_page, created_by, article_ids)
    seen = {**known, **find_known_content(session=session, hashes=list(results))}

    outcomes: list[ItemOutcome] = []
    rows: list[dict[str, Any]] = []
    for page in pages:
        stored_first = (
            page.content_hash in inserted
            and first_page[page.content_hash].receipt_key == page.receipt_key
        )
        item = _item_outcome(
            page,
            result=results[page.content_hash] if stored_first else None,
            seen=seen[page.content_hash],
            created_by=created_by,
            article_ids=article_ids,
        )
        outcomes.append(item)
        rows.append(
            {
                "receipt_key": page.receipt_key,
                "raw_page_id": seen[page.content_hash].raw_page_id,
                "article_id": item.article_id,
                "outcome": item.outcome,
                "match": item.match,
                "url": page.page.url,
                "source": page.page.source,
                "fetched_at": page.page.fetched_at,
            }
        )
    recorded = set(
        session.scalars(
            insert(Sighting)
            .on_conflict_do_nothing(index_elements=[Sighting.receipt_key])
            .returning(Sighting.receipt_key),
            rows,
        )
    )
    _count_sightings(session, [item for item in outcomes if item.receipt_key in recorded])
    return BatchOutcome(
        tuple(
            item if item.receipt_key in recorded else ItemOutcome(item.receipt_key, None)
            for item in outcomes
        )
    )


def _dedupe_key(processed: Processed, source: str) -> DedupeKey:
    published = processed.clean.published
    if published is None:
        return (processed.headline_key, None, source)
    return (processed.headline_key, published.at, None)


def _article_row(processed: Processed, page: Received) -> dict[str, Any]:
    clean, verdict, published = processed.clean, processed.verdict, processed.clean.published
    key = _dedupe_key(processed, page.page.source)
    return {
        "headline": clean.headline,
        "headline_key": key[0],
        "published_at": key[1],
        "undated_source": key[2],
        "published_precision": published.precision if published else None,
        "published_source": published.source if published else None,
        "published_utc_offset_minutes": published.utc_offset_minutes if published else None,
        "body": "\n\n".join(clean.body),
        "byline": clean.byline,
        "section_labels": list(clean.section_labels),
        "region": verdict.region,
        "region_confidence": verdict.confidence,
        "region_scores": dict(verdict.scores),
        "region_evidence": [asdict(evidence) for evidence in verdict.evidence],
        "url": page.page.url,
        "source": page.page.source,
        "content_type": clean.kind,
        "first_seen_at": func.now(),
        "last_seen_at": func.now(),
        "seen_count": 0,  # raised by _count_sightings from the sightings actually recorded
        "extractor_version": processed.extractor_version,
        "classifier_version": processed.classifier_version,
    }


def _upsert_articles(
    session: Session,
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
) -> tuple[dict[DedupeKey, bytes], dict[DedupeKey, int]]:
    """Insert the batch's new articles; returns which content created each, and every key's id."""
    candidates: dict[DedupeKey, bytes] = {}
    for content_hash, result in results.items():
        if isinstance(result, Processed):
            key = _dedupe_key(result, first_page[content_hash].page.source)
            candidates.setdefault(key, content_hash)  # the first page in the batch wins the key
    if not candidates:
        return {}, {}

    ordered = sorted(candidates, key=lambda k: (k[0], str(k[1]), k[2] or ""))
    rows = [_article_row(results[candidates[key]], first_page[candidates[key]]) for key in ordered]  # type: ignore[arg-type]
    inserted = session.execute(
        insert(Article)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_articles_dedupe_key")
        .returning(Article.id, Article.headline_key, Article.published_at, Article.undated_source)
    ).all()
    article_ids: dict[DedupeKey, int] = {(r[1], r[2], r[3]): r[0] for r in inserted}
    created_by = {key: candidates[key] for key in article_ids}

    missing = [key for key in ordered if key not in article_ids]
    dated = [(k[0], k[1]) for k in missing if k[1] is not None]
    undated = [(k[0], k[2]) for k in missing if k[1] is None]
    if dated:
        article_ids.update(
            ((r[1], r[2], None), r[0])
            for r in session.execute(
                select(Article.id, Article.headline_key, Article.published_at).where(
                    tuple_(Article.headline_key, Article.published_at).in_(dated),
                    Article.undated_source.is_(None),
                )
            )
        )
    if undated:
        article_ids.update(
            ((r[1], None, r[2]), r[0])
            for r in session.execute(
                select(Article.id, Article.headline_key, Article.undated_source).where(
                    tuple_(Article.headline_key, Article.undated_source).in_(undated),
                    Article.published_at.is_(None),
                )
            )
        )
    return created_by, article_ids


def _insert_raw_pages(
    session: Session,
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
    created_by: Mapping[DedupeKey, bytes],
    article_ids: Mapping[DedupeKey, int],
) -> set[bytes]:
    """Insert the batch's new raw pages; returns the hashes this batch inserted.

    A hash it did not insert was stored meanwhile by a concurrent worker with the same bytes.
    """
    rows = []
    for content_hash in sorted(results):
        page, result = first_page[content_hash], results[content_hash]
        row: dict[str, Any] = {
            "content_hash": content_hash,
            "content": page.content,
            "size": page.page.original_size or len(page.content),
            "content_type": page.page.content_type,
            "url": page.page.url,
            "source": page.page.source,
            "fetched_at": page.page.fetched_at,
            "outcome": Outcome.REJECTED,
            "reason": None,
            "detail": None,
            "article_id": None,
        }
        if isinstance(result, Rejection):
            row |= {"reason": result.reason, "detail": result.detail}
        else:
            key = _dedupe_key(result, page.page.source)
            created = created_by.get(key) == content_hash
            row |= {
                "outcome": Outcome.STORED if created else Outcome.DUPLICATE,
                "article_id": article_ids[key],
            }
        rows.append(row)
    if not rows:
        return set()
    return set(
        session.scalars(
            insert(RawPage)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[RawPage.content_hash])
            .returning(RawPage.content_hash)
        )
    )


def _item_outcome(
    page: Received,
    *,
    result: Processed | Rejection | None,
    seen: KnownContent,
    created_by: Mapping[DedupeKey, bytes],
    article_ids: Mapping[DedupeKey, int],
) -> ItemOutcome:
    """The outcome of one receipt; `result` is given only to the receipt that stored its bytes."""
    if isinstance(result, Rejection):
        return ItemOutcome(
            page.receipt_key, Outcome.REJECTED, reason=result.reason, detail=result.detail
        )
    if isinstance(result, Processed):
        key = _dedupe_key(result, page.page.source)
        if created_by.get(key) == page.content_hash:
            return ItemOutcome(
                page.receipt_key,
                Outcome.STORED,
                Match.NEW,
                article_ids[key],
                region=result.verdict.region,
            )
        return ItemOutcome(page.receipt_key, Outcome.DUPLICATE, Match.SAME_KEY, article_ids[key])
    # The same bytes were stored before: by an earlier batch, a concurrent worker, or this batch.
    if seen.outcome is Outcome.REJECTED:
        return ItemOutcome(
            page.receipt_key, Outcome.REJECTED, reason=seen.reason, detail=seen.detail
        )
    return ItemOutcome(page.receipt_key, Outcome.DUPLICATE, Match.SAME_CONTENT, seen.article_id)


_ADD_SIGHTINGS = (
    update(Article.__table__)  # type: ignore[arg-type]
    .where(Article.__table__.c.id == bindparam("article_id"))
    .values(
        seen_count=Article.__table__.c.seen_count + bindparam("n"),
        last_seen_at=func.now(),
    )
)


def _count_sightings(session: Session, recorded: Sequence[ItemOutcome]) -> None:
    """Raise each article's seen_count and last_seen_at by the sightings this batch recorded."""
    counts = Counter(item.article_id for item in recorded if item.article_id is not None)
    if counts:
        session.connection().execute(
            _ADD_SIGHTINGS,
            [{"article_id": article_id, "n": n} for article_id, n in sorted(counts.items())],
        )
