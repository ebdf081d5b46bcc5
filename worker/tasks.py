"""Celery tasks: thin adapters that validate a message, run one service call and own the retries."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import structlog
from celery.signals import task_rejected
from celery.utils.time import get_exponential_backoff_interval
from celery.worker.consumer import Consumer

from schemas import RawPage
from worker.app import app, settings
from worker.deadletter import put_dead_batch
from worker.health import list_source_health, warn_once_a_day
from worker.ingest import TRANSIENT, ingest_message, receipt_stem, store_pages
from worker.metrics import recorder
from worker.pipeline import Received, receive
from worker.pipeline.types import Rejection
from worker.store import Outcome, transaction

log = structlog.get_logger(__name__)


@app.task(name="ingest.batch", bind=True, max_retries=settings.task_max_retries)
def ingest_batch_task(self: Any, pages: Any) -> dict[str, int]:
    """Ingest one batch of RawPage dicts; returns the counts of each outcome."""
    record = recorder()
    if record is None:
        return _ingest_batch(self, pages)
    with record.batch() as batch:
        counts = _ingest_batch(self, pages)
        if "dead_lettered" in counts:
            batch.result = "dead_lettered"
        return counts


def _ingest_batch(self: Any, pages: Any) -> dict[str, int]:
    task_id = self.request.id or "local"
    try:
        outcome = ingest_message(pages, task_id=task_id, settings=settings)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            # Out of retries: keep the batch whole on the dead-letter queue, then let the
            # message go. `newsingest rejects replay` ingests it once the database is back.
            put_dead_batch(settings=settings, pages=pages, task_id=task_id, error=repr(exc))
            log.error("batch_dead_lettered", task_id=task_id, error=repr(exc))
            return {"dead_lettered": len(pages) if isinstance(pages, list) else 1}
        delay = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=60, full_jitter=True
        )
        log.warning("batch_retry", task_id=task_id, retries=self.request.retries, delay=delay)
        raise self.retry(exc=exc, countdown=delay) from exc
    except Exception as exc:
        # Not transient, and not one page's fault (`store_pages` finds those): a bug. The batch
        # waits whole on the dead-letter queue instead of leaving with a failed task.
        put_dead_batch(settings=settings, pages=pages, task_id=task_id, error=repr(exc))
        log.exception("batch_dead_lettered", task_id=task_id, error=repr(exc))
        return {"dead_lettered": len(pages) if isinstance(pages, list) else 1}
    return {
        "received": len(outcome.items),
        "stored": outcome.count(Outcome.STORED),
        "duplicates": outcome.count(Outcome.DUPLICATE),
        "rejected": outcome.count(Outcome.REJECTED),
        "already_recorded": outcome.already_recorded,
    }


@app.task(name="health.check")
def check_health_task() -> list[str]:
    """Log a `source_drift` warning for each source flagged and not yet warned about today;
    returns the sources warned about now."""
    with transaction() as session:
        health = list_source_health(session=session, days=settings.health_baseline_days)
        return warn_once_a_day(session=session, health=health)


@task_rejected.connect
def _record_refused_message(message: Any = None, exc: Any = None, **_: Any) -> None:
    """Record a message the worker refused unread (a pickle, an unknown format) as a rejection.

    Its body is kept as opaque bytes: it is never deserialized.
    """
    if message is None:
        return
    _record_unread(
        message,
        f"refused unread: content type {message.content_type!r} is not accepted ({exc!r})",
    )


class IngestConsumer(Consumer):
    """Celery's consumer, but a message whose body does not decode is recorded before it goes.

    Celery only logs such a message and acknowledges it (so it cannot loop): a producer's batch of
    malformed JSON would leave no trace in the database.
    """

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        _record_unread(
            message, f"unreadable: the {message.content_type!r} body does not decode ({exc!r})"
        )
        super().on_decode_error(message, exc)


def _record_unread(message: Any, detail: str) -> None:
    """Record a message the worker could not read as one rejection keeping its raw body.

    Never raises: it runs in the worker's consumer, which an exception would stop.
    """
    try:
        _record_unread_or_raise(message, detail)
    except Exception as exc:
        log.exception("refused_message_not_recorded", error=repr(exc))


def _record_unread_or_raise(message: Any, detail: str) -> None:
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    task_id = receipt_stem(
        str((message.headers or {}).get("id") or hashlib.sha256(body).hexdigest())
    )
    stand_in = RawPage(
        content=base64.b64encode(body[: settings.max_page_bytes]).decode("ascii"),
        content_encoding="base64",
        content_type=str(message.content_type)[:200],
        source="broker",
        original_size=len(body) if len(body) > settings.max_page_bytes else None,
    )
    received = receive(stand_in, receipt_key=f"refused:{task_id}")
    refused = Received(
        page=received.page,
        content=received.content,
        content_hash=received.content_hash,
        receipt_key=received.receipt_key,
        rejection=Rejection("invalid_message", detail[:2000]),
    )
    try:
        store_pages(pages=[refused], settings=settings)
    except Exception as exc:
        # The database is away, and the message leaves the queue all the same (it cannot be
        # read, so it must not loop): what arrived waits on the dead-letter queue instead, and
        # `newsingest rejects replay` records it as a rejection holding this element.
        unread = {
            "unread_body": stand_in.content,  # base64, as in the rejection row
            "content_type": stand_in.content_type,
            "source": "broker",
            "detail": detail[:2000],
        }
        put_dead_batch(
            settings=settings, pages=[unread], task_id=f"refused:{task_id}", error=repr(exc)
        )
        log.error("refused_message_dead_lettered", task_id=task_id, error=repr(exc))
    log.warning("message_refused", task_id=task_id, content_type=message.content_type)
