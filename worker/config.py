"""All configuration, from `NEWSINGEST_*` environment variables (or a `.env` file)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """newsingest's settings; every field reads `NEWSINGEST_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSINGEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL, e.g. postgresql://user:pass@host:5432/newsingest. Unset: an "
        "embedded PostgreSQL is started in the data directory.",
    )
    broker_url: SecretStr | None = Field(
        default=None,
        description="Celery broker URL, e.g. redis://localhost:6379/0. Needed by `enqueue` and "
        "`worker`; `ingest` runs in-process without one.",
    )
    reader_database_url: SecretStr | None = Field(
        default=None,
        description="The login `newsingest serve` reads with, best a member of the read-only "
        "role newsingest_reader (README: Status page). Unset: NEWSINGEST_DATABASE_URL.",
    )
    queue: str = Field(default="ingest", description="Name of the queue batches travel on.")

    @property
    def crawl_queue(self) -> str:
        """The queue crawl tasks travel on, beside the ingest queue."""
        return f"{self.queue}.crawl"

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("newsingest")),
        description="Where the embedded PostgreSQL keeps its files.",
    )
    # bench/e2e.py, text dumps, 2 workers: 500 a batch ran ~8% faster than 100 (less Celery and
    # transaction overhead per page) at 197 MB per worker; large pages are capped by bytes instead.
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Pages per queued batch.")
    max_page_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest dump accepted, in bytes."
    )
    # A batch of 500 text dumps is ~2 MB and of 20 HTML pages ~4 MB; a claim inflates to at most
    # 64 MiB anyway (worker/packing.py). A message past either limit is refused unread, and kept
    # as a rejection, before the worker decodes it or hands it to a pool process.
    max_message_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        le=64 * 1024 * 1024,
        description="Largest queue message or claim accepted, in bytes once inflated.",
    )
    max_message_pages: int = Field(
        default=10_000, ge=1, description="Most pages one queue message or claim may hold."
    )
    story_window_hours: float = Field(
        default=7 * 24,
        gt=0,
        description="An article with the headline of one published this many hours before or "
        "after it, and a similar body, is a revision of the same story; one with another "
        "headline and a near-identical body within it is a near-duplicate (undated articles "
        "count from when they were first seen).",
    )
    story_similarity: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="How alike two bodies must be to be one story: the share of the shorter "
        "body's three-word shingles found in the other. After a change, run "
        "`newsingest reprocess --stories`.",
    )
    health_baseline_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description="Days of each source's own past its last 24 hours are compared with to "
        "flag drift (`newsingest sources --health`).",
    )
    health_check_seconds: float = Field(
        default=3600,
        gt=0,
        description="How often beat has a worker check source health; a flagged source is "
        "logged as a `source_drift` warning once per UTC day.",
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=1,
        description="Seconds before Redis hands a batch whose worker vanished to another worker.",
    )
    task_max_retries: int = Field(
        default=8, ge=0, description="Retries of a batch after a transient database error."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port where `newsingest worker` serves Prometheus metrics at /metrics. Unset: "
        "no metrics are kept and no port is opened.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the metrics port binds; 0.0.0.0 exposes it beyond this machine.",
    )
    metrics_max_sources: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Sources each worker process counts under their own name in the metrics "
        '(the crawl sources first, then others as they come); further ones count as "other".',
    )
    log_level: str | None = Field(
        default=None,
        description="Log level: DEBUG, INFO, WARNING, ERROR. Unset: INFO for `worker` and `beat`, "
        "WARNING for the interactive commands.",
    )
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="Structured log rendering: json lines or console. Unset: console when "
        "stderr is a terminal, json otherwise (a file, a pipe, a log collector).",
    )

    @property
    def log_rendering(self) -> Literal["json", "console"]:
        """The log format in force: the one set, else by whether stderr is a terminal."""
        if self.log_format is not None:
            return self.log_format
        return "console" if sys.stderr.isatty() else "json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


def sqlalchemy_url(url: str) -> str:
    """A user's `postgresql://` URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
