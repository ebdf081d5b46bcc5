"""Faults against real processes and servers: nothing lost, nothing doubled, whatever breaks.

A batch is held "in the middle" deterministically: the test takes the advisory lock that the
store takes per headline (see worker/store/batch.py), so the worker's transaction waits inside the
batch, after its first statements and before its commit, for as long as the test likes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from celery import Celery
from conftest import (
    DUMP,
    DUMP_HEADLINE,
    EXAMPLES,
    StartWorker,
    query,
    rewrite_queued_body,
    run_cli,
    wait_for,
)

from worker.pipeline.headline import headline_key

DUMP_KEY = headline_key(DUMP_HEADLINE)


def _count(db: str, sql: str) -> int:
    return int(query(db, sql)[0][0])


def _assert_books(db: str, *, received: int, articles: int) -> None:
    """received = stored + duplicates + rejected, one sighting per receipt, counts that agree."""
    assert _count(db, "SELECT count(*) FROM sightings") == received
    assert _count(db, "SELECT count(DISTINCT receipt_key) FROM sightings") == received
    assert _count(db, "SELECT count(*) FROM articles") == articles
    assert _count(db, "SELECT count(*) FROM sightings WHERE outcome = 'stored'") == articles
    assert _count(db, "SELECT coalesce(sum(seen_count), 0) FROM articles") == _count(
        db, "SELECT count(*) FROM sightings WHERE article_id IS NOT NULL"
    )


class HeadlineLock:
    """Holds the store's advisory lock for one headline on its own connection."""

    def __init__(self, db: str, key: str) -> None:
        self.db, self.key = db, key
        self.conn = psycopg.connect(db, autocommit=True)
        self.conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))

    def waiting_backends(self) -> list[int]:
        """The pids of the backends blocked on this lock: batches waiting inside their work."""
        rows = query(
            self.db,
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY pid",
        )
        return [pid for (pid,) in rows]

    def waiting_backend(self) -> int | None:
        """The pid of a backend blocked on this lock, if a batch is waiting for it."""
        waiting = self.waiting_backends()
        return waiting[0] if waiting else None

    def release(self) -> None:
        """Let the waiting batch go on."""
        if not self.conn.closed:
            self.conn.close()


@pytest.fixture
def dump_lock(db: str) -> Iterator[HeadlineLock]:
    lock = HeadlineLock(db, DUMP_KEY)
    yield lock
    lock.release()


def _enqueue(env: dict[str, str], *paths: Path) -> None:
    result = run_cli("enqueue", *map(str, paths), env=env)
    assert result.returncode == 0, result.stderr


def test_a_worker_child_killed_mid_batch_is_redelivered_and_counted_once(
    service_env: dict[str, str], start_worker: StartWorker, db: str, dump_lock: HeadlineLock
) -> None:
    worker = start_worker()
    _enqueue(service_env, EXAMPLES)
    wait_for(lambda: dump_lock.waiting_backend() is not None, what="the batch to reach its lock")
    (child,) = psutil.Process(worker.pid).children()
    os.kill(child.pid, signal.SIGKILL)
    # The dead child's backend waits on until it holds the lock and finds no client to answer;
    # beside it, the redelivered batch: both in the middle of the same batch.
    wait_for(lambda: len(dump_lock.waiting_backends()) == 2, what="the redelivered batch")
    dump_lock.release()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 3, what="the redelivery")
    time.sleep(1)  # a second delivery, if there were one, would have landed by now
    _assert_books(db, received=3, articles=2)
    assert worker.poll() is None


