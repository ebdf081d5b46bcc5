"""One batch through the pipeline and into the store: what the task and `newsingest ingest` call."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import itertools
import time
from collections.abc import Callable, Sequence, Set
from concurrent.futures import Executor
from typing import Any

import psycopg
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from worker.claims import (
    ClaimMissing,
    ClaimRefused,
    ClaimSettled,
    claim_of,
    open_claim,
    settle_claim,
)
from worker.config import Settings
from worker.metrics import recorder
from worker.pipeline import (
    Processed,
    Received,
    StageClock,
    process,
    process_pages,
    receive_message,
)
from worker.pipeline.types import Rejection
from worker.store import (
    BatchOutcome,
    ContentRaced,
    Outcome,
    find_known_content,
    story_rules,
    transaction,
    upsert_batch,
)

log = structlog.get_logger(__name__)

# A database that is down, restarting, or killed our connection, or a deadlock: the transaction
# rolled back whole, so running the batch again later is always safe. So is a Redis that failed
# to hand over a claim or to settle it after the commit (the receipts make the rerun a no-op), and
# a batch that kept meeting concurrent copies of its contents. (The batch insert runs on psycopg's
# own cursor, whose errors SQLAlchemy does not wrap.)
TRANSIENT = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ContentRaced,
)
# The database refuses every page alike (no such table, no privilege): no page is at fault, so the
# batch is not split to find one; the caller reports it (the task dead-letters the batch).
NOT_A_PAGE = (ProgrammingError, psycopg.ProgrammingError)
# Runs of a batch that met concurrent copies of its contents before it counts as transient.
_RACE_ATTEMPTS = 5
# Receipt keys are at most 240 characters (sightings.receipt_key): a task id makes their stem.
_LONGEST_TASK_ID = 200


# Processes distinct pages, in order, and says what CPU that took elsewhere (`process_pages`).
ProcessPages = Callable[[list[Received]], tuple[list[Processed | Rejection], StageClock]]


def first_receipts(pages: Sequence[Received], *, stored: Set[bytes]) -> list[Received]:
    """The first receipt of each content in the batch that is not among the `stored` hashes."""
    first: dict[bytes, Received] = {}
    for page in pages:
        if page.content_hash not in stored:
            first.setdefault(page.content_hash, page)
    return list(first.values())


class PoolPipeline:
    """Cleans and classifies batches in a process pool, a batch ahead of the store.

    `prepare(pages, stored=...)` sends the batch's distinct contents not stored yet to the pool at
    once, in a few chunks per process, and gives the ProcessPages that waits for them; meanwhile
    the caller stores the batch before. A content that batch stores is processed for nothing, and
    one left out is processed where its results are asked for.
    """

    def __init__(self, pool: Executor, *, jobs: int, max_page_bytes: int) -> None:
        """Work for `jobs` processes of `pool`."""
        self._pool = pool
        self._jobs = jobs
        self._work = functools.partial(process, max_page_bytes=max_page_bytes)
        self._work_chunk = functools.partial(process_pages, max_page_bytes=max_page_bytes)

    def prepare(self, pages: Sequence[Received], *, stored: Set[bytes]) -> ProcessPages:
        """Start on the batch; give what `ingest_batch` calls for its results."""
        todo = first_receipts(pages, stored=stored)
        size = max(1, -(-len(todo) // (self._jobs * 4)))
        chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
        futures = [(chunk, self._pool.submit(self._work_chunk, chunk)) for chunk in chunks]

        def results_of(wanted: list[Received]) -> tuple[list[Processed | Rejection], StageClock]:
            done: dict[bytes, Processed | Rejection] = {}
            clock = StageClock()
            for chunk, future in futures:
                results, chunk_clock = future.result()
                done.update(zip((page.content_hash for page in chunk), results, strict=True))
                clock.classify += chunk_clock.classify
                clock.elsewhere += chunk_clock.elsewhere
            ordered = []
            for page in wanted:
                result = done.get(page.content_hash)
                ordered.append(self._work(page, clock=clock) if result is None else result)
            return ordered, clock

        return results_of


def ingest_batch(
    *,
    session: Session,
    pages: Sequence[Received],
    settings: Settings,
    processor: ProcessPages | None = None,
) -> BatchOutcome:
    """Clean, classify and store a batch in the session's transaction; returns each page's outcome.

    Byte-identical re-sends are recognised by content hash before any parsing, and each distinct
    content in the batch is processed once: here, or by `processor` (a pool's, say).
    """
    started = time.process_time()
    known = find_known_content(session=session, hashes={page.content_hash for page in pages})
    lookup_done = time.process_time()
    distinct = first_receipts(pages, stored=known.keys())
    if processor is None:
        clock = StageClock()
        processed = [
            process(page, max_page_bytes=settings.max_page_bytes, clock=clock) for page in distinct
        ]
    else:
        processed, clock = processor(distinct)
    results = {page.content_hash: result for page, result in zip(distinct, processed, strict=True)}
    pipeline_done = time.process_time()
    outcome = upsert_batch(
        session=session,
        pages=pages,
        results=results,
        known=known,
        story_rules=story_rules(settings),
    )
    finished = time.process_time()
    # This process's CPU and its pool's (not the database server's); bench/e2e.py sums these, and
    # the metrics count them. Cleaning is the pipeline but classification: decoding, sniffing and
    # the headline key too.
    cpu_pipeline = pipeline_done - lookup_done + clock.elsewhere
    cpu_store = finished - pipeline_done + lookup_done - started
    log.info(
        "batch_ingested",
        received=len(pages),
        stored=outcome.count(Outcome.STORED),
        duplicates=outcome.count(Outcome.DUPLICATE),
        rejected=outcome.count(Outcome.REJECTED),
        already_recorded=outcome.already_recorded,
        cpu_pipeline_us=round(cpu_pipeline * 1e6),
        cpu_clean_us=round((cpu_pipeline - clock.classify) * 1e6),
        cpu_classify_us=round(clock.classify * 1e6),
        cpu_store_us=round(cpu_store * 1e6),
    )
    record = recorder()
    if record is not None:
        record.count_stage_cpu(
            clean=cpu_pipeline - clock.classify, classify=clock.classify, store=cpu_store
        )
    return outcome


def store_pages(
    *, pages: Sequence[Received], settings: Settings, processor: ProcessPages | None = None
) -> BatchOutcome:
    """Ingest a batch in its own transaction; what a task and `newsingest ingest` call.

    Each distinct content is processed once, however often the batch is run: a batch that met a
    concurrent copy of one of its contents (`ContentRaced`) is rolled back and run again, and a
    batch the store refuses for a reason that is not transient (a bug, a value PostgreSQL cannot
    hold) is split in halves until the page at fault is found; that page is recorded as an
    `unstorable` rejection keeping its raw content, and the rest is stored. Transient errors
    (`TRANSIENT`) are raised for the caller to retry, and errors no page causes (`NOT_A_PAGE`)
    for it to report.
    """
    results: dict[bytes, Processed | Rejection] = {}

    def remembered(distinct: list[Received]) -> tuple[list[Processed | Rejection], StageClock]:
        todo = [page for page in distinct if page.content_hash not in results]
        clock = StageClock()
        if todo:
            if processor is None:
                done: list[Processed | Rejection] = [
                    process(page, max_page_bytes=settings.max_page_bytes, clock=clock)
                    for page in todo
                ]
            else:
                done, clock = processor(todo)
            results.update(zip((page.content_hash for page in todo), done, strict=True))
        return [results[page.content_hash] for page in distinct], clock

    def run(part: Sequence[Received]) -> BatchOutcome:
        for attempt in itertools.count(1):
            try:
                with transaction() as session:
                    return ingest_batch(
                        session=session, pages=part, settings=settings, processor=remembered
                    )
            except ContentRaced as exc:
                if attempt >= _RACE_ATTEMPTS:
                    raise
                log.info("batch_raced", attempt=attempt, contents=exc.count)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def bisect(part: Sequence[Received], error: Exception) -> BatchOutcome:
        if len(part) == 1:
            log.error("page_unstorable", receipt_key=part[0].receipt_key, error=repr(error))
            refused = unstorable(part[0], error)
            results[refused.content_hash] = refused.rejection  # type: ignore[assignment]
            return run([refused])
        middle = len(part) // 2
        items: list[Any] = []
        for half in (part[:middle], part[middle:]):
            try:
                outcome = run(half)
            except (*TRANSIENT, *NOT_A_PAGE):
                raise
            except Exception as exc:
                outcome = bisect(half, exc)
            items.extend(outcome.items)
        return BatchOutcome(tuple(items))

    try:
        outcome = run(pages)
    except (*TRANSIENT, *NOT_A_PAGE):
        raise
    except Exception as exc:
        log.error("batch_unstorable", pages=len(pages), error=repr(exc))
        outcome = bisect(pages, exc)
    record = recorder()
    if record is not None:
        record.count_pages(pages=pages, outcome=outcome)
    return outcome


def unstorable(page: Received, error: Exception) -> Received:
    """The page as an `unstorable` rejection: why the store failed, and its raw bytes."""
    detail = f"the store could not write this page: {type(error).__name__}: {error}"
    return dataclasses.replace(page, rejection=Rejection("unstorable", detail[:2000]), packed=None)


def receipt_stem(task_id: str) -> str:
    """A message's task id as the stem of its receipt keys: as it is when it is short, printable
    text, else its SHA-256 (a producer picks the id; PostgreSQL text cannot hold U+0000)."""
    if len(task_id) <= _LONGEST_TASK_ID and task_id.isprintable():
        return task_id
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def ingest_message(pages: Any, *, task_id: str, settings: Settings) -> BatchOutcome:
    """Validate the pages of one queue message and ingest them in one transaction.

    Each element that is not a valid RawPage is recorded as an `invalid_message` rejection; its
    receipt key is the task id and its position, so a redelivered message is recorded once. A
    claim check (worker/claims.py) is opened first and settled once its batch is committed.
    """
    task_id = receipt_stem(task_id)
    claim = claim_of(pages, queue=settings.queue)
    utf8: list[bytes | None] = []
    packed: list[bytes | None] = []
    if claim is None:
        items = pages if isinstance(pages, list) else [pages]
    else:
        try:
            items, utf8, packed = open_claim(settings, claim)
        except ClaimSettled:
            log.info("claim_already_ingested", task_id=task_id, claim=claim)
            return BatchOutcome(items=())
        except (ClaimMissing, ClaimRefused) as exc:
            # Nothing to ingest: the message itself is the receipt, kept as a rejection with
            # what the claim held (its first bytes, when that is over the page limit).
            log.error("claim_unreadable", task_id=task_id, claim=claim, error=repr(exc))
            item: dict[str, Any] = {"claim": claim, "error": f"claim unreadable: {exc!r}"[:500]}
            if isinstance(exc, ClaimRefused):
                kept = exc.payload[: settings.max_page_bytes]
                item["claim_bytes_base64"] = base64.b64encode(kept).decode("ascii")
                item["claim_bytes"] = len(exc.payload)
            items = [item]
    received = [
        receive_message(
            item,
            fallback_key=f"{task_id}:{index}",
            utf8=utf8[index] if utf8 else None,
            packed=packed[index] if packed else None,
        )
        for index, item in enumerate(items)
    ]
    outcome = store_pages(pages=received, settings=settings)
    if claim is not None:
        settle_claim(settings, claim)
    return outcome
