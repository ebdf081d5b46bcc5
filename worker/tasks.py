"""Celery tasks: thin adapters that validate a message, run one service call and own the retries."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError

from worker.app import app, settings
from worker.ingest import ingest_batch
from worker.pipeline import receive_message
from worker.store import Outcome, transaction

log = structlog.get_logger(__name__)


@app.task(
    name="ingest.batch",
    bind=True,
    # Connection loss, a server restart or a deadlock: the whole transaction rolled back, so the
    # batch is simply run again later, with exponential back-off and jitter.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=settings.task_max_retries,
)
def ingest_batch_task(self: Any, pages: list[Any]) -> dict[str, int]:
    """Ingest one batch of RawPage dicts; returns the counts of each outcome."""
    task_id = self.request.id or "local"
    received = [
        receive_message(item, fallback_key=f"{task_id}:{index}") for index, item in enumerate(pages)
    ]
    with transaction() as session:
        outcome = ingest_batch(session=session, pages=received, settings=settings)
    return {
        "received": len(received),
        "stored": outcome.count(Outcome.STORED),
        "duplicates": outcome.count(Outcome.DUPLICATE),
        "rejected": outcome.count(Outcome.REJECTED),
        "already_recorded": outcome.already_recorded,
    }
