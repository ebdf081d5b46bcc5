"""The Celery app: JSON-only messages over Redis, late acks, one batch in hand per process."""

from __future__ import annotations

import json
from typing import Any

import orjson
import structlog
from celery import Celery
from celery.signals import (
    beat_init,
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from kombu.compression import register as register_compression
from kombu.serialization import register as register_serializer

from worker import metrics
from worker.config import get_settings
from worker.crawl.settings import get_crawl_settings
from worker.logs import configure_logging
from worker.packing import zstd_compress, zstd_decompress

settings = get_settings()


def _json_dumps(body: Any) -> bytes:
    # UTF-8 bytes as they are: kombu compresses and frames bytes, so decoding them to str only for
    # kombu to encode them again cost ~0.8 ms per 170 KB HTML page (profile of enqueue_pages).
    return orjson.dumps(body)


def _json_loads(body: str | bytes) -> Any:
    # Runs in the worker's main process when a message arrives: what it refuses (ValueError) is
    # recorded unread by the consumer (worker/tasks.py) and never reaches a pool process.
    if len(body) > settings.max_message_bytes:
        msg = f"the message is {len(body):,} bytes; at most {settings.max_message_bytes:,} are read"
        raise ValueError(msg)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson refuses JSON that escapes half a surrogate pair ("\ud800", which JavaScript's
        # JSON.stringify writes for a broken string); Celery would drop such a message unread.
        # The standard library reads it, and the page that holds it is rejected on its own.
        value = json.loads(body)
    check_message_shape(value, max_items=settings.max_message_pages)
    return value


# A task message is [args, kwargs, options] around a list of flat page objects: a handful of levels.
_MAX_MESSAGE_DEPTH = 32


def check_message_shape(value: Any, *, max_items: int) -> None:
    """ValueError if a decoded message nests deeper than any page batch does, or holds a list or
    object of more than `max_items` items.

    Why: the worker's main process hands the decoded message to a pool process by pickling it,
    and an array nested ~900 deep (which JSON parsers accept) overflows pickle's recursion: the
    pool dies, the message goes back to the queue, and kills the next worker too.
    """
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_MESSAGE_DEPTH:
            msg = f"the message nests deeper than {_MAX_MESSAGE_DEPTH} levels"
            raise ValueError(msg)
        items = node.values() if isinstance(node, dict) else node
        if len(items) > max_items:
            msg = f"the message holds a list of {len(items):,} items; at most {max_items:,} read"
            raise ValueError(msg)
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))


# Same wire format (application/json, UTF-8), faster codec: stdlib json spent ~17 ms encoding a
# 20-page HTML batch where orjson spends ~5 ms (measured; the producer's largest cost for HTML).
# Registered under the name "json", so accept_content=["json"] below still refuses everything else.
register_serializer(
    "json",
    _json_dumps,  # type: ignore[arg-type]  # the stubs say str; kombu takes bytes (ensure_bytes)
    _json_loads,
    content_type="application/json",
    content_encoding="utf-8",
)

register_compression(zstd_compress, zstd_decompress, "application/zstd", aliases=["zstd"])

app = Celery("newsingest", include=["worker.tasks", "worker.crawl.tasks"])
app.conf.update(
    broker_url=settings.broker_url.get_secret_value() if settings.broker_url else None,
    # JSON only: a pickle message could run code in the worker, so it is refused unread.
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    result_accept_content=["json"],
    task_ignore_result=True,  # outcomes live in PostgreSQL; no result backend to run
    # A batch is acknowledged only after its transaction commits, and handed to another worker if
    # this one dies holding it: at-least-once delivery, made exactly-once by receipt keys.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=settings.queue,
    # Crawls run on a queue of their own, so a long crawl never holds up ingest batches; a default
    # `newsingest worker` consumes both, and a deployment can dedicate workers to either.
    task_routes={
        "ingest.batch": {"queue": settings.queue},
        "crawl.*": {"queue": settings.crawl_queue},
    },
    # Records a message whose body does not decode instead of only logging it (worker/tasks.py).
    worker_consumer="worker.tasks:IngestConsumer",
    broker_connection_retry_on_startup=True,
    # Redis hands an unacknowledged message (its worker died) to another worker after this long.
    broker_transport_options={"visibility_timeout": settings.visibility_timeout},
    worker_hijack_root_logger=False,
    enable_utc=True,
    # Beat keeps its schedule in the data directory, not in whatever folder it was started from
    # (a checkout, or an image's read-only working directory).
    beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    # Beat looks for sources due a crawl every tick and sends one `crawl.source` task per source.
    beat_schedule={
        "crawl-due-sources": {
            "task": "crawl.dispatch",
            "schedule": get_crawl_settings().crawl_tick,
        },
        # Drift warnings go to the worker's log, where its other warnings are collected.
        "check-source-health": {"task": "health.check", "schedule": settings.health_check_seconds},
    },
)


@beat_init.connect
def _warn_when_nothing_to_schedule(**_: Any) -> None:
    if get_crawl_settings().sources is None:
        structlog.get_logger(__name__).warning(
            "beat_has_no_sources",
            detail="NEWSINGEST_SOURCES is not set: beat will find no source to crawl "
            "(see examples/sources.toml)",
        )


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    configure_logging(level=settings.log_level or "INFO", fmt=settings.log_rendering)


@worker_init.connect
def _load_data_before_fork(**_: Any) -> None:
    # Built once in the parent, the gazetteer (~1 s, tens of MB) is shared by every forked pool
    # process instead of being rebuilt, and paid for, by the first batch of each.
    from worker.pipeline.gazetteer import load_gazetteer  # noqa: PLC0415 - worker processes only

    load_gazetteer()


@worker_process_init.connect
def _fresh_engine_per_process(**_: Any) -> None:
    # A forked pool process must never reuse the parent's connections. (Imported here: producers
    # import this module too, and need neither the store nor SQLAlchemy.)
    from worker.store import reset_engine  # noqa: PLC0415

    reset_engine()


# Prometheus metrics (worker/metrics/), each a no-op unless NEWSINGEST_METRICS_PORT is set: set up
# before the pool forks, served once it runs, a pool process marked dead as it exits.
@worker_init.connect
def _prepare_metrics(**_: Any) -> None:
    metrics.prepare(settings)


@worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    metrics.serve(settings)


@worker_process_shutdown.connect
def _metrics_process_exiting(**_: Any) -> None:
    metrics.process_exiting()


@worker_shutdown.connect
def _stop_metrics(**_: Any) -> None:
    metrics.stop()
