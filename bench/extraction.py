"""Extraction benchmark: body F1 on HTML pages and text dumps, date accuracy, and speed.

Ours (decode + clean_html / clean_text) and trafilatura 2.x / htmldate run in the same process on
the same pages, so the figures compare. Data: ../shared/data (see its README.md).

    .venv/bin/python bench/extraction.py                  # everything (~3 minutes)
    .venv/bin/python bench/extraction.py --limit 40       # first 40 pages of each set
    .venv/bin/python bench/extraction.py --only html  # one section: html, text, dates, headlines
    .venv/bin/python bench/extraction.py --repeat 1       # time each HTML page once, not 3 times

Body scoring follows the data README: lower-cased tokens split on non-word characters, bag-of-tokens
precision/recall/F1 against the gold articleBody, averaged over pages (a rejected page scores 0).
Pages are split deterministically by a hash of their id into a tuning part and a held-out part
(one in three); both are printed, so tuning on one part can be checked on the other.

Speed is CPU milliseconds per HTML page in this one process (decode + clean_html for ours,
trafilatura.extract on the same decoded text), best of --repeat runs; wall time is printed beside
it.

Dates follow the data README: our day is the day in the zone the page stated (UTC instant plus
offset), else the UTC day; within a minute is scored where the gold has a time. Sets: htmldate's
800 hand-dated pages and Readability's real pages with a publishedTime (HTML: ours alone, htmldate
fast and extensive alone, and the shipped combination, which asks htmldate's fast mode only where
ours finds nothing; a page clean_html rejects is undated), the Reuters-21578 stories rendered as
wire text dumps (stamp, title, dateline and body; scored over the stories kept and over all), and
the scrapinghub pages beside their text dumps (do both get one timestamp, hence one dedupe key?).

Headlines: exact match (whitespace collapsed) and key match (`headline_key` on both sides) against
the title Readability's tests expect on their pages (HTML, trafilatura's metadata title beside
ours), and against the wire's own title on a fixed sample of Reuters-21578 stories rendered as
text dumps (title line, blank line, dateline and body; trafilatura reads the dump with each line
wrapped in `<p>`, as in the text-dump body section; then again without the blank line), on
the scrapinghub text dumps against the headline clean_html finds on the same pages, and (key match
only means anything there) on the pages of the sets without headline gold whose one <h1> the
<title> states with a site name or section around it. `--show N` prints N misses of the tuning
part.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import w3m  # noqa: E402
from splits import SPLITS  # noqa: E402
from splits import split as _split  # noqa: E402

from worker.pipeline.clean_html import clean_html  # noqa: E402
from worker.pipeline.decode import decode  # noqa: E402
from worker.pipeline.headline import headline_key  # noqa: E402
from worker.pipeline.types import CleanPage, DecodedPage, PublishedAt, Rejection  # noqa: E402

_TOKEN = re.compile(r"\w+")
# One Reuters story in this many is rendered as a dump for the headline section (~640 stories).
_REUTERS_SAMPLE_MODULUS = 20
# An <h1> taken as the silver headline has at least this many words (a site's name has fewer).
_MIN_SILVER_WORDS = 3


@dataclass
class Scores:
    """Per-page body precision/recall/F1, kept by split."""

    rows: dict[str, list[tuple[float, float, float]]] = field(
        default_factory=lambda: {"tune": [], "holdout": []}
    )

    def add(self, page_id: str, predicted: str, gold: str) -> None:
        """Score one page's extracted body against its gold body."""
        self.rows[_split(page_id)].append(_prf(predicted, gold))

    def mean(self, split: str | None = None) -> tuple[float, float, float]:
        """Give mean precision, recall and F1 over one split, or over all pages."""
        rows = self.rows["tune"] + self.rows["holdout"] if split is None else self.rows[split]
        if not rows:
            return (0.0, 0.0, 0.0)
        return tuple(statistics.fmean(row[i] for row in rows) for i in range(3))  # type: ignore[return-value]


