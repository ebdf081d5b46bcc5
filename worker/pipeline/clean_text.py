"""Find the article inside a plain-text dump of a news page: headline, date, byline, body.

A text dump is a page rendered to text (w3m, a browser's "save as text", a copy-paste): the article
sits among menus, share prompts, captions, related-story lists and footers. Nothing here knows any
site; the mechanism is general and its constants were set by measurement on the Scrapinghub dumps
(`bench/textdumps.py`).

1. Units. Lines are grouped into blank-separated blocks; lines a renderer wrapped (the next word
   would not have fit the page's or the block's column width, wide CJK characters counting two)
   are rejoined into one paragraph. Every other line is a unit of its own.
2. Scores. Each unit is scored from its own shape: prose (eight words or more ending a sentence)
   scores its word count, discounted when it lacks the function words sentences carry; short
   lines, list items, bare links and image labels, boilerplate wording (sign in, share,
   copyright, related...), captions, related stories printed as a title glued to its teaser,
   standalone dates and text printed twice score negative, short lines packed into a block
   (menus, link lists) more than short lines standing alone.
3. Runs. The article is a run of units with the largest total score that no gap of chrome costing
   more than `_GAP_LIMIT` interrupts, nor the site's copyright notice or a reader comment's
   header. An earlier run at least half as strong as the strongest wins (articles come before
   their comments, teasers and footers), and weak stretches that a smaller chrome gap sets off at
   either end of the run are trimmed.
4. Body. Paragraphs of the run, with the subheadings, list items and short sentences between
   them, and a list the last paragraph announces with a colon.

The headline is the title-shaped line above the body that best shares words with the lead and
the URL's slug and stands alone in its block; the date comes from the lines around the headline
and the top of the body (`find_date`); the byline and the section labels of related-story lines
("18 Sep 09 | Europe") become fields and never enter the body.

A printed time that names no zone ("18 Nov 2019, 19:09") is read as UTC, at minute
precision, with `utc_offset_minutes` None to say the zone was not stated. A dump has nothing else
to say which zone it is in, and sites that print no zone print UTC often: the same page as HTML,
whose metadata states the instant, then meets the dump on the dedupe key (headline_key,
published_at). Keeping only the printed day instead was measured and dropped: on the tuning part
of the scrapinghub pages and their dumps it joined one more pair (an HTML page stating only the
day) and parted four (pages printing UTC), 30 against 33 pairs sharing a key. A page whose HTML
states a minute and whose dump prints local time without a zone keeps two keys; only a store
keyed on the local day would join them.
"""

from __future__ import annotations

import functools
import html
import itertools
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from worker.pipeline.datelines import opening_dateline
from worker.pipeline.dates import find_date, parse_date
from worker.pipeline.types import CleanPage, DecodedPage, PublishedAt, Rejection

__all__ = ["clean_text"]

# Cheap bounds against hostile dumps: the regexes below only ever see this much of a line.
_MAX_LINE_CHARS = 20_000
_MAX_LINES = 20_000

# Unit scores: prose scores its word count; chrome scores these (set on the Scrapinghub dumps).
_CHROME_PENALTY = 6.0  # boilerplate wording
_DATELINE_PENALTY = 6.0  # a line that is only a date (comments, teaser lists)
_PACKED_PENALTY = 3.0  # a short line packed among others (menus, link lists), or a caption
_ALONE_PENALTY = 1.0  # a short line standing alone (a subheading, a line of a recipe)
_REPEAT_PENALTY = 1.0  # text printed twice on the page (captions, teasers, a repeated title)
_SHORT_ITEM_PENALTY = 4.0  # a short list item is a menu entry...
_LONG_ITEM_PENALTY = 1.0  # ...a long one is as likely a list inside the article
_LONG_ITEM_WORDS = 8
_DATELINE_WORDS = 12  # lines this short are tested for being nothing but a date

# Runs: chrome costing more than _GAP_LIMIT (about five short lines) ends the article; inside a
# run, chrome costing _EDGE_GAP sets off a stretch that must hold _EDGE_SHARE of the strongest
# stretch's prose to stay; an earlier run _EARLIER_RUN_SHARE as strong as the strongest wins.
_GAP_LIMIT = 20.0
_EDGE_GAP = 10.0
_EDGE_SHARE = 0.2
_EARLIER_RUN_SHARE = 0.5
_COMMENT_HEADER_WORDS = 6  # "1. reader says:", "Jane Doe on March 3 said:"
_MIN_BODY_SCORE = 15.0  # less prose than a couple of sentences is not an article
_MIN_TABLE_WORDS = 8  # a wire story without prose: its dateline, then at least this many words

# Headline: candidates up to _HEADLINE_WINDOW units above the body, scored by these weights.
_HEADLINE_WINDOW = 50
_SHORT_TITLE_REACH = 3  # units above the body a title of one or two words may stand, dates between
_HEADLINE_FAR_WINDOW = 100  # where a line must head a byline or a date to be a candidate
_CREDIT_WORDS = 8  # a caption's credit line is short: "(Getty Images)", "Photo: Jane Doe/AP"
_TITLE_LEAD_WEIGHT = 1.0  # share of its words found in the lead paragraphs
_TITLE_SLUG_WEIGHT = 2.0  # share of its words found in the URL's slug
_TITLE_ALONE_WEIGHT = 1.0  # standing alone in its block, as <h1> renders
_TITLE_REPEATED_WEIGHT = 0.5  # printed twice (breadcrumb or share text and heading)
_TITLE_NEAR_WEIGHT = 0.25  # closeness to the body
_TITLE_BYLINE_WEIGHT = 1.0  # heading an author line ("By ...") or a date, as headlines do
_TITLE_BYLINE_REACH = 3  # units between a headline and its byline: a standfirst, a date

# Date: lines from this far above the headline to the first paragraph, then farther up.
_DATE_LINES_ABOVE = 12
_DATE_LINES_FARTHER = 200
# The moment "is this line a date?" is asked against: relative forms ("7 hours ago") need one, and
# it must come after every printed date (a date after the fetch is refused as implausible).
_DATE_PROBE = datetime(2100, 1, 1, tzinfo=UTC)

