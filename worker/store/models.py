"""The tables: raw pages by content hash, articles by dedupe key, and one sighting per receipt.

- `raw_pages`: every distinct dump ever received, keyed by the SHA-256 of its bytes, with its raw
  content and the outcome of its first processing (stored / duplicate / rejected + reason). A
  large page that became an article is kept as the zstd frame it travelled in (`content_codec`).
- `articles`: one row per dedupe key `(headline_key, published_at)`; a page with no timestamp is
  keyed by headline within its source (`undated_source`).
- `sightings`: one row per dump received (per message, not per distinct content), saying which raw
  page it was, which article it mapped to (none for a rejection), why, and from where. The books
  balance on this table: received = stored + duplicate + rejected.
- `source_tallies`: what each batch (and each crawl's group of fetches) brought from one source,
  appended in the same transaction; source health and drift are read from it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from worker.packing import zstd_decompress

# Named constraints make migrations reviewable and let the store name its ON CONFLICT target.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The full-text document: headline (weight A) and body (weight B). 'simple' because pages come in
# many languages and an English stemmer would mangle the rest; the body is cut at 100,000 characters
# so that no article can exceed the 1 MB limit of a tsvector and fail its whole batch. Migration
# 0006's trigger writes it; tests check the stored vectors equal this expression.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('simple'::regconfig, headline), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, left(body, 100000)), 'B')"
)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Outcome(enum.StrEnum):
    """What became of a received dump."""

    STORED = "stored"  # it made a new article
    DUPLICATE = "duplicate"  # it mapped to an article already stored
    REJECTED = "rejected"  # it could not be made into an article; the reason is kept


class Match(enum.StrEnum):
    """Why a sighting was linked to the article it was linked to."""

    NEW = "new"  # this sighting created the article
    SAME_CONTENT = "same_content"  # byte-identical to a dump seen before
    SAME_KEY = "same_key"  # different bytes, same headline and timestamp
    # Same key, and the article was rewritten from this copy: it held more (migration 0012).
    RICHER_COPY = "richer_copy"


class StoryLink(enum.StrEnum):
    """Why an article joined a story someone else began (a story's first article has none)."""

    REVISION = "revision"  # the same headline within the story window, and a similar body
    NEAR_DUPLICATE = "near_duplicate"  # another headline, a near-identical body within the window


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class RawPage(Base):
    """A distinct dump, by the hash of its bytes, with its raw content and first outcome."""

    __tablename__ = "raw_pages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # 'zstd': `content` is a zstd frame of the dump's bytes (see `dump_bytes`); NULL: the bytes.
    content_codec: Mapped[str | None] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(Integer)  # bytes received, before any cut to the size limit
    content_type: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, "outcome"))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)

    __table_args__ = (
        CheckConstraint(
            "(outcome = 'rejected') = (reason IS NOT NULL)", name="rejected_has_reason"
        ),
        CheckConstraint(
            "content_codec IS NULL OR content_codec = 'zstd'", name="known_content_codec"
        ),
    )

    def dump_bytes(self) -> bytes:
        """The dump's bytes as received (as far as the size limit kept them)."""
        content = bytes(self.content)
        if self.content_codec == "zstd":
            # Bounded by what the row says it holds: a frame can inflate a thousandfold.
            return zstd_decompress(content, limit=self.size)
        return content


