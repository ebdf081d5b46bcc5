"""Status page benchmark: how long `newsingest serve` takes to answer each page over a large store.

Builds a scratch database with bench/queries.py's synthetic articles (COPY), gives each a stored
raw page and sighting, adds one rejected receipt in ten (received over the last 30 days, from 40
sources), starts `newsingest serve` as a real process, and times GETs of each page over HTTP
(server-side SQL, rendering and transfer): p50 and p95 over --runs requests after two warm-ups.

    .venv/bin/python bench/serve.py                         # 200,000 articles
    .venv/bin/python bench/serve.py --url postgresql://...  # a database you already have
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from queries import run_on_loaded_database

PAGES = (
    "/",
    "/stories",
    "/stories?page=200&size=50",
    "/sources",
    "/rejections",
    "/rejections?reason=no_body",
    "/rejections?page=200&size=50",
)

# One raw page and one sighting per article, received over the last 30 days; then one rejected
# receipt for every ten articles, with a reason from a handful.
RECEIPTS = """
INSERT INTO raw_pages (id, content_hash, content, size, content_type, url, source, received_at,
                       outcome, reason, article_id)
SELECT a.id, sha256(int8send(a.id)), convert_to(a.headline, 'UTF8'), length(a.headline), 'html',
       a.url, a.source, now() - (mod(a.id, 43200)) * interval '1 minute', 'stored', NULL, a.id
FROM articles AS a;
INSERT INTO sightings (receipt_key, raw_page_id, article_id, outcome, match, url, source,
                       received_at)
SELECT 'bench-' || p.id, p.id, p.article_id, 'stored', 'new', p.url, p.source, p.received_at
FROM raw_pages AS p;
INSERT INTO raw_pages (id, content_hash, content, size, content_type, url, source, received_at,
                       outcome, reason, detail)
SELECT n, sha256(int8send(n)), convert_to(repeat('<p>menu</p>', 50), 'UTF8'), 550, 'html',
       'https://example.com/rejected/' || n, 'source-' || lpad(mod(n, 40)::text, 2, '0'),
       now() - mod(n, 43200) * interval '1 minute', 'rejected',
       (ARRAY['no_body', 'no_headline', 'empty', 'too_large'])[1 + mod(n, 4)], 'bench'
FROM generate_series(CAST(%(first)s AS bigint), CAST(%(last)s AS bigint)) AS n;
INSERT INTO sightings (receipt_key, raw_page_id, outcome, url, source, received_at)
SELECT 'bench-' || p.id, p.id, 'rejected', p.url, p.source, p.received_at
FROM raw_pages AS p WHERE p.id >= %(first)s;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def add_receipts(url: str) -> None:
    """Give the loaded articles raw pages and sightings, and add rejected receipts."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        (articles,) = conn.execute("SELECT count(*) FROM articles").fetchone()  # type: ignore[misc]
        params = {"first": articles + 1, "last": articles + articles // 10}
        for statement in filter(str.strip, RECEIPTS.split(";")):
            conn.execute(statement, params if "%(first)s" in statement else None)  # type: ignore[arg-type]
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('raw_pages', 'id'), %s)", (params["last"],)
        )
        conn.execute("VACUUM ANALYZE raw_pages")
        conn.execute("VACUUM ANALYZE sightings")
    print(f"receipts: {time.perf_counter() - started:.0f}s")


def measure(url: str, runs: int) -> None:
    """Start `newsingest serve` on `url` and print p50/p95 milliseconds per page."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env |= {"NEWSINGEST_DATABASE_URL": url, "NEWSINGEST_LOG_FORMAT": "json"}
    newsingest = Path(sys.executable).with_name("newsingest")
    server = subprocess.Popen(
        [str(newsingest), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/sources", timeout=60)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        (articles,) = psycopg.connect(url).execute("SELECT count(*) FROM articles").fetchone()  # type: ignore[misc]
        print(f"{articles:,} articles; {runs} GETs of each page after 2 warm-ups")
        print(f"{'page':<32} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>6}")
        with httpx.Client(timeout=60) as client:
            for path in PAGES:
                times = []
                size = 0
                for run in range(runs + 2):
                    began = time.perf_counter()
                    response = client.get(base + path)
                    elapsed = (time.perf_counter() - began) * 1000
                    response.raise_for_status()
                    size = len(response.content)
                    if run >= 2:
                        times.append(elapsed)
                p95 = statistics.quantiles(times, n=20)[18]
                print(f"{path:<32} {statistics.median(times):8.1f} {p95:8.1f} {size / 1024:6.0f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Create, load, measure and drop a scratch database (or measure one given)."""
    run_on_loaded_database("serve", measure, articles=200_000, runs=20, prepare=add_receipts)


if __name__ == "__main__":
    main()
