"""Region classification: CleanPage (+ its URL) → RegionVerdict.

Place names are found in the headline and body by one pass over capitalised words with dictionary
look-ups (the gazetteer), read as countries or world areas, and weighted by where they stand
(headline > lead > rest). A wire story's dateline ("BELGRADE, April 8 -", "LONDON (Reuters) -"),
section labels and URL path words that name a region are strong votes.
Names that are also words or people's names ("Turkey", "Jordan", "Nice") count only when the text
around them says they are places. Towns under a quarter of a million people and counties or
districts count only with support: the article names their country, the page's home country
(its address's country-code domain, its dateline) is theirs, or a town and a county of one country
agree ("Swindon", "Wiltshire"). Names shared by two countries ("Georgia") go to the one the rest of
the article points at, and a big city's small namesakes ("Boston" in Lincolnshire) are read only
in their home country. Currency words and company forms ("dlrs", "Plc") are weak cues, each counted
once per article and below a single place mention. The body is read up to a budget of characters
after the lead.

The verdict's region is one of the taxonomy's regions, or ``"unknown"`` when nothing in the page
points anywhere (confidence 0, no scores, no evidence). It is never None: None marks a missing
value elsewhere (an evidence item's country where it names a region directly, a store outcome for
a dump that became no article), never "no region".

Cost: most of the time goes to the per-paragraph scan, so the common case (a capitalised word
that names nothing) is filtered by one set intersection per paragraph, not a Python loop.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections import defaultdict
from typing import NamedTuple
from urllib.parse import urlsplit

from worker.pipeline.datelines import opening_dateline
from worker.pipeline.gazetteer import (
    FIRM_KINDS,
    Gazetteer,
    Name,
    Reading,
    Taxonomy,
    label_key,
    load_gazetteer,
    load_taxonomy,
    name_key,
    taxonomy_names,
)
from worker.pipeline.types import CleanPage, Evidence, EvidenceWhere, RegionVerdict

__all__ = [
    "CLASSIFIER_VERSION",
    "REGIONS",
    "TAXONOMIES",
    "Taxonomy",
    "classify",
    "load_taxonomy",
]

CLASSIFIER_VERSION = "regions/3"
REGIONS: tuple[str, ...] = load_taxonomy("bbc").regions
TAXONOMIES: tuple[str, ...] = taxonomy_names()
UNKNOWN = "unknown"

# A dateline weighs as much as a section label: both are where the publisher filed the story. On
# Reuters a heavier dateline scored higher still, as its gold codes the bureau's country, but a
# story filed in London about Japan is Japanese news.
_WEIGHT: dict[EvidenceWhere, float] = {
    "dateline": 6.0,
    "headline": 3.0,
    "lead": 1.5,
    "body": 1.0,
    "section": 6.0,
    "url": 6.0,
}
_LEAD_PARAGRAPHS = 2
# Characters of body read after the lead. The places that decide a story are named early, and the
# tail of a long story costs time in proportion: on dev, accuracy was flat for any cap from 1,200
# to 5,000 characters. This one reads a typical web article whole (the seed's 2,500) and bounds
# the long features.
_MAX_BODY_CHARS = 3_000
# Each country's summed votes are raised to this power: the tenth "Russia" adds less than the first.
_DAMPING = 0.8
# Currency words and company forms ("dlrs", "Plc"): each distinct cue counts this much, once per
# article however often it appears, below a single place mention in the body, so that they decide
# only where no place is named ("Acme Inc" in a story about its South African unit is not news
# from the Americas).
_CUE_WEIGHT = 0.9
# A neighbour's mentions count this much towards reading a shared name as its country.
_NEIGHBOUR_SUPPORT = 0.5
# The page's own country (its site's country code, its dateline's country) counts this much towards
# reading a shared name or a small town as a place in it: a British site's "Boston" is in
# Lincolnshire, its "Swindon" needs no "England" beside it.
_HOME_SUPPORT = 3.0
# Two local names in one country, one a county or district, count this much towards reading both.
_LOCAL_SUPPORT = 1.0
_LOCAL_KINDS = frozenset({"city", "district"})
# Country-code top-level domains that sites take for their letters, not their country (".tv",
# ".io"): a hand list, as no installed package marks them; their sites say nothing of a home.
_BRAND_DOMAINS = frozenset({"ai", "am", "cc", "co", "fm", "io", "ly", "me", "tv", "ws"})
# confidence = logistic(a + b·share + c·log(1 + top) + d·margin), where share and margin are the
# winner's score and its lead over the runner-up as fractions of all votes; fitted on the tuning
# part by `bench/regions.py --fit`.
_CALIBRATION = (-0.897, 2.310, 0.039, 5.281)

# Hostile input: every regex below is linear, and paragraphs are cut before scanning.
_MAX_BLOCK_CHARS = 20_000
_MAX_BLOCKS = 400
# (text since the previous word, word): a word is letters with inner apostrophes, or "U.S."
_WORD = re.compile(r"([\W\d_]*)((?:[A-Za-z]\.){2,}|[^\W\d_]+(?:'[^\W\d_]+)*)")
# The same read from the end of reversed text: (text after the word, the word), both reversed.
_WORD_REVERSED = re.compile(r"([\W\d_]*?)((?:\.[A-Za-z]){2,}|[^\W\d_]+(?:'[^\W\d_]+)*)")
# A capitalised word, "U.S" of "U.S." included. The scan over every character is the hot loop, and
# a class reaching past ASCII doubles its cost, so the wider one runs only on non-ASCII paragraphs.
_CAPITALISED = re.compile(r"[A-Z](?:\.[A-Z])*[\w']*", re.ASCII)  # ASCII \w: a table look-up
_CAPITALISED_ANY = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ʯΆ-ΫЀ-Я](?:\.[A-Z])*[\w']*")
# Capitalised words folded to lower case and joined by spaces, when none needs a full look-up key.
_PLAIN_WORDS = re.compile(r"[a-z ]*")
_CUE_SEPARATORS = str.maketrans(dict.fromkeys(string.punctuation.replace("$", ""), " "))
# bytes.split() does not split at the ASCII information separators, as str.split() does.
_CUE_SEPARATOR_CHARS = (string.punctuation.replace("$", "") + "\x1c\x1d\x1e\x1f").encode()
_CUE_SEPARATOR_BYTES = bytes.maketrans(_CUE_SEPARATOR_CHARS, b" " * len(_CUE_SEPARATOR_CHARS))
# The characters outside ASCII that str.split() splits at.
_WIDE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# Cities this big are read in all-capitals text without support from other mentions.
_BIG_CITY = 1_000_000
# A dateline's name is read as a city of this size or more, where it names one, before a county.
_BIG_TOWN = 100_000
# Towns smaller than this are read only when the article also names their country or a neighbour:
# their names are often people's ("Dudley Taft") or firms' ("Midland Bank", "Cambridge Medical").
# Tuned on dev (150,000 to 500,000 all helped; macro-F1 peaked here).
_SMALL_TOWN = 250_000
# How far back to look for the word before a name.
_CONTEXT_CHARS = 48
_SENTENCE_BREAK = re.compile(r"[.!?:;\"“”()\[\]|•]")
# A dollar sign before an amount, and the letters naming its dollar ("US$5", "A$1.2bn", "$ 30");
# a "$" before anything else is code or a shell's prompt ("$ npm install", "$(\"#id\")", "$var").
_DOLLAR = re.compile(r"(U\.S\.|[A-Z]{0,3})\$(?=\s?\d)")
_URL_WORD = re.compile(r"[a-z]+")
# A language tag as a path segment (BCP 47: language, then region): "en-us", "en_gb", "de-de".
_LOCALE_SEGMENT = re.compile(r"[a-z]{2,3}[-_][a-z]{2}")
_MAX_URL_SEGMENT_WORDS = 4
_MAX_URL_NGRAM = 3

# Words before a name that make it a place, not a person: "troops in Chad", "King of Jordan".
_PLACE_PREPOSITIONS = frozenset(
    {
        "in", "of", "from", "to", "into", "across", "near", "at", "throughout", "outside", "inside",
        "toward", "towards", "via", "around", "within", "between", "through", "visit", "visited",
        "visiting", "against", "with", "and", "for", "by", "on", "over",
    }
)  # fmt: skip
# Capitalised words that open sentences and headlines, not names: "In Jordan", "The Hague".
_FUNCTION_WORDS = frozenset(
    {
        "the", "a", "an", "in", "at", "on", "for", "from", "by", "with", "as", "but", "and", "if",
        "when", "while", "after", "before", "since", "both", "unlike", "like", "across",
        "throughout", "outside", "inside", "near", "to", "of", "or", "so", "yet", "meanwhile",
        "elsewhere", "northern", "southern", "eastern", "western", "central", "rural",
        "neighbouring", "neighboring", "all", "many", "some", "most", "its", "his", "her",
        "their", "our", "this", "that", "these", "those", "under", "over", "via", "into",
        "through", "within", "between",
    }
)  # fmt: skip
_SPEECH_VERBS = frozenset({"said", "says", "told", "added", "stated", "noted", "argued"})
# Short capitalised words ending in a full stop that do not end a sentence.
_ABBREVIATIONS = frozenset({"st", "mt", "ft", "mr", "mrs", "ms", "dr", "gen", "col", "lt", "sgt"})


class _Mention(NamedTuple):
    # A named tuple, not a frozen dataclass: one is built per place mention, and a frozen
    # dataclass's __init__ costs several times as much.
    name: Name
    text: str
    where: EvidenceWhere
    weight: float
    needs_support: bool


def _key(word: str) -> str:
    if word.isalpha() and word.isascii():
        return word.lower()
    if word.endswith(("'s", "'S")):
        word = word[:-2]
    key = word.lower() if word.isascii() else name_key(word)
    return key.replace(".", "") if "." in key else key


def _breaks(gap: str, word_before: str) -> bool:
    """Whether the text between two words ends a sentence ("Mr. Smith" and "St. Louis" do not)."""
    if _SENTENCE_BREAK.search(gap) is None:
        return False
    return not (gap.strip() == "." and _key(word_before) in _ABBREVIATIONS)


def _joins(gap: str, word_before: str) -> bool:
    """Whether a word continues the name before it: only spaces or a hyphen between them."""
    return (
        gap == " "
        or gap.strip(" \t-") == ""
        or (gap.strip() == "." and _key(word_before) in _ABBREVIATIONS)
    )


def _before(text: str, start: int) -> tuple[str, str]:
    """The word before `start` ("" at the start of the paragraph) and the text between."""
    window = text[max(0, start - _CONTEXT_CHARS) : start]
    # Read backwards: one match on the reversed window instead of finding every word in it
    # (3.5 -> 0.9 µs a name judged, the same word on all of Reuters but for "AB.C.").
    found = _WORD_REVERSED.match(window[::-1])
    if found is None:
        return "", window
    cut = len(window) - found.end(1)
    return window[len(window) - found.end(2) : cut], window[cut:]


def _cues(blocks: list[str], gazetteer: Gazetteer) -> list[str]:
    """The cue words an article uses, one spelling of each cue, in a stable order."""
    text = "\n".join(block[:_MAX_BLOCK_CHARS] for block in blocks).replace("’", "'")
    # One pass over the whole article (per paragraph, the calls cost more than the work), on its
    # UTF-8 bytes: splitting the text into words is most of the cost, and bytes translate and split
    # several times faster than str (an HTML article with one curly quote: 157 -> 20 µs). In UTF-8
    # the ASCII punctuation and spaces are the same single bytes, and every other character is a
    # run of bytes above 0x7f that the table leaves alone; only whitespace outside ASCII (no-break
    # and thin spaces), where str.split() splits and bytes.split() does not, needs the str path.
    if text.isascii() or _WIDE_SPACE.search(text) is None:
        words = text.encode().translate(_CUE_SEPARATOR_BYTES).split()
        found = {cue.decode() for cue in gazetteer.cue_words_utf8.intersection(words)}
    else:
        found = set(gazetteer.cue_words.intersection(text.translate(_CUE_SEPARATORS).split()))
    for block in blocks:
        if block.isupper():  # all capitals, as a wire headline: cue words are written so too
            words_shouted = block[:_MAX_BLOCK_CHARS].translate(_CUE_SEPARATORS).split()
            shouted = gazetteer.cue_words_shouted.keys() & words_shouted
            found.update(gazetteer.cue_words_shouted[word] for word in shouted)
    if "$" in text:
        # A dollar sign is a currency only before an amount, which the words do not show.
        found = {cue for cue in found if "$" not in cue}
        dollars = (f"{prefix}$" for prefix in _DOLLAR.findall(text))
        found.update(cue for cue in dollars if cue in gazetteer.cues)
    spelt: dict[str, str] = {}  # the cue -> its first spelling found
    for word in sorted(found):
        spelt.setdefault(gazetteer.cue_spellings.get(word, word), word)
    return sorted(spelt.values())


def _scan(
    text: str,
    where: EvidenceWhere,
    gazetteer: Gazetteer,
    mentions: list[_Mention],
) -> None:
    text = text[:_MAX_BLOCK_CHARS].replace("’", "'")
    capitalised = _CAPITALISED if text.isascii() else _CAPITALISED_ANY
    words = capitalised.findall(text)
    if not words:
        return
    # Most capitalised words name nothing. Folding them all in one string and intersecting with
    # the first words of every name keeps the per-word Python work to the few that might.
    folded = " ".join(words).lower()
    keys = folded.split(" ")
    if _PLAIN_WORDS.fullmatch(folded) is None:
        keys = [
            key if key.isascii() and key.isalpha() else _key(word) if word[0].isupper() else ""
            for key, word in zip(keys, words, strict=True)
        ]
    wanted = gazetteer.first_words.intersection(keys)
    if not wanted:
        return
    shouted = text.isupper()
    names = gazetteer.names.entries  # a plain dict: a Name, or a town's row not yet read
    weight = _WEIGHT[where]
    cursor = 0  # everything before this is read
    resume = 0  # the index of the first word after the last multi-word name
    for index, first in enumerate(keys):
        if first not in wanted or index < resume:
            continue
        word = words[index]
        start = _locate(text, word, cursor)
        if start < 0:
            continue  # found inside a longer word ("eParis"): not a name
        end = cursor = start + len(word)
        longest = gazetteer.longest.get(first, 0)
        if longest == 0:
            if _ends_abbreviation(text, start, end):
                state = gazetteer.abbreviations[first]
                mentions.append(_Mention(state, word, where, weight, needs_support=False))
            continue
        name = None
        span_text = word
        if longest > 1 and not (
            # "The company", "New rules": a word in lower case next continues no name but
            # those written so ("Isle of Man"); most look-ups for longer names end here.
            text.startswith(" ", end)
            and text[end + 1 : end + 2].islower()
            and first not in gazetteer.lowercase_joins
        ):
            found = _longer_name(
                text, end=end, first=first, word=word, longest=longest, gazetteer=gazetteer
            )
            if found is not None:
                name, end = found
                span_text = text[start:end]
                resume = index + 1 + len(capitalised.findall(text, cursor, end))
                cursor = end
        if name is None:
            entry = names.get(first)
            if entry is None:
                continue
            name = entry if entry.__class__ is Name else gazetteer.names.make(first)
        if "." in span_text and text.startswith(".", end):
            span_text += "."  # the scan reads "U.S." as "U.S"
        # Case must agree unless the whole block is in capitals: "US" is not "Us", "GAO" not "Gao".
        bare = word[:-2] if word.endswith(("'s", "'S")) else word  # "USDA's" is in capitals
        case_agrees = shouted or name.acronym == (bare.isupper() and len(bare) > 1)
        if not (name.readings and case_agrees):
            continue
        if name.readings[0].kind in FIRM_KINDS and not (name.person or name.word):
            # A country's own name or adjective is read wherever it stands: none of the guards
            # in _judge applies, and skipping it saves a third of the scan (most mentions).
            mentions.append(_Mention(name, span_text, where, weight, needs_support=False))
        else:
            mention = _judge(
                name,
                text=text,
                start=start,
                end=end,
                span_text=span_text,
                shouted=shouted,
                where=where,
                weight=weight,
                gazetteer=gazetteer,
            )
            if mention is not None:
                mentions.append(mention)


def _longer_name(
    text: str, *, end: int, first: str, word: str, longest: int, gazetteer: Gazetteer
) -> tuple[Name, int] | None:
    """The longest multi-word name starting with `word` (ending at `end`), and where it ends."""
    found: tuple[Name, int] | None = None
    key, position, previous = first, end, word
    for _ in range(longest - 1):
        step = _WORD.match(text, position)
        if step is None or not _joins(step.group(1), previous):
            break
        previous = step.group(2)
        key = f"{key} {_key(previous)}"
        position = step.end()
        entry = gazetteer.names.entries.get(key)
        if entry is not None:
            found = entry if entry.__class__ is Name else gazetteer.names.make(key), position
        if key not in gazetteer.partial_names:
            break
    return found


def _locate(text: str, word: str, cursor: int) -> int:
    """Where the scanned `word` stands at or after `cursor`: a whole word, not part of one."""
    start = text.find(word, cursor)
    while start >= 0:
        before = text[start - 1] if start else " "
        after = text[start + len(word) : start + len(word) + 1] or " "
        if not (before.isalnum() or before in "_'" or after.isalnum() or after in "_'"):
            return start
        start = text.find(word, start + 1)
    return -1


def _ends_abbreviation(text: str, start: int, end: int) -> bool:
    """Whether a word stands as "Town, Abbr.": after a comma and before a full stop."""
    return "," in text[max(0, start - 3) : start] and text.startswith(".", end)


def _judge(
    name: Name,
    *,
    text: str,
    start: int,
    end: int,
    span_text: str,
    shouted: bool,
    where: EvidenceWhere,
    weight: float,
    gazetteer: Gazetteer,
) -> _Mention | None:
    """Decide whether a matched name is read as a place here, and whether it needs other support."""
    word_before, gap_before = _before(text, start)
    joined_before = bool(word_before) and _joins(gap_before, word_before)
    before_key = _key(word_before) if word_before else ""
    kind = name.readings[0].kind
    # A capitalised word right before a town or a person-like name makes it part of a person's
    # name ("Michael Jordan", "Lewis Hamilton"), unless it is a place word itself.
    name_before = (
        joined_before
        and not shouted
        and word_before[0].isupper()
        and before_key not in _FUNCTION_WORDS
        and before_key not in gazetteer.name_prefixes
        and not _is_known_place(before_key, gazetteer)
    )
    town = kind in ("city", "capital", "district")
    if name_before and (name.person or town):
        return None
    after = _WORD.match(text, end) if not shouted else None
    if after is not None:
        after_gap, after_word = after.groups()
        after_key = _key(after_word)
        after_name = after_word[0].isupper() and not _is_known_place(after_key, gazetteer)
        # "Paris Hilton", "Turkey Dinner", "Acme Inc": a word, a person-like name or a small
        # town's name before another name.
        small_town = kind == "city" and name.readings[0].population < _SMALL_TOWN
        if (
            after_name
            and (name.person or (name.word and not name.acronym) or small_town)
            and _joins(after_gap, "")
            and after_key not in gazetteer.name_prefixes
        ):
            return None
        # "Bristol-Myers": a town joined by a hyphen to a name is a company's or a person's name.
        if after_name and kind not in FIRM_KINDS and after_gap == "-":
            return None
        # "Blackburn said": a smaller town that speaks is a person (a capital speaks for its
        # government: "Moscow said").
        if kind == "city" and after_gap == " " and after_key in _SPEECH_VERBS:
            return None
    sentence_start = not word_before or _breaks(gap_before, word_before)
    needs_support = False
    if name.word and (shouted or sentence_start):
        needs_support = True
    if name.person and not (joined_before and before_key in _PLACE_PREPOSITIONS):
        needs_support = True
    if shouted and kind not in FIRM_KINDS and not _is_landmark_city(name.readings[0]):
        if kind in _LOCAL_KINDS and name.readings[0].population < _SMALL_TOWN:
            # All capitals hide whether "COCOA", "MAIZE" or "BOOKER" is a name at all, and the
            # small place of that name is the least likely reading.
            return None
        needs_support = True
    if kind == "city" and name.readings[0].population < _SMALL_TOWN:
        needs_support = True
    if kind == "district":  # "Tipperary Corp", "Kent State": counties name firms and people
        needs_support = True
    return _Mention(name, span_text, where, weight, needs_support)


def _is_known_place(key: str, gazetteer: Gazetteer) -> bool:
    """Whether a word names a country, a state or a big city: a small town's name is no clue,
    as most capitalised words name one somewhere ("Myers", "Lynch")."""
    entry = gazetteer.names.entries.get(key)
    if entry is None:
        return False
    name = entry if entry.__class__ is Name else gazetteer.names.make(key)
    if not name.readings:
        return False
    first = name.readings[0]
    return first.kind not in _LOCAL_KINDS or first.population >= _SMALL_TOWN


def _is_landmark_city(reading: Reading) -> bool:
    """Capitals and big cities stand for their country even in an all-capitals headline."""
    return reading.kind == "capital" or reading.population >= _BIG_CITY


def _support_of(country: str, support: dict[str, float], gazetteer: Gazetteer) -> float:
    around = sum(support.get(n, 0.0) for n in gazetteer.neighbours.get(country, ()))
    return support.get(country, 0.0) + _NEIGHBOUR_SUPPORT * around


def _resolve(
    mentions: list[_Mention], cues: list[str], gazetteer: Gazetteer, home: frozenset[str]
) -> tuple[list[tuple[_Mention, Reading]], list[tuple[str, Reading, float]]]:
    """Read every mention and cue as one place, the unambiguous names and home settling the rest."""
    local = _local_support(mentions)
    # A name's small namesakes are read in the page's home country, or where its local names
    # agree ("Boston, Lincolnshire").
    namesake_countries = home | local
    support: dict[str, float] = defaultdict(float)
    for mention in mentions:
        readings = mention.name.readings
        if not mention.needs_support and len(readings) == 1 and readings[0].country:
            if namesake_countries and any(
                r.country in namesake_countries for r in mention.name.namesakes
            ):
                continue  # "Boston" on a British site must not settle itself as the American
            support[readings[0].country] += mention.weight
    for country in home:
        support[country] += _HOME_SUPPORT
    for country in local:
        support[country] += _LOCAL_SUPPORT
    read_cues: list[tuple[str, Reading, float]] = []
    for cue in cues:
        weight = _CUE_WEIGHT
        area = gazetteer.cue_areas.get(cue)
        if area is not None:
            read_cues.append((cue, Reading(None, area, "cue"), weight))
            continue
        codes = gazetteer.cues[cue]
        supported = support.keys() & codes  # support holds only the countries already named
        chosen = codes[0]
        if supported:
            chosen = max(supported, key=lambda code: (support[code], -codes.index(code)))
        if chosen:
            read_cues.append((cue, Reading(chosen, None, "cue"), weight))
    for _, reading, weight in read_cues:
        if reading.country:
            support[reading.country] += weight
    resolved: list[tuple[_Mention, Reading]] = []
    for mention in mentions:
        readings = mention.name.readings
        best = readings[0]
        if namesake_countries and mention.name.namesakes and not _is_landmark_city(best):
            readings = (
                *readings,
                *(r for r in mention.name.namesakes if r.country in namesake_countries),
            )
        if len(readings) == 1 and not mention.needs_support:
            resolved.append((mention, best))
            continue
        best_support = _support_of(best.country, support, gazetteer) if best.country else 0.0
        for reading in readings[1:]:
            if reading.country is None:
                continue
            score = _support_of(reading.country, support, gazetteer)
            if score > best_support:
                best, best_support = reading, score
        if mention.needs_support and (
            best_support <= 0.0
            # A town or a county is read in its own country, not its neighbour's ("Hoechst" AG's
            # name is a town in Austria, and it is German).
            or (best.kind in _LOCAL_KINDS and support.get(best.country or "", 0.0) <= 0.0)
        ):
            continue
        resolved.append((mention, best))
    return resolved, read_cues


def _local_support(mentions: list[_Mention]) -> frozenset[str]:
    """Countries where two local names agree, one of them a county or district: "Swindon" and
    "Wiltshire" are in England though neither is big or named with its country, and so is the
    "Boston" of "Boston, Lincolnshire"."""
    local: defaultdict[str, set[str]] = defaultdict(set)
    with_district: set[str] = set()
    for mention in mentions:
        name = mention.name
        if not (mention.needs_support or name.namesakes or len(name.readings) > 1):
            continue  # settled: "London", "Swindon" beside "England"
        for reading in (*name.readings, *name.namesakes):
            if reading.kind in _LOCAL_KINDS and reading.country:
                local[reading.country].add(name.display)
                if reading.kind == "district":  # "Surrey" is Canada's city or England's county
                    with_district.add(reading.country)
    return frozenset(country for country in with_district if len(local[country]) >= 2)


def _label_votes(
    labels: tuple[str, ...], taxonomy: Taxonomy, gazetteer: Gazetteer
) -> list[Evidence]:
    votes: list[Evidence] = []
    seen: set[str] = set()
    for label in labels:
        key = label_key(label[:200])
        if not key or key in seen:
            continue
        seen.add(key)
        region = taxonomy.labels.get(key)
        country: str | None = None
        if region is None:
            name = gazetteer.names.get(name_key(label[:200]))
            if name is None or not name.readings or name.readings[0].kind not in FIRM_KINDS:
                continue
            country = name.readings[0].country
            region = taxonomy.region_of(name.readings[0])
        if region is not None:
            votes.append(Evidence(label, country, region, "section", _WEIGHT["section"]))
    return votes


def _url_votes(url: str, taxonomy: Taxonomy) -> list[Evidence]:
    try:
        path = urlsplit(url[:2000]).path.lower()
    except ValueError:
        return []
    votes: list[Evidence] = []
    regions: set[str] = set()
    for segment in path.split("/"):
        if _LOCALE_SEGMENT.fullmatch(segment):
            continue  # "/en-us/news/...": the edition's language and market, not the story's place
        words = _URL_WORD.findall(segment)
        if len(words) > _MAX_URL_SEGMENT_WORDS:
            continue  # a headline slug repeats the headline, which is already counted
        used: set[int] = set()  # longest labels first: "south-asia" is not also "asia"
        for size in range(_MAX_URL_NGRAM, 0, -1):
            for start in range(len(words) - size + 1):
                span = range(start, start + size)
                if used.intersection(span):
                    continue
                region = taxonomy.labels.get("".join(words[start : start + size]))
                if region is None:
                    continue
                used.update(span)
                if region not in regions:
                    regions.add(region)
                    label = "-".join(words[start : start + size])
                    votes.append(Evidence(label, None, region, "url", _WEIGHT["url"]))
    return votes


def _home_countries(url: str | None, gazetteer: Gazetteer) -> frozenset[str]:
    """The country a site's address names by its country-code domain (".co.uk", ".de"), if any."""
    if not url:
        return frozenset()
    try:
        host = urlsplit(url[:2000]).hostname or ""
    except ValueError:
        return frozenset()
    suffix = host.rpartition(".")[2]
    if len(suffix) != 2 or suffix in _BRAND_DOMAINS:
        return frozenset()
    code = "GB" if suffix == "uk" else suffix.upper()  # .uk is the one ccTLD that is not ISO's
    return frozenset({code}) if code in gazetteer.neighbours else frozenset()  # a country


