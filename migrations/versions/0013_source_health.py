"""per-source health: tallies appended by each batch and crawl, a daily view, drift warnings

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

Each batch appends, in its own transaction, one `source_tallies` row per source it held: pages
received, stored, duplicate and rejected (by reason), and of the stored articles how many have a
timestamp, one to the minute, a region, and their body lengths. The crawler appends its fetches
and fetch errors there too. `v1_source_health` gives consumers one row per source and UTC day.

Tallies of the pages received before this release are rebuilt from sightings, raw pages and
articles, one row per source and hour, so drift has a baseline from the first day (it reads every
stored body once: 12 s for 600,000 sightings in bench/health.py); crawl fetches before it are not
rebuilt (crawl_urls keeps only the last fetch of each URL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
WITH seen AS (
    SELECT s.source, date_trunc('hour', s.received_at) AS hour, s.received_at, s.outcome,
           CASE WHEN s.outcome = 'rejected' THEN p.reason END AS reason,
           a.published_at, a.published_precision, a.region, length(a.body) AS body_length
    FROM public.sightings AS s
    JOIN public.raw_pages AS p ON p.id = s.raw_page_id
    LEFT JOIN public.articles AS a ON a.id = s.article_id AND s.outcome = 'stored'
), reasons AS (
    SELECT source, hour, jsonb_object_agg(reason, n) AS rejected_by_reason
    FROM (SELECT source, hour, reason, count(*) AS n FROM seen
          WHERE reason IS NOT NULL GROUP BY source, hour, reason) AS counted
    GROUP BY source, hour
)
INSERT INTO public.source_tallies (
    source, tallied_at, received, stored, duplicates, rejected, rejected_by_reason,
    dated, minute_precision, regioned, body_lengths)
SELECT seen.source, max(seen.received_at), count(*),
       count(*) FILTER (WHERE seen.outcome = 'stored'),
       count(*) FILTER (WHERE seen.outcome = 'duplicate'),
       count(*) FILTER (WHERE seen.outcome = 'rejected'),
       reasons.rejected_by_reason,
       count(*) FILTER (WHERE seen.outcome = 'stored' AND seen.published_at IS NOT NULL),
       count(*) FILTER (WHERE seen.outcome = 'stored' AND seen.published_precision = 'minute'),
       count(*) FILTER (WHERE seen.outcome = 'stored' AND seen.region <> 'unknown'),
       array_agg(seen.body_length) FILTER (WHERE seen.outcome = 'stored')
FROM seen
LEFT JOIN reasons ON reasons.source = seen.source AND reasons.hour = seen.hour
GROUP BY seen.source, seen.hour, reasons.rejected_by_reason
"""

# Shares are of the day's stored articles (minute precision: of its dated ones); null when there
# are none. The day's reasons and median come from its rows only: the filter on `day` a consumer
# writes reaches the grouped scan, and the median reads that day's rows by their index.
V1_SOURCE_HEALTH = """
CREATE VIEW newsingest.v1_source_health AS
SELECT g.source, g.day, g.received, g.stored, g.duplicates, g.rejected,
       coalesce(g.rejected_by_reason, '{}'::jsonb) AS rejected_by_reason,
       g.dated::float8 / nullif(g.stored, 0) AS dated_share,
       g.regioned::float8 / nullif(g.stored, 0) AS regioned_share,
       g.minute_precision::float8 / nullif(g.dated, 0) AS minute_precision_share,
       m.median_body_length, g.fetches, g.fetch_errors
FROM (
    SELECT t.source, (t.tallied_at AT TIME ZONE 'UTC')::date AS day,
           sum(t.received) AS received, sum(t.stored) AS stored,
           sum(t.duplicates) AS duplicates, sum(t.rejected) AS rejected,
           (SELECT jsonb_object_agg(r.key, r.n) FROM (
                SELECT e.key, sum(e.value::bigint) AS n
                FROM unnest(array_agg(t.rejected_by_reason)) AS j(reasons),
                     jsonb_each_text(j.reasons) AS e
                GROUP BY e.key) AS r) AS rejected_by_reason,
           sum(t.dated) AS dated, sum(t.minute_precision) AS minute_precision,
           sum(t.regioned) AS regioned, sum(t.fetches) AS fetches,
           sum(t.fetch_errors) AS fetch_errors
    FROM public.source_tallies AS t
    GROUP BY t.source, (t.tallied_at AT TIME ZONE 'UTC')::date
) AS g
CROSS JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l.length) AS median_body_length
    FROM public.source_tallies AS x, unnest(x.body_lengths) AS l(length)
    WHERE x.source = g.source
      AND x.tallied_at >= g.day::timestamp AT TIME ZONE 'UTC'
      AND x.tallied_at < (g.day + 1)::timestamp AT TIME ZONE 'UTC'
) AS m
"""

