"""`newsingest query` and `newsingest export` as a user runs them, on the real database."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from conftest import ADMIN_URL, RUN_ID, query, run_cli, wait_for
from consumer_rows import insert_article
from typer.testing import CliRunner

from worker.cli import app
from worker.store.read import ARTICLE_FIELDS


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def articles(service_env: dict[str, str]) -> dict[str, int]:
    """A small newsroom: regions, sources, days, a three-revision story; ids by name."""
    db = service_env["NEWSINGEST_DATABASE_URL"]
    ids: dict[str, int] = {}
    with psycopg.connect(db, autocommit=True) as conn:
        ids["paris"] = insert_article(
            conn, headline="Paris floods close the Louvre", published_at=_at(1), source="afp"
        )
        ids["berlin"] = insert_article(
            conn,
            headline="Berlin budget talks stall",
            body="Ministers met again. The Louvre was not discussed.",
            published_at=_at(3),
            source="dpa",
        )
        ids["nairobi"] = insert_article(
            conn,
            headline="Nairobi opens a rail line",
            published_at=_at(2),
            region="Africa",
            source="afp",
        )
        ids["old"] = insert_article(
            conn, headline="Oslo winter games open", published_at=_at(1).replace(month=1)
        )
        ids["story1"] = insert_article(
            conn, headline="Storm nears the coast", published_at=_at(5, 6), source="afp"
        )
        for n, hour in ((2, 9), (3, 15)):
            ids[f"story{n}"] = insert_article(
                conn,
                headline="Storm nears the coast",
                published_at=_at(5, hour),
                story_id=ids["story1"],
                source="afp",
                body=f"Revision {n}.",
            )
    # Pulls and exports stop at the horizon; wait until our rows are all below it.
    wait_for(
        lambda: (
            query(
                db,
                "SELECT count(*) = count(*) FILTER "
                "(WHERE ingest_seq < newsingest.v1_ingest_horizon()) FROM newsingest.v1_articles",
            )
            == [(True,)]
        ),
        what="the articles to pass the pull horizon",
    )
    return ids


def _json_rows(stdout: str) -> list[dict[str, Any]]:
    # In-process, structlog's unconfigured default also prints its (engine) events to stdout.
    return [orjson.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _query(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """Rows of `newsingest query --format json ARGS`, in-process (the service env's database)."""
    assert env["NEWSINGEST_DATABASE_URL"] == os.environ["NEWSINGEST_DATABASE_URL"]
    result = CliRunner().invoke(app, ["query", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return _json_rows(result.stdout)


def _query_as(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """Rows of `newsingest query --format json ARGS` run as a user would, in env."""
    result = run_cli("query", "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return _json_rows(result.stdout)


def test_region_and_time_range_newest_first(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    rows = _query(
        service_env, "--region", "Europe", "--since", "2024-03-01", "--until", "2024-03-04"
    )
    assert [r["id"] for r in rows] == [articles["berlin"], articles["paris"]]
    assert {r["region"] for r in rows} == {"Europe"}


def test_source_filter_and_limit(service_env: dict[str, str], articles: dict[str, int]) -> None:
    rows = _query(service_env, "--source", "afp", "--limit", "2")
    assert [r["id"] for r in rows] == [articles["story3"], articles["story2"]]


def test_search_ranks_headline_matches_above_body_matches(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    rows = _query(service_env, "--search", "louvre")
    assert [r["id"] for r in rows] == [articles["paris"], articles["berlin"]]
    assert rows[0]["rank"] > rows[1]["rank"]


def test_a_search_too_long_to_run_is_a_usage_error_not_a_database_failure(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    result = run_cli("query", "--search", "word " * 20_000, env=service_env)
    assert result.returncode == 2, result.stderr
    assert "at most 1,000 are searched" in result.stderr
    assert "database" not in result.stderr.lower()


def test_search_phrases_and_exclusions(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    assert [r["id"] for r in _query(service_env, "--search", '"floods close"')] == [
        articles["paris"]
    ]
    assert _query(service_env, "--search", '"close floods"') == []
    assert [r["id"] for r in _query(service_env, "--search", "louvre -berlin")] == [
        articles["paris"]
    ]


def test_stories_gives_each_story_once_at_its_latest_revision(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    rows = _query(service_env, "--stories", "--source", "afp")
    storm = [r for r in rows if r["story_id"] == articles["story1"]]
    assert len(storm) == 1
    assert storm[0]["id"] == articles["story3"]
    assert storm[0]["revisions"] == 3
    assert storm[0]["first_published_at"].startswith("2024-03-05T06:00")
    assert len(rows) == 3  # the storm, Paris and Nairobi


def test_after_seq_pulls_in_pages_without_gaps_or_repeats(
    service_env: dict[str, str], articles: dict[str, int]
) -> None:
    seen: list[int] = []
    cursor = 0
    while page := _query(service_env, "--after-seq", str(cursor), "--limit", "3"):
        assert [r["ingest_seq"] for r in page] == sorted(r["ingest_seq"] for r in page)
        seen += [r["id"] for r in page]
        cursor = page[-1]["ingest_seq"]
    assert sorted(seen) == sorted(articles.values())
    assert len(seen) == len(set(seen))


def test_csv_and_table_formats(service_env: dict[str, str], articles: dict[str, int]) -> None:
    result = run_cli("query", "--format", "csv", "--region", "Africa", env=service_env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["id"]) for r in rows] == [articles["nairobi"]]
    assert orjson.loads(rows[0]["section_labels"]) == []
    table = CliRunner().invoke(app, ["query", "--format", "table", "--region", "Africa"])
    assert table.exit_code == 0, table.output
    assert "Nairobi" in table.stdout  # the headline column folds to the terminal's width
    assert "1 articles" in table.stdout


SQL_METACHARACTERS = [
    "'; DROP TABLE articles; --",
    "' OR '1'='1",
    '"unterminated',
    "a & b | !c <-> (d:*",
    "\\'; SELECT pg_sleep(5); --",
    "%s %(x)s {} $1",
]


@pytest.mark.parametrize("value", SQL_METACHARACTERS)
def test_metacharacters_in_filters_are_values_not_sql(
    service_env: dict[str, str], articles: dict[str, int], value: str
) -> None:
    for option in ("--search", "--source"):
        assert _query(service_env, option, value) == []
    # A region is one of the taxonomy's names, checked before any SQL runs.
    assert run_cli("query", "--region", value, env=service_env).returncode == 2
    db = service_env["NEWSINGEST_DATABASE_URL"]
    assert query(db, "SELECT count(*) FROM articles") == [(len(articles),)]


def test_a_source_with_quotes_is_matched_exactly(service_env: dict[str, str]) -> None:
    db = service_env["NEWSINGEST_DATABASE_URL"]
    with psycopg.connect(db, autocommit=True) as conn:
        quoted = insert_article(conn, source='O\'Reilly "wire"; --')
        insert_article(conn, source="O")
    assert [r["id"] for r in _query(service_env, "--source", 'O\'Reilly "wire"; --')] == [quoted]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_writes_every_article_and_says_where_to_resume(
    service_env: dict[str, str], articles: dict[str, int], tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"articles.{fmt}"
    result = run_cli("export", "--format", fmt, str(path), env=service_env)
    assert result.returncode == 0, result.stderr
    if fmt == "jsonl":
        rows = _json_rows(path.read_text(encoding="utf-8"))
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    else:
        parquet = pytest.importorskip("pyarrow.parquet")
        table = parquet.read_table(path)
        assert table.column_names == list(ARTICLE_FIELDS)
        rows = table.to_pylist()
    assert sorted(int(r["id"]) for r in rows) == sorted(articles.values())
    last = max(int(r["ingest_seq"]) for r in rows)
    assert f"exported {len(articles)} articles" in result.stdout
    assert f"--after-seq {last}" in result.stdout
    assert _query(service_env, "--after-seq", str(last)) == []


def test_parquet_export_without_pyarrow_is_a_clear_usage_error(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    shadow = tmp_path / "no-pyarrow"
    (shadow / "pyarrow").mkdir(parents=True)
    (shadow / "pyarrow" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = service_env | {"PYTHONPATH": str(shadow)}
    result = run_cli("export", "--format", "parquet", str(tmp_path / "a.parquet"), env=env)
    assert result.returncode == 2
    assert "newsingest[parquet]" in result.stderr
    assert not (tmp_path / "a.parquet").exists()


@pytest.fixture
def reader_env(service_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The service environment with a database URL whose user has only newsingest_reader."""
    name = f"newsingest_test_{RUN_ID}_cli_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE newsingest_reader')
    scheme, _, rest = service_env["NEWSINGEST_DATABASE_URL"].partition("://")
    yield service_env | {"NEWSINGEST_DATABASE_URL": f"{scheme}://{name}@{rest.partition('@')[2]}"}
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_query_and_export_work_with_only_the_reader_role(
    reader_env: dict[str, str], articles: dict[str, int], tmp_path: Path
) -> None:
    assert len(_query_as(reader_env, "--stories", "--search", "storm")) == 1
    result = run_cli("export", str(tmp_path / "a.jsonl"), env=reader_env)
    assert result.returncode == 0, result.stderr
    assert len(_json_rows((tmp_path / "a.jsonl").read_text(encoding="utf-8"))) == len(articles)
