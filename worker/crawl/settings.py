"""Crawl settings, from `NEWSINGEST_*` variables like the rest of the configuration."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# A RawPage carries at most 8 MiB of characters; base64 turns 6 MiB of bytes into 8 MiB.
LARGEST_RESPONSE_BYTES = 6 * 1024 * 1024


class CrawlSettings(BaseSettings):
    """What the crawler reads from the environment; every field is `NEWSINGEST_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSINGEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    sources: Path | None = Field(
        default=None, description="TOML file listing the crawl sources (see examples/sources.toml)."
    )
    user_agent: str = Field(
        default="newsingest/0.1 (+https://github.com/newsingest/newsingest)",
        min_length=1,
        max_length=300,
        description="User-Agent sent with every request; its first word is matched in robots.txt.",
    )
    host_interval: float = Field(
        default=2.0,
        ge=0.0,
        description="Least time in seconds between two requests to one host, across all workers; "
        "a robots.txt Crawl-delay or a source's host_interval can only make it longer.",
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="Connect timeout, seconds.")
    read_timeout: float = Field(
        default=20.0, gt=0, description="Timeout between two received chunks, seconds."
    )
    request_deadline: float = Field(
        default=60.0,
        gt=0,
        description="Longest a request may take from connecting to its last body byte, seconds: "
        "a server that drips its headers or body is cut off there.",
    )
    crawl_time_limit: int = Field(
        default=1800,
        gt=0,
        description="Longest one `crawl.source` task may run, seconds; it is stopped then (and "
        "killed a minute later), so a stalled crawl never holds a worker process for good.",
    )
    max_response_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=LARGEST_RESPONSE_BYTES,
        description="Bytes read from one response; a longer page is cut there and recorded as "
        "too large.",
    )
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed per URL.")
    fetch_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a URL after a connect error, 429 or 5xx."
    )
    retry_backoff: float = Field(
        default=1.0, ge=0.0, description="First retry delay in seconds; it doubles each retry."
    )
    max_retry_after: float = Field(
        default=120.0,
        ge=0.0,
        description="Longest Retry-After honoured, seconds; a server asking for more is given up "
        "on for this crawl.",
    )
    allow_private_addresses: bool = Field(
        default=False,
        description="Allow fetching private, loopback and link-local addresses (tests, intranets). "
        "Off: such URLs, and redirects to them, are refused.",
    )
    pause_after_failures: int = Field(
        default=5, ge=1, description="Crawls failing in a row before a source is paused."
    )
    robots_cache_seconds: int = Field(
        default=3600, ge=0, description="How long a host's robots.txt is trusted, seconds."
    )
    crawl_key_prefix: str = Field(
        default="newsingest:crawl",
        min_length=1,
        max_length=100,
        description="Prefix of the crawler's Redis keys (host slots, robots.txt, locks).",
    )
    crawl_tick: float = Field(
        default=60.0, gt=0, description="How often beat looks for sources due a crawl, seconds."
    )


@lru_cache(maxsize=1)
def get_crawl_settings() -> CrawlSettings:
    """The process's crawl settings, read once from the environment."""
    return CrawlSettings()
