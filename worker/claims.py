"""Claim checks: a large batch waits in Redis as compressed bytes, and its message names the key.

Why (py-spy on `bench/e2e.py --kind html`): a 20-page HTML batch is ~3.4 MB of JSON. Sent through
Celery it was compressed and base64-framed by the producer, then in the worker's prefork parent
decoded whole only for Celery's protocol check, dumped again (stdlib json) into kombu's unacked
hash and piped to the pool process, which decoded it once more: about a third of the worker's
CPU. As a claim, the batch crosses Redis once as raw zstd bytes and is decoded once, where it is
ingested; the queue message is a few hundred bytes.

Lifecycle, so a batch is never lost and never ingested twice:
- the producer SETs the claim (no expiry), then publishes the message; a failed publish deletes it;
- the worker reads the claim, ingests the batch in one transaction, then *settles* the claim: its
  value becomes an empty tombstone that expires after two visibility timeouts. A message redelivered
  after the commit (its worker died before the ack) finds the tombstone and does nothing;
- a claim that is neither there nor settled (Redis lost it) is recorded as a rejection holding the
  message, so the books still show the receipt;
- a claim no message names any more (its queue was purged) is an orphan: `newsingest claims` counts
  them and deletes them on request.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson
import redis

from worker.config import Settings
from worker.errors import ConfigError
from worker.packing import MAX_INFLATED_BYTES, zstd_compress, zstd_decompress

# A claim's key names its queue, so deployments sharing one Redis never count each other's claims
# as orphans: newsingest:claim:<queue>:<32 hex digits>.
CLAIM_PREFIX = "newsingest:claim:"
_CLAIM_ID = re.compile(r"[0-9a-f]{32}")
_CLAIM_KEY_BYTES = re.compile(rb"newsingest:claim:[^\x00-\x20\"]{1,200}?:[0-9a-f]{32}")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
# Where kombu's Redis transport keeps the messages workers hold but have not acknowledged, and the
# suffixes of a queue's priority lists (its default priority steps).
_UNACKED_KEY = "unacked"
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_SETTLED = b""
_CENSUS_CHUNK = 1000

_clients: dict[tuple[int, str], redis.Redis] = {}


def claims_supported(settings: Settings) -> bool:
    """Whether the broker is Redis, where claims are kept."""
    if settings.broker_url is None:
        return False
    return urlsplit(settings.broker_url.get_secret_value()).scheme in ("redis", "rediss")


def _client(settings: Settings) -> redis.Redis:
    # One client per process and URL: a forked pool process must not share its parent's sockets.
    if settings.broker_url is None:
        raise ConfigError("NEWSINGEST_BROKER_URL is not set: claims live on the broker")
    url = settings.broker_url.get_secret_value()
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(url)
    return client


def put_claim(settings: Settings, pages: list[Any]) -> str:
    """Keep a batch in Redis, framed and zstd-compressed; returns its claim key."""
    key = f"{CLAIM_PREFIX}{settings.queue}:{uuid.uuid4().hex}"
    _client(settings).set(key, zstd_compress(frame_pages(pages)))
    return key


# A framed batch: this mark, the header's length (4 bytes, big-endian), the JSON header
# {"pages": [each page without its content], "sizes": [its content's UTF-8 bytes, or -1],
# "packed": [the bytes of its zstd frame, or 0]}, then the contents back to back, each as its UTF-8
# or, when packed, as a zstd frame of it. Why not JSON throughout (py-spy on `bench/e2e.py --kind
# html`): a page's HTML is full of quotes, and escaping it into JSON and parsing it out again cost
# ~0.55 ms of CPU a 170 KB page, producer and worker together; raw bytes are sliced. The header
# holds everything else, so the page fields still travel as JSON only. Claims framed before pages
# were packed (NSF1, no "packed") and claims written as a JSON list still open.
#
# Why pack large pages one by one (bench: a page of 170 KB): PostgreSQL compressed each raw page
# again on insert, ~0.5 ms of the server's CPU a page. A page compressed on its own costs the
# producer what its share of the batch's compression did (+2%), and the worker keeps its frame as
# the raw page (`Received.packed`), which the server stores as it is. Small pages compress far
# better together (a 3 KB text dump: 4x the CPU and 1.7x the bytes alone), so they are not packed.
# A batch with no page packed is written as NSF1; a worker that only knows NSF1 refuses an NSF2
# claim as unreadable: upgrade workers before producers.
_FRAMED = b"NSF2"
_FRAMED_UNPACKED = b"NSF1"
_HEADER_SIZE_BYTES = 4
PACK_MIN_BYTES = 16 * 1024


class Unframed(NamedTuple):
    """A claim's pages, and beside each what its content was read from (None where it had none,
    and for a claim written as a JSON list)."""

    pages: list[Any]
    # The UTF-8 bytes of each content: the worker hashes them instead of encoding it again.
    utf8: list[bytes | None]
    # The zstd frame each large content travelled as: kept as the raw page (see _FRAMED).
    packed: list[bytes | None]


def frame_pages(pages: list[Any]) -> bytes:
    """A batch of page dicts as one framed payload (see _FRAMED); an element that is no dict
    (an invalid line `enqueue --jsonl` read) travels in the header, for the worker to judge."""
    headers: list[dict[str, Any]] = []
    sizes: list[int] = []
    packed: list[int] = []
    contents: list[bytes] = []
    for page in pages:
        content = page.get("content") if isinstance(page, dict) else None
        if isinstance(content, str):
            data = content.encode()
            fields = dict(page)  # a copy less one key: a third of a comprehension's cost
            del fields["content"]
            headers.append(fields)
            sizes.append(len(data))
            if len(data) >= PACK_MIN_BYTES:
                data = zstd_compress(data)
                packed.append(len(data))
            else:
                packed.append(0)
            contents.append(data)
        else:
            headers.append(page)  # no text to frame: it stays as it was, for the worker to judge
            sizes.append(-1)
            packed.append(0)
    if any(packed):
        mark, header = _FRAMED, orjson.dumps({"pages": headers, "sizes": sizes, "packed": packed})
    else:
        # Nothing packed: the frame workers before packing read too.
        mark, header = _FRAMED_UNPACKED, orjson.dumps({"pages": headers, "sizes": sizes})
    return b"".join([mark, len(header).to_bytes(_HEADER_SIZE_BYTES, "big"), header, *contents])


def unframe_pages(payload: bytes) -> list[Any]:
    """The page dicts of a framed payload, or of a JSON list; ValueError if it is neither."""
    return unframe_batch(payload).pages


def unframe_batch(payload: bytes) -> Unframed:
    """The page dicts of a framed payload or a JSON list, with their contents' bytes (`Unframed`);
    ValueError if it is neither."""
    try:
        if not payload.startswith((_FRAMED, _FRAMED_UNPACKED)):
            pages = orjson.loads(payload)
            if not isinstance(pages, list):
                msg = "the batch is neither framed nor a JSON list of pages"
                raise ValueError(msg)
            return Unframed(pages, [None] * len(pages), [None] * len(pages))
        start = len(_FRAMED) + _HEADER_SIZE_BYTES
        header_end = start + int.from_bytes(payload[len(_FRAMED) : start], "big")
        header = orjson.loads(payload[start:header_end])
    except orjson.JSONDecodeError as exc:
        msg = f"the batch's JSON is cut or corrupt: {exc}"
        raise ValueError(msg) from exc
    headers = header.get("pages") if isinstance(header, dict) else None
    sizes = header.get("sizes") if isinstance(header, dict) else None
    packed = header.get("packed", [0] * len(sizes)) if isinstance(sizes, list) else None
    if (
        not isinstance(headers, list)
        or not isinstance(sizes, list)
        or not isinstance(packed, list)
        or not len(headers) == len(sizes) == len(packed)
        or not all(type(size) is int and size >= -1 for size in sizes)
        or not all(type(size) is int and size >= 0 for size in packed)
        or sum(packed[i] or max(size, 0) for i, size in enumerate(sizes))
        != len(payload) - header_end
        # What the packed pages inflate to is bounded as the whole claim is.
        or sum(size for size, frame in zip(sizes, packed, strict=True) if frame)
        > MAX_INFLATED_BYTES
    ):
        msg = "the framed batch's header does not describe its contents"
        raise ValueError(msg)
    offset = header_end
    contents: list[bytes | None] = []
    frames: list[bytes | None] = []
    for page, size, frame_size in zip(headers, sizes, packed, strict=True):
        if size < 0 or not isinstance(page, dict):
            offset += frame_size or max(size, 0)
            contents.append(None)
            frames.append(None)
            continue
        frame = None
        if frame_size:
            frame = payload[offset : offset + frame_size]
            offset += frame_size
            content = zstd_decompress(frame, limit=size)
            if len(content) != size:
                msg = "a packed page does not inflate to the size its header states"
                raise ValueError(msg)
        else:
            content = payload[offset : offset + size]
            offset += size
        # Framing writes UTF-8: other bytes are a corrupt claim (UnicodeDecodeError is a
        # ValueError, so the batch is recorded as unreadable).
        page["content"] = str(content, "utf-8")
        contents.append(content)
        frames.append(frame)
    return Unframed(headers, contents, frames)


def drop_claim(settings: Settings, key: str) -> None:
    """Delete a claim whose message was never published."""
    _client(settings).delete(key)


def claim_of(message: Any, *, queue: str) -> str | None:
    """The claim key a message's argument names (`{"claim": key, "pages": n}`), else None.

    Only a claim of `queue`, the queue the message came on: a message must not make the worker
    read any key it names, nor ingest (and settle) a batch another deployment's queue owns.
    """
    if isinstance(message, dict) and set(message) <= {"claim", "pages"}:
        key = message.get("claim")
        own = f"{CLAIM_PREFIX}{queue}:"
        if (
            isinstance(key, str)
            and key.startswith(own)
            and _CLAIM_ID.fullmatch(key, len(own)) is not None
        ):
            return key
    return None


class ClaimSettled(Exception):
    """The claim's batch was ingested by an earlier delivery of the same message."""


