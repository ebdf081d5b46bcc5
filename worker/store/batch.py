"""The batch upsert: the only code that writes pages, articles and sightings.

One call per batch, inside the caller's transaction. Dedupe is the database's job: every insert is
`INSERT … ON CONFLICT DO NOTHING` against a named unique constraint, so concurrent workers that meet
the same article make exactly one row, and a redelivered batch (same receipt keys) adds nothing.
Rows are inserted in key order so that two batches locking the same keys take the locks in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import psycopg
import structlog
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Enum,
    LargeBinary,
    Table,
    any_,
    bindparam,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from worker.pipeline import Processed, Received
from worker.pipeline.shingles import (
    BodyPrint,
    body_print,
    shingle_bytes,
    similarity,
    stored_print,
)
from worker.pipeline.types import Rejection
from worker.store._storable import storable_json, storable_text, storable_values
from worker.store.forms import LOCK_HEADLINES, resolve_forms
from worker.store.models import Article, Match, Outcome, RawPage, Sighting
from worker.store.stories import StoryRules, assign_stories, delete_bands, insert_bands
from worker.store.stories import now as story_clock

log = structlog.get_logger(__name__)

# (headline_key, published_at, undated_source): exactly the columns of uq_articles_dedupe_key.
DedupeKey = tuple[str, Any, str | None]

DEFAULT_STORY_RULES = StoryRules()


class _BulkInsert:
    """`INSERT … SELECT … FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING …` for one table.

    One statement per batch whose text never changes, each column sent as one array parameter in
    PostgreSQL's binary format, on the session's own connection (so inside its transaction).
    Profiled: SQLAlchemy's multi-row VALUES made a new SQL text for every batch size, which psycopg
    parsed afresh each time (~0.5 ms of CPU per page); then text-format arrays cost psycopg one
    regex substitution per quote or backslash in every body (~250 µs per page); the binary format
    copies the bytes as they are. Names come from the models, never from input.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        conflict: str,
        returning: Sequence[str],
        now: Sequence[str] = (),
    ) -> None:
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        self.columns = tuple(columns)
        self.jsonb = {name for name in columns if isinstance(table.c[name].type, JSONB)}
        arrays = []
        for name in columns:
            column_type = table.c[name].type
            sql_type = column_type.compile(dialect=dialect)
            if name in self.jsonb or isinstance(column_type, Enum):
                # Sent as text; PostgreSQL converts each element on the way in.
                arrays.append(f"CAST(CAST(%({name})b AS TEXT[]) AS {sql_type}[])")
            else:
                arrays.append(f"CAST(%({name})b AS {sql_type}[])")
        targets = ", ".join([*columns, *now])
        values = ", ".join([*(f"u.{name}" for name in columns), *("now()" for _ in now)])
        self.statement = (
            f"INSERT INTO {table.name} ({targets}) SELECT {values} "  # noqa: S608 - model names
            f"FROM unnest({', '.join(arrays)}) AS u({', '.join(columns)}) "
            f"ON CONFLICT {conflict} DO NOTHING RETURNING {', '.join(returning)}"
        )

    def run(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Insert the rows (dicts with every column) and return the RETURNING rows."""
        params: dict[str, list[Any]] = {}
        for name in self.columns:
            values = [row.get(name) for row in rows]
            if name in self.jsonb:
                values = [None if v is None else storable_json(v) for v in values]
            else:
                # psycopg would send an Enum member's name; the database knows its value. Text
                # goes through the one rule for what PostgreSQL cannot store (`_storable`).
                values = [
                    v.value
                    if isinstance(v, enum.Enum)
                    else storable_text(v)
                    if isinstance(v, str)
                    else v
                    for v in values
                ]
            params[name] = values
        connection = session.connection().connection.driver_connection
        assert isinstance(connection, psycopg.Connection)  # the only driver the store supports
        with connection.cursor() as cursor:
            cursor.execute(self.statement, params, prepare=True)
            return cursor.fetchall()


_INSERT_ARTICLES = _BulkInsert(
    Article.__table__,  # type: ignore[arg-type]
    [
        "id", "story_id", "link_reason", "linked_to", "link_similarity", "headline",
        "headline_key", "published_at", "undated_source", "published_precision",
        "published_source", "published_utc_offset_minutes", "body", "body_hash",
        "body_shingles", "byline", "section_labels", "region", "region_confidence", "region_scores",
        "region_evidence", "url", "source", "content_type", "seen_count", "extractor_version",
        "classifier_version",
    ],
    conflict="ON CONSTRAINT uq_articles_dedupe_key",
    returning=["id", "headline_key", "published_at", "undated_source"],
    now=["first_seen_at", "last_seen_at"],
)  # fmt: skip
_INSERT_RAW_PAGES = _BulkInsert(
    RawPage.__table__,  # type: ignore[arg-type]
    [
        "content_hash", "content", "content_codec", "size", "content_type", "url", "source",
        "fetched_at", "outcome", "reason", "detail", "article_id",
    ],
    conflict="(content_hash)",
    returning=["content_hash", "id", "outcome", "article_id", "reason", "detail"],
)  # fmt: skip
_INSERT_SIGHTINGS = _BulkInsert(
    Sighting.__table__,  # type: ignore[arg-type]
    [
        "receipt_key", "raw_page_id", "article_id", "outcome", "match", "url", "source",
        "fetched_at",
    ],
    conflict="(receipt_key)",
    returning=["receipt_key"],
)  # fmt: skip


# `= ANY(array)` rather than `IN (…)`: one SQL text whatever the batch's size, so psycopg parses
# it once per process (an IN list of each new length cost ~1 ms to parse, ~35 µs per page).
_HASHES = bindparam("hashes", type_=ARRAY(LargeBinary))


class ContentRaced(Exception):
    """A concurrent batch stored some of this batch's contents first: roll back and run it again."""

    def __init__(self, count: int) -> None:
        """`count` contents made articles here but were stored by another batch."""
        super().__init__(f"{count} contents were stored by a concurrent batch first")
        self.count = count


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
        ).where(RawPage.content_hash == any_(_HASHES)),
        {"hashes": sorted(hashes)},
    )
    return {row[0]: KnownContent(*row[1:]) for row in rows}