HEALTH_COMMENTS = {
    "source": "The producer's name for where the pages came from.",
    "day": "The UTC day the pages were received (or fetched, for fetches).",
    "received": "Dumps received from the source that day (stored + duplicates + rejected).",
    "stored": "Dumps that made a new article.",
    "duplicates": "Dumps that mapped to an article already stored.",
    "rejected": "Dumps that could not be made into an article.",
    "rejected_by_reason": "JSON object: rejections by reason (no_body, too_large, ...).",
    "dated_share": "0..1: share of the stored articles with a timestamp; null if none stored.",
    "regioned_share": "0..1: share of the stored articles with a region (not 'unknown').",
    "minute_precision_share": "0..1: share of the dated stored articles whose timestamp is "
    "to the minute (the rest give only a day).",
    "median_body_length": "Median body length of the stored articles, in characters.",
    "fetches": "Pages, feeds and sitemaps of the source the crawler fetched (or tried to).",
    "fetch_errors": "Fetches that failed: no answer, or an HTTP error status.",
}


def _comment(view: str, comments: dict[str, str]) -> None:
    conn = op.get_bind()
    for column, text in comments.items():
        # COMMENT takes no bind parameters; quote_literal does the quoting server-side.
        literal = conn.execute(sa.text("SELECT quote_literal(:t)"), {"t": text}).scalar_one()
        op.execute(f"COMMENT ON COLUMN newsingest.{view}.{column} IS {literal}")


def upgrade() -> None:
    op.create_table(
        "source_tallies",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column(
            "tallied_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("received", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stored", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected_by_reason", postgresql.JSONB(), nullable=True),
        sa.Column("dated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("minute_precision", sa.Integer(), server_default="0", nullable=False),
        sa.Column("regioned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("body_lengths", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("fetches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fetch_errors", sa.Integer(), server_default="0", nullable=False),
    )  # fmt: skip
    op.execute(BACKFILL)
    op.create_index(
        "ix_source_tallies_source_tallied_at", "source_tallies", ["source", "tallied_at"]
    )
    op.create_index(
        "ix_source_tallies_tallied_at", "source_tallies", ["tallied_at"], postgresql_using="brin"
    )
    op.create_table(
        "source_health_warnings",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "warned_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("source", "day", name=op.f("pk_source_health_warnings")),
    )
    op.execute(V1_SOURCE_HEALTH)
    op.execute(
        "COMMENT ON VIEW newsingest.v1_source_health IS "
        "'One row per source and UTC day: what it sent, what became of it, and fetch errors.'"
    )
    _comment("v1_source_health", HEALTH_COMMENTS)
    op.execute("GRANT SELECT ON newsingest.v1_source_health TO newsingest_reader")


def downgrade() -> None:
    op.execute("DROP VIEW newsingest.v1_source_health")
    op.drop_table("source_health_warnings")
    op.drop_index("ix_source_tallies_tallied_at", table_name="source_tallies")
    op.drop_index("ix_source_tallies_source_tallied_at", table_name="source_tallies")
    op.drop_table("source_tallies")