def _tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def _prf(predicted: str, gold: str) -> tuple[float, float, float]:
    ours, theirs = _tokens(predicted), _tokens(gold)
    overlap = sum((ours & theirs).values())
    precision = overlap / max(1, sum(ours.values()))
    recall = overlap / max(1, sum(theirs.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _body_text(result: CleanPage | Rejection) -> str:
    return "\n".join(result.body) if isinstance(result, CleanPage) else ""


def _timed(function: Callable[[], object], repeat: int) -> tuple[object, float, float]:
    """Run a function `repeat` times; give its value and its best CPU and wall milliseconds."""
    # CPU time, best of a few runs, is the figure that holds on a machine shared with other work
    # (the other runs absorb interruptions); wall time is printed beside it.
    cpu_times, wall_times = [], []
    value: object = None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        value = function()
        cpu_times.append((time.process_time() - cpu) * 1000)
        wall_times.append((time.perf_counter() - wall) * 1000)
    return value, min(cpu_times), min(wall_times)


def bench_html(limit: int | None, figures: dict[str, object], *, repeat: int = 3) -> None:
    """Body F1 and speed on the scrapinghub HTML pages, ours against trafilatura."""
    import trafilatura

    folder = DATA / "extraction" / "scrapinghub"
    gold = json.loads((folder / "ground-truth.json").read_bytes())
    ids = sorted(gold)[:limit]
    runs = {"ours": Scores(), "trafilatura": Scores(), "trafilatura_precision": Scores()}
    times: dict[str, list[float]] = {"ours": [], "trafilatura": []}
    walls: dict[str, list[float]] = {"ours": [], "trafilatura": []}
    rejected: Counter[str] = Counter()
    for page_id in ids:
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        url, body = gold[page_id]["url"], gold[page_id]["articleBody"]

        def ours(raw: bytes = raw, url: str = url) -> CleanPage | Rejection:
            text = decode(raw, content_type="text/html")
            if isinstance(text, Rejection):
                return text
            return clean_html(DecodedPage(text=text, kind="html", url=url))

        result, elapsed, wall = _timed(ours, repeat)
        assert isinstance(result, CleanPage | Rejection)
        times["ours"].append(elapsed)
        walls["ours"].append(wall)
        if isinstance(result, Rejection):
            rejected[result.reason] += 1
        runs["ours"].add(page_id, _body_text(result), body)
        text = decode(raw, content_type="text/html")
        assert isinstance(text, str)

        def baseline(text: str = text) -> str:
            return trafilatura.extract(text) or ""

        extracted, elapsed, wall = _timed(baseline, repeat)
        times["trafilatura"].append(elapsed)
        walls["trafilatura"].append(wall)
        runs["trafilatura"].add(page_id, str(extracted), body)
        precise = trafilatura.extract(text, favor_precision=True) or ""
        runs["trafilatura_precision"].add(page_id, precise, body)
    print(f"\nHTML body, {len(ids)} scrapinghub pages (rejected by ours: {dict(rejected) or 0})")
    _print_scores(runs)
    header = f"{f'ms/page, best of {repeat}':<24} {'median':>8} {'mean':>8} {'wall med':>8}"
    print(f"{header} {'pages/s/core':>13}")
    for name, values in times.items():
        median, mean = statistics.median(values), statistics.fmean(values)
        wall_median = statistics.median(walls[name])
        # One core's rate over the whole set: pages divided by the CPU time they took.
        per_core = 1000 / mean
        print(f"{name:<24} {median:>8.2f} {mean:>8.2f} {wall_median:>8.2f} {per_core:>13.0f}")
        figures[f"html_ms_median_{name}"] = round(median, 3)
        figures[f"html_ms_mean_{name}"] = round(mean, 3)
        figures[f"html_ms_wall_median_{name}"] = round(wall_median, 3)
        figures[f"html_pages_per_s_per_core_{name}"] = round(per_core)
    for name, scores in runs.items():
        figures[f"html_f1_{name}"] = round(scores.mean()[2], 4)
        figures[f"html_f1_{name}_holdout"] = round(scores.mean("holdout")[2], 4)
    figures["html_pages"] = len(ids)


def bench_text(limit: int | None, figures: dict[str, object]) -> None:
    """Body F1 on the w3m text dumps of the same pages, ours against trafilatura on <p> lines."""
    try:
        from worker.pipeline.clean_text import clean_text
    except ImportError as error:
        print(f"\nText dumps: skipped, worker.pipeline.clean_text is not importable ({error})")
        return
    import trafilatura

    folder = DATA / "extraction" / "scrapinghub-textdumps"
    gold = json.loads((DATA / "extraction" / "scrapinghub" / "ground-truth.json").read_bytes())
    ids = sorted(gold)[:limit]
    runs = {"ours": Scores(), "trafilatura": Scores()}
    rejected: Counter[str] = Counter()
    cpu_ms: list[float] = []
    for page_id in ids:
        raw = (folder / f"{page_id}.txt").read_bytes()
        url, body = gold[page_id]["url"], gold[page_id]["articleBody"]

        def ours(raw: bytes = raw, url: str = url) -> CleanPage | Rejection:
            text = decode(raw, content_type="text/plain")
            if isinstance(text, Rejection):
                return text
            return clean_text(DecodedPage(text=text, kind="text", url=url))

        result, elapsed, _ = _timed(ours, 1)
        assert isinstance(result, CleanPage | Rejection)
        cpu_ms.append(elapsed)
        if isinstance(result, Rejection):
            rejected[result.reason] += 1
        runs["ours"].add(page_id, _body_text(result), body)
        lines = raw.decode("utf-8", errors="replace").splitlines()
        wrapped = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line.strip())
        baseline = trafilatura.extract(f"<html><body>{wrapped}</body></html>") or ""
        runs["trafilatura"].add(page_id, baseline, body)
    print(f"\nText-dump body, {len(ids)} pages (rejected by ours: {dict(rejected) or 0})")
    _print_scores(runs)
    mean = statistics.fmean(cpu_ms) if cpu_ms else 0.0
    per_core = 1000 / mean if mean else 0.0
    print(f"ours: {statistics.median(cpu_ms) if cpu_ms else 0:.2f} ms median, {mean:.2f} ms mean")
    print(f"ours: {per_core:.0f} pages/s per core (decode and clean)")
    figures["text_ms_mean_ours"] = round(mean, 3)
    figures["text_pages_per_s_per_core_ours"] = round(per_core)
    for name, scores in runs.items():
        figures[f"text_f1_{name}"] = round(scores.mean()[2], 4)
        figures[f"text_f1_{name}_holdout"] = round(scores.mean("holdout")[2], 4)


_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
# A few stamps are garbled ("31-MAR-1987 605:12:19.12"): their day is gold, their time is not.
_WIRE_STAMP = re.compile(r"\s*(\d{1,2})-([A-Z]{3})-(\d{4})(?:\s+(\d{2}):(\d{2}):)?")
_FETCHED = datetime(2026, 12, 7, tzinfo=UTC)


@dataclass(frozen=True)
class Gold:
    """A page's gold publication: its day where the page is, and its time where the gold has one."""

    day: str
    wall: datetime | None = None  # the gold's wall time, naive
    instant: datetime | None = None  # the gold's instant, where it names a zone


@dataclass
class DateTally:
    """Day and minute hits per method and split, over pages with a gold date."""

    pages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    timed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    day: dict[str, Counter[str]] = field(default_factory=dict)
    minute: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, page_id: str, gold: Gold, found: dict[str, PublishedAt | str | None]) -> None:
        """Score each method's finding (a PublishedAt, or a day as text) against the gold."""
        part = _split(page_id)
        self.pages[part] += 1
        self.timed[part] += gold.wall is not None
        for method, value in found.items():
            self.day.setdefault(method, Counter())[part] += _day_of(value) == gold.day
            if gold.wall is not None and isinstance(value, PublishedAt):
                self.minute.setdefault(method, Counter())[part] += _same_minute(value, gold)

    def report(self, name: str, figures: dict[str, object]) -> None:
        """Print the table and add its figures under the set's name."""
        pages, timed = self.pages, self.timed
        print(f"{'day accuracy':<22} {'all':>7} {'tune':>7} {'holdout':>7} {'gap':>7}", end="")
        print(f"   {'minute':>7} {'tune':>7} {'holdout':>7}" if sum(timed.values()) else "")
        for method, hits in self.day.items():
            rates = [_rate(hits, pages, part) for part in (None, *SPLITS)]
            line = f"{method:<22} " + " ".join(f"{rate:>7.4f}" for rate in rates)
            line += f" {rates[1] - rates[2]:>+7.4f}"
            if method in self.minute:
                minute = [_rate(self.minute[method], timed, part) for part in (None, *SPLITS)]
                line += "   " + " ".join(f"{rate:>7.4f}" for rate in minute)
                figures[f"date_{name}_minute_{method}_holdout"] = round(minute[2], 4)
            print(line)
            figures[f"date_{name}_day_{method}_tune"] = round(rates[1], 4)
            figures[f"date_{name}_day_{method}_holdout"] = round(rates[2], 4)
        if {"newsingest", "htmldate_fast"} <= set(self.day):
            gaps = [
                _rate(self.day[method], pages, "tune") - _rate(self.day[method], pages, "holdout")
                for method in ("newsingest", "htmldate_fast")
            ]
            _print_excess_gap("day", gaps[0], "htmldate_fast", gaps[1])
            figures[f"date_{name}_day_excess_gap"] = round(gaps[0] - gaps[1], 4)
        print(f"pages: {dict(pages)}; with a gold time: {dict(timed)}")
        figures[f"date_{name}_pages"] = sum(pages.values())


