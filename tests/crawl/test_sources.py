"""Sources as data: the TOML file, intervals, and the errors a user sees for a bad file."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from worker.crawl.sources import find_source, load_sources, parse_interval, parse_sources
from worker.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sources.toml"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        (2.5, 2.5),
        ("45s", 45),
        ("15m", 900),
        ("1h 30m", 5400),
        ("1d", 86400),
        (" 2H ", 7200),
    ],
)
def test_intervals_read_as_durations(value: object, seconds: float) -> None:
    assert parse_interval(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "15", "m", "15 minutes", "1h x", True, None, "9" * 50])
def test_unreadable_intervals_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_interval(value)


def test_the_example_file_parses_into_its_sources() -> None:
    sources = load_sources(EXAMPLE)
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["source"]
    assert [source.name for source in sources] == [table["name"] for table in raw]
    bbc = find_source(sources, "bbc-world")
    assert bbc.interval == timedelta(minutes=15)
    assert bbc.feeds == tuple(raw[0]["feeds"])
    assert bbc.enabled


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[[source]]\nname = "a"\n', "lists no feeds"),
        ('[[source]]\nname = "a"\nfeeds = ["file:///etc/passwd"]\n', "http"),
        ('[[source]]\nname = "a b"\nfeeds = ["https://x.org/f"]\n', "name"),
        ('[[source]]\nname = "a"\nfeeds = ["https://x.org/f"]\ninterval = "0s"\n', "second"),
        ('[[source]]\nname = "a"\nfeeds = ["https://x.org/f"]\nfeed = ["x"]\n', "feed"),
        ('[[source]]\nname = "a"\nfeeds = ["https://x.org/f"]\n' * 2, "unique"),
        ("[sources]\n", "unknown top-level"),
        ("[[source]\n", "TOML"),
    ],
)
def test_a_bad_sources_file_says_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_sources(text)


def test_a_missing_file_or_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEWSINGEST_SOURCES"):
        load_sources(None)
    with pytest.raises(ConfigError, match="cannot read"):
        load_sources(tmp_path / "absent.toml")


def test_an_unknown_source_name_lists_the_known_ones() -> None:
    sources = parse_sources('[[source]]\nname = "a"\nfeeds = ["https://x.org/f"]\n')
    with pytest.raises(ConfigError, match="known: a"):
        find_source(sources, "b")
