"""Links to crawl, read from RSS/Atom feeds (feedparser), sitemaps and HTML start pages."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Collection
from html import unescape
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser  # type: ignore[import-untyped]  # ships no type information
from selectolax.lexbor import LexborHTMLParser

from worker.pipeline.decode import decode

MAX_URL_CHARS = 4096
# Sitemaps may be gzipped; inflating stops here so a small bomb cannot fill memory.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

# feedparser spends ~0.2-0.4 ms per element-dense entry (~30 bytes each in a hostile feed): a real
# news feed is well under this size, a hostile one is read only this far (the loose parser copes).
MAX_FEED_BYTES = 1024 * 1024

_LOC = re.compile(rb"<(?:[A-Za-z]{1,20}:)?loc>\s{0,200}([^<\s]{1,4096})\s{0,200}</")
_SITEMAP_INDEX = re.compile(rb"<(?:[A-Za-z]{1,20}:)?sitemapindex[\s>]")


def normalize_link(href: str, *, base_url: str) -> str | None:
    """`href` made absolute against `base_url`, without its fragment; None unless http(s)."""
    href = href.strip()
    if not href or len(href) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(urljoin(base_url, href))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return url if len(url) <= MAX_URL_CHARS else None


def feed_links(body: bytes, *, base_url: str) -> list[str]:
    """The entry links of an RSS or Atom feed, in feed order."""
    # A BytesIO, never bytes or str: feedparser would open a str that looks like a URL or a path.
    parsed = feedparser.parse(
        io.BytesIO(body[:MAX_FEED_BYTES]),
        response_headers={"content-location": base_url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    links = []
    for entry in parsed.entries:
        href = entry.get("link")
        if isinstance(href, str):
            link = normalize_link(href, base_url=base_url)
            if link:
                links.append(link)
    return list(dict.fromkeys(links))


def sitemap_links(body: bytes, *, base_url: str) -> tuple[list[str], list[str]]:
    """The page URLs and the child sitemap URLs of a sitemap or sitemap index (gzip or not)."""
    if body.startswith(b"\x1f\x8b"):
        try:
            body = zlib.decompressobj(wbits=31).decompress(body, MAX_SITEMAP_BYTES)
        except zlib.error:
            return [], []
    locs = []
    for match in _LOC.finditer(body):
        link = normalize_link(
            unescape(match.group(1).decode("utf-8", "replace")), base_url=base_url
        )
        if link:
            locs.append(link)
    locs = list(dict.fromkeys(locs))
    if _SITEMAP_INDEX.search(body[:4096]):
        return [], locs
    return locs, []


def page_links(
    body: bytes, *, base_url: str, content_type: str | None, follow: Collection[str] = ()
) -> list[str]:
    """Links from an HTML page to pages on its own host, whose paths start with one of `follow`
    (any path when empty), in page order."""
    text = decode(body, content_type=content_type)
    if not isinstance(text, str):
        return []
    host = urlsplit(base_url).hostname
    tree = LexborHTMLParser(text)
    base = tree.css_first("base[href]")
    base_href = base.attributes.get("href") if base is not None else None
    if base_href:
        base_url = normalize_link(base_href, base_url=base_url) or base_url
    links = []
    for anchor in tree.css("a[href]"):
        href = anchor.attributes.get("href")
        link = normalize_link(href, base_url=base_url) if href else None
        if link is None:
            continue
        parts = urlsplit(link)
        if parts.hostname != host:
            continue
        if follow and not parts.path.startswith(tuple(follow)):
            continue
        links.append(link)
    return list(dict.fromkeys(links))