def _rate(hits: Counter[str], totals: dict[str, int], part: str | None) -> float:
    if part is None:
        return sum(hits.values()) / max(1, sum(totals.values()))
    return hits[part] / max(1, totals[part])


def _day_of(value: PublishedAt | str | None) -> str | None:
    """The day a finding names where the page is: the stated zone's day, else the UTC day."""
    if value is None or isinstance(value, str):
        return value or None
    return (value.at + timedelta(minutes=value.utc_offset_minutes or 0)).date().isoformat()


def _same_minute(value: PublishedAt, gold: Gold) -> bool:
    if value.precision != "minute":
        return False
    if gold.instant is not None and value.utc_offset_minutes is not None:
        return abs(value.at - gold.instant) < timedelta(minutes=1)
    # A zone-less gold or finding: compare the wall times.
    wall = (value.at + timedelta(minutes=value.utc_offset_minutes or 0)).replace(tzinfo=None)
    assert gold.wall is not None
    return abs(wall - gold.wall.replace(second=0, microsecond=0)) < timedelta(minutes=1)


def _html_findings(
    text: str, url: str | None, times: dict[str, list[float]], rejected: Counter[str]
) -> dict[str, PublishedAt | str | None]:
    """Ours alone, htmldate alone (fast and extensive) and the shipped combination, on one page."""
    from htmldate import find_date

    def ours() -> CleanPage | Rejection:
        return clean_html(DecodedPage(text=text, kind="html", url=url))

    result, cpu, _ = _timed(ours, 1)
    times["newsingest+htmldate"].append(cpu)
    combined = result.published if isinstance(result, CleanPage) else None
    if isinstance(result, Rejection):
        rejected[result.reason] += 1
    fast, cpu, _ = _timed(lambda: find_date(text, url=url, extensive_search=False), 1)
    times["htmldate_fast"].append(cpu)
    extensive = find_date(text, url=url, extensive_search=True)
    alone = None if combined is None or combined.source == "htmldate" else combined
    return {
        "newsingest": alone,
        "htmldate_fast": str(fast or ""),
        "htmldate_extensive": extensive,
        "newsingest+htmldate": combined,
    }


