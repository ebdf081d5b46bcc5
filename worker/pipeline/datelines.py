"""A news agency's dateline at the opening of a paragraph: "BELGRADE, April 8 -".

Wire services (Reuters, AP, AFP and the papers that print their copy) open a story's first
paragraph with the place it was filed from, often the day and the agency, then a dash. The
classifier reads the place as strong evidence of where the story is; the text cleaner reads the
dateline as the start of a story whose body may be a table rather than prose (results, prices).
"""

from __future__ import annotations

import re

__all__ = ["opening_dateline"]

# "BELGRADE, April 8 -", "SAN JOSE, Calif., March 3 -", "LONDON (Reuters) -", "LONDON, Nov 18
# (Reuters) -", "London, March 2 -" and "WASHINGTON —". A place in ordinary case must be followed
# by a date or an agency's name, or the opening of any sentence with a dash in it would do; one in
# capitals may stand alone.
_DATELINE = re.compile(
    r"[^\w\s]{0,6}\s*(?P<place>[A-Z][\w'.-]*(?:\s[A-Z][\w'.-]*){0,3})"
    r"(?P<qualifiers>(?:,\s*[A-Z][\w.]*(?:\s[A-Z][\w.]*){0,2}){0,2})"
    r"(?P<date>,?\s*(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2})?"
    r"\s*(?P<agency>\([A-Za-z][\w .&/-]{0,30}\))?"
    r"\s*(?:--?|–|—)(?:\s|$)"
)
_DATELINE_CHARS = 80
_DIGIT = re.compile(r"\d")
_DATELINE_DASH = re.compile(r"\s*(?:--?|–|—)(?:\s|$)")


def opening_dateline(paragraph: str) -> re.Match[str] | None:
    """The dateline a paragraph opens with (groups place, qualifiers, date, agency), or None."""
    head = paragraph[:_DATELINE_CHARS]
    if "-" not in head and "–" not in head and "—" not in head:
        return None  # most paragraphs: a test in C before the expressions, which cost more
    dash = _DATELINE_DASH.search(head)
    # Before a dateline's dash: a place in capitals, a date, a comma or a bracket ("WASHINGTON",
    # "JOHANNESBURG March 13", "London, March 2", "LONDON (Reuters)").
    before = head[: dash.start()] if dash is not None else ""
    if not (before.isupper() or "," in before or "(" in before or _DIGIT.search(before)):
        return None
    match = _DATELINE.match(head)
    if match is None:
        return None
    place = match["place"]
    if len(place) < 3 or not (place.isupper() or match["date"] or match["agency"]):
        return None
    return match
