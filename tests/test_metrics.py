"""A real worker's Prometheus metrics, scraped over HTTP and checked against the database."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from celery import Celery
from conftest import DUMP, DUMP_HEADLINE, EXAMPLES, REPO, StartWorker, query, run_cli, wait_for
from prometheus_client.parser import text_string_to_metric_families
from test_faults import HeadlineLock

from tests.crawl.crawlkit import (  # noqa: F401 - fixtures are found by name in this module
    Reply,
    Site,
    crawl_db_fixture,
    key_prefix_fixture,
    redis_client_fixture,
    site_fixture,
)
from worker.pipeline.headline import headline_key

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> Samples | None:
    """Every sample /metrics shows, by name and labels; None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError):
        return None
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scraped(port: int) -> Samples:
    samples = _scrape(port)
    assert samples is not None, f"nothing answers on port {port}"
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _pages_by_label(samples: Samples) -> Counter[tuple[str, str, str]]:
    """newsingest_pages_total as (source, outcome, reason) -> count, zeros left out."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for (name, labels), value in samples.items():
        if name == "newsingest_pages_total" and value:
            label = dict(labels)
            counts[label["source"], label["outcome"], label["reason"]] += int(value)
    return counts


def _pages_in_database(db: str) -> Counter[tuple[str, str, str]]:
    """Sightings as (source, outcome, reason) -> count: what `newsingest stats` adds up."""
    rows = query(
        db,
        "SELECT s.source, s.outcome::text, "
        "CASE WHEN s.outcome = 'rejected' THEN r.reason ELSE '' END, count(*) "
        "FROM sightings s JOIN raw_pages r ON r.id = s.raw_page_id GROUP BY 1, 2, 3",
    )
    return Counter({(source, outcome, reason): n for source, outcome, reason, n in rows})


def _count(db: str, sql: str) -> int:
    return int(query(db, sql)[0][0])


def _enqueue(env: dict[str, str], *args: str) -> int:
    """Enqueue as a user would; returns how many batches were sent."""
    result = run_cli("enqueue", *args, env=env)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split(" batch")[0].rsplit(" ", 1)[1])


def _bad_inputs(folder: Path) -> Path:
    """Dumps that are rejected for four different reasons."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "garbage.bin").write_bytes(random.Random(3).randbytes(4096))
    with (folder / "huge.txt").open("wb") as huge:
        huge.truncate(6 * 1024 * 1024)  # past the 5 MiB page limit (sparse: cheap to make)
    (folder / "index.html").write_bytes((REPO / "tests/data/no-article.html").read_bytes())
    return folder


