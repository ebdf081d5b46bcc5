"""End-to-end throughput: producer → Redis → `newsingest worker` processes → PostgreSQL.

Builds N distinct dumps from the real pages in ../shared/data (plus 20% byte-identical re-sends and
2% bad input), starts worker processes on a private queue and a scratch database, enqueues through
the producer API and waits for the last sighting. Prints one JSON line:

    .venv/bin/python bench/e2e.py --kind text --n 20000 --workers 2 --batch-size 500
    .venv/bin/python bench/e2e.py --kind html --n 2000 --workers 2    # batches stop at 4 MiB
    .venv/bin/python bench/e2e.py --kind text --n 20000 --inprocess      # no broker, one process
    .venv/bin/python bench/e2e.py --kind text --n 20000 --metrics   # workers keep and serve metrics
    .venv/bin/python bench/e2e.py --kind text --n 20000 --urls   # pages name their URLs
    .venv/bin/python bench/e2e.py --kind text --standin-cleaner --no-search-index  # ceilings

`--standin-cleaner` and `--no-search-index` price two stages by taking them out with everything
else real: the cleaners (bench/standin.py) and full-text search (no vector trigger, no index).

Servers: PostgreSQL at NEWSINGEST_BENCH_POSTGRES_URL (default postgres on 127.0.0.1:5432) and Redis
at NEWSINGEST_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0), started beforehand (as .ci/run
does). CPU per page is split by where it was spent: producer (this process), broker (redis-server),
worker pipeline (cleaning, decoding included, and classifying) and store (from the workers'
batch_ingested logs), Celery's own share of the workers (worker CPU minus those), and the
PostgreSQL server.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from scratch import ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REDIS_URL = os.environ.get("NEWSINGEST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NEWSINGEST = str(Path(sys.executable).with_name("newsingest"))

CHROME_TOP = "Home\nNews\nSport\nWeather\nSign in\n\n"
CHROME_BOTTOM = (
    "\n\nShare this page\nFacebook Twitter Email\n\nRelated stories\n{related}\n"
    "12 Jan 87 |  Business\n\nCopyright © 1987 Example Wire. All rights reserved.\n"
)


def _reuters() -> list[dict[str, str]]:
    path = DATA / "regions" / "reuters21578-train.jsonl"
    stories = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            if story["title"] and len(story["body"] or "") > 400:
                stories.append(story)
    return stories


def text_dumps(n: int, rng: random.Random) -> list[str]:
    """n distinct seed-style text dumps: real Reuters stories, varied headline and timestamp."""
    stories = _reuters()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    dumps = []
    for i in range(n):
        story = stories[i % len(stories)]
        when = start + timedelta(minutes=7 * i + rng.randrange(7))
        paragraphs = [" ".join(p.split()) for p in story["body"].split("\n    ") if p.strip()]
        related = stories[(i * 7919) % len(stories)]["title"].title()
        dumps.append(
            CHROME_TOP
            + when.strftime("Page last updated at %H:%M GMT, %A, %-d %B %Y")
            + f"\n\n{story['title'].title()} ({i})\n\n"
            + "\n\n".join(paragraphs)
            + CHROME_BOTTOM.format(related=related)
        )
    return dumps


def html_dumps(n: int, rng: random.Random) -> list[str]:
    """n distinct HTML pages: the 181 real scrapinghub pages, each copy with its own headline.

    The copy's number goes into every place a headline is read from (JSON-LD, og:title, <title>,
    the first <h1>), so each copy is a new article whichever one the cleaner trusts.
    """
    pages = [
        gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        for path in sorted((DATA / "extraction" / "scrapinghub" / "html").glob("*.html.gz"))
    ]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    dumps = []
    for i in range(n):
        page = pages[i % len(pages)]
        when = (start + timedelta(minutes=7 * i + rng.randrange(7))).isoformat()
        marker = (
            '<script type="application/ld+json">'
            + json.dumps({"@type": "NewsArticle", "headline": f"Story number {i} of the benchmark",
                          "datePublished": when})
            + "</script>"
        )  # fmt: skip
        copy = f"Copy {i}: "
        page = _TITLE_TAG.sub(lambda m, c=copy: m[1] + c, page, count=1)
        page = _H1_TAG.sub(lambda m, c=copy: m[1] + c, page, count=1)
        page = _OG_TITLE.sub(lambda m, c=copy: m[1] + c, page, count=1)
        cut = page.find("<head>")
        dumps.append(page[: cut + 6] + marker + page[cut + 6 :] if cut >= 0 else marker + page)
    return dumps


_TITLE_TAG = re.compile(r"(<title[^>]*>\s*)", re.IGNORECASE)
_H1_TAG = re.compile(r"(<h1[^>]*>\s*)", re.IGNORECASE)
_OG_TITLE = re.compile(r"""(<meta[^>]+property=["']og:title["'][^>]+content=["'])""", re.IGNORECASE)


def build_pages(kind: str, n: int, seed: int = 7, *, urls: bool = False) -> list[dict[str, Any]]:
    """The message pages: distinct dumps, then 20% re-sends and 2% bad input, shuffled; with
    `urls`, each distinct dump has its own URL (its re-sends too), as crawled pages do."""
    rng = random.Random(seed)
    distinct = round(n / 1.22)
    resends = round(distinct * 0.20)
    bad = n - distinct - resends
    contents = (text_dumps if kind == "text" else html_dumps)(distinct, rng)
    pages: list[dict[str, Any]] = [
        {"content": c, "content_type": "text/plain" if kind == "text" else "text/html"}
        for c in contents
    ]
    if urls:
        for index, page in enumerate(pages):
            page["url"] = f"https://bench.example/{kind}/{index}"
    pages += [dict(pages[rng.randrange(distinct)]) for _ in range(resends)]
    for i in range(bad):
        choice = i % 3
        if choice == 0:
            pages.append({"content": ""})
        elif choice == 1:
            pages.append(
                {
                    "content": base64.b64encode(rng.randbytes(2048)).decode(),
                    "content_encoding": "base64",
                }
            )
        else:
            pages.append(
                {
                    "content": "<html><body><nav>Home</nav></body></html>",
                    "content_type": "text/html",
                }
            )
    rng.shuffle(pages)
    for page in pages:
        page["source"] = f"bench-{kind}"
        page["id"] = str(uuid.uuid4())
    return pages


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _sightings(url: str, *, at_least: int = 0) -> int:
    """How many sightings are recorded; cheaply 0 while fewer than `at_least` can be there.

    A count(*) every 50 ms scanned the whole table and was billed to PostgreSQL's share of the
    run; the highest id (an index lookup) bounds the count from above, as ids start at 1.
    """
    with psycopg.connect(url) as conn:
        highest = conn.execute("SELECT coalesce(max(id), 0) FROM sightings").fetchone()
        if highest is None or highest[0] < at_least:
            return 0
        return int(conn.execute("SELECT count(*) FROM sightings").fetchone()[0])  # type: ignore[index]


def _postgres_cpu() -> float:
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] and proc.info["name"].startswith("postgres"):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class RssWatch(threading.Thread):
    """Samples the resident memory of worker processes until stopped."""

    def __init__(self, roots: list[psutil.Process]) -> None:
        super().__init__(daemon=True)
        self.roots, self.peak, self.stopped = roots, {}, threading.Event()  # type: ignore[var-annotated]

    def run(self) -> None:
        while not self.stopped.is_set():
            for root in self.roots:
                try:
                    for proc in [root, *root.children()]:
                        rss = proc.memory_info().rss
                        self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), rss)
                except psutil.Error:
                    pass
            time.sleep(0.1)


class Scraper(threading.Thread):
    """Scrapes each worker's /metrics every `every` seconds until stopped, as Prometheus would."""

    def __init__(self, ports: list[int], every: float) -> None:
        super().__init__(daemon=True)
        self.ports, self.every, self.stopped = ports, every, threading.Event()
        self.seconds: list[float] = []

    def scrape(self) -> list[str]:
        """One scrape of every worker; their texts."""
        texts = []
        for port in self.ports:
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
                texts.append(answer.read().decode("utf-8"))
            self.seconds.append(time.perf_counter() - started)
        return texts

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.scrape()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pages_counted(texts: list[str]) -> int:
    return round(
        sum(
            float(line.rpartition(" ")[2])
            for text in texts
            for line in text.splitlines()
            if line.startswith("newsingest_pages_total{")
        )
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run; returns the figures."""
    from worker.config import get_settings
    from worker.store import reset_engine, transaction, upgrade_database
    from worker.store.stats import read_books

    pages = build_pages(args.kind, args.n, urls=args.urls)
    name = f"newsingest_bench_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    db_url = ADMIN_URL.rpartition("/")[0] + f"/{name}"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "NEWSINGEST_DATABASE_URL": db_url,
        "NEWSINGEST_BROKER_URL": REDIS_URL,
        "NEWSINGEST_QUEUE": queue,
        "NEWSINGEST_BATCH_SIZE": str(args.batch_size),
        "NEWSINGEST_LOG_FORMAT": "json",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("NEWSINGEST_")})
    get_settings.cache_clear()
    upgrade_database(db_url)
    if args.no_search_index:
        # Prices full-text search: the trigger that builds each article's vector and its index.
        with psycopg.connect(db_url, autocommit=True) as connection:
            connection.execute("DROP TRIGGER articles_index_search_on_write ON articles")
            connection.execute("DROP INDEX ix_articles_search_vector")
    logs = Path(tempfile.mkdtemp(prefix="newsingest-bench-"))
    workers: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {
        "kind": args.kind, "n": len(pages), "workers": 0 if args.inprocess else args.workers,
        "batch_size": args.batch_size, "mode": "inprocess" if args.inprocess else "queue",
        "pool": None if args.inprocess else args.pool,
        "cores": os.cpu_count(), "standin_cleaner": args.standin_cleaner,
        "search_index": not args.no_search_index,
    }  # fmt: skip
    try:
        client = redis.Redis.from_url(REDIS_URL)
        if args.inprocess:
            from schemas import RawPage
            from worker.ingest import ingest_batch
            from worker.pipeline import receive

            if args.standin_cleaner:
                from standin import install

                install()
            pg0, t0, c0 = _postgres_cpu(), time.perf_counter(), time.process_time()
            settings = get_settings()
            for start in range(0, len(pages), args.batch_size):
                chunk = pages[start : start + args.batch_size]
                received = [receive(RawPage.model_validate(p), receipt_key=p["id"]) for p in chunk]
                with transaction() as session:
                    ingest_batch(session=session, pages=received, settings=settings)
            elapsed = time.perf_counter() - t0
            cpu = {"ingest_process": time.process_time() - c0, "postgres": _postgres_cpu() - pg0}
        else:
            command = (
                [sys.executable, str(Path(__file__).with_name("standin.py"))]
                if args.standin_cleaner
                else [NEWSINGEST]
            )
            ports: list[int] = []
            for index in range(args.workers if args.separate else 1):
                log = (logs / f"worker-{index}.log").open("wb")
                concurrency = 1 if args.separate else args.workers
                metrics = {}
                if args.metrics:
                    ports.append(_free_port())
                    metrics = {"NEWSINGEST_METRICS_PORT": str(ports[-1])}
                workers.append(
                    subprocess.Popen(
                        [*command, "worker", f"--concurrency={concurrency}",
                         f"--pool={args.pool}", f"--hostname=bench{index}-{queue}@%h",
                         "--without-gossip",
                         "--without-mingle", "--without-heartbeat"],
                        env=env | metrics, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
            deadline = time.monotonic() + 60
            while not all("ready." in p.read_text() for p in logs.glob("worker-*.log")):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not start; see {logs}")
                time.sleep(0.2)
            roots = [psutil.Process(w.pid) for w in workers]
            watch = RssWatch(roots)
            watch.start()
            scraper = Scraper(ports, args.scrape_every)
            if ports:
                scraper.start()
            worker_cpu0 = sum(_tree_cpu(r) for r in roots)
            pg0, redis0 = _postgres_cpu(), _redis_cpu(client)

            from schemas import RawPage
            from worker.producer import enqueue_pages

            # On the producer's clock, as in any producer: building the RawPages is part of it.
            t0, c0 = time.perf_counter(), time.process_time()
            raw_pages = [RawPage.model_validate(p) for p in pages]
            enqueue_pages(raw_pages, batch_size=args.batch_size)
            producer_wall = time.perf_counter() - t0
            producer_cpu = time.process_time() - c0
            while _sightings(db_url, at_least=len(pages)) < len(pages):
                if time.perf_counter() - t0 > args.timeout:
                    raise RuntimeError(f"only {_sightings(db_url)} of {len(pages)} after timeout")
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            watch.stopped.set()
            scraper.stopped.set()
            if ports:
                scraper.join()
                time.sleep(1)  # the last batch counts its pages just after its commit
                figures["metrics"] = {
                    "scrapes": len(scraper.seconds),
                    "scrape_ms_mean": round(1e3 * sum(scraper.seconds) / len(scraper.seconds), 1),
                    "pages_counted": _pages_counted(scraper.scrape()),
                }
            cpu = {
                "producer": producer_cpu,
                "broker": _redis_cpu(client) - redis0,
                "workers": sum(_tree_cpu(r) for r in roots) - worker_cpu0,
                "postgres": _postgres_cpu() - pg0,
            }
            stages = _stage_cpu(logs)
            cpu["pipeline"] = stages["cpu_pipeline_us"] / 1e6
            cpu["clean"] = stages["cpu_clean_us"] / 1e6  # the pipeline's two parts
            cpu["classify"] = stages["cpu_classify_us"] / 1e6
            cpu["store"] = stages["cpu_store_us"] / 1e6
            cpu["celery"] = cpu["workers"] - cpu["pipeline"] - cpu["store"]
            figures["enqueue_pages_per_s"] = round(len(pages) / producer_wall)
            figures["peak_rss_mb_per_worker_process"] = round(max(watch.peak.values()) / 2**20, 1)
        figures["pages_per_s"] = round(len(pages) / elapsed)
        figures["seconds"] = round(elapsed, 2)
        figures["cpu_us_per_page"] = {k: round(v * 1e6 / len(pages)) for k, v in cpu.items()}
        with transaction() as session:
            books = read_books(session=session)
        received = sum(d.received for d in books.days)
        figures["accounting"] = {
            "received": received,
            "stored": sum(d.stored for d in books.days),
            "duplicates": sum(d.duplicates for d in books.days),
            "rejected": sum(d.rejected for d in books.days),
            "balanced": not books.problems and received == len(pages),
        }
        reset_engine(close=True)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        from worker.claims import drop_queue

        drop_queue(redis.Redis.from_url(REDIS_URL), queue)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


def _tree_cpu(root: psutil.Process) -> float:
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    # Children that already exited are counted in the parent's children_* times.
    times = root.cpu_times()
    return total + times.children_user + times.children_system


def _stage_cpu(logs: Path) -> dict[str, int]:
    totals = {"cpu_pipeline_us": 0, "cpu_clean_us": 0, "cpu_classify_us": 0, "cpu_store_us": 0}
    for path in logs.glob("worker-*.log"):
        for line in path.read_text().splitlines():
            if '"batch_ingested"' in line:
                event = json.loads(line)
                for key in totals:
                    totals[key] += int(event.get(key, 0))
    return totals


def print_figures(
    run_once: Callable[[argparse.Namespace], dict[str, Any]], args: argparse.Namespace
) -> None:
    """Run once and print the figures as one JSON line; stop first if the shared data is absent."""
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not here: the benchmark builds its pages from the shared data")
    print(json.dumps(run_once(args)))


def main() -> None:
    """Parse the options, run once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["text", "html"], default="text")
    parser.add_argument("--n", type=int, default=20_000, help="messages, re-sends and bad included")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--separate", action="store_true", help="N workers of one process each")
    parser.add_argument("--batch-size", type=int, default=500, help="as NEWSINGEST_BATCH_SIZE")
    parser.add_argument(
        "--pool",
        choices=["prefork", "solo"],
        default="prefork",
        help="Celery pool; solo runs tasks in the worker process itself (use with --separate)",
    )
    parser.add_argument(
        "--inprocess", action="store_true", help="no broker: ingest in this process"
    )
    parser.add_argument(
        "--standin-cleaner",
        action="store_true",
        help="price the cleaners: workers clean with bench/standin.py's stand-ins",
    )
    parser.add_argument(
        "--no-search-index",
        action="store_true",
        help="price full-text search: no search vector trigger or index in the scratch database",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="workers keep Prometheus metrics (NEWSINGEST_METRICS_PORT), scraped during the run",
    )
    parser.add_argument(
        "--scrape-every", type=float, default=5.0, help="seconds between scrapes with --metrics"
    )
    parser.add_argument(
        "--urls", action="store_true", help="each distinct dump with its own URL (re-sends too)"
    )
    parser.add_argument("--timeout", type=float, default=1800)
    print_figures(run, parser.parse_args())


if __name__ == "__main__":
    main()