class Article(Base):
    """One article per dedupe key, with its region verdict and how often it was seen."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    headline: Mapped[str] = mapped_column(Text)
    headline_key: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_precision: Mapped[str | None] = mapped_column(String(10))
    published_source: Mapped[str | None] = mapped_column(String(10))
    published_utc_offset_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    # A page without a timestamp dedupes by headline within its source; dated pages leave it null.
    undated_source: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # paragraphs joined by blank lines
    body_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of body, UTF-8
    # The body's shingle hashes for story linking (worker/pipeline/shingles.py), as stored by
    # `shingle_bytes`; null for articles stored before migration 0011.
    body_shingles: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Revisions of one story (the same headline re-published later) share the story_id, which is
    # the id of the story's first article. A new story points at itself.
    story_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # Why it joined its story, which article it was found like, and how alike the bodies are
    # (`worker.pipeline.shingles.similarity`; null when linked by an identical body hash). All null
    # for the article that began its story.
    link_reason: Mapped[StoryLink | None] = mapped_column(_enum(StoryLink, "story_link"))
    linked_to: Mapped[int | None] = mapped_column(BigInteger)
    link_similarity: Mapped[float | None] = mapped_column(Float)
    byline: Mapped[str | None] = mapped_column(Text)
    section_labels: Mapped[list[str]] = mapped_column(JSONB)
    region: Mapped[str] = mapped_column(String(40))
    region_confidence: Mapped[float] = mapped_column(Float)
    region_scores: Mapped[dict[str, float]] = mapped_column(JSONB)
    region_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(10))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_count: Mapped[int] = mapped_column(Integer)
    extractor_version: Mapped[str] = mapped_column(String(40))
    classifier_version: Mapped[str] = mapped_column(String(40))
    # The consumers' gap-safe pull cursor, stamped by a trigger (migration 0004) on insert and on
    # any change other than a sighting: (inserting transaction's xid << 24) + row within it.
    # Rows below newsingest.v1_ingest_horizon() are final; see docs/consumers.md.
    ingest_seq: Mapped[int] = mapped_column(BigInteger)
    # Written by a trigger (migration 0006) on insert and when headline or body change, from
    # SEARCH_VECTOR_SQL; not a generated column, which a sighting's UPDATE would recompute.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR)

    __table_args__ = (
        # The dedupe guarantee. NULLS NOT DISTINCT so that undated pages (published_at null)
        # collide on (headline_key, undated_source) and dated ones on (headline_key, published_at).
        UniqueConstraint(
            "headline_key",
            "published_at",
            "undated_source",
            name="uq_articles_dedupe_key",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(
            "(published_at IS NULL) = (undated_source IS NOT NULL)", name="undated_has_source"
        ),
        Index("ix_articles_ingest_seq", "ingest_seq", unique=True),
        Index("ix_articles_search_vector", "search_vector", postgresql_using="gin"),
    )


# Consumers read newest first (published_at DESC NULLS LAST, id DESC), overall and within a region
# or a source; these indexes serve those orders and time ranges without a sort, and every other
# filter on published_at or region (migration 0007 dropped the single-column indexes).
Index(
    "ix_articles_newest",
    Article.published_at.desc().nulls_last(),
    Article.id.desc(),
)
Index(
    "ix_articles_region_newest",
    Article.region,
    Article.published_at.desc().nulls_last(),
    Article.id.desc(),
)
# Story linking finds the other copies of a page by its URL (worker/store/stories.py). A hash
# index: equality is all it serves, and a B-tree refuses keys over ~2.7 kB, which a URL may be.
Index("ix_articles_url", Article.url, postgresql_using="hash")
Index(
    "ix_articles_source_newest",
    Article.source,
    Article.published_at.desc().nulls_last(),
    Article.id.desc(),
)


# The LSH band keys of each linkable article body (`worker.pipeline.shingles`), with the time the
# story window is measured from: published_at, or when an undated article was first seen. Any
# worker finds a new body's candidates with one indexed query. A row per band and no key of its
# own, nor a foreign key: the store alone writes it, for articles it has just inserted, and a
# reference check would cost an index probe per band.
story_bands = Table(
    "story_bands",
    Base.metadata,
    Column("band", BigInteger, nullable=False),
    Column("anchored_at", DateTime(timezone=True), nullable=False),
    Column("article_id", BigInteger, nullable=False),
    # No index by article: each band row would pay a second index insertion for the rare
    # delete (reprocess), which finds an article's rows by its bands instead.
    Index("ix_story_bands_band_anchored_at", "band", "anchored_at"),
)


class Sighting(Base):
    """One received dump: which raw page it was, which article it became or joined, and why."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # The receipt's idempotency key: a redelivered batch maps to the same keys and adds nothing.
    receipt_key: Mapped[str] = mapped_column(String(240), unique=True)
    raw_page_id: Mapped[int] = mapped_column(ForeignKey("raw_pages.id"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, "outcome"))
    match: Mapped[Match | None] = mapped_column(_enum(Match, "sighting_match"))
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(
            "(outcome = 'rejected') = (article_id IS NULL)", name="article_unless_rejected"
        ),
        Index("ix_sightings_source_received_at", "source", "received_at"),
    )


# What one batch brought from one source, appended by the store in the batch's transaction (and by
# the crawler for its fetches): the per-source daily health (migration 0013's v1_source_health)
# and the drift check (worker/health.py) read these instead of sightings, articles and raw pages
# (docs/performance.md: the view over those detoasts every body of the window for its median).
# Appended, never updated: concurrent batches of one source never wait on one counter row.
source_tallies = Table(
    "source_tallies",
    Base.metadata,
    Column("source", String(200), nullable=False),
    Column("tallied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("received", Integer, nullable=False, server_default="0"),
    Column("stored", Integer, nullable=False, server_default="0"),
    Column("duplicates", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    # {"no_body": 3, ...}; null when nothing was rejected.
    Column("rejected_by_reason", JSONB),
    # Of the stored articles: how many have a timestamp, one to the minute, a region (not unknown).
    Column("dated", Integer, nullable=False, server_default="0"),
    Column("minute_precision", Integer, nullable=False, server_default="0"),
    Column("regioned", Integer, nullable=False, server_default="0"),
    # The body length in characters of each stored article, for an exact median.
    Column("body_lengths", ARRAY(Integer)),
    Column("fetches", Integer, nullable=False, server_default="0"),
    Column("fetch_errors", Integer, nullable=False, server_default="0"),
    Index("ix_source_tallies_source_tallied_at", "source", "tallied_at"),
    # Rows arrive in time order: a BRIN index serves the window of every source for nearly nothing.
    Index("ix_source_tallies_tallied_at", "tallied_at", postgresql_using="brin"),
)

# A drift warning already logged for a source on a day (UTC): the row makes "once a day" hold
# across processes and restarts.
source_health_warnings = Table(
    "source_health_warnings",
    Base.metadata,
    Column("source", String(200), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("warned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
