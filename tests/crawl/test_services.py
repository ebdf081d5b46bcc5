"""The crawler as deployed: `crawl.source` tasks on two real workers sharing one host's spacing and
feeding real ingest, and the `crawl` and `sources` commands run as a user runs them."""

from __future__ import annotations

import itertools
import subprocess
import uuid
from pathlib import Path

import redis
from celery import Celery

from tests.conftest import REDIS_URL, newsingest_bin, query, run_cli, wait_for
from tests.crawl.crawlkit import (  # noqa: F401 - fixtures are found by name in this module
    Reply,
    Site,
    crawl_db_fixture,
    key_prefix_fixture,
    queued_pages,
    redis_client_fixture,
    site_fixture,
    start_worker,
    stop_workers,
)

INTERVAL = 0.4


def story(n: str) -> bytes:
    return (
        f"<html><head><title>Story {n}: flood warning for Mombasa</title>"
        f'<meta property="article:published_time" content="2026-11-2{len(n) % 9}T08:00:00Z">'
        # A NUL escaped in JSON-LD, as an ordinary page may carry: PostgreSQL text cannot hold it.
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"author": {"name": "Jane\\u0000Doe"}}</script>'
        f"</head><body><article><h1>Story {n}: flood warning for Mombasa</h1>"
        f"<p>Kenya's meteorological department warned on Tuesday of heavy rain around Mombasa, "
        f"story {n}, and asked residents of low-lying areas to move to higher ground.</p>"
        f"<p>Rivers in the coastal region rose overnight, officials said.</p>"
        f"</article></body></html>"
    ).encode()


def publish_site(site: Site, names: list[str], pages: int) -> None:
    site.route(
        "/robots.txt",
        lambda n, _: Reply(
            200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
        ),
    )
    for name in names:
        paths = [f"/{name}/story-{i}" for i in range(pages)] + [f"/private/{name}"]
        items = "".join(f"<item><link>{site.url(p)}</link></item>" for p in paths)
        body = f"<rss version='2.0'><channel>{items}</channel></rss>".encode()
        site.route(
            f"/{name}.xml",
            lambda n, _, body=body: Reply(200, {"Content-Type": "application/rss+xml"}, body),
        )
        for path in paths:
            site.page(path, story(path))


def crawl_env(service_env: dict[str, str], sources: Path, key_prefix: str) -> dict[str, str]:
    return service_env | {
        "NEWSINGEST_SOURCES": str(sources),
        "NEWSINGEST_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSINGEST_HOST_INTERVAL": str(INTERVAL),
        "NEWSINGEST_CRAWL_KEY_PREFIX": key_prefix,
        "NEWSINGEST_READ_TIMEOUT": "2",
        "NEWSINGEST_LOG_LEVEL": "INFO",
    }


def write_sources(path: Path, site: Site, names: list[str], revisit: str = "6h") -> Path:
    tables = [
        f'[[source]]\nname = "{name}"\nfeeds = ["{site.url(f"/{name}.xml")}"]\n'
        f'interval = "1h"\nrevisit = "{revisit}"\n\n'
        for name in names
    ]
    path.write_text("".join(tables), encoding="utf-8")
    return path


