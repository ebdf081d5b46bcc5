"""one story across sources and forms: near-duplicate bodies, link reasons, story views

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

An article now joins a story either as a revision (same headline within the story window, with a
similar body) or as a near-duplicate (another headline, a near-identical body). Articles record
why (`link_reason`), which article they were found like (`linked_to`) and how alike the bodies
were (`link_similarity`); `ix_articles_url` finds the other forms of a page; `story_bands` holds the LSH band keys of each linkable body so that any
worker finds candidates with an indexed query. Articles stored before keep their story; their
links are recorded as revisions (the only rule there was), and their bands come from
`newsingest reprocess --stories`.

Consumers: `v1_stories` gains columns at its end (member_count, story_first_seen_at,
story_last_seen_at, sources), `v1_story_members` lists each story's articles with their reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column of articles but seen_count, last_seen_at, ingest_seq and search_vector (as 0006's
# list, with the link columns): a relink gives the row a new ingest_seq, so pulling consumers
# see a story change (tests/store/test_migrations.py keeps the list whole).
STAMPED_COLUMNS = (
    "id", "headline", "headline_key", "published_at", "published_precision", "published_source",
    "published_utc_offset_minutes", "undated_source", "body", "byline", "section_labels", "region",
    "region_confidence", "region_scores", "region_evidence", "url", "source", "content_type",
    "first_seen_at", "extractor_version", "classifier_version", "body_hash", "story_id",
    "link_reason", "linked_to", "link_similarity",
)  # fmt: skip


def _stamp_on_update(columns: Sequence[str]) -> str:
    return f"""
CREATE TRIGGER articles_stamp_ingest_seq_on_update
BEFORE UPDATE OF {", ".join(columns)} ON public.articles
FOR EACH ROW WHEN ((OLD.{", OLD.".join(columns)}) IS DISTINCT FROM
                   (NEW.{", NEW.".join(columns)}))
EXECUTE FUNCTION public.articles_stamp_ingest_seq()
"""


# Migration 0004's v1_stories, with the story-wide columns appended (CREATE OR REPLACE VIEW may
# only add columns at the end; the existing ones are unchanged in name, type and meaning).
ARTICLE_COLUMNS = """
    a.id, a.story_id, a.ingest_seq, a.headline, a.published_at, a.published_precision,
    a.byline, a.body, a.section_labels, a.region, a.region_confidence, a.region_scores,
    a.region_evidence, a.url, a.source, a.content_type, a.first_seen_at, a.last_seen_at,
    a.seen_count, a.extractor_version, a.classifier_version"""
V1_STORIES = f"""
CREATE OR REPLACE VIEW newsingest.v1_stories AS
SELECT {ARTICLE_COLUMNS}, story.revisions, story.first_published_at, a.search_vector,
       story.revisions AS member_count, story.story_first_seen_at, story.story_last_seen_at,
       story.sources
FROM public.articles AS a
CROSS JOIN LATERAL (
    SELECT count(*) AS revisions, min(r.published_at) AS first_published_at,
           min(r.first_seen_at) AS story_first_seen_at, max(r.last_seen_at) AS story_last_seen_at,
           array_agg(DISTINCT r.source ORDER BY r.source) AS sources
    FROM public.articles AS r WHERE r.story_id = a.story_id
) AS story
WHERE NOT EXISTS (
    SELECT 1 FROM public.articles AS later
    WHERE later.story_id = a.story_id
      AND (coalesce(later.published_at, '-infinity'), later.id)
        > (coalesce(a.published_at, '-infinity'), a.id)
)
"""
V1_STORIES_0004 = f"""
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

V1_STORY_MEMBERS = """
CREATE VIEW newsingest.v1_story_members AS
SELECT a.story_id, a.id AS article_id,
       CASE WHEN a.id = a.story_id THEN 'first' ELSE coalesce(a.link_reason::text, 'revision') END
           AS link_reason,
       a.linked_to, a.link_similarity, a.headline, a.published_at, a.source, a.url,
       a.content_type, a.first_seen_at, a.last_seen_at, a.seen_count, a.ingest_seq
FROM public.articles AS a
"""