# The markers renderers put before list items. Dashes are left out (they open dialogue lines), and
# so are numbers: numbered items in a dump are more often article text than menu entries.
_BULLET_MARKS = frozenset("•◦▪▫■□☆★○●·‣⁃*")
_BULLET = re.compile(r"\s{0,40}[•◦▪▫■□☆★○●·‣⁃*]( |$)")
_BRACKETED = re.compile(r"\[[^\[\]]{0,300}\]")
_URL = re.compile(r"(?:https?://|www\.)\S{1,500}")
_WORD = re.compile(r"[^\W_]+")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}")
# The same words in lower-cased ASCII text, found without the Unicode category lookups that made
# word splitting a fifth of the cleaner's time.
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"[.!?…:;。！？：；]['\"’”»)\]」』）]{0,3}$")
# The characters a sentence can end with: the last character of a unit rules most units out.
_SENTENCE_TAIL = frozenset(".!?…:;。！？：；'\"’”»)]」』）")
# Characters a terminal shows two columns wide, and that CJK text strings together without spaces.
_WIDE = re.compile(
    r"[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)
_SPACES = re.compile(r"\s+")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_ASCII_RUN = re.compile(r"[\x00-\x7f]+")
_INVISIBLE_CHARACTERS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARACTERS}]")
_BYLINE = re.compile(r"(?:by|von|par|por|di|door|av|af)\s+(.{3,120})", re.IGNORECASE)
_NAME_WORD = re.compile(r"[A-ZÀ-Þ][^\W\d_]{0,30}(?:['’.-][^\W\d_]{0,30}){0,3}\.?")
_NAME_JOINERS = frozenset(
    ("and", "und", "et", "y", "e", "van", "von", "de", "der", "da", "di", "la", "le")
)
_STAMP_WORDS = frozenset(
    ("updated", "published", "posted", "on", "am", "at", "aktualisiert", "veröffentlicht")
)
_MONTHS_SHORT = frozenset(
    (
        *("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov"),
        *("dec", "january", "february", "march", "april", "june", "july", "august"),
        *("september", "october", "november", "december"),
    )
)
_BYLINE_CUT = re.compile(r"\s+(?:[-–—|,•/]|on|am|le|el)\s+|,\s+|\s+\|\s*|\s+-\s+")
_CAPTION = re.compile(r"(?i:photo|image|picture|caption|getty|foto|bild)(?!\w)|\([^()]{0,80}\)$")
# How captions and credits announce themselves, in the languages the service reads.
_CAPTION_CUE = re.compile(
    r"(?i:^in this [^\n]{0,40}?\b(?:photo|image)|"
    r"(?:photo|photograph|image|picture|foto|bild)s? ?(?:by|:|/|credit|courtesy)|"
    r"getty images|\(ap photo|\bcaption\b|\bcredit:)"
)
_DIGIT = re.compile(r"\d")
# A wire story's opening: the place in capitals, then the date or the agency, then a dash
# ("BELGRADE, April 8 -", "PORTLAND, Ore., Feb 26 -", "LONDON (Reuters) -"). It opens the
# story's first paragraph, never a headline.
_WIRE_DATELINE = re.compile(
    r"(?:[A-Z][A-Z.'’ -]{1,40}(?:, [A-Z][A-Za-z.]{1,12})*"
    r"(?:,? [A-Z][a-z]{2,8}\.? \d{1,2}| \([A-Za-z ]{2,30}\))+"
    # ... or the place in title case, then the date ("New York, April 3 -").
    r"|[A-Z][a-z]+(?: [A-Z][a-z]+){0,3}(?:, [A-Z][A-Za-z.]{1,12})*,? [A-Z][a-z]{2,8}\.? \d{1,2})"
    r" [-–—]{1,2}(?: |$)"
)
# A title may end with an abbreviation's full stop: "... MAGNETS IN U.S.", "Acme Co."
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Inc|Co|Corp|Ltd|Jr|Sr|St|Bros|No)\.)$"
)
# A line wholly inside double quotation marks. (Single marks also open headlines that quote
# someone: "'Neutral' Snopes Fact-Checker David Emery: 'Are There Any ...?'".)
_QUOTED = re.compile(r"[\"“”„«»]([^\"“”„«»]{8,300})[\"“”„«»]")
# An image's label in a dump ("[image]", "[photo: ...]"): the line below it is its caption.
_IMAGE_LABEL = re.compile(r"\[(?i:image|img|photo|picture|foto|bild|graphic)[^\[\]]{0,200}\]")
# Every caption cue above contains one of these words: a cheap test before the regex.
_CAPTION_WORDS = frozenset(
    (
        *("photo", "photos", "photograph", "photographs", "image", "images", "picture"),
        *("pictures", "foto", "fotos", "bild", "bilder", "getty", "ap", "caption", "credit"),
    )
)
_LABELLED_DATE = re.compile(r"(.{1,60}?)\s{0,3}[|·•]\s{0,3}(.{1,60})")
# Where a renderer glued a link's text to the block after it with no space: a word's lower-case
# end, "?" or "!" right before a capital that opens a word ("... NASCAR FinaleFord v Toyota
# flopped ...", "... On The Rise?Violence is part of ...", "... Troy SteakhouseA party of six").
# (Digits and ")" are left out: "9to5Toys", "3D Sound", "Hong Kong (CNN Business)A muddled".)
# `_is_glued_teaser` decides whether the text on either side reads as a title and its teaser.
_GLUE = re.compile(r"(?:[a-zß-öø-ÿа-яё]{2}|[?!])(?=[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zß-öø-ÿа-яё]|A )")
_GLUE_TITLE_WORDS = 3  # a title glued to its teaser has this many long words, all capitalized...
_GLUE_TEASER_WORDS = 6  # ...and its teaser this many words, a couple of long ones in lower case
_GLUE_TRIES = 3  # glue points tried per unit (a title printed twice glues twice)
# A glued line is a teaser only in a list of them: another within this many units (room for one
# item between, each an image's label and its line). Alone, it is as likely a paragraph naming a
# company in camel case ("Susan Hackmann of AgriAnalysis said there was some confusion ...").
_TEASER_REACH = 4
# Lines that sit above an article in the place of its title and are not one. A breadcrumb
# ("Home » Blog »", "Metro Post / World"): segments joined by a path mark with spaces around it.
_TRAIL_MARK = re.compile(r"\s+(?:/|>|»|›|\|)(?:\s+|$)")
_TRAIL_SEGMENT_WORDS = 4  # "News you can trust", "Mensagens de Autoestima"
_NAME_SEGMENT_WORDS = 3  # "Metro Post", "The Valley Courier"
# The first entry of a breadcrumb trail, in the languages the service reads.
_HOME_WORDS = frozenset(
    ("home", "homepage", "startseite", "start", "accueil", "inicio", "início", "portada", "главная")
)
# A call to action: a link's text telling the reader what to do ("CLICK FOR FULL RESULTS",
# "Tap here to listen", "See the full list").
_CALL_TO_ACTION = re.compile(
    r"(?i:(?:click|tap|klicken|klick|cliquez|clique|clicca|pulsa|haga clic)\b"
    r"|(?:see|view|read|watch|listen to|get|find) (?:the )?(?:full|all|more|complete|here)\b"
    r"|.{0,80}\b(?:click|tap) here\b)"
)
# A section's heading over a list of other stories ("Other news in this section", "More on
# Slate Book Review", "You may also like"): a few words opening with one of these phrases.
_SECTION_HEADING = re.compile(
    r"(?i:(?:other|more|latest|related|similar|recent|top|popular|trending|recommended)"
    r" (?:news|stories|articles|posts|headlines|videos|reads|links|on|from|in)\b"
    r"|you (?:may|might) also\b|also read\b|read (?:also|next)\b|.{0,40}\bin this section\b)"
)
_SECTION_HEADING_WORDS = 6
# The heading of a comment section, as blog software prints it over the comments ("34 responses
# to “<title>”", "6 thoughts on “<title>”", WordPress's defaults, and their translations: "45
# Gedanken zu „<title>“", "11 Antworten zu", "5 Kommentare on"): it quotes the title.
_COMMENTS_HEADING = re.compile(
    r"(?i:(?:\d{1,6}|one|no|ein|eine|un|une) (?:responses?|thoughts?|comments?|repl(?:y|ies)"
    r"|gedanken?|kommentare?|antwort(?:en)?|commentaires?|réponses?|réflexions?|comentarios?"
    r"|comentários?|respuestas?|respostas?|commenti|risposte|reacties|gedachten)"
    r" (?:to|on|zu|auf|sur|à|en|a|em|para|sobre|su|op) )"
)
_COMMENTS_HEADING_WORDS = 40  # the heading quotes the title, which may be long
_TRAIL_TITLE_REACH = 3  # units below the body's first in which a trail's title is looked for