def _print_times(times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        if values:
            print(f"  {name}: {statistics.fmean(values):.2f} ms CPU a page (mean)")


def bench_dumps_eval(limit: int | None, figures: dict[str, object]) -> None:
    """Text dumps never tuned on: trafilatura-eval's pages rendered by w3m, scored by snippets.

    The text cleaner's rules were set on the Scrapinghub dumps. Here the 990 pages of
    trafilatura's evaluation (~20 languages) are rendered as a text-mode crawl stores them
    (`bench/w3m.py`, cached under the system's temporary folder) and scored as that
    evaluation scores: each `with` snippet found in the body is a true positive, each missed a
    false negative; each `without` snippet found is a false positive. Trafilatura reads the same
    dump with each line wrapped in <p>, as in the text-dump body section. Needs the w3m program.
    """
    import trafilatura

    from worker.pipeline.clean_text import clean_text

    if not w3m.available():
        print(
            "\nText dumps of trafilatura-eval: skipped, w3m is not installed (apt-get install w3m)"
        )
        return
    folder = DATA / "extraction" / "trafilatura-eval"
    cases = json.loads((folder / "evaldata.json").read_bytes())
    counts = {name: {part: Counter[str]() for part in SPLITS} for name in ("ours", "trafilatura")}
    rejected: Counter[str] = Counter()
    for url in sorted(cases)[:limit]:
        source = folder / cases[url]["file"]
        if not source.is_file():
            continue
        text = decode(gzip.decompress(source.read_bytes()), content_type="text/html")
        if isinstance(text, Rejection):
            continue
        dump = w3m.render(url, text)
        result = clean_text(DecodedPage(text=dump, kind="text", url=url))
        if isinstance(result, Rejection):
            rejected[result.reason] += 1
        wrapped = "".join(f"<p>{html.escape(line)}</p>" for line in dump.splitlines() if line)
        extracted = {
            "ours": _body_text(result),
            "trafilatura": trafilatura.extract(f"<html><body>{wrapped}</body></html>") or "",
        }
        part = _split(url)
        for name, body in extracted.items():
            found = " ".join(body.split())
            tally = counts[name][part]
            for snippet in cases[url]["with"]:
                tally["tp" if " ".join(snippet.split()) in found else "fn"] += 1
            for snippet in cases[url]["without"]:
                tally["fp" if " ".join(snippet.split()) in found else "tn"] += 1
    print(
        "\nText dumps of trafilatura-eval's pages, by snippets "
        f"(rejected by ours: {dict(rejected)})"
    )
    print(f"{'snippets':<24} {'P':>8} {'R':>8} {'F1':>8} {'F1 tune':>8} {'F1 hold':>8}")
    for name, parts in counts.items():
        every = parts["tune"] + parts["holdout"]
        row = [*_snippet_scores(every), _snippet_scores(parts["tune"])[2]]
        row.append(_snippet_scores(parts["holdout"])[2])
        print(f"{name:<24} " + " ".join(f"{value:>8.4f}" for value in row))
        figures[f"dumps_eval_f1_{name}_tune"] = round(row[3], 4)
        figures[f"dumps_eval_f1_{name}_holdout"] = round(row[4], 4)


def _snippet_scores(tally: Counter[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 from snippet counts (tp, fn, fp)."""
    precision = tally["tp"] / max(1, tally["tp"] + tally["fp"])
    recall = tally["tp"] / max(1, tally["tp"] + tally["fn"])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def bench_dates(limit: int | None, figures: dict[str, object]) -> None:
    """Date accuracy: HTML pages (htmldate's set, Readability's), wire dumps, page/dump pairs."""
    _dates_htmldate_set(limit, figures)
    _dates_readability_set(limit, figures)
    _dates_wire_dumps(limit, figures)
    _dates_page_and_dump(limit, figures)


def _dates_htmldate_set(limit: int | None, figures: dict[str, object]) -> None:
    """Day accuracy on htmldate's 800 hand-dated pages (gold: the day, no time)."""
    folder = DATA / "dates" / "htmldate"
    cases = json.loads((folder / "eval_default.json").read_bytes())
    tally, rejected = DateTally(), Counter[str]()
    times: dict[str, list[float]] = {"newsingest+htmldate": [], "htmldate_fast": []}
    for url in sorted(cases)[:limit]:
        raw = gzip.decompress((folder / cases[url]["html_gz"]).read_bytes())
        text = decode(raw, content_type="text/html")
        if isinstance(text, Rejection):
            rejected[f"decode:{text.reason}"] += 1
            continue
        tally.add(url, Gold(day=cases[url]["date"]), _html_findings(text, url, times, rejected))
    print(f"\nDates, htmldate's pages (rejected by clean_html, so undated: {dict(rejected)})")
    tally.report("htmldate_set", figures)
    _print_times(times)
    figures["date_htmldate_set_rejected"] = sum(rejected.values())


def _dates_readability_set(limit: int | None, figures: dict[str, object]) -> None:
    """Day and minute accuracy on Readability's real pages whose metadata gold has a time."""
    folder = DATA / "extraction" / "readability"
    tally, rejected = DateTally(), Counter[str]()
    times: dict[str, list[float]] = {"newsingest+htmldate": [], "htmldate_fast": []}
    entries = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    dated = [e for e in entries if e["publishedTime"] and not e["likely_synthetic_unit_test"]]
    for entry in dated[:limit]:
        raw = gzip.decompress((folder / "pages" / entry["name"] / "source.html.gz").read_bytes())
        text = decode(raw, content_type="text/html")
        if isinstance(text, Rejection):
            continue
        findings = _html_findings(text, None, times, rejected)
        tally.add(entry["name"], _iso_gold(entry["publishedTime"]), findings)
    print(f"\nDates, Readability's real pages with a publishedTime (rejected: {dict(rejected)})")
    tally.report("readability_set", figures)


def _iso_gold(value: str) -> Gold:
    moment = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    if len(value) <= 10:
        return Gold(day=moment.date().isoformat())
    wall = moment.replace(tzinfo=None)
    instant = moment.astimezone(UTC) if moment.tzinfo is not None else None
    return Gold(day=wall.date().isoformat(), wall=wall, instant=instant)


def wire_dump(story: dict[str, Any]) -> str:
    """A Reuters-21578 story as a text dump of a wire story: its stamp, title, dateline and body."""
    lead = f"{story['dateline']} " if story["dateline"] else ""
    return f"{story['date']}\n\n{story['title'] or ''}\n\n{lead}{story['body'] or ''}\n"


def _dates_wire_dumps(limit: int | None, figures: dict[str, object]) -> None:
    """Day and minute accuracy on the Reuters-21578 stories rendered as text dumps."""
    from worker.pipeline.clean_text import clean_text

    path = DATA / "regions" / "reuters21578-train.jsonl"
    stories = [json.loads(line) for line in path.read_text().splitlines()][:limit]
    kept, every, rejected = DateTally(), DateTally(), Counter[str]()
    cpu_ms: list[float] = []
    for story in stories:
        stamp = _WIRE_STAMP.match(story["date"])
        assert stamp is not None, story["date"]
        day, month, year, hour, minute = stamp.groups()
        wall = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour or 0))
        timed = wall.replace(minute=int(minute)) if minute is not None else None
        gold = Gold(day=wall.date().isoformat(), wall=timed)
        page = DecodedPage(text=wire_dump(story), kind="text", fetched_at=_FETCHED)
        result, cpu, _ = _timed(lambda page=page: clean_text(page), 1)
        cpu_ms.append(cpu)
        story_id = str(story["newid"])
        if isinstance(result, Rejection):
            rejected[result.reason] += 1
            every.add(story_id, gold, {"newsingest": None})
            continue
        assert isinstance(result, CleanPage)
        kept.add(story_id, gold, {"newsingest": result.published})
        every.add(story_id, gold, {"newsingest": result.published})
    print(
        f"\nDates, {len(stories)} Reuters-21578 stories as text dumps, fetched {_FETCHED:%Y-%m-%d}"
    )
    print(f"kept as articles (rejected: {dict(rejected)}):")
    kept.report("reuters_kept", figures)
    print("every story (a rejected one is undated):")
    every.report("reuters_all", figures)
    print(f"  clean_text: {statistics.fmean(cpu_ms):.2f} ms CPU a story (mean)")


def _dates_page_and_dump(limit: int | None, figures: dict[str, object]) -> None:
    """Whether a scrapinghub page and its w3m text dump get one timestamp, so one dedupe key."""
    from worker.pipeline.clean_text import clean_text

    gold = json.loads((DATA / "extraction" / "scrapinghub" / "ground-truth.json").read_bytes())
    outcomes: dict[str, Counter[str]] = {part: Counter() for part in SPLITS}
    for page_id in sorted(gold)[:limit]:
        url = gold[page_id]["url"]
        raw = gzip.decompress(
            (DATA / "extraction" / "scrapinghub" / "html" / f"{page_id}.html.gz").read_bytes()
        )
        dump = (DATA / "extraction" / "scrapinghub-textdumps" / f"{page_id}.txt").read_bytes()
        results = []
        for content, kind, clean in ((raw, "html", clean_html), (dump, "text", clean_text)):
            text = decode(content, content_type=f"text/{'html' if kind == 'html' else 'plain'}")
            assert isinstance(text, str)
            # No fetch time: the pages were fetched in 2018-2019, and relative dates read
            # against another time would disagree for that reason alone.
            page = DecodedPage(text=text, kind=kind, url=url)  # type: ignore[arg-type]
            result = clean(page)
            results.append(result.published if isinstance(result, CleanPage) else None)
        html_date, dump_date = results
        counts = outcomes[_split(page_id)]
        if html_date is None or dump_date is None:
            counts["one or both undated"] += 1
        elif html_date.at == dump_date.at:
            counts["same timestamp (same key)"] += 1
        elif _day_of(html_date) == _day_of(dump_date):
            counts["same local day, other timestamp"] += 1
        else:
            counts["other day"] += 1
    print("\nScrapinghub pages and their text dumps: do both get one timestamp?")
    for part in SPLITS:
        print(f"  {part}: {dict(outcomes[part])}")
        both = sum(outcomes[part].values()) - outcomes[part]["one or both undated"]
        same = outcomes[part]["same timestamp (same key)"] / max(1, both)
        figures[f"date_pairs_same_key_of_dated_{part}"] = round(same, 4)


@dataclass
class HeadlineHits:
    """Exact and key headline matches per split, and the tuning part's misses."""

    totals: Counter[str] = field(default_factory=Counter)
    exact: Counter[str] = field(default_factory=Counter)
    key: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, page_id: str, predicted: str | None, gold: str) -> None:
        """Count one page's headline against its gold title."""
        split = _split(page_id)
        predicted = " ".join((predicted or "").split())
        gold = " ".join(gold.split())
        self.totals[split] += 1
        self.exact[split] += predicted == gold
        self.key[split] += bool(predicted) and headline_key(predicted) == headline_key(gold)
        if split == "tune" and predicted != gold:
            self.misses.append((page_id, predicted, gold))

    def share(self, hits: Counter[str], split: str | None = None) -> float:
        """Give the share of pages matched, over one split or over all pages."""
        if split is None:
            return sum(hits.values()) / max(1, sum(self.totals.values()))
        return hits[split] / max(1, self.totals[split])


