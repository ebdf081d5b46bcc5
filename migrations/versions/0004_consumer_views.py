"""consumer views, reader role, pull cursor, full-text search and read indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Everything consumers may rely on lives in the `newsingest` schema and is versioned by name
(`v1_*`): tables may change between releases, `v1_*` views and functions may not. The role
`newsingest_reader` is cluster-wide, so it is created only if missing (several databases on one
server may run this migration, even at the same moment) and dropped on downgrade only when nothing
in any database depends on it and no login role is a member of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept literally here (not imported from the models) so that this migration never changes.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('simple'::regconfig, headline), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, left(body, 100000)), 'B')"
)

# ingest_seq = (xid8 of the writing transaction << 24) + the row's number within that transaction,
# counted in a transaction-local setting. Every row of a transaction whose xid is below the
# snapshot's xmin is final (that transaction has ended), so the cursor never skips a row that
# commits late. The counter is 24 bits: a transaction writing 2^24 article rows would collide.
STAMP_FUNCTION = """
CREATE FUNCTION public.articles_stamp_ingest_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_in_xact bigint := coalesce(
        nullif(current_setting('newsingest.ingest_row', true), ''), '0')::bigint + 1;
BEGIN
    IF row_in_xact >= 16777216 THEN
        RAISE EXCEPTION 'one transaction may write at most 16777215 article rows';
    END IF;
    PERFORM set_config('newsingest.ingest_row', row_in_xact::text, true);
    NEW.ingest_seq := (pg_current_xact_id()::text::bigint << 24) + row_in_xact;
    RETURN NEW;
END
$$
"""

# A sighting only raises seen_count and last_seen_at: consumers need not pull the row again for
# that. Any other change (reprocessing, a merge moving story_id) stamps a new ingest_seq.
_UNSTAMPED = "- 'seen_count' - 'last_seen_at' - 'ingest_seq' - 'search_vector'"
STAMP_ON_UPDATE = f"""
CREATE TRIGGER articles_stamp_ingest_seq_on_update BEFORE UPDATE ON public.articles
FOR EACH ROW WHEN ((to_jsonb(OLD) {_UNSTAMPED}) IS DISTINCT FROM (to_jsonb(NEW) {_UNSTAMPED}))
EXECUTE FUNCTION public.articles_stamp_ingest_seq()
"""

HORIZON_FUNCTION = """
CREATE FUNCTION newsingest.v1_ingest_horizon() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24
$$
"""

ARTICLE_COLUMNS = """
    a.id, a.story_id, a.ingest_seq, a.headline, a.published_at, a.published_precision,
    a.byline, a.body, a.section_labels, a.region, a.region_confidence, a.region_scores,
    a.region_evidence, a.url, a.source, a.content_type, a.first_seen_at, a.last_seen_at,
    a.seen_count, a.extractor_version, a.classifier_version"""

V1_ARTICLES = f"""
CREATE VIEW newsingest.v1_articles AS
SELECT {ARTICLE_COLUMNS}, a.search_vector
FROM public.articles AS a
"""

# The latest revision is the one no other article of the story follows, in (published_at, id)
# order: an anti-join per row over ix_articles_story_id, so filters and LIMIT stay cheap.
V1_STORIES = f"""
CREATE VIEW newsingest.v1_stories AS
SELECT {ARTICLE_COLUMNS}, story.revisions, story.first_published_at, a.search_vector
FROM public.articles AS a
CROSS JOIN LATERAL (
    SELECT count(*) AS revisions, min(r.published_at) AS first_published_at
    FROM public.articles AS r WHERE r.story_id = a.story_id
) AS story
WHERE NOT EXISTS (
    SELECT 1 FROM public.articles AS later
    WHERE later.story_id = a.story_id
      AND (coalesce(later.published_at, '-infinity'), later.id)
        > (coalesce(a.published_at, '-infinity'), a.id)
)
"""

V1_SIGHTINGS = """
CREATE VIEW newsingest.v1_sightings AS
SELECT s.id, s.article_id, s.outcome::text AS outcome, s.match::text AS match,
       CASE WHEN s.outcome = 'rejected' THEN p.reason END AS reason,
       s.url, s.source, s.fetched_at, s.received_at