def upsert_batch(
    *,
    session: Session,
    pages: Sequence[Received],
    results: Mapping[bytes, Processed | Rejection],
    known: Mapping[bytes, KnownContent],
    story_rules: StoryRules = DEFAULT_STORY_RULES,
) -> BatchOutcome:
    """Record a batch: new raw pages, new articles, one sighting per page, and the seen counters.

    `results` holds the pipeline's result for each content hash that was not `known` before the
    batch; pages whose hash is in neither are a caller's bug. A new article joins the story of a
    revision or a near-duplicate of it by `story_rules` (`worker.store.stories`), or begins one.
    """
    first_page: dict[bytes, Received] = {}
    for page in pages:
        first_page.setdefault(page.content_hash, page)
    results = resolve_forms(session=session, results=results, first_page=first_page)

    # An article created by this batch is seen exactly by this batch's receipts of it, so its
    # count is written with it: a later UPDATE would rewrite the row and recompute its generated
    # search vector (profiled: the second largest server cost per page).
    receipts_per_key: Counter[DedupeKey] = Counter()
    for page in {page.receipt_key: page for page in pages}.values():
        result = results.get(page.content_hash)
        if isinstance(result, Processed):
            receipts_per_key[dedupe_key(result, first_page[page.content_hash].page.source)] += 1
    writes = upsert_articles(
        session, results, first_page, story_rules, seen_counts=receipts_per_key
    )
    created_by, article_ids = writes.created_by, writes.article_ids
    inserted = _insert_raw_pages(session, results, first_page, writes)
    # The raw page decides: a content that made (or upgraded) an article here but whose raw page
    # a concurrent batch stored first (the same bytes from another source make another undated
    # key) must not leave that article behind. Rolled back and run again, the batch finds the
    # content stored.
    raced = [h for h in (*created_by.values(), *writes.upgraded_by.values()) if h not in inserted]
    if raced:
        raise ContentRaced(len(raced))
    # Hashes neither known before nor inserted now were stored meanwhile by a concurrent batch.
    stored_meanwhile = [h for h in results if h not in inserted]
    seen = {**known, **inserted, **find_known_content(session=session, hashes=stored_meanwhile)}

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
            writes=writes,
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
    recorded = {row[0] for row in _INSERT_SIGHTINGS.run(session, rows)}
    created = {article_ids[key] for key in created_by}
    _count_sightings(
        session,
        [
            item
            for item in outcomes
            if item.receipt_key in recorded and item.article_id not in created
        ],
    )
    _tally_sources(
        session,
        [
            (page, item, results.get(page.content_hash))
            for page, item in zip(pages, outcomes, strict=True)
            if item.receipt_key in recorded
        ],
    )
    # Delivered when (and only if) the batch commits, so consumers can LISTEN instead of polling.
    session.execute(
        text("SELECT pg_notify('newsingest_articles', json_build_object('stored', :n)::text)"),
        {"n": sum(i.outcome is Outcome.STORED and i.receipt_key in recorded for i in outcomes)},
    )
    return BatchOutcome(
        tuple(
            item if item.receipt_key in recorded else ItemOutcome(item.receipt_key, None)
            for item in outcomes
        )
    )


