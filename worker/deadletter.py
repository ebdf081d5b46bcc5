"""The dead-letter queue: batches that failed past their retry budget, kept whole on the broker.

A batch ends here when the database kept failing for a transient reason (it was down for longer
than the retries waited). It cannot be recorded in PostgreSQL at that moment, so it waits on the
broker, on a queue of its own that no worker consumes (`<queue>.dead`), until
`newsingest rejects replay` ingests it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kombu import Connection

from worker.config import Settings
from worker.errors import ConfigError


def dead_letter_queue(settings: Settings) -> str:
    """The name of the dead-letter queue beside the ingest queue."""
    return f"{settings.queue}.dead"


def _connection(settings: Settings) -> Connection:
    if settings.broker_url is None:
        raise ConfigError(
            "NEWSINGEST_BROKER_URL is not set: the dead-letter queue is on the broker"
        )
    return Connection(settings.broker_url.get_secret_value())


def put_dead_batch(*, settings: Settings, pages: list[Any], task_id: str, error: str) -> None:
    """Keep a failed batch, exactly as it arrived, on the dead-letter queue."""
    with _connection(settings) as connection:
        queue = connection.SimpleQueue(dead_letter_queue(settings), serializer="json")
        try:
            queue.put(
                {
                    "pages": pages,
                    "task_id": task_id,
                    "error": error[:2000],
                    "failed_at": datetime.now(UTC).isoformat(),
                }
            )
        finally:
            queue.close()


def replay_dead_batches(
    *, settings: Settings, ingest: Callable[[list[Any], str], object], limit: int | None = None
) -> int:
    """Hand each dead batch to `ingest(pages, task_id)`, removing it only once that returned.

    A batch whose ingest raises goes back on the queue; returns how many batches were replayed.
    """
    replayed = 0
    with _connection(settings) as connection:
        queue = connection.SimpleQueue(
            dead_letter_queue(settings), serializer="json", accept=["json"]
        )
        try:
            while limit is None or replayed < limit:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                body = message.payload
                try:
                    ingest(body["pages"], body["task_id"])
                except BaseException:
                    message.requeue()
                    raise
                message.ack()
                replayed += 1
        finally:
            queue.close()
    return replayed