# Boilerplate wording, in the languages the service reads; only ever counted against short units,
# and how much it takes to mark one is decided by `_is_chrome`.
_CHROME_TERMS_TEXT = (
    "copyright|all rights reserved|sign in|sign up|login|log in|logout|log out|register|subscribe|"
    "subscription|newsletter|cookie|cookies|privacy|terms of use|terms of service|share this|"
    "share on|follow us|advertisement|advertising|sponsored|sponsor|related|read more|more from|"
    "most read|most popular|most viewed|most shared|recommended|trending|print|email this|"
    "e mail this|email us|skip to|javascript|browser|comment|comments|"
    "anmelden|abonnieren|werbung|datenschutz|impressum|weitere artikel|teilen|"
    "connexion|s abonner|publicité|partager|iniciar sesión|suscríbete|publicidad|"
    "compartir|accedi|iscriviti|pubblicità|condividi|inloggen|delen|"
    "sharing|sign out|continue reading|external links|media caption|edit profile|"
    # Blog and site software in the languages read: "skip to content", "menu", "close menu",
    # "leave a comment", "cancel reply", "home" as a trail's first word, "page 1 of 3".
    "zum inhalt|aller au contenu|saltar al contenido|ir al contenido|vai al contenuto|"
    "naar de inhoud|menü|menü schließen|kommentar verfassen|antwort abbrechen|"
    "laisser un commentaire|deja un comentario|lascia un commento|cancel reply|leave a reply|"
    "leave a comment|startseite|accueil|kommentare|commentaires|comentarios|commenti|"
    "seite 1 von|page 1 of"
)
_CHROME_TERMS = _CHROME_TERMS_TEXT.split("|")
_CHROME_WORDS = frozenset(term for term in _CHROME_TERMS if " " not in term)
_CHROME_PHRASES = tuple(f" {term} " for term in _CHROME_TERMS if " " in term)
_CHROME_PHRASE_STARTS = frozenset(phrase.split()[0] for phrase in _CHROME_PHRASES)
_CHROME_PHRASES_BY_START = {
    start: tuple(phrase for phrase in _CHROME_PHRASES if phrase.split()[0] == start)
    for start in _CHROME_PHRASE_STARTS
}
# The chrome words a page uses only about itself: one of them marks a unit. The others also have
# ordinary senses in news ("declined to comment", "advertising pages", "related charges").
_SITE_WORDS = frozenset(
    (
        *("subscribe", "newsletter", "login", "logout", "cookie", "cookies", "advertisement"),
        *("sponsored", "javascript", "abonnieren", "impressum", "suscríbete", "iscriviti"),
        *("accedi", "inloggen"),
    )
)
# A site's copyright notice: its sign or word with a year, or the reservation of rights. It closes
# the page's text: what follows it is the site's legal small print, never the article.
_COPYRIGHT_NOTICE = re.compile(
    r"(?i:all rights reserved|todos os direitos reservados|todos los derechos reservados|"
    r"tous droits réservés|alle rechte vorbehalten|tutti i diritti riservati|"
    r"alle rechten voorbehouden|(?:©|ⓒ|copyright)[^\n]{0,80}?\b(?:19|20)\d\d\b)"
)
# Every copyright notice holds one of these words or signs: a cheap test before the regex.
_NOTICE_WORDS = frozenset(
    ("copyright", "reserved", "reservados", "réservés", "vorbehalten", "riservati", "voorbehouden")
)
# Units this short are chrome with any chrome word ("Related stories", "Print this page").
_CHROME_SHORT_WORDS = 4

# The commonest function words of the languages the service reads. Prose is dense with them;
# menus, lists of headlines and captions are not.
_STOPWORDS_BY_LANGUAGE = {
    "en": "a an the and or but of to in on at for with by from as is are was were be been has have"
    " had it its this that these those he she they we you i his her their our not no will would"
    " can could should said says who which what when there than then also into about after over"
    " more",
    "de": "der die das und oder aber ein eine einer eines einem den dem des ist sind war waren wird"
    " werden hat haben nicht mit von zu im in auf für an als auch sich es er sie wir ihr bei aus"
    " nach wie noch nur so dass über um",
    "fr": "le la les un une des et ou mais de du au aux en dans sur pour par avec est sont était"
    " ont a ne pas que qui il elle ils nous vous ce cette ses son sa leur plus se",
    "es": "el los las una unos y o pero del al en por para con es son fue está que se no lo su sus"
    " como más",
    "it": "il lo gli uno e o ma di da nel nella con per che non è sono era anche si suo sua",
    "pt": "o os as um uma e ou mas do da dos das em no na com por para que não é são foi",
    "nl": "de het een en of maar van in op voor met is zijn was niet dat die er ook aan bij",
}
_STOPWORDS = frozenset(word for words in _STOPWORDS_BY_LANGUAGE.values() for word in words.split())
_STOPWORD_LANGUAGES: dict[str, tuple[str, ...]] = {}
for _language_code, _listed in _STOPWORDS_BY_LANGUAGE.items():
    for _word in _listed.split():
        _STOPWORD_LANGUAGES[_word] = (*_STOPWORD_LANGUAGES.get(_word, ()), _language_code)
# The body's language is named only when its function words make up this share of its words.
_LANGUAGE_MIN_SHARE = 0.15
_LANGUAGE_SAMPLE_WORDS = 500


class _Alphabet(NamedTuple):
    """Facts about a page's characters, found once, that let every unit skip Unicode-wide work.

    Most dumps hold no wide (CJK) character, so columns and word counts need no correction; and
    in most, every letter and digit is ASCII (the other characters are quotes, dashes, bullets),
    so words can be found by an ASCII pattern, several times faster than the Unicode one.
    """

    wide: bool  # some character takes two terminal columns
    ascii_words: bool  # every letter and digit is ASCII


@dataclass(slots=True)
class _Unit:
    """A paragraph rejoined from its wrapped lines, or one line that stands alone."""

    text: str
    line: int  # index of its first line in the dump
    block: int  # index of its blank-line-separated block
    bullet: bool
    alone: bool  # the only unit of its block
    # What the unit's own text decides (`_unit`).
    words: int
    stop_ratio: float
    sentence: bool
    chrome: bool
    label_only: bool  # nothing but bracketed image labels and bare links
    dateline: bool  # a short line that is just a date (a comment's, a teaser's)
    caption: bool  # reads as a photo caption or credit
    glued: bool  # reads as a title glued to its teaser ("... NASCAR FinaleFord v Toyota ...")
    notice: bool  # the site's copyright notice ("© 2019 Acme, LLC. All rights reserved.")
    comments_heading: bool  # the heading of the comments ("25 thoughts on “<title>”")
    tokens: list[str]  # the lower-cased words of `text`, links and labels included
    # What the rest of the page decides.
    repeated: bool = False
    teaser: bool = False  # glued, in a list of glued lines (a related-stories list)
    score: float = 0.0