def test_two_workers_crawl_one_host_apart_and_the_pages_are_ingested(
    site: Site, crawl_db: str, service_env: dict[str, str], key_prefix: str, tmp_path: Path
) -> None:
    names = ["alpha", "beta"]
    publish_site(site, names, pages=4)
    env = crawl_env(service_env, write_sources(tmp_path / "sources.toml", site, names), key_prefix)
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = [start_worker(env, log) for log in logs]
    try:
        wait_for(
            lambda: all("ready" in log.read_text(errors="replace") for log in logs),
            timeout=120,
            what="both workers to be ready",
        )
        sender = Celery(f"crawltest-{uuid.uuid4().hex[:6]}", broker=REDIS_URL)
        for name in names:
            sender.send_task("crawl.source", args=[name], queue=env["NEWSINGEST_QUEUE"])
        expected = {site.url(f"/{name}/story-{i}") for name in names for i in range(4)}
        wait_for(
            lambda: {row[0] for row in query(crawl_db, "SELECT url FROM sightings")} == expected,
            timeout=120,
            what="the crawled pages to be ingested",
        )
        wait_for(
            lambda: (
                len(query(crawl_db, "SELECT 1 FROM crawl_sources WHERE last_status = 'ok'")) == 2
            ),
            timeout=30,
            what="both crawls to finish",
        )
    finally:
        stop_workers(workers)
        sender.close()

    assert query(crawl_db, "SELECT DISTINCT byline FROM articles") == [("Jane\ufffdDoe",)]
    sources_seen = query(crawl_db, "SELECT DISTINCT source FROM sightings ORDER BY source")
    assert sources_seen == [("alpha",), ("beta",)]
    recorded = dict(query(crawl_db, "SELECT url, last_outcome FROM crawl_urls WHERE kind = 'page'"))
    assert {url for url, outcome in recorded.items() if outcome == "enqueued"} == expected
    assert site.asked("/private/alpha") == site.asked("/private/beta") == []

    # Both crawls ran at once, on different workers, yet the host saw one request per interval.
    alpha = [hit.at for hit in site.hits if hit.path.startswith("/alpha")]
    beta = [hit.at for hit in site.hits if hit.path.startswith("/beta")]
    assert min(alpha) < max(beta)
    assert min(beta) < max(alpha)
    times = sorted(hit.at for hit in site.hits)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= INTERVAL - 0.03


def test_crawl_once_by_hand_enqueues_and_sources_shows_the_state(
    *,
    site: Site,
    crawl_db: str,
    service_env: dict[str, str],
    key_prefix: str,
    tmp_path: Path,
    redis_client: redis.Redis,
) -> None:
    publish_site(site, ["gamma"], pages=3)
    site.route("/dead.xml", lambda n, _: Reply(404))
    sources = write_sources(tmp_path / "sources.toml", site, ["gamma"], revisit="0s")
    sources.write_text(
        sources.read_text() + f'[[source]]\nname = "dead"\nfeeds = ["{site.url("/dead.xml")}"]\n',
        encoding="utf-8",
    )
    env = crawl_env(service_env, sources, key_prefix) | {
        "NEWSINGEST_HOST_INTERVAL": "0",
        "NEWSINGEST_LOG_LEVEL": "WARNING",
    }
    queue = env["NEWSINGEST_QUEUE"]
    try:
        # Every active source, once: gamma enqueues its pages, dead fails (exit 1).
        done = run_cli("crawl", "--once", env=env)
        assert done.returncode == 1, done.stderr
        assert "gamma: 3 enqueued" in done.stdout
        assert "404" in done.stderr
        pages = queued_pages(redis_client, queue)
        assert {page["url"] for page in pages} == {site.url(f"/gamma/story-{i}") for i in range(3)}
        assert {page["source"] for page in pages} == {"gamma"}

        again = run_cli("crawl", "gamma", "--once", env=env)
        assert again.returncode == 0, again.stderr
        assert "gamma: 3 not modified" in again.stdout
        assert len(queued_pages(redis_client, queue)) == 3  # nothing new was enqueued

        listing = run_cli("sources", env=env)
        assert listing.returncode == 0, listing.stderr
        rows = {
            line.split()[1]: line
            for line in listing.stdout.splitlines()
            if line.startswith("│ ") and line.split()[1] in ("gamma", "dead")
        }
        assert "ok" in rows["gamma"]
        assert "failed" in rows["dead"]
    finally:
        redis_client.delete(queue)


def test_beat_without_sources_says_so_and_keeps_its_schedule_in_the_data_dir(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    data = tmp_path / "data"
    env = {k: v for k, v in service_env.items() if k != "NEWSINGEST_SOURCES"}
    env |= {"NEWSINGEST_DATA_DIR": str(data), "NEWSINGEST_LOG_FORMAT": "json"}
    log = tmp_path / "beat.log"
    with log.open("wb") as sink:
        beat = subprocess.Popen(
            [newsingest_bin(), "beat"], cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_for(
                lambda: "beat_has_no_sources" in log.read_text(errors="replace"),
                timeout=60,
                what="beat's warning",
            )
            wait_for(
                lambda: any(data.glob("celerybeat-schedule*")), timeout=30, what="the schedule"
            )
        finally:
            beat.terminate()
            beat.wait(timeout=30)
    assert "NEWSINGEST_SOURCES is not set" in log.read_text(errors="replace")
    assert list(workdir.iterdir()) == []
