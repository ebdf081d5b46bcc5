"""raw pages kept as the zstd frame they travelled in

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

A claim's large page (16 KiB and more) now travels as its own zstd frame (worker/claims.py), and a
page that becomes an article keeps that frame as its raw content: `content_codec` says 'zstd'.
PostgreSQL compressed every raw page again on insert; for the benchmark's HTML pages (170 KB) that
was ~0.55 ms of the server's CPU a page, and storing the frame costs ~0.13 ms (lz4 gives up at once
on compressed bytes) and a third less space. Rejected pages stay plain UTF-8, readable in SQL.
Existing rows keep NULL: their content is the dump's bytes, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("raw_pages", sa.Column("content_codec", sa.String(length=20), nullable=True))
    op.create_check_constraint(
        op.f("ck_raw_pages_known_content_codec"),
        "raw_pages",
        "content_codec IS NULL OR content_codec = 'zstd'",
    )


def downgrade() -> None:
    # The code before this revision would read packed rows as the dump's bytes, and PostgreSQL
    # cannot inflate zstd: a database holding any refuses the downgrade instead.
    op.execute(
        """
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM raw_pages WHERE content_codec IS NOT NULL) THEN
                RAISE EXCEPTION 'raw_pages holds zstd-packed pages; revision 0007 cannot read them';
            END IF;
        END $$;
        """
    )
    op.drop_constraint(op.f("ck_raw_pages_known_content_codec"), "raw_pages", type_="check")
    op.drop_column("raw_pages", "content_codec")
