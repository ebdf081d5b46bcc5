"""The read-only role: a login that is a member of newsingest_reader reads the v1 views and
nothing else, and writes nothing anywhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import ADMIN_URL, RUN_ID, wait_for
from consumer_rows import insert_article
from psycopg import sql

VIEWS = ("v1_articles", "v1_stories", "v1_sightings", "v1_story_members", "v1_source_health")
TABLES = ("articles", "raw_pages", "sightings", "source_tallies", "source_health_warnings")


@pytest.fixture(scope="module")
def reader_login() -> Iterator[str]:
    """A login role of this run that is a member of newsingest_reader, dropped afterwards."""
    name = f"newsingest_test_{RUN_ID}_reader_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE newsingest_reader')
    yield name
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def as_reader(db: str, reader_login: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the run's database as the reader login, with one article."""
    with psycopg.connect(db, autocommit=True) as owner:
        insert_article(owner, headline="Readers may read this")
    base, _, rest = db.partition("://")
    _, _, host = rest.partition("@")
    with psycopg.connect(f"{base}://{reader_login}@{host}", autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("view", VIEWS)
def test_the_reader_selects_from_every_view(as_reader: psycopg.Connection[Any], view: str) -> None:
    as_reader.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("newsingest", view)))


def test_the_reader_sees_articles_and_pulls_with_the_horizon(
    as_reader: psycopg.Connection[Any],
) -> None:
    def pulled() -> list[tuple[Any, ...]]:
        return as_reader.execute(
            "SELECT headline FROM newsingest.v1_articles "
            "WHERE ingest_seq > 0 AND ingest_seq < newsingest.v1_ingest_horizon() "
            "AND search_vector @@ websearch_to_tsquery('simple', 'readers')"
        ).fetchall()

    # A writer of this database may hold the horizon back a while.
    wait_for(lambda: bool(pulled()), timeout=60, what="the article to pass the pull horizon")
    assert pulled() == [("Readers may read this",)]


@pytest.mark.parametrize("table", TABLES)
def test_the_reader_cannot_select_from_the_tables(
    as_reader: psycopg.Connection[Any], table: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_reader.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier("public", table)))


WRITES = [
    "INSERT INTO public.articles DEFAULT VALUES",
    "INSERT INTO public.raw_pages DEFAULT VALUES",
    "INSERT INTO public.sightings DEFAULT VALUES",
    "UPDATE public.articles SET id = id",
    "UPDATE public.raw_pages SET id = id",
    "UPDATE public.sightings SET id = id",
    "DELETE FROM public.articles",
    "DELETE FROM public.raw_pages",
    "DELETE FROM public.sightings",
    "INSERT INTO newsingest.v1_articles (headline) VALUES ('x')",
    "UPDATE newsingest.v1_articles SET headline = 'x'",
    "DELETE FROM newsingest.v1_articles",
    "CREATE TABLE newsingest.mine (x int)",
    "CREATE VIEW newsingest.v1_mine AS SELECT 1",
]
# Joins: PostgreSQL refuses to write through these for anyone, before it checks privileges.
UNWRITABLE = ["UPDATE newsingest.v1_sightings SET url = 'x'", "DELETE FROM newsingest.v1_stories"]


@pytest.mark.parametrize("statement", WRITES)
def test_the_reader_cannot_write(as_reader: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_reader.execute(statement)  # the statements are this module's constants


@pytest.mark.parametrize("statement", UNWRITABLE)
def test_nobody_writes_through_the_joined_views(
    as_reader: psycopg.Connection[Any], statement: str
) -> None:
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        as_reader.execute(statement)


def _horizon(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("SELECT newsingest.v1_ingest_horizon()").fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("holder", ["a reader login", "another database"])
def test_an_open_transaction_that_writes_no_article_does_not_hold_the_horizon(
    db: str, reader_login: str, as_reader: psycopg.Connection[Any], holder: str
) -> None:
    base, _, rest = db.partition("://")
    _, _, host = rest.partition("@")
    url = f"{base}://{reader_login}@{host}" if holder == "a reader login" else ADMIN_URL
    with psycopg.connect(url) as idle:
        idle.execute("SELECT pg_current_xact_id()")  # an id, as a temporary table takes
        with psycopg.connect(db, autocommit=True) as owner:
            after = insert_article(owner, headline=f"Written while {holder} waits")
            seq = owner.execute("SELECT ingest_seq FROM articles WHERE id = %s", (after,))
            written = seq.fetchone()[0]  # type: ignore[index]
        wait_for(lambda: _horizon(as_reader) > written, timeout=30, what="the horizon to pass")


def test_a_writer_of_this_database_still_holds_the_horizon(
    db: str, as_reader: psycopg.Connection[Any]
) -> None:
    with psycopg.connect(db) as writer:
        writer.execute("SELECT pg_current_xact_id()")
        open_from = int(writer.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0])  # type: ignore[index]
        with psycopg.connect(db, autocommit=True) as owner:
            insert_article(owner, headline="Written after the open writer began")
        assert _horizon(as_reader) <= open_from << 24
