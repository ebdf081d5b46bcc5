"""Fixtures that give each test run its own PostgreSQL database and Redis queue on the real servers.

The servers come from NEWSINGEST_TEST_POSTGRES_URL (default: postgres on 127.0.0.1:5432) and
NEWSINGEST_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). A run creates databases named
newsingest_test_<random>_<n>, migrates them, and drops them at the end, so runs never collide.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from worker.claims import drop_queue

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEED = SHARED_DATA / "seed" / "bbc-2009-12-16-nato-russia-helicopters.txt"
EXAMPLES = REPO / "examples" / "dumps"
# The project's own example dump, for tests that need a real-looking dump but not the seed in
# particular: they run from a fresh clone. Only tests about the seed read ../shared/data/seed,
# which the evaluation data's README asks us not to copy into the project.
DUMP = EXAMPLES / "kenya-flood-warning.txt"
DUMP_HEADLINE = "Kenya opens emergency shelters as Tana River floods spread"

ADMIN_URL = os.environ.get(
    "NEWSINGEST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("NEWSINGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here: the shared evaluation data is not checked out beside us")
    return path


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def empty_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases on the real server, dropped when the run ends."""
    made: list[str] = []

    def make() -> str:
        name = f"newsingest_test_{RUN_ID}_{len(made)}"
        _admin(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _database_url(name)

    yield make
    for name in made:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(empty_database: Callable[[], str]) -> Iterator[str]:
    """The run's migrated database; NEWSINGEST_DATABASE_URL points at it for in-process code."""
    from worker.config import get_settings
    from worker.store import reset_engine, upgrade_database

    url = empty_database()
    upgrade_database(url)
    previous = os.environ.get("NEWSINGEST_DATABASE_URL")
    os.environ["NEWSINGEST_DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine()
    yield url
    reset_engine(close=True)
    if previous is None:
        os.environ.pop("NEWSINGEST_DATABASE_URL", None)
    else:
        os.environ["NEWSINGEST_DATABASE_URL"] = previous
    get_settings.cache_clear()


@pytest.fixture
def db(database_url: str) -> str:
    """The run's database, emptied before the test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE sightings, raw_pages, articles, story_bands, source_tallies, "
            "source_health_warnings RESTART IDENTITY CASCADE"
        )
    return database_url


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a parameterized query on the database at `url`."""
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def ingest_at_once(db: str, batches: list[list[Any]]) -> list[Any]:
    """Ingest each batch of received pages in its own transaction on its own connection, all
    at the same moment (each transaction open before any writes); give their BatchOutcomes."""
    import threading

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from worker.config import Settings, sqlalchemy_url
    from worker.ingest import ingest_batch

    engine = create_engine(sqlalchemy_url(db), pool_size=len(batches))
    factory = sessionmaker(engine)
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []
    outcomes: list[Any] = []

    def send(pages: list[Any]) -> None:
        try:
            with factory.begin() as session:
                session.connection()  # open the transaction before waiting
                barrier.wait(timeout=30)
                outcome = ingest_batch(session=session, pages=pages, settings=Settings())
            outcomes.append(outcome)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(pages,)) for pages in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    return outcomes


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0, what: str) -> None:
    """Poll until `predicate()` holds, failing the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def newsingest_bin() -> str:
    """The installed `newsingest` console script next to this interpreter."""
    candidate = Path(sys.executable).with_name("newsingest")
    return str(candidate) if candidate.exists() else shutil.which("newsingest") or "newsingest"


def service_environment(*, database_url: str, queue: str) -> dict[str, str]:
    """This process's environment without its NEWSINGEST_* settings, plus the database, this
    run's Redis, a queue and JSON logs: what subprocesses of a test are started with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    return env | {
        "NEWSINGEST_DATABASE_URL": database_url,
        "NEWSINGEST_BROKER_URL": REDIS_URL,
        "NEWSINGEST_QUEUE": queue,
        "NEWSINGEST_LOG_FORMAT": "json",
    }


@pytest.fixture
def service_env(db: str) -> Iterator[dict[str, str]]:
    """Environment for subprocesses: this run's database, Redis and a queue of its own.

    Afterwards the queue, its dead-letter and crawl queues, kombu's bindings for them and the
    claim checks of messages left unread are deleted, so test runs leave Redis as they found it.
    """
    queue = f"test-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    env = service_environment(database_url=db, queue=queue)
    yield env
    client = redis.Redis.from_url(REDIS_URL)
    drop_queue(client, queue)
    client.close()


def rewrite_queued_body(env: dict[str, str], rewrite: Callable[[bytes], bytes]) -> redis.Redis:
    """Rewrite the body of the one message waiting on the test queue, as a producer could have
    sent it (no worker has started yet); returns the broker's client."""
    broker = redis.Redis.from_url(env["NEWSINGEST_BROKER_URL"])
    queue = env["NEWSINGEST_QUEUE"]
    (raw,) = broker.lrange(queue, 0, -1)
    envelope = json.loads(raw)
    body = rewrite(base64.b64decode(envelope["body"]))
    envelope["body"] = base64.b64encode(body).decode("ascii")
    broker.lset(queue, 0, json.dumps(envelope))
    return broker


def run_cli(
    *args: str, env: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `newsingest ARGS` as a user would, capturing its output."""
    return subprocess.run(
        [newsingest_bin(), *args],
        env=env,
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


StartWorker = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def start_worker(service_env: dict[str, str], tmp_path: Path) -> Iterator[StartWorker]:
    """Start real `newsingest worker` processes (Celery, prefork, one child) on this test's queue.

    Keyword arguments override the environment; every worker is stopped when the test ends.
    """
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [
                newsingest_bin(),
                "worker",
                "--concurrency=1",
                f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=service_env | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Stop a process this test started: asked to end, then killed after 30 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def worker_process(start_worker: StartWorker) -> subprocess.Popen[bytes]:
    """One real `newsingest worker` on this test's queue."""
    return start_worker()
