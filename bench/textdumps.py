"""Score `clean_text` on the Scrapinghub pages rendered as text dumps; print body P/R/F1 and speed.

    .venv/bin/python bench/textdumps.py [--baseline] [--worst N] [--headlines] [--dates] [--cpu]

Body scoring follows the shared data convention: lower-cased tokens split on non-word characters,
bag-of-tokens overlap with the gold articleBody, precision/recall/F1 averaged over pages (a page
`clean_text` rejects scores 0). `--baseline` also scores trafilatura on each dump with every line
wrapped in `<p>`. `--headlines` compares headlines with the page's own <h1>/<title>, and
`--dates` dates with the page's JSON-LD/meta publication date (proxies: the set has no gold
headline or date). `--cpu` prints CPU time per page (`time.process_time()`, median and mean, the
best of three runs) over the dumps and over 200 seed-style dumps from `bench/e2e.py`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.pipeline.clean_text import clean_text
from worker.pipeline.types import CleanPage, DecodedPage, Rejection

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "extraction"
DUMPS = DATA / "scrapinghub-textdumps"
GOLD = DATA / "scrapinghub" / "ground-truth.json"

_TOKEN_SPLIT = re.compile(r"\W+")


def tokens(text: str) -> list[str]:
    """Text -> its lower-cased tokens, split on non-word characters."""
    return [token for token in _TOKEN_SPLIT.split(text.lower()) if token]


def body_scores(extracted: str, gold: str) -> tuple[float, float, float]:
    """Extracted body and gold body -> (precision, recall, F1) of their bag-of-tokens overlap."""
    got, want = Counter(tokens(extracted)), Counter(tokens(gold))
    overlap = sum((got & want).values())
    if not got or not want or not overlap:
        return 0.0, 0.0, 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


class Page(NamedTuple):
    """One evaluation page: its id, the text dump, the gold body and the page's URL."""

    page_id: str
    text: str
    gold: str
    url: str | None


def load_pages() -> list[Page]:
    """Every dump that has a gold body, with its gold body and URL."""
    gold = json.loads(GOLD.read_text(encoding="utf-8"))
    return [
        Page(
            path.stem,
            path.read_text(encoding="utf-8"),
            gold[path.stem]["articleBody"],
            gold[path.stem].get("url"),
        )
        for path in sorted(DUMPS.glob("*.txt"))
        if path.stem in gold
    ]


def _clean(page: Page) -> CleanPage | Rejection:
    return clean_text(DecodedPage(text=page.text, kind="text", url=page.url))


def _clean_body(page: Page) -> str:
    cleaned = _clean(page)
    return "" if isinstance(cleaned, Rejection) else "\n".join(cleaned.body)


def _trafilatura_body(page: Page) -> str:
    import trafilatura

    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in page.text.splitlines())
    return trafilatura.extract(html + "</body></html>") or ""


def score(
    pages: Sequence[Page], extract: Callable[[Page], str]
) -> tuple[list[tuple[str, float, float, float]], float]:
    """Run one extractor over the pages -> per-page (id, P, R, F1) and seconds spent extracting."""
    rows = []
    spent = 0.0
    for page_id, text, gold, url in pages:
        began = time.perf_counter()
        body = extract(Page(page_id, text, gold, url))
        spent += time.perf_counter() - began
        rows.append((page_id, *body_scores(body, gold)))
    return rows, spent


def _report(name: str, rows: list[tuple[str, float, float, float]], spent: float) -> None:
    precision = statistics.fmean(row[1] for row in rows)
    recall = statistics.fmean(row[2] for row in rows)
    f1 = statistics.fmean(row[3] for row in rows)
    per_page = spent / len(rows) * 1e6
    print(
        f"{name:12} pages={len(rows)} P={precision:.3f} R={recall:.3f} F1={f1:.3f} "
        f"median F1={statistics.median(row[3] for row in rows):.3f} {per_page:,.0f} µs/page"
    )