FROM public.sightings AS s
LEFT JOIN public.raw_pages AS p ON p.id = s.raw_page_id
"""

ARTICLE_COMMENTS = {
    "id": "The article's id; stable for the article's lifetime.",
    "story_id": "Revisions of one story share it: the id of the story's first article.",
    "ingest_seq": "Pull cursor: rows below newsingest.v1_ingest_horizon() never change order "
    "or appear behind it; a changed article gets a new, higher value.",
    "headline": "The headline as published.",
    "published_at": "When the page says it was published, in UTC; null if it gives no date.",
    "published_precision": "'minute' or 'day': how precise published_at is.",
    "byline": "The author line, if the page has one.",
    "body": "The article text, paragraphs separated by blank lines.",
    "section_labels": "JSON array of the site's own section names for the page.",
    "region": "Africa, Americas, Asia-Pacific, Europe, Middle East, South Asia, UK or unknown.",
    "region_confidence": "0..1: the winning region's share of the region evidence.",
    "region_scores": "JSON object: score per region, runner-ups included.",
    "region_evidence": "JSON array of the place mentions that decided the region.",
    "url": "The URL of the first page that made this article.",
    "source": "The producer's name for where the page came from.",
    "content_type": "'html' or 'text': the kind of dump the article came from.",
    "first_seen_at": "When the first copy was received (database clock).",
    "last_seen_at": "When the latest copy was received.",
    "seen_count": "How many dumps mapped to this article.",
    "extractor_version": "Version of the cleaner that produced headline and body.",
    "classifier_version": "Version of the region classifier.",
    "search_vector": "Full-text document ('simple' config): headline weight A, body weight B. "
    "Query with websearch_to_tsquery('simple', ...).",
}
STORY_COMMENTS = {
    "revisions": "How many articles (revisions) the story has.",
    "first_published_at": "When the story's first revision was published.",
}
SIGHTING_COMMENTS = {
    "id": "The sighting's id.",
    "article_id": "The article the dump became or joined; null when it was rejected.",
    "outcome": "'stored' (made the article), 'duplicate' or 'rejected'.",
    "match": "Why it joined its article: 'new', 'same_content' or 'same_key'.",
    "reason": "Why the dump was rejected (no_body, too_large, ...); null otherwise.",
    "url": "The URL this dump was fetched from.",
    "source": "The producer's name for where the dump came from.",
    "fetched_at": "When the producer fetched the page, if it said.",
    "received_at": "When newsingest received the dump.",
}

# Retried because another database may create or drop the role between our check and our grant
# (GRANT locks the role and fails with undefined_object if it was dropped meanwhile).
CREATE_ROLE_AND_GRANT = """
DO $$
DECLARE
    attempt int := 0;
BEGIN
    LOOP
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'newsingest_reader') THEN
                CREATE ROLE newsingest_reader NOLOGIN;
            END IF;
            REVOKE ALL ON public.articles, public.raw_pages, public.sightings
                FROM newsingest_reader;
            GRANT USAGE ON SCHEMA newsingest TO newsingest_reader;
            GRANT SELECT ON newsingest.v1_articles, newsingest.v1_stories,
                newsingest.v1_sightings TO newsingest_reader;
            GRANT EXECUTE ON FUNCTION newsingest.v1_ingest_horizon() TO newsingest_reader;
            EXIT;
        EXCEPTION WHEN duplicate_object OR unique_violation OR undefined_object THEN
            attempt := attempt + 1;
            IF attempt >= 5 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END
$$
"""

# DROP ROLE itself refuses while privileges in any database of the cluster still name the role,
# but it would silently remove memberships, so those are checked first.
DROP_ROLE_IF_UNUSED = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'newsingest_reader')
       AND NOT EXISTS (
           SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
           WHERE r.rolname = 'newsingest_reader')
    THEN
        BEGIN
            DROP ROLE newsingest_reader;
        EXCEPTION WHEN dependent_objects_still_exist OR undefined_object THEN
            NULL;
        END;
    END IF;
END
$$
"""


