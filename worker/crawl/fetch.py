"""Fetching one URL politely and safely with httpx: timeouts, a byte cap, redirects checked hop by
hop against the SSRF guard, a content-type filter, and retries with back-off on 429, 5xx and connect
errors (honouring Retry-After).

One `Fetcher` (one connection pool) serves a whole worker process: `get_fetcher()`.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from worker.crawl.settings import CrawlSettings, get_crawl_settings

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x-gzip",
        "application/gzip",
        "text/plain",
        "text/html",  # some servers label their feeds so; feedparser tells
    }
)
ANY_TYPE: frozenset[str] = frozenset()

# zlib window bits by Content-Encoding: gzip framing, zlib framing, or none.
_INFLATE_WBITS: dict[str, int | None] = {
    "identity": None,
    "gzip": 31,
    "x-gzip": 31,
    "deflate": 15,
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED = frozenset({429, 500, 502, 503, 504})

Resolve = Callable[[str, int], list[str]]
Pace = Callable[[str], None]
Permit = Callable[[str], str | None]


class FetchOutcome(enum.StrEnum):
    """How a fetch ended."""

    OK = "ok"  # a 2xx with its body
    TOO_LARGE = "too_large"  # a 2xx whose body was cut at the byte cap
    NOT_MODIFIED = "not_modified"  # 304 to a conditional GET
    UNWANTED_TYPE = "unwanted_type"  # a 2xx of a content type we do not store; body unread
    REFUSED = "refused"  # the SSRF guard said no (scheme or address)
    HTTP_ERROR = "http_error"  # a final 4xx/5xx, after any retries
    FAILED = "failed"  # a network error, a timeout, a redirect loop


@dataclass(frozen=True, slots=True)
class Fetched:
    """The result of fetching one URL (following its redirects)."""

    url: str
    final_url: str
    outcome: FetchOutcome
    fetched_at: datetime
    status: int | None = None
    body: bytes = b""
    media_type: str | None = None
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    original_size: int | None = None
    error: str | None = None
    attempts: int = 1

    @property
    def has_body(self) -> bool:
        """Whether the fetch brought a body to use (whole, or cut at the cap)."""
        return self.outcome in (FetchOutcome.OK, FetchOutcome.TOO_LARGE)


class _Refused(Exception):
    """The URL may not be fetched: the reason is the message."""


class _Unresolvable(Exception):
    """The host name did not resolve."""


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses `host` resolves to for a TCP connection on `port`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1, 64:ff9b::/96 (NAT64), 2002::/16 (6to4) and Teredo reach IPv4 hosts;
        # judge the IPv4 address they carry.
        embedded = (
            ip.ipv4_mapped
            or ip.sixtofour
            or (ip.teredo[1] if ip.teredo else None)
            or (
                ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                if ip in ipaddress.IPv6Network("64:ff9b::/96")
                else None
            )
        )
        if embedded is not None:
            ip = embedded
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, *, allow_private: bool, resolve: Resolve = resolve_host) -> str | None:
    """Why `url` may not be fetched (a scheme other than http(s), or a host that resolves to a
    non-public address unless `allow_private`), or None when it may."""
    try:
        _guard(url, allow_private=allow_private, resolve=resolve, public=is_public_address)
    except (_Refused, _Unresolvable) as exc:
        return str(exc)
    return None


_PRIVATE_HINT = " (NEWSINGEST_ALLOW_PRIVATE_ADDRESSES=true lets the crawler fetch such hosts)"


def _guard(
    url: str, *, allow_private: bool, resolve: Resolve, public: Callable[[str], bool]
) -> str | None:
    # Returns the address to connect to when the host is a name that had to be checked.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _Refused(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _Refused(f"malformed address: {exc}") from exc
    if not host:
        raise _Refused("no host in the URL")
    if allow_private:
        return None
    try:
        literal = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    if literal is not None:
        if not public(literal):
            raise _Refused(f"{literal} is not a public address{_PRIVATE_HINT}")
        return None
    try:
        addresses = resolve(host, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError) as exc:
        raise _Unresolvable(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise _Unresolvable(f"{host} has no addresses")
    for address in addresses:
        if not public(address):
            raise _Refused(f"{host} resolves to the non-public address {address}{_PRIVATE_HINT}")
    return addresses[0]


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    # The request goes to the address that was checked, never to a second lookup that a hostile
    # DNS server could answer differently (rebinding); the Host header and TLS SNI (which is also
    # what the certificate is checked against) keep the name.
    logical = httpx.URL(url)
    extensions = {"sni_hostname": logical.host} if logical.scheme == "https" else {}
    host = {"Host": logical.netloc.decode("ascii")}
    return str(logical.copy_with(host=address)), host, extensions


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """The delay a Retry-After header asks for (seconds or an HTTP date), or None if unreadable."""
    if not value:
        return None
    text = value.strip()[:64]
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class _Deadline:
    """Cuts a request off at a deadline, however slowly its server sends headers or body.

    httpx times out each read, not a whole request: a server that sends a header byte every few
    seconds is never cut off. Why by hand: httpx has no total timeout, so this watches the
    connection's socket (handed over by httpx's `trace` extension) and, at the deadline, shuts it
    down from a timer thread; the blocked read then fails and the fetch ends as failed. Every
    request opens its own connection (no keep-alive), so each one's socket is seen.
    """

    def __init__(self, seconds: float) -> None:
        """A deadline `seconds` from when the block is entered."""
        self.seconds = seconds
        self.expired = False
        self.at = 0.0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace callback: keeps the socket of each connection the request opens."""
        if event != "connection.connect_tcp.complete":
            return
        sock = info["return_value"].get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self.at = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


