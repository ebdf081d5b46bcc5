"""Celery tasks of the crawler: `crawl.dispatch` (run by beat) sends one `crawl.source` per due
source; `crawl.source` crawls one source."""

from __future__ import annotations

from worker.app import app
from worker.crawl.service import crawl_named, dispatch_due
from worker.crawl.settings import get_crawl_settings

# A crawl that outlives its limit is stopped (SoftTimeLimitExceeded, recorded as the crawl's
# error) and, should it not stop, its pool process killed a minute later: a stalled crawl never
# holds a worker process for good, whatever the fetcher's own deadlines miss.
_LIMIT = get_crawl_settings().crawl_time_limit


@app.task(name="crawl.source", soft_time_limit=_LIMIT, time_limit=_LIMIT + 60)
def crawl_source_task(name: str) -> dict[str, int]:
    """Crawl the source called `name` once; returns its counts by outcome."""
    report = crawl_named(name=name)
    return {} if report is None else dict(report.counts)


@app.task(name="crawl.dispatch")
def dispatch_task() -> list[str]:
    """Send a `crawl.source` task for every source due a crawl; returns their names."""
    return dispatch_due(send=crawl_source_task.delay)
