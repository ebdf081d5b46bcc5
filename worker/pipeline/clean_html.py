"""Find the article inside an HTML page: headline, publication time, body paragraphs and labels.

Metadata first, where the page states it: JSON-LD (NewsArticle and kin, `@graph` included), Open
Graph, rNews and other `<meta>` tags, `<time datetime>` outside page chrome (not one marked
`dateModified`), a Unix timestamp in a `data-seconds`-like attribute of a `<time>` or of an element
its class names a date, and a date in the URL path, which wins over metadata that disagrees with it
by days (a URL's date is fixed when the story is created). A time stated in UTC or in no zone
takes the page's own offset where another statement of the same moment gives one (a `<time>`
tag's "-05:00" beside JSON-LD's "Z"). A dateline printed just below the headline (or right above
it, opening with its date) wins over both when it names another day (more than a day away, or a
day away in the zone the metadata states or implies): metadata often carries a CMS's creation date
or a republished story's first date, while readers take the visible one. Failing all of those, a
date printed near the headline or after the text (never an expiry, an event or a forum member's
sign-up date, nor the day the headline itself names); the update time; a `datePublished` element
even inside page chrome; last, the day htmldate's fast search reads (`page_dates`).

The body is chosen by measurement, not by per-site rules. The page body is walked once into text
blocks (a paragraph, a heading, a list item, a table row), each remembering its block ancestors,
its link text, and whether it sits in page chrome (`<nav>`, `<aside>`, a box whose class names it
"related", "share", "comments", ...), in a box named as the article text ("articleBody",
"entry-content"), or in a hidden box. Then:

1. Prose (long, mostly unlinked blocks) credits the element that directly holds it, and less the
   two above (Readability's scoring); the best-credited element seeds the container.
2. The seed widens to the ancestor whose article prose, net of the link text and chrome it takes
   in, is largest: an article split by adverts is reunited, a list of teasers (prose alone in a
   box beside a linked title) is not taken in.
3. The body is the container's blocks outside chrome, from the first to the last sentence-like
   block, without the headline, heavily linked lines or a hidden copy of the story.

A container holding nothing but teasers is a section front, rejected as "no_body", as is a page with
under 120 characters of article text, unless it states its article's text in JSON-LD
(`articleBody`): then that text is the body (a two-paragraph story split by adverts is still a
story).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, create_tag

from worker.pipeline.dates import find_date, names_publication, parse_date
from worker.pipeline.html_headline import (
    TITLE_SEPARATOR,
    Furniture,
    choose_headline,
    fold,
    heading_text,
    same_title,
    strip_site_name,
)
from worker.pipeline.html_metadata import PageMetadata, node_text, read_metadata
from worker.pipeline.page_dates import htmldate_day
from worker.pipeline.types import CleanPage, DateSource, DecodedPage, PublishedAt, Rejection

__all__ = ["clean_html"]

# Characters a reader never sees inside a word: the soft hyphen (hyphenation hints), the zero-width
# space, the word joiner and a stray byte-order mark; as characters or as entities. (The zero-width
# joiner and non-joiner are left: Persian and Indic scripts spell with them.)
_INVISIBLE = re.compile(
    r"[\u00ad\u200b\u2060\ufeff]|&(?:shy|ZeroWidthSpace|NoBreak);|&#(?:173|8203|8288|65279);"
    r"|&#x(?:ad|200b|2060|feff);",
    re.IGNORECASE,
)
_INVISIBLE_ENTITY = re.compile(r"&(?:shy|ZeroWidthSpace|NoBreak|#173|#8203|#x(?:ad|200b));", re.I)

# Elements whose content is never article text.
_DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "iframe",
    "object",
    "embed",
    "canvas",
    "video",
    "audio",
    "picture",
    "button",
    "select",
    "textarea",
    "input",
    "label",
    "dialog",
)
# Elements that hold page chrome by their meaning; treated like a "related" box (see _CHROME_WORDS).
_CHROME_TAGS = frozenset({"nav", "aside", "footer", "header", "figure", "figcaption", "menu"})
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "caption",
        "ul",
    }
)
_HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6"})
# Block elements whose class or id is read for chrome words: boxes, and the paragraphs that
# sites mark as captions, bylines or credits.
_NAMED_TAGS = frozenset(
    {"div", "section", "ul", "ol", "dl", "table", "article", "aside", "header", "form", "p"}
)
# Chrome elements whose inside is never walked (see _walk); _OPAQUE marks all their text as links.
_OPAQUE_CHROME_TAGS = frozenset({"nav", "footer", "aside", "menu", "figure", "figcaption"})
_OPAQUE = 1 << 30
# What entering an element pushed, so leaving it can undo that (see _walk).
_INLINE, _LINK, _BLOCK, _CHROME_BLOCK, _ARTICLE_BLOCK, _HIDDEN_BLOCK = range(6)
# The tree walk tells elements apart by lexbor's tag ids: `node.tag` decodes the element's name into
# a new string at every node, `node.tag_id` is an int (callgrind: the bare traversal's 2,514
# instructions a node fell to 1,926). The ids are lexbor's own, so they are read from it, not
# written here; a custom element's id is not among them, so it is walked as an inline element, as
# it was by name.
_TAG_ID = {
    name: create_tag(name).tag_id
    for name in _BLOCK_TAGS | _OPAQUE_CHROME_TAGS | {"a", "br", "td", "th"}
}
_TAG_NAMES = {tag_id: name for name, tag_id in _TAG_ID.items()}


def _ids(names: frozenset[str]) -> frozenset[int]:
    """lexbor's tag ids of these element names."""
    return frozenset(_TAG_ID[name] for name in names)


def _text_and_comment_ids() -> tuple[int, int]:
    """lexbor's tag ids for a text node and a comment node."""
    body = LexborHTMLParser("x<!---->").body
    assert body is not None  # the parser always builds a body
    text, comment = (node.tag_id for node in body.iter(include_text=True))
    return text, comment