def bench_headlines(limit: int | None, figures: dict[str, object], show: int = 0) -> None:
    """Headline exact and key match: Readability's test pages (HTML) and Reuters wire dumps."""
    import trafilatura

    from worker.pipeline.clean_text import clean_text

    folder = DATA / "extraction" / "readability"
    names = [json.loads(line)["name"] for line in (folder / "index.jsonl").read_text().splitlines()]
    html_runs = {"ours": HeadlineHits(), "trafilatura": HeadlineHits()}
    cpu_ms: list[float] = []
    for name in names[:limit]:
        page = folder / "pages" / name
        gold = json.loads((page / "expected-metadata.json").read_bytes()).get("title") or ""
        text = decode(
            gzip.decompress((page / "source.html.gz").read_bytes()), content_type="text/html"
        )
        if isinstance(text, Rejection) or not gold:
            continue

        def ours(text: str = text) -> CleanPage | Rejection:
            return clean_html(DecodedPage(text=text, kind="html", url=None))

        result, elapsed, _ = _timed(ours, 1)
        cpu_ms.append(elapsed)
        html_runs["ours"].add(name, getattr(result, "headline", None), gold)
        html_runs["trafilatura"].add(name, trafilatura.extract_metadata(text).title, gold)
    print(f"\nHeadlines, {sum(html_runs['ours'].totals.values())} Readability test pages (HTML)")
    _print_headlines(html_runs, figures, "headline_html", show)
    print(f"ours: clean_html {statistics.fmean(cpu_ms):.2f} ms mean CPU per page")

    wire_runs = {"ours": HeadlineHits(), "trafilatura": HeadlineHits()}
    source = DATA / "regions" / "reuters21578-train.jsonl"
    stories = [json.loads(line) for line in source.read_text().splitlines()]
    sample = [
        story
        for story in stories
        if story["text_type"] == "NORM"
        and story["title"]
        and story["body"]
        and hashlib.sha256(str(story["newid"]).encode()).digest()[1] % _REUTERS_SAMPLE_MODULUS == 0
    ][:limit]
    cpu_ms = []
    for story in sample:
        dump = f"{story['title']}\n\n{story['dateline']} {story['body']}\n"
        story_id = str(story["newid"])

        def ours_text(dump: str = dump) -> CleanPage | Rejection:
            return clean_text(DecodedPage(text=dump, kind="text", url=None))

        result, elapsed, _ = _timed(ours_text, 1)
        cpu_ms.append(elapsed)
        wire_runs["ours"].add(story_id, getattr(result, "headline", None), story["title"])
        wrapped = "".join(f"<p>{html.escape(line)}</p>" for line in dump.splitlines() if line)
        document = trafilatura.bare_extraction(
            f"<html><body>{wrapped}</body></html>", with_metadata=True
        )
        title = getattr(document, "title", None) if document else None
        wire_runs["trafilatura"].add(story_id, title, story["title"])
    print(f"\nHeadlines, {len(sample)} Reuters-21578 stories as text dumps")
    _print_headlines(wire_runs, figures, "headline_wire", show)
    print(f"ours: clean_text {statistics.fmean(cpu_ms):.2f} ms mean CPU per dump")
    # The same stories with the title line right above the dateline, in one block, as a dump of
    # a page without spacing prints them.
    block_runs = {"ours": HeadlineHits()}
    for story in sample:
        dump = f"{story['title']}\n{story['dateline']} {story['body']}\n"
        result = clean_text(DecodedPage(text=dump, kind="text", url=None))
        block_runs["ours"].add(
            str(story["newid"]), getattr(result, "headline", None), story["title"]
        )
    print(f"\nHeadlines, the same {len(sample)} stories, title and story in one block")
    _print_headlines(block_runs, figures, "headline_wire_block", show)

    # The scrapinghub set states no headline: its dumps are scored against the headline
    # clean_html finds on the same page (a silver standard, as good as the HTML rules).
    dump_runs = {"ours": HeadlineHits()}
    folder = DATA / "extraction" / "scrapinghub"
    gold = json.loads((folder / "ground-truth.json").read_bytes())
    for page_id in sorted(gold)[:limit]:
        url = gold[page_id]["url"]
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        text = decode(raw, content_type="text/html")
        if isinstance(text, Rejection):
            continue
        page = clean_html(DecodedPage(text=text, kind="html", url=url))
        dump = decode(
            (DATA / "extraction" / "scrapinghub-textdumps" / f"{page_id}.txt").read_bytes(),
            content_type="text/plain",
        )
        if not isinstance(page, CleanPage) or isinstance(dump, Rejection):
            continue
        result = clean_text(DecodedPage(text=dump, kind="text", url=url))
        dump_runs["ours"].add(page_id, getattr(result, "headline", None), page.headline)
    count = sum(dump_runs["ours"].totals.values())
    print(f"\nHeadlines, {count} scrapinghub text dumps against clean_html's headline")
    _print_headlines(dump_runs, figures, "headline_dump", show)
    _headlines_own_element(limit, figures, show)


