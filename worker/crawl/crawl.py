"""The crawl of one source: read its feeds, sitemaps and start pages for links, fetch the pages
that are new, failed before or due a revisit (conditionally, politely), and hand what changed to
the ingest queue as RawPages, recording every URL's state as it goes.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from schemas import RawPage
from worker.crawl import state
from worker.crawl.fetch import FEED_TYPES, PAGE_TYPES, Fetched, Fetcher, FetchOutcome
from worker.crawl.links import feed_links, page_links, sitemap_links
from worker.crawl.politeness import HostPacer, Robots
from worker.crawl.sources import Source
from worker.metrics import recorder

# A page failing this many fetches in a row is tried again only once its revisit time has come,
# and only while a feed, sitemap or start page still lists it.
MAX_PAGE_FAILURES = 3
# Sitemap indexes nest; this many child sitemaps are read per crawl at most.
MAX_CHILD_SITEMAPS = 50
# State is written in groups this large while pages are fetched.
_RECORD_BATCH = 25

Enqueue = Callable[[Iterable[RawPage], Callable[[list[RawPage]], None]], object]
Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass
class CrawlReport:
    """How one crawl of a source went: counts by outcome, and whether it failed."""

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    entry_points: int = 0
    entry_failures: list[str] = field(default_factory=list)
    error: str | None = None
    paused: bool = False

    @property
    def enqueued(self) -> int:
        """Pages handed to the ingest queue."""
        return self.counts["enqueued"]

    @property
    def failed(self) -> bool:
        """A crawl fails when it raised, or when none of its feeds, sitemaps and start URLs could
        be read."""
        return self.error is not None or (
            self.entry_points > 0 and len(self.entry_failures) == self.entry_points
        )


@dataclass(frozen=True, slots=True)
class Crawler:
    """What a crawl needs from the outside world: an HTTP fetcher, politeness, a store, a queue."""

    fetcher: Fetcher
    pacer: HostPacer
    robots: Robots
    transaction: Transaction
    enqueue: Enqueue
    pause_after_failures: int


def to_raw_page(fetched: Fetched, *, source: str) -> RawPage:
    """The RawPage of a fetched body: text if it is UTF-8, else base64 for the worker to decode
    by the response's charset."""
    try:
        content, encoding = fetched.body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(fetched.body).decode("ascii"), "base64"
    content_type = fetched.media_type
    if content_type and fetched.charset:
        content_type = f"{content_type}; charset={fetched.charset}"
    return RawPage(
        content=content,
        content_encoding=encoding,
        content_type=content_type[:200] if content_type else None,
        url=fetched.final_url,
        source=source,
        fetched_at=fetched.fetched_at,
        id=f"crawl:{uuid.uuid4().hex}",
        original_size=fetched.original_size,
    )


def crawl_source(
    *,
    crawler: Crawler,
    source: Source,
    host_interval: float,
    on_event: Callable[[str, str], None] | None = None,
) -> CrawlReport:
    """Crawl `source` once; `on_event(outcome, url)` hears of every URL as it is settled."""
    report = CrawlReport(source=source.name, entry_points=source.entry_points())
    run = _Run(
        crawler=crawler,
        source=source,
        report=report,
        on_event=on_event,
        interval=max(host_interval, source.host_interval or 0.0),
    )
    with crawler.transaction() as session:
        state.start_crawl(session=session, name=source.name, at=datetime.now(UTC))
    try:
        links = run.read_entry_points()
        crawler.enqueue(run.fetch_pages(run.choose_pages(links)), run.enqueued)
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        run.flush()
        error = report.error or ("; ".join(report.entry_failures)[:2000] if report.failed else None)
        with crawler.transaction() as session:
            ended = state.finish_crawl(
                session=session,
                name=source.name,
                at=datetime.now(UTC),
                failed=report.failed,
                enqueued=report.enqueued,
                error=error,
                pause_after=crawler.pause_after_failures,
            )
        report.paused = ended.paused
    return report


