"""Consumer query benchmark: p50/p95 latency of the common questions over a million articles.

Builds a scratch database (migrated to head), loads synthetic articles made from the real
Reuters-21578 stories in ../shared/data (headlines and bodies, varied with extra words and a
paragraph of another story so that keys and texts differ; regions, sources and two years of
publication times drawn at random) with COPY, then times the SQL that `newsingest query` sends:

- region + 7-day range (newest 50 in a random region and week)
- newest 50
- search for a two-word phrase (ranked, top 50; within the newest window holding 50 matches)
- incremental pull of 1,000 rows after a random cursor
- newest 50 stories (one row per story)

The scratch database is dropped at the end unless --keep is given.

    .venv/bin/python bench/queries.py                       # 1,000,000 articles
    .venv/bin/python bench/queries.py --articles 100000     # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from scratch import scratch_database
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from worker.config import sqlalchemy_url
from worker.store.read import ArticleQuery, list_articles

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
REUTERS = DATA / "regions" / "reuters21578-train.jsonl"
REGIONS = [
    "Africa",
    "Americas",
    "Asia-Pacific",
    "Europe",
    "Middle East",
    "South Asia",
    "UK",
    "unknown",
]
SOURCES = [f"source-{n:02d}" for n in range(40)]
END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_MINUTES = 2 * 365 * 24 * 60
CHUNK = 100_000  # articles per COPY transaction
PHRASES = [
    "oil prices",
    "interest rates",
    "trade deficit",
    "central bank",
    "stock exchange",
    "crude oil",
    "money supply",
    "net profit",
    "foreign exchange",
    "wheat exports",
]
COLUMNS = (
    "id",
    "headline",
    "headline_key",
    "published_at",
    "published_precision",
    "published_source",
    "body",
    "body_hash",
    "story_id",
    "section_labels",
    "region",
    "region_confidence",
    "region_scores",
    "region_evidence",
    "url",
    "source",
    "content_type",
    "first_seen_at",
    "last_seen_at",
    "seen_count",
    "extractor_version",
    "classifier_version",
)
_WORD = re.compile(r"[A-Za-z]{4,20}")


def _stories() -> list[tuple[str, list[str]]]:
    stories = []
    with REUTERS.open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            title, body = (story.get("title") or "").strip(), (story.get("body") or "").strip()
            if title and body:
                paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s{3,}", body)]
                stories.append((title.title(), [p for p in paragraphs if p]))
    return stories


def _articles(n: int, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    stories = _stories()
    vocabulary = sorted({w.lower() for _, ps in stories[:3000] for w in _WORD.findall(ps[0])})
    keys: set[tuple[str, datetime]] = set()
    seen_at = END + timedelta(days=1)
    for article_id in range(1, n + 1):
        title, paragraphs = rng.choice(stories)
        _, other = rng.choice(stories)
        while True:
            headline = f"{title} {rng.choice(vocabulary).title()} {rng.choice(vocabulary)}"
            published = END - timedelta(minutes=rng.randrange(SPAN_MINUTES))
            if (headline.casefold(), published) not in keys:
                keys.add((headline.casefold(), published))
                break
        body = "\n\n".join([*paragraphs, other[0]])
        region = rng.choice(REGIONS)
        # One article in ten is a later revision of an earlier story.
        story_id = rng.randrange(1, article_id) if article_id > 10 and rng.random() < 0.1 else None
        yield (
            article_id,
            headline,
            headline.casefold(),
            published,
            "minute",
            "meta",
            body,
            hashlib.sha256(body.encode()).digest(),
            story_id or article_id,
            "[]",
            region,
            0.8,
            json.dumps({region: 4.0}),
            "[]",
            f"https://example.com/{article_id}",
            rng.choice(SOURCES),
            "html",
            seen_at,
            seen_at,
            1,
            "bench",
            "bench",
        )


def load(url: str, n: int, seed: int) -> None:
    """COPY `n` synthetic articles in, with the secondary indexes rebuilt afterwards."""
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = 'articles' AND i.schemaname = 'public' AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        rows = _articles(n, seed)
        for first in range(0, n, CHUNK):
            with (
                conn.transaction(),
                conn.cursor().copy(f"COPY articles ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                for _ in range(min(CHUNK, n - first)):
                    copy.write_row(next(rows))
            print(
                f"  loaded {first + min(CHUNK, n - first):,} ({time.perf_counter() - started:.0f}s)"
            )
        conn.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), %s)", (n,))
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in indexes:
            began = time.perf_counter()
            conn.execute(definition)
            print(f"  index {name}: {time.perf_counter() - began:.0f}s")
        conn.execute("VACUUM ANALYZE articles")
        print(f"load: {time.perf_counter() - started:.0f}s")


def _timed(engine: Any, make: Callable[[random.Random], ArticleQuery], runs: int) -> list[float]:
    """Milliseconds of list_articles (the CLI's call: SQL, transfer, rows as dicts) per run."""
    rng = random.Random(1)
    times = []
    with Session(engine) as session:
        for run in range(runs + 3):
            request = make(rng)
            began = time.perf_counter()
            list_articles(session=session, query=request)
            elapsed = (time.perf_counter() - began) * 1000
            if run >= 3:  # the first three warm the plan and driver caches
                times.append(elapsed)
            session.rollback()
    return times


def measure(url: str, runs: int) -> None:
    """Print p50/p95 (ms) of each consumer query over `runs` randomized executions."""
    engine = create_engine(sqlalchemy_url(url))
    with psycopg.connect(url) as conn:
        n, low, high = conn.execute(  # type: ignore[misc]
            "SELECT count(*), min(ingest_seq), max(ingest_seq) FROM articles"
        ).fetchone()
    span = timedelta(minutes=SPAN_MINUTES - 7 * 24 * 60)

    def week(rng: random.Random) -> ArticleQuery:
        since = END - timedelta(days=7) - span * rng.random()
        region = rng.choice(REGIONS)
        return ArticleQuery(region=region, since=since, until=since + timedelta(days=7))

    def newest(_: random.Random) -> ArticleQuery:
        return ArticleQuery()

    def phrase(rng: random.Random) -> ArticleQuery:
        return ArticleQuery(search=f'"{rng.choice(PHRASES)}"')

    def pull(rng: random.Random) -> ArticleQuery:
        return ArticleQuery(after_seq=rng.randint(low, high), limit=1000)

    def stories(_: random.Random) -> ArticleQuery:
        return ArticleQuery(stories=True)

    print(f"\n{n:,} articles, {runs} runs each (ms)")
    print(f"{'query':<34}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, make in (
        ("region + 7-day range (50)", week),
        ("newest 50", newest),
        ("search two-word phrase (top 50)", phrase),
        ("incremental pull of 1,000", pull),
        ("newest 50 stories", stories),
    ):
        times = sorted(_timed(engine, make, runs))
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        print(f"{name:<34}{statistics.median(times):>8.1f}{p95:>8.1f}{times[-1]:>8.1f}")
    with psycopg.connect(url) as conn:
        for text in PHRASES:
            (hits,) = conn.execute(
                "SELECT count(*) FROM articles "
                "WHERE search_vector @@ websearch_to_tsquery('simple', %s)",
                (f'"{text}"',),
            ).fetchone()  # type: ignore[misc]
            print(f"  phrase {text!r}: {hits:,} matches")
    engine.dispose()


def run_on_loaded_database(
    kind: str,
    measure: Callable[[str, int], None],
    *,
    articles: int,
    runs: int,
    prepare: Callable[[str], None] | None = None,
) -> None:
    """The command line of a benchmark over a database of Reuters articles: load `--articles`
    into a scratch database (or take `--url`), `prepare` it, `measure` it `--runs` times."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=articles)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    parser.add_argument("--url", help="Measure an already loaded database instead.")
    args = parser.parse_args()
    if args.url:
        measure(args.url, args.runs)
        return
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is not here: the shared evaluation data is needed")
    with scratch_database(kind, keep=args.keep) as url:
        print(f"loading {args.articles:,} articles into {url.rpartition('/')[2]}")
        load(url, args.articles, args.seed)
        if prepare is not None:
            prepare(url)
        measure(url, args.runs)


def main() -> None:
    """Create, load, measure and drop a scratch database."""
    run_on_loaded_database("queries", measure, articles=1_000_000, runs=50)


if __name__ == "__main__":
    main()
