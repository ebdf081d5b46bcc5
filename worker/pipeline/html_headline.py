"""An HTML page's headline: its own headline element, confirmed or chosen by its titles.

A page names its story several times: JSON-LD's headline, Dublin Core's and Parse.ly's titles, Open
Graph's and Twitter's titles for sharing, the <title> element, and the <h1> (or an element marked
as the headline) that readers see. Titles carry the site's name, a section, an author or a date
around the headline; the headline element carries a kicker or the site's logo as often. The rules
here are general, none keyed to a site: the titles confirm a heading they state word for word, or
choose among several; a heading that names the story in other words wins over the titles; a title
part or a heading that names the site (its og:site_name, its host's labels, a logo the titles repeat
after the headline) is furniture and goes.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from selectolax.lexbor import LexborNode

from worker.pipeline.dates import parse_date
from worker.pipeline.html_metadata import PageMetadata, node_text

__all__ = [
    "TITLE_SEPARATOR",
    "Furniture",
    "choose_headline",
    "fold",
    "heading_text",
    "same_title",
    "strip_site_name",
]

_MAX_URL_CHARS = 2000  # of an address read for its host, as clean_html reads a page's
_DIGIT = re.compile(r"\d")

_WORD = re.compile(r"[^\W_]+")
TITLE_SEPARATOR = re.compile(r"\s+[|\-–—:·•«»‹›~]{1,2}\s+")
# An <h1> inside a longer title (or the reverse) is the headline when it covers this share of it.
_SAME_TITLE_SHARE = 0.6
# Headline choice: title parts and the host labels that name the site.
_MAX_TITLE_PART_DATE_CHARS = 40
_HOST_PREFIXES = frozenset({"www", "www2", "m", "mobile", "amp", "web"})
_MIN_LOOSE_SITE_NAME_CHARS = 4
# A short title part with the site's name as one of its words names the site.
_MAX_SITE_PART_WORDS = 4
_MIN_HEADLINE_WORDS = 3
# Two words this long that a heading and a title share say they name one story.
_SHARED_WORD_CHARS = 4
_SHARED_WORDS = 2
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
# A title or title part that is a host name ("FASSETTE.NET", "chadim.net") names the site; one
# that is a URL slug, lower-case words joined by hyphens, names no story.
_HOST_NAME = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[a-z]{2,12}", re.IGNORECASE)
_URL_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}")
# A separator a title ends or starts with, its site name left out ("Olympia 2028 dabei -").
# ("»" and "›" close French and German quotations as well.)
_DANGLING_SEPARATOR = re.compile(r"^[|\-–—:·•~]{1,2}\s+|\s+[|\-–—:·•~]{1,2}$")
# A page the Wayback Machine keeps: the archived address follows the snapshot's stamp.
_ARCHIVED_URL = re.compile(r"https?://web\.archive\.org/web/[^/]+/(.+)", re.IGNORECASE)
# A permalink mark that documentation and blog engines print after a heading ("Install ¶").
_PERMALINK_MARK = re.compile(r"\s*[¶§#🔗]+$")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<=\w) (?=[,.](?:\s|$))")


def choose_headline(
    metadata: PageMetadata, h1s: list[str], marked: list[str], url: str | None
) -> str | None:
    """Give the headline: the page's own headline element (an <h1>, else one microdata marks)
    that a metadata title confirms, else the best title without the site's name, section,
    author or date around it."""
    furniture = _furniture(metadata, url, (*h1s, *marked))
    # WordPress writes "&" as "&amp;#038;": once parsed, the og:title still says "&#038;".
    titles = [
        strip_site_name(_DANGLING_SEPARATOR.sub("", " ".join(html.unescape(t).split())), furniture)
        for t in metadata.headlines
    ]
    stated_titles = [title for title in titles if title]
    # A title that is only the site's name (a twitter:title "Beige.de") or a URL slug
    # ("adac-kindersitztest-herbst-2018") names no story, nor does a heading that is the site's
    # name (a logo printed as an <h1>). A page may state its headline as its site's name too (an
    # apple-mobile-web-app-title): only a name no title repeats counts, and the host's always.
    stated = {fold(title) for title in titles}
    names = frozenset(
        name.replace(" ", "")
        for name in (*furniture.host_names, *furniture.site_names)
        if name in furniture.host_names or name not in stated
    )
    titles = [title for title in titles if title and not _names_no_story(title, names)]
    headings = [h for h in (*h1s, *marked) if not _names_no_story(h, names)]
    # A heading that a title states as one of its parts, beside a longer part, is the site's
    # name printed as a heading (a logo): "Rinderleber-Geschnetzeltes mit Apfel und Zwiebel |
    # Liebe geht durch den Magen" above an <h1> "Liebe geht durch den Magen".
    logos = {heading for heading in headings if _titles_name_as_site(heading, titles)}
    if logos:
        headings = [heading for heading in headings if heading not in logos]
        furniture = replace(
            furniture, site_names=(*furniture.site_names, *(fold(logo) for logo in logos))
        )
        titles = [strip_site_name(title, furniture) for title in titles]
    folded_titles = [fold(title) for title in titles]
    # A title may carry more around its headline than a site name: "Faire Lieferketten -
    # Evangelisches Jugendwerk in Württemberg (ejw)". Each head keeps the title's spelling.
    heads: dict[str, str] = {}
    for title in titles:
        head = TITLE_SEPARATOR.split(title, 1)[0]
        heads.setdefault(fold(head), head)
    folded_headings = [fold(heading) for heading in headings]
    # A heading the titles state word for word: the titles in the order the page commits to
    # them (JSON-LD and og:title before <title>) choose among several <h1>s ("News" above the
    # story's own). The title's spelling is kept: markup assembles a heading's text from inline
    # elements (a space before a colon, quotes restyled, a kicker in capitals), while the title
    # is one string the publisher wrote.
    for title, folded_title in zip(titles, folded_titles, strict=True):
        if folded_title in folded_headings:
            heading = headings[folded_headings.index(folded_title)]
            return _spelling(title, heading)
    for heading, folded in zip(headings, folded_headings, strict=True):
        if folded in heads:
            return strip_site_name(_spelling(heads[folded], heading), furniture)
        for title, folded_title in zip(titles, folded_titles, strict=True):
            if folded_title and same_title(folded, folded_title):
                # A print header's <h1> may carry the site name as the <title> does; a date
                # printed in the <h1> before or after the headline is not the headline.
                extra = folded.replace(folded_title, " ").strip()
                if extra and parse_date(extra, fetched_at=None, source="text") is not None:
                    return title
                if extra and folded.endswith(folded_title) and not title.endswith(("…", "...")):
                    # A kicker the <h1> prints above the headline ("Deutschlandtakt: Flixbus
                    # attackiert Deutsche Bahn") is the section's or the story's label.
                    return _without_kicker(heading, folded_title)
                return strip_site_name(heading, furniture)
    # One <h1> no title states is the page's own headline where it names the story the titles
    # name in other words ("Wie pflege ich meine Zaubernuss im Winter?" under a <title>
    # "Zaubernuss im Winter » Wann blüht die Hamamelis?"): titles are written for search and
    # sharing, the heading for the reader.
    own = [heading for heading in h1s if heading in headings]
    if len(own) == 1 and _retitles(own[0], titles):
        return strip_site_name(own[0], furniture)
    if titles or headings:
        return titles[0] if titles else headings[0]
    # Better a slug or the site's name than losing the article.
    return stated_titles[0] if stated_titles else (h1s[0] if h1s else None)


def _title_parts(title: str) -> list[str]:
    """Give a title's parts between separators, folded."""
    return [fold(part) for part in TITLE_SEPARATOR.split(title)]