def test_a_whole_worker_killed_mid_batch_is_redelivered_to_the_next_one(
    service_env: dict[str, str], start_worker: StartWorker, db: str, dump_lock: HeadlineLock
) -> None:
    first = start_worker(NEWSINGEST_VISIBILITY_TIMEOUT="3")
    _enqueue(service_env, EXAMPLES)
    wait_for(lambda: dump_lock.waiting_backend() is not None, what="the batch to reach its lock")
    for process in [*psutil.Process(first.pid).children(), psutil.Process(first.pid)]:
        process.kill()
    first.wait()
    dump_lock.release()
    # kombu scans for expired unacknowledged messages when a worker starts, then only every
    # ~100 s; start the next worker once the batch's visibility timeout has run out.
    time.sleep(4)
    start_worker(NEWSINGEST_VISIBILITY_TIMEOUT="3")
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 3, what="the redelivery")
    time.sleep(4)  # past the visibility timeout: no second redelivery may add anything
    _assert_books(db, received=3, articles=2)


def test_terminated_database_connections_are_retried(
    service_env: dict[str, str], start_worker: StartWorker, db: str, dump_lock: HeadlineLock
) -> None:
    worker = start_worker()
    _enqueue(service_env, EXAMPLES)
    for attempt in range(2):  # cut the connection twice: two retries with back-off
        wait_for(lambda: dump_lock.waiting_backend() is not None, what=f"attempt {attempt}")
        pid = dump_lock.waiting_backend()
        query(db, "SELECT pg_terminate_backend(%s)", pid)
        wait_for(lambda p=pid: dump_lock.waiting_backend() != p, what="the connection to drop")
    dump_lock.release()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 3, what="the retried batch")
    _assert_books(db, received=3, articles=2)
    assert worker.poll() is None


def test_sigterm_finishes_the_batch_in_hand(
    service_env: dict[str, str], start_worker: StartWorker, db: str, dump_lock: HeadlineLock
) -> None:
    worker = start_worker()
    _enqueue(service_env, EXAMPLES)
    wait_for(lambda: dump_lock.waiting_backend() is not None, what="the batch to reach its lock")
    worker.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert worker.poll() is None  # a warm shutdown waits for the batch
    dump_lock.release()
    assert worker.wait(timeout=60) == 0
    _assert_books(db, received=3, articles=2)


def test_a_batch_out_of_retries_is_dead_lettered_and_replayed(
    service_env: dict[str, str], start_worker: StartWorker, db: str
) -> None:
    start_worker(
        NEWSINGEST_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
        NEWSINGEST_TASK_MAX_RETRIES="1",
    )
    _enqueue(service_env, EXAMPLES)
    app = Celery(broker=service_env["NEWSINGEST_BROKER_URL"])
    dead_queue = service_env["NEWSINGEST_QUEUE"] + ".dead"

    def dead_letters() -> int:
        with app.connection_for_write() as conn:
            return int(conn.default_channel.client.llen(dead_queue))

    wait_for(lambda: dead_letters() == 1, what="the batch on the dead-letter queue")
    assert _count(db, "SELECT count(*) FROM sightings") == 0
    replayed = run_cli("rejects", "replay", env=service_env)
    assert replayed.returncode == 0, replayed.stderr
    assert "dead-lettered batches ingested: 1" in replayed.stdout
    assert dead_letters() == 0
    _assert_books(db, received=3, articles=2)