def dedupe_key(processed: Processed, source: str) -> DedupeKey:
    """The values of uq_articles_dedupe_key for a processed page from `source`."""
    # As stored (`_storable`), so the key compares equal to what the insert returns.
    published, headline = processed.clean.published, storable_text(processed.headline_key)
    if published is None:
        return (headline, None, storable_text(source))
    return (headline, published.at, None)


def article_row(processed: Processed, page: Received) -> dict[str, Any]:
    """The articles row a processed page makes (without id and story_id)."""
    clean, verdict, published = processed.clean, processed.verdict, processed.clean.published
    key = dedupe_key(processed, page.page.source)
    # Hashed as it is stored (see `_storable`), so equal stored bodies have equal hashes.
    body = storable_text("\n\n".join(clean.body))
    return {
        "headline": clean.headline,
        "headline_key": key[0],
        "published_at": key[1],
        "undated_source": key[2],
        "published_precision": published.precision if published else None,
        "published_source": published.source if published else None,
        "published_utc_offset_minutes": published.utc_offset_minutes if published else None,
        "body": body,
        "body_hash": hashlib.sha256(body.encode("utf-8")).digest(),
        "byline": clean.byline,
        "section_labels": list(clean.section_labels),
        "region": verdict.region,
        "region_confidence": verdict.confidence,
        "region_scores": dict(verdict.scores),
        "region_evidence": [
            {
                "place": e.place,
                "country": e.country,
                "region": e.region,
                "where": e.where,
                "weight": e.weight,
            }
            for e in verdict.evidence
        ],
        "url": page.page.url,
        "source": page.page.source,
        "content_type": clean.kind,
        "extractor_version": processed.extractor_version,
        "classifier_version": processed.classifier_version,
    }


@dataclass(frozen=True, slots=True)
class ArticleWrites:
    """What `upsert_articles` wrote: by dedupe key, the content that created or now holds an
    article, and every key's article id."""

    created_by: dict[DedupeKey, bytes]
    article_ids: dict[DedupeKey, int]
    # Articles that existed and now hold a richer copy of their own source's page (`_holds_more`).
    upgraded_by: dict[DedupeKey, bytes]

    def holder(self, key: DedupeKey) -> bytes | None:
        """The content whose raw page now makes the article of `key`, if this batch wrote it."""
        return self.created_by.get(key) or self.upgraded_by.get(key)


