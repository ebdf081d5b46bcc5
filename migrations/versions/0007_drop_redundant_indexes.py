"""drop the two articles indexes that others already lead with the same column

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

ix_articles_published_at (published_at) and ix_articles_region (region) came with the first
schema; migration 0004 added ix_articles_newest (published_at DESC NULLS LAST, id DESC) and
ix_articles_region_newest (region, published_at DESC NULLS LAST, id DESC), which lead with the same
columns and serve every query the older two did: time ranges, max(published_at), a search's
BitmapAnd with the GIN index, a region filter
(EXPLAIN shows ix_articles_newest in their place). Every article paid for two B-tree insertions, and
the table for two indexes, that bought nothing. The saving is small: `bench/store.py --kind text
--n 20000` against the code before, three pairs back to back, server CPU 263 -> 257 µs a page on
average (within noise on any one pair); `bench/queries.py` on 300,000 articles gave the same
latencies within run-to-run noise.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_articles_published_at", table_name="articles")
    op.drop_index("ix_articles_region", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_region", "articles", ["region"], unique=False)
    op.create_index("ix_articles_published_at", "articles", ["published_at"], unique=False)
