"""Store-only throughput: the batch upsert on already-processed pages, client and server CPU apart.

The pipeline runs first, outside the clock; then every batch goes through `upsert_batch` in its
own transaction, as a worker would, against a scratch database. Prints one JSON line with pages/s
and CPU µs per page for this process (SQLAlchemy, psycopg, row building) and for the PostgreSQL
backend serving it (measured on that backend's own process):

    .venv/bin/python bench/store.py --kind text --n 20000 --batch-size 500
    .venv/bin/python bench/store.py --n 5000 --profile        # and the client's top functions
    .venv/bin/python bench/store.py --alter "DROP INDEX ix_articles_search_vector"  # its cost

Server: PostgreSQL at NEWSINGEST_BENCH_POSTGRES_URL (default postgres on 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import build_pages, print_figures  # the same pages as the e2e benchmark
from scratch import scratch_database


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One run; returns the figures."""
    from schemas import RawPage
    from worker.config import get_settings
    from worker.ingest import find_known_content
    from worker.pipeline import Processed, process, receive
    from worker.pipeline.types import Rejection
    from worker.store import reset_engine, transaction, upsert_batch

    with scratch_database("store", keep=args.keep) as db_url:
        os.environ["NEWSINGEST_DATABASE_URL"] = db_url
        get_settings.cache_clear()
        for statement in args.alter:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(statement)
        settings = get_settings()
        pages = build_pages(args.kind, args.n)
        batches = []
        for start in range(0, len(pages), args.batch_size):
            chunk = pages[start : start + args.batch_size]
            received = [receive(RawPage.model_validate(p), receipt_key=p["id"]) for p in chunk]
            results: dict[bytes, Processed | Rejection] = {}
            for page in received:
                if page.content_hash not in results:
                    results[page.content_hash] = process(
                        page, max_page_bytes=settings.max_page_bytes
                    )
            batches.append((received, results))

        with transaction() as session:
            backend = psutil.Process(session.scalar(text("SELECT pg_backend_pid()")))
        profiler = cProfile.Profile() if args.profile else None
        server0, client0, wall0 = backend.cpu_times(), time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for received, results in batches:
            with transaction() as session:
                known = find_known_content(
                    session=session, hashes={page.content_hash for page in received}
                )
                upsert_batch(
                    session=session,
                    pages=received,
                    results={h: r for h, r in results.items() if h not in known},
                    known=known,
                )
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - wall0
        client = time.process_time() - client0
        server1 = backend.cpu_times()
        server = server1.user + server1.system - server0.user - server0.system
        if profiler:
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats(args.profile_sort).print_stats(40)
        with psycopg.connect(db_url) as conn:
            sightings = conn.execute("SELECT count(*) FROM sightings").fetchone()
        reset_engine(close=True)
        return {
            "kind": args.kind,
            "n": len(pages),
            "batch_size": args.batch_size,
            "pages_per_s": round(len(pages) / wall),
            "cpu_us_per_page": {
                "client": round(client * 1e6 / len(pages)),
                "server": round(server * 1e6 / len(pages)),
            },
            "sightings": sightings[0] if sightings else None,
        }


def main() -> None:
    """Parse the options, run once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["text", "html"], default="text")
    parser.add_argument("--n", type=int, default=20_000, help="pages, re-sends and bad included")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print the client's profile")
    parser.add_argument(
        "--profile-sort", default="cumulative", help="pstats order: cumulative, tottime, ..."
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--alter",
        action="append",
        default=[],
        metavar="SQL",
        help="run after migrating, to measure what a piece of the schema costs (repeatable)",
    )
    print_figures(run, parser.parse_args())


if __name__ == "__main__":
    main()
