"""Celery tasks of the crawler: `crawl.dispatch` (run by beat) sends one `crawl.source` per due
source; `crawl.source` crawls one source."""

from __future__ import annotations

from worker.app import app
from worker.crawl.service import crawl_named, dispatch_due


@app.task(name="crawl.source")
def crawl_source_task(name: str) -> dict[str, int]:
    """Crawl the source called `name` once; returns its counts by outcome."""
    report = crawl_named(name=name)
    return {} if report is None else dict(report.counts)


@app.task(name="crawl.dispatch")
def dispatch_task() -> list[str]:
    """Send a `crawl.source` task for every source due a crawl; returns their names."""
    return dispatch_due(send=crawl_source_task.delay)