class ClaimMissing(Exception):
    """The claim is gone without being settled: Redis lost it."""


class ClaimRefused(ValueError):
    """The claim is corrupt or over a limit; `payload` holds its bytes as Redis kept them."""

    def __init__(self, message: str, *, payload: bytes) -> None:
        """Why it was refused, and what it held."""
        super().__init__(message)
        self.payload = payload


def open_claim(settings: Settings, key: str) -> Unframed:
    """The pages a claim holds, with their contents' bytes (see `unframe_batch`); raises
    ClaimSettled or ClaimMissing, or ClaimRefused if corrupt or past the settings' limits."""
    payload = _client(settings).get(key)
    if payload is None:
        raise ClaimMissing(key)
    if payload == _SETTLED:
        raise ClaimSettled(key)
    if not isinstance(payload, bytes):
        msg = f"claim {key} is not bytes"
        raise ValueError(msg)
    # Bounded: a zstd frame can inflate a thousandfold.
    try:
        batch = unframe_batch(zstd_decompress(payload, limit=settings.max_message_bytes))
        if len(batch.pages) > settings.max_message_pages:
            msg = (
                f"it holds {len(batch.pages):,} pages; at most {settings.max_message_pages:,} "
                "are read from one claim"
            )
            raise ValueError(msg)
    except ValueError as exc:
        raise ClaimRefused(f"claim {key}: {exc}", payload=payload) from exc
    return batch