def _silver_pages(limit: int | None) -> list[tuple[str, str, Path]]:
    """The HTML pages of the sets without headline gold: (page id, URL, gzip file)."""
    pages = []
    evaluation = DATA / "extraction" / "trafilatura-eval"
    cases = json.loads((evaluation / "evaldata.json").read_bytes())
    pages += [(url, url, evaluation / cases[url]["file"]) for url in sorted(cases)[:limit]]
    dated = DATA / "dates" / "htmldate"
    cases = json.loads((dated / "eval_default.json").read_bytes())
    pages += [(url, url, dated / cases[url]["html_gz"]) for url in sorted(cases)[:limit]]
    folder = DATA / "extraction" / "scrapinghub"
    gold = json.loads((folder / "ground-truth.json").read_bytes())
    pages += [
        (page_id, gold[page_id]["url"], folder / "html" / f"{page_id}.html.gz")
        for page_id in sorted(gold)[:limit]
    ]
    return [page for page in pages if page[2].is_file()]


def _headlines_own_element(limit: int | None, figures: dict[str, object], show: int) -> None:
    """Key match against the page's one <h1> where its <title> states the same words with
    something around them (a site name, a section): trafilatura-eval, htmldate and scrapinghub
    pages, which carry no headline gold. A silver standard (an <h1> may be a kicker, and ours
    reads the <h1> too), so a check that changes do not lose headlines, not a target."""
    import trafilatura
    from selectolax.lexbor import LexborHTMLParser

    runs = {"ours": HeadlineHits(), "trafilatura": HeadlineHits()}
    seen: set[str] = set()
    for page_id, url, path in _silver_pages(limit):
        text = decode(gzip.decompress(path.read_bytes()), content_type="text/html")
        if isinstance(text, Rejection) or page_id in seen:
            continue
        seen.add(page_id)  # a page in two sets counts once
        tree = LexborHTMLParser(text)
        h1s = [" ".join(node.text().split()) for node in tree.css("h1")]
        title = tree.css_first("title")
        h1s = [h1 for h1 in h1s if h1]
        if len(h1s) != 1 or title is None:
            continue
        silver, stated = headline_key(h1s[0]), headline_key(title.text())
        if not silver or silver == stated or f" {silver} " not in f" {stated} ":
            continue
        # A logo's <h1> is the site's name, no headline: short, or the host's name.
        host = (urlsplit(url).hostname or "").replace(".", "").replace("-", "")
        if len(silver.split()) < _MIN_SILVER_WORDS or silver.replace(" ", "") in host:
            continue
        result = clean_html(DecodedPage(text=text, kind="html", url=url))
        runs["ours"].add(page_id, getattr(result, "headline", None), h1s[0])
        runs["trafilatura"].add(page_id, trafilatura.extract_metadata(text).title, h1s[0])
    count = sum(runs["ours"].totals.values())
    print(f"\nHeadlines, {count} pages whose one <h1> their <title> states with more around it")
    _print_headlines(runs, figures, "headline_h1", show)