_TEXT_ID, _COMMENT_ID = _text_and_comment_ids()
_BLOCK_IDS = _ids(_BLOCK_TAGS)
_NAMED_IDS = _ids(_NAMED_TAGS)
_CHROME_IDS = _ids(_CHROME_TAGS)
_OPAQUE_CHROME_IDS = _ids(_OPAQUE_CHROME_TAGS)
_CELL_IDS = _ids(frozenset({"td", "th"}))
_HEADER_ID, _BR_ID, _A_ID = _TAG_ID["header"], _TAG_ID["br"], _TAG_ID["a"]
# Block elements that hold their text themselves rather than being a paragraph of a container.
_HOLDER_TAGS = frozenset({"div", "section", "article", "main", "body", "td", "form", "center"})
# Words in a class or id that mark page chrome. Matched against whole words of the attribute
# ("related-posts" -> "related", "posts"), so "header" never matches "head" and "shadow" never "ad".
_CHROME_WORDS = frozenset(
    {
        "ad",
        "ads",
        "adslot",
        "advert",
        "advertisement",
        "advertising",
        "banner",
        "breadcrumb",
        "breadcrumbs",
        "byline",
        "caption",
        "credit",
        "credits",
        "footer",
        "masthead",
        "menu",
        "nav",
        "navbar",
        "navigation",
        "pagination",
        "popular",
        "promo",
        "recommended",
        "related",
        "share",
        "sharing",
        "sidebar",
        "social",
        "sponsor",
        "sponsored",
        "toolbar",
        "trending",
        "widget",
    }
)
# Chrome words for boxes that are never the article, however much prose they hold: comment threads,
# cookie and consent dialogs, sign-up forms. The others mark chrome that a misnamed article
# wrapper can carry too (a page builder calls every box a "widget"), so they can be forgiven.
_HARD_CHROME_WORDS = frozenset(
    {
        "comment",
        "comments",
        "consent",
        "cookie",
        "cookies",
        "disqus",
        "modal",
        "newsletter",
        "outbrain",
        "popup",
        "signup",
        "subscribe",
        "subscription",
        "taboola",
    }
)
_NOT_CHROME, _SOFT_CHROME, _HARD_CHROME, _ARTICLE_BOX, _HIDDEN = range(5)
# An element the page hides from readers: a copy of the story for another renderer, a dialog, or
# (on some sites) the story itself until script shows it. Its prose counts half when choosing the
# container and nothing when widening it.
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# A class, id or itemprop that names the article text itself: "articleBody", "entry-content",
# "story-body", "post__text". Prose inside such a box counts double when choosing the container.
_ARTICLE_BOX_TOKEN = re.compile(r"(?:article|story|entry|post)[-_]{0,2}(?:body|content|text)")
_ARTICLE_BOX_WEIGHT = 2.0
_HIDDEN_WEIGHT = 0.5
# Whole class or id tokens that mark page chrome, where the word alone would be too broad
# (Drupal marks every field "field--label-hidden").
_CHROME_TOKENS = frozenset(
    {
        "hidden",
        "visually-hidden",
        "sr-only",
        "screen-reader-text",
        "d-none",
        "invisible",
    }
)
_ATTRIBUTE_WORD = re.compile(r"[a-z]+")
# Class tokens that state what a box has, does or is filed under rather than what it is
# ("modal-enabled", "has-comments", WordPress's "category-newsletter"): not read for chrome words.
_STATE_TOKEN = re.compile(
    r"^(?:has|with|is|no|category|tag|topic|section|format|type|status)-"
    r"|-(?:enabled|disabled|active|open|loaded)$"
)
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_CJK_EXTRA_WEIGHT = 2

# A block this long with this little link text is article prose; the thresholds are the ones that
# separate prose from teasers and menus on the extraction benchmark's tuning half.
_PROSE_MIN_CHARS = 80
_PROSE_MAX_LINK_SHARE = 0.25
_BODY_MAX_LINK_SHARE = 0.5
_SENTENCE_MIN_CHARS = 25
# A "heading" this long is prose a page builder styled big, not a heading.
_HEADING_PROSE_CHARS = 150
# A long block most of whose stretches were said earlier is a copy of the story.
_REPEAT_MIN_CHARS = 200
_REPEAT_PROBE_CHARS = 60
_REPEAT_MAX_SEARCH_CHARS = 100_000
_SENTENCE_ENDS = frozenset(".!?…:;\"'”’»)。！？")
# Prose credits its holder fully, the holder's parent by half and the grandparent by a quarter.
_CREDIT_SHARES = (1.0, 0.5, 0.25)
# A prose block is a teaser when the box of up to this many levels holding it and no other prose
# also holds this much link text (a linked headline, a "read more").
_TEASER_BOX_DEPTH = 4
_TEASER_LINK_CHARS = 10
# ... or, read strictly (to spot section fronts), whose box opens with a mostly linked title.
_TEASER_TITLE_LINK_SHARE = 0.5
_TEASER_MAX_CHARS = 400
_NOT_TITLE_TAGS = frozenset({"nav", "menu", "figure", "figcaption"})
# What a character of link text costs a container against a character of article prose.
_LINK_COST = 1.0
_MIN_BODY_CHARS = 120
_MAX_STATED_BODY_CHARS = 200_000
_BODY_BLOCK_TAG = re.compile(r"<(?:p|br|div|h[1-6]|li|blockquote)(?=[\s/>])", re.IGNORECASE)
# Block elements nested deeper than this are read as inline text: real pages stay far below it,
# and it bounds the work per block on hostile ones.
_MAX_DEPTH = 200
_MAX_TEMPLATES = 20
_MIN_TEMPLATE_CHARS = 500
# A chrome box holding this share of the page's prose is the article wrapper with an unlucky class.
_CHROME_OVERRIDE_SHARE = 0.5
_MAX_ATTRIBUTE_CHARS = 300