def upsert_articles(
    session: Session,
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
    story_rules: StoryRules,
    *,
    seen_counts: Mapping[DedupeKey, int] | None = None,
) -> ArticleWrites:
    """Insert the batch's new articles and upgrade those a fuller copy of the same page meets."""
    candidates: dict[DedupeKey, bytes] = {}
    for content_hash, result in results.items():
        if not isinstance(result, Processed):
            continue
        key = dedupe_key(result, first_page[content_hash].page.source)
        # The first page in the batch wins the key, unless a later one is a fuller copy of it.
        rival = candidates.get(key)
        if rival is None or _fuller_in_batch(results, first_page, content_hash, rival):
            candidates[key] = content_hash
    if not candidates:
        return ArticleWrites({}, {}, {})

    ordered = sorted(candidates, key=lambda k: (k[0], str(k[1]), k[2] or ""))
    rows = {
        key: article_row(results[candidates[key]], first_page[candidates[key]])  # type: ignore[arg-type]
        for key in ordered
    }
    ids = dict(zip(ordered, _allocate_article_ids(session, len(ordered)), strict=True))
    by_id = {ids[key]: row for key, row in rows.items()}
    prints = {ids[key]: body_print(row["body"]) for key, row in rows.items()}
    # The transaction's time: when these articles are first seen (their first_seen_at).
    seen_at = story_clock(session)
    dated_headlines = sorted({key[0] for key in ordered if key[1] is not None})
    if dated_headlines:
        session.execute(LOCK_HEADLINES, {"keys": dated_headlines})
    links = assign_stories(
        session=session, articles=by_id, prints=prints, seen_at=seen_at, rules=story_rules
    )
    for key, row in rows.items():
        seen = seen_counts.get(key, 0) if seen_counts else 0
        link = links[ids[key]]
        row |= {
            "id": ids[key],
            "story_id": link.story_id,
            "link_reason": link.reason,
            "linked_to": link.linked_to,
            "link_similarity": link.similarity,
            "seen_count": seen,
            "body_shingles": shingle_bytes(prints[ids[key]]),
        }
    inserted = cast(
        "Iterable[tuple[int, str, Any, str | None]]",
        _INSERT_ARTICLES.run(session, list(rows.values())),
    )
    article_ids: dict[DedupeKey, int] = {
        (headline_key, published_at, undated_source): article_id
        for article_id, headline_key, published_at, undated_source in inserted
    }
    created_by = {key: candidates[key] for key in article_ids}
    insert_bands(
        session=session,
        prints={i: prints[i] for i in article_ids.values()},
        anchors={i: by_id[i]["published_at"] or seen_at for i in article_ids.values()},
    )

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
    upgraded = _upgrade_articles(
        session,
        existing={article_ids[key]: rows[key] for key in missing if key in article_ids},
        prints={article_ids[key]: prints[ids[key]] for key in missing if key in article_ids},
    )
    upgraded_by = {key: candidates[key] for key in missing if article_ids.get(key) in upgraded}
    return ArticleWrites(created_by, article_ids, upgraded_by)