@dataclass
class _Run:
    crawler: Crawler
    source: Source
    report: CrawlReport
    on_event: Callable[[str, str], None] | None
    interval: float
    records: list[state.UrlRecord] = field(default_factory=list)
    in_flight: dict[str, tuple[state.UrlRecord, str]] = field(default_factory=dict)

    def pace_plain(self, url: str) -> None:
        self.crawler.pacer.wait_turn(url, self.interval)

    def pace(self, url: str) -> None:
        delay = self.crawler.robots.crawl_delay(url, pace=self.pace_plain)
        self.crawler.pacer.wait_turn(url, max(self.interval, delay))

    def objection(self, url: str) -> str | None:
        if self.crawler.robots.allowed(url, pace=self.pace_plain):
            return None
        return self.crawler.robots.refusal(url)

    def read_entry_points(self) -> list[str]:
        links: list[str] = []
        entries = [(url, "feed") for url in self.source.feeds]
        entries += [(url, "sitemap") for url in self.source.sitemaps]
        entries += [(url, "start") for url in self.source.start_urls]
        with self.crawler.transaction() as session:
            known = state.get_url_states(
                session=session, source=self.source.name, urls=[url for url, _ in entries]
            )
        children: list[str] = []
        for url, kind in entries:
            fetched = self._fetch(url, kind, known.get(url), FEED_TYPES)
            if fetched is None or fetched.outcome not in (
                FetchOutcome.OK,
                FetchOutcome.TOO_LARGE,
                FetchOutcome.NOT_MODIFIED,
            ):
                reason = fetched.error if fetched else self.crawler.robots.refusal(url)
                self.report.entry_failures.append(f"{url}: {reason}")
                continue
            if not fetched.has_body:
                continue
            if kind == "feed":
                links += feed_links(fetched.body, base_url=fetched.final_url)
            elif kind == "sitemap":
                pages, nested = sitemap_links(fetched.body, base_url=fetched.final_url)
                links += pages
                children += nested
            else:
                links += page_links(
                    fetched.body,
                    base_url=fetched.final_url,
                    content_type=fetched.content_type,
                    follow=self.source.follow,
                )
        for url in children[:MAX_CHILD_SITEMAPS]:
            fetched = self._fetch(url, "sitemap", None, FEED_TYPES)
            if fetched is not None and fetched.has_body:
                links += sitemap_links(fetched.body, base_url=fetched.final_url)[0]
        self.flush()
        # A section front linking to itself stays a source of links, never a page to store.
        entry_urls = {url for url, _ in entries} | set(children)
        links = [url for url in dict.fromkeys(links) if url not in entry_urls]
        links = links[: self.source.max_pages * 10]
        with self.crawler.transaction() as session:
            state.add_discovered(session=session, source=self.source.name, urls=links, kind="page")
        return links

    def choose_pages(self, links: list[str]) -> list[tuple[str, state.UrlState | None]]:
        now = datetime.now(UTC)
        with self.crawler.transaction() as session:
            known = state.get_url_states(session=session, source=self.source.name, urls=links)
            left_over = state.list_retryable(
                session=session,
                source=self.source.name,
                max_failures=MAX_PAGE_FAILURES,
                limit=self.source.max_pages,
            )
        fresh: list[tuple[str, state.UrlState | None]] = []
        due: list[tuple[str, state.UrlState | None]] = []
        for url in links:
            known_state = known.get(url)
            if known_state is None or known_state.last_outcome == state.PENDING:
                fresh.append((url, known_state))
            elif 0 < known_state.consecutive_failures < MAX_PAGE_FAILURES or (
                known_state.last_fetched_at is not None
                and now - known_state.last_fetched_at >= self.source.revisit
            ):
                due.append((url, known_state))
        if recent := len(links) - len(fresh) - len(due):
            self.report.counts["recent"] += recent
        listed = set(links)
        retries = [(item.url, item) for item in left_over if item.url not in listed]
        return (fresh + retries + due)[: self.source.max_pages]

    def fetch_pages(self, pages: list[tuple[str, state.UrlState | None]]) -> Iterator[RawPage]:
        for url, known in pages:
            fetched = self._fetch(url, "page", known, PAGE_TYPES, record=False)
            if fetched is None:
                continue
            if not fetched.has_body:
                self._settle(self._record(url, "page", fetched))
                continue
            digest = hashlib.sha256(fetched.body).digest()
            if known is not None and known.content_hash == digest and not fetched.original_size:
                self._settle(self._record(url, "page", fetched, outcome="unchanged"))
                continue
            page = to_raw_page(fetched, source=self.source.name)
            record = self._record(url, "page", fetched, outcome="enqueued", content_hash=digest)
            self.in_flight[page.id or ""] = (record, fetched.outcome.value)
            yield page

    def enqueued(self, batch: list[RawPage]) -> None:
        # Called once the broker holds the batch: only then is a page's state "enqueued", so a
        # crawl that dies before fetches those pages again.
        for page in batch:
            record, outcome = self.in_flight.pop(page.id or "")
            self._settle(record)
            if outcome == FetchOutcome.TOO_LARGE:
                self.report.counts[outcome] += 1

    def flush(self) -> None:
        if self.records:
            with self.crawler.transaction() as session:
                state.record_fetches(session=session, source=self.source.name, records=self.records)
            self.records = []

    def _fetch(
        self,
        url: str,
        kind: str,
        known: state.UrlState | None,
        accept: frozenset[str],
        *,
        record: bool = True,
    ) -> Fetched | None:
        record_metrics = recorder()
        if not self.crawler.robots.allowed(url, pace=self.pace_plain):
            if record_metrics is not None:
                record_metrics.count_fetch(
                    source=self.source.name, outcome="disallowed", status=None
                )
            self._settle(
                state.UrlRecord(
                    url=url,
                    kind=kind,
                    outcome="disallowed",
                    fetched_at=datetime.now(UTC),
                    failed=False,
                    error=self.crawler.robots.refusal(url),
                )
            )
            return None
        fetched = self.crawler.fetcher.fetch(
            url,
            accept=accept,
            etag=known.etag if known else None,
            last_modified=known.last_modified if known else None,
            pace=self.pace,
            permit=self.objection,
        )
        if record_metrics is not None:
            record_metrics.count_fetch(
                source=self.source.name, outcome=fetched.outcome.value, status=fetched.status
            )
        if record:
            self._settle(self._record(url, kind, fetched))
        return fetched

    def _record(
        self,
        url: str,
        kind: str,
        fetched: Fetched,
        *,
        outcome: str | None = None,
        content_hash: bytes | None = None,
    ) -> state.UrlRecord:
        return state.UrlRecord(
            url=url,
            kind=kind,
            outcome=outcome or fetched.outcome.value,
            fetched_at=fetched.fetched_at,
            failed=fetched.outcome in (FetchOutcome.FAILED, FetchOutcome.HTTP_ERROR),
            status=fetched.status,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            content_hash=content_hash,
            enqueued=outcome == "enqueued",
            error=fetched.error,
        )

    def _settle(self, record: state.UrlRecord) -> None:
        self.report.counts[record.outcome] += 1
        self.records.append(record)
        if self.on_event is not None:
            self.on_event(record.outcome, record.url)
        if len(self.records) >= _RECORD_BATCH:
            self.flush()