STORY_COMMENTS = {
    "member_count": "How many articles the story has, from every source (equals revisions).",
    "story_first_seen_at": "When the first copy of any of the story's articles was received.",
    "story_last_seen_at": "When the latest copy of any of the story's articles was received.",
    "sources": "Array of the sources that carried the story, sorted.",
}
MEMBER_COMMENTS = {
    "story_id": "The story: the id of its first article.",
    "article_id": "The member article (newsingest.v1_articles.id).",
    "link_reason": "Why it is in the story: 'first' (began it), 'revision' (same headline, "
    "similar body, within the story window) or 'near_duplicate' (another headline, a "
    "near-identical body within the window).",
    "linked_to": "The article it was found like; null for 'first' and for links made "
    "before release 0010.",
    "link_similarity": "0..1: share of the shorter body's word shingles found in the other; "
    "null for 'first' and for links by an identical body.",
    "headline": "The headline as published.",
    "published_at": "When the page says it was published, in UTC; null if it gives no date.",
    "source": "The producer's name for where the page came from.",
    "url": "The URL of the first page that made this article.",
    "content_type": "'html' or 'text': the kind of dump the article came from.",
    "first_seen_at": "When the first copy was received (database clock).",
    "last_seen_at": "When the latest copy was received.",
    "seen_count": "How many dumps mapped to this article.",
    "ingest_seq": "The article's pull cursor (see newsingest.v1_articles.ingest_seq).",
}


def _comment(view: str, comments: dict[str, str]) -> None:
    conn = op.get_bind()
    for column, text in comments.items():
        # COMMENT takes no bind parameters; quote_literal does the quoting server-side.
        literal = conn.execute(sa.text("SELECT quote_literal(:t)"), {"t": text}).scalar_one()
        op.execute(f"COMMENT ON COLUMN newsingest.{view}.{column} IS {literal}")


def upgrade() -> None:
    story_link = sa.Enum("revision", "near_duplicate", name="story_link")
    story_link.create(op.get_bind())
    op.add_column("articles", sa.Column("link_reason", story_link, nullable=True))
    op.add_column("articles", sa.Column("linked_to", sa.BigInteger(), nullable=True))
    op.add_column("articles", sa.Column("link_similarity", sa.Float(), nullable=True))
    # Before this release the only link was by headline: a revision. No new ingest_seq for it
    # (the trigger is replaced below, after the backfill, and still names none of these columns).
    op.execute("UPDATE public.articles SET link_reason = 'revision' WHERE story_id <> id")
    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_update ON public.articles")
    op.execute(_stamp_on_update(STAMPED_COLUMNS))
    op.create_table(
        "story_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_story_bands_band_anchored_at", "story_bands", ["band", "anchored_at"])
    op.create_index("ix_articles_url", "articles", ["url"], postgresql_using="hash")

    op.execute(V1_STORIES)
    op.execute(V1_STORY_MEMBERS)
    op.execute(
        "COMMENT ON VIEW newsingest.v1_story_members IS "
        "'One row per article: the story it belongs to and why.'"
    )
    _comment("v1_stories", STORY_COMMENTS)
    _comment("v1_story_members", MEMBER_COMMENTS)
    op.execute("GRANT SELECT ON newsingest.v1_story_members TO newsingest_reader")


def downgrade() -> None:
    op.execute("DROP VIEW newsingest.v1_story_members")
    # A view cannot lose columns in place: rebuilt as 0004 made it, with its grant and comments.
    op.execute("DROP VIEW newsingest.v1_stories")
    op.execute(V1_STORIES_0004)
    op.execute(
        "COMMENT ON VIEW newsingest.v1_stories IS "
        "'One row per story, at its latest revision (latest published_at, then id).'"
    )
    op.execute("GRANT SELECT ON newsingest.v1_stories TO newsingest_reader")
    op.drop_index("ix_articles_url", table_name="articles")
    op.drop_index("ix_story_bands_band_anchored_at", table_name="story_bands")
    op.drop_table("story_bands")
    op.execute("DROP TRIGGER articles_stamp_ingest_seq_on_update ON public.articles")
    op.execute(_stamp_on_update(STAMPED_COLUMNS[: -len(("link_reason", "linked_to", "link_similarity"))]))
    op.drop_column("articles", "link_similarity")
    op.drop_column("articles", "linked_to")
    op.drop_column("articles", "link_reason")
    sa.Enum(name="story_link").drop(op.get_bind())
