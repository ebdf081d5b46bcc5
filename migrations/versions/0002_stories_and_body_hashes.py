"""stories and body hashes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("body_hash", sa.LargeBinary(length=32), nullable=True))
    op.add_column("articles", sa.Column("story_id", sa.BigInteger(), nullable=True))
    # Existing articles each start a story of their own; revisions link from now on.
    op.execute("UPDATE articles SET body_hash = sha256(convert_to(body, 'UTF8')), story_id = id")
    op.alter_column("articles", "body_hash", nullable=False)
    op.alter_column("articles", "story_id", nullable=False)
    op.create_index(op.f("ix_articles_story_id"), "articles", ["story_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_articles_story_id"), table_name="articles")
    op.drop_column("articles", "story_id")
    op.drop_column("articles", "body_hash")
