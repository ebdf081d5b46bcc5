"""`newsingest ingest` of a folder, the embedded default's main job: pages per second for the whole
command, with its pool of `--jobs` processes.

Writes the e2e benchmark's pages (distinct dumps, 20% byte-identical re-sends, 2% bad input) as
files into a scratch folder, migrates a scratch database, runs the command on the folder and prints
one JSON line: seconds, pages/s, CPU µs per page of the command (its pool included) and of the
PostgreSQL server, and the books (received = stored + duplicates + rejected):

    .venv/bin/python bench/ingest.py --n 20000 --jobs 1
    .venv/bin/python bench/ingest.py --n 20000 --jobs 2
    .venv/bin/python bench/ingest.py --kind html --n 2000 --jobs 2

PostgreSQL at NEWSINGEST_BENCH_POSTGRES_URL (default postgres on 127.0.0.1:5432), started
beforehand (as .ci/run does); the scratch database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The same pages and server measures as the e2e benchmark.
from e2e import ADMIN_URL, NEWSINGEST, _admin, build_pages, print_figures


def _write_inputs(folder: Path, pages: list[dict[str, Any]]) -> None:
    """Each page as the file a user would have saved: text, HTML, or the raw bytes of bad input."""
    for index, page in enumerate(pages):
        suffix = ".html" if page.get("content_type") == "text/html" else ".txt"
        path = folder / f"{index:07d}{suffix}"
        if page.get("content_encoding") == "base64":
            path.write_bytes(base64.b64decode(page["content"]))
        else:
            path.write_text(page["content"], encoding="utf-8")


class ProcessCpu(threading.Thread):
    """Samples the CPU of a set of processes every 50 ms until stopped, keeping each one's last
    reading: a process's CPU goes with it when it exits, before a reading at the end could see it.

    `ProcessCpu.postgres()` watches every PostgreSQL process (the command's backends exit with it);
    `ProcessCpu.tree(pid)` a process and its descendants (the pool's processes are the fork
    server's children, whose CPU no `RUSAGE_CHILDREN` of ours counts). A process loses at most
    its last 50 ms.
    """

    def __init__(self, select: Callable[[], Iterable[psutil.Process]], *, baseline: bool) -> None:
        super().__init__(daemon=True)
        self.select = select
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopped = threading.Event()
        self._sample(baseline=baseline)

    @classmethod
    def postgres(cls) -> ProcessCpu:
        """Every PostgreSQL process, from its CPU now."""

        def select() -> Iterable[psutil.Process]:
            for proc in psutil.process_iter(["name"]):
                if (proc.info["name"] or "").startswith("postgres"):
                    yield proc

        return cls(select, baseline=True)

    @classmethod
    def tree(cls, pid: int) -> ProcessCpu:
        """A process just started and all its descendants, from their start."""

        def select() -> Iterable[psutil.Process]:
            try:
                root = psutil.Process(pid)
                return [root, *root.children(recursive=True)]
            except psutil.Error:
                return []

        return cls(select, baseline=False)

    def _sample(self, *, baseline: bool = False) -> None:
        for proc in self.select():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            self.first.setdefault(proc.pid, times.user + times.system if baseline else 0.0)
            self.last[proc.pid] = times.user + times.system

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            self._sample()

    def seconds(self) -> float:
        """Stop, and give the CPU seconds spent since the start (to each process's last sample)."""
        self.stopped.set()
        self.join()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One run; returns the figures."""
    pages = build_pages(args.kind, args.n)
    name = f"newsingest_bench_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    db_url = ADMIN_URL.rpartition("/")[0] + f"/{name}"
    env = {**os.environ, "NEWSINGEST_DATABASE_URL": db_url, "NEWSINGEST_LOG_FORMAT": "json"}
    env.pop("NEWSINGEST_BROKER_URL", None)
    try:
        with tempfile.TemporaryDirectory(prefix="newsingest-ingest-") as folder:
            _write_inputs(Path(folder), pages)
            subprocess.run([NEWSINGEST, "db", "upgrade"], env=env, check=True, capture_output=True)
            command = [NEWSINGEST, "ingest", folder, f"--jobs={args.jobs}"]
            command += [f"--batch-size={args.batch_size}"]
            postgres, usage0 = ProcessCpu.postgres(), resource.getrusage(resource.RUSAGE_CHILDREN)
            postgres.start()
            started = time.perf_counter()
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            tree = ProcessCpu.tree(process.pid)
            tree.start()
            _, stderr = process.communicate()
            seconds = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            waited = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
            # Exact for the command and the processes it waited for (a spawned pool); the pool
            # of a fork server is not among them, and only the samples see it.
            command_cpu, pg = max(waited, tree.seconds()), postgres.seconds()
        if process.returncode not in (0, 1):  # 1: some inputs were rejected, as 2% are
            sys.exit(f"newsingest ingest exited {process.returncode}:\n{stderr.decode()}")
        with psycopg.connect(db_url) as conn:
            outcomes = dict(
                conn.execute("SELECT outcome::text, count(*) FROM sightings GROUP BY 1").fetchall()
            )
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    received = sum(outcomes.values())
    return {
        "kind": args.kind,
        "n": args.n,
        "jobs": args.jobs,
        "batch_size": args.batch_size,
        "cores": os.cpu_count(),
        "seconds": round(seconds, 2),
        "pages_per_s": round(args.n / seconds),
        "cpu_us_per_page": {
            "command": round(command_cpu * 1e6 / args.n),
            "postgres": round(pg * 1e6 / args.n),
        },
        "accounting": {
            "received": received,
            "stored": outcomes.get("stored", 0),
            "duplicates": outcomes.get("duplicate", 0),
            "rejected": outcomes.get("rejected", 0),
            "balanced": received == args.n,
        },
    }


def main() -> None:
    """Parse the options, run once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["text", "html"], default="text")
    parser.add_argument("--n", type=int, default=20_000, help="files, re-sends and bad included")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="as --jobs")
    parser.add_argument("--batch-size", type=int, default=500, help="as --batch-size")
    print_figures(run, parser.parse_args())


if __name__ == "__main__":
    main()
