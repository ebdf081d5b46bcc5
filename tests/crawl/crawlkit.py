"""What crawl tests share: a real HTTP server on 127.0.0.1 whose routes answer by path and by how
many times they were asked, recording every request with its server-side arrival time; and crawl
settings fit for it."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import REDIS_URL, newsingest_bin
from worker.crawl.settings import CrawlSettings


@dataclass(frozen=True)
class Reply:
    """What a route answers: a status, headers and a body (or a writer that streams one)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    stream: Callable[[BaseHTTPRequestHandler], None] | None = None


@dataclass(frozen=True)
class Hit:
    """One request the server received."""

    path: str
    at: float
    headers: dict[str, str]


Route = Callable[[int, dict[str, str]], Reply]


class Site:
    """The routes and the request log of one test server."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self.base = ""

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.base + path

    def route(self, path: str, route: Route) -> None:
        """Answer requests for `path` with `route(times_asked, request_headers)`."""
        self.routes[path] = route

    def page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        """Serve a fixed body at `path`, with an ETag that turns repeats into 304s."""
        etag = f'"{abs(hash(body))}"'

        def answer(_: int, headers: dict[str, str]) -> Reply:
            if headers.get("if-none-match") == etag:
                return Reply(304, {"ETag": etag})
            return Reply(200, {"Content-Type": content_type, "ETag": etag}, body)

        self.route(path, answer)

    def asked(self, path: str) -> list[Hit]:
        """The requests for `path`, in arrival order."""
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]

    def record(self, hit: Hit) -> int:
        with self._lock:
            self.hits.append(hit)
            return sum(1 for seen in self.hits if seen.path == hit.path)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            times = site.record(Hit(self.path, time.monotonic(), headers))
            route = site.routes.get(self.path)
            reply = route(times, headers) if route else Reply(404, body=b"not here")
            try:
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.stream is not None:
                    reply.stream(self)
                else:
                    self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up: exactly what some tests want it to do

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def start(site: Site) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `site` on 127.0.0.1 on a free port, in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def endless(handler: BaseHTTPRequestHandler) -> None:
    """Write a body that never ends (up to 64 MiB), until the client hangs up."""
    chunk = b"<p>" + b"news " * 8000 + b"</p>\n"
    for _ in range(64 * 1024 * 1024 // len(chunk)):
        handler.wfile.write(chunk)


def fast_settings(**overrides: object) -> CrawlSettings:
    """Crawl settings with short timeouts and a small byte cap, allowing 127.0.0.1."""
    values: dict[str, object] = {
        "allow_private_addresses": True,
        "connect_timeout": 2.0,
        "read_timeout": 0.5,
        "max_response_bytes": 64 * 1024,
        "fetch_retries": 2,
        "retry_backoff": 0.1,
        "max_retry_after": 5.0,
        "host_interval": 0.0,
        "max_redirects": 4,
    }
    return CrawlSettings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(name="site")
def site_fixture() -> Iterator[Site]:
    """A fresh HTTP server on 127.0.0.1 with no routes yet."""
    served = Site()
    server, thread = start(served)
    yield served
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(name="redis_client")
def redis_client_fixture() -> Iterator[redis.Redis]:
    """A client of the test Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the test Redis at {REDIS_URL} does not answer: {exc}")
    yield client
    client.close()


@pytest.fixture(name="key_prefix")
def key_prefix_fixture(redis_client: redis.Redis) -> Iterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards."""
    prefix = f"newsingest-test:{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(redis_client.scan_iter(f"{prefix}:*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture(name="crawl_db")
def crawl_db_fixture(db: str) -> str:
    """The run's database with the crawl state emptied as well."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE crawl_sources, crawl_urls RESTART IDENTITY")
    return db


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real `newsingest worker` (one prefork child) with `env`, logging to `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                newsingest_bin(),
                "worker",
                "--concurrency=1",
                f"--hostname=crawltest-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop workers started by `start_worker` (all at once), killing any that will not stop."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def queued_pages(client: redis.Redis, queue: str) -> list[dict[str, object]]:
    """The RawPage dicts in the ingest batches waiting on `queue` (Celery's Redis list)."""
    pages: list[dict[str, object]] = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert message["headers"]["task"] == "ingest.batch"
        pages += args[0]
    return pages
