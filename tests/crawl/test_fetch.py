"""The fetcher against a real HTTP server on 127.0.0.1: retries, timeouts, caps, redirects,
content types, conditional GETs and the SSRF guard."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.crawl.crawlkit import Reply, Site, endless, fast_settings, site_fixture  # noqa: F401
from worker.crawl.fetch import Fetcher, FetchOutcome, check_url, is_public_address

HTML = b"<html><body><h1>Trams return to Osaka</h1><p>The city said so.</p></body></html>"


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    client = Fetcher(fast_settings())
    yield client
    client.close()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo of 127.0.0.1
    ],
)
def test_only_global_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http:///nohost",
    ],
)
def test_the_guard_refuses_other_schemes_and_private_hosts(url: str) -> None:
    assert check_url(url, allow_private=False, resolve=lambda host, port: ["93.184.216.34"])


def test_the_guard_refuses_a_name_resolving_to_a_private_address() -> None:
    reason = check_url(
        "https://intranet.example/", allow_private=False, resolve=lambda h, p: ["10.0.0.7"]
    )
    assert reason is not None
    assert "10.0.0.7" in reason
    assert (
        check_url(
            "https://news.example/", allow_private=False, resolve=lambda h, p: ["93.184.216.34"]
        )
        is None
    )


def test_a_page_comes_back_with_its_type_charset_and_validators(
    site: Site, fetcher: Fetcher
) -> None:
    site.page("/story", HTML, "text/html; charset=ISO-8859-1")
    fetched = fetcher.fetch(site.url("/story"))
    assert fetched.outcome is FetchOutcome.OK
    assert fetched.body == HTML
    assert fetched.media_type == "text/html"
    assert (fetched.charset or "").lower() == "iso-8859-1"
    assert fetched.etag


def test_429_with_retry_after_is_retried_after_the_asked_delay(
    site: Site, fetcher: Fetcher
) -> None:
    site.route(
        "/busy",
        lambda n, _: Reply(429, {"Retry-After": "1"}) if n == 1 else Reply(200, {}, HTML),
    )
    fetched = fetcher.fetch(site.url("/busy"))
    assert fetched.outcome is FetchOutcome.OK
    hits = site.asked("/busy")
    assert len(hits) == 2
    assert hits[1].at - hits[0].at >= 0.95


def test_a_retry_after_beyond_the_limit_is_not_waited_for(site: Site, fetcher: Fetcher) -> None:
    site.route("/busy", lambda n, _: Reply(429, {"Retry-After": "3600"}))
    fetched = fetcher.fetch(site.url("/busy"))
    assert fetched.outcome is FetchOutcome.HTTP_ERROR
    assert fetched.status == 429
    assert len(site.asked("/busy")) == 1


def test_503_then_200_succeeds_on_the_retry(site: Site, fetcher: Fetcher) -> None:
    site.route("/flaky", lambda n, _: Reply(503) if n == 1 else Reply(200, {}, HTML))
    fetched = fetcher.fetch(site.url("/flaky"))
    assert fetched.outcome is FetchOutcome.OK
    assert fetched.attempts == 2
    assert len(site.asked("/flaky")) == 2


def test_a_server_error_that_persists_gives_up_after_the_retries(
    site: Site, fetcher: Fetcher
) -> None:
    site.route("/down", lambda n, _: Reply(503))
    fetched = fetcher.fetch(site.url("/down"))
    assert fetched.outcome is FetchOutcome.HTTP_ERROR
    assert len(site.asked("/down")) == fetcher.settings.fetch_retries + 1


def test_a_404_is_not_retried(site: Site, fetcher: Fetcher) -> None:
    fetched = fetcher.fetch(site.url("/missing"))
    assert (fetched.outcome, fetched.status) == (FetchOutcome.HTTP_ERROR, 404)
    assert len(site.asked("/missing")) == 1


def test_a_slow_endpoint_times_out(site: Site, fetcher: Fetcher) -> None:
    site.route("/slow", lambda n, _: Reply(200, {}, HTML, delay=2.0))
    fetched = fetcher.fetch(site.url("/slow"))
    assert fetched.outcome is FetchOutcome.FAILED
    assert "Timeout" in (fetched.error or "")


def test_a_server_that_drips_its_headers_is_cut_off_at_the_request_deadline() -> None:
    # Each header line comes well within the read timeout, so no read ever times out.
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(150):  # 15 s at most, so a fetcher without a deadline fails, not hangs
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(b"X-Drip: 1\r\n")
                except OSError:
                    return
            connection.sendall(b"Content-Length: 0\r\n\r\n")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    settings = fast_settings().model_copy(update={"request_deadline": 1.5, "read_timeout": 1.0})
    fetcher = Fetcher(settings)
    started = time.monotonic()
    try:
        fetched = fetcher.fetch(f"http://127.0.0.1:{server.getsockname()[1]}/")
    finally:
        stop.set()
        fetcher.close()
        server.close()
    assert fetched.outcome is FetchOutcome.FAILED
    assert "within 1.5 s" in (fetched.error or "")
    assert time.monotonic() - started < 10


def test_an_endless_body_is_cut_at_the_byte_cap(site: Site, fetcher: Fetcher) -> None:
    site.route("/endless", lambda n, _: Reply(200, {"Content-Type": "text/html"}, stream=endless))
    fetched = fetcher.fetch(site.url("/endless"))
    cap = fetcher.settings.max_response_bytes
    assert fetched.outcome is FetchOutcome.TOO_LARGE
    assert len(fetched.body) == cap
    assert fetched.original_size is not None
    assert fetched.original_size > cap


def test_a_redirect_loop_ends_in_failure(site: Site, fetcher: Fetcher) -> None:
    site.route("/a", lambda n, _: Reply(302, {"Location": "/b"}))
    site.route("/b", lambda n, _: Reply(301, {"Location": site.url("/a")}))
    fetched = fetcher.fetch(site.url("/a"))
    assert fetched.outcome is FetchOutcome.FAILED
    assert fetched.error == "redirect loop"
    assert len(site.asked("/a")) == 1


def test_too_many_redirects_end_in_failure(site: Site, fetcher: Fetcher) -> None:
    for hop in range(10):
        site.route(f"/hop{hop}", lambda n, _, hop=hop: Reply(302, {"Location": f"/hop{hop + 1}"}))
    fetched = fetcher.fetch(site.url("/hop0"))
    assert fetched.outcome is FetchOutcome.FAILED
    assert "redirects" in (fetched.error or "")
    assert not site.asked("/hop9")


def test_a_redirect_is_followed_to_its_page(site: Site, fetcher: Fetcher) -> None:
    site.route("/old", lambda n, _: Reply(301, {"Location": "/new"}))
    site.page("/new", HTML)
    fetched = fetcher.fetch(site.url("/old"))
    assert fetched.outcome is FetchOutcome.OK
    assert (fetched.url, fetched.final_url) == (site.url("/old"), site.url("/new"))


def test_a_content_type_outside_the_filter_is_not_read(site: Site, fetcher: Fetcher) -> None:
    site.route("/photo", lambda n, _: Reply(200, {"Content-Type": "image/png"}, stream=endless))
    fetched = fetcher.fetch(site.url("/photo"))
    assert fetched.outcome is FetchOutcome.UNWANTED_TYPE
    assert fetched.media_type == "image/png"
    assert fetched.body == b""


def test_a_conditional_get_of_an_unchanged_page_is_a_304(site: Site, fetcher: Fetcher) -> None:
    site.page("/story", HTML)
    first = fetcher.fetch(site.url("/story"))
    second = fetcher.fetch(site.url("/story"), etag=first.etag)
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert site.asked("/story")[1].headers.get("if-none-match") == first.etag


def test_pace_is_asked_before_every_request(site: Site, fetcher: Fetcher) -> None:
    site.route("/flaky", lambda n, _: Reply(503) if n == 1 else Reply(200, {}, HTML))
    paced: list[str] = []
    fetcher.fetch(site.url("/flaky"), pace=paced.append)
    assert paced == [site.url("/flaky")] * 2


def test_a_loopback_redirect_is_refused_when_private_addresses_are_not_allowed(
    site: Site,
) -> None:
    # news.example "resolves" to a public address and is reached through the test server acting
    # as a forward proxy; its redirect to 127.0.0.1 must be refused before any request is made.
    site.route(
        "http://news.example/story", lambda n, _: Reply(302, {"Location": site.url("/secret")})
    )
    site.page("/secret", b"internal")
    guarded = Fetcher(
        fast_settings(allow_private_addresses=False),
        resolve=lambda host, port: ["93.184.216.34"],
        proxy=site.base,
    )
    try:
        fetched = guarded.fetch("http://news.example/story")
        direct = guarded.fetch(site.url("/secret"))
    finally:
        guarded.close()
    assert len(site.asked("http://news.example/story")) == 1
    assert fetched.outcome is FetchOutcome.REFUSED
    assert "127.0.0.1" in (fetched.error or "")
    assert direct.outcome is FetchOutcome.REFUSED
    assert site.asked("/secret") == []


def test_the_guard_connects_to_the_address_it_checked(site: Site) -> None:
    # news.example does not exist in DNS: the page arrives only if the request went to the address
    # the guard resolved and approved, with the name kept in the Host header.
    port = site.base.rsplit(":", 1)[1]
    site.page("/story", HTML)
    lookups: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    pinned = Fetcher(
        fast_settings(allow_private_addresses=False), resolve=resolve, public=lambda _: True
    )
    try:
        fetched = pinned.fetch(f"http://news.example:{port}/story")
    finally:
        pinned.close()
    assert fetched.outcome is FetchOutcome.OK
    assert fetched.body == HTML
    assert lookups == ["news.example"]
    assert site.asked("/story")[0].headers["host"] == f"news.example:{port}"


def test_a_gzipped_page_is_inflated(site: Site, fetcher: Fetcher) -> None:
    packed = gzip.compress(HTML)
    site.route(
        "/zipped",
        lambda n, _: Reply(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, packed),
    )
    fetched = fetcher.fetch(site.url("/zipped"))
    assert fetched.outcome is FetchOutcome.OK
    assert fetched.body == HTML
    assert "gzip" in site.asked("/zipped")[0].headers["accept-encoding"]


def test_a_compression_bomb_is_cut_at_the_byte_cap(site: Site, fetcher: Fetcher) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * (64 * 1024 * 1024))
    site.route(
        "/bomb",
        lambda n, _: Reply(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, bomb),
    )
    fetched = fetcher.fetch(site.url("/bomb"))
    assert fetched.outcome is FetchOutcome.TOO_LARGE
    assert len(fetched.body) == fetcher.settings.max_response_bytes


def test_a_corrupt_compressed_body_fails(site: Site, fetcher: Fetcher) -> None:
    site.route(
        "/garbled",
        lambda n, _: Reply(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, HTML),
    )
    assert fetcher.fetch(site.url("/garbled")).outcome is FetchOutcome.FAILED
