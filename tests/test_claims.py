"""Claim checks: large batches wait in Redis and travel as keys; settled once, never lost."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import orjson
import pytest
import redis
from conftest import EXAMPLES, REDIS_URL, StartWorker, query, run_cli, wait_for
from pydantic import SecretStr

from worker.claims import (
    CLAIM_PREFIX,
    PACK_MIN_BYTES,
    census,
    claims_named,
    frame_pages,
    open_claim,
    put_claim,
    settle_claim,
    unframe_batch,
    unframe_pages,
)
from worker.config import Settings
from worker.ingest import ingest_message
from worker.packing import zstd_compress, zstd_decompress
from worker.pipeline import receive_message
from worker.store import transaction
from worker.store.revise import list_article_ids, reprocess_articles


def _count(db: str, sql: str) -> int:
    return int(query(db, sql)[0][0])


def _big_pages(folder: Path, copies: int) -> None:
    # Copies of an example page padded past the claim threshold (256 K characters a batch).
    page = (EXAMPLES / "osaka-trams.html").read_text(encoding="utf-8")
    padding = "<!-- " + "layout filler " * 10_000 + "-->"
    for n in range(copies):
        headline = f"Osaka brings back trams to its waterfront, part {n}"
        (folder / f"big-{n}.html").write_text(
            page.replace("Osaka brings back trams to its waterfront", headline) + padding,
            encoding="utf-8",
        )


@pytest.fixture
def settings(db: str) -> Settings:
    return Settings(broker_url=SecretStr(REDIS_URL), visibility_timeout=600)


@pytest.fixture
def broker() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


def test_a_large_batch_travels_as_a_claim_and_is_settled_once_ingested(
    service_env: dict[str, str],
    start_worker: StartWorker,
    db: str,
    tmp_path: Path,
    broker: redis.Redis,
) -> None:
    _big_pages(tmp_path, 3)
    sent = run_cli("enqueue", str(tmp_path), env=service_env)
    assert sent.returncode == 0, sent.stderr
    # No worker yet: the queued message is small and names its claim; the bytes wait beside it.
    queue = service_env["NEWSINGEST_QUEUE"]
    (raw,) = broker.lrange(queue, 0, -1)
    assert len(raw) < 5_000
    message = json.loads(raw)
    assert message["content-encoding"] == "utf-8"
    body = json.loads(base64.b64decode(message["body"]))
    (argument,) = body[0]
    assert argument["pages"] == 3
    claim = argument["claim"]
    assert claim.startswith(CLAIM_PREFIX)
    waiting = open_claim(Settings(broker_url=SecretStr(REDIS_URL)), claim).pages
    assert [page["content"][:100] for page in waiting] == [
        path.read_text(encoding="utf-8")[:100] for path in sorted(tmp_path.glob("*.html"))
    ]
    assert broker.ttl(claim) == -1  # kept until a worker has ingested it

    worker = start_worker()
    wait_for(lambda: _count(db, "SELECT count(*) FROM articles") == 3, what="the claimed batch")
    wait_for(lambda: broker.get(claim) == b"", what="the claim settled")
    assert 0 < broker.ttl(claim) <= 2 * 3600
    assert worker.poll() is None
    # Each page travelled as its own zstd frame, and is kept as that frame: the dump's bytes.
    kept = query(db, "SELECT content_codec, content, size FROM raw_pages ORDER BY url, id")
    assert sorted(zstd_decompress(bytes(content), limit=size) for _, content, size in kept) == (
        sorted(path.read_bytes() for path in tmp_path.glob("*.html"))
    )
    assert {codec for codec, _, _ in kept} == {"zstd"}


def test_a_claim_delivered_again_after_its_commit_adds_nothing(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    pages = [
        {"content": (EXAMPLES / name).read_text(encoding="utf-8"), "source": "t", "id": name}
        for name in ("osaka-trams.html", "kenya-flood-warning.txt")
    ]
    message = {"claim": put_claim(settings, pages), "pages": 2}
    first = ingest_message(message, task_id="task-1", settings=settings)
    assert len(first.items) == 2
    # The worker died between the commit and the ack: the same message comes again.
    again = ingest_message(message, task_id="task-1", settings=settings)
    assert again.items == ()
    assert _count(db, "SELECT count(*) FROM sightings") == 2
    assert _count(db, "SELECT count(*) FROM articles") == 2


def test_a_framed_batch_gives_back_each_page_as_it_was_sent() -> None:
    pages = [
        {"content": '<p class="x">Café \\ "quoted"</p>', "source": "t", "id": "1"},
        {"content": "", "source": "t"},
        {"content": "日本語のニュース", "content_type": "text/plain"},
        {"source": "no content at all"},
        {"content": ["not", "text"], "source": "t"},
        {"content": "last", "url": "https://example.org/a"},
    ]
    framed = frame_pages([dict(page) for page in pages])
    assert b'"quoted"' in framed  # the contents travel as raw bytes, not as escaped JSON
    assert unframe_pages(framed) == pages
    assert unframe_pages(orjson.dumps(pages[:2])) == pages[:2]  # a claim written as JSON
    # Beside each page, the bytes its content was read from: the worker hashes them as they are.
    unframed, utf8, packed = unframe_batch(framed)
    assert packed == [None] * len(pages)  # small pages travel in the batch's own compression
    assert framed.startswith(b"NSF1")  # and as the frame workers before packing read
    assert utf8 == [
        page["content"].encode() if isinstance(page.get("content"), str) else None for page in pages
    ]
    for page, content in zip(unframed, utf8, strict=True):
        if content is not None:
            as_sent = receive_message(page, fallback_key="k")
            assert receive_message(page, fallback_key="k", utf8=content) == as_sent
    assert unframe_batch(orjson.dumps(pages[:2]))[1] == [None, None]


def test_an_element_that_is_no_object_travels_in_the_header_for_the_worker_to_judge() -> None:
    # `enqueue --jsonl` sends a line that holds no JSON object as its text.
    pages: list[object] = [{"content": "x" * PACK_MIN_BYTES}, '{"content": "cut', [1, 2]]
    assert unframe_pages(frame_pages(list(pages))) == pages
    rejected = receive_message(pages[1], fallback_key="k")
    assert rejected.rejection is not None
    assert rejected.rejection.reason == "invalid_message"


def _osaka(part: str, *, min_bytes: int = PACK_MIN_BYTES) -> str:
    page = (EXAMPLES / "osaka-trams.html").read_text(encoding="utf-8")
    page = page.replace("Osaka brings back trams to its waterfront", f"Osaka trams, {part}")
    filler = "<!-- " + "layout filler " * (min_bytes // 14) + "-->"
    return page.replace("</body>", filler + "</body>")


def test_a_large_page_travels_as_its_own_zstd_frame() -> None:
    large = {"content": _osaka("the large one"), "source": "t", "id": "large"}
    pages = [{"content": "a small page", "source": "t"}, large, {"source": "no content"}]
    framed = frame_pages([dict(page) for page in pages])
    assert framed.startswith(b"NSF2")
    assert large["content"].encode()[:2000] not in framed
    unframed, utf8, packed = unframe_batch(framed)
    assert unframed == pages
    assert utf8 == [b"a small page", large["content"].encode(), None]
    assert packed[0] is None
    assert packed[2] is None
    assert packed[1] is not None
    assert zstd_decompress(packed[1]) == utf8[1]
    # The worker takes the frame along, for the store to keep.
    received = receive_message(unframed[1], fallback_key="k", utf8=utf8[1], packed=packed[1])
    assert received.packed == packed[1]
    assert receive_message(unframed[1], fallback_key="k").packed is None


def test_a_claim_framed_before_pages_were_packed_still_opens() -> None:
    page = {"content": _osaka("framed the old way"), "source": "t"}
    data = page["content"].encode()
    header = orjson.dumps({"pages": [{"source": "t"}], "sizes": [len(data)]})
    old = b"NSF1" + len(header).to_bytes(4, "big") + header + data
    assert unframe_batch(old) == ([page], [data], [None])


def test_a_packed_page_that_does_not_inflate_to_its_stated_size_is_refused() -> None:
    framed = frame_pages([{"content": _osaka("one"), "source": "t"}])
    size = len(_osaka("one").encode())
    lying = framed.replace(f'"sizes":[{size}]'.encode(), f'"sizes":[{size - 1}]'.encode())
    assert lying != framed
    with pytest.raises(ValueError, match="inflates past"):
        unframe_batch(lying)
    longer = framed.replace(f'"sizes":[{size}]'.encode(), f'"sizes":[{size + 1}]'.encode())
    with pytest.raises(ValueError, match="does not inflate to the size"):
        unframe_batch(longer)


def test_a_packed_page_is_kept_packed_unless_rejected(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    stored = _osaka("kept as its frame")
    # Large, but no article in it: a rejection, kept as plain bytes for people to read in SQL.
    index_page = "<html><body><nav>Home</nav>" + "<!-- filler -->" * 2000 + "</body></html>"
    pages = [{"content": stored, "source": "t"}, {"content": index_page, "source": "t"}]
    message = {"claim": put_claim(settings, pages), "pages": 2}
    ingest_message(message, task_id="task-packed", settings=settings)
    rows = {
        outcome: (codec, bytes(content), size)
        for outcome, codec, content, size in query(
            db, "SELECT outcome::text, content_codec, content, size FROM raw_pages"
        )
    }
    codec, content, size = rows["stored"]
    assert codec == "zstd"
    assert zstd_decompress(content, limit=size) == stored.encode()
    assert len(content) < size / 3
    assert rows["rejected"] == (None, index_page.encode(), len(index_page))
    # Reprocessing reads the frame back as the dump it was.
    with transaction() as session:
        ids = list_article_ids(session=session)
        report = reprocess_articles(session=session, ids=ids, settings=settings)
    assert (report.examined, report.unchanged) == (1, 1)
    # A kept frame that no longer inflates to what it held is reported, and the article stays.
    query(
        db,
        "UPDATE raw_pages SET content = overlay(content PLACING '\\xff'::bytea FROM 200) "
        "WHERE content_codec = 'zstd' RETURNING id",
    )
    with transaction() as session:
        report = reprocess_articles(session=session, ids=ids, settings=settings)
    assert (report.examined, report.rejected, report.updated) == (1, 1, 0)


def test_a_framed_batch_whose_content_is_not_utf8_is_refused() -> None:
    framed = bytearray(frame_pages([{"content": "first", "source": "t"}, {"content": "second"}]))
    framed[framed.index(b"first")] = 0xFF  # a flipped byte inside the first page's content
    with pytest.raises(ValueError, match="utf-8"):
        unframe_pages(bytes(framed))


@pytest.mark.parametrize("cut", [1, 10, 200])
def test_a_framed_batch_that_lost_bytes_is_refused(cut: int) -> None:
    framed = frame_pages([{"content": "x" * 100, "source": "t"}, {"content": "y", "source": "t"}])
    with pytest.raises(ValueError, match=r"framed batch|JSON is cut"):
        unframe_pages(framed[:-cut])


def test_a_claim_written_as_a_json_list_is_still_ingested(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    # As producers before the framed format wrote it: one zstd-compressed JSON list.
    page = {"content": (EXAMPLES / "osaka-trams.html").read_text(encoding="utf-8"), "source": "t"}
    key = f"{CLAIM_PREFIX}{settings.queue}:{uuid.uuid4().hex}"
    broker.set(key, zstd_compress(orjson.dumps([page])))
    outcome = ingest_message({"claim": key, "pages": 1}, task_id="task-json", settings=settings)
    assert [item.outcome for item in outcome.items] == ["stored"]
    assert broker.get(key) == b""


def test_a_claim_whose_frame_is_corrupt_is_a_rejection(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    framed = frame_pages([{"content": "a page", "source": "t"}])
    key = f"{CLAIM_PREFIX}{settings.queue}:{uuid.uuid4().hex}"
    broker.set(key, zstd_compress(framed + b"trailing bytes no header names"))
    ingest_message({"claim": key, "pages": 1}, task_id="task-corrupt", settings=settings)
    ((reason, content),) = query(db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages")
    assert reason == "invalid_message"
    assert key in content
    assert "does not describe its contents" in content


@pytest.mark.parametrize("where", ["packed page", "batch", "batch's magic"])
def test_a_claim_whose_compressed_bytes_are_corrupt_is_a_rejection(
    settings: Settings, db: str, broker: redis.Redis, where: str
) -> None:
    # One flipped byte: inside a packed page's frame, inside the batch's frame, or in its magic.
    content = _osaka("corrupt") if where == "packed page" else "a small page " * 500
    framed = bytearray(frame_pages([{"content": content, "source": "t"}]))
    if where == "packed page":
        framed[-200] ^= 0xFF
    payload = bytearray(zstd_compress(bytes(framed)))
    if where == "batch":
        payload[-40] ^= 0xFF
    elif where == "batch's magic":
        payload[0] ^= 0xFF
    key = f"{CLAIM_PREFIX}{settings.queue}:{uuid.uuid4().hex}"
    broker.set(key, bytes(payload))
    ingest_message({"claim": key, "pages": 1}, task_id="task-zstd", settings=settings)
    # Never stored as a changed page: one rejection holding the message.
    ((reason, detail),) = query(db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages")
    assert reason == "invalid_message"
    assert key in detail
    assert "claim unreadable" in detail


def test_a_lost_claim_is_a_rejection_holding_the_message(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    lost = f"{CLAIM_PREFIX}{settings.queue}:{uuid.uuid4().hex}"
    for _ in range(2):  # redelivered: still one receipt
        ingest_message({"claim": lost, "pages": 20}, task_id="task-2", settings=settings)
    rows = query(db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages")
    assert len(rows) == 1
    reason, content = rows[0]
    assert reason == "invalid_message"
    assert lost in content
    assert _count(db, "SELECT count(*) FROM sightings") == 1


def test_a_message_cannot_make_the_worker_read_a_key_it_names(
    settings: Settings, db: str, broker: redis.Redis
) -> None:
    secret = f"not-a-claim-{uuid.uuid4().hex}"
    broker.set(secret, b"private bytes", ex=60)
    ingest_message({"claim": secret, "pages": 1}, task_id="task-3", settings=settings)
    (content,) = query(db, "SELECT convert_from(content, 'UTF8') FROM raw_pages")[0]
    assert secret in content
    assert "private bytes" not in content
    assert broker.get(secret) == b"private bytes"  # neither read nor settled


def test_small_batches_travel_inline(
    service_env: dict[str, str], broker: redis.Redis, db: str
) -> None:
    sent = run_cli("enqueue", str(EXAMPLES), env=service_env)
    assert sent.returncode == 0, sent.stderr
    (raw,) = broker.lrange(service_env["NEWSINGEST_QUEUE"], 0, -1)
    body = json.loads(base64.b64decode(json.loads(raw)["body"]))
    assert isinstance(body[0][0], list)
    broker.delete(service_env["NEWSINGEST_QUEUE"])


def test_claims_no_message_names_are_orphans_and_only_they_are_deleted(
    service_env: dict[str, str], broker: redis.Redis, db: str, tmp_path: Path
) -> None:
    queue = service_env["NEWSINGEST_QUEUE"]
    ours = Settings(broker_url=SecretStr(REDIS_URL), queue=queue)
    _big_pages(tmp_path, 2)
    assert run_cli("enqueue", str(tmp_path), env=service_env).returncode == 0
    (raw,) = broker.lrange(queue, 0, -1)
    (named,) = claims_named(raw)
    orphan = put_claim(ours, [{"content": "its message was purged"}])
    settled = put_claim(ours, [{"content": "ingested"}])
    settle_claim(ours, settled)
    other_queue = f"{queue}-other"
    theirs = put_claim(Settings(broker_url=SecretStr(REDIS_URL), queue=other_queue), [{}])
    try:
        found = census(ours, queues=[queue, f"{queue}.dead"], idle_seconds=0)
        assert (found.waiting, found.settled, found.orphans) == (2, 1, [orphan])
        # A claim touched within the idle time is spared: its producer may still be publishing.
        shown = run_cli("claims", env=service_env)
        assert shown.returncode == 0, shown.stderr
        assert "delete them with" not in shown.stdout
        deleted = run_cli("claims", "--idle", "0", "--delete-orphans", env=service_env)
        assert deleted.returncode == 0, deleted.stderr
        assert "deleted 1 orphaned claims" in deleted.stdout
        assert not broker.exists(orphan)
        assert broker.exists(named, settled, theirs) == 3
    finally:
        broker.delete(theirs, settled, orphan)


def test_claims_without_a_reachable_redis_say_so(service_env: dict[str, str]) -> None:
    no_broker = {k: v for k, v in service_env.items() if k != "NEWSINGEST_BROKER_URL"}
    assert run_cli("claims", env=no_broker).returncode == 2
    unreachable = service_env | {"NEWSINGEST_BROKER_URL": "redis://127.0.0.1:1/0"}
    refused = run_cli("claims", env=unreachable)
    assert refused.returncode == 3
    assert "Redis did not answer" in refused.stderr