def clean_text(page: DecodedPage) -> CleanPage | Rejection:
    """A decoded text dump -> its CleanPage (headline, date, body, byline, labels), or Rejection."""
    lines, cleaned = _lines(page.text)
    units = _units(lines, _alphabet(cleaned))
    _score_units(units)
    region = _best_region(units)
    # A wire story whose body is a table (a company's results, a list of prices) holds no prose,
    # but its dateline says where the story starts.
    table = region is None
    if table:
        region = _wire_table(units)
    if region is None:
        return Rejection(
            "no_body",
            "no run of prose paragraphs was found; the dump looks like an index or error page",
        )
    start, end = region
    headline_index = _headline(units, start, end, page.url)
    if table and headline_index == start:
        headline_index = None  # a dateline opens the story's text; it never titles it
    if headline_index is None and not table:
        headline_index = _short_title(units, start)
    if headline_index is None:
        return Rejection(
            "no_headline", "no title-shaped line stands above the article text in this dump"
        )
    headline = units[headline_index].text
    if table:
        body_units = [unit for unit in units[start : end + 1] if unit.text != headline]
    else:
        body_units = _body(units, start, end, headline)
        body_units += _announced_list(units, end)
    if not body_units:
        return Rejection("no_body", "the article region held no paragraphs once chrome was removed")
    published = _published(lines, units[headline_index], body_units, page)
    return CleanPage(
        headline=headline,
        published=published,
        body=tuple(unit.text for unit in body_units),
        kind=page.kind,
        byline=_byline(units, headline_index, start),
        section_labels=_section_labels(lines, page),
        language=_language(body_units),
    )


def _language(body: Sequence[_Unit]) -> str | None:
    """The ISO 639-1 code of the language whose function words fill the body, or None."""
    words: list[str] = []
    for unit in body:
        words += unit.tokens
        if len(words) >= _LANGUAGE_SAMPLE_WORDS:
            break
    if not words:
        return None
    # Counting distinct words first keeps the languages in the order their first word appears,
    # which is how ties were always broken, at a fraction of the per-word lookups.
    hits: Counter[str] = Counter()
    counts = Counter(words)
    for word in [word for word in counts if word in _STOPWORD_LANGUAGES]:
        for language in _STOPWORD_LANGUAGES[word]:
            hits[language] += counts[word]
    if not hits:
        return None
    language, count = hits.most_common(1)[0]
    return language if count >= _LANGUAGE_MIN_SHARE * len(words) else None


def _published(
    lines: Sequence[str], headline: _Unit, body: Sequence[_Unit], page: DecodedPage
) -> PublishedAt | None:
    """The date printed around the headline and the top of the body, else the nearest above."""
    top = max(0, min(headline.line, body[0].line) - _DATE_LINES_ABOVE)
    near = [*lines[top : body[0].line + 1], *(unit.text for unit in body[:3])]
    published = find_date(near, fetched_at=page.fetched_at)
    if published is None:
        # Farther up, the line closest to the article is the likeliest dateline; the page's
        # header (today's date, a ticker) sits farthest away.
        farther = lines[max(0, top - _DATE_LINES_FARTHER) : top][::-1]
        published = find_date(farther, fetched_at=page.fetched_at)
    return published


def _lines(text: str) -> tuple[list[str], str]:
    """The dump's lines (invisible characters and no-break spaces removed, trailing space cut),
    and the whole text they were cut from."""
    cleaned = text
    if not text.isascii():
        cleaned = text.replace("\xa0", " ")
        if any(character in cleaned for character in _INVISIBLE_CHARACTERS):
            cleaned = _INVISIBLE.sub("", cleaned)
    if "&" in cleaned and _ENTITY.search(cleaned):
        # Some renderers leave character references in attribute-derived text (alt, title).
        cleaned = html.unescape(cleaned)
    lines = [line.rstrip() for line in cleaned.splitlines()[:_MAX_LINES]]
    if max(map(len, lines), default=0) > _MAX_LINE_CHARS:
        lines = [line[:_MAX_LINE_CHARS] for line in lines]
    return lines, cleaned


def _alphabet(text: str) -> _Alphabet:
    """What the page's characters spare the per-unit work: see `_Alphabet`."""
    if text.isascii():
        return _Alphabet(wide=False, ascii_words=True)
    others = _ASCII_RUN.sub("", text)
    return _Alphabet(
        wide=_WIDE.search(others) is not None, ascii_words=_WORD.search(others) is None
    )


def _wrap_width(columns: Sequence[int]) -> int | None:
    """The column width the renderer wrapped the whole page at, or None when it did not wrap."""
    widths = sorted(filter(None, columns))
    if len(widths) < 3:
        return None
    widest = widths[-1]
    # A wrapping renderer fills lines to just under its width; a dump of unwrapped paragraphs has
    # a few long lines of scattered lengths. Three such lines are asked for, however long the page:
    # a short article among a page of menus fills only a few (asking for one line in twenty of the
    # page lost a w3m dump's wrapped paragraphs).
    near = len(widths) - bisect_left(widths, widest - 12)
    if widest < 60 or near < 3:
        return None
    return widest


def _block_width(widths: Sequence[int]) -> int | None:
    """The width a narrower column (a sidebar, a <pre>) wrapped this block at, or None."""
    if len(widths) < 3:
        return None
    widest = max(widths)
    # Wrapped prose fills most of its lines; a list of short items does not.
    if widest < 50 or sum(1 for width in widths[:-1] if width >= 0.85 * widest) < 2:
        return None
    return widest


def _columns(line: str) -> int:
    """How many terminal columns a line takes: wide (CJK) characters take two."""
    if line.isascii():
        return len(line)
    return len(line) + len(_WIDE.findall(line))


def _units(lines: Sequence[str], alphabet: _Alphabet) -> list[_Unit]:
    """The dump's units: wrapped lines rejoined into paragraphs, every other line on its own."""
    wide = alphabet.wide
    columns = [_columns(line) for line in lines] if wide else [len(line) for line in lines]
    page_width = _wrap_width(columns)
    units: list[_Unit] = []
    for block_index, block in enumerate(_blocks(lines)):
        if len(block) == 1:
            # Most blocks are one line (menus, headings): nothing to rejoin. (Inlined: a call per
            # line showed in the profile.)
            line = lines[block[0]]
            stripped = line.strip()
            bullet = stripped[:1] in _BULLET_MARKS and _BULLET.match(line) is not None
            units.append(
                _unit(
                    stripped,
                    line=block[0],
                    block=block_index,
                    bullet=bullet,
                    alone=True,
                    alphabet=alphabet,
                )
            )
            continue
        block_width = _block_width([columns[index] for index in block])
        # A line wrapped at the narrower of the two widths was wrapped at either.
        width = min((w for w in (page_width, block_width) if w is not None), default=None)
        # Text, first line, bullet: the block's units before their text is final.
        drafts: list[list[Any]] = []
        previous = -1
        for index in block:
            line = lines[index]
            stripped = line.strip()
            # The marker's character decides first: the pattern runs on one line in a hundred.
            bullet = stripped[:1] in _BULLET_MARKS and _BULLET.match(line) is not None
            if (
                previous >= 0
                and width is not None
                and not bullet
                and _was_wrapped(columns[previous], stripped, width, wide=wide)
            ):
                # Text without spaces between words (CJK) was broken mid-word: rejoin it tight.
                tight = wide and _WIDE.match(stripped) and _WIDE.match(lines[previous][-1])
                drafts[-1][0] += ("" if tight else " ") + stripped
            else:
                drafts.append([stripped, index, bullet])
            previous = index
        alone = len(drafts) == 1
        for text, index, bullet in drafts:
            units.append(
                _unit(
                    text,
                    line=index,
                    block=block_index,
                    bullet=bullet,
                    alone=alone,
                    alphabet=alphabet,
                )
            )
    return units