def _print_headlines(
    runs: dict[str, HeadlineHits], figures: dict[str, object], prefix: str, show: int
) -> None:
    print(
        f"{'headline':<24} {'exact':>8} {'tune':>8} {'holdout':>8} {'key':>8} {'key tune':>8}"
        f" {'key hold':>8}"
    )
    for name, run in runs.items():
        row = [run.share(run.exact), run.share(run.exact, "tune"), run.share(run.exact, "holdout")]
        row += [run.share(run.key), run.share(run.key, "tune"), run.share(run.key, "holdout")]
        print(f"{name:<24} " + " ".join(f"{value:>8.4f}" for value in row))
        figures[f"{prefix}_exact_{name}_tune"] = round(row[1], 4)
        figures[f"{prefix}_exact_{name}_holdout"] = round(row[2], 4)
        figures[f"{prefix}_key_{name}_tune"] = round(row[4], 4)
        figures[f"{prefix}_key_{name}_holdout"] = round(row[5], 4)
    if "trafilatura" in runs:
        for measure in ("exact", "key"):
            gaps = [
                figures[f"{prefix}_{measure}_{name}_tune"]
                - figures[f"{prefix}_{measure}_{name}_holdout"]  # type: ignore[operator]
                for name in ("ours", "trafilatura")
            ]
            _print_excess_gap(f"headline {measure}", gaps[0], "trafilatura", gaps[1])
            figures[f"{prefix}_{measure}_excess_gap"] = round(gaps[0] - gaps[1], 4)
    for page_id, predicted, gold in runs["ours"].misses[:show]:
        print(f"  miss {page_id[:24]:<24} got {predicted[:90]!r}\n{'':>32}want {gold[:90]!r}")


