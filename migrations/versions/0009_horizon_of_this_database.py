"""the pull horizon ignores readers and other databases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

`v1_ingest_horizon()` was the xmin of the server's snapshot: one transaction holding an id anywhere
on the server (a `newsingest_reader` login that made a temporary table, a job in another database)
held every consumer's pulls back for as long as it stayed open. The horizon now passes over the
running transactions that are known to write no article: those of backends connected to another
database, and those of the reader role and its direct members. Every other running transaction
still holds it, including one whose backend has ended since the snapshot was taken (its rows may
have just committed, unseen by the statement that pulls): only what is positively another's is
ignored, so a stale view of the backends can make the horizon lower, never higher.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# pg_snapshot_xip lists the 64-bit ids of the running top-level transactions; pg_stat_activity
# shows each backend's 32-bit one, to every role (the low 32 bits of the 64-bit id).
HORIZON = """
CREATE OR REPLACE FUNCTION newsingest.v1_ingest_horizon() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH snapshot AS (SELECT pg_current_snapshot() AS s),
    not_ours AS (
        SELECT a.backend_xid::text::bigint AS xid
        FROM pg_stat_activity AS a
        WHERE a.backend_xid IS NOT NULL
          AND ((a.datname IS NOT NULL AND a.datname <> current_database())
               OR a.usesysid IN (
                   SELECT r.oid FROM pg_roles AS r WHERE r.rolname = 'newsingest_reader'
                   UNION ALL
                   SELECT m.member FROM pg_auth_members AS m
                   JOIN pg_roles AS r ON r.oid = m.roleid
                   WHERE r.rolname = 'newsingest_reader'))
    )
    SELECT coalesce(
        (SELECT min(x) FROM snapshot, pg_snapshot_xip(snapshot.s) AS x
         WHERE (x::text::bigint & 4294967295) NOT IN (SELECT xid FROM not_ours)),
        (SELECT pg_snapshot_xmax(s) FROM snapshot)
    )::text::bigint << 24
$$
"""

SERVER_WIDE = """
CREATE OR REPLACE FUNCTION newsingest.v1_ingest_horizon() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24
$$
"""


def upgrade() -> None:
    op.execute(HORIZON)


def downgrade() -> None:
    op.execute(SERVER_WIDE)
