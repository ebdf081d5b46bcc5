"""Migrations: `upgrade head` builds exactly the models' schema, and `downgrade base` removes it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import worker.crawl.state  # noqa: F401 - registers the crawl tables on Base.metadata
from worker.config import sqlalchemy_url
from worker.store import upgrade_database
from worker.store.engine import alembic_config
from worker.store.models import Base


def _objects(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'public' "
            "UNION ALL SELECT 'type', typname FROM pg_type t JOIN pg_namespace n "
            "ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'"
        ).fetchall()
    return sorted(rows)


def test_upgrade_head_matches_the_models(empty_database: Callable[[], str]) -> None:
    url = empty_database()
    upgrade_database(url)
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
    assert ("table", "articles") in _objects(url)


def test_downgrade_base_leaves_nothing_but_alembic(empty_database: Callable[[], str]) -> None:
    from alembic import command

    url = empty_database()
    upgrade_database(url)
    command.downgrade(alembic_config(url), "base")
    assert _objects(url) == [("table", "alembic_version")]
    upgrade_database(url)  # and it comes back
    assert ("table", "sightings") in _objects(url)


def test_every_pulled_column_restamps_the_pull_cursor() -> None:
    """A column added to articles must be named in the ingest_seq trigger, or its changes would
    never reach consumers who pull by ingest_seq."""
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0010_story_links.py"
    spec = importlib.util.spec_from_file_location("migration_0010", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    # body_shingles (0011) is in no view and changes only with the body, which restamps the row.
    unstamped = {"seen_count", "last_seen_at", "ingest_seq", "search_vector", "body_shingles"}
    columns = {column.name for column in Base.metadata.tables["articles"].columns}
    assert set(migration.STAMPED_COLUMNS) == columns - unstamped
