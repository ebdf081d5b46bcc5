"""What an HTML page states about itself outside its visible text: JSON-LD and meta tags.

Published standards only: schema.org's article types in JSON-LD, Open Graph, Twitter cards, Dublin
Core, Parse.ly, rNews and the meta names CMSs commonly write; the <title>, the canonical link and
the document's language. The cleaner takes headlines, dates, authors, sections, site names and a
stated article body from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.pipeline.types import DateSource

__all__ = ["PageMetadata", "node_text", "read_metadata"]


_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "blogposting",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "liveblogposting",
        "scholarlyarticle",
        "techarticle",
        "report",
        "posting",
        "socialmediaposting",
    }
)
# Meta names/properties that carry the publication time, strongest first.
_DATE_METAS = (
    "article:published_time",
    "og:article:published_time",
    # rNews, the IPTC's RDFa vocabulary that schema.org's NewsArticle grew from (BBC pages).
    "rnews:datepublished",
    "datepublished",
    "originalpublicationdate",
    "article.published",
    "published_time",
    "publish-date",
    "publish_date",
    "publishdate",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dc.date.created",
    "dcterms.issued",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "citation_publication_date",
    "citation_date",
    "article:published",
    "og:published_time",
    "pub_date",
    "cxenseparse:publishtime",
    "shareaholic:article_published_time",
    "date",
    "displaydate",
    "dateline",
)
# When a page states no publication time anywhere, its last update is the best remaining clue.
_UPDATED_METAS = (
    "article:modified_time",
    "rnews:datemodified",
    "og:updated_time",
    "datemodified",
    "dc.date.modified",
    "dcterms.modified",
    "last-modified",
)
# Dublin Core and Parse.ly name the document's own title; Open Graph and Twitter the title a
# share shows, which some sites rewrite for social media.
_TITLE_METAS = (
    *("dc:title", "dcterms.title", "dc.title", "parsely-title"),
    *("og:title", "twitter:title", "headline", "title"),
)
_SITE_NAME_METAS = ("og:site_name", "application-name", "apple-mobile-web-app-title", "publisher")
_SECTION_METAS = ("article:section", "section", "parsely-section", "category")


@dataclass(slots=True)
class PageMetadata:
    """What the page states about itself outside the visible text."""

    headlines: list[str] = field(default_factory=list)
    canonical_url: str | None = None  # og:url, or <link rel="canonical">
    dates: list[tuple[str, DateSource]] = field(default_factory=list)
    other_dates: list[tuple[str, DateSource]] = field(default_factory=list)
    updated: list[tuple[str, DateSource]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)  # JSON-LD articleBody texts
    sections: list[str] = field(default_factory=list)
    site_names: list[str] = field(default_factory=list)
    language: str | None = None
    image: str | None = None  # og:image, the story's lead picture


def node_text(node: LexborNode) -> str:
    """Give a node's text with whitespace collapsed."""
    return " ".join(node.text(deep=True, separator=" ").split())


def read_metadata(tree: LexborHTMLParser) -> PageMetadata:
    """Gather headline, date, author, section and language statements from JSON-LD and metas."""
    metadata = PageMetadata()
    for script in tree.css('script[type*="ld+json"]'):
        _read_json_ld(script.text(deep=True), metadata)
    metas: dict[str, str] = {}
    for meta in tree.css("meta[content]"):
        attributes = meta.attributes
        content = (attributes.get("content") or "").strip()
        key = attributes.get("property") or attributes.get("name") or attributes.get("itemprop")
        if content and key:
            # RDFa lets one property attribute name several: "og:title dc:title".
            for name in key.lower().split():
                metas.setdefault(name, content)
    metadata.headlines.extend(metas[key] for key in _TITLE_METAS if key in metas)
    title = tree.css_first("title")
    if title is not None:
        metadata.headlines.append(node_text(title))
    # A page's other JSON-LD things (a WebPage, a VideoObject) date the page, less surely.
    metadata.dates.extend(metadata.other_dates)
    metadata.dates.extend((metas[key], "meta") for key in _DATE_METAS if key in metas)
    metadata.updated.extend((metas[key], "meta") for key in _UPDATED_METAS if key in metas)
    metadata.site_names.extend(metas[key] for key in _SITE_NAME_METAS if key in metas)
    author = metas.get("author") or metas.get("article:author") or metas.get("byl")
    if author and "://" not in author:
        metadata.authors.append(author)
    metadata.sections.extend(metas[key] for key in _SECTION_METAS if key in metas)
    metadata.image = metas.get("og:image")
    metadata.canonical_url = metas.get("og:url")
    if metadata.canonical_url is None:
        canonical = tree.css_first('link[rel="canonical"][href]')
        metadata.canonical_url = canonical.attributes.get("href") if canonical else None
    html = tree.css_first("html")
    language = html.attributes.get("lang") if html is not None else None
    language = language or metas.get("og:locale") or metas.get("content-language")
    if language:
        metadata.language = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0] or None
    return metadata


