"""Source health, two ways: read from `source_tallies` or computed from sightings, raw pages and
articles. Prints the query time of each on a scratch database of realistic size.

Builds a scratch database (migrated to head) holding `--sources` sources × `--days` days ×
`--per-day` pages each: sightings (20% duplicates, 3% rejected), their raw pages (small contents:
no query here reads them) and the articles the stored ones made, with bodies of ~1,500 to 6,000
characters of words (stored compressed, as real bodies are). `source_tallies` is filled as the
store would have: one row per source per batch of `--batch` pages. Then it times, best and median
of `--runs`, after timing what tallying one batch costs the store:

- tallies: `list_source_health` (the drift check: every source, 15 windows of 24 hours)
- tallies: `v1_source_health` for the last 15 days
- sightings: the same figures per source and day, computed from sightings, raw pages and
  articles (the view the tallies replace; the median body length reads every stored body)

    .venv/bin/python bench/health.py                          # 20 sources × 30 days × 1,000
    .venv/bin/python bench/health.py --per-day 200 --days 20  # a quick look
    .venv/bin/python bench/health.py --backfill               # and time migration 0013's rebuild
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from scratch import scratch_database
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from worker.config import sqlalchemy_url
from worker.health import list_source_health
from worker.store import upgrade_database

REGIONS = ["Africa", "Americas", "Asia-Pacific", "Europe", "Middle East", "South Asia", "UK"]

# The figures of v1_source_health, computed from the rows every receipt leaves.
FROM_SIGHTINGS = """
WITH seen AS (
    SELECT s.source, (s.received_at AT TIME ZONE 'UTC')::date AS day, s.outcome,
           CASE WHEN s.outcome = 'rejected' THEN p.reason END AS reason,
           a.published_at, a.published_precision, a.region, length(a.body) AS body_length
    FROM sightings AS s
    JOIN raw_pages AS p ON p.id = s.raw_page_id
    LEFT JOIN articles AS a ON a.id = s.article_id AND s.outcome = 'stored'
    WHERE s.received_at >= CAST(:since AS timestamptz)
), reasons AS (
    SELECT source, day, jsonb_object_agg(reason, n) AS rejected_by_reason
    FROM (SELECT source, day, reason, count(*) AS n FROM seen WHERE reason IS NOT NULL
          GROUP BY source, day, reason) AS counted
    GROUP BY source, day
)
SELECT seen.source, seen.day, count(*),
       count(*) FILTER (WHERE seen.outcome = 'stored'),
       count(*) FILTER (WHERE seen.outcome = 'duplicate'),
       count(*) FILTER (WHERE seen.outcome = 'rejected'),
       reasons.rejected_by_reason,
       avg((seen.published_at IS NOT NULL)::int) FILTER (WHERE seen.outcome = 'stored'),
       avg((seen.region <> 'unknown')::int) FILTER (WHERE seen.outcome = 'stored'),
       avg((seen.published_precision = 'minute')::int)
           FILTER (WHERE seen.outcome = 'stored' AND seen.published_at IS NOT NULL),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seen.body_length)
           FILTER (WHERE seen.outcome = 'stored')
FROM seen LEFT JOIN reasons ON reasons.source = seen.source AND reasons.day = seen.day
GROUP BY seen.source, seen.day, reasons.rejected_by_reason
"""
FROM_TALLIES = "SELECT * FROM newsingest.v1_source_health WHERE day >= CAST(:since AS date)"

TALLY_BATCHES = """
INSERT INTO source_tallies (source, tallied_at, received, stored, duplicates, rejected,
    rejected_by_reason, dated, minute_precision, regioned, body_lengths)
SELECT source, max(received_at), count(*), count(*) FILTER (WHERE outcome = 'stored'),
       count(*) FILTER (WHERE outcome = 'duplicate'), count(*) FILTER (WHERE outcome = 'rejected'),
       CASE WHEN count(*) FILTER (WHERE outcome = 'rejected') > 0
            THEN jsonb_build_object('no_body', count(*) FILTER (WHERE outcome = 'rejected')) END,
       count(*) FILTER (WHERE outcome = 'stored' AND published_at IS NOT NULL),
       count(*) FILTER (WHERE outcome = 'stored' AND published_precision = 'minute'),
       count(*) FILTER (WHERE outcome = 'stored' AND region <> 'unknown'),
       array_agg(length(body)) FILTER (WHERE outcome = 'stored')