# A later copy of a stored article's page, from the same source, replaces the stored copy when it
# holds more: nearly all of the stored body and a good deal besides (the full page after a
# truncated re-send, or after a first fetch that caught the page half-published), or the same
# body with fields the stored copy lacks (a byline, section labels, a URL) and none it has lost.
# Shorter or different copies stay sightings. A copy from another source never replaces: the
# article keeps the source that first published it, and other outlets' copies join its story.
_CONTAINS = 0.9  # share of the stored body's shingles found in the new copy
_FULLER_BY = 1.2  # a fuller body's distinct shingles over the stored body's
_SAME_BODY_BY = 0.9  # a body at least this long (distinct shingles) counts as the same body
_FIELDS = ("byline", "section_labels", "url")  # the optional fields a richer copy may add
# Columns an upgrade keeps: identity, the dedupe key itself, counters and the story link.
_UPGRADE_KEPT = frozenset(
    {
        "id", "story_id", "link_reason", "linked_to", "link_similarity", "seen_count",
        "headline_key", "published_at", "undated_source", "source",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Copy:
    """What deciding between two copies of one article looks at."""

    body: BodyPrint
    fields: tuple[Any, ...]  # the values of _FIELDS


def _copy_of(row: Mapping[str, Any], body: BodyPrint) -> _Copy:
    return _Copy(body, tuple(row[name] for name in _FIELDS))


def _holds_more(fresh: _Copy, stored: _Copy) -> bool:
    """Whether a new copy holds the stored copy's body and more body or more fields besides."""
    if not stored.body.shingles.size:
        return bool(fresh.body.shingles.size)
    if similarity(fresh.body, stored.body) < _CONTAINS:
        return False
    ratio = np.unique(fresh.body.shingles).size / np.unique(stored.body.shingles).size
    if ratio >= _FULLER_BY:
        return True
    if ratio < _SAME_BODY_BY:
        return False
    filled = [bool(value) for value in fresh.fields]
    had = [bool(value) for value in stored.fields]
    return sum(filled) > sum(had) and all(f or not h for f, h in zip(filled, had, strict=True))


def _fuller_in_batch(
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
    fresh_hash: bytes,
    rival_hash: bytes,
) -> bool:
    """Whether a batch's later copy of a key should make the article instead of its first."""
    fresh, rival = results[fresh_hash], results[rival_hash]
    if not isinstance(fresh, Processed) or not isinstance(rival, Processed):
        return False
    if first_page[fresh_hash].page.source != first_page[rival_hash].page.source:
        return False
    if fresh.clean.kind != rival.clean.kind:
        return False  # the page's other form (`forms`): a text dump's menus are not more story
    copies = [
        _copy_of(row, body_print(row["body"]))
        for row in (
            article_row(fresh, first_page[fresh_hash]),
            article_row(rival, first_page[rival_hash]),
        )
    ]
    return _holds_more(*copies)


def _upgrade_articles(
    session: Session,
    *,
    existing: Mapping[int, dict[str, Any]],
    prints: Mapping[int, BodyPrint],
) -> set[int]:
    """Rewrite the stored articles that this batch's copy of their page holds more than; returns
    their ids. `existing` maps an article id to the row this batch's copy would make."""
    if not existing:
        return set()
    stored = session.execute(
        select(
            Article.id,
            Article.source,
            Article.content_type,
            Article.body,
            Article.body_shingles,
            Article.first_seen_at,
            *(Article.__table__.c[name] for name in _FIELDS),
        ).where(Article.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))),
        {"ids": sorted(existing)},
    ).all()
    upgraded: set[int] = set()
    for article_id, source, content_type, body, shingles, first_seen_at, *fields in stored:
        row, fresh = existing[article_id], prints[article_id]
        old = stored_print(bytes(shingles)) if shingles is not None else body_print(body)
        # The page's other form (an HTML page's text dump, `forms`) is not a fuller copy: what
        # it holds beyond the stored body is the site's menus and footers.
        if row["source"] != source or row["content_type"] != content_type:
            continue
        if not _holds_more(_copy_of(row, fresh), _Copy(old, tuple(fields))):
            continue
        changes = {k: v for k, v in row.items() if k not in _UPGRADE_KEPT}
        changes["body_shingles"] = shingle_bytes(fresh)
        session.execute(
            update(Article).where(Article.id == article_id).values(**storable_values(changes))
        )
        # The raw page that made the article is now a duplicate of it; the batch's new raw page
        # is inserted as the one that stores it, so reprocessing reads the richer copy.
        session.execute(
            update(RawPage)
            .where(RawPage.article_id == article_id, RawPage.outcome == Outcome.STORED)
            .values(outcome=Outcome.DUPLICATE)
        )
        delete_bands(session=session, prints={article_id: body_print(body)})
        insert_bands(
            session=session,
            prints={article_id: fresh},
            anchors={article_id: row["published_at"] or first_seen_at},
        )
        upgraded.add(article_id)
    if upgraded:
        log.info("articles_upgraded", articles=sorted(upgraded))
    return upgraded


# Ids are drawn before the insert so that a new story's story_id can be its own id in one statement.
_NEXT_ARTICLE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, :n)"
)


def _allocate_article_ids(session: Session, n: int) -> list[int]:
    return list(session.scalars(_NEXT_ARTICLE_IDS, {"n": n}))


