"""Crawls as services: build a crawler from the settings, crawl a source by name under a lock so
no two workers crawl one source at once, and pick the sources due a crawl."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import redis
import structlog

from schemas import RawPage
from worker.config import get_settings
from worker.crawl import state
from worker.crawl.crawl import Crawler, CrawlReport, crawl_source
from worker.crawl.fetch import get_fetcher
from worker.crawl.politeness import HostPacer, Robots
from worker.crawl.settings import get_crawl_settings
from worker.crawl.sources import Source, find_source, load_sources
from worker.errors import ConfigError, ServiceUnavailable
from worker.store import transaction

log = structlog.get_logger(__name__)

# A crawl's lock on its source lives this long unless renewed; the crawl renews it every third of
# that while it runs, however long, and a worker that died holding it frees it within this time.
LOCK_SECONDS = 300

_redis: redis.Redis | None = None
_redis_pid: int | None = None


def get_redis() -> redis.Redis:
    """This process's client of the broker's Redis, where politeness and locks live."""
    global _redis, _redis_pid  # noqa: PLW0603 - one connection pool per process, by design
    if _redis is None or _redis_pid != os.getpid():
        broker = get_settings().broker_url
        if broker is None:
            raise ConfigError("NEWSINGEST_BROKER_URL is not set: crawls keep their pace in Redis")
        url = broker.get_secret_value()
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("crawls need a Redis broker (redis://...) to share politeness")
        _redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        _redis_pid = os.getpid()
    return _redis


def _enqueue(pages: Iterable[RawPage], on_batch: Callable[[list[RawPage]], None]) -> object:
    from worker.producer import enqueue_pages  # noqa: PLC0415 - imports the Celery app

    return enqueue_pages(pages, on_batch=on_batch)


def build_crawler() -> Crawler:
    """A crawler wired to this process's fetcher, Redis, database and ingest queue."""
    settings = get_crawl_settings()
    client = get_redis()
    fetcher = get_fetcher()
    return Crawler(
        fetcher=fetcher,
        pacer=HostPacer(client, prefix=settings.crawl_key_prefix),
        robots=Robots(
            client,
            fetcher,
            user_agent=settings.user_agent,
            cache_seconds=settings.robots_cache_seconds,
            prefix=settings.crawl_key_prefix,
        ),
        transaction=transaction,
        enqueue=_enqueue,
        pause_after_failures=settings.pause_after_failures,
    )


@contextmanager
def source_lock(client: redis.Redis, name: str, *, seconds: float = LOCK_SECONDS) -> Iterator[bool]:
    """Hold the crawl lock of source `name` for the block; yields False when another has it.

    A thread renews the lock every third of `seconds` while the block runs (a crawl of a large
    sitemap can take hours); if the lock was lost meanwhile (Redis restarted empty), the renewal
    stops and says so in the log.
    """
    prefix = get_crawl_settings().crawl_key_prefix
    # thread_local=False: the renewing thread must see the token the acquiring thread set.
    lock = client.lock(f"{prefix}:lock:{name}", timeout=seconds, thread_local=False)
    if not lock.acquire(blocking=False):
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(seconds / 3):
            try:
                lock.reacquire()
            except redis.exceptions.LockError:
                log.warning("crawl_lock_lost", source=name)
                return
            except redis.RedisError as exc:
                log.warning("crawl_lock_not_renewed", source=name, error=repr(exc))

    renewer = threading.Thread(target=renew, name=f"crawl-lock-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()


def list_sources() -> list[Source]:
    """The sources in the file NEWSINGEST_SOURCES names."""
    return load_sources(get_crawl_settings().sources)


def crawl_named(
    *, name: str, on_event: Callable[[str, str], None] | None = None
) -> CrawlReport | None:
    """Crawl the source called `name` once (paused or not); None if another crawl of it runs."""
    source = find_source(list_sources(), name)
    try:
        crawler = build_crawler()
        with source_lock(get_redis(), source.name) as held:
            if not held:
                log.info("crawl_skipped_locked", source=source.name)
                return None
            report = crawl_source(
                crawler=crawler,
                source=source,
                host_interval=get_crawl_settings().host_interval,
                on_event=on_event,
            )
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"Redis did not answer: {exc}") from exc
    log.info(
        "crawl_finished",
        source=source.name,
        failed=report.failed,
        paused=report.paused,
        **dict(report.counts),
    )
    return report


def due_sources(
    *, sources: Iterable[Source], states: dict[str, state.SourceState], now: datetime
) -> list[Source]:
    """The enabled, unpaused sources whose last crawl was scheduled or started an interval ago."""
    due = []
    for source in sources:
        known = states.get(source.name)
        if not source.enabled or (known is not None and known.paused):
            continue
        times = [] if known is None else [known.last_scheduled_at, known.last_started_at]
        latest = max((t for t in times if t is not None), default=None)
        if latest is None or now - latest >= source.interval:
            due.append(source)
    return due


def dispatch_due(*, send: Callable[[str], object]) -> list[str]:
    """Send a crawl of every due source with `send(name)`; returns the names sent."""
    if get_crawl_settings().sources is None:
        return []
    sources = list_sources()
    now = datetime.now(UTC)
    with transaction() as session:
        states = state.get_source_states(session=session)
    names = [source.name for source in due_sources(sources=sources, states=states, now=now)]
    for name in names:
        send(name)
    if names:
        with transaction() as session:
            state.mark_scheduled(session=session, names=names, at=now)
    return names
