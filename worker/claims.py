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
  message, so the books still show the receipt.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis

from worker.app import zstd_compress, zstd_decompress
from worker.config import Settings
from worker.errors import ConfigError

CLAIM_PREFIX = "newsingest:claim:"
_CLAIM_KEY = re.compile(r"newsingest:claim:[0-9a-f]{32}")
_SETTLED = b""

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


def put_claim(settings: Settings, pages: list[dict[str, Any]]) -> str:
    """Keep a batch in Redis as zstd-compressed JSON; returns its claim key."""
    key = f"{CLAIM_PREFIX}{uuid.uuid4().hex}"
    _client(settings).set(key, zstd_compress(orjson.dumps(pages)))
    return key


def drop_claim(settings: Settings, key: str) -> None:
    """Delete a claim whose message was never published."""
    _client(settings).delete(key)


def claim_of(message: Any) -> str | None:
    """The claim key a message's argument names (`{"claim": key, "pages": n}`), else None."""
    if isinstance(message, dict) and set(message) <= {"claim", "pages"}:
        key = message.get("claim")
        # Only our own keys: a message must not make the worker read any key it names.
        if isinstance(key, str) and _CLAIM_KEY.fullmatch(key):
            return key
    return None


class ClaimSettled(Exception):
    """The claim's batch was ingested by an earlier delivery of the same message."""


class ClaimMissing(Exception):
    """The claim is gone without being settled: Redis lost it."""


def open_claim(settings: Settings, key: str) -> list[Any]:
    """The pages a claim holds; raises ClaimSettled or ClaimMissing, or ValueError if corrupt."""
    payload = _client(settings).get(key)
    if payload is None:
        raise ClaimMissing(key)
    if payload == _SETTLED:
        raise ClaimSettled(key)
    if not isinstance(payload, bytes):
        msg = f"claim {key} is not bytes"
        raise ValueError(msg)
    # Bounded: a zstd frame can inflate a thousandfold.
    pages = orjson.loads(zstd_decompress(payload))
    if not isinstance(pages, list):
        msg = f"claim {key} holds no list of pages"
        raise ValueError(msg)
    return pages


def settle_claim(settings: Settings, key: str) -> None:
    """Mark a claim's batch as ingested: a short-lived tombstone in place of its bytes."""
    _client(settings).set(key, _SETTLED, ex=2 * settings.visibility_timeout)
