"""The batch path in-process on the real PostgreSQL: dedupe, sightings, rejections, redelivery."""

from __future__ import annotations

import base64
import random
import uuid

from conftest import DUMP, DUMP_HEADLINE, REPO, query
from structlog.testing import capture_logs

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive, receive_message
from worker.store import Outcome, transaction
from worker.store.contract import get_article
from worker.store.stats import read_books

LIMIT = 5 * 1024 * 1024


def _page(content: str, **fields: object) -> Received:
    page = RawPage.model_validate({"content": content, "source": "test", **fields})
    return receive(page, receipt_key=str(uuid.uuid4()))


def _ingest(pages: list[Received]) -> list[Outcome | None]:
    with transaction() as session:
        outcome = ingest_batch(session=session, pages=pages, settings=Settings())
    return [item.outcome for item in outcome.items]


def _books_balance() -> None:
    with transaction() as session:
        books = read_books(session=session)
    assert books.problems == []


def test_a_dump_is_stored_once_and_resends_become_sightings(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    assert _ingest([_page(dump)]) == [Outcome.STORED]
    # The same bytes again, in a batch with another copy of themselves.
    assert _ingest([_page(dump), _page(dump)]) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    # Different bytes (another footer), same headline and timestamp: a duplicate by key.
    other_footer = dump.replace("© 2026 Example", "© 2026 Example Media")
    assert _ingest([_page(other_footer)]) == [Outcome.DUPLICATE]

    rows = query(db, "SELECT headline, published_at, region, seen_count FROM articles")
    assert len(rows) == 1
    headline, published_at, region, seen_count = rows[0]
    assert headline == DUMP_HEADLINE
    assert published_at.isoformat() == "2026-03-03T09:12:00+00:00"
    assert region == "Africa"
    assert seen_count == 4
    with transaction() as session:
        record = get_article(session=session, article_id=1)
    assert record is not None  # the stored row satisfies the published Article contract
    assert record.body[0].startswith("Kenya's government has opened emergency shelters")
    assert record.region_evidence
    assert record.seen_count == 4
    matches = query(db, "SELECT match::text FROM sightings ORDER BY id")
    assert [m for (m,) in matches] == ["new", "same_content", "same_content", "same_key"]
    assert query(db, "SELECT count(*) FROM raw_pages") == [(2,)]
    _books_balance()


def test_a_redelivered_batch_changes_nothing(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    batch = [_page(dump), _page(""), _page(dump)]
    assert _ingest(batch) == [Outcome.STORED, Outcome.REJECTED, Outcome.DUPLICATE]
    before = query(db, "SELECT id, seen_count, last_seen_at FROM articles")
    # acks_late redelivers the very same message: same receipt keys.
    assert _ingest(batch) == [None, None, None]
    assert query(db, "SELECT id, seen_count, last_seen_at FROM articles") == before
    assert query(db, "SELECT count(*) FROM sightings") == [(3,)]
    _books_balance()


def test_bad_input_is_rejected_with_its_reason_and_raw_content(db: str) -> None:
    garbage = bytes(range(256)) * 8
    # Bytes that read as garbage in every charset (undeclared Latin-1 text is now detected).
    rng = random.Random(5)
    latin1 = bytes(rng.choice([*range(0x80, 0x100), *b"ab "]) for _ in range(600))
    pages = [
        _page(""),
        _page(base64.b64encode(garbage).decode(), content_encoding="base64"),
        _page(base64.b64encode(latin1).decode(), content_encoding="base64"),
        _page("x" * 10, original_size=50_000_000),
        _page((REPO / "tests" / "data" / "no-article.html").read_text(), content_type="text/html"),
    ]
    assert _ingest(pages) == [Outcome.REJECTED] * 5
    rows = query(
        db,
        "SELECT r.reason, r.content, r.size FROM sightings s "
        "JOIN raw_pages r ON r.id = s.raw_page_id ORDER BY s.id",
    )
    assert [reason for reason, _, _ in rows] == [
        "empty",
        "binary",
        "undecodable",
        "too_large",
        "no_body",
    ]
    kept = {bytes(content) for _, content, _ in rows}
    assert garbage in kept
    assert latin1 in kept
    assert (50_000_000,) in {(size,) for _, _, size in rows}
    _books_balance()


def test_a_message_that_is_not_a_raw_page_is_recorded(db: str) -> None:
    received = [
        receive_message({"content": 42, "source": "feed"}, fallback_key="t:0"),
        receive_message(["not", "a", "page"], fallback_key="t:1"),
    ]
    assert _ingest(received) == [Outcome.REJECTED, Outcome.REJECTED]
    rows = query(
        db,
        "SELECT r.reason, convert_from(r.content, 'UTF8') FROM sightings s "
        "JOIN raw_pages r ON r.id = s.raw_page_id ORDER BY s.id",
    )
    assert [reason for reason, _ in rows] == ["invalid_message", "invalid_message"]
    assert '"content":42' in rows[0][1]


def test_a_lone_surrogate_is_rejected_without_sinking_its_batch(db: str) -> None:
    # JSON may escape half a surrogate pair ("\ud800"), and Celery's decoder passes it through.
    dump = DUMP.read_text(encoding="utf-8")
    received = [
        receive_message(
            {"content": "Broken \ud800 café text", "source": "feed"}, fallback_key="t:0"
        ),
        receive_message({"content": dump, "source": "feed"}, fallback_key="t:1"),
    ]
    assert _ingest(received) == [Outcome.REJECTED, Outcome.STORED]
    ((reason, content),) = query(
        db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages WHERE outcome = 'rejected'"
    )
    assert reason == "invalid_message"
    assert "Broken \\ud800 caf" in content  # what arrived, escaped
    # A sender's name that is itself invalid is not kept.
    named = receive_message({"content": "text", "source": "feed \ud800"}, fallback_key="t:2")
    assert named.rejection is not None
    assert named.page.source == "unknown"
    assert (
        receive_message({"content": 42, "source": "feed"}, fallback_key="t:3").page.source == "feed"
    )


def test_each_batch_logs_the_cpu_its_stages_took(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    with capture_logs() as logs:
        _ingest([_page(dump), _page(dump.replace("© 2026 Example", "© 2026 Example Media"))])
    (batch,) = [event for event in logs if event["event"] == "batch_ingested"]
    assert (batch["received"], batch["stored"], batch["duplicates"]) == (2, 1, 1)
    # What bench/e2e.py splits a worker's CPU by: both pages were cleaned and classified.
    assert batch["cpu_classify_us"] > 0
    assert batch["cpu_clean_us"] > 0
    assert abs(batch["cpu_clean_us"] + batch["cpu_classify_us"] - batch["cpu_pipeline_us"]) <= 1