def _blocks(lines: Sequence[str]) -> list[list[int]]:
    """The indexes of the dump's runs of non-blank lines."""
    blocks: list[list[int]] = []
    current: list[int] = []
    for index, line in enumerate(lines):
        if line and not line.isspace():
            current.append(index)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _was_wrapped(used: int, line: str, width: int, *, wide: bool) -> bool:
    """Whether `line` continues a line `used` columns wide: its first word did not fit there."""
    first_word = line.split(maxsplit=1)[0]
    if used + 1 + (_columns(first_word) if wide else len(first_word)) > width:
        return True
    # A renderer breaks text without spaces (CJK) anywhere, so its first "word" can be short.
    return wide and used >= 0.9 * width and bool(_WIDE.match(first_word))


def _score_units(units: Sequence[_Unit]) -> None:
    """Score each unit from its features and from what the rest of the page repeats."""
    prose = [unit for unit in units if unit.words >= 8 and unit.sentence]
    # A page in a language without a stopword list (CJK, Cyrillic, ...) shows none in its prose:
    # then the feature says nothing, and must not count against every paragraph.
    stopwords_known = bool(prose) and sum(unit.stop_ratio for unit in prose) / len(prose) >= 0.08
    seen = Counter([unit.text for unit in units])
    glued = [index for index, unit in enumerate(units) if unit.glued]
    for previous, index in itertools.pairwise(glued):
        if index - previous <= _TEASER_REACH:
            units[previous].teaser = units[index].teaser = True
    for unit in units:
        unit.repeated = unit.words >= 3 and seen[unit.text] > 1
        unit.score = _score(unit, stopwords_known=stopwords_known)


def _unit(
    text: str, *, line: int, block: int, bullet: bool, alone: bool, alphabet: _Alphabet
) -> _Unit:
    """A unit's text and place -> the unit, with the features its own text decides."""
    if "  " in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    # Links and image labels are not words of the text: a caption full of URLs is not prose.
    plain = text
    if "[" in plain:
        plain = _BRACKETED.sub(" ", plain)
    if "://" in plain or "www." in plain:
        plain = _URL.sub(" ", plain)
    words = _words(plain, ascii_words=alphabet.ascii_words)
    count = len(words)
    if alphabet.wide and not plain.isascii():
        # Text without spaces counts about one word per two wide characters.
        count += len(_WIDE.findall(plain)) // 2
    stop_ratio = 0.0
    if count >= 8 and words:
        # Only prose-length units are weighed by their function words.
        stop_ratio = sum(map(_STOPWORDS.__contains__, words)) / len(words)
    sentence = text[-1:] in _SENTENCE_TAIL and _SENTENCE_END.search(text[-6:]) is not None
    chrome = count <= 30 and _is_chrome(plain, words, count=count, sentence=sentence)
    return _Unit(
        text=text,
        line=line,
        block=block,
        bullet=bullet,
        alone=alone,
        words=count,
        stop_ratio=stop_ratio,
        sentence=sentence,
        chrome=chrome,
        label_only=not plain.strip(" |-–·•"),
        dateline=count <= _DATELINE_WORDS and _DIGIT.search(plain) is not None and _is_date(plain),
        caption=count <= 80
        and not _CAPTION_WORDS.isdisjoint(words)
        and _CAPTION_CUE.search(plain[:400]) is not None,
        glued=count >= 8 and sentence and _is_glued_teaser(plain),
        notice=chrome
        and ("©" in plain or "ⓒ" in plain or not _NOTICE_WORDS.isdisjoint(words))
        and _COPYRIGHT_NOTICE.search(plain) is not None,
        comments_heading=count <= _COMMENTS_HEADING_WORDS
        and _COMMENTS_HEADING.match(text) is not None,
        tokens=words if plain is text else _words(text, ascii_words=alphabet.ascii_words),
    )


def _words(text: str, *, ascii_words: bool = False) -> list[str]:
    """A text -> its lower-cased words (runs of letters and digits); see _Alphabet.ascii_words."""
    lowered = text.lower()
    if lowered.isascii():
        return _ASCII_WORD.findall(lowered)
    if ascii_words:
        # The only non-ASCII characters are punctuation (’ — •), which no lower-casing turns into
        # a letter: as "?" they separate the same words.
        return _ASCII_WORD.findall(lowered.encode("ascii", "replace").decode("ascii"))
    return _WORD.findall(lowered)


def _is_glued_teaser(text: str) -> bool:
    """Whether a line reads as a related story's title glued to its teaser without a space.

    Renderers print a link's text and the block after it as one run of text ("Is Violence In
    Sports On The Rise?Violence is part of the game ..."). The glue alone is not enough, since
    names are written that way too ("LeBron", "WordPress"); the text before it must be a title
    (Title Case, no parenthesis left open, no wire dateline) and the text after it a sentence
    (with long words in lower case).
    """
    # A wire story's opening ("SAN FRANCISCO, March 5 - BankAmerica Corp said ...") is no title.
    if _WIRE_DATELINE.match(text):
        return False
    # The title opens the line: most prose is ruled out by its first long words.
    capitalized = 0
    for word in text[:200].split():
        if len(word) >= 4 and word[0].isalpha():
            if not word[0].isupper():
                return False
            capitalized += 1
            if capitalized == _GLUE_TITLE_WORDS:
                break
    else:
        return False
    for tries, glue in enumerate(_GLUE.finditer(text)):
        if tries == _GLUE_TRIES:
            break
        title, teaser = text[: glue.end()], text[glue.end() :]
        if title.count("(") > title.count(")"):
            continue
        if _is_title_case(title) and _is_sentence_case(teaser):
            return True
    return False


def _is_title_case(text: str) -> bool:
    """Whether capitals open all the long words of a text, and it has enough of them."""
    long_words = [word for word in text.split() if len(word) >= 4 and word[0].isalpha()]
    return len(long_words) >= _GLUE_TITLE_WORDS and all(word[0].isupper() for word in long_words)


def _is_sentence_case(text: str) -> bool:
    """Whether a text reads as a sentence rather than a title: long words in lower case."""
    words = text.split()
    lower = sum(len(word) >= 4 and word[0].islower() for word in words)
    return len(words) >= _GLUE_TEASER_WORDS and lower >= 2


def _is_chrome(plain: str, words: Sequence[str], *, count: int, sentence: bool) -> bool:
    """Whether a unit's wording marks it as the site's own furniture (a menu, prompt or notice).

    ©, a chrome phrase ("sign in", "all rights reserved") or a word only sites use of themselves
    ("subscribe", "cookies") is enough. The other chrome words are weak evidence, since news
    prose and headlines use them too ("declined to comment", "Gannett's USA Today Advertising
    Rises"): they mark a short unit ("Related stories"), and a longer one that is not a sentence
    when it holds two of them ("Privacy policy | Comments RSS") or opens with one as a label or
    prompt ("Related: ...", "Print this article").
    """
    if "©" in plain:
        return True
    if not _CHROME_PHRASE_STARTS.isdisjoint(words) and _has_chrome_phrase(words):
        return True
    if _CHROME_WORDS.isdisjoint(words):
        return False
    if count <= _CHROME_SHORT_WORDS or not _SITE_WORDS.isdisjoint(words):
        return True
    # A sentence announcing what follows ("Related coverage from ...:") is a label all the same.
    prose = sentence and count >= 8 and not plain.endswith(":")
    if prose:
        return False
    return words[0] in _CHROME_WORDS or sum(map(_CHROME_WORDS.__contains__, words)) >= 2


def _has_chrome_phrase(words: Sequence[str]) -> bool:
    """Whether the words hold a boilerplate phrase ("sign in", "all rights reserved", ...)."""
    joined = f" {' '.join(words)} "
    return any(
        phrase in joined
        for start in _CHROME_PHRASE_STARTS.intersection(words)
        for phrase in _CHROME_PHRASES_BY_START[start]
    )