def _country_named(text: str, gazetteer: Gazetteer) -> str | None:
    """The country a dateline's qualifier names: a state ("Calif.", "Alberta") or a country."""
    key = name_key(text)
    name = gazetteer.abbreviations.get(key) or gazetteer.names.get(key)
    if name is None or not name.readings:
        return None
    reading = name.readings[0]
    return reading.country if reading.kind in FIRM_KINDS or reading.kind == "subdivision" else None


def _dateline(
    paragraph: str, gazetteer: Gazetteer, home: frozenset[str]
) -> tuple[_Mention, int, str] | None:
    """The place a paragraph's opening dateline names, where the dateline ends, and its country."""
    match = opening_dateline(paragraph)
    if match is None:
        return None
    place = match["place"]
    read_as = _dateline_place(place, match["qualifiers"], home)
    if read_as is None:
        return None
    mention = _Mention(read_as, place, "dateline", _WEIGHT["dateline"], needs_support=False)
    return mention, match.end(), read_as.readings[0].country or ""


@functools.lru_cache(maxsize=4096)  # a wire's datelines repeat: NEW YORK, WASHINGTON, LONDON
def _dateline_place(place: str, qualifiers: str, home: frozenset[str]) -> Name | None:
    """A dateline's place (and its qualifiers: ", Calif.") read as one country, or None."""
    gazetteer = load_gazetteer()
    qualified = [
        country
        for qualifier in qualifiers.split(",")[1:]
        if (country := _country_named(qualifier, gazetteer))
    ]
    name = gazetteer.names.get(name_key(place))
    readings = (*name.readings, *name.namesakes) if name is not None else ()
    reading = None
    for wanted in (qualified, home):
        reading = next((r for r in readings if r.country in wanted), None)
        if reading is not None:
            break
    if reading is None and qualified:
        reading = Reading(qualified[0], None, "city")  # a town too small for the gazetteer
    if reading is None and name is not None and name.readings:
        # A dateline names a city: a capital, else the biggest city of the name ("CLEVELAND" is
        # Ohio's, not the English district's), else the likeliest reading ("BERNE" is the Swiss
        # capital's canton, not the Indiana village).
        capital = next((r for r in readings if r.kind == "capital"), None)
        city = max(readings, key=lambda r: r.population if r.kind == "city" else -1)
        if capital is not None:
            reading = capital
        elif city.kind == "city" and city.population >= _BIG_TOWN:
            reading = city
        else:
            reading = name.readings[0]
    if reading is None or reading.country is None:
        return None
    return Name(display=place, readings=(reading,))


