"""The v1 views say what docs/consumers.md says they say, and the migration is safe to run in
many databases of one server (the role is cluster-wide)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from conftest import ADMIN_URL, DUMP, DUMP_HEADLINE, newsingest_bin, query
from consumer_rows import insert_article
from sqlalchemy.orm import Session

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import receive
from worker.store import get_engine, transaction, upgrade_database
from worker.store.engine import alembic_config
from worker.store.read import SEARCH_WINDOWS, ArticleQuery, list_articles

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def test_a_dump_reads_back_through_the_views(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    pages = [
        receive(RawPage.model_validate({"content": text, "source": "bbc"}), receipt_key=key)
        for text, key in ((dump, "a"), (dump, "b"), ("", "c"))
    ]
    with transaction() as session:
        ingest_batch(session=session, pages=pages, settings=Settings())
    # What the example page shows: its headline, "09:12 GMT, Tuesday, 3 March 2026", Kenya.
    assert query(
        db, "SELECT headline, published_at, region, seen_count FROM newsingest.v1_articles"
    ) == [(DUMP_HEADLINE, datetime(2026, 3, 3, 9, 12, tzinfo=UTC), "Africa", 2)]
    sightings = query(
        db, "SELECT outcome, match, reason IS NOT NULL FROM newsingest.v1_sightings ORDER BY id"
    )
    assert sightings == [
        ("stored", "new", False),
        ("duplicate", "same_content", False),
        ("rejected", None, True),
    ]


def test_stories_show_the_latest_revision_with_the_story_totals(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        first = insert_article(conn, headline="Quake hits", published_at=DAY)
        latest = insert_article(
            conn, headline="Quake hits", published_at=DAY + timedelta(hours=5), story_id=first
        )
        # Same time as the latest: the higher id wins the tie.
        tie = insert_article(
            conn, headline="Quake hits!", published_at=DAY + timedelta(hours=5), story_id=first
        )
        alone = insert_article(conn, headline="Other news", published_at=DAY)
        undated = insert_article(conn, headline="Undated", published_at=None, undated_source="test")
    rows = query(
        db,
        "SELECT story_id, id, revisions, first_published_at FROM newsingest.v1_stories "
        "ORDER BY story_id",
    )
    assert rows == [
        (first, tie, 3, DAY),
        (alone, alone, 1, DAY),
        (undated, undated, 1, None),
    ]
    assert latest < tie


def test_search_uses_the_simple_configuration_in_every_language(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        german = insert_article(conn, headline="Die Regierung will neue Steuern")
        english = insert_article(conn, headline="The government plans taxes")

    def search(text: str) -> list[tuple[object, ...]]:
        return query(
            db,
            "SELECT id FROM newsingest.v1_articles "
            "WHERE search_vector @@ websearch_to_tsquery('simple', %s) ORDER BY id",
            text,
        )

    # 'will' (German: wants) is an English stopword: the english configuration would drop it.
    assert search("will") == [(german,)]
    assert search("plans") == [(english,)]
    assert search("plan") == []  # the price of 'simple': no stemming


def test_an_open_search_ranks_within_the_newest_window_that_fills_a_page(db: str) -> None:
    newest = DAY + timedelta(days=400)
    with psycopg.connect(db, autocommit=True) as conn:
        recent = [
            insert_article(conn, body="flood", published_at=newest - timedelta(days=n))
            for n in range(3)
        ]
        # Old, but a far better match (in the headline): outside the first window.
        old = insert_article(conn, headline="Flood flood", published_at=DAY)
    with Session(get_engine()) as session:
        page = list_articles(session=session, query=ArticleQuery(search="flood", limit=3))
        more = list_articles(session=session, query=ArticleQuery(search="flood", limit=4))
        ranged = list_articles(
            session=session, query=ArticleQuery(search="flood", limit=3, since=DAY)
        )
    assert SEARCH_WINDOWS[0] >= timedelta(days=3)
    assert sorted(r["id"] for r in page) == sorted(recent)
    assert more[0]["id"] == old  # a page the windows cannot fill ranks everything
    assert ranged[0]["id"] == old  # an explicit range is ranked whole


def _role_exists() -> bool:
    with psycopg.connect(ADMIN_URL) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'newsingest_reader'").fetchone()
        )


def test_many_databases_migrate_at_once_and_a_downgrade_keeps_the_shared_role(
    empty_database: Callable[[], str],
) -> None:
    urls = [empty_database() for _ in range(3)]
    # Separate processes: Alembic's context is process-global, and real deployments are too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    upgrades = [
        subprocess.Popen(
            [newsingest_bin(), "db", "upgrade"],
            env=env | {"NEWSINGEST_DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for url in urls
    ]
    outputs = [upgrade.communicate(timeout=120) for upgrade in upgrades]
    assert [upgrade.returncode for upgrade in upgrades] == [0, 0, 0], outputs
    upgrade_database(urls[0])  # again: nothing to do, nothing fails

    command.downgrade(alembic_config(urls[0]), "0003")
    assert _role_exists()  # the other databases still grant to it
    assert query(urls[0], "SELECT count(*) FROM pg_namespace WHERE nspname = 'newsingest'") == [
        (0,)
    ]
    assert query(urls[1], "SELECT count(*) FROM newsingest.v1_articles") == [(0,)]
    upgrade_database(urls[0])  # and back, with the role already there
    assert query(
        urls[0],
        "SELECT has_table_privilege('newsingest_reader', 'newsingest.v1_articles', 'SELECT')",
    ) == [(True,)]


def test_the_reader_role_gets_no_table_privilege_from_the_migration(db: str) -> None:
    for table in ("articles", "raw_pages", "sightings", "source_tallies"):
        assert query(
            db, "SELECT has_table_privilege('newsingest_reader', %s, 'SELECT')", table
        ) == [(False,)]
    granted = query(
        db,
        "SELECT table_name FROM information_schema.role_table_grants "
        "WHERE grantee = 'newsingest_reader' ORDER BY table_name",
    )
    assert granted == [
        ("v1_articles",),
        ("v1_sightings",),
        ("v1_source_health",),
        ("v1_stories",),
        ("v1_story_members",),
    ]


_EXPLAIN = "EXPLAIN SELECT id FROM articles WHERE "


@pytest.mark.parametrize(
    ("explain", "index"),
    [
        (_EXPLAIN + "published_at >= now() - interval '7 days'", "ix_articles_newest"),
        (_EXPLAIN + "region = 'Europe'", "ix_articles_region_newest"),
        (_EXPLAIN + "source = 'bbc' AND published_at < now()", "ix_articles_source_newest"),
        (_EXPLAIN + "search_vector @@ websearch_to_tsquery('simple', 'nato')", "search_vector"),
        (_EXPLAIN + "story_id = 1", "ix_articles_story_id"),
        ("EXPLAIN SELECT max(published_at) FROM articles", "ix_articles_newest"),
    ],
)
def test_every_filter_the_docs_name_has_an_index(db: str, explain: str, index: str) -> None:
    # The table is nearly empty, so the planner would scan it: forbidding scans asks whether an
    # index *can* answer, which is what a million articles will need.
    with psycopg.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in conn.execute(explain))
    assert index in plan
    assert "Seq Scan" not in plan