def _score(unit: _Unit, *, stopwords_known: bool) -> float:
    """Positive for prose, negative for chrome; the body is the run with the highest sum."""
    if unit.label_only:
        return -1.0
    if unit.chrome:
        return -_CHROME_PENALTY
    if unit.repeated:
        return -_REPEAT_PENALTY
    if unit.caption or unit.teaser:
        return -_PACKED_PENALTY
    if unit.dateline:
        return -_DATELINE_PENALTY
    if unit.bullet:
        # Measured on the Scrapinghub dumps: scoring long list items as prose lost more to menus
        # of long entries than it gained from lists inside articles.
        return -_LONG_ITEM_PENALTY if unit.words >= _LONG_ITEM_WORDS else -_SHORT_ITEM_PENALTY
    if unit.words >= 8 and (unit.sentence or unit.words >= 20):
        # Prose: weight by length, discounted when it lacks the function words sentences have.
        density = min(1.0, 0.3 + unit.stop_ratio * 2.5) if stopwords_known else 1.0
        return unit.words * density
    # A short line set apart by blank lines is a paragraph of its own (a subheading, a line of a
    # recipe); short lines packed together are a menu or a list of links.
    return -_ALONE_PENALTY if unit.alone else -_PACKED_PENALTY


def _best_region(units: Sequence[_Unit]) -> tuple[int, int] | None:
    """The article's run of units (inclusive bounds), or None when no run holds enough prose.

    Each run is the stretch with the largest total score between hard breaks; a run never
    crosses a gap of chrome costing more than `_GAP_LIMIT` (a long related-story list or footer
    separates the article from whatever prose-like notice follows it), a copyright notice (the
    legal small print around it) or a comment's header (each comment stands alone, so a thread
    does not add up to outweigh the article). The strongest run wins,
    unless an earlier one is at least `_EARLIER_RUN_SHARE` as strong: articles come before their
    comments, teasers and footers, which can outweigh a short article.
    """
    runs = _runs(units)
    # What follows the comments' heading is the readers', not the article: an article before it
    # is the one, however long the thread.
    heading = next((index for index, unit in enumerate(units) if unit.comments_heading), None)
    if heading is not None:
        before = [run for run in runs if run[1] < heading and run[2] >= _MIN_BODY_SCORE]
        runs = before or runs
    if not runs:
        return None
    strongest = max(runs, key=lambda run: run[2])
    if strongest[2] < _MIN_BODY_SCORE:
        return None
    earlier = [
        run for run in runs if run[0] < strongest[0] and run[2] >= _EARLIER_RUN_SHARE * strongest[2]
    ]
    chosen = max(earlier, key=lambda run: run[2]) if earlier else strongest
    return _trim_weak_edges(units, chosen[0], chosen[1])


def _wire_table(units: Sequence[_Unit]) -> tuple[int, int] | None:
    """The block a wire dateline opens (inclusive bounds), where no prose made a run, or None.

    "TORRANCE, Calif., March 3 - Shr 43 cts vs 30 cts", then a line per figure: the lines score
    as a menu would, yet the dateline says a story starts there and its block is the story. The
    agency's sign-off that may end the block ("REUTER", "AP": one word in capitals) is not.
    """
    for index, unit in enumerate(units):
        if unit.chrome or unit.label_only or unit.repeated:
            continue
        dateline = opening_dateline(unit.text)
        if dateline is None:
            continue
        end = index
        while end + 1 < len(units) and units[end + 1].block == unit.block:
            end += 1
        while end > index and units[end].words == 1 and units[end].text.strip().isupper():
            end -= 1
        said = len(_WORD.findall(unit.text[dateline.end() :]))
        if said + sum(other.words for other in units[index + 1 : end + 1]) >= _MIN_TABLE_WORDS:
            return index, end
    return None


def _trim_weak_edges(units: Sequence[_Unit], start: int, end: int) -> tuple[int, int]:
    """The run without leading or trailing stretches that a chrome gap sets off and that are weak.

    A teaser or a caption above the article, or a promotion below it, can join the run across a
    gap too small to end it; such a stretch is dropped when it holds less than `_EDGE_SHARE` of
    the prose of the strongest stretch.
    """
    stretches: list[tuple[int, int, float]] = []  # first, last, total score
    gap = 0.0
    for index in range(start, end + 1):
        score = units[index].score
        if score < 0:
            gap += score
        elif not stretches or gap <= -_EDGE_GAP:
            stretches.append((index, index, score))
            gap = 0.0
        else:
            first, _, total = stretches[-1]
            stretches[-1] = (first, index, total + gap + score)
            gap = 0.0
    strongest = max(range(len(stretches)), key=lambda i: stretches[i][2])
    floor = _EDGE_SHARE * stretches[strongest][2]
    first = strongest
    while first > 0 and stretches[first - 1][2] >= floor:
        first -= 1
    last = strongest
    while last + 1 < len(stretches) and stretches[last + 1][2] >= floor:
        last += 1
    return stretches[first][0], stretches[last][1]


def _runs(units: Sequence[_Unit]) -> list[tuple[int, int, float]]:
    """(start, end, total score) of the best stretch between each pair of hard breaks: a chrome
    gap costing more than `_GAP_LIMIT`, a copyright notice, a reader comment's header, the
    heading of the comments ("45 Gedanken zu „<title>“")."""
    runs: list[tuple[int, int, float]] = []
    best: tuple[int, int, float] | None = None
    running = 0.0
    run_start = 0
    gap = 0.0
    for index, unit in enumerate(units):
        gap = gap + unit.score if unit.score < 0 else 0.0
        if (
            running <= 0
            or gap < -_GAP_LIMIT
            or unit.notice
            or (unit.text[-1:] == ":" and _is_comment_header(units, index))
            or unit.comments_heading
        ):
            if best is not None:
                runs.append(best)
            best = None
            running = 0.0
            run_start = index
        running += unit.score
        if running > 0 and (best is None or running > best[2]):
            best = (run_start, index, running)
    if best is not None:
        runs.append(best)
    return runs


def _is_comment_header(units: Sequence[_Unit], index: int) -> bool:
    """Whether a unit heads a reader's comment: a short line ending with a colon, its author's
    ("1. reader says:"), right above a line that is only the comment's date."""
    return (
        units[index].words <= _COMMENT_HEADER_WORDS
        and index + 1 < len(units)
        and units[index + 1].dateline
    )


def _is_paragraph(unit: _Unit) -> bool:
    return unit.score > 0


def _is_list_item(unit: _Unit) -> bool:
    """A list item inside the article's run of paragraphs (menus never sit inside that run)."""
    return unit.bullet and unit.words >= 3 and not unit.chrome and not unit.repeated


def _is_subheading(units: Sequence[_Unit], index: int, end: int) -> bool:
    """A short standalone line with article paragraphs right before and after it."""
    unit = units[index]
    if unit.bullet or unit.chrome or unit.label_only or not 1 <= unit.words <= 12:
        return False
    if unit.sentence and not unit.text.endswith(("?", "!")):
        return False
    if index == 0 or index >= end:
        return False
    before, after = units[index - 1], units[index + 1]
    return (
        _is_paragraph(before)
        and _is_paragraph(after)
        and unit.block not in {before.block, after.block}
    )


