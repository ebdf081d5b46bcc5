"""a sighting whose copy the article was rewritten from says so: match 'richer_copy'

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

A later copy of a stored article's page from the same source that holds more (a fuller body, or
the same body with fields the stored copy lacks) rewrites the article (`worker.store.batch`).
Its receipt stays a duplicate; the new match value records why the article changed.
PostgreSQL cannot drop an enum value, so the downgrade turns such sightings back into 'same_key'
(what they were recorded as before) and leaves the unused value in the type.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMENT = (
    "Why it joined its article: 'new', 'same_content', 'same_key', or 'richer_copy' (same key, "
    "and the article was rewritten from this fuller copy)."
)
_OLD_COMMENT = "Why it joined its article: 'new', 'same_content' or 'same_key'."


def _comment(text: str) -> None:
    quoted = text.replace("'", "''")  # constants of this file, not input
    op.execute(f"COMMENT ON COLUMN newsingest.v1_sightings.match IS '{quoted}'")


def upgrade() -> None:
    op.execute("ALTER TYPE sighting_match ADD VALUE IF NOT EXISTS 'richer_copy'")
    _comment(_COMMENT)


def downgrade() -> None:
    op.execute("UPDATE sightings SET match = 'same_key' WHERE match::text = 'richer_copy'")
    _comment(_OLD_COMMENT)