def _titles_name_as_site(heading: str, titles: list[str]) -> bool:
    """Say whether a title states the heading as a part after its first, beside a part of more
    words: "Headline | Site" is how titles are written, so a heading that is the tail is the
    site's name."""
    folded = fold(heading)
    for title in titles:
        parts = _title_parts(title)
        if folded in parts[1:]:
            longest = max(len(part.split()) for part in parts if part != folded)
            if longest > len(folded.split()):
                return True
    return False


def _retitles(heading: str, titles: list[str]) -> bool:
    """Say whether a heading names the story a title's first part names, in other words: a few
    words, not a whole part of a title (a section's name) nor the title's head with more after
    it, sharing two words of some length with the title's head (a site's or section's heading
    shares none, or only its own name)."""
    words = fold(heading).split()
    if len(words) < _MIN_HEADLINE_WORDS:
        return False
    long_words = {word for word in words if len(word) >= _SHARED_WORD_CHARS}
    padded = f" {' '.join(words)} "
    for title in titles:
        parts = _title_parts(title)
        if " ".join(words) in parts:
            return False
        # A heading that opens with the title's head carries a subtitle or a date line that its
        # markup glued on ("... der Region 02.02.2022 • HVW-Verband, Presse").
        if padded.startswith(f" {parts[0]} "):
            return False
        if len(long_words.intersection(parts[0].split())) >= _SHARED_WORDS:
            return True
    return False


