"""The per-source crawl lock on the real Redis: renewed while a crawl runs, freed when it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.crawl.crawlkit import key_prefix_fixture, redis_client_fixture  # noqa: F401
from worker.crawl.service import source_lock
from worker.crawl.settings import get_crawl_settings


@pytest.fixture
def prefixed(key_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("NEWSINGEST_CRAWL_KEY_PREFIX", key_prefix)
    get_crawl_settings.cache_clear()
    yield key_prefix
    get_crawl_settings.cache_clear()


def test_a_crawl_longer_than_its_lock_keeps_the_lock(
    redis_client: redis.Redis, prefixed: str
) -> None:
    key = f"{prefixed}:lock:wire"
    with source_lock(redis_client, "wire", seconds=1.5) as held:
        assert held
        time.sleep(4)  # well past the lock's own lifetime: only renewal keeps it
        with source_lock(redis_client, "wire", seconds=1.5) as other:
            assert not other
        assert 0 < redis_client.pttl(key) <= 1500
    assert not redis_client.exists(key)
    with source_lock(redis_client, "wire", seconds=1.5) as again:
        assert again
