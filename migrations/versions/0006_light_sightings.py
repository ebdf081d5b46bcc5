"""a sighting's UPDATE touches only the counters: no search vector, no whole-row comparison

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Every sighting of a known article raises its seen_count and last_seen_at. Measured on PostgreSQL 15
(EXPLAIN ANALYZE of 1,600 such UPDATEs): ~750 µs of server CPU each, for two reasons.
- search_vector was a stored generated column, recomputed on every UPDATE of the row: to_tsvector
  over the whole body (~435 µs) for a value that cannot have changed. A trigger now computes the
  same expression on INSERT and on UPDATE OF headline or body only; existing values are kept as
  they are (DROP EXPRESSION), so nothing is recomputed by this migration.
- the ingest_seq trigger's WHEN turned both row versions into JSON, tsvector and body included
  (~245 µs), to see whether anything but the counters changed. It now fires only on UPDATE OF the
  columns consumers pull, and compares those as a row.
Together: ~65 µs per sighting.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression of migration 0004's generated column, on NEW.
INDEX_FUNCTION = """
CREATE FUNCTION public.articles_index_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('simple'::regconfig, NEW.headline), 'A') ||
        setweight(to_tsvector('simple'::regconfig, left(NEW.body, 100000)), 'B');
    RETURN NEW;
END
$$
"""


# Every column of articles but seen_count, last_seen_at, ingest_seq and search_vector: a change to
# any of these gives the row a new ingest_seq (tests/store/test_migrations.py keeps the list whole).
STAMPED_COLUMNS = (
    "id", "headline", "headline_key", "published_at", "published_precision", "published_source",
    "published_utc_offset_minutes", "undated_source", "body", "byline", "section_labels", "region",
    "region_confidence", "region_scores", "region_evidence", "url", "source", "content_type",
    "first_seen_at", "extractor_version", "classifier_version", "body_hash", "story_id",
)  # fmt: skip
STAMP_ON_UPDATE = f"""
CREATE TRIGGER articles_stamp_ingest_seq_on_update
BEFORE UPDATE OF {", ".join(STAMPED_COLUMNS)} ON public.articles
FOR EACH ROW WHEN ((OLD.{", OLD.".join(STAMPED_COLUMNS)}) IS DISTINCT FROM
                   (NEW.{", NEW.".join(STAMPED_COLUMNS)}))
EXECUTE FUNCTION public.articles_stamp_ingest_seq()
"""


def upgrade() -> None:
    op.execute("ALTER TABLE public.articles ALTER COLUMN search_vector DROP EXPRESSION")
    op.execute(INDEX_FUNCTION)
    op.execute(
        "CREATE TRIGGER articles_index_search_on_write "
        "BEFORE INSERT OR UPDATE OF headline, body ON public.articles "
        "FOR EACH ROW EXECUTE FUNCTION public.articles_index_search()"
    )
    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_update ON public.articles")
    op.execute(STAMP_ON_UPDATE)


def downgrade() -> None:
    # A plain column cannot become a generated one again (before PostgreSQL 17): it is dropped
    # and re-added, which needs the consumer views over it rebuilt as migration 0004 made them.
    spec = importlib.util.spec_from_file_location(
        "migration_0004", Path(__file__).with_name("0004_consumer_views.py")
    )
    assert spec is not None and spec.loader is not None
    migration_0004 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration_0004)

    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_update ON public.articles")
    op.execute(migration_0004.STAMP_ON_UPDATE)
    op.execute("DROP TRIGGER articles_index_search_on_write ON public.articles")
    op.execute("DROP FUNCTION public.articles_index_search()")
    op.execute("DROP SCHEMA newsingest CASCADE")
    op.drop_index("ix_articles_search_vector", table_name="articles")
    op.drop_column("articles", "search_vector")
    op.add_column(
        "articles",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(migration_0004.SEARCH_VECTOR_SQL, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_articles_search_vector", "articles", ["search_vector"], postgresql_using="gin"
    )
    migration_0004.create_consumer_schema()
