"""lz4 compression for the large columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

PostgreSQL compresses large values with pglz by default; lz4 is several times cheaper to compress
with a similar ratio on text, and compressing page bodies is most of the server's work per insert.
Servers built without lz4 keep pglz (the change is skipped with a notice), so the migration runs
everywhere.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("raw_pages", "content"), ("articles", "body"))


def _set_compression(method: str) -> None:
    for table, column in _COLUMNS:
        op.execute(
            f"""
            DO $$ BEGIN
                ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method};
            EXCEPTION WHEN feature_not_supported THEN
                RAISE NOTICE 'this server has no {method} compression; {table}.{column} keeps its own';
            END $$;
            """
        )


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