def _spelling(title: str, heading: str) -> str:
    """Give the spelling of a headline that a title and a heading state in the same words: the
    title's, unless it is set in capitals or cut short where the heading is not."""
    if title.isupper() and not heading.isupper():
        return heading
    # A title for sharing may be cut short ("... says 'I'm trying not to panic'...").
    if title.endswith(("...", "…")) and not heading.endswith(("...", "…")):
        return heading
    return title


def _names_no_story(text: str, site_names: frozenset[str]) -> bool:
    """Say whether a title or heading is only the site's name (folded, without spaces), a host
    name or a URL slug."""
    if _URL_SLUG.fullmatch(text) or _HOST_NAME.fullmatch(text):
        return True
    # Only the name itself: a headline may hold a site's name among other words.
    return fold(text).replace(" ", "") in site_names


def _without_kicker(heading: str, folded_title: str) -> str:
    """Give the end of a headline element that folds to the title, or the whole element."""
    for match in re.finditer(r"\s+", heading):
        # Folding drops the separator a kicker may end with ("Local News | Brothel ...").
        if fold(heading[match.end() :]) == folded_title:
            return heading[match.end() :].lstrip("|-–—:·•»›~ ")
    return heading


def heading_text(node: LexborNode) -> str:
    """Give a headline element's text as a reader sees it, without a permalink mark."""
    # Inline markup splits text without a space ("Metroid</a>, One").
    return _PERMALINK_MARK.sub("", _SPACE_BEFORE_PUNCTUATION.sub("", node_text(node)))


@dataclass(frozen=True, slots=True)
class Furniture:
    """What a page's titles may carry around the headline, folded: site, sections, authors."""

    site_names: tuple[str, ...]
    exact_names: frozenset[str]  # sections and authors: only a whole part that is one counts
    host_names: tuple[str, ...] = ()  # the site names read from the page's address


def _furniture(metadata: PageMetadata, url: str | None, own: tuple[str, ...]) -> Furniture:
    """Gather the names the page gives its site, sections and authors, folded for comparison."""
    site_names = [fold(name) for name in metadata.site_names if name.strip()]
    hosts: list[str] = []
    for address in (url, metadata.canonical_url):
        if address:
            # A page the Wayback Machine keeps is the archived address's site's.
            archived = _ARCHIVED_URL.match(address[:_MAX_URL_CHARS])
            own_address = archived.group(1) if archived else address[:_MAX_URL_CHARS]
            # The host's labels but its top-level domain and a "www"-like prefix; "-" joins the
            # words of a name ("st-lucia-times").
            labels = (urlsplit(own_address).hostname or "").lower().split(".")[:-1]
            hosts.extend(label.replace("-", "") for label in labels if label not in _HOST_PREFIXES)
    exact = {fold(name) for name in (*metadata.sections, *metadata.authors)}
    # A breadcrumb ends with the page itself: its headline is never furniture.
    exact -= {"", *(fold(heading) for heading in own)}
    return Furniture(
        tuple(dict.fromkeys((*site_names, *hosts))), frozenset(exact), tuple(dict.fromkeys(hosts))
    )