class _Exploit:
    """Unpickling this would create a file: the proof that a payload was deserialized."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def test_a_pickle_message_is_refused_unread_and_recorded(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str, tmp_path: Path
) -> None:
    proof = tmp_path / "deserialized"
    producer = Celery(broker=service_env["NEWSINGEST_BROKER_URL"])
    producer.conf.task_serializer = "pickle"
    producer.send_task(
        "ingest.batch",
        args=[[_Exploit(proof)]],
        queue=service_env["NEWSINGEST_QUEUE"],
        serializer="pickle",
    )
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the refusal record")
    reason, detail, content = query(db, "SELECT reason, detail, content FROM raw_pages")[0]
    assert reason == "invalid_message"
    assert "refused unread" in detail
    # The raw pickle is kept as it came (its os.system reference and command), never loaded.
    assert bytes(content).startswith(b"\x80")  # a pickle protocol header
    assert f"touch {proof}".encode() in bytes(content)
    assert not proof.exists()
    # The worker carries on with good work.
    _enqueue(service_env, EXAMPLES)
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 2, what="the examples")
    assert worker_process.poll() is None


def test_a_message_whose_body_does_not_decode_is_recorded(
    service_env: dict[str, str], start_worker: StartWorker, db: str
) -> None:
    _enqueue(service_env, DUMP)
    # A producer's malformed JSON, under the right content type: Celery would only log it.
    broker = rewrite_queued_body(service_env, lambda _: b'[[{"content": "cut off here')
    queue = service_env["NEWSINGEST_QUEUE"]

    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM raw_pages") == 1, what="the record")
    reason, detail, content = query(db, "SELECT reason, detail, content FROM raw_pages")[0]
    assert reason == "invalid_message"
    assert "does not decode" in detail
    assert bytes(content) == b'[[{"content": "cut off here'
    # Acknowledged once recorded (it cannot be read, so it must not come back), and the worker
    # carries on with good work.
    assert broker.llen(queue) == 0
    _enqueue(service_env, EXAMPLES)
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 2, what="the examples")
    assert worker.poll() is None


def test_an_undecodable_message_waits_for_the_database_on_the_dead_letter_queue(
    service_env: dict[str, str], start_worker: StartWorker, db: str
) -> None:
    _enqueue(service_env, DUMP)
    broker = rewrite_queued_body(service_env, lambda _: b"not json")
    queue = service_env["NEWSINGEST_QUEUE"]

    start_worker(NEWSINGEST_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    wait_for(lambda: broker.llen(queue + ".dead") == 1, what="the message on the dead-letter queue")
    assert broker.llen(queue) == 0
    replayed = run_cli("rejects", "replay", env=service_env)
    assert replayed.returncode == 0, replayed.stderr
    reason, content = query(db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages")[0]
    assert reason == "invalid_message"
    assert base64.b64encode(b"not json").decode("ascii") in content
    assert "does not decode" in content


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, so it can be stopped and restarted at will."""

    def __init__(self, directory: Path, *, appendonly: bool) -> None:
        self.port, self.directory, self.appendonly = _free_port(), directory, appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, timeout=20, what="redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: with appendonly, the log is flushed first
            self.proc.wait(timeout=20)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path, appendonly=True)
    server.start()
    yield server
    server.stop()


def test_a_redis_restart_is_reported_to_the_producer_and_survived_by_workers(
    service_env: dict[str, str], start_worker: StartWorker, db: str, private_redis: PrivateRedis
) -> None:
    env = service_env | {"NEWSINGEST_BROKER_URL": private_redis.url}
    # Queued with no worker running, kept through a restart by the append-only file.
    _enqueue(env, DUMP)
    private_redis.stop()
    refused = run_cli("enqueue", str(EXAMPLES), env=env)
    assert refused.returncode == 3
    assert "broker did not accept batch 1 (0 pages were sent before)" in refused.stderr
    private_redis.start()
    worker = start_worker(NEWSINGEST_BROKER_URL=private_redis.url)
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 1, what="the kept batch")

    # Restart under a running worker: it reconnects and takes new work.
    private_redis.stop()
    time.sleep(1)
    private_redis.start()
    _enqueue(env, EXAMPLES)
    # The examples hold the queued dump again and its short re-send: one new article.
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 2, what="work after restart")
    assert worker.poll() is None
    _assert_books(db, received=4, articles=2)


# An undated text dump (its dedupe key is headline and source), as a test_poison case.
_UNDATED = """River ferry service returns after winter repairs

The ferry that links the two halves of the valley town carried its first passengers of the year \
on Monday morning, after a winter spent in the boatyard having its engine and hull repaired.

Regular passengers said the crossing had been missed. Many had driven an extra forty minutes each \
day to reach the bridge upstream while the boat was out of service.
"""


