"""One status page per test module: a database of its own holding really ingested pages (hostile
ones among them), a queue with batches waiting, and `newsingest serve` running as a real process.
"""

from __future__ import annotations

import random
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from conftest import (
    EXAMPLES,
    REDIS_URL,
    RUN_ID,
    newsingest_bin,
    run_cli,
    service_environment,
    stop_process,
    wait_for,
)

from worker.claims import drop_queue

# A headline that runs script if the page ever writes it as markup: the script sets the title and
# adds an element, the image's error handler sets the title.
HOSTILE_HEADLINE = (
    "Minister <script>document.title='pwned';"
    "document.body.appendChild(document.createElement('div')).id='pwned'</script> "
    "<img src=x onerror=\"document.title='pwned'\"> visits Nairobi"
)
HOSTILE_SOURCE = "<b onmouseover=\"document.title='pwned'\">wire</b>"
# Rejected (it has no text), and its raw content is script: shown on the raw page as text.
HOSTILE_REJECT = (
    "<html><head><script>document.title='pwned'</script></head>"
    "<body><img src=x onerror=\"document.title='pwned'\"></body></html>"
)
# Rejected too (no headline), and larger than the page shows of a raw dump.
BIG_REJECT = "<html><body>" + "<p>0123456789 abcdefghij</p>\n" * 12_000 + "</body></html>"
STORIES_FOR_PAGING = 23
ENQUEUED_BATCHES = 3

_PLACES = ("Nairobi", "Paris", "Tokyo", "Lima", "Cairo", "Delhi", "Manchester")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_page() -> str:
    """An HTML article whose headline (its <title> and <h1>) holds script and an image."""
    headline = _escape(HOSTILE_HEADLINE)
    paragraphs = (
        "Kenya's foreign minister met officials in Nairobi on Tuesday to discuss flood relief "
        "along the Tana River, where thousands of families have left their homes.",
        "The Kenya Red Cross said shelters in Garissa were full and more were being opened in "
        "the coming days as the water keeps rising across the region.",
        "Officials said schools would stay closed until the water falls, and that roads north "
        "of Garissa remain cut off for trucks carrying food and medicine.",
    )
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    # The newest story of all, so that it is on every first page.
    published = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{headline}</title>"
        f'<meta property="article:published_time" content="{published}"></head>'
        f"<body><article><h1>{headline}</h1>{body}</article></body></html>"
    )


def text_dump(n: int) -> str:
    """A distinct plain-text news dump, dated in the last fortnight and placed, for the pagination
    and chart tests.

    Its sentences are drawn at random (seeded by `n`) so that no two bodies share enough
    three-word shingles to be linked as one story.
    """
    place = _PLACES[n % len(_PLACES)]
    rng = random.Random(n)
    # Published in the last fortnight (never today, which may not have reached 09:00 yet), so
    # that the page's chart of the last 14 days draws every one of them.
    published = datetime.now(UTC).date() - timedelta(days=1 + n % 12)

    def sentence() -> str:
        words = rng.sample(_WORDS, 14)
        return f"{words[0].capitalize()} {' '.join(words[1:])} in {place}."

    paragraphs = [" ".join(sentence() for _ in range(3)) for _ in range(3)]
    return (
        f"Page last updated at 09:{n:02d} GMT, {published:%A, %-d %B %Y}\n\n"
        f"Council in {place} approves plan number {n} for new cycle lanes\n\n"
        + "\n\n".join(paragraphs)
        + "\n"
    )


_VOCABULARY = (
    "council budget river bridge market teachers hospital station harbour farmers election "
    "minister museum festival railway airport school factory workers union protest court "
    "judge police storm harvest village mayor tourists library stadium concert "
    "engineers doctors nurses students parliament ministry report inquiry survey region "
    "coast mountain valley forest desert island province district capital suburb "
    "yesterday quickly slowly openly finally again recently later earlier often rarely "
    "approved rejected announced delayed opened closed repaired built expanded reduced "
    "funding prices wages rents taxes fares tickets permits licences contracts loans"
)
_WORDS = _VOCABULARY.split()


@dataclass(frozen=True)
class StatusSite:
    """A running status page and what it was given."""

    url: str  # http://127.0.0.1:PORT
    database_url: str
    env: dict[str, str]
    serve_log: Path
    start: Callable[..., tuple[str, Path]]  # start another page: (url, log) with env overrides


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _page_answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=5).status_code in (200, 500, 503)
    except httpx.TransportError:
        return False


@contextmanager
def running_status_site(
    empty_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatusSite]:
    """Ingest real pages into a new database, leave batches on a queue, and serve the page
    (a test module's fixture: `with running_status_site(...) as site: yield site`)."""
    from worker.store import upgrade_database

    database_url = empty_database()
    upgrade_database(database_url)
    queue = f"test-{RUN_ID}-page-{uuid.uuid4().hex[:6]}"
    env = service_environment(database_url=database_url, queue=queue)
    dumps = tmp_path_factory.mktemp("dumps")
    wire = dumps / "wire"
    wire.mkdir()
    for n in range(STORIES_FOR_PAGING):
        (wire / f"plan-{n:02d}.txt").write_text(text_dump(n), encoding="utf-8")
    hostile = dumps / "hostile"
    hostile.mkdir()
    (hostile / "headline.html").write_text(hostile_page(), encoding="utf-8")
    (hostile / "script-only.html").write_text(HOSTILE_REJECT, encoding="utf-8")
    (hostile / "empty.txt").write_text("", encoding="utf-8")
    (hostile / "big.html").write_text(BIG_REJECT, encoding="utf-8")

    for args in (
        (str(EXAMPLES), "--source", "bbc"),
        (str(wire), "--source", "wire"),
        (str(hostile), "--source", HOSTILE_SOURCE),
    ):
        result = run_cli("ingest", *args, env=env)
        assert result.returncode in (0, 1), result.stderr
    # Batches left waiting: no worker reads this queue.
    waiting = dumps / "waiting"
    waiting.mkdir()
    for n in range(ENQUEUED_BATCHES):
        (waiting / f"later-{n}.txt").write_text(text_dump(100 + n), encoding="utf-8")
    enqueued = run_cli("enqueue", str(waiting), "--batch-size", "1", env=env)
    assert enqueued.returncode == 0, enqueued.stderr

    logs = tmp_path_factory.mktemp("serve")
    started: list[tuple[subprocess.Popen[bytes], object]] = []

    def start(**overrides: str) -> tuple[str, Path]:
        port = free_port()
        log_path = logs / f"serve-{len(started)}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [newsingest_bin(), "serve", "--port", str(port)],
            env=env | overrides,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: proc.poll() is not None or _page_answers(url),
            timeout=60,
            what=f"newsingest serve on {url} (log: {log_path})",
        )
        assert proc.poll() is None, log_path.read_text(encoding="utf-8", errors="replace")
        return url, log_path

    try:
        url, log_path = start()
        yield StatusSite(url, database_url, env, log_path, start)
    finally:
        for proc, log in started:
            stop_process(proc)
            log.close()  # type: ignore[attr-defined]
        client = redis.Redis.from_url(REDIS_URL)
        drop_queue(client, queue)
        client.close()
