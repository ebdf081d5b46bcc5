"""Queue depths for the status page, read from the Redis broker without consuming anything."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel

from worker.config import Settings, redact_url
from worker.deadletter import dead_letter_queue


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Messages waiting on one queue."""

    name: str
    role: str
    waiting: int


def _lists(queue: str) -> list[str]:
    # Kombu's Redis transport keeps a queue as one list per priority step: the bare name for
    # priority 0, then the name, its separator and the step. A queue's depth is their sum.
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


def read_queue_depths(settings: Settings) -> tuple[list[QueueDepth], str | None]:
    """The ingest, crawl and dead-letter queues' depths, and why they are missing if they are."""
    if settings.broker_url is None:
        return [], "no broker is configured (NEWSINGEST_BROKER_URL): batches run in-process"
    url = settings.broker_url.get_secret_value()
    if urlsplit(url).scheme not in ("redis", "rediss"):
        return [], f"queue depths are read from a Redis broker only, not {redact_url(url)}"
    queues = [
        (settings.queue, "ingest batches"),
        (settings.crawl_queue, "crawls"),
        (dead_letter_queue(settings), "dead letters (see `newsingest rejects replay`)"),
    ]
    # Short timeouts: a broker that does not answer costs the page two seconds, not a hang.
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        with client.pipeline(transaction=False) as pipe:
            for name, _ in queues:
                for key in _lists(name):
                    pipe.llen(key)
            lengths = pipe.execute()
    except redis.RedisError as exc:
        return [], f"the broker at {redact_url(url)} did not answer: {exc}"
    finally:
        client.close()
    steps = len(PRIORITY_STEPS)
    return [
        QueueDepth(name, role, sum(lengths[i * steps : (i + 1) * steps]))
        for i, (name, role) in enumerate(queues)
    ], None