def _comment(view: str, comments: dict[str, str]) -> None:
    conn = op.get_bind()
    for column, text in comments.items():
        # COMMENT takes no bind parameters; quote_literal does the quoting server-side.
        literal = conn.execute(sa.text("SELECT quote_literal(:t)"), {"t": text}).scalar_one()
        op.execute(f"COMMENT ON COLUMN newsingest.{view}.{column} IS {literal}")


def create_consumer_schema() -> None:
    """The `newsingest` schema: horizon function, v1 views, their comments and the reader role.

    Also called by later migrations' downgrades that must rebuild views over a changed column.
    """
    op.execute("CREATE SCHEMA newsingest")
    op.execute(HORIZON_FUNCTION)
    op.execute(V1_ARTICLES)
    op.execute(V1_STORIES)
    op.execute(V1_SIGHTINGS)
    op.execute(
        "COMMENT ON VIEW newsingest.v1_articles IS "
        "'One row per article (dedupe key). Stable for release 1.'"
    )
    op.execute(
        "COMMENT ON VIEW newsingest.v1_stories IS "
        "'One row per story, at its latest revision (latest published_at, then id).'"
    )
    op.execute(
        "COMMENT ON VIEW newsingest.v1_sightings IS "
        "'One row per dump received: the article it became or joined, or why it was rejected.'"
    )
    op.execute(
        "COMMENT ON FUNCTION newsingest.v1_ingest_horizon() IS "
        "'Every article with ingest_seq below this value is final: pull up to it, never past.'"
    )
    _comment("v1_articles", ARTICLE_COMMENTS)
    _comment("v1_stories", ARTICLE_COMMENTS | STORY_COMMENTS)
    _comment("v1_sightings", SIGHTING_COMMENTS)
    op.execute(CREATE_ROLE_AND_GRANT)


def upgrade() -> None:
    op.add_column("articles", sa.Column("ingest_seq", sa.BigInteger(), nullable=True))
    # Articles stored before this migration take their order by id, under this transaction's xid.
    op.execute(
        """
        DO $$
        BEGIN
            IF (SELECT count(*) FROM public.articles) >= 16777216 THEN
                RAISE EXCEPTION 'too many articles to number in one transaction';
            END IF;
        END
        $$
        """
    )
    op.execute(
        """
        UPDATE public.articles AS a
        SET ingest_seq = (pg_current_xact_id()::text::bigint << 24) + numbered.n
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM public.articles) AS numbered
        WHERE numbered.id = a.id
        """
    )
    op.alter_column("articles", "ingest_seq", nullable=False)
    op.execute(STAMP_FUNCTION)
    op.execute(
        "CREATE TRIGGER articles_stamp_ingest_seq_on_insert BEFORE INSERT ON public.articles "
        "FOR EACH ROW EXECUTE FUNCTION public.articles_stamp_ingest_seq()"
    )
    op.execute(STAMP_ON_UPDATE)
    op.create_index("ix_articles_ingest_seq", "articles", ["ingest_seq"], unique=True)

    op.add_column(
        "articles",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_VECTOR_SQL, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_articles_search_vector",
        "articles",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_articles_newest",
        "articles",
        [sa.text("published_at DESC NULLS LAST"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_articles_region_newest",
        "articles",
        ["region", sa.text("published_at DESC NULLS LAST"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_articles_source_newest",
        "articles",
        ["source", sa.text("published_at DESC NULLS LAST"), sa.text("id DESC")],
        unique=False,
    )

    create_consumer_schema()


def downgrade() -> None:
    op.execute("DROP SCHEMA newsingest CASCADE")
    op.execute(DROP_ROLE_IF_UNUSED)
    op.drop_index("ix_articles_source_newest", table_name="articles")
    op.drop_index("ix_articles_region_newest", table_name="articles")
    op.drop_index("ix_articles_newest", table_name="articles")
    op.drop_index("ix_articles_search_vector", table_name="articles")
    op.drop_column("articles", "search_vector")
    op.drop_index("ix_articles_ingest_seq", table_name="articles")
    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_update ON public.articles")
    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_insert ON public.articles")
    op.execute("DROP FUNCTION public.articles_stamp_ingest_seq()")
    op.drop_column("articles", "ingest_seq")
