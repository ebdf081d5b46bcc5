"""each article keeps its body's shingle hashes for story linking

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

Story linking compares a new article with candidates already stored. It read each candidate's
body back and shingled it again (~340 µs a 4.7 KB HTML body, several candidates an article):
on the HTML end-to-end benchmark the store went from ~310 to ~1,600 µs a page. The hashes the
article was stored with (4 bytes a shingle, in text order, so a stored print compares exactly as
a fresh one) are kept instead. Articles stored before have none: their body is shingled as before.
Not in any view (derived data, changed only with the body, which restamps the row anyway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("body_shingles", sa.LargeBinary(), nullable=True))
    # Stored as it is: the hashes of a body do not compress, and lz4 would try on every insert.
    op.execute("ALTER TABLE articles ALTER COLUMN body_shingles SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_column("articles", "body_shingles")