def _start_with_metrics(
    start_worker: StartWorker, **env: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    worker = start_worker(NEWSINGEST_METRICS_PORT=str(port), **env)
    wait_for(lambda: _scrape(port) is not None, what="the worker's /metrics")
    return worker, port


# A follow-up of the example story under its own headline: a new article, held at its lock.
LATE_HEADLINE = "Kenya extends flood shelters to Lamu"


@pytest.fixture
def headline_lock(db: str) -> Iterator[HeadlineLock]:
    lock = HeadlineLock(db, headline_key(LATE_HEADLINE))
    yield lock
    lock.release()


def test_scraped_counts_match_the_database_and_survive_a_killed_pool_process(
    service_env: dict[str, str],
    start_worker: StartWorker,
    db: str,
    tmp_path: Path,
    headline_lock: HeadlineLock,
) -> None:
    worker, port = _start_with_metrics(start_worker)
    batches = _enqueue(service_env, str(EXAMPLES), "--source", "wire", "--batch-size", "2")
    batches += _enqueue(service_env, str(_bad_inputs(tmp_path / "bad")), "--source", "junk")
    batches += _enqueue(service_env, str(EXAMPLES), "--source", "mirror")  # all duplicates
    # A pickle, refused unread and recorded by the worker's main process, not a pool process.
    producer = Celery(broker=service_env["NEWSINGEST_BROKER_URL"])
    producer.conf.task_serializer = "pickle"
    try:
        producer.send_task(
            "ingest.batch",
            args=[[{"content": "pickled"}]],
            queue=service_env["NEWSINGEST_QUEUE"],
            serializer="pickle",
        )
    finally:
        producer.close()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 11, what="11 sightings")

    samples = _scraped(port)
    in_database = _pages_in_database(db)
    assert in_database[("wire", "stored", "")] == 2
    assert in_database[("mirror", "duplicate", "")] == 3
    assert {reason for source, _, reason in in_database if source == "junk"} == {
        "empty",
        "binary",
        "too_large",
        "no_body",
    }
    assert in_database[("broker", "rejected", "invalid_message")] == 1
    assert _pages_by_label(samples) == in_database
    assert _value(samples, "newsingest_batches_total", result="ingested") == batches
    assert _value(samples, "newsingest_batch_duration_seconds_count") == batches
    for stage in ("clean", "classify", "store"):
        cpu = _value(samples, "newsingest_stage_cpu_seconds_total", stage=stage)
        assert cpu is not None
        assert cpu > 0

    # A pool process killed in the middle of a batch: its counts so far stay in the totals, its
    # batch in progress stops counting, and the batch, redelivered, is counted once.
    (child,) = psutil.Process(worker.pid).children()
    late = tmp_path / "late.txt"
    late.write_text(DUMP.read_text().replace(DUMP_HEADLINE, LATE_HEADLINE))
    _enqueue(service_env, str(late), "--source", "late")
    wait_for(lambda: headline_lock.waiting_backend() is not None, what="the batch at its lock")
    assert _value(_scraped(port), "newsingest_batches_in_progress") == 1
    os.kill(child.pid, signal.SIGKILL)
    # The dead process's database backend waits on the lock beside the redelivered batch's.
    wait_for(lambda: len(headline_lock.waiting_backends()) == 2, what="the redelivered batch")
    (replacement,) = psutil.Process(worker.pid).children()
    assert replacement.pid != child.pid
    assert _value(_scraped(port), "newsingest_batches_in_progress") == 1
    headline_lock.release()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 12, what="the late page")
    wait_for(
        lambda: _value(_scraped(port), "newsingest_batches_in_progress") == 0,
        what="no batch in progress",
    )

    samples = _scraped(port)
    in_database = _pages_in_database(db)
    assert in_database[("late", "stored", "")] == 1
    assert _pages_by_label(samples) == in_database
    assert _value(samples, "newsingest_batches_total", result="ingested") == batches + 1
    assert worker.poll() is None


def test_queue_depths_are_read_from_the_broker_when_scraped(
    service_env: dict[str, str], start_worker: StartWorker, db: str
) -> None:
    from worker.config import Settings
    from worker.deadletter import put_dead_batch

    queue = service_env["NEWSINGEST_QUEUE"]
    worker, port = _start_with_metrics(start_worker, NEWSINGEST_METRICS_MAX_SOURCES="1")
    settings = Settings(broker_url=service_env["NEWSINGEST_BROKER_URL"], queue=queue)
    put_dead_batch(settings=settings, pages=[{"content": "x"}], task_id="t", error="gone")

    # With its one pool process stopped, the worker holds one batch and the rest wait in Redis.
    (child,) = psutil.Process(worker.pid).children()
    os.kill(child.pid, signal.SIGSTOP)
    try:
        _enqueue(service_env, str(EXAMPLES), "--source", "first", "--batch-size", "1")
        broker = redis.Redis.from_url(service_env["NEWSINGEST_BROKER_URL"])
        wait_for(lambda: broker.llen(queue) == 2, what="two batches left waiting")
        samples = _scraped(port)
        assert _value(samples, "newsingest_queue_depth", queue=queue) == 2
        assert _value(samples, "newsingest_queue_depth", queue=f"{queue}.crawl") == 0
        assert _value(samples, "newsingest_dead_letter_depth", queue=f"{queue}.dead") == 1
    finally:
        os.kill(child.pid, signal.SIGCONT)
    _enqueue(service_env, str(EXAMPLES), "--source", "second")
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 6, what="6 sightings")

    samples = _scraped(port)
    assert _value(samples, "newsingest_queue_depth", queue=queue) == 0
    # One source gets a label of its own; the next counts as "other".
    pages = _pages_by_label(samples)
    assert pages[("first", "stored", "")] + pages[("first", "duplicate", "")] == 3
    assert pages[("other", "duplicate", "")] == 3
    assert not any(source == "second" for source, _, _ in pages)