FROM (SELECT s.source, s.received_at, s.outcome, a.published_at, a.published_precision,
             a.region, a.body,
             (row_number() OVER (PARTITION BY s.source ORDER BY s.id) - 1) / %(batch)s AS batch
      FROM sightings s LEFT JOIN articles a ON a.id = s.article_id AND s.outcome = 'stored') x
GROUP BY source, batch
"""


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(5000)]


def _rows(
    sources: int, days: int, per_day: int, now: datetime, seed: int
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """('article' | 'raw' | 'sighting', row) in id order, every source's pages spread over days."""
    rng = random.Random(seed)
    vocabulary = _words(rng)
    article_id = raw_id = sighting_id = 0
    stored_ids: list[int] = []
    start = now - timedelta(days=days)
    for page in range(sources * days * per_day):
        received = start + timedelta(seconds=page * days * 86400 / (sources * days * per_day))
        source = f"source-{page % sources:02d}"
        draw = rng.random()
        raw_id += 1
        sighting_id += 1
        if draw < 0.03 or (draw < 0.23 and stored_ids):
            outcome = "rejected" if draw < 0.03 else "duplicate"
            joined = None if outcome == "rejected" else rng.choice(stored_ids[-5000:])
            reason = "no_body" if outcome == "rejected" else None
            yield "raw", (raw_id, uuid.uuid4().bytes * 2, b"x", 1, source, outcome, reason, joined)
            yield (
                "sighting",
                (sighting_id, f"r{sighting_id}", raw_id, joined, outcome,
                 None if joined is None else "same_key", source, received),
            )  # fmt: skip
            continue
        article_id += 1
        stored_ids.append(article_id)
        body = " ".join(rng.choices(vocabulary, k=rng.randint(250, 1000)))
        headline = " ".join(rng.choices(vocabulary, k=8))
        dated = rng.random() > 0.05
        yield (
            "article",
            (article_id, article_id, headline, headline, received if dated else None,
             "minute" if dated else None, None if dated else source, body,
             hashlib.sha256(body.encode()).digest(), "[]", rng.choice([*REGIONS, "unknown"]),
             0.8, "{}", "[]", source, "text", received, received, 1, "bench", "bench",
             article_id),
        )  # fmt: skip
        yield "raw", (raw_id, uuid.uuid4().bytes * 2, b"x", 1, source, "stored", None, article_id)
        yield (
            "sighting",
            (sighting_id, f"r{sighting_id}", raw_id, article_id, "stored", "new", source, received),
        )


COPIES = {
    "article": "COPY articles (id, story_id, headline, headline_key, published_at, "
    "published_precision, undated_source, body, body_hash, section_labels, region, "
    "region_confidence, region_scores, region_evidence, source, content_type, first_seen_at, "
    "last_seen_at, seen_count, extractor_version, classifier_version, ingest_seq) FROM STDIN",
    "raw": "COPY raw_pages (id, content_hash, content, size, source, outcome, reason, article_id) "
    "FROM STDIN",
    "sighting": "COPY sightings (id, receipt_key, raw_page_id, article_id, outcome, match, source, "
    "received_at) FROM STDIN",
}


def load(url: str, args: argparse.Namespace, now: datetime) -> None:
    """COPY the synthetic rows in (triggers off: ingest_seq is given, no search vectors), then
    tally them by batch as the store would have."""
    started = time.perf_counter()
    buffers: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in COPIES}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE articles DISABLE TRIGGER USER")

        def flush() -> None:
            with conn.transaction():
                for kind in ("article", "raw", "sighting"):
                    with conn.cursor().copy(COPIES[kind]) as copy:
                        for row in buffers[kind]:
                            copy.write_row(row)
                    buffers[kind].clear()

        for kind, row in _rows(args.sources, args.days, args.per_day, now, args.seed):
            buffers[kind].append(row)
            if len(buffers["sighting"]) >= 50_000:
                flush()
        flush()
        conn.execute("ALTER TABLE articles ENABLE TRIGGER USER")
        conn.execute(TALLY_BATCHES, {"batch": args.batch})
        conn.execute("VACUUM ANALYZE")
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('articles')), "
            "pg_size_pretty(pg_total_relation_size('sightings')), "
            "pg_size_pretty(pg_total_relation_size('source_tallies')), "
            "(SELECT count(*) FROM source_tallies), (SELECT count(*) FROM articles)"
        ).fetchone()
    print(
        f"load: {time.perf_counter() - started:.0f}s; articles {sizes[0]} ({sizes[4]:,} rows), "  # type: ignore[index]
        f"sightings {sizes[1]}, source_tallies {sizes[2]} ({sizes[3]:,} rows)"  # type: ignore[index]
    )