class Fetcher:
    """An httpx client with the crawler's rules; safe to share within a process, one per process."""

    def __init__(
        self,
        settings: CrawlSettings,
        *,
        resolve: Resolve = resolve_host,
        public: Callable[[str], bool] = is_public_address,
        proxy: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """A fetcher with `settings`; `resolve`, `public` (which addresses the guard lets through)
        and `proxy` exist for tests and odd networks."""
        self._settings = settings
        self._resolve = resolve
        self._public = public
        self._proxy = proxy
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            # Redirects are followed here, not by httpx, so that every hop meets the SSRF guard.
            follow_redirects=False,
            # Only the encodings _read_capped inflates itself, a bounded amount at a time.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            # Environment proxies and netrc would send requests where the guard cannot see; the
            # certificate settings of the environment are still honoured.
            trust_env=False,
            verify=_tls_context(),
            proxy=proxy,
            # A new connection per request, so `_Deadline` sees every socket. Polite crawling
            # spaces requests to a host by seconds, longer than a kept connection would wait.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    @property
    def settings(self) -> CrawlSettings:
        """The settings this fetcher obeys."""
        return self._settings

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        accept: Collection[str] = PAGE_TYPES,
        etag: str | None = None,
        last_modified: str | None = None,
        pace: Pace | None = None,
        permit: Permit | None = None,
    ) -> Fetched:
        """Fetch `url`: conditional on `etag`/`last_modified`, each request (hop and retry) after
        `pace(url)` lets it go, keeping the body only for a media type in `accept` (empty: any);
        a redirect to a URL that `permit` finds a reason against (robots.txt) is refused."""
        settings = self._settings
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        current, seen, attempt = url, {url}, 0
        while True:
            try:
                address = _guard(
                    current,
                    allow_private=settings.allow_private_addresses,
                    resolve=self._resolve,
                    public=self._public,
                )
            except _Refused as exc:
                return self._ended(url, current, FetchOutcome.REFUSED, error=str(exc))
            except _Unresolvable as exc:
                return self._ended(url, current, FetchOutcome.FAILED, error=str(exc))
            objection = permit(current) if permit is not None and current != url else None
            if objection:
                return self._ended(url, current, FetchOutcome.REFUSED, error=objection)
            if pace is not None:
                pace(current)
            delay: float | None = None
            deadline: _Deadline | None = None
            try:
                target, headers = current, dict(conditional)
                extensions: dict[str, str] = {}
                # Through a proxy the proxy connects; the check above is all we can do then.
                if address is not None and self._proxy is None:
                    target, host, extensions = _pinned(current, address)
                    headers |= host
                deadline = _Deadline(settings.request_deadline)
                extensions["trace"] = deadline.trace  # type: ignore[assignment]
                with (
                    deadline,
                    self._client.stream(
                        "GET", target, headers=headers, extensions=extensions
                    ) as response,
                ):
                    status = response.status_code
                    location = response.headers.get("location")
                    if status in _REDIRECTS and location:
                        current = urljoin(current, location.strip())
                        if current in seen:
                            return self._ended(
                                url,
                                current,
                                FetchOutcome.FAILED,
                                status=status,
                                error="redirect loop",
                            )
                        if len(seen) > settings.max_redirects:
                            return self._ended(
                                url,
                                current,
                                FetchOutcome.FAILED,
                                status=status,
                                error=f"more than {settings.max_redirects} redirects",
                            )
                        seen.add(current)
                        continue
                    if status in _RETRIED:
                        delay, error = self._retry_delay(response, attempt)
                        if delay is None:
                            return self._ended(
                                url,
                                current,
                                FetchOutcome.HTTP_ERROR,
                                status=status,
                                error=error,
                                attempts=attempt + 1,
                            )
                    else:
                        return self._finish(url, current, response, accept, attempt + 1)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                delay = self._backoff(attempt)
                if delay is None:
                    return self._ended(
                        url,
                        current,
                        FetchOutcome.FAILED,
                        error=f"{type(exc).__name__}: {exc}",
                        attempts=attempt + 1,
                    )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                if deadline is not None and deadline.expired:
                    error = f"no whole response within {deadline.seconds:g} s (request_deadline)"
                return self._ended(
                    url, current, FetchOutcome.FAILED, error=error, attempts=attempt + 1
                )
            attempt += 1
            self._sleep(delay)

    def _backoff(self, attempt: int) -> float | None:
        if attempt >= self._settings.fetch_retries:
            return None
        return float(self._settings.retry_backoff * 2**attempt)

    def _retry_delay(self, response: httpx.Response, attempt: int) -> tuple[float | None, str]:
        status = response.status_code
        if attempt >= self._settings.fetch_retries:
            return None, f"HTTP {status} after {attempt + 1} attempts"
        asked = retry_after_seconds(response.headers.get("retry-after"), now=datetime.now(UTC))
        if asked is None:
            return self._backoff(attempt), ""
        if asked > self._settings.max_retry_after:
            return None, f"HTTP {status} asking to retry after {asked:.0f}s"
        return asked, ""

    def _finish(
        self,
        url: str,
        final_url: str,
        response: httpx.Response,
        accept: Collection[str],
        attempts: int,
    ) -> Fetched:
        status = response.status_code
        headers = response.headers
        validators = {
            "etag": _header(headers, "etag"),
            "last_modified": _header(headers, "last-modified"),
        }
        if status == 304:
            return self._ended(
                url,
                final_url,
                FetchOutcome.NOT_MODIFIED,
                status=status,
                attempts=attempts,
                **validators,
            )
        if not 200 <= status < 300:
            return self._ended(
                url,
                final_url,
                FetchOutcome.HTTP_ERROR,
                status=status,
                error=f"HTTP {status}",
                attempts=attempts,
            )
        content_type = _header(headers, "content-type")
        media_type = content_type.split(";", 1)[0].strip().lower() if content_type else None
        if accept and media_type and media_type not in accept:
            return self._ended(
                url,
                final_url,
                FetchOutcome.UNWANTED_TYPE,
                status=status,
                media_type=media_type,
                content_type=content_type,
                error=f"content type {media_type}",
                attempts=attempts,
            )
        encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
        if encoding not in _INFLATE_WBITS:
            return self._ended(
                url,
                final_url,
                FetchOutcome.FAILED,
                status=status,
                error=f"unsupported content encoding {encoding[:40]!r}",
                attempts=attempts,
            )
        body, size = self._read_capped(response, _INFLATE_WBITS[encoding])
        cap = self._settings.max_response_bytes
        declared = headers.get("content-length", "") if encoding == "identity" else ""
        original_size = None
        if size > cap:
            original_size = max(size, int(declared) if declared.isdigit() else 0)
        return Fetched(
            url=url,
            final_url=final_url,
            outcome=FetchOutcome.TOO_LARGE if original_size else FetchOutcome.OK,
            fetched_at=datetime.now(UTC),
            status=status,
            body=body,
            media_type=media_type,
            content_type=content_type,
            charset=response.charset_encoding,
            original_size=original_size,
            attempts=attempts,
            **validators,
        )

    def _read_capped(self, response: httpx.Response, wbits: int | None) -> tuple[bytes, int]:
        # Reading one byte past the cap tells a page that fits from one that was cut. Inflating
        # here, never more than the cap allows, keeps a compression bomb from filling memory.
        cap = self._settings.max_response_bytes
        inflater = zlib.decompressobj(wbits) if wbits is not None else None
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            try:
                chunk = inflater.decompress(raw, cap + 1 - size) if inflater else raw
            except zlib.error as exc:
                raise httpx.DecodingError(f"bad compressed body: {exc}") from exc
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                break
        return b"".join(chunks)[:cap], size

    def _ended(
        self,
        url: str,
        final_url: str,
        outcome: FetchOutcome,
        *,
        status: int | None = None,
        error: str | None = None,
        attempts: int = 1,
        media_type: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        return Fetched(
            url=url,
            final_url=final_url,
            outcome=outcome,
            fetched_at=datetime.now(UTC),
            status=status,
            error=error,
            attempts=attempts,
            media_type=media_type,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
        )


def _tls_context() -> ssl.SSLContext | bool:
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    return True  # httpx's default: the certifi bundle


def _header(headers: httpx.Headers, name: str) -> str | None:
    # Validators and types are echoed back or stored: a hostile server's megabyte header is not.
    value = headers.get(name)
    return value[:500] if value else None


_fetcher: Fetcher | None = None
_fetcher_pid: int | None = None


def get_fetcher() -> Fetcher:
    """This process's shared fetcher, created on first use (and again after a fork)."""
    global _fetcher, _fetcher_pid  # noqa: PLW0603 - one connection pool per process, by design
    if _fetcher is None or _fetcher_pid != os.getpid():
        _fetcher = Fetcher(get_crawl_settings())
        _fetcher_pid = os.getpid()
    return _fetcher
