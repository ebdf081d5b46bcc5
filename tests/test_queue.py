"""The queue path end to end: `newsingest enqueue` → Redis → a Celery worker → PostgreSQL."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import redis
from conftest import (
    DUMP,
    DUMP_HEADLINE,
    EXAMPLES,
    REPO,
    StartWorker,
    query,
    rewrite_queued_body,
    run_cli,
    wait_for,
)


def _count(db: str, sql: str) -> int:
    return int(query(db, sql)[0][0])


def test_enqueued_dumps_are_stored_by_a_worker(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str
) -> None:
    sent = run_cli("enqueue", str(EXAMPLES), "--batch-size", "2", env=service_env)
    assert sent.returncode == 0, sent.stderr
    assert "enqueued 3 dumps in 2 batches" in sent.stdout
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 3, what="3 sightings")
    headlines = {h for (h,) in query(db, "SELECT headline FROM articles")}
    # The example re-send is the Kenya story again.
    assert headlines == {DUMP_HEADLINE, "Osaka brings back trams to its waterfront"}

    # The same dumps again: no new articles, every receipt recorded as a duplicate sighting.
    again = run_cli("enqueue", str(EXAMPLES), env=service_env)
    assert again.returncode == 0, again.stderr
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 6, what="6 sightings")
    assert _count(db, "SELECT count(*) FROM articles") == 2
    assert _count(db, "SELECT count(*) FROM sightings WHERE outcome = 'duplicate'") == 4
    assert _count(db, "SELECT sum(seen_count) FROM articles") == 6
    assert worker_process.poll() is None


def test_bad_input_through_the_queue_is_rejected_and_the_worker_lives_on(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "inputs"
    tmp_path.mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "garbage.bin").write_bytes(os.urandom(4096))
    # No charset reads these as text (undeclared Latin-1 is now detected, and stored).
    rng = random.Random(5)
    garbled = bytes(rng.choice([*range(0x80, 0x100), *b"ab "]) for _ in range(600))
    (tmp_path / "garbled.txt").write_bytes(garbled)
    with (tmp_path / "huge.txt").open("wb") as huge:
        huge.truncate(50 * 1024 * 1024)  # a 50 MB file (sparse: cheap to make)
    (tmp_path / "index.html").write_bytes((REPO / "tests/data/no-article.html").read_bytes())

    sent = run_cli("enqueue", str(tmp_path), env=service_env)
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 5, what="5 rejections")
    reasons = dict(query(db, "SELECT reason, size FROM raw_pages"))
    assert set(reasons) == {"empty", "binary", "undecodable", "too_large", "no_body"}
    assert reasons["too_large"] == 50 * 1024 * 1024
    assert _count(db, "SELECT count(*) FROM sightings WHERE outcome = 'rejected'") == 5

    # The worker is still alive and still working.
    assert worker_process.poll() is None
    assert run_cli("enqueue", str(DUMP), env=service_env).returncode == 0
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 1, what="the dump's article")


def test_enqueue_without_a_broker_says_so(service_env: dict[str, str]) -> None:
    env = {k: v for k, v in service_env.items() if k != "NEWSINGEST_BROKER_URL"}
    result = run_cli("enqueue", str(EXAMPLES), env=env)
    assert result.returncode == 2
    assert "NEWSINGEST_BROKER_URL" in result.stderr


def test_enqueue_reports_an_unreachable_broker(service_env: dict[str, str]) -> None:
    env = service_env | {"NEWSINGEST_BROKER_URL": "redis://127.0.0.1:1/0"}
    result = run_cli("enqueue", str(EXAMPLES), env=env)
    assert result.returncode == 3
    assert "broker did not accept batch 1" in result.stderr


def test_enqueue_stops_at_an_unreadable_file_and_says_what_was_sent(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"Dump {name}\n\nSome text.\n", encoding="utf-8")
    (tmp_path / "d.txt").symlink_to(tmp_path / "gone.txt")  # listed, but cannot be opened
    (tmp_path / "e.txt").write_text("Never read.\n", encoding="utf-8")
    result = run_cli("enqueue", str(tmp_path), "--batch-size=1", env=service_env)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert f"cannot read {str(tmp_path / 'd.txt')!r}: No such file or directory" in said
    # a.txt and b.txt were sent; c.txt, read into the next batch, and everything after the
    # error stay unsent.
    assert "2 dumps were enqueued before the run stopped" in said
    broker = redis.Redis.from_url(service_env["NEWSINGEST_BROKER_URL"])
    assert broker.llen(service_env["NEWSINGEST_QUEUE"]) == 2


def test_large_batches_are_ingested_and_compression_bombs_are_refused(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str, tmp_path: Path
) -> None:
    from celery import Celery

    tmp_path = tmp_path / "inputs"
    tmp_path.mkdir()
    # Three copies of an HTML page padded past the claim threshold, as one batch (a claim check).
    page = (EXAMPLES / "osaka-trams.html").read_text(encoding="utf-8")
    padding = "<!-- " + "layout filler " * 10_000 + "-->"
    for n in range(3):
        headline = f"Osaka brings back trams to its waterfront, part {n}"
        (tmp_path / f"big-{n}.html").write_text(
            page.replace("Osaka brings back trams to its waterfront", headline) + padding,
            encoding="utf-8",
        )
    sent = run_cli("enqueue", str(tmp_path), env=service_env)
    assert sent.returncode == 0, sent.stderr

    # A zstd frame that would inflate to ~100 MB from a few kilobytes.
    bomb = Celery(broker=service_env["NEWSINGEST_BROKER_URL"])
    bomb.send_task(
        "ingest.batch",
        args=[[{"content": "a" * 100_000_000}]],
        queue=service_env["NEWSINGEST_QUEUE"],
        compression="zstd",
    )
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 3, what="the big batch")
    assert run_cli("enqueue", str(EXAMPLES), env=service_env).returncode == 0
    # The bomb is one rejection keeping its few compressed kilobytes, never inflated.
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 7, what="work after the bomb")
    assert worker_process.poll() is None
    ((detail, size),) = query(
        db, "SELECT detail, size FROM raw_pages WHERE reason = 'invalid_message'"
    )
    assert "does not decode" in detail
    assert size < 1_000_000
    assert _count(db, "SELECT count(*) FROM raw_pages WHERE size > 50000000") == 0


def test_a_message_holding_half_a_surrogate_pair_is_not_lost(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    # JSON may escape a lone surrogate ("\ud800"; JavaScript's JSON.stringify writes one for a
    # broken string). Such a page is rejected; the batch it came in is not dropped unread.
    (tmp_path / "broken.txt").write_text("BROKEN-PAGE text", encoding="utf-8")
    sent = run_cli("enqueue", str(DUMP), str(tmp_path / "broken.txt"), env=service_env)
    assert sent.returncode == 0, sent.stderr
    rewrite_queued_body(service_env, lambda body: body.replace(b"BROKEN-", b"BROKEN-\\ud800"))

    start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 2, what="both pages recorded")
    rows = dict(query(db, "SELECT outcome::text, convert_from(content, 'UTF8') FROM raw_pages"))
    assert "Kenya's government has opened" in rows["stored"]
    assert "BROKEN-\\ud800PAGE" in rows["rejected"]