def _headline_proxy(pages: Sequence[Page]) -> None:
    from selectolax.lexbor import LexborHTMLParser

    hits = 0
    for page in pages:
        html_path = DATA / "scrapinghub" / "html" / f"{page.page_id}.html.gz"
        raw = gzip.decompress(html_path.read_bytes())
        tree = LexborHTMLParser(raw.decode("utf-8", "replace"))
        references = [node.text(strip=True) for node in tree.css("h1, title")]
        cleaned = _clean(page)
        headline = "" if isinstance(cleaned, Rejection) else cleaned.headline
        best = max((body_scores(headline, ref)[2] for ref in references), default=0.0)
        hits += best >= 0.8
        if best < 0.8:
            print(f"  {page.page_id[:12]} got {headline[:70]!r} want {references[:2]!r}"[:220])
    print(f"headline matches <h1>/<title> (token F1 >= 0.8): {hits}/{len(pages)}")


_META_DATE = re.compile(
    r"(?:\"datePublished\"\s*:\s*\"|article:published_time\"\s+content=\"|"
    r"content=\"([^\"]{8,40})\"\s+property=\"article:published_time)([^\"]{8,40})"
)


def _dates_proxy(pages: Sequence[Page]) -> None:
    """Compare each dump's date with the one the page's HTML declares (JSON-LD or meta)."""
    from worker.pipeline.dates import parse_date

    declared = found = agree = 0
    for page in pages:
        html_path = DATA / "scrapinghub" / "html" / f"{page.page_id}.html.gz"
        html = gzip.decompress(html_path.read_bytes()).decode("utf-8", "replace")
        match = _META_DATE.search(html)
        reference = (
            parse_date(match[1] or match[2], fetched_at=None, source="meta") if match else None
        )
        if reference is None:
            continue
        declared += 1
        cleaned = _clean(page)
        if isinstance(cleaned, Rejection) or cleaned.published is None:
            continue
        found += 1
        # The page's own local day is what both sides print; compare calendar days.
        agree += abs((cleaned.published.at - reference.at).total_seconds()) < 86400
    print(
        f"dates: {declared} pages declare one in their HTML; the dump gave a date for {found}, "
        f"within a day of the declared one for {agree}"
    )


def _cpu_per_page(pages: Sequence[DecodedPage], runs: int = 3) -> tuple[float, float]:
    """CPU seconds per page of clean_text over the pages -> (median, mean) of the fastest run."""
    best: list[float] | None = None
    for _ in range(runs):
        spent = []
        for page in pages:
            began = time.process_time()
            clean_text(page)
            spent.append(time.process_time() - began)
        if best is None or sum(spent) < sum(best):
            best = spent
    assert best is not None
    return statistics.median(best), statistics.fmean(best)


def _cpu_report(pages: Sequence[Page]) -> None:
    import random
    from datetime import UTC, datetime

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from e2e import text_dumps

    fetched_at = datetime(2025, 6, 1, tzinfo=UTC)
    sets = {
        "dumps": [DecodedPage(text=page.text, kind="text", url=page.url) for page in pages],
        "e2e dumps": [
            DecodedPage(text=text, kind="text", fetched_at=fetched_at)
            for text in text_dumps(200, random.Random(1))
        ],
    }
    for name, decoded in sets.items():
        median, mean = _cpu_per_page(decoded)
        figures = f"median={median * 1e6:,.0f} µs mean={mean * 1e6:,.0f} µs"
        print(f"cpu {name:10} n={len(decoded)} {figures}")


def main() -> None:
    """Print body P/R/F1 for clean_text (and optionally trafilatura) over the text dumps."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", action="store_true", help="also score trafilatura")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages")
    parser.add_argument("--headlines", action="store_true", help="check headlines against <h1>")
    parser.add_argument("--dates", action="store_true", help="check dates against HTML metadata")
    parser.add_argument("--cpu", action="store_true", help="CPU time per page, best of 3 runs")
    args = parser.parse_args()
    if not DUMPS.is_dir() or not GOLD.is_file():
        sys.exit(f"evaluation data not found under {DATA.resolve()}")
    pages = load_pages()
    rows, spent = score(pages, _clean_body)
    _report("clean_text", rows, spent)
    if args.baseline:
        _report("trafilatura", *score(pages, _trafilatura_body))
    for page_id, precision, recall, f1 in sorted(rows, key=lambda row: row[3])[: args.worst]:
        print(f"  {page_id[:16]} P={precision:.2f} R={recall:.2f} F1={f1:.2f}")
    if args.headlines:
        _headline_proxy(pages)
    if args.dates:
        _dates_proxy(pages)
    if args.cpu:
        _cpu_report(pages)


if __name__ == "__main__":
    main()
