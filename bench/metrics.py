"""What keeping Prometheus metrics costs a worker, priced alone: a load-independent complement to
`bench/e2e.py --metrics`, whose end-to-end difference is within its run-to-run noise.

Counts batches of N pages from S sources (mostly stored, some duplicates and rejections) into the
worker's metrics in multiprocess mode, in a scratch directory, as a pool process does after each
commit; then scrapes them as the worker's main process does, with the files of P dead processes
beside. Prints one JSON line: CPU µs per page and per batch with metrics on, the same calls'
cost with them off (`recorder()` returning None), and a scrape's milliseconds.

    .venv/bin/python bench/metrics.py --batches 200 --batch-size 500 --sources 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One run; returns the figures."""
    directory = Path(tempfile.mkdtemp(prefix="newsingest-bench-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    try:
        return _measure(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _measure(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from schemas import RawPage
    from worker.config import Settings
    from worker.metrics import recorder
    from worker.metrics._prometheus import Recorder
    from worker.pipeline import receive
    from worker.store import BatchOutcome, ItemOutcome, Outcome

    settings = Settings(metrics_port=9999)
    pages = [
        receive(
            RawPage(content=f"Headline {n}\n\nBody {n}.", source=f"source-{n % args.sources}"),
            receipt_key=f"r{n}",
        )
        for n in range(args.batch_size)
    ]
    items = []
    for n, page in enumerate(pages):
        if n % 50 == 0:
            items.append(ItemOutcome(page.receipt_key, Outcome.REJECTED, reason="no_body"))
        elif n % 5 == 0:
            items.append(ItemOutcome(page.receipt_key, Outcome.DUPLICATE))
        else:
            items.append(ItemOutcome(page.receipt_key, Outcome.STORED))
    outcome = BatchOutcome(tuple(items))

    def off() -> None:
        # The three checks a batch makes when metrics are off (task, pipeline, store).
        for _ in range(3):
            if recorder() is not None:
                raise AssertionError("metrics are on")

    record = Recorder(settings)

    def on() -> None:
        with record.batch():
            record.count_stage_cpu(clean=0.1, classify=0.05, store=0.05)
            record.count_pages(pages=pages, outcome=outcome)

    figures: dict[str, Any] = {"batch_size": args.batch_size, "sources": args.sources}
    for name, call in (("off", off), ("on", on)):
        call()  # first use creates the label sets and their file entries
        started = time.process_time()
        for _ in range(args.batches):
            call()
        cpu = time.process_time() - started
        figures[f"cpu_us_per_batch_{name}"] = round(cpu * 1e6 / args.batches, 1)
        figures[f"cpu_us_per_page_{name}"] = round(cpu * 1e6 / args.batches / args.batch_size, 3)

    # Files of processes that lived before (pool processes replaced over a worker's life).
    for pid in range(1, args.dead_processes + 1):
        for stem in ("counter", "histogram"):
            shutil.copy(directory / f"{stem}_{os.getpid()}.db", directory / f"{stem}_{pid}.db")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    for _ in range(args.scrapes):
        size = len(generate_latest(registry))
    figures["scrape_ms"] = round((time.perf_counter() - started) * 1e3 / args.scrapes, 2)
    figures["scrape_bytes"] = size
    figures["process_files"] = args.dead_processes + 1
    return figures


def main() -> None:
    """Parse the options, run once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--sources", type=int, default=20, help="distinct sources in a batch")
    parser.add_argument("--dead-processes", type=int, default=20, help="files of dead processes")
    parser.add_argument("--scrapes", type=int, default=20)
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