def _read_json_ld(source: str, metadata: PageMetadata) -> None:
    """Add what the article objects of one JSON-LD script state to the metadata."""
    try:
        document = orjson.loads(source)
    except orjson.JSONDecodeError:
        # CMSs write line breaks raw inside strings and end the script with ";", which the
        # standard library reads when not strict (measured: 11 of the 29 JSON-LD scripts orjson
        # refused on the development pages; json5 would read 7 more, at up to 12 ms each).
        try:
            document = json.loads(source.strip().rstrip(";"), strict=False)
        except (ValueError, RecursionError):
            return
    for thing in _json_objects(document):
        types = thing.get("@type")
        type_names = {str(t).lower() for t in (types if isinstance(types, list) else [types])}
        if "breadcrumblist" in type_names:
            metadata.sections.extend(_breadcrumb_names(thing))
        if not type_names & _ARTICLE_TYPES:
            if isinstance(thing.get("datePublished"), str):
                metadata.other_dates.append((thing["datePublished"], "jsonld"))
            continue
        for key in ("headline", "name"):
            if isinstance(thing.get(key), str):
                metadata.headlines.append(thing[key])
                break
        metadata.site_names.extend(_names(thing.get("publisher")))
        for key in ("datePublished", "dateCreated"):
            if isinstance(thing.get(key), str):
                metadata.dates.append((thing[key], "jsonld"))
                break
        if isinstance(thing.get("dateModified"), str):
            metadata.updated.append((thing["dateModified"], "jsonld"))
        if isinstance(thing.get("articleBody"), str):
            metadata.bodies.append(thing["articleBody"])
        metadata.authors.extend(_names(thing.get("author")))
        section = thing.get("articleSection")
        if isinstance(section, str):
            metadata.sections.append(section)
        elif isinstance(section, list):
            metadata.sections.extend(s for s in section if isinstance(s, str))
        if isinstance(thing.get("inLanguage"), str) and metadata.language is None:
            metadata.language = thing["inLanguage"].split("-")[0].lower() or None


def _json_objects(document: Any) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSON-LD document in document order, `@graph` members included."""
    # A stack, children pushed last-first, so the page's first (main) article comes out first.
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(
                reversed(
                    [
                        value
                        for key, value in item.items()
                        if key == "@graph" or isinstance(value, list)
                    ]
                )
            )
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _names(value: Any) -> list[str]:
    """Give the person or organisation names a JSON-LD author value holds."""
    if isinstance(value, str):
        return [value] if "://" not in value else []
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _breadcrumb_names(thing: dict[str, Any]) -> list[str]:
    """Give the item names of a JSON-LD BreadcrumbList, home page excluded."""
    names = []
    items = thing.get("itemListElement")
    for element in items if isinstance(items, list) else []:
        if not isinstance(element, dict):
            continue
        item = element.get("item")
        name = element.get("name") or (item.get("name") if isinstance(item, dict) else None)
        if isinstance(name, str):
            names.append(name)
    return names[1:] if len(names) > 1 else names
