"""The metrics and their exposition; imported only once PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

import redis
import structlog
from celery.exceptions import Retry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server

from worker.claims import claims_supported, queue_lengths
from worker.config import Settings
from worker.crawl.fetch import FetchOutcome
from worker.deadletter import dead_letter_queue
from worker.metrics import process_alive
from worker.pipeline import Received
from worker.pipeline.types import RejectReason
from worker.store import BatchOutcome, Outcome

log = structlog.get_logger(__name__)

OTHER = "other"
_REASONS = frozenset(get_args(RejectReason))
_FETCH_OUTCOMES = frozenset(outcome.value for outcome in FetchOutcome) | {"disallowed"}
# A source name longer than this is no name an operator chose; it counts as "other".
_LONGEST_SOURCE = 100
# Batches of 500 text dumps take about a second, of 20 HTML pages a few; a stuck one, minutes.
_BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
# Scrapes must stay cheap and never hang on a broker that does not answer.
_BROKER_TIMEOUT = 2.0


class Recorder:
    """The worker's metrics, and the calls the hot path makes to count into them.

    Every call swallows (and logs) its own errors: a metric is never worth a batch.
    """

    def __init__(self, settings: Settings) -> None:
        """Define the metrics (in the worker's main process, before it forks its pool)."""
        if not getattr(values.ValueClass, "_multiprocess", False):
            # Something imported prometheus_client before PROMETHEUS_MULTIPROC_DIR was set:
            # each pool process would count in memory the main process never reads.
            msg = "prometheus_client was imported before its multiprocess directory was set"
            raise RuntimeError(msg)
        self._max_sources = settings.metrics_max_sources
        crawled = _crawl_source_names()[: self._max_sources]
        self._sources: dict[str, str] = {name: name for name in crawled}
        self.pages = Counter(
            "newsingest_pages",
            "Dumps received, by source and outcome (stored, duplicate, rejected, or "
            "already_recorded by an earlier delivery), and the reason of a rejection.",
            ["source", "outcome", "reason"],
        )
        self.batches = Counter(
            "newsingest_batches",
            "Ingest batches run, by result: ingested, retried (a transient error), "
            "dead_lettered, failed.",
            ["result"],
        )
        self.batch_seconds = Histogram(
            "newsingest_batch_duration_seconds",
            "Wall time of one ingest batch in a pool process, from its message to its commit.",
            buckets=_BATCH_BUCKETS,
        )
        self.stage_cpu = Counter(
            "newsingest_stage_cpu_seconds",
            "CPU seconds spent per stage of ingest: clean (decode, sniff, clean, headline), "
            "classify (region), store (this process's side of the database work).",
            ["stage"],
        )
        self.in_progress = Gauge(
            "newsingest_batches_in_progress",
            "Ingest batches being run now, summed over the live pool processes.",
            multiprocess_mode="livesum",
        )
        self.fetches = Counter(
            "newsingest_crawl_fetches",
            "Crawl fetches, by source, outcome and final HTTP status (none: no response).",
            ["source", "outcome", "status"],
        )

    def source_label(self, source: str) -> str:
        """The label a source counts under: its name, or "other" past the cap or when odd."""
        label = self._sources.get(source)
        if label is not None:
            return label
        fits = len(source) <= _LONGEST_SOURCE and source.isprintable()
        if not fits or len(self._sources) >= self._max_sources:
            return OTHER
        self._sources[source] = source
        return source

    def count_pages(self, *, pages: Sequence[Received], outcome: BatchOutcome) -> None:
        """Count the dumps of a committed batch by source and outcome."""
        try:
            if len(pages) != len(outcome.items):
                msg = f"{len(pages)} pages but {len(outcome.items)} outcomes"
                raise ValueError(msg)
            tally: dict[tuple[str, str, str], int] = {}
            for page, item in zip(pages, outcome.items, strict=True):
                if item.outcome is None:
                    labels = (self.source_label(page.page.source), "already_recorded", "")
                elif item.outcome is Outcome.REJECTED:
                    reason = item.reason if item.reason in _REASONS else OTHER
                    labels = (self.source_label(page.page.source), "rejected", reason or OTHER)
                else:
                    labels = (self.source_label(page.page.source), item.outcome.value, "")
                tally[labels] = tally.get(labels, 0) + 1
            for labels, count in tally.items():
                self.pages.labels(*labels).inc(count)
        except Exception as exc:
            log.exception("metrics_not_counted", what="pages", error=repr(exc))

    def count_stage_cpu(self, *, clean: float, classify: float, store: float) -> None:
        """Add a batch's CPU seconds per stage."""
        try:
            self.stage_cpu.labels("clean").inc(max(clean, 0.0))
            self.stage_cpu.labels("classify").inc(max(classify, 0.0))
            self.stage_cpu.labels("store").inc(max(store, 0.0))
        except Exception as exc:
            log.exception("metrics_not_counted", what="stage_cpu", error=repr(exc))

    def count_fetch(self, *, source: str, outcome: str, status: int | None) -> None:
        """Count one crawl fetch."""
        try:
            code = str(status) if status is not None and 100 <= status <= 599 else "none"
            self.fetches.labels(
                self.source_label(source), outcome if outcome in _FETCH_OUTCOMES else OTHER, code
            ).inc()
        except Exception as exc:
            log.exception("metrics_not_counted", what="fetch", error=repr(exc))

    @contextmanager
    def batch(self) -> Iterator[BatchResult]:
        """Time an ingest batch and count its result (set `.result`; an exception is a retry)."""
        result = BatchResult()
        started = time.perf_counter()
        self.in_progress.inc()
        try:
            yield result
        except BaseException as exc:
            # Retry is what the task's `self.retry()` raises; anything else escaped the task.
            result.result = "retried" if isinstance(exc, Retry) else "failed"
            raise
        finally:
            try:
                self.in_progress.dec()
                self.batch_seconds.observe(time.perf_counter() - started)
                self.batches.labels(result.result).inc()
            except Exception as exc:
                log.exception("metrics_not_counted", what="batch", error=repr(exc))

    def process_exiting(self) -> None:
        """Mark this process dead in the multiprocess directory."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            _mark_process_dead(os.getpid(), directory)


class BatchResult:
    """How a batch ended, as the task says."""

    def __init__(self) -> None:
        """Ingested, unless the task says otherwise."""
        self.result = "ingested"


class Exposition:
    """The /metrics HTTP server of the worker's main process."""

    def __init__(self, settings: Settings, *, directory: Path) -> None:
        """Bind the port and serve on a daemon thread; OSError when the port cannot be bound."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ProcessFiles(directory))
        if claims_supported(settings):
            registry.register(_BrokerDepths(settings))
        assert settings.metrics_port is not None
        self._server, self._thread = start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=registry
        )

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


class _ProcessFiles:
    """Every process's counts, summed; processes that died unmarked are marked dead first."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # prometheus_client leaves its multiprocess module unannotated (the ignores below).
        self._collector = multiprocess.MultiProcessCollector(None, path=str(directory))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for path in self._directory.glob("gauge_live*_*.db"):
            pid = path.stem.rpartition("_")[2]
            if pid.isdigit() and not process_alive(int(pid)):
                _mark_process_dead(int(pid), str(self._directory))
        collected: Iterable[Metric] = self._collector.collect()  # type: ignore[no-untyped-call]
        return collected


class _BrokerDepths:
    """Messages waiting on the ingest, crawl and dead-letter queues, read when scraped."""

    def __init__(self, settings: Settings) -> None:
        assert settings.broker_url is not None
        self._client = redis.Redis.from_url(
            settings.broker_url.get_secret_value(),
            socket_timeout=_BROKER_TIMEOUT,
            socket_connect_timeout=_BROKER_TIMEOUT,
        )
        self._queues = [settings.queue, settings.crawl_queue]
        self._dead = dead_letter_queue(settings)

    def collect(self) -> Iterable[Metric]:
        try:
            lengths = queue_lengths(self._client, [*self._queues, self._dead])
        except redis.RedisError as exc:
            log.warning("metrics_broker_unreadable", error=repr(exc))
            return []
        depth = GaugeMetricFamily(
            "newsingest_queue_depth", "Messages waiting on a queue.", labels=["queue"]
        )
        for queue in self._queues:
            depth.add_metric([queue], lengths[queue])
        dead = GaugeMetricFamily(
            "newsingest_dead_letter_depth",
            "Batches waiting on the dead-letter queue for `newsingest rejects replay`.",
            labels=["queue"],
        )
        dead.add_metric([self._dead], lengths[self._dead])
        return [depth, dead]


def _mark_process_dead(pid: int, directory: str) -> None:
    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _crawl_source_names() -> list[str]:
    # The configured crawl sources always get a label of their own (within the cap).
    from worker.crawl.settings import get_crawl_settings  # noqa: PLC0415
    from worker.crawl.sources import load_sources  # noqa: PLC0415

    path = get_crawl_settings().sources
    if path is None:
        return []
    try:
        return [source.name for source in load_sources(path)]
    except Exception as exc:
        log.warning("metrics_crawl_sources_unread", error=repr(exc))
        return []