def _print_excess_gap(measure: str, ours: float, reference: str, theirs: float) -> None:
    """Our tuning-reporting gap beside that of a library never tuned on either part.

    The parts are fixed by a hash of the file name, so they differ in difficulty by chance; a
    library that was never tuned on them shows how much of a gap that alone makes, and what is
    left over is what tuning on one part may have cost the other.
    """
    print(
        f"{measure} gap: ours {ours:+.4f}, {reference} {theirs:+.4f} on the same parts; "
        f"beyond {reference}'s {ours - theirs:+.4f}"
    )


def _print_scores(runs: dict[str, Scores]) -> None:
    print(f"{'body':<24} {'P':>8} {'R':>8} {'F1':>8} {'F1 tune':>8} {'F1 hold':>8}")
    for name, scores in runs.items():
        precision, recall, f1 = scores.mean()
        tune, held = scores.mean("tune")[2], scores.mean("holdout")[2]
        print(f"{name:<24} {precision:>8.4f} {recall:>8.4f} {f1:>8.4f} {tune:>8.4f} {held:>8.4f}")


def main() -> None:
    """Run the chosen sections and print a table per section and one JSON line of figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--limit", type=int, default=None, help="pages per set (default: all)")
    parser.add_argument(
        "--only",
        choices=("html", "text", "dumps-eval", "dates", "headlines"),
        action="append",
        help="run only this section",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per HTML page, best kept (default: 3)"
    )
    parser.add_argument(
        "--show", type=int, default=0, help="headline misses of the tuning part to print"
    )
    arguments = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"evaluation data not found at {DATA.resolve()}")
    sections = arguments.only or ["html", "text", "dumps-eval", "dates", "headlines"]
    figures: dict[str, object] = {}
    if "html" in sections:
        bench_html(arguments.limit, figures, repeat=arguments.repeat)
    if "text" in sections:
        bench_text(arguments.limit, figures)
    if "dumps-eval" in sections:
        bench_dumps_eval(arguments.limit, figures)
    if "dates" in sections:
        bench_dates(arguments.limit, figures)
    if "headlines" in sections:
        bench_headlines(arguments.limit, figures, arguments.show)
    print()
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