def _scores(evidence: list[Evidence]) -> dict[str, float]:
    """Sum the votes per region, each country's votes damped so one name repeated cannot swamp."""
    per_place: defaultdict[tuple[str, str | None], float] = defaultdict(float)
    for item in evidence:
        per_place[item.region, item.country] += item.weight
    scores: defaultdict[str, float] = defaultdict(float)
    for (region, _), weight in per_place.items():
        scores[region] += weight**_DAMPING
    return dict(scores)


def _confidence(scores: dict[str, float]) -> float:
    ranked = sorted(scores.values(), reverse=True)
    top, total = ranked[0], sum(ranked)
    margin = (top - (ranked[1] if len(ranked) > 1 else 0.0)) / total
    a, b, c, d = _CALIBRATION
    return 1.0 / (1.0 + math.exp(-(a + b * top / total + c * math.log1p(top) + d * margin)))


def _read_part(body: tuple[str, ...]) -> list[str]:
    """The lead paragraphs, then the body up to a budget of characters, cut at a space."""
    read = list(body[:_LEAD_PARAGRAPHS])
    budget = _MAX_BODY_CHARS
    for paragraph in body[_LEAD_PARAGRAPHS:_MAX_BLOCKS]:
        if budget <= 0:
            break
        cut = paragraph if len(paragraph) <= budget else paragraph[:budget].rpartition(" ")[0]
        read.append(cut)
        budget -= len(paragraph)
    return read


