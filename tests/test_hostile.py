"""Hostile and broken input: every stage returns a value or a typed rejection, within bounded time.

"Bounded" is a hang detector, not a speed target: each pathological input gets a generous budget
(seconds, for inputs of megabytes) that only catastrophic backtracking or quadratic blow-ups break.
"""

from __future__ import annotations

import base64
import logging
import random
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import EXAMPLES, query, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import RawPage
from worker.config import redact_url
from worker.pipeline import Processed, process, receive
from worker.pipeline.classify import classify
from worker.pipeline.clean_html import clean_html
from worker.pipeline.clean_text import clean_text
from worker.pipeline.dates import find_date, parse_date
from worker.pipeline.headline import headline_key
from worker.pipeline.sniff import sniff
from worker.pipeline.types import CleanPage, DecodedPage, PublishedAt, Rejection

FETCHED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LIMIT = 5 * 1024 * 1024


class Hung(Exception):
    """A stage ran past its hang budget."""


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Fail with Hung if the block runs longer than `seconds` (wall clock, via SIGALRM)."""

    def expire(*_: Any) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _process_bytes(content: bytes, content_type: str | None = None) -> Processed | Rejection:
    page = RawPage(
        content=base64.b64encode(content).decode(),
        content_encoding="base64",
        content_type=content_type,
        fetched_at=FETCHED,
    )
    return process(receive(page, receipt_key="fuzz"), max_page_bytes=LIMIT)


def _stages(text: str) -> list[object]:
    """Every stage on one text; none may raise."""
    results: list[object] = [
        sniff(text, content_type=None),
        headline_key(text),
        parse_date(text[:2000], fetched_at=FETCHED, source="text"),
        find_date(text.splitlines()[:500], fetched_at=FETCHED),
    ]
    for kind, cleaner in (("text", clean_text), ("html", clean_html)):
        cleaned = cleaner(DecodedPage(text=text, kind=kind, fetched_at=FETCHED))  # type: ignore[arg-type]
        assert isinstance(cleaned, CleanPage | Rejection)
        results.append(cleaned)
    verdict = classify(CleanPage(headline=text[:300], published=None, body=(text,), kind="text"))
    assert 0.0 <= verdict.confidence <= 1.0
    return results


# --- fuzzing ---------------------------------------------------------------------------------

fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(st.binary(max_size=4000), st.sampled_from([None, "text/html", "text/plain; charset=utf-8"]))
def test_random_bytes_never_raise(content: bytes, content_type: str | None) -> None:
    result = _process_bytes(content, content_type)
    assert isinstance(result, Processed | Rejection)
    if isinstance(result, Rejection):
        assert result.reason != "stage_error", result.detail


@fuzz
@given(st.text(max_size=4000))
def test_random_text_through_every_stage(text: str) -> None:
    _stages(text)


HTML_PIECES = st.sampled_from(
    [
        "<html>", "</html>", "<head>", "<title>", "</title>", "<body>", "<div>", "</div>",
        "<p>", "</p>", "<article>", "<h1>", "</h1>", "<script>", "</script>", "<!--", "-->",
        '<meta property="article:published_time" content="2019-11-20T15:04:00-05:00">',
        '<script type="application/ld+json">{"@type":"NewsArticle","headline":',
        '"datePublished": "2100-01-01"}', "<time datetime=", '"1900-01-01">', "&amp;", "&#0;",
        "<![CDATA[", "]]>", "\x00", "\u202e", "مرحبا بالعالم", "שלום", "🦀📰", "Kenya ", "Paris ",
        "Text of an article that goes on. ", "\n", "<<<", ">>>", "<p class='x", "<",
    ]
)  # fmt: skip


@fuzz
@given(st.lists(HTML_PIECES, max_size=200))
def test_broken_html_through_every_stage(pieces: list[str]) -> None:
    text = "".join(pieces)
    _stages(text)
    result = _process_bytes(text.encode("utf-8", "surrogatepass"), "text/html")
    assert isinstance(result, Processed | Rejection)
    if isinstance(result, Processed):
        published = result.clean.published
        assert published is None or published.at <= FETCHED.replace(year=FETCHED.year + 1)


@pytest.mark.parametrize(
    "text",
    [
        "Published 1 January 1799",  # archives date back to 1800, no further
        "2100-12-31T23:59:00Z",
        "31/12/2100",
        "0000-00-00",
        "9999-99-99 99:99",
        "Page last updated at 25:61 GMT, Wednesday, 32 December 2009",
        "Feb 30, 2020",
    ],
)
def test_implausible_dates_are_refused(text: str) -> None:
    parsed = parse_date(text, fetched_at=FETCHED, source="text")
    assert parsed is None or (
        isinstance(parsed, PublishedAt)
        and datetime(1800, 1, 1, tzinfo=UTC) <= parsed.at <= FETCHED.replace(day=28)
    )


# --- pathological inputs, with a hang budget -------------------------------------------------

PATHOLOGICAL: dict[str, Callable[[], str]] = {
    "a 4 MB single line": lambda: "a" * 4_000_000,
    "4 MB of short words": lambda: "ab " * 1_300_000,
    "a million angle brackets": lambda: "<" * 1_000_000,
    "a million digits": lambda: "1" * 1_000_000,
    "date-like runs": lambda: "2019-11-" * 120_000,
    "clock-like runs": lambda: "12:" * 300_000,
    "month names": lambda: "January " * 300_000,
    "200,000 short lines": lambda: "Short line\n" * 200_000,
    "capitalised places": lambda: "Paris London New York " * 100_000,
    "control characters": lambda: "".join(map(chr, range(32))) * 30_000,
    "right-to-left and emoji": lambda: "\u202eمرحبا 🦀📰 שלום " * 50_000,
    "nested divs": lambda: "<html><body>" + "<div>" * 50_000 + "x" + "</div>" * 50_000,
    "unclosed tags": lambda: "<html><body>" + "<p><b><i>text " * 100_000,
    "one huge attribute": lambda: '<html><body><a href="' + "x" * 2_000_000 + '">x</a>',
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_input_finishes(name: str) -> None:
    text = PATHOLOGICAL[name]()
    with budget(20):
        _stages(text)
        assert isinstance(_process_bytes(text.encode()), Processed | Rejection)


# Bytes that are not UTF-8 and declare nothing: the charset detector's worst cases.
UNDECLARED: dict[str, Callable[[], bytes]] = {
    "4 MB of one accented byte": lambda: b"\xe9" * 4_000_000,
    "4 MB of Latin-1 prose": lambda: ("Les élèves ont manifesté. " * 160_000).encode("latin-1"),
    "4 MB of Shift-JIS": lambda: ("東京都心では激しい雨が降り。" * 100_000).encode("cp932"),
    "4 MB of UTF-16 without a BOM": lambda: ("Council met. " * 160_000).encode("utf-16-le"),
    "4 MB of high bytes and letters": lambda: bytes(
        random.Random(1).choices([*range(0x80, 0x100), *b"abc \n"], k=4_000_000)
    ),
}


@pytest.mark.parametrize("name", list(UNDECLARED))
def test_undeclared_bytes_are_decoded_or_refused_in_time(name: str) -> None:
    raw = UNDECLARED[name]()
    for content_type in (None, "text/html", "text/plain"):
        with budget(20):
            assert isinstance(_process_bytes(raw, content_type), Processed | Rejection)


# --- a stage that crashes takes only its own page down ---------------------------------------


def test_a_page_that_crashes_a_stage_is_rejected_alone(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker import pipeline
    from worker.config import Settings
    from worker.ingest import ingest_batch
    from worker.store import Outcome, transaction

    real_classify = pipeline.classify

    def classify_with_a_bug(page: CleanPage, *, url: str | None = None) -> Any:
        if "Osaka" in page.headline:
            raise ZeroDivisionError("a bug that only this page reaches")
        return real_classify(page, url=url)

    monkeypatch.setattr(pipeline, "classify", classify_with_a_bug)
    pages = [
        receive(RawPage(content=path.read_text(encoding="utf-8")), receipt_key=path.name)
        for path in sorted(EXAMPLES.iterdir())
    ]
    with transaction() as session:
        outcome = ingest_batch(session=session, pages=pages, settings=Settings())
    assert sorted(item.outcome for item in outcome.items) == sorted(
        [Outcome.STORED, Outcome.DUPLICATE, Outcome.REJECTED]
    )
    rows = query(db, "SELECT reason, detail FROM raw_pages WHERE outcome = 'rejected'")
    assert rows == [("stage_error", "ZeroDivisionError: a bug that only this page reaches")]


# --- SQL metacharacters and secrets ----------------------------------------------------------

NASTY = "x'); DROP TABLE articles; -- \" \\ % _ $1 :name"


def test_sql_metacharacters_are_data(db: str, service_env: dict[str, str], tmp_path: Any) -> None:
    dump = tmp_path / "nasty.txt"
    body = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
    dump.write_text(
        body.replace("Kenya opens emergency shelters", f"Kenya {NASTY} opens shelters"),
        encoding="utf-8",
    )
    result = run_cli("ingest", str(dump), "--source", NASTY, env=service_env)
    assert result.returncode == 0, result.stderr
    assert query(db, "SELECT source FROM articles") == [(NASTY,)]
    assert NASTY in query(db, "SELECT headline FROM articles")[0][0]
    listed = run_cli("rejects", "--reason", NASTY, env=service_env)
    assert listed.returncode == 0
    assert run_cli("reprocess", "--source", NASTY, env=service_env).returncode == 0
    assert query(db, "SELECT count(*) FROM articles") == [(1,)]


def test_database_passwords_never_reach_the_logs(
    service_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    secret_url = "postgresql://ingest:hunter2-secret@127.0.0.1:1/newsingest"  # noqa: S105 - a fake
    assert redact_url(secret_url) == "postgresql://ingest:***@127.0.0.1:1/newsingest"
    env = service_env | {
        "NEWSINGEST_DATABASE_URL": secret_url,
        "NEWSINGEST_LOG_LEVEL": "DEBUG",
        "NEWSINGEST_BROKER_URL": "redis://:broker-secret@127.0.0.1:1/0",
    }
    for command in (["ingest", str(EXAMPLES)], ["stats"], ["enqueue", str(EXAMPLES)]):
        result = run_cli(*command, env=env)
        assert result.returncode == 3, (command, result.stderr)
        for secret in ("hunter2-secret", "broker-secret"):
            assert secret not in result.stdout + result.stderr, command
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("connecting to %s", redact_url(secret_url))
    assert "hunter2" not in caplog.text