def _body(units: Sequence[_Unit], start: int, end: int, headline: str) -> list[_Unit]:
    """The units of the article's run that are its text, in order."""
    body: list[_Unit] = []
    for index in range(start, end + 1):
        unit = units[index]
        if (
            unit.text == headline
            or _is_trail_to(unit.text, headline)
            or (unit.words <= 12 and _BYLINE.fullmatch(unit.text))
        ):
            continue
        if (
            _is_paragraph(unit)
            or _is_subheading(units, index, end)
            or _is_list_item(unit)
            or _is_short_sentence(unit)
        ):
            body.append(unit)
    return body


def _announced_list(units: Sequence[_Unit], end: int) -> list[_Unit]:
    """The list the article's last paragraph announces ("... tour dates:"), else nothing.

    Its items are short lines that score as chrome on their own; the colon says they belong to
    the article. The list is the block that follows the colon, up to any chrome.
    """
    if not units[end].text.endswith(":") or end + 1 >= len(units):
        return []
    block = units[end + 1].block
    items: list[_Unit] = []
    for unit in units[end + 1 :]:
        if unit.block != block or unit.chrome or unit.repeated or unit.label_only:
            break
        items.append(unit)
    return items


def _is_short_sentence(unit: _Unit) -> bool:
    """A sentence too short to score as prose, standing alone inside the article's run."""
    return (
        unit.alone
        and unit.sentence
        and unit.words >= 3
        and not (
            unit.chrome
            or unit.caption
            or unit.teaser
            or unit.dateline
            or unit.repeated
            or unit.bullet
        )
    )


def _headline(units: Sequence[_Unit], start: int, end: int, url: str | None) -> int | None:
    """The index of the unit that reads as the article's title, or None.

    Candidates are title-shaped units in the stretch above the body (farther up, only those
    heading a byline or a date). Each is scored for sharing words with the lead paragraphs and
    with the URL's slug, standing alone in its block, being printed twice, heading a byline or
    a date, and sitting close to the body; captions and credits count against, and so does
    being the body's first unit (a lead paragraph without a full stop). The page's own
    furniture (a breadcrumb, a call to action, the heading of a list of stories or of comments)
    is taken only when nothing else is title-shaped, like captions.
    """
    lead_words = {word for unit in units[start : min(end + 1, start + 4)] for word in unit.tokens}
    body_text: str | None = None
    slug_words = set(_words(_url_path(url))) if url else set()
    # The best title-shaped unit, and the best of those that read as something else (a caption,
    # a pull quote, the story's dateline, a wrapped line of prose, a row of figures): taken only
    # when no other line is title-shaped, since a page without a headline is rejected.
    best: list[int | None] = [None, None]
    best_score = [0.0, 0.0]
    first = max(0, start - _HEADLINE_WINDOW)
    candidates = [index for index in range(first, start + 1) if _title_shaped(units[index])]
    # A breadcrumb printed on the title's line ("Home News Business News <title>") can open the
    # body's run when it is long; the title printed again on its own line below it then stands
    # for it.
    trails: dict[int, int] = {}
    for index in candidates:
        title = _title_after_trail(units, index, first, min(end, start + _TRAIL_TITLE_REACH))
        if title is not None:
            trails[index] = title
    candidates = sorted({*candidates, *trails.values()})
    # Farther up, only a line heading a byline or a date is taken: a headline whose page prints
    # a long list (a video playlist, a gallery) between it and the article.
    farther = [
        index
        for index in range(max(0, start - _HEADLINE_FAR_WINDOW), first)
        if _title_shaped(units[index])
    ]
    bylined = _above_bylines(units, [*farther, *candidates], start)
    candidates = [*(index for index in farther if index in bylined), *candidates]
    for index in candidates:
        unit = units[index]
        # A URL slug (an image's file name, an anchor's address printed as its text) is a
        # page's name for machines, never its title; nor is a text printed twice without a
        # break, as a dump prints an image's alt text beside its title ("focusAlbert").
        other = (
            _is_caption(units, index)
            or _is_story_line(unit)
            or _is_slug(unit.text)
            or _is_doubled(unit.text)
            or _is_page_furniture(unit)
            or index in trails
        )
        quoted = _QUOTED.fullmatch(unit.text)
        if quoted is not None and not other:
            # A quotation that ends its sentence inside the marks, or that the article repeats,
            # is a pull quote.
            if body_text is None:
                body_text = " ".join(unit.text for unit in units[start : end + 1])
            other = quoted[0][-2:-1] in {".", "!", "?"} or quoted[1] in body_text
        words = unit.tokens
        content = [word for word in words if word not in _STOPWORDS] or words
        score = _TITLE_LEAD_WEIGHT * sum(word in lead_words for word in content) / len(content)
        if slug_words:
            score += _TITLE_SLUG_WEIGHT * sum(word in slug_words for word in content) / len(content)
        if _stands_alone(units, index):
            score += _TITLE_ALONE_WEIGHT
        if unit.repeated:
            score += _TITLE_REPEATED_WEIGHT
        if index in bylined:
            score += _TITLE_BYLINE_WEIGHT
        if _CAPTION.search(unit.text):
            score -= 1.0
        score += _TITLE_NEAR_WEIGHT * (1 - (start - index) / _HEADLINE_WINDOW)
        if index == start:
            score -= 0.5
        if score > best_score[other]:
            best[other], best_score[other] = index, score
    return best[0] if best[0] is not None else best[1]


def _above_bylines(units: Sequence[_Unit], candidates: Sequence[int], start: int) -> set[int]:
    """The candidates a few units above an author line ("By ...") or a date that stands above
    the body's first unit `start`, as headlines stand, and any a few units above one of those
    (a headline above its standfirst)."""
    heads: set[int] = set()
    for position, index in enumerate(candidates):
        following = units[index + 1 : min(index + 1 + _TITLE_BYLINE_REACH, start)]
        if not any(_is_byline_or_date(unit) for unit in following):
            continue
        heads.add(index)
        if position and index - candidates[position - 1] <= _TITLE_BYLINE_REACH:
            heads.add(candidates[position - 1])
    return heads


def _is_byline_or_date(unit: _Unit) -> bool:
    return unit.dateline or (unit.words <= 12 and _BYLINE.fullmatch(unit.text) is not None)


def _is_page_furniture(unit: _Unit) -> bool:
    """Whether a title-shaped line is the page's own furniture rather than a story's title: a
    breadcrumb, a call to action, the heading of a list of other stories or of the comments."""
    text = unit.text
    if unit.words <= _SECTION_HEADING_WORDS and _SECTION_HEADING.match(text):
        return True
    if unit.comments_heading:
        return True
    return _CALL_TO_ACTION.match(text) is not None or _is_breadcrumb(text)


def _is_breadcrumb(text: str) -> bool:
    """Whether a line is a breadcrumb trail or a site's header: short segments joined by path
    marks ("Home » Blog »", "Metro Post / World", "The Valley Courier | News you can trust")
    whose first is "Home" or reads as a name (a few capitalised words)."""
    if _TRAIL_MARK.search(text) is None:
        return False
    segments = [segment for segment in _TRAIL_MARK.split(text) if segment.strip()]
    if not segments or any(len(segment.split()) > _TRAIL_SEGMENT_WORDS for segment in segments):
        return False
    first = segments[0].split()
    if first[0].lower() in _HOME_WORDS:
        return True
    return len(first) <= _NAME_SEGMENT_WORDS and all(
        word[:1].isupper() and not any(ch.isdigit() for ch in word) for word in first
    )