def settle_claim(settings: Settings, key: str) -> None:
    """Mark a claim's batch as ingested: a short-lived tombstone in place of its bytes."""
    _client(settings).set(key, _SETTLED, ex=2 * settings.visibility_timeout)


@dataclass
class ClaimCensus:
    """What claims Redis holds: waiting for a worker, settled, and orphaned."""

    waiting: int = 0
    waiting_bytes: int = 0
    settled: int = 0
    orphans: list[str] = field(default_factory=list)


def queue_lengths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting on each queue, its priority lists included, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    replies = pipe.execute()
    step = len(_PRIORITY_SUFFIXES)
    return {
        queue: sum(int(n) for n in replies[i * step : (i + 1) * step])
        for i, queue in enumerate(queues)
    }


def census(settings: Settings, *, queues: list[str], idle_seconds: int) -> ClaimCensus:
    """Count the claims of the ingest queue, and list the orphans: waiting, idle this long, and
    named by no message.

    A message names its claim while it waits on a queue (its priority lists included), waits on
    the dead-letter queue, or is held by a worker (kombu's unacknowledged hash); the idle time
    spares a claim whose producer has not published its message yet.
    """
    client = _client(settings)
    named: set[bytes] = set()
    for queue in queues:
        for suffix in _PRIORITY_SUFFIXES:
            for raw in client.lrange(queue + suffix, 0, -1):
                named.update(claims_named(raw))
    for raw in client.hvals(_UNACKED_KEY):
        named.update(claims_named(raw))
    result = ClaimCensus()
    own = CLAIM_PREFIX + _GLOB_SPECIAL.sub(r"\\\1", settings.queue) + ":*"
    keys = [key if isinstance(key, bytes) else key.encode() for key in client.scan_iter(own, 1000)]
    for start in range(0, len(keys), _CENSUS_CHUNK):
        chunk = keys[start : start + _CENSUS_CHUNK]
        # One round trip a chunk; idle time first, since reading the value counts as an access.
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.object("idletime", key)
            pipe.strlen(key)
        replies = pipe.execute()
        for key, idle, size in zip(chunk, replies[::2], replies[1::2], strict=True):
            if size == 0:
                result.settled += 1
                continue
            result.waiting += 1
            result.waiting_bytes += size
            if key not in named and isinstance(idle, int) and idle >= idle_seconds:
                result.orphans.append(key.decode())
    return result