def same_title(first: str, second: str) -> bool:
    """Say whether two folded titles are one headline, one perhaps carrying a few extra words."""
    shorter, longer = sorted((first, second), key=len)
    return shorter in longer and len(shorter) >= len(longer) * _SAME_TITLE_SHARE


def fold(text: str) -> str:
    """Give text reduced to lower-case words for loose comparison."""
    return " ".join(_WORD.findall(text.lower()))


def strip_site_name(title: str, furniture: Furniture) -> str:
    """Remove the site name, section, author or date (" - BBC News", "Reuters | ") leading or
    trailing a title, as many as it carries."""
    stripped = _strip_one(title, furniture)
    while stripped != title:
        title, stripped = stripped, _strip_one(stripped, furniture)
    return title


def _strip_one(title: str, furniture: Furniture) -> str:
    """Remove one leading or trailing part that names the site, a section, an author or a date."""
    separators = list(TITLE_SEPARATOR.finditer(title))
    # Fewest parts first; a site name may hold a separator itself ("AOC media - Analyse Opinion
    # Critique"), so a longer tail or head is tried when a one-part one does not name the site.
    for count in range(1, len(separators) + 1):
        tail = separators[-count]
        rest = title[: tail.start()].strip()
        if _is_furniture(title[tail.end() :], rest, furniture, whole=count == 1):
            return rest
        head = separators[count - 1]
        rest = title[head.end() :].strip()
        if _is_furniture(title[: head.start()], rest, furniture, whole=count == 1):
            return rest
    # A site's name followed by its motto: "Headline : Krimiblog-Archiv | Ermittlungen zum
    # Verfall eines Genres". The part that names the site, and all after it, go.
    for before, after in itertools.pairwise(separators):
        rest = title[: before.start()].strip()
        part = fold(title[before.end() : after.start()])
        if len(rest.split()) >= _MIN_HEADLINE_WORDS and any(
            _names_site(part, name) for name in furniture.site_names
        ):
            return rest
    return title


def _is_furniture(part: str, rest: str, furniture: Furniture, *, whole: bool) -> bool:
    """Say whether a title part names the site, or (a part with no separator in it) a section,
    an author or a date beside the rest of the title."""
    folded = fold(part)
    if not whole:
        # Several parts name the site only as a whole: "AOC media - Analyse Opinion Critique".
        return folded in furniture.site_names
    if any(_names_site(folded, name) for name in furniture.site_names):
        return True
    if _HOST_NAME.fullmatch(part.strip()) and len(rest.split()) >= _MIN_HEADLINE_WORDS:
        return True
    if folded in furniture.exact_names:
        return True
    # A date beside a short rest may end a range ("Wochenbericht 14. - 20. Januar 2022").
    return (
        len(part) <= _MAX_TITLE_PART_DATE_CHARS
        and len(rest.split()) >= _MIN_HEADLINE_WORDS
        and _DIGIT.search(part) is not None
        and parse_date(part, fetched_at=None, source="text") is not None
    )


def _names_site(folded_part: str, site_name: str) -> bool:
    """Say whether a title segment names the site (its og:site_name, or a word of its host)."""
    if not folded_part or not site_name:
        return False
    compact = folded_part.replace(" ", "")
    if folded_part == site_name or site_name.replace(" ", "") == compact:
        return True
    if len(site_name) < _MIN_LOOSE_SITE_NAME_CHARS:
        return False  # "dw", "slf": only a part that is the name itself
    words = folded_part.split()
    if site_name in words and len(words) <= _MAX_SITE_PART_WORDS:
        return True  # "MyOOS Community Forum" on foren.myoos.de
    # A host spells "Müritz" "mueritz" and "Nestlé" "nestle".
    spellings = {compact} if compact.isascii() else _ascii_spellings(compact)
    return any(
        site_name in spelling and len(spelling) <= len(site_name) + 12 for spelling in spellings
    )


def _ascii_spellings(text: str) -> set[str]:
    """Give the ways a host name may spell a text: umlauts as "ae", or accents dropped."""
    stripped = unicodedata.normalize("NFKD", text)
    stripped = "".join(character for character in stripped if not unicodedata.combining(character))
    return {text, text.translate(_UMLAUTS), stripped}
