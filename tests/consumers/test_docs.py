"""The examples in docs/consumers.md run: every SQL query as the reader role, the Python loop
compiles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import ADMIN_URL, REPO, RUN_ID
from consumer_rows import insert_article

DOC = REPO / "docs" / "consumers.md"
_BLOCK = re.compile(r"```(sql|python)\n(.*?)```", re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [
        body for lang, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")) if lang == language
    ]


def _statements() -> list[str]:
    statements = []
    for block in _blocks("sql"):
        for statement in block.split(";"):
            lines = [line for line in statement.splitlines() if line.strip()]
            if lines and not all(line.lstrip().startswith("--") for line in lines):
                statements.append("\n".join(lines))
    return statements


@pytest.fixture
def reader_url(db: str) -> Iterator[str]:
    """The run's database, with two articles, as a login in newsingest_reader."""
    with psycopg.connect(db, autocommit=True) as conn:
        insert_article(conn, headline="Interest rates rise", source="bbc")
        insert_article(conn, headline="Helicopters for Afghanistan")
    name = f"newsingest_test_{RUN_ID}_docs_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE newsingest_reader')
    scheme, _, rest = db.partition("://")
    yield f"{scheme}://{name}@{rest.partition('@')[2]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_the_doc_has_its_ten_queries() -> None:
    queries = [s for s in _statements() if s.lstrip().startswith("-- ")]
    assert len(queries) >= 10


def test_every_documented_query_runs_as_the_reader(reader_url: str) -> None:
    # The one statement for an administrator, not for readers: creating a login.
    statements = [s for s in _statements() if "CREATE ROLE" not in s]
    assert statements
    with psycopg.connect(reader_url, autocommit=True) as conn:
        for statement in statements:
            params = (1,) if "$1" in statement else ()
            conn.execute(statement.replace("$1", "%s"), params).fetchall()


def test_the_python_example_compiles() -> None:
    (example,) = _blocks("python")
    compile(example, str(Path(DOC.name)), "exec")