def _insert_raw_pages(
    session: Session,
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
    writes: ArticleWrites,
) -> dict[bytes, KnownContent]:
    """Insert the batch's new raw pages; returns those this batch inserted, by hash.

    A hash it did not insert was stored meanwhile by a concurrent worker with the same bytes.
    """
    rows = []
    for content_hash in sorted(results):
        page, result = first_page[content_hash], results[content_hash]
        # A page that travelled packed is kept so, unless rejected: rejections stay readable in
        # SQL, and are few.
        packed = page.packed is not None and not isinstance(result, Rejection)
        row: dict[str, Any] = {
            "content_hash": content_hash,
            "content": page.packed if packed else page.content,
            "content_codec": "zstd" if packed else None,
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
            key = dedupe_key(result, page.page.source)
            holds = writes.holder(key) == content_hash
            row |= {
                "outcome": Outcome.STORED if holds else Outcome.DUPLICATE,
                "article_id": writes.article_ids[key],
            }
        rows.append(row)
    if not rows:
        return {}
    return {
        bytes(content_hash): KnownContent(raw_page_id, Outcome(outcome), article_id, reason, detail)
        for content_hash, raw_page_id, outcome, article_id, reason, detail in (
            _INSERT_RAW_PAGES.run(session, rows)
        )
    }


def _item_outcome(
    page: Received,
    *,
    result: Processed | Rejection | None,
    seen: KnownContent,
    writes: ArticleWrites,
) -> ItemOutcome:
    """The outcome of one receipt; `result` is given only to the receipt that stored its bytes."""
    if isinstance(result, Rejection):
        return ItemOutcome(
            page.receipt_key, Outcome.REJECTED, reason=result.reason, detail=result.detail
        )
    if isinstance(result, Processed):
        key = dedupe_key(result, page.page.source)
        article_id = writes.article_ids[key]
        if writes.created_by.get(key) == page.content_hash:
            return ItemOutcome(
                page.receipt_key,
                Outcome.STORED,
                Match.NEW,
                article_id,
                region=result.verdict.region,
            )
        if writes.upgraded_by.get(key) == page.content_hash:
            return ItemOutcome(page.receipt_key, Outcome.DUPLICATE, Match.RICHER_COPY, article_id)
        return ItemOutcome(page.receipt_key, Outcome.DUPLICATE, Match.SAME_KEY, article_id)
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


# Prepared once per connection, like the bulk inserts: one row per source the batch held.
_INSERT_TALLY = (
    "INSERT INTO source_tallies (source, received, stored, duplicates, rejected, "
    "rejected_by_reason, dated, minute_precision, regioned, body_lengths) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _tally_sources(
    session: Session, recorded: Sequence[tuple[Received, ItemOutcome, Processed | Rejection | None]]
) -> None:
    """Append what this batch's recorded receipts brought, per source, to `source_tallies`."""
    tallies: dict[str, dict[str, Any]] = {}
    for page, item, result in recorded:
        tally = tallies.setdefault(
            page.page.source,
            {"received": 0, "stored": 0, "duplicates": 0, "rejected": 0, "reasons": Counter(),
             "dated": 0, "minute": 0, "regioned": 0, "lengths": []},
        )  # fmt: skip
        tally["received"] += 1
        if item.outcome is Outcome.DUPLICATE:
            tally["duplicates"] += 1
        elif item.outcome is Outcome.REJECTED:
            tally["rejected"] += 1
            tally["reasons"][item.reason or "unknown"] += 1
        elif item.outcome is Outcome.STORED and isinstance(result, Processed):
            published = result.clean.published
            tally["stored"] += 1
            tally["dated"] += published is not None
            tally["minute"] += published is not None and published.precision == "minute"
            tally["regioned"] += result.verdict.region != "unknown"
            # The length of the body as `article_row` stores it (paragraphs joined by blank lines;
            # `storable_text` swaps characters one for one), without building it again.
            body = result.clean.body
            tally["lengths"].append(sum(map(len, body)) + 2 * max(len(body) - 1, 0))
    if not tallies:
        return
    rows = [
        (
            storable_text(source),
            t["received"],
            t["stored"],
            t["duplicates"],
            t["rejected"],
            Jsonb(dict(t["reasons"])) if t["reasons"] else None,
            t["dated"],
            t["minute"],
            t["regioned"],
            t["lengths"] or None,
        )
        for source, t in sorted(tallies.items())
    ]
    connection = session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)  # the only driver the store supports
    with connection.cursor() as cursor:
        # One row a batch as a rule: executemany's pipeline cost ~5 ms a call here (measured).
        for row in rows:
            cursor.execute(_INSERT_TALLY, row, prepare=True)


def _count_sightings(session: Session, recorded: Sequence[ItemOutcome]) -> None:
    """Raise each article's seen_count and last_seen_at by the sightings this batch recorded."""
    counts = Counter(item.article_id for item in recorded if item.article_id is not None)
    if counts:
        session.connection().execute(
            _ADD_SIGHTINGS,
            [{"article_id": article_id, "n": n} for article_id, n in sorted(counts.items())],
        )
