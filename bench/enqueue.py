"""`newsingest enqueue` from files: pages per second for the whole command, startup included.

Writes N seed-style text dumps (the e2e benchmark's) into a scratch folder, runs the command
against a private queue on Redis, checks every page arrived on the queue, and prints one JSON line:

    .venv/bin/python bench/enqueue.py --n 20000 --batch-size 500

Redis at NEWSINGEST_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0), started beforehand.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The same pages as the e2e benchmark.
from e2e import NEWSINGEST, REDIS_URL, print_figures, text_dumps

from worker.claims import drop_queue


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One run; returns the figures."""
    queue = f"bench-enqueue-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(REDIS_URL)
    with tempfile.TemporaryDirectory(prefix="newsingest-enqueue-") as folder:
        for index, dump in enumerate(text_dumps(args.n, random.Random(7))):
            Path(folder, f"{index:07d}.txt").write_text(dump, encoding="utf-8")
        env = {
            **os.environ,
            "NEWSINGEST_BROKER_URL": REDIS_URL,
            "NEWSINGEST_QUEUE": queue,
            "NEWSINGEST_LOG_FORMAT": "json",
        }
        command = [NEWSINGEST, "enqueue", folder, f"--batch-size={args.batch_size}"]
        try:
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            seconds = time.perf_counter() - started
            batches = int(client.llen(queue))
        finally:
            drop_queue(client, queue)
    expected = -(-args.n // args.batch_size)
    return {
        "n": args.n,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 2),
        "pages_per_s": round(args.n / seconds),
        "batches_queued": batches,
        "all_queued": batches == expected,
    }


def main() -> None:
    """Parse the options, run once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="files to enqueue")
    parser.add_argument("--batch-size", type=int, default=500)
    print_figures(run, parser.parse_args())


if __name__ == "__main__":
    main()
