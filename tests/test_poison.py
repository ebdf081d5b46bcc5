"""Hostile messages against a real worker: nothing lost, nothing doubled, no worker stopped.

Each case is one that lost or stalled batches before (issue #22): a NUL byte where PostgreSQL text
cannot hold one, a message nested too deep for the pool's pickle, a task id no key can hold,
a claim of another queue, a message past the limits, a date no driver reads back. Each ends with
the books balanced (`newsingest stats` exits 0) and the worker still consuming.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import (
    EXAMPLES,
    SEED,
    StartWorker,
    query,
    run_cli,
    wait_for,
)

from worker.claims import CLAIM_PREFIX, frame_pages
from worker.packing import zstd_compress

# An undated text dump that cleans to an article (no date: its dedupe key is headline + source).
UNDATED = """River ferry service returns after winter repairs

The ferry that links the two halves of the valley town carried its first passengers of the year \
on Monday morning, after a winter spent in the boatyard having its engine and hull repaired.

Regular passengers said the crossing had been missed. Many had driven an extra forty minutes each \
day to reach the bridge upstream while the boat was out of service.

The operator said the timetable would return to a crossing every twenty minutes from next week, \
once the crew had finished their training on the new engine.
"""


def _long_with_a_nul(headline: str) -> str:
    """A dump of ~11 KB whose last paragraph, past the 8 KiB the binary sniff reads, holds a NUL."""
    paragraphs = [
        f"Crossing number {i} was made by the ferry crew in {i % 7 + 3} minutes, and the captain "
        f"said passengers on the {i}th trip asked about the new engine and the spring timetable."
        for i in range(60)
    ]
    paragraphs[-1] = paragraphs[-1].replace("captain", "cap\x00tain")
    return UNDATED.replace("River ferry", headline) + "\n" + "\n\n".join(paragraphs) + "\n"


def _count(db: str, sql: str) -> int:
    return int(query(db, sql)[0][0])


def _books_balance(env: dict[str, str]) -> None:
    books = run_cli("stats", env=env)
    assert books.returncode == 0, books.stdout + books.stderr


def _good_dumps(folder: Path, n: int) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"good-{i}.txt"
        path.write_text(UNDATED.replace("River ferry", f"Ferry number {i}"), encoding="utf-8")
        paths.append(path)
    return paths


def _rewrite_queued(
    env: dict[str, str], *, body: Callable[[Any], Any] | None = None, headers: dict[str, Any]
) -> redis.Redis:
    """Rewrite the one message waiting on the test queue as a hostile producer could send it:
    its decoded body through `body` (JSON text in, JSON text out), and headers updated."""
    broker = redis.Redis.from_url(env["NEWSINGEST_BROKER_URL"])
    queue = env["NEWSINGEST_QUEUE"]
    (raw,) = broker.lrange(queue, 0, -1)
    envelope = json.loads(raw)
    assert "compression" not in envelope["headers"]
    if body is not None:
        text = base64.b64decode(envelope["body"]).decode()
        envelope["body"] = base64.b64encode(body(text).encode()).decode("ascii")
    envelope["headers"].update(headers)
    broker.lset(queue, 0, json.dumps(envelope))
    return broker


def _enqueue(env: dict[str, str], *paths: Path, **options: str) -> None:
    extra = [arg for name, value in options.items() for arg in (f"--{name}", value)]
    result = run_cli("enqueue", *map(str, paths), *extra, env=env)
    assert result.returncode == 0, result.stderr


def test_a_nul_byte_past_the_binary_sniff_loses_nothing(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    good = _good_dumps(tmp_path / "in", 20)
    # Past the first 8 KiB that the binary sniff reads: an ordinary page with one NUL in it.
    nul = tmp_path / "in" / "nul.txt"
    nul.write_text(_long_with_a_nul("Canal barge"))
    _enqueue(service_env, *good, nul)
    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 21, what="21 receipts")
    assert _count(db, "SELECT count(*) FROM articles") == 21
    body = query(db, "SELECT body FROM articles WHERE headline LIKE %s", "Canal barge%")[0][0]
    assert "\x00" not in body
    assert "cap\ufffdtain said passengers on the 59th trip" in body
    # The raw page keeps the byte as it came.
    (raw,) = query(db, "SELECT content FROM raw_pages WHERE position(%s in content) > 0", b"\0")
    assert b"cap\x00tain" in bytes(raw[0])
    _books_balance(service_env)
    assert worker.poll() is None


def test_a_nul_in_every_text_field_of_a_message_loses_nothing(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    _enqueue(service_env, *_good_dumps(tmp_path / "in", 3))

    def poison(text: str) -> str:
        args, kwargs, embed = json.loads(text)
        (pages,) = args
        pages[0]["source"] = "src\u0000a"
        pages[1]["url"] = "https://example.org/a\u0000b"
        pages[1]["id"] = "id\u0000x"
        pages[2]["content_type"] = "text/plain\u0000"
        html = (
            '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
            '"author": {"name": "Jane\\u0000Doe"}}</script></head><body><h1>Jane and the '
            "ferry</h1>" + "".join(f"<p>{p}</p>" for p in UNDATED.split("\n\n")[1:]) + "</body>"
        )
        pages.append({"content": html, "content_type": "text/html", "source": "crawl"})
        return json.dumps([args, kwargs, embed])

    _rewrite_queued(service_env, body=poison, headers={})
    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 4, what="4 receipts")
    assert _count(db, "SELECT count(*) FROM sightings WHERE outcome = 'stored'") == 4
    assert query(db, "SELECT count(*) FROM sightings WHERE source = 'src\ufffda'")[0][0] == 1
    assert query(db, "SELECT byline FROM articles WHERE source = 'crawl'")[0][0] == "Jane\ufffdDoe"
    _books_balance(service_env)
    assert worker.poll() is None


def test_newsingest_ingest_of_a_folder_with_a_nul_stores_every_page(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    _good_dumps(folder, 20)
    (folder / "nul.txt").write_text(_long_with_a_nul("Canal barge"))
    result = run_cli("ingest", str(folder), env=service_env)
    assert result.returncode == 0, result.stderr
    assert _count(db, "SELECT count(*) FROM articles") == 21
    _books_balance(service_env)


def test_a_message_nested_too_deep_for_the_pool_is_recorded_and_the_worker_lives(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    _enqueue(service_env, *_good_dumps(tmp_path / "in", 1))
    deep = "[" * 900 + "]" * 900  # valid JSON; orjson reads up to 1,024 levels

    def nest(text: str) -> str:
        args, kwargs, embed = json.loads(text)
        args[0][0]["source"] = "DEEP"
        return json.dumps([args, kwargs, embed]).replace('"DEEP"', deep)

    _rewrite_queued(service_env, body=nest, headers={})
    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
    reason, detail = query(db, "SELECT reason, detail FROM raw_pages")[0]
    assert reason == "invalid_message"
    assert "nests deeper than" in detail
    # The worker goes on with good work.
    _enqueue(service_env, SEED if SEED.exists() else EXAMPLES)
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") >= 1, what="the next batch")
    assert worker.poll() is None
    _books_balance(service_env)


def test_an_undecodable_message_whose_task_id_holds_a_nul_is_recorded(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    _enqueue(service_env, *_good_dumps(tmp_path / "in", 1))
    _rewrite_queued(service_env, body=lambda _: "not json", headers={"id": "task\u0000" * 300})
    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
    (key,) = query(db, "SELECT receipt_key FROM sightings")[0]
    assert key.startswith("refused:sha256:")
    _enqueue(service_env, *_good_dumps(tmp_path / "more", 1))
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 1, what="the next batch")
    assert worker.poll() is None
    _books_balance(service_env)


def test_a_message_past_the_size_limit_is_refused_unread_and_kept(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):  # 3 x 600 KB: past a 1 MiB message limit, under the page limit
        (folder / f"big-{i}.txt").write_text(UNDATED + f"Paragraph {i}. " * 45_000)
    # Inline and uncompressed (no claims, no compression) as a producer in another language
    # might send it.
    _enqueue(service_env, *_good_dumps(tmp_path / "small", 1))
    big = json.dumps([[{"content": (folder / f"big-{i}.txt").read_text()} for i in range(3)]])
    _rewrite_queued(service_env, body=lambda _: big[:-1] + ', {}, {"callbacks": null}]', headers={})
    worker = start_worker(NEWSINGEST_MAX_MESSAGE_BYTES=str(1024 * 1024))
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
    reason, detail, size = query(db, "SELECT reason, detail, size FROM raw_pages")[0]
    assert reason == "invalid_message"
    assert "at most 1,048,576 are read" in detail
    assert size > 1024 * 1024  # the size that arrived; the first 5 MiB of it are kept
    assert worker.poll() is None
    _books_balance(service_env)


def _queue_a_claim(env: dict[str, str], tmp_path: Path, key: str, *, pages: int) -> bytes:
    """Keep a claim of `pages` dumps at `key` and queue the one message naming it; its bytes."""
    _enqueue(env, *_good_dumps(tmp_path / "in", 1))
    payload = zstd_compress(frame_pages([{"content": UNDATED} for _ in range(pages)]))
    redis.Redis.from_url(env["NEWSINGEST_BROKER_URL"]).set(key, payload)
    message = [[{"claim": key, "pages": pages}], {}, {"callbacks": None}]
    _rewrite_queued(env, body=lambda _: json.dumps(message), headers={})
    return payload


def test_a_claim_with_more_pages_than_the_limit_is_a_rejection_keeping_its_bytes(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    key = f"{CLAIM_PREFIX}{service_env['NEWSINGEST_QUEUE']}:{uuid.uuid4().hex}"
    payload = _queue_a_claim(service_env, tmp_path, key, pages=50)
    worker = start_worker(NEWSINGEST_MAX_MESSAGE_PAGES="20")
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
    reason, content = query(db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages")[0]
    assert reason == "invalid_message"
    kept = json.loads(content)
    assert "at most 20 are read" in kept["error"]
    assert base64.b64decode(kept["claim_bytes_base64"]) == payload
    assert worker.poll() is None
    _books_balance(service_env)


def test_a_message_cannot_ingest_another_queues_claim(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    broker = redis.Redis.from_url(service_env["NEWSINGEST_BROKER_URL"])
    other = f"{CLAIM_PREFIX}someone-else-{uuid.uuid4().hex[:6]}:{uuid.uuid4().hex}"
    try:
        payload = _queue_a_claim(service_env, tmp_path, other, pages=1)
        start_worker()
        wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
        assert query(db, "SELECT reason FROM raw_pages")[0][0] == "invalid_message"
        assert _count(db, "SELECT count(*) FROM articles") == 0
        assert broker.get(other) == payload  # neither ingested nor settled
    finally:
        broker.delete(other)
    _books_balance(service_env)


@pytest.mark.parametrize(
    "fetched_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1700-06-01T00:00Z"]
)
def test_a_fetch_time_no_driver_reads_back_is_rejected_at_the_door(
    service_env: dict[str, str],
    start_worker: StartWorker,
    db: str,
    tmp_path: Path,
    fetched_at: str,
) -> None:
    _enqueue(service_env, *_good_dumps(tmp_path / "in", 2))

    def edge(text: str) -> str:
        args, kwargs, embed = json.loads(text)
        args[0][0]["fetched_at"] = fetched_at
        return json.dumps([args, kwargs, embed])

    _rewrite_queued(service_env, body=edge, headers={})
    start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 2, what="both receipts")
    (detail,) = query(db, "SELECT detail FROM raw_pages WHERE outcome = 'rejected'")[0]
    assert "fetched_at must lie between 1800-01-01" in detail
    # Every reader of the receipts still works.
    assert query(db, "SELECT count(fetched_at) FROM newsingest.v1_sightings")[0][0] >= 0
    for command in (["reprocess"], ["rejects", "replay"], ["rejects"]):
        result = run_cli(*command, env=service_env)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
    _books_balance(service_env)


def test_a_nul_in_a_page_travelling_in_a_claim_loses_nothing(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):  # ~100 KB each: past the 256 K characters that make a batch a claim
        text = _long_with_a_nul(f"Lock keeper {i}") + f"Appendix {i}. " * 8_000
        (folder / f"long-{i}.txt").write_text(text)
    _enqueue(service_env, folder)
    broker = redis.Redis.from_url(service_env["NEWSINGEST_BROKER_URL"])
    (raw,) = broker.lrange(service_env["NEWSINGEST_QUEUE"], 0, -1)
    assert b"newsingest:claim:" in base64.b64decode(json.loads(raw)["body"])
    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 3, what="the three articles")
    _books_balance(service_env)
    assert worker.poll() is None


def test_a_dead_lettered_batch_with_a_nul_is_stored_by_replay(
    service_env: dict[str, str], db: str
) -> None:
    from worker.config import Settings
    from worker.deadletter import put_dead_batch

    settings = Settings(
        broker_url=service_env["NEWSINGEST_BROKER_URL"], queue=service_env["NEWSINGEST_QUEUE"]
    )
    pages = [{"content": _long_with_a_nul("Weir repairs"), "source": "dead"}]
    put_dead_batch(settings=settings, pages=pages, task_id="t-nul", error="test")
    replayed = run_cli("rejects", "replay", env=service_env)
    assert replayed.returncode == 0, replayed.stderr
    assert "dead-lettered batches ingested: 1" in replayed.stdout
    (body,) = query(db, "SELECT body FROM articles WHERE source = 'dead'")[0]
    assert "cap\ufffdtain" in body
    _books_balance(service_env)
