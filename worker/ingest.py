"""One batch through the pipeline and into the store: what the task and `newsingest ingest` call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from worker.config import Settings
from worker.pipeline import Processed, Received, process
from worker.pipeline.types import Rejection
from worker.store import BatchOutcome, Outcome, find_known_content, upsert_batch

log = structlog.get_logger(__name__)


def ingest_batch(
    *,
    session: Session,
    pages: Sequence[Received],
    settings: Settings,
) -> BatchOutcome:
    """Clean, classify and store a batch in the session's transaction; returns each page's outcome.

    Byte-identical re-sends are recognised by content hash before any parsing, and each distinct
    content in the batch is processed once.
    """
    known = find_known_content(session=session, hashes={page.content_hash for page in pages})
    results: dict[bytes, Processed | Rejection] = {}
    for page in pages:
        if page.content_hash not in known and page.content_hash not in results:
            results[page.content_hash] = process(page, max_page_bytes=settings.max_page_bytes)
    outcome = upsert_batch(
        session=session,
        pages=pages,
        results=results,
        known=known,
        story_window=timedelta(hours=settings.story_window_hours),
    )
    log.debug(
        "batch_ingested",
        received=len(pages),
        stored=outcome.count(Outcome.STORED),
        duplicates=outcome.count(Outcome.DUPLICATE),
        rejected=outcome.count(Outcome.REJECTED),
        already_recorded=outcome.already_recorded,
    )
    return outcome
