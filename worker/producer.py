"""The producer API: chunk RawPages into batches and publish them to the ingest queue."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from schemas import RawPage
from worker.app import app, settings
from worker.claims import claims_supported, drop_claim, put_claim
from worker.errors import ConfigError, ServiceUnavailable
from worker.inputs import MAX_BATCH_CHARS, batched

# Batches larger than this travel as claim checks (worker/claims.py: zstd bytes in Redis, the key
# in the message), or zstd-compressed in the message on a broker that is not Redis. Small batches
# gain too little to pay for compressing.
COMPRESS_ABOVE_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    """What was handed to the broker."""

    batches: int
    pages: int


# What a batch may carry: RawPages, and as they were read, JSON Lines lines that are none (a JSON
# object that does not validate, or a line's text), which the worker records as invalid_message.
Message = RawPage | dict[str, Any] | str
M = TypeVar("M", bound=Message)


def _content_chars(page: Message) -> int:
    if isinstance(page, RawPage):
        return len(page.content)
    return len(page) if isinstance(page, str) else len(str(page.get("content", "")))


def enqueue_pages(
    pages: Iterable[M],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[list[M]], None] | None = None,
) -> EnqueueReport:
    """Publish pages to the ingest queue in batches over one broker connection.

    Raises ConfigError without a broker URL and ServiceUnavailable when the broker does not answer;
    batches published before the failure stay queued (the report of what was sent is lost with the
    exception, so `on_batch` is how a caller learns what was accepted).
    """
    if settings.broker_url is None:
        raise ConfigError(
            "NEWSINGEST_BROKER_URL is not set: enqueue needs a broker "
            "(or use `newsingest ingest` to run in-process)"
        )
    batches = sent = 0
    use_claims = claims_supported(settings)
    try:
        # One producer (one connection) for the whole run: building a client per publish costs
        # more than the publish itself.
        with app.producer_or_acquire() as producer:
            for batch in batched(
                pages,
                batch_size=batch_size or settings.batch_size,
                max_chars=MAX_BATCH_CHARS,
                chars=_content_chars,
            ):
                _send_batch(producer, batch, use_claims=use_claims)
                batches += 1
                sent += len(batch)
                if on_batch is not None:
                    on_batch(batch)
    except (BrokerError, RedisError) as exc:
        raise ServiceUnavailable(
            f"the broker did not accept batch {batches + 1} ({sent} pages were sent before): {exc}"
        ) from exc
    return EnqueueReport(batches=batches, pages=sent)


def _send_batch(producer: Any, batch: Sequence[Message], *, use_claims: bool) -> None:
    """Publish one batch: inline, compressed inline, or as a claim check when it is large."""
    size = sum(_content_chars(page) for page in batch)
    dicts = [
        page.model_dump(mode="json", exclude_none=True) if isinstance(page, RawPage) else page
        for page in batch
    ]
    options: dict[str, Any] = {}
    claim = None
    if size > COMPRESS_ABOVE_CHARS and use_claims:
        claim = put_claim(settings, dicts)
        message: Any = {"claim": claim, "pages": len(dicts)}
    else:
        message = dicts
        if size > COMPRESS_ABOVE_CHARS:
            options["compression"] = "zstd"
    try:
        # By name: importing the task would import the whole pipeline and store (~1 s of startup
        # for every `newsingest enqueue`).
        app.send_task(
            "ingest.batch",
            **options,
            args=(message,),
            producer=producer,
            queue=settings.queue,
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        )
    except BaseException:
        if claim is not None:
            with contextlib.suppress(RedisError):
                drop_claim(settings, claim)
        raise