def classify(
    page: CleanPage, *, url: str | None = None, taxonomy: str | Taxonomy = "bbc"
) -> RegionVerdict:
    """Take a clean page (and its URL); give its region, confidence and evidence in a taxonomy."""
    scheme = load_taxonomy(taxonomy) if isinstance(taxonomy, str) else taxonomy
    gazetteer = load_gazetteer()
    mentions: list[_Mention] = []
    body = _read_part(page.body)
    home = _home_countries(url, gazetteer)
    for index, paragraph in enumerate(body[:_LEAD_PARAGRAPHS]):
        dateline = _dateline(paragraph, gazetteer, home)
        if dateline is not None:
            mention, end, country = dateline
            mentions.append(mention)
            body[index] = paragraph[end:]  # its place is read; the rest is the story's lead
            home |= {country}
            break
    _scan(page.headline, "headline", gazetteer, mentions)
    for index, paragraph in enumerate(body):
        where: EvidenceWhere = "lead" if index < _LEAD_PARAGRAPHS else "body"
        _scan(paragraph, where, gazetteer, mentions)
    cues = _cues([page.headline, *body], gazetteer)

    resolved, read_cues = _resolve(mentions, cues, gazetteer, home)
    evidence: list[Evidence] = []
    for mention, reading in resolved:
        region = scheme.region_of(reading)
        if region is not None:
            evidence.append(
                Evidence(mention.text, reading.country, region, mention.where, mention.weight)
            )
    for cue, reading, weight in read_cues:
        region = scheme.region_of(reading)
        if region is not None:
            evidence.append(Evidence(cue, reading.country, region, "body", weight))
    evidence.extend(_label_votes(page.section_labels, scheme, gazetteer))
    if url:
        evidence.extend(_url_votes(url, scheme))
    if not evidence:
        return RegionVerdict(region=UNKNOWN, confidence=0.0)

    scores = _scores(evidence)
    region = max(scores, key=lambda r: (scores[r], -scheme.regions.index(r)))
    return RegionVerdict(
        region=region,
        confidence=round(_confidence(scores), 4),
        scores={r: round(s, 4) for r, s in sorted(scores.items(), key=lambda kv: -kv[1])},
        evidence=tuple(evidence),
    )
