"""Politeness shared by every worker on every machine, through Redis: at most one request per host
per interval (a slot reserved atomically by a Lua script on Redis's clock), and robots.txt, fetched
once per host and cached in Redis for all workers.
"""

from __future__ import annotations

import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import orjson
import redis

from worker.crawl.fetch import ANY_TYPE, Fetcher, FetchOutcome

KEY_PREFIX = "newsingest:crawl"
# A longer Crawl-delay is read as this: one hostile line should not stall a worker all day.
MAX_CRAWL_DELAY = 300.0
# An unreachable robots.txt forbids the host, but only until this many seconds have passed.
UNREACHABLE_ROBOTS_SECONDS = 300

# Reserve the host's next free slot: returns how many ms the caller waits before its request. Using
# Redis's TIME gives every machine one clock; the key expires once its slot has passed.
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local booked = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
local slot = math.max(now, booked)
local expires = slot - now + interval + 1000
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', string.format('%d', expires))
return slot - now
"""


def host_key(url: str) -> str:
    """The politeness key of a URL: its lower-cased host and port (`example.com:443`)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class HostPacer:
    """Spaces requests to each host by an interval, across all processes sharing one Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = KEY_PREFIX,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """A pacer keeping its slots in the Redis behind `client`, under keys `prefix:host:*`."""
        self._reserve = client.register_script(_RESERVE_SLOT)
        self._prefix = prefix
        self._sleep = sleep

    def wait_turn(self, url: str, interval: float) -> float:
        """Block until a request to `url`'s host may go, `interval` seconds after the previous
        one from any worker; returns the seconds waited."""
        if interval <= 0:
            return 0.0
        wait_ms = int(
            self._reserve(
                keys=[f"{self._prefix}:host:{host_key(url)}"], args=[int(interval * 1000)]
            )
        )
        if wait_ms > 0:
            self._sleep(wait_ms / 1000)
        return wait_ms / 1000


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What a host's robots.txt says to our user agent."""

    verdict: Literal["rules", "allow_all", "disallow_all"]
    text: str = ""
    reason: str = ""  # why a robots.txt that could not be read disallows everything

    def parser(self) -> urllib.robotparser.RobotFileParser:
        """A standard-library parser loaded with these rules."""
        parser = urllib.robotparser.RobotFileParser()
        if self.verdict == "allow_all":
            parser.parse([])
        elif self.verdict == "disallow_all":
            parser.parse(["User-agent: *", "Disallow: /"])
        else:
            parser.parse(self.text.splitlines())
        return parser


# RFC 9309 asks crawlers to parse at least 500 KiB of a robots.txt.
_ROBOTS_BYTES = 512 * 1024


class Robots:
    """robots.txt of each host, fetched once per cache period and shared through Redis."""

    def __init__(
        self,
        client: redis.Redis,
        fetcher: Fetcher,
        *,
        user_agent: str,
        cache_seconds: int,
        prefix: str = KEY_PREFIX,
    ) -> None:
        """Robots rules fetched with `fetcher`, cached in the Redis behind `client`."""
        self._redis = client
        self._prefix = prefix
        self._fetcher = fetcher
        # robots.txt groups name a product token: "newsingest" of "newsingest/0.1 (+url)".
        self._agent = (user_agent.split("/", 1)[0].split(maxsplit=1) or ["*"])[0]
        self._cache_seconds = cache_seconds
        self._local: dict[str, tuple[float, RobotsRules, urllib.robotparser.RobotFileParser]] = {}

    def allowed(self, url: str, *, pace: Callable[[str], None] | None = None) -> bool:
        """Whether robots.txt lets our user agent fetch `url`."""
        return self._parser(url, pace)[1].can_fetch(self._agent, url)

    def refusal(self, url: str) -> str:
        """Why `url` is not allowed: its rules, or a robots.txt that could not be read."""
        reason = self._parser(url, None)[0].reason
        if reason:
            return f"robots.txt could not be read ({reason}), so the host is off limits for now"
        return "disallowed by robots.txt"

    def crawl_delay(self, url: str, *, pace: Callable[[str], None] | None = None) -> float:
        """The Crawl-delay robots.txt asks of our user agent on `url`'s host, 0 without one."""
        delay = self._parser(url, pace)[1].crawl_delay(self._agent)
        try:
            return min(float(delay or 0), MAX_CRAWL_DELAY)
        except (TypeError, ValueError):
            return 0.0

    def _parser(
        self, url: str, pace: Callable[[str], None] | None
    ) -> tuple[RobotsRules, urllib.robotparser.RobotFileParser]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        cached = self._local.get(origin)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        key = f"{self._prefix}:robots:{origin}"
        stored = self._redis.get(key)
        if stored is not None:
            rules = RobotsRules(**orjson.loads(stored))
            ttl = max(1, int(self._redis.ttl(key)))
        else:
            rules, ttl = self._fetch_rules(origin, pace)
            if ttl > 0:
                stored_rules = {
                    "verdict": rules.verdict,
                    "text": rules.text,
                    "reason": rules.reason,
                }
                self._redis.set(key, orjson.dumps(stored_rules), ex=ttl)
        parser = rules.parser()
        self._local[origin] = (time.monotonic() + min(ttl, 60), rules, parser)
        return rules, parser

    def _fetch_rules(
        self, origin: str, pace: Callable[[str], None] | None
    ) -> tuple[RobotsRules, int]:
        fetched = self._fetcher.fetch(f"{origin}/robots.txt", accept=ANY_TYPE, pace=pace)
        if fetched.has_body:
            text = fetched.body[:_ROBOTS_BYTES].decode("utf-8", "replace")
            return RobotsRules("rules", text), self._cache_seconds
        if fetched.outcome is FetchOutcome.HTTP_ERROR and fetched.status and fetched.status < 500:
            # RFC 9309: a robots.txt that is absent (4xx) places no restriction.
            return RobotsRules("allow_all"), self._cache_seconds
        # Unreachable (5xx, network, refused): assume everything is disallowed, for a while.
        reason = fetched.error or f"{fetched.outcome.value}, HTTP {fetched.status}"
        if fetched.outcome is FetchOutcome.REFUSED:
            # Our own guard said no (a private address): that is this process's setting, not
            # the host's state, so it is not kept for other workers or for after a change.
            return RobotsRules("disallow_all", reason=reason[:300]), 0
        return RobotsRules("disallow_all", reason=reason[:300]), min(
            self._cache_seconds, UNREACHABLE_ROBOTS_SECONDS
        )