def _title_after_trail(units: Sequence[_Unit], index: int, first: int, last: int) -> int | None:
    """The index of the title a breadcrumb trail ends with, when `index` is such a trail printed
    on the title's line ("Home", a few section names, then the title, which the page prints
    again on a line of its own between `first` and `last`), else None."""
    text = units[index].text
    if text.split(maxsplit=1)[0].lower() not in _HOME_WORDS:
        return None
    for other in range(first, last + 1):
        if _is_trail_to(text, units[other].text) and _title_shaped(units[other]):
            return other
    return None


def _is_trail_to(text: str, title: str) -> bool:
    """Whether a line is a breadcrumb trail running into `title` on one line: "Home", a few
    section names, then the title."""
    return (
        len(title) < len(text)
        and text.endswith(" " + title)
        and text.split(maxsplit=1)[0].lower() in _HOME_WORDS
    )


def _url_path(url: str) -> str:
    """The part of a URL after its host: where slugs carry the headline's words."""
    after_scheme = url.split("//", 1)[-1]
    return after_scheme.split("/", 1)[1] if "/" in after_scheme else ""


def _is_caption(units: Sequence[_Unit], index: int) -> bool:
    """Whether a unit reads as a photo caption: it says so, sits right under an image label,
    or beside a credit line ("(Getty Images)", "Photograph: AP")."""
    if units[index].caption:
        return True
    if index > 0 and _IMAGE_LABEL.search(units[index - 1].text):
        return True
    neighbours = (*units[max(0, index - 1) : index], *units[index + 1 : index + 2])
    return any(unit.caption and unit.words <= _CREDIT_WORDS for unit in neighbours)


def _is_slug(text: str) -> bool:
    """Whether a line is lower-case words joined by hyphens, as a URL's path names a page."""
    return _SLUG.fullmatch(text) is not None


def _is_doubled(text: str) -> bool:
    """Whether a line is one text printed twice with nothing between (spaces aside: the dump
    may wrap the second copy elsewhere)."""
    compact = "".join(text.split())
    half = len(compact) // 2
    return len(compact) % 2 == 0 and compact[:half] == compact[half:]


def _is_story_line(unit: _Unit) -> bool:
    """Whether a short line reads as part of a story rather than its title: a wire dateline
    opening the first paragraph, a wrapped line of prose (starting with a lower-case word), a
    row of figures."""
    text = unit.text
    if text[:1].isupper() and _WIRE_DATELINE.match(text):
        return True
    first_word = text.split(maxsplit=1)[0]
    if first_word.isalpha() and first_word.islower():
        return True
    return 2 * sum(token.isdigit() for token in unit.tokens) > len(unit.tokens)


def _title_shaped(unit: _Unit) -> bool:
    if unit.bullet or unit.chrome or unit.label_only or not 2 <= unit.words <= 30:
        return False
    if unit.words == 2 and not (unit.alone and _DIGIT.search(unit.text) is None):
        # Two words are a title ("Will Smith", "Performant Python") standing alone in their
        # block; packed among others, or with a figure ("12 mths"), they are a menu or a table.
        return False
    if len(unit.text) > 250 or _BYLINE.fullmatch(unit.text):
        return False
    text = unit.text
    if text.endswith((",", ";", ":")) or (
        text.endswith(".") and not text.endswith("...") and not _ABBREVIATION_END.search(text)
    ):
        return False
    # Any date, relative ones included ("7 hours ago"), is a dateline, never a title.
    if unit.dateline:
        return False
    if unit.words <= _DATELINE_WORDS and _DIGIT.search(unit.text):
        return True  # already checked when the unit was described
    return not _is_date(unit.text)


@functools.lru_cache(maxsize=8192)
def _is_date(text: str) -> bool:
    """Whether a line is a date, relative ones included ("7 hours ago").

    Cached: a site prints the same short dated lines on page after page (its related stories, its
    own "Last updated" line), and parsing them was a tenth of the text pipeline in the profile.
    """
    return parse_date(text, fetched_at=_DATE_PROBE, source="text") is not None


def _short_title(units: Sequence[_Unit], start: int) -> int | None:
    """The line right above the body that titles it in a word or two ("Performant Python", "Ein
    Albtraum"), where no line of title length was found, or None.

    Too short to be a candidate among a page's lines (menus are made of such lines), such a line
    is the title only when it stands alone in its block just above the article's first paragraph
    and reads as nothing else.
    """
    for index in range(start - 1, max(-1, start - 1 - _SHORT_TITLE_REACH), -1):
        unit = units[index]
        if unit.dateline or _BYLINE.fullmatch(unit.text):
            continue  # a date or an author line between the title and the story
        if (
            1 <= unit.words < 3
            and _stands_alone(units, index)
            and not (unit.bullet or unit.chrome or unit.label_only or unit.repeated)
            and not _is_page_furniture(unit)
            and any(character.isalpha() for character in unit.text)
        ):
            return index
        return None
    return None


def _stands_alone(units: Sequence[_Unit], index: int) -> bool:
    block = units[index].block
    before = index > 0 and units[index - 1].block == block
    after = index + 1 < len(units) and units[index + 1].block == block
    return not before and not after


def _byline(units: Sequence[_Unit], headline_index: int, start: int) -> str | None:
    """The author line between the headline and the first paragraph, names only, or None."""
    for unit in units[headline_index + 1 : start + 2]:
        if unit.words > 16:
            continue
        match = _BYLINE.fullmatch(unit.text)
        if match is not None:
            return _names(match[1])
    return None


def _names(text: str) -> str | None:
    """The leading run of name-shaped words in a byline, without the date or site after it."""
    head = _BYLINE_CUT.split(text, maxsplit=1)[0].strip()
    names: list[str] = []
    tokens = head.split()
    for index, token in enumerate(tokens):
        # A social handle glued to the name ("Chris Pokorny@DawgsByNature") ends it.
        word, handle, _ = token.partition("@")
        if word and word.lower() in _NAME_JOINERS and names:
            names.append(word)
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        # A verb ("Updated") or a month before a number ("Nov 18", not "Jan de Vries") ends them.
        if (
            not _NAME_WORD.fullmatch(word)
            or word.lower() in _STAMP_WORDS
            or (word.lower().rstrip(".") in _MONTHS_SHORT and following[:1].isdigit())
        ):
            break
        names.append(word)
        if handle:
            break
    while names and names[-1].lower() in _NAME_JOINERS:
        names.pop()
    return " ".join(names) or None


def _section_labels(lines: Sequence[str], page: DecodedPage) -> tuple[str, ...]:
    """Labels printed beside dates in story lists ("18 Sep 09 | Europe"), in order, deduplicated."""
    labels: dict[str, None] = {}
    for line in lines:
        # The marks rule out nearly every line before any other test runs.
        if "|" not in line and "·" not in line and "•" not in line:
            continue
        stripped = line.strip()
        # Either side must hold a date, and every date has a digit.
        if not 5 <= len(stripped) <= 80 or _DIGIT.search(stripped) is None:
            continue
        match = _LABELLED_DATE.fullmatch(stripped)
        if match is None:
            continue
        for dated, label in ((match[1], match[2]), (match[2], match[1])):
            if (
                _is_label(label)
                and _DIGIT.search(dated)
                and parse_date(dated, fetched_at=page.fetched_at, source="text")
            ):
                labels[label.strip()] = None
                break
    return tuple(labels)


def _is_label(text: str) -> bool:
    words = text.split()
    return (
        1 <= len(words) <= 4
        and words[0][:1].isupper()
        and not any(ch.isdigit() or ch == ":" for ch in text)
        and not _BYLINE.fullmatch(text.strip())
    )