def _timed(run: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    times = times[1:]  # the first warms caches and plans
    return min(times), statistics.median(times)


def measure(url: str, runs: int, now: datetime) -> None:
    """Print best and median milliseconds of each way of reading source health."""
    engine = create_engine(sqlalchemy_url(url))
    since = now - timedelta(days=15)
    with Session(engine) as session:

        def check() -> object:
            return list_source_health(session=session, days=14, now=now)

        def view(sql: str) -> Callable[[], object]:
            return lambda: session.execute(text(sql), {"since": since}).all()

        print(f"{'source health, last 15 days':<48}{'best ms':>10}{'median ms':>11}")
        for name, run in (
            ("tallies: list_source_health (drift check)", check),
            ("tallies: v1_source_health", view(FROM_TALLIES)),
            ("sightings + raw pages + articles", view(FROM_SIGHTINGS)),
        ):
            best, median = _timed(run, runs)
            print(f"{name:<48}{best:>10.1f}{median:>11.1f}")
    engine.dispose()


def ingest_side(url: str, *, batch: int, repeats: int = 200) -> None:
    """Time the store's tally of one batch (`_tally_sources`: the loop over its outcomes and the
    INSERT) on real pipeline results, per page: the whole cost the tallies add to ingest."""
    from pathlib import Path

    from schemas import RawPage
    from worker.pipeline import process, receive
    from worker.store.batch import ItemOutcome, _tally_sources
    from worker.store.models import Outcome

    golden = sorted((Path(__file__).parents[1] / "tests" / "golden" / "text").glob("*.txt"))
    made = []
    for path in golden:
        page = receive(
            RawPage(content=path.read_text(encoding="utf-8"), source="s"), receipt_key="k"
        )
        made.append((page, process(page, max_page_bytes=5 << 20)))
    recorded: list[tuple[Any, Any, Any]] = []
    for n in range(batch):  # 80% stored, 17% duplicates, 3% rejected, as bench/e2e.py sends
        page, result = made[n % len(made)]
        if n % 100 < 3:
            recorded.append((page, ItemOutcome(f"k{n}", Outcome.REJECTED, reason="no_body"), None))
        elif n % 100 < 20:
            recorded.append((page, ItemOutcome(f"k{n}", Outcome.DUPLICATE), None))
        else:
            recorded.append((page, ItemOutcome(f"k{n}", Outcome.STORED), result))
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        _tally_sources(session, recorded)  # connects and prepares
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(repeats):
            _tally_sources(session, recorded)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        session.rollback()
    engine.dispose()
    per_page = 1e6 / (repeats * batch)
    print(
        f"ingest: tallying a batch of {batch} pages: {cpu * per_page:.2f} µs CPU a page in the "
        f"worker, {wall * per_page:.2f} µs a page wall (the INSERT's round trip included)"
    )


def backfill(url: str) -> None:
    """Time migration 0013's rebuild of the tallies from sightings, raw pages and articles (what
    upgrading a database that already holds these pages costs)."""
    from alembic import command

    from worker.store.engine import alembic_config

    command.downgrade(alembic_config(url), "0012")
    began = time.perf_counter()
    upgrade_database(url)
    elapsed = time.perf_counter() - began
    print(f"migration 0013 on these pages (rebuilding the tallies): {elapsed:.1f}s")


def main() -> None:
    """Create, load, measure and drop a scratch database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=1000, help="pages per source per day")
    parser.add_argument("--batch", type=int, default=100, help="pages of a source per batch")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    parser.add_argument("--ingest-only", action="store_true", help="Time the tally alone.")
    parser.add_argument(
        "--backfill", action="store_true", help="Also time the migration's rebuild of the tallies."
    )
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with scratch_database("health", keep=args.keep) as url:
        ingest_side(url, batch=500)
        if args.ingest_only:
            return
        load(url, args, now)
        measure(url, args.runs, now)
        if args.backfill:
            backfill(url)


if __name__ == "__main__":
    main()
