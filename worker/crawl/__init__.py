"""Scheduled crawls: sources as data, a safe and polite httpx fetcher, crawl state in PostgreSQL,
and fetched pages handed to the ingest queue as RawPages."""

from worker.crawl.crawl import Crawler, CrawlReport, crawl_source
from worker.crawl.fetch import Fetched, Fetcher, FetchOutcome, check_url, get_fetcher
from worker.crawl.settings import CrawlSettings, get_crawl_settings
from worker.crawl.sources import Source, load_sources, parse_sources

__all__ = [
    "CrawlReport",
    "CrawlSettings",
    "Crawler",
    "FetchOutcome",
    "Fetched",
    "Fetcher",
    "Source",
    "check_url",
    "crawl_source",
    "get_crawl_settings",
    "get_fetcher",
    "load_sources",
    "parse_sources",
]
