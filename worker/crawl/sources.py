"""Crawl sources as data: a TOML file of `[[source]]` tables, validated into `Source` values."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from worker.errors import ConfigError

_DURATION = re.compile(r"(\d{1,9})\s?([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: object) -> timedelta:
    """A crawl interval from seconds (a number) or a string such as "90s", "15m", "1h 30m", "1d"."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("an interval is a number of seconds or a string such as '15m'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("an interval is a number of seconds or a string such as '15m'")
    text = value.strip().lower()
    total, end = 0, 0
    for match in _DURATION.finditer(text):
        if text[end : match.start()].strip():
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        end = match.end()
    if not text or end == 0 or text[end:].strip():
        raise ValueError(f"cannot read {value!r} as an interval: use e.g. '90s', '15m', '1h 30m'")
    return timedelta(seconds=total)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("the interval must be at least one second")
    return value


Url = Annotated[str, Field(max_length=4096), AfterValidator(_http_url)]
Interval = Annotated[timedelta, BeforeValidator(parse_interval), AfterValidator(_at_least_a_second)]


class Source(BaseModel):
    """One site to crawl: where its links come from, how often, and within which limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    feeds: tuple[Url, ...] = Field(default=(), description="RSS or Atom feeds; entry links.")
    sitemaps: tuple[Url, ...] = Field(default=(), description="Sitemaps or sitemap indexes.")
    start_urls: tuple[Url, ...] = Field(
        default=(), description="Pages whose same-host links are followed (they are not stored)."
    )
    follow: tuple[str, ...] = Field(
        default=(),
        description="Path prefixes a link from a start URL must have to be followed; empty: any.",
    )
    interval: Interval = Field(default=timedelta(hours=1))
    revisit: Annotated[timedelta, BeforeValidator(parse_interval)] = Field(
        default=timedelta(hours=6),
        description="A page fetched before is fetched again (conditionally) once this old; 0: "
        "every crawl.",
    )
    max_pages: int = Field(default=200, ge=1, le=100_000, description="Pages fetched per crawl.")
    host_interval: float | None = Field(
        default=None, ge=0.0, description="Seconds between requests to a host, if above the global."
    )
    enabled: bool = True

    def entry_points(self) -> int:
        """How many feeds, sitemaps and start URLs the source lists."""
        return len(self.feeds) + len(self.sitemaps) + len(self.start_urls)


def parse_sources(text: str, *, origin: str = "sources") -> list[Source]:
    """The sources of a TOML document; raises ConfigError naming what is wrong and where."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from exc
    unknown = set(document) - {"source"}
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level keys {sorted(unknown)}; use [[source]]")
    tables = document.get("source", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{origin}: sources are [[source]] tables")
    sources: list[Source] = []
    for index, table in enumerate(tables, start=1):
        try:
            source = Source.model_validate(table)
        except ValidationError as exc:
            name = table.get("name", f"#{index}") if isinstance(table, dict) else f"#{index}"
            raise ConfigError(f"{origin}: source {name}: {exc}") from exc
        if source.entry_points() == 0:
            raise ConfigError(f"{origin}: source {source.name} lists no feeds, sitemaps or URLs")
        sources.append(source)
    names = [source.name for source in sources]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigError(f"{origin}: source names must be unique; repeated: {duplicated}")
    return sources


def load_sources(path: Path | None) -> list[Source]:
    """The sources listed in the TOML file at `path`; ConfigError when unset or unreadable."""
    if path is None:
        raise ConfigError("NEWSINGEST_SOURCES is not set: point it at a sources TOML file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the sources file {path}: {exc.strerror}") from exc
    return parse_sources(text, origin=str(path))


def find_source(sources: list[Source], name: str) -> Source:
    """The source called `name`; ConfigError listing the known names when there is none."""
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(source.name for source in sources) or "none"
    raise ConfigError(f"no source named {name!r} (known: {known})")