def _books_balance(env: dict[str, str]) -> None:
    books = run_cli("stats", env=env)
    assert books.returncode == 0, books.stdout + books.stderr


def test_concurrent_copies_of_one_content_from_two_sources_make_one_article(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    dump = tmp_path / "ferry.txt"
    dump.write_text(_UNDATED, encoding="utf-8")
    # The test holds the content's raw-page row (uncommitted), so both batches make their
    # articles and then wait at the raw page, side by side: the race, made certain.
    holder = psycopg.connect(db)
    holder.execute(
        "INSERT INTO raw_pages (content_hash, content, size, source, outcome, reason) "
        "VALUES (%s, '', 0, 'test', 'rejected', 'empty')",
        (hashlib.sha256(dump.read_bytes()).digest(),),
    )
    try:
        for source in ("wire-a", "wire-b"):
            _enqueue_from(service_env, source, dump)
        start_worker()
        start_worker()
        wait_for(lambda: len(_waiting_on_rows(db)) == 2, what="both batches at the raw page")
    finally:
        holder.rollback()
        holder.close()
    wait_for(lambda: _count(db, "SELECT count(*) FROM sightings") == 2, what="both receipts")
    assert _count(db, "SELECT count(*) FROM raw_pages") == 1
    assert _count(db, "SELECT count(*) FROM articles") == 1
    assert sorted(query(db, "SELECT outcome::text, match::text FROM sightings")) == [
        ("duplicate", "same_content"),
        ("stored", "new"),
    ]
    _assert_books(db, received=2, articles=1)
    _books_balance(service_env)


def _enqueue_from(env: dict[str, str], source: str, *paths: Path) -> None:
    result = run_cli("enqueue", "--source", source, *map(str, paths), env=env)
    assert result.returncode == 0, result.stderr


def _waiting_on_rows(db: str) -> list[int]:
    """The backends of this database waiting for another transaction (a row or key lock)."""
    rows = query(
        db,
        "SELECT pid FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted "
        "AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())",
    )
    return [pid for (pid,) in rows]


def test_a_chaos_run_of_hostile_and_racing_batches_under_kills_balances_its_books(
    service_env: dict[str, str], start_worker: StartWorker, db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    for i in range(40):
        text = _UNDATED.replace("River ferry", f"Ferry {i}")
        if i % 10 == 0:  # in a few, a NUL in the body past the 8 KiB the binary sniff reads
            text += "".join(
                f"\nCrossing {n} was made in {n % 7 + 3} minutes, and the cap{chr(0) * (n == 89)}"
                f"tain said passengers on trip {n} asked about the engine and the timetable.\n"
                for n in range(90)
            )
        (folder / f"{i:02}.txt").write_text(text, encoding="utf-8")
    workers = [start_worker(), start_worker()]
    sent = 0
    for round_ in range(3):
        # The same bytes from two sources at once, in small batches that interleave.
        for source in ("wire-a", "wire-b"):
            result = run_cli("enqueue", "--source", source, "--batch-size", "7", str(folder),
                             env=service_env)  # fmt: skip
            assert result.returncode == 0, result.stderr
            sent += 40
        # Kill one worker's pool process mid-work; its batch is redelivered to the other.
        time.sleep(0.5 + round_)
        for child in psutil.Process(workers[round_ % 2].pid).children():
            os.kill(child.pid, signal.SIGKILL)
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM sightings") == sent,
        timeout=240,
        what=f"{sent} receipts",
    )
    # Each content made one article, whichever source's copy came first.
    assert _count(db, "SELECT count(*) FROM raw_pages") == 40
    assert _count(db, "SELECT count(*) FROM articles") == 40
    assert _count(db, "SELECT count(*) FROM articles a WHERE NOT EXISTS "
                      "(SELECT 1 FROM sightings s WHERE s.article_id = a.id)") == 0  # fmt: skip
    _assert_books(db, received=sent, articles=40)
    _books_balance(service_env)
    assert all(worker.poll() is None for worker in workers)