def test_metrics_are_off_by_default(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str
) -> None:
    _enqueue(service_env, str(EXAMPLES))
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 3, what="3 sightings")
    tree = [psutil.Process(worker_process.pid), *psutil.Process(worker_process.pid).children()]
    listening = [
        conn
        for process in tree
        for conn in process.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert listening == []
    made = list(Path(tempfile.gettempdir()).glob(f"newsingest-metrics-{worker_process.pid}-*"))
    assert made == []


def test_a_worker_without_metrics_never_imports_prometheus_client() -> None:
    # What a pool process loads to run batches and crawls, and the worker's main process.
    program = (
        "import sys, worker.app, worker.tasks, worker.crawl.tasks, worker.ingest\n"
        "print('prometheus_client' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_crawl_fetches_are_counted_by_source_outcome_and_status(
    *,
    site: Site,
    crawl_db: str,
    service_env: dict[str, str],
    start_worker: StartWorker,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    robots = b"User-agent: *\nDisallow: /private/\n"
    site.route("/robots.txt", lambda n, _: Reply(200, {"Content-Type": "text/plain"}, robots))
    paths = ["/news/one", "/news/two", "/news/gone", "/private/three"]
    items = "".join(f"<item><link>{site.url(path)}</link></item>" for path in paths)
    feed = f"<rss version='2.0'><channel>{items}</channel></rss>".encode()
    site.route("/feed.xml", lambda n, _: Reply(200, {"Content-Type": "application/rss+xml"}, feed))
    for path in paths[:2]:
        body = (REPO / "examples/dumps/osaka-trams.html").read_bytes()
        site.page(path, body.replace(b"Osaka", path.encode()))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "alpha"\nfeeds = ["{site.url("/feed.xml")}"]\ninterval = "1h"\n',
        encoding="utf-8",
    )
    _, port = _start_with_metrics(
        start_worker,
        NEWSINGEST_SOURCES=str(sources),
        NEWSINGEST_ALLOW_PRIVATE_ADDRESSES="true",
        NEWSINGEST_HOST_INTERVAL="0",
        NEWSINGEST_CRAWL_KEY_PREFIX=key_prefix,
    )
    sender = Celery(f"metrics-test-{os.getpid()}", broker=service_env["NEWSINGEST_BROKER_URL"])
    try:
        sender.send_task(
            "crawl.source", args=["alpha"], queue=f"{service_env['NEWSINGEST_QUEUE']}.crawl"
        )
    finally:
        sender.close()
    wait_for(
        lambda: query(crawl_db, "SELECT last_status FROM crawl_sources") == [("ok",)],
        what="the crawl to finish",
    )

    fetches = {
        (dict(labels)["outcome"], dict(labels)["status"]): value
        for (name, labels), value in _scraped(port).items()
        if name == "newsingest_crawl_fetches_total" and dict(labels)["source"] == "alpha"
    }
    assert fetches == {
        ("ok", "200"): 3,  # the feed and two pages
        ("http_error", "404"): 1,
        ("disallowed", "none"): 1,
    }
    assert len(site.asked("/news/gone")) == 1
    assert site.asked("/private/three") == []