# A full date in a URL path: /2019/11/20/, /2019-11-20-, /20191120/ (separators all alike).
_URL_DATE = re.compile(r"/((?:19|20)\d{2})([/-]?)([01]\d|[1-9])\2([0-3]\d|[1-9])(?=[/._-]|$)")
# ... or day first, as a path segment or inside a slug: /29-10-2021, -02-11-2023-.
_URL_DAY_FIRST_DATE = re.compile(r"[/_-]([0-3]\d)-([01]\d)-((?:19|20)\d{2})(?=[/._-]|$)")
_MAX_URL_CHARS = 2000
_LOCAL_MIDNIGHT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ]00:00(?::00(?:\.0{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
# Elements whose class or id names them a date ("post-date", "entry-time", "datum", ...).
_DATED_SELECTOR = (
    '[class*="date"], [id*="date"], [class*="Date"], [class*="datum"], [class*="time"], '
    '[class*="publish"], [class*="posted"], [class*="meta"]'
)
_MAX_DATED_ELEMENTS = 40
# A key of a script's state data naming when its item was published or created, and its value.
_SCRIPT_DATE = re.compile(
    r'\\?"((?:date_?)?(?:published|created)(?:_?(?:at|on|date|date_?time|time))?)\\?"\s*:\s*\\?"'
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)",
    re.IGNORECASE,
)
_MAX_SCRIPT_SCAN_CHARS = 2_000_000
_TIME_SELECTOR = "[itemprop=datePublished], time[datetime], time[pubdate]"
# Elements that carry their time as seconds (or milliseconds) since 1970 for script to print in
# the reader's zone: a <time>, or an element its class names a date. Share buttons and teaser
# cards carry such stamps too, so an unnamed element's are not read.
_EPOCH_ATTRIBUTES = ("data-seconds", "data-timestamp", "data-time")
_EPOCH_SELECTOR = ", ".join(
    f"{element}[{attribute}]"
    for attribute in _EPOCH_ATTRIBUTES
    for element in ("time", '[class*="date"]')
)
_EPOCH = re.compile(r"\s*(\d{10})(\d{3})?\s*")
_UPDATE_NAME = re.compile(r"updat|modif", re.IGNORECASE)
# Other statements read for the page's own zone (see _in_page_zone); offsets are whole quarter
# hours, none farther than 14 hours from UTC.
_MAX_ZONE_STATEMENTS = 8
_OFFSET_STEP = timedelta(minutes=15)
_LARGEST_OFFSET = timedelta(hours=14)
_MAX_TIME_ELEMENTS = 40
_MAX_DATED_CHARS = 120
# A stated time within this of the URL's day agrees with it (zones move a day either way).
_URL_DATE_TOLERANCE = timedelta(days=2)
# A dateline (the date printed by the headline) beats metadata that names a day further away than
# this: a CMS's creation date, a republished story's first date. Measured on the htmldate pages,
# the visible date is the one readers (and the evaluation's annotators) take as the publication.
_DATELINE_TOLERANCE = timedelta(days=1)
_DATELINE_MAX_CHARS = 40
_DATELINE_AFTER_HEADLINE_BLOCKS = 8
# Numeric dates whose day and month order a site may take either way: slashed, or dotted with a
# two-digit year (US sites print "11.03.17" for November 3; "01.11.2023" is day-first).
_AMBIGUOUS_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}|(?<![\d.])\d{1,2}\.\d{1,2}\.\d{2}(?![\d.])")
# Dates near a headline that are not its publication: an event's, an offer's end, a quoted post's,
# the day a forum post's author signed up. "bis" between two clock times is a time range, no end.
_NOT_PUBLICATION_CUE = re.compile(
    r"(?<!\w)(?:termin|(?:bis|until)(?!\s{1,3}\d{1,2}[:.]\d{2})|verfügbar|geteilt|shared|expires?"
    r"|registriert|registered|joined|member since|mitglied seit|dabei seit|inscrit)(?!\w)",
    re.IGNORECASE,
)
# How far around the article text to look for a printed date, in blocks.
_DATE_LOOKBACK_BLOCKS = 40
_DATE_HEADER_BLOCKS = 8
_DATE_ABOVE_HEADLINE_BLOCKS = 4
_DATE_TRAILER_BLOCKS = 12

_DIGIT = re.compile(r"\d")
# Elements besides <h1> that mark the story's own headline: schema.org microdata. (hAtom's
# "entry-title" marks every teaser of a list as well.)
_MARKED_HEADLINE_SELECTOR = '[itemprop~="headline"]:not(meta)'
_MAX_H1S = 5
_MAX_MARKED_HEADLINES = 3

_MAX_LABELS = 8
_MAX_LABEL_CHARS = 60
_MAX_BYLINE_CHARS = 200
# A visible byline is short; a longer "author" box is a biography.
_MAX_BYLINE_TEXT_CHARS = 80
# Strongest first: a link or property naming the author, then a box the page calls a byline.
_BYLINE_SELECTORS = (
    '[rel="author"]',
    '[itemprop="author"]',
    '[class*="byline"]',
    '[class*="author"]',
)


@dataclass(slots=True)
class _Block:
    """A run of text between block boundaries, with where it sits and how much of it is links.

    Built only by `_flush`, which also works out the last three fields.
    """

    text: str
    tag: str
    link_chars: int
    ancestors: tuple[int, ...]
    chrome: tuple[int, ...]
    in_article_box: bool  # inside an element named as the article text ("articleBody")
    is_hidden: bool  # inside an element the page hides (display: none)
    link_share: float
    # Long and mostly unlinked: article prose, unless a heading.
    is_prose: bool
    # Prose, or shorter unlinked text that ends like a sentence.
    is_sentence: bool


@dataclass(frozen=True, slots=True)
class _Layout:
    """A page body as text blocks, with its block elements' parents and block ranges."""

    blocks: list[_Block]
    parents: dict[int, int]
    # For each block element, the range of block indexes inside it (blocks run in document order).
    spans: dict[int, tuple[int, int]]
    # Chrome boxes that only their tag marks (an article's own <header>), not a class or id.
    unnamed_chrome: set[int]


@dataclass(frozen=True, slots=True)
class _Extraction:
    """The article text found in a page, and the lines where it may print its date."""

    paragraphs: tuple[str, ...]
    date_lines: tuple[tuple[str, ...], ...]  # groups of lines, likeliest first
    # Every other line of the page, where only one that says it dates a publication counts.
    far_lines: tuple[str, ...] = ()


def clean_html(page: DecodedPage) -> CleanPage | Rejection:
    """Take a decoded HTML page; give its headline, date, body and labels, or a Rejection."""
    markup = page.utf8 if page.utf8 is not None else page.text  # the same page, as lexbor reads it
    if "\u00ad" in page.text or "\u200b" in page.text or _INVISIBLE_ENTITY.search(page.text):
        # Hyphenation hints and zero-width marks are in the words, not between them: "mar­kante"
        # is "markante" to a reader, to search and to the cleaner's own word tests.
        markup = _INVISIBLE.sub("", page.text)
    tree = LexborHTMLParser(markup)
    metadata = read_metadata(tree)
    published = _published(tree, metadata, page)
    h1s = [heading_text(node) for node in tree.css("h1")[:_MAX_H1S]]
    marked = []
    if "headline" in page.text:  # the selector walks the whole tree; most pages hold none
        nodes = tree.css(_MARKED_HEADLINE_SELECTOR)[:_MAX_MARKED_HEADLINES]
        marked = [heading_text(node) for node in nodes]
    headline = choose_headline(metadata, [h for h in h1s if h], [h for h in marked if h], page.url)
    if not headline:
        return Rejection("no_headline", "no JSON-LD headline, og:title, <h1> or <title> with text")
    deferred = _deferred_markup(tree)
    tree.strip_tags(list(_DROPPED_TAGS))
    byline = _byline(tree, metadata)
    if byline and TITLE_SEPARATOR.search(headline):
        # Blogs and columns end a title with the author's name, which some pages state only in
        # their text ("Get your Frontend JavaScript Code Covered | Code | Nicolas Perriault").
        headline = strip_site_name(headline, Furniture((), frozenset({fold(byline)})))
    extraction = _body(tree, headline)
    if not extraction.paragraphs and deferred:
        # Some platforms (Blogger) ship the post as a template that script renders.
        extraction = _body(LexborHTMLParser(f"<html><body>{deferred}</body></html>"), headline)
    if not extraction.paragraphs and "<noscript" in page.text:
        # An element left open inside <noscript> takes the rest of the page into it: read the page
        # again with the noscript boxes opened instead of dropped.
        reread = LexborHTMLParser(markup)
        reread.unwrap_tags(["noscript"])
        reread.strip_tags([tag for tag in _DROPPED_TAGS if tag != "noscript"])
        extraction = _body(reread, headline)
    body = extraction.paragraphs
    body_chars = sum(len(paragraph) for paragraph in body)
    if body_chars < _MIN_BODY_CHARS and metadata.bodies:
        # Too little visible prose (a two-paragraph story split by adverts, a page that script
        # renders), but the page states its article's text in JSON-LD: that is the article.
        body = _stated_body(metadata.bodies[0])
        body_chars = sum(len(paragraph) for paragraph in body)
    if body_chars < _MIN_BODY_CHARS:
        return Rejection(
            "no_body",
            f"no article text under {headline[:80]!r}: {len(body)} paragraphs, {body_chars} "
            "characters of prose (an index, error or media page)",
        )
    if published is None:
        # Searched only here: most pages state their date in metadata, and the selector over the
        # whole tree was ~6% of clean_html.
        dated = _dated_elements(tree)
        # Far from the article, only a line that says it dates a publication: a sidebar's "About
        # this article: ... posted on 19 May 2010".
        cued = tuple(
            line for line in extraction.far_lines if names_publication(line[: _MAX_DATED_CHARS * 2])
        )
        published = _printed_date(
            (*extraction.date_lines[:1], dated, *extraction.date_lines[1:], cued),
            page.fetched_at,
        ) or (
            _first_parsed(metadata.updated, page.fetched_at)
            or _marked_date_in_chrome(tree, page.fetched_at)
            or _script_state_date(page.text, page.fetched_at)
            or _image_url_date(metadata.image, page.fetched_at)
            or htmldate_day(page.text, url=page.url, fetched_at=page.fetched_at)
        )
    else:
        dateline = _dateline(extraction.date_lines[0], headline, page.fetched_at)
        if dateline is not None and _disagrees(*dateline, published):
            published = dateline[0]
    return CleanPage(
        headline=headline,
        published=published,
        body=body,
        kind="html",
        byline=byline,
        section_labels=_section_labels(tree, metadata),
        language=metadata.language,
    )


def _stated_body(text: str) -> tuple[str, ...]:
    """Give the paragraphs of an article body stated in JSON-LD (plain text or markup)."""
    # Sites write it as plain text, as text with entities, or as the article's HTML, whose
    # paragraphs become lines here (inline markup such as links stays inside its line).
    markup = _BODY_BLOCK_TAG.sub("\n\\g<0>", text[:_MAX_STATED_BODY_CHARS])
    root = LexborHTMLParser(markup).body
    lines = root.text(deep=True).splitlines() if root is not None else []
    return tuple(" ".join(line.split()) for line in lines if line.strip())


# ---------------------------------------------------------------------------------------------
# Metadata


def _published(
    tree: LexborHTMLParser, metadata: PageMetadata, page: DecodedPage
) -> PublishedAt | None:
    """Give the page's publication time from its strongest dated statement, or None."""
    fetched_at = page.fetched_at
    from_url = _url_date(page.url, fetched_at)
    stated = _stated_date(tree, metadata, fetched_at)
    if stated is None:
        return from_url
    if from_url is not None and abs(stated.at - from_url.at) > _URL_DATE_TOLERANCE:
        # A URL's date is fixed when the story is created; metadata that disagrees by days was
        # rewritten later (a republished or updated story).
        return from_url
    return stated


def _first_parsed(
    values: list[tuple[str, DateSource]], fetched_at: datetime | None
) -> PublishedAt | None:
    """Give the first of the stated date values that parses, or None."""
    for value, source in values:
        published = _parse(value, fetched_at, source)
        if published is not None:
            return published
    return None


def _stated_date(
    tree: LexborHTMLParser, metadata: PageMetadata, fetched_at: datetime | None
) -> PublishedAt | None:
    """Give the publication time the page's metadata or <time> elements state, or None."""
    published = _first_parsed(metadata.dates, fetched_at)
    if published is not None:
        if published.precision == "minute" and not published.utc_offset_minutes:
            return _in_page_zone(published, tree, metadata, fetched_at)
        return published
    for node in tree.css(_TIME_SELECTOR)[:_MAX_TIME_ELEMENTS]:
        # schema.org's dateModified marks the update; hAtom's class "updated" does not say as
        # much (themes put it on the publication's <time> too), so only the property counts.
        if _in_chrome(node) or node.attributes.get("itemprop") == "dateModified":
            continue
        published = _element_date(node, fetched_at)
        if published is not None:
            return published
    for node in tree.css(_EPOCH_SELECTOR)[:_MAX_TIME_ELEMENTS]:
        if _in_chrome(node):
            continue
        published = _epoch_date(node, fetched_at)
        if published is not None:
            return published
    return None


def _epoch_date(node: LexborNode, fetched_at: datetime | None) -> PublishedAt | None:
    """Give the time an element states as a Unix timestamp in a data- attribute, or None."""
    attributes = node.attributes
    if _UPDATE_NAME.search(attributes.get("class") or ""):
        # "date-updated", "lastUpdate": a class naming a date may name the update.
        return None
    for attribute in _EPOCH_ATTRIBUTES:
        match = _EPOCH.fullmatch(attributes.get(attribute) or "")
        if match is not None:
            # Milliseconds are the seconds with three more digits.
            return _parse(match[1], fetched_at, "time_tag")
    return None


def _in_page_zone(
    published: PublishedAt,
    tree: LexborHTMLParser,
    metadata: PageMetadata,
    fetched_at: datetime | None,
) -> PublishedAt:
    """Give a time stated in UTC or in no zone with the page's own offset, where the page says it.

    CMSs write the same instant several ways: "2023-11-09T02:11:03Z" in JSON-LD and
    "2023-11-08T21:11:03-05:00" in a <time> tag, or a bare local "2023-11-08 18:09:55" beside the
    UTC value. The instant stays; the offset says which day it was where the page was published.
    A time in no zone is read as UTC only for want of better: a zoned statement of the same wall
    time gives its instant.
    """
    for value in _zone_statements(tree, metadata):
        other = _parse(value, fetched_at, "meta") if value else None
        if other is None or other.precision != "minute":
            continue
        offset = other.utc_offset_minutes
        if offset and other.at == published.at:
            return replace(published, utc_offset_minutes=offset)
        # Our reading of a zoneless wall time as UTC, against a zoned statement of that wall time.
        wall = other.at + timedelta(minutes=offset or 0)
        if offset and published.utc_offset_minutes is None and wall == published.at:
            return replace(published, at=other.at, utc_offset_minutes=offset)
        if offset is None and published.utc_offset_minutes == 0:
            shift = other.at - published.at
            if shift and abs(shift) <= _LARGEST_OFFSET and not shift % _OFFSET_STEP:
                return replace(published, utc_offset_minutes=int(shift.total_seconds()) // 60)
    return published


def _zone_statements(tree: LexborHTMLParser, metadata: PageMetadata) -> Iterator[str]:
    """Give the page's other stated publication times: metadata first, then <time> tags."""
    for value, _ in metadata.dates[1:_MAX_ZONE_STATEMENTS]:
        yield value
    # Searching the tree costs more than reading the metadata: only when that said nothing new.
    for node in tree.css(_TIME_SELECTOR)[:_MAX_ZONE_STATEMENTS]:
        attributes = node.attributes
        yield attributes.get("datetime") or attributes.get("content") or ""


def _element_date(node: LexborNode, fetched_at: datetime | None) -> PublishedAt | None:
    """Give the date an element states in datetime=, content=, title= or its text, or None."""
    attributes = node.attributes
    value = attributes.get("datetime") or attributes.get("content")
    if value is None and node.tag == "abbr":
        # The microformats' abbr pattern (Blogger's posts among them): the machine-readable
        # time in title=, a reader's "9:05 PM" as the text.
        value = attributes.get("title")
    return _parse(value or node_text(node), fetched_at, "time_tag")


def _dateline(
    lines: tuple[str, ...], headline: str, fetched_at: datetime | None
) -> tuple[PublishedAt, str] | None:
    """Give the first dated line below the headline (a dateline) and its date, or None.

    A dateline is a short dated line ("27.01.2022", "Updated May 06, 2019"), or a longer one that
    opens with its date ("05.02.2020 - Redaktion: ..."). Above the headline only the line right
    over it counts, and only when it opens with its date (a kicker, "05.02.2020 - Redaktion"):
    other lines up there are a site's ticker, a teaser or the page's print date ("Ausdruck vom
    11.02.2020") more often than the story's.
    """
    folded = fold(headline)
    at = next(
        (
            index
            for index, line in enumerate(lines)
            if _may_fold_to(line, folded) and fold(line) == folded
        ),
        None,
    )
    if at is None:
        # Without the headline in view, a short dated line is as likely a teaser's as the story's.
        return None
    below = lines[at + 1 : at + 1 + _DATELINE_AFTER_HEADLINE_BLOCKS]
    kicker = lines[at - 1 : at] if at and lines[at - 1][:1].isdigit() else ()
    # A headline that names a day ("Results, Aalen, 19.5.2007") is about an event on that day:
    # lines repeating it (the results table's dates) are the event's, not the story's.
    subject = parse_date(headline, fetched_at=None, source="text")
    candidates = (*below, *kicker)
    for index, line in enumerate(candidates):
        if len(line) > _DATELINE_MAX_CHARS and not line[:1].isdigit():
            continue
        if _NOT_PUBLICATION_CUE.search(line[:_MAX_DATED_CHARS]):
            continue
        # A printed calendar date only: "2 hrs ago" beside the headline may be a teaser's.
        printed = parse_date(line, fetched_at=None, source="text")
        if printed is None or (subject is not None and printed.at.date() == subject.at.date()):
            continue
        if index < len(below) and _teaser_dates(printed, below[index + 1 : index + 3]):
            # Title, date, title, date: a list of related stories, each with its date, where the
            # page's own dateline was not printed as text.
            return None
        published = parse_date(line, fetched_at=fetched_at, source="text")
        return (published, line) if published is not None else None
    return None


def _teaser_dates(printed: PublishedAt, following: tuple[str, ...]) -> bool:
    """Say whether one of the lines after a dated line states another day (the next teaser's)."""
    for line in following:
        if len(line) > _DATELINE_MAX_CHARS and not line[:1].isdigit():
            continue
        other = parse_date(line, fetched_at=None, source="text")
        if other is not None and other.at.date() != printed.at.date():
            return True
    return False


def _disagrees(dateline: PublishedAt, line: str, stated: PublishedAt) -> bool:
    """Say whether a dateline names another day than the stated date, beyond zone differences."""
    printed, day = dateline.at.date(), stated.at.date()
    if abs(printed - day) <= _DATELINE_TOLERANCE:
        # A day apart is a zone difference unless the page's own zone says otherwise: 19:00+01:00
        # on the 9th is the 9th where the page is, so a dateline of the 10th names another day.
        offset = stated.utc_offset_minutes
        if printed == day or (offset == 0 and stated.precision == "minute"):
            # A time stated in UTC may fall on the next or previous day where the page is.
            return False
        return printed != (stated.at + timedelta(minutes=offset or 0)).date()
    if printed.day <= 12 and (printed.month, printed.day) == (day.day, day.month):
        # The same numbers read the other way round. A slashed dateline, or a dotted one with a
        # two-digit year, is the ambiguous one ("02/11/2023" read day-first while the metadata
        # says February 11; Engadget's "11.03.17" beside "2017-11-03 03:01"); a dotted one with
        # a four-digit year or a named month is not, so the metadata was the misread
        # ("11/01/2023" beside "01.11.2023").
        return _AMBIGUOUS_DATE.search(line) is None
    return True


def _marked_date_in_chrome(
    tree: LexborHTMLParser, fetched_at: datetime | None
) -> PublishedAt | None:
    """Give the date of the first element marked datePublished, chrome or not, or None."""
    # The last resort: some platforms (Blogger) call every box a "widget", the post's own too.
    for node in tree.css("[itemprop=datePublished]")[:_MAX_TIME_ELEMENTS]:
        published = _element_date(node, fetched_at)
        if published is not None:
            return published
    return None


def _printed_date(
    line_groups: tuple[tuple[str, ...], ...], fetched_at: datetime | None
) -> PublishedAt | None:
    """Give the publication date printed in the first group of lines that states one, or None."""
    for lines in line_groups:
        # An expiry, an event or a quoted post is dated too, but not as this page's publication.
        candidates = [
            line for line in lines if not _NOT_PUBLICATION_CUE.search(line[:_MAX_DATED_CHARS])
        ]
        published = find_date(candidates, fetched_at=fetched_at)
        if published is not None:
            return published
    return None


def _script_state_date(text: str, fetched_at: datetime | None) -> PublishedAt | None:
    """Give the time a script's state data says the page's item was published or created, or None.

    The last resort, for pages that script renders from a JSON state blob (a shop's product, a
    photo, a review): its first "published_at", else its first "createdAt", in any of the
    spellings such blobs use, escaped inside a string or not.
    """
    created: PublishedAt | None = None
    for match in _SCRIPT_DATE.finditer(text, 0, _MAX_SCRIPT_SCAN_CHARS):
        published = _parse(match.group(2), fetched_at, "script")
        if published is None:
            continue
        if "publish" in match.group(1).lower():
            return published
        created = created or published
    return created


def _deferred_markup(tree: LexborHTMLParser) -> str:
    """Give the markup a page keeps in template scripts for script to render, if there is much."""
    markup = "".join(
        node.text(deep=True) for node in tree.css('script[type="text/template"]')[:_MAX_TEMPLATES]
    )
    return markup if len(markup) >= _MIN_TEMPLATE_CHARS else ""


def _dated_elements(tree: LexborHTMLParser) -> tuple[str, ...]:
    """Give the texts of the elements a page names as its date, outside page chrome."""
    texts = []
    for node in tree.css(_DATED_SELECTOR)[:_MAX_DATED_ELEMENTS]:
        text = node_text(node)
        if (
            0 < len(text) <= _MAX_DATED_CHARS
            and any(ch.isdigit() for ch in text)
            and not _in_chrome(node)
        ):
            texts.append(text)
    return tuple(texts)


def _parse(value: str, fetched_at: datetime | None, source: DateSource) -> PublishedAt | None:
    """Parse one stated date value, or give None."""
    value = value.strip()
    midnight = _LOCAL_MIDNIGHT.match(value)
    if midnight:
        # "2022-01-28T00:00:00+01:00" is a date-only field a CMS padded with a time, not a story
        # published on the stroke of midnight: read it as the day it names.
        value = midnight.group(1)
    return parse_date(value, fetched_at=fetched_at, source=source) if value else None


def _url_date(url: str | None, fetched_at: datetime | None) -> PublishedAt | None:
    """Give the day a URL path states (/2019/11/20/), at day precision, or None."""
    if not url:
        return None
    path = urlsplit(url[:_MAX_URL_CHARS]).path
    match = _URL_DATE.search(path)
    if match is None:
        day_first = _URL_DAY_FIRST_DATE.search(path)
        if day_first is None:
            return None
        day, month, year = (int(group) for group in day_first.groups())
        return parse_date(f"{year:04d}-{month:02d}-{day:02d}", fetched_at=fetched_at, source="url")
    year, month, day = int(match.group(1)), int(match.group(3)), int(match.group(4))
    if not match.group(2) and (len(match.group(3)) != 2 or len(match.group(4)) != 2):
        return None
    if match.group(2) == "/" and path[match.end() : match.end() + 1] in ("-", "_"):
        # /2023/10/3-fragen-an-...: a year-and-month permalink whose slug opens with a number.
        return None
    return parse_date(f"{year:04d}-{month:02d}-{day:02d}", fetched_at=fetched_at, source="url")


def _image_url_date(url: str | None, fetched_at: datetime | None) -> PublishedAt | None:
    """Give the day in the path of the story's lead picture (/files/2016/05/04/...), or None."""
    # The last resort: the day the picture was uploaded, with the story. A folder of its own, so
    # a picture named "1.jpg" in a month's folder gives no day.
    if not url:
        return None
    path = urlsplit(url[:_MAX_URL_CHARS]).path
    match = _URL_DATE.search(path)
    if match is None or match.group(2) != "/" or not path[match.end() :].startswith("/"):
        return None
    return _url_date(url, fetched_at)


def _in_chrome(node: LexborNode) -> bool:
    """Say whether a node sits inside page chrome (a nav, an aside, a related-stories box)."""
    ancestor = node.parent
    for _ in range(_MAX_DEPTH):
        if ancestor is None or ancestor.tag in ("body", "html"):
            break
        if ancestor.tag in _CHROME_TAGS - {"header"} or _is_chrome_by_name(ancestor):
            return True
        ancestor = ancestor.parent
    return False


def _is_chrome_by_name(node: LexborNode) -> bool:
    """Say whether a node's class or id names it page chrome."""
    return _chrome_kind(node) in (_SOFT_CHROME, _HARD_CHROME)


def _chrome_kind(node: LexborNode) -> int:
    """Say what a node's class, id or itemprop names it: chrome, article text or neither."""
    attributes = node.attributes
    if not attributes:
        return _NOT_CHROME
    style = attributes.get("style")
    if "hidden" in attributes or (style and _HIDDEN_STYLE.search(style[:_MAX_ATTRIBUTE_CHARS])):
        return _HIDDEN
    names = (
        f"{attributes.get('class') or ''} {attributes.get('id') or ''} "
        f"{attributes.get('itemprop') or ''}"
    )
    return _names_chrome(names[:_MAX_ATTRIBUTE_CHARS]) if len(names) > 2 else _NOT_CHROME


@functools.lru_cache(maxsize=4096)
def _names_chrome(names: str) -> int:
    """Say what a class-id-itemprop string names: chrome (how surely), article text, or neither.

    A hard chrome token outranks an article-box token, which outranks soft chrome.
    """
    # By token, each token's verdict cached: pages from many sites thrash a cache of whole
    # strings (181 sites in bench/e2e.py: 7,000 strings, 8,700 tokens), while tokens ("col-md-6",
    # "entry-content") recur from site to site. A miss cost ~6 µs, now ~2-3.
    verdicts = {_token_chrome(token) for token in names.lower().split()}
    for verdict in (_HARD_CHROME, _ARTICLE_BOX, _SOFT_CHROME):
        if verdict in verdicts:
            return verdict
    return _NOT_CHROME


@functools.lru_cache(maxsize=16384)
def _token_chrome(token: str) -> int:
    """What one lower-cased class, id or itemprop token names (see `_names_chrome`)."""
    if _STATE_TOKEN.search(token):
        return _NOT_CHROME
    words = _ATTRIBUTE_WORD.findall(token)
    if not _HARD_CHROME_WORDS.isdisjoint(words):
        return _HARD_CHROME
    if _ARTICLE_BOX_TOKEN.search(token):
        return _ARTICLE_BOX
    if not _CHROME_WORDS.isdisjoint(words) or token in _CHROME_TOKENS:
        return _SOFT_CHROME
    return _NOT_CHROME


def _may_fold_to(text: str, folded: str) -> bool:
    """Say whether `fold(text)` could be `folded`, without folding: a cheap test for the many
    short blocks of a page. Folding keeps or drops characters, except that "İ" (U+0130, the one
    character whose lower case is two) lower-cases to "i" and a combining dot."""
    return len(text) >= len(folded) or "\u0130" in text


def _byline(tree: LexborHTMLParser, metadata: PageMetadata) -> str | None:
    """Give the author names the page states, or None."""
    names = list(dict.fromkeys(name.strip() for name in metadata.authors if name.strip()))
    if not names:
        for selector in _BYLINE_SELECTORS:
            node = tree.css_first(selector)
            text = node_text(node) if node is not None else ""
            if 0 < len(text) <= _MAX_BYLINE_TEXT_CHARS:
                names = [text]
                break
    byline = ", ".join(names)[:_MAX_BYLINE_CHARS]
    return byline or None


def _section_labels(tree: LexborHTMLParser, metadata: PageMetadata) -> tuple[str, ...]:
    """Give the section names the page shows about itself (articleSection, breadcrumb)."""
    labels = list(metadata.sections)
    trail = tree.css_first('[class*="breadcrumb"], [aria-label*="readcrumb"]')
    if trail is not None:
        crumbs = [node_text(crumb) for crumb in trail.css("a")[:_MAX_LABELS]]
        # The first crumb is the home page, not a section.
        labels.extend(crumbs[1:] if len(crumbs) > 1 else crumbs)
    unique = dict.fromkeys(
        " ".join(label.split()) for label in labels if 0 < len(label.strip()) <= _MAX_LABEL_CHARS
    )
    return tuple(label for label in unique if label)[:_MAX_LABELS]


# ---------------------------------------------------------------------------------------------
# Body


def _body(tree: LexborHTMLParser, headline: str) -> _Extraction:
    """Give the article's paragraphs (the prose container's blocks, chrome and links dropped)."""
    root = tree.body
    if root is None:
        return _Extraction((), ())
    layout = _walk(root)
    blocks, parents = layout.blocks, layout.parents
    _forgive_wrapping_chrome(blocks)
    loose_teasers, titled_teasers = _teasers(layout, headline)
    containers = _containers(blocks, parents, loose_teasers)
    if not containers:
        return _Extraction((), ())
    member = [not containers.isdisjoint(block.ancestors) for block in blocks]
    first = member.index(True)
    last = len(member) - 1 - member[::-1].index(True)
    inside = [
        block
        for block, is_member in zip(blocks, member, strict=True)
        if is_member
        and not block.chrome
        and block.tag != "h1"
        and block.link_share <= _BODY_MAX_LINK_SHARE
    ]
    if not any(block.is_prose and id(block) not in titled_teasers for block in inside):
        # Only teasers: a section front or a list of search results, not an article.
        return _Extraction((), ())
    inside = _without_repeats(inside, headline)
    sentences = [index for index, block in enumerate(inside) if block.is_sentence]
    if not sentences:
        return _Extraction((), ())
    paragraphs = tuple(block.text for block in inside[sentences[0] : sentences[-1] + 1])
    # Where pages print their date: between the headline and the text, after the text (a blog's
    # "Posted on ..." line), and inside it.
    headline_at = next(
        (
            index
            for index in range(first - 1, max(-1, first - _DATE_LOOKBACK_BLOCKS), -1)
            if blocks[index].tag == "h1"
        ),
        None,
    )
    top = (
        max(0, first - _DATE_HEADER_BLOCKS)
        if headline_at is None
        else max(0, headline_at - _DATE_ABOVE_HEADLINE_BLOCKS)
    )
    date_lines = (
        _lines_outside_hard_chrome(blocks[top : first + _DATE_HEADER_BLOCKS]),
        _lines_outside_hard_chrome(blocks[last + 1 : last + 1 + _DATE_TRAILER_BLOCKS]),
        _lines_outside_hard_chrome(blocks[first + _DATE_HEADER_BLOCKS : last + 1]),
    )
    far_lines = _lines_outside_hard_chrome(blocks[:top] + blocks[last + 1 + _DATE_TRAILER_BLOCKS :])
    return _Extraction(paragraphs, date_lines, far_lines)


def _lines_outside_hard_chrome(blocks: list[_Block]) -> tuple[str, ...]:
    """Give the texts of blocks outside hard chrome (a date in a comment is the comment's)."""
    return tuple(block.text for block in blocks if min(block.chrome, default=0) >= 0)


def _without_repeats(blocks: list[_Block], headline: str) -> list[_Block]:
    """Drop the headline and text said twice: a repeated pull quote, a hidden copy of the story."""
    folded_headline = fold(headline)
    # Folding every paragraph only to compare it with the headline showed in the profile: text
    # many times the headline's length cannot fold to it.
    longest_headline = 4 * len(headline) + 40
    seen: set[str] = set()
    earlier = ""
    kept = []
    for block in blocks:
        text = block.text
        if (len(text) >= _REPEAT_MIN_CHARS and text in seen) or (
            _may_fold_to(text, folded_headline)
            and len(text) <= longest_headline
            and fold(text) == folded_headline
        ):
            continue
        # Bounded so a hostile page of endless long paragraphs stays linear.
        if len(text) >= _REPEAT_MIN_CHARS and len(earlier) <= _REPEAT_MAX_SEARCH_CHARS:
            probes = [
                text[start : start + _REPEAT_PROBE_CHARS]
                for start in range(0, len(text) - _REPEAT_PROBE_CHARS, len(text) // 4)
            ]
            if sum(probe in earlier for probe in probes) * 2 > len(probes):
                continue
        seen.add(text)
        if len(earlier) <= _REPEAT_MAX_SEARCH_CHARS:
            earlier += "\n" + text
        kept.append(block)
    return kept


def _walk(root: LexborNode) -> _Layout:
    """Give the text blocks under a node in document order, and where each block element sits."""
    # The hot loop of the extractor, so state lives in locals. An explicit stack, not recursion:
    # hostile pages nest elements deeper than Python's stack. Each frame is the next child to
    # visit (`nodes`) and what entering its parent pushed (`entries`: _INLINE, _LINK, a block, a
    # chrome block); two lists, so that stepping to the next sibling builds no tuple.
    blocks: list[_Block] = []
    parents: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    unnamed_chrome: set[int] = set()
    parts: list[str] = []
    ancestors = [0]  # the page body is element 0, so prose right in <body> has a container
    chrome: list[int] = []
    block_tags = ["body"]
    link_chars = 0
    in_link = 0
    article_boxes = 0
    hidden_boxes = 0
    nodes: list[LexborNode | None] = [root.first_child]
    entries = [_INLINE]

    def flush_text() -> int:
        # The pending text becomes a block of the innermost block element; returns the link-text
        # count the next block starts from. Called only when `parts` holds text.
        _flush(
            parts,
            link_chars,
            block_tags[-1],
            ancestors=ancestors,
            chrome=chrome,
            blocks=blocks,
            in_article_box=article_boxes > 0,
            is_hidden=hidden_boxes > 0,
        )
        return 0

    while nodes:
        node = nodes[-1]
        if node is None:
            nodes.pop()
            entered = entries.pop()
            if entered == _LINK:
                in_link -= 1
            elif entered != _INLINE:
                if parts:
                    link_chars = flush_text()
                if entered == _CHROME_BLOCK:
                    chrome.pop()
                elif entered == _ARTICLE_BLOCK:
                    article_boxes -= 1
                elif entered == _HIDDEN_BLOCK:
                    hidden_boxes -= 1
                block_tags.pop()
                element_id = ancestors.pop()
                spans[element_id] = (spans[element_id][0], len(blocks))
            continue
        nodes[-1] = node.next
        tag_id = node.tag_id
        if tag_id == _TEXT_ID:
            text = node.text_content or ""
            if text.isspace():
                # Indentation between tags: a word separator at most, never a block of its own.
                if parts:
                    parts.append(" ")
                continue
            parts.append(text)
            if in_link:
                link_chars += len(text.strip())
        elif tag_id == _COMMENT_ID:
            continue
        elif tag_id == _BR_ID:
            parts.append("\n")
        elif tag_id in _OPAQUE_CHROME_IDS or (
            # A site header (menus, often most of a page's elements) but not an article's own.
            tag_id == _HEADER_ID and "article" not in block_tags and "main" not in block_tags
        ):
            # Never article text, so not walked: one block stands for it, all link-like, so the
            # container search still counts what taking it in would cost.
            if parts:
                link_chars = flush_text()
            parts.append(node.text(deep=True, separator=" "))
            _flush(
                parts,
                _OPAQUE,
                _TAG_NAMES[tag_id],
                ancestors=ancestors,
                chrome=[*chrome, 0],
                blocks=blocks,
            )
        elif tag_id in _BLOCK_IDS and len(ancestors) < _MAX_DEPTH:
            if parts:
                link_chars = flush_text()
            element_id = len(parents) + 1
            parents[element_id] = ancestors[-1]
            spans[element_id] = (len(blocks), len(blocks))
            ancestors.append(element_id)
            block_tags.append(_TAG_NAMES[tag_id])
            kind = _chrome_kind(node) if tag_id in _NAMED_IDS else _NOT_CHROME
            if kind == _HIDDEN:
                hidden_boxes += 1
                entry = _HIDDEN_BLOCK
            elif kind == _ARTICLE_BOX:
                article_boxes += 1
                entry = _ARTICLE_BLOCK
            elif kind != _NOT_CHROME or tag_id in _CHROME_IDS:
                if kind == _NOT_CHROME:
                    unnamed_chrome.add(element_id)
                # Hard chrome goes on the chrome stack negated: never forgiven.
                chrome.append(-element_id if kind == _HARD_CHROME else element_id)
                entry = _CHROME_BLOCK
            else:
                entry = _BLOCK
            nodes.append(node.first_child)
            entries.append(entry)
        else:
            if tag_id == _A_ID:
                in_link += 1
                entry = _LINK
            else:
                if tag_id in _CELL_IDS:
                    parts.append(" ")
                entry = _INLINE
            nodes.append(node.first_child)
            entries.append(entry)
    if parts:
        flush_text()
    spans[0] = (0, len(blocks))
    return _Layout(blocks, parents, spans, unnamed_chrome)


def _flush(
    parts: list[str],
    link_chars: int,
    tag: str,
    *,
    ancestors: list[int],
    chrome: list[int],
    blocks: list[_Block],
    in_article_box: bool = False,
    is_hidden: bool = False,
) -> None:
    """Close the text gathered since the last block boundary into a block (parts are emptied)."""
    # The block's measures are worked out here, not in a __post_init__, and it is built from
    # positional arguments: ~85 blocks a page, and both showed in the tree walk's profile.
    raw = "".join(parts)
    parts.clear()
    if raw.isspace():
        return
    text = " ".join(raw.split())
    length = chars = len(text)
    if not text.isascii():
        # A Chinese, Japanese or Korean character carries about what a word does elsewhere.
        length += _CJK_EXTRA_WEIGHT * len(_CJK.findall(text))
    link_chars = min(link_chars, chars)
    link_share = link_chars / max(1, chars)
    unlinked = link_share <= _PROSE_MAX_LINK_SHARE and (
        tag not in _HEADING_TAGS or length >= _HEADING_PROSE_CHARS
    )
    is_prose = unlinked and length >= _PROSE_MIN_CHARS
    blocks.append(
        _Block(
            text,
            tag,
            link_chars,
            tuple(ancestors),
            tuple(chrome),
            in_article_box,
            is_hidden,
            link_share,
            is_prose,
            is_prose or (unlinked and length >= _SENTENCE_MIN_CHARS and text[-1] in _SENTENCE_ENDS),
        )
    )


def _forgive_wrapping_chrome(blocks: list[_Block]) -> None:
    """Clear the chrome mark of boxes that hold most of the prose around them: they are the article.

    Outermost first: a box is forgiven when it holds at least half the prose of the forgiven box
    around it (or of the page), so a page builder's nested "widget" boxes are forgiven level by
    level down to the article text, while a share box inside the article stays chrome.
    """
    prose_total = sum(
        len(block.text) for block in blocks if block.is_prose and min(block.chrome, default=0) >= 0
    )
    if not prose_total:
        return
    prose_in: dict[int, int] = {}
    outer: dict[int, tuple[int, ...]] = {}
    for block in blocks:
        for depth, element_id in enumerate(block.chrome):
            if element_id < 0:
                break
            outer.setdefault(element_id, block.chrome[:depth])
            if block.is_prose:
                prose_in[element_id] = prose_in.get(element_id, 0) + len(block.text)
    forgiven: set[int] = set()
    for element_id in sorted(prose_in, key=lambda e: len(outer[e])):
        around = next((e for e in reversed(outer[element_id]) if e in forgiven), None)
        context = prose_total if around is None else prose_in[around]
        if prose_in[element_id] >= context * _CHROME_OVERRIDE_SHARE:
            forgiven.add(element_id)
    boxed = [
        [e for e in block.chrome if e not in forgiven]
        for block in blocks
        if block.is_prose and block.in_article_box and min(block.chrome, default=0) >= 0
    ]
    if boxed and all(boxed):
        # The box the page names as its article text holds prose only inside boxes named chrome:
        # a page builder's widgets ("elementor-widget") split across sections, none holding half.
        forgiven.update(e for chrome in boxed for e in chrome)
    if not forgiven:
        return
    for block in blocks:
        if not forgiven.isdisjoint(block.chrome):
            block.chrome = tuple(e for e in block.chrome if e not in forgiven)


def _containers(blocks: list[_Block], parents: dict[int, int], teasers: set[int]) -> set[int]:
    """Give the elements holding the article: the densest prose cluster, widened while it pays."""
    # Readability's insight: prose credits the element that directly holds it (fully) and the two
    # above it (less), so a column of paragraphs outscores a page of scattered teasers.
    scores: dict[int, float] = {}
    for block in blocks:
        if not block.is_prose or block.chrome:
            continue
        holder = len(block.ancestors) - (1 if block.tag in _HOLDER_TAGS else 2)
        weight = len(block.text) * (_ARTICLE_BOX_WEIGHT if block.in_article_box else 1.0)
        if block.is_hidden:
            weight *= _HIDDEN_WEIGHT
        for depth, share in enumerate(_CREDIT_SHARES):
            if holder - depth < 0:
                break
            element_id = block.ancestors[holder - depth]
            scores[element_id] = scores.get(element_id, 0.0) + share * weight
    if not scores:
        return set()
    top = max(scores, key=scores.__getitem__)
    # An article split into several boxes (by adverts, pull quotes, paywall markup) lives in an
    # ancestor of the best box. Widen to the ancestor whose article prose, net of the link text and
    # chrome it also takes in, is largest. A teaser (a prose block alone in a box that also holds
    # link text, such as a linked headline) neither pays nor costs: related-story lists are made
    # of them.
    article_prose = {id(block) for block in blocks if block.is_prose and not block.chrome}
    article_prose -= teasers
    chain = [top]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    position = {element_id: index for index, element_id in enumerate(chain)}
    # What each block brings is added where the chain first takes it in (its lowest ancestor on
    # the chain), and summed upwards once: adding it at every level above was a loop per block,
    # and siblings share their ancestors, so each tuple of them is looked up once.
    value = [0.0] * len(chain)
    prose_blocks = [0] * len(chain)
    lowest_of: dict[tuple[int, ...], int | None] = {}
    for block in blocks:
        if block.is_hidden:
            continue
        ancestors = block.ancestors
        if ancestors in lowest_of:
            lowest = lowest_of[ancestors]
        else:
            lowest = lowest_of[ancestors] = next(
                (position[e] for e in reversed(ancestors) if e in position), None
            )
        if lowest is None:
            continue
        if block.chrome:
            value[lowest] -= float(len(block.text))
        elif id(block) in article_prose:
            value[lowest] += float(len(block.text))
            prose_blocks[lowest] += 1
        else:
            value[lowest] -= _LINK_COST * block.link_chars
    for index in range(1, len(chain)):
        value[index] += value[index - 1]
        prose_blocks[index] += prose_blocks[index - 1]
    # Widen only for more of the article: beyond the box's own parent (which may add a standfirst),
    # a step up must bring in two more prose blocks, or as many as the box holds (a two-paragraph
    # post split over two boxes), so one stray paragraph elsewhere on the page (a footer's "about
    # us") never drags a longer body along.
    best = 0
    for index in range(1, len(chain)):
        added = prose_blocks[index] - prose_blocks[best]
        if value[index] > value[best] and (
            added >= 2 or index == 1 or added >= prose_blocks[best] > 0
        ):
            best = index
    return {chain[best]}


def _teasers(layout: _Layout, headline: str) -> tuple[set[int], set[int]]:
    """Give the ids of short prose blocks that sit alone in a small box beside link text.

    Two readings: loosely, any such block whose box holds other link text (a linked headline, a
    "read more"); strictly, one whose box opens with a linked title, used to tell a section front
    (nothing but teasers) from a short article beside share buttons. A box titled with the page's
    own headline is the article (blog themes link a post's title to itself), never a teaser.
    """
    blocks, spans = layout.blocks, layout.spans
    folded_headline = fold(headline)
    # Prefix sums over the blocks in document order: an element's blocks are one contiguous run.
    prose_before = [0]
    links_before = [0]
    for block in blocks:
        prose_before.append(prose_before[-1] + block.is_prose)
        links_before.append(links_before[-1] + block.link_chars)
    loose: set[int] = set()
    titled: set[int] = set()
    for block in blocks:
        if not block.is_prose or len(block.text) > _TEASER_MAX_CHARS:
            continue
        box = None
        for element_id in block.ancestors[: -_TEASER_BOX_DEPTH - 1 : -1]:
            start, end = spans[element_id]
            if element_id == 0 or prose_before[end] - prose_before[start] > 1:
                break
            box = element_id
        if box is None:
            continue
        start, end = spans[box]
        # The box's title is its first block but a navigation trail, a picture or a box named
        # chrome that the block is not in: a breadcrumb above a photo post's caption is not a
        # teaser's linked headline (a box's <header> is).
        named_chrome = _named_chrome_depth(block, layout.unnamed_chrome)
        title = next(
            (
                blocks[i]
                for i in range(start, end)
                if blocks[i].tag not in _NOT_TITLE_TAGS
                and _named_chrome_depth(blocks[i], layout.unnamed_chrome) <= named_chrome
            ),
            block,
        )
        if title is not block and same_title(fold(title.text), folded_headline):
            continue
        if links_before[end] - links_before[start] - block.link_chars >= _TEASER_LINK_CHARS:
            loose.add(id(block))
        if title is not block and title.link_share >= _TEASER_TITLE_LINK_SHARE:
            titled.add(id(block))
    return loose, titled


def _named_chrome_depth(block: _Block, unnamed: set[int]) -> int:
    """Count the boxes around a block that their class or id names chrome."""
    # 0 stands for an opaque chrome tag (nav, footer, a site's <header>) that the walk skipped.
    return sum(1 for element_id in block.chrome if element_id and abs(element_id) not in unnamed)
