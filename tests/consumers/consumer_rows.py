"""Helpers for the consumer tests: article rows written straight into the real tables."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_numbers = itertools.count(1)

PULL = (
    "SELECT id, ingest_seq FROM newsingest.v1_articles "
    "WHERE ingest_seq > %s AND ingest_seq < newsingest.v1_ingest_horizon() "
    "ORDER BY ingest_seq LIMIT %s"
)


def insert_article(conn: psycopg.Connection[Any], **fields: Any) -> int:
    """Insert one article with plausible defaults for every column not given; returns its id."""
    n = next(_numbers)
    headline = fields.pop("headline", f"Test headline number {n}")
    body = fields.pop("body", f"Body of test article {n}.")
    row: dict[str, Any] = {
        "headline": headline,
        "headline_key": headline.casefold(),
        "published_at": datetime(2024, 1, 1, tzinfo=UTC),
        "undated_source": None,
        "body": body,
        "body_hash": hashlib.sha256(body.encode()).digest(),
        "section_labels": Jsonb([]),
        "region": "Europe",
        "region_confidence": 0.9,
        "region_scores": Jsonb({"Europe": 1.0}),
        "region_evidence": Jsonb([]),
        "source": "test",
        "content_type": "text",
        "first_seen_at": datetime(2024, 1, 2, tzinfo=UTC),
        "last_seen_at": datetime(2024, 1, 2, tzinfo=UTC),
        "seen_count": 1,
        "extractor_version": "test",
        "classifier_version": "test",
    }
    row |= fields
    article_id: int = conn.execute(
        "SELECT nextval(pg_get_serial_sequence('articles', 'id'))"
    ).fetchone()[0]  # type: ignore[index]
    row |= {"id": article_id, "story_id": row.get("story_id") or article_id}
    columns = ", ".join(row)
    placeholders = ", ".join(f"%({name})s" for name in row)
    # Column names come from this function's own keys, never from test data.
    conn.execute(f"INSERT INTO articles ({columns}) VALUES ({placeholders})", row)  # noqa: S608
    return article_id


def pull(conn: psycopg.Connection[Any], after: int, limit: int = 100) -> list[tuple[int, int]]:
    """(id, ingest_seq) of the next rows after cursor `after`, the way docs/consumers.md pulls."""
    return [(r[0], r[1]) for r in conn.execute(PULL, (after, limit)).fetchall()]
