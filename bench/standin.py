"""Price the cleaners: `newsingest` with stand-ins for them, for `bench/e2e.py --standin-cleaner`.

The end-to-end figures say what each stage costs, but not what the whole would reach without one:
the stages share two cores with PostgreSQL and Redis, and a cheaper stage shifts the wait elsewhere.
Run through this module, a worker (or the in-process ingest) replaces the two cleaners with the
cheapest code that still gives each of bench/e2e.py's pages a headline, a date and a body, and
keeps everything else real: decoding, dedupe, classification, the store, Celery, Redis, PostgreSQL.

The stand-ins read only the pages bench/e2e.py builds (the seed-style dumps' "Page last updated"
line, the HTML copies' JSON-LD marker); any other page is a rejection. They measure, they do not
clean: the HTML one is lexbor's parse and its own text of the body, no page chrome removed.

    python bench/standin.py worker --concurrency=2 ...    # `newsingest worker`, with stand-ins
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import worker.pipeline
from worker.pipeline.types import CleanPage, DecodedPage, PublishedAt, Rejection

_DATELINE = re.compile(r"Page last updated at (\d\d:\d\d) GMT, \w+, (\d+ \w+ \d{4})")
_MARKER = re.compile(r'"headline": "([^"]+)", "datePublished": "([^"]+)"')
_MIN_LINE_CHARS = 80


def standin_text(page: DecodedPage) -> CleanPage | Rejection:
    """A bench/e2e.py text dump: its dateline, the block after it, the blocks before the footer."""
    found = _DATELINE.search(page.text)
    if found is None:
        return Rejection("no_body", "the stand-in reads only bench/e2e.py's text dumps")
    blocks = page.text[found.end() :].split("\n\n")
    end = next((i for i, b in enumerate(blocks) if b.startswith("Share this page")), len(blocks))
    at = datetime.strptime(f"{found[2]} {found[1]}", "%d %B %Y %H:%M").replace(tzinfo=UTC)
    return CleanPage(
        headline=blocks[1],
        published=PublishedAt(at, "minute", "text", 0),
        body=tuple(blocks[2:end]),
        kind="text",
        language="en",
    )


def standin_html(page: DecodedPage) -> CleanPage | Rejection:
    """A bench/e2e.py HTML page: its JSON-LD marker, and the long lines of lexbor's body text."""
    found = _MARKER.search(page.text)
    if found is None:
        return Rejection("no_body", "the stand-in reads only bench/e2e.py's HTML pages")
    tree = LexborHTMLParser(page.utf8 if page.utf8 is not None else page.text)
    tree.strip_tags(["script", "style", "noscript"])
    text = tree.body.text(separator="\n") if tree.body is not None else ""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    body = tuple(line for line in lines if len(line) >= _MIN_LINE_CHARS)
    if not body:
        return Rejection("no_body", "no line of the stand-in's body text is long enough")
    return CleanPage(
        headline=found[1],
        published=PublishedAt(datetime.fromisoformat(found[2]), "minute", "jsonld", 0),
        body=body,
        kind="html",
        language="en",
    )


_REAL = (worker.pipeline.clean_text, worker.pipeline.clean_html)


def install() -> None:
    """Make this process's pipeline clean with the stand-ins (`clean` looks its cleaners up)."""
    worker.pipeline.clean_text = standin_text  # type: ignore[attr-defined]
    worker.pipeline.clean_html = standin_html  # type: ignore[attr-defined]


def uninstall() -> None:
    """Give this process's pipeline its own cleaners back."""
    worker.pipeline.clean_text, worker.pipeline.clean_html = _REAL  # type: ignore[attr-defined]


if __name__ == "__main__":
    install()
    from worker.cli import main

    sys.argv[0] = "newsingest"
    main()