def delete_claims(settings: Settings, keys: list[str]) -> int:
    """Delete claims (orphans a census found); returns how many were there."""
    return int(_client(settings).delete(*keys)) if keys else 0


def claims_named(raw: bytes | str) -> set[bytes]:
    """The claim keys a stored kombu message names (its body is base64 inside a JSON envelope)."""
    if isinstance(raw, str):
        raw = raw.encode()
    found = set(_CLAIM_KEY_BYTES.findall(raw))
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return found
    # A queued message is the envelope; an unacknowledged one is [envelope, exchange, routing key].
    if isinstance(envelope, list) and envelope:
        envelope = envelope[0]
    body = envelope.get("body") if isinstance(envelope, dict) else None
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # binascii.Error: not base64 after all
            found.update(_CLAIM_KEY_BYTES.findall(base64.b64decode(body)))
    return found


def drop_queue(client: redis.Redis, queue: str) -> None:
    """Delete a queue with its dead-letter and crawl queues, kombu's bindings for them, and the
    claims of the messages left on them (no worker will settle those): a scratch queue's
    teardown, for tests and benchmarks."""
    queues = [queue, f"{queue}.dead", f"{queue}.crawl"]
    claims = [
        key for name in queues for raw in client.lrange(name, 0, -1) for key in claims_named(raw)
    ]
    bindings = [
        f"_kombu.{kind}.{name}" for kind in ("binding", "binding_permanent") for name in queues
    ]
    client.delete(*queues, *bindings, *claims)
