"""Read a page's own publication time from the words and numbers it prints.

`parse_date` reads one date/time expression (a meta tag value, a `<time>` attribute, a dateline);
`find_date` picks the publication date among the lines of a text dump. Both are pure: relative
forms ("2 hrs ago", "yesterday") resolve against the crawl's `fetched_at` and give None without it,
and the clock is never read.

Rules, so results are predictable:

- ISO 8601 goes through `datetime.fromisoformat`; everything else through compiled regexes for a
  numeric or month-name date, a clock time, and a zone. Metadata values (any source but "text")
  may also be a bare 20190105 or a Unix timestamp; prose never is. No general-purpose parser
  runs: the forms news pages print are few, and a fuzzy parser invents dates out of menus.
- Month names are read in English, German, French, Spanish, Italian, Portuguese and Dutch, full or
  abbreviated, with or without accents, and in Russian, Ukrainian, Polish and Czech (genitive and
  nominative). Also read: "2019年6月20日" and "2019년 11월 20일", "2019. 11. 20.", "26 | 01 | 2022",
  "4. 2. 2022".
- A printed line that dates two things reads the date after its publication cue: "Letzte
  Änderung: 31.10.2023 Erschienen am: 01.11.2023" was published on 1 November.
- Numeric day/month order: a field above 12 is the day; otherwise month-first when the expression
  carries a US sign (a US zone such as ET or PDT, or an AM/PM clock), day-first in every other case
  (most of the world, and the German-heavy pages this service reads, write day first).
- Two-digit years are 20yy below 70 and 19yy from 70 on.
- A range of days in one month ("14.–20. Januar 2022", "May 3–9, 2021") is dated by its first day.
- A named zone or numeric offset sets `utc_offset_minutes`; US and European zone names without a
  fixed offset (ET, PT, CT, MT) take the daylight-saving offset in force on that date. With no zone
  the time is taken as UTC and `utc_offset_minutes` stays None, so callers can tell.
- Relative forms name a minute only when counted in seconds or minutes ("15 minutes ago"); counted
  in hours, days or weeks ("2 hrs ago", "vor 3 Stunden") they give the calendar day (UTC) of
  `fetched_at` minus the amount, at day precision. A page re-crawled an hour later says "3 hrs
  ago": a minute-precise reading would drift with every crawl and give the article a new dedupe
  key, while the day stays the same (except across midnight UTC).
- Wire systems' stamps are read: "8-APR-1987 00:38:26.78" (day-MON-year joined by hyphens).
- A news agency's year-less dateline ("BELGRADE, April 8 -", "LONDON, April 8 (Reuters) -") dates
  a dump only where no line states a cued or timed date; its year is the one that puts it nearest
  the page's other date (else `fetched_at`), never after the fetch. Without either, no date.
- A publication cue counts only in a short line: in a paragraph, "posted pretax profit" or
  "payment date is April 2, 1992" is about something else.
- Implausible dates are refused rather than guessed: before 1800 (archives of digitized
  newspapers and wire services state their own old dates; earlier is a typo) or more than one day
  after `fetched_at` (a page cannot be published after it was fetched; the day of slack absorbs
  zone mistakes). Without `fetched_at`, years after 2100 are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from worker.pipeline.types import DateSource, Precision, PublishedAt

__all__ = ["find_date", "names_publication", "parse_date"]

# Archives reach back: a digitized 1987 wire story or an 1890s newspaper page states its own date.
# Earlier than this is a typo or a birth date more often than a publication.
_EARLIEST_YEAR = 1800
_LATEST_YEAR_WITHOUT_FETCH = 2100
_FUTURE_SLACK = timedelta(days=1)
_LARGEST_OFFSET = timedelta(hours=14)  # the farthest east any zone is (see `_signed_minutes`)
# One expression is short; bounding the input keeps every regex below linear and cheap.
_MAX_EXPRESSION_CHARS = 200

# English, German, French, Spanish, Italian, Portuguese, Dutch: full names and common abbreviations,
# with and without accents, one string per month.
_MONTH_NAMES = (
    "january jan januar jänner janvier janv enero ene gennaio gen janeiro januari",
    "february feb febr februar février fevrier févr fevr fév fev febrero febbraio fevereiro"
    " februari",
    "march mar märz maerz mär mars marzo março marco maart mrt",
    "april apr avril avr abril abr aprile",
    "may mai mayo maggio mag maio mei",
    "june jun juni juin junio giugno giu junho",
    "july jul juli juillet juil julio luglio lug julho",
    "august aug août aout agosto ago augustus",
    "september sep sept septembre septiembre settembre set setembro",
    "october oct okt oktober octobre octubre ottobre ott outubro out",
    "november nov novembre noviembre novembro",
    "december dec dez dezember décembre decembre déc diciembre dic dicembre dezembro",
)
_MONTHS = {
    name: month for month, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()
}
# Russian, Ukrainian, Polish, Czech (the genitive "15 августа", "18 listopada", and the nominative),
# and the Scandinavian names the table above lacks.
_MORE_MONTH_NAMES = (
    "января январь янв січня січень stycznia styczeń ledna leden",
    "февраля февраль фев лютого лютий lutego luty února únor",
    "марта март березня березень marca marzec března březen",
    "апреля апрель апр квітня квітень kwietnia kwiecień dubna duben",
    "мая май травня травень maja maj května květen",
    "июня июнь июн червня червень czerwca czerwiec června červen",
    "июля июль июл липня липень lipca lipiec července červenec",
    "августа август авг серпня серпень sierpnia sierpień srpna srpen augusti",
    "сентября сентябрь сен сент вересня вересень września wrzesień září",
    "октября октябрь окт жовтня жовтень października październik října říjen",
    "ноября ноябрь ноя листопада листопад listopada listopad listopadu",
    "декабря декабрь дек грудня грудень grudnia grudzień prosince prosinec desember",
)
_MONTHS.update(
    (name, month)
    for month, names in enumerate(_MORE_MONTH_NAMES, start=1)
    for name in names.split()
)

# Fixed offsets in minutes. Names that are ambiguous worldwide take the reading news sites use most
# (CST is US Central, IST is India).
_FIXED_ZONES = {
    name: minutes
    for minutes, names in (
        (0, "Z GMT UTC UT WET"),
        (60, "BST WEST CET MEZ WAT"),
        (120, "CEST MESZ EET SAST CAT"),
        (180, "EEST MSK EAT"),
        (300, "PKT"),
        (330, "IST"),
        (420, "WIB"),
        (480, "HKT SGT PHT AWST"),
        (540, "KST JST"),
        (570, "ACST"),
        (600, "AEST"),
        (630, "ACDT"),
        (660, "AEDT"),
        (720, "NZST"),
        (780, "NZDT"),
        (-240, "EDT"),
        (-300, "EST CDT"),
        (-360, "CST MDT"),
        (-420, "MST PDT"),
        (-480, "PST AKDT"),
        (-540, "AKST"),
        (-600, "HST"),
    )
    for name in names.split()
}
# Zone names that do not say whether daylight saving is in force: the date decides.
_REGION_ZONES = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}
# Every zone west of Greenwich in these tables is North American.
_US_ZONES = frozenset(_REGION_ZONES) | {
    name for name, minutes in _FIXED_ZONES.items() if minutes < 0
}

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_YMD_DATE = re.compile(r"(?<!\d)(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?![\d])")
# Either may hold a range of days ("14.–20. Januar 2022", "May 3–9, 2021"): a range is dated by
# its first day (see `_first_day`). A day may follow a label's colon ("Datum:26. Januar 2022",
# where the label and the date were separate elements) but not a clock's ("12:26 Mai 2021").
_DAY_MONTH_YEAR = re.compile(
    r"(?<!\d)(?<!\d:)(?:(\d{1,2})(?:st|nd|rd|th)?(?:\.\s{0,2}[–-]\s{0,2}|[–-]))?"
    r"(\d{1,2})(?:st|nd|rd|th|er|º)?\.?\s{0,3}(?:de\s+)?([^\W\d_]{3,12})\.?,?\s{1,3}"
    r"(?:de\s+)?(\d{4}|'?\d{2})(?![\d:])"
)
_MONTH_DAY_YEAR = re.compile(
    r"(?<![^\W\d_])([^\W\d_]{3,10})\.?\s{1,3}(\d{1,2})(?:st|nd|rd|th)?"
    r"(?:\s?[–-]\s?(\d{1,2})(?:st|nd|rd|th)?)?,?\s{1,3}(\d{4})(?!\d)"
)
# Day, month name and year joined by hyphens, as wire systems and databases stamp them:
# "8-APR-1987 00:38:26.78", "08-Apr-2019".
_HYPHENED_DATE = re.compile(r"(?<![\w-])(\d{1,2})-([^\W\d_]{3,9})-(\d{4})(?![\w-])")
# A news agency's dateline: the place in capitals, then month and day, no year, then a dash
# ("BELGRADE, April 8 -", "LOUISVILLE, Ky., Feb 26 -", "LONDON, April 8 (Reuters) -").
_YEARLESS_DATELINE = re.compile(
    r"[A-Z][A-Z.'’-]*(?:\s{1,2}[A-Z][\w.'’-]*){0,4},(?:\s{1,2}[A-Z][\w.]{1,12},)?\s{1,2}"
    r"([A-Za-z]{3,9})\.?\s{1,2}(\d{1,2})(?:\s{1,2}\([^)]{1,30}\))?\s{0,2}[-–—]"
)
# Chinese, Japanese and Korean dates ("2019年6月20日", "2019년 11월 20일"), Korean dotted dates
# ("2019. 11. 20."), and day-first dates between bars or spaced dots ("26 | 01 | 2022",
# "4. 2. 2022").
_CJK_DATE = re.compile(r"(\d{4})\s?[年년]\s?(\d{1,2})\s?[月월]\s?(\d{1,2})\s?[日일]")
_SPACED_YMD_DATE = re.compile(r"(?<![\d.])(\d{4})\.\s(\d{1,2})\.\s(\d{1,2})\.(?!\d)")
_BARRED_DATE = re.compile(r"(?<![\d|])(\d{1,2})\s?\|\s?(\d{1,2})\s?\|\s?(\d{4})(?![\d|])")
_SPACED_DMY_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.\s(\d{1,2})\.\s(\d{4})(?!\d)")
# Those four, and whether the year comes first (else the day does), in the order they are tried.
_NUMBERED_DATES = (
    (_CJK_DATE, True),
    (_SPACED_YMD_DATE, True),
    (_BARRED_DATE, False),
    (_SPACED_DMY_DATE, False),
)
# C's ctime and Unix `date` print the year last, after the time: "Tue Jan 05 10:20:30 CET 2019".
_CTIME = re.compile(
    r"(?<![^\W\d_])([A-Za-z]{3})\s{1,3}(\d{1,2})\s{1,3}\d{1,2}:\d{2}(?::\d{2})?"
    r"(?:\s{1,3}[A-Z]{2,5})?\s{1,3}(\d{4})(?!\d)"
)
# Machine-written values: 20190105 (ISO 8601 basic format) or seconds since 1970.
_COMPACT_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*")
_EPOCH_SECONDS = re.compile(r"\s*(\d{9,10})\s*")
_CLOCK = re.compile(
    r"(?<![\d:])(\d{1,2})(?::(\d{2})(?::(\d{2}))?(?:[.,]\d{1,9})?|h(\d{2})|\.(\d{2})(?=\s?Uhr))"
    r"(?:\s?([AaPp])\.?\s?[Mm]\.?(?![^\W\d_]))?"
)
_BARE_HOUR = re.compile(r"(?<![\d:.])(\d{1,2})\s?([AaPp])\.?[Mm]\.?(?![^\W\d_])")
_OFFSET_AFTER_CLOCK = re.compile(r"(\s?)(?:\(?(GMT|UTC)\s?)?([+−-])(\d{1,2})(?:(:?)(\d{2}))?(?!\d)")
_ZULU = re.compile(r"Z(?![A-Za-z])")
_ZONE_WORD = re.compile(
    r"(?<![A-Za-z])([A-Z]{2,5})(?:\s?([+−-])(\d{1,2})(?::?(\d{2}))?)?(?![A-Za-z\d])"
)
_DIGIT = re.compile(r"\d")
_ISO_LIKE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_AGO = re.compile(
    r"(?<![\w])(\d{1,3}|an?|one)\s?(seconds?|secs?|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?"
    r"|wks?)\s+ago(?!\w)",
    re.IGNORECASE,
)
_VOR = re.compile(
    r"(?<![\w])vor\s+(\d{1,3}|einer|einem|ein)\s+(Sekunden?|Minuten?|Stunden?|Tag(?:en)?"
    r"|Wochen?)(?!\w)",
    re.IGNORECASE,
)
# Only at the start of an expression (after an optional cue): "today" inside a sentence or a menu
# ("Today's paper") is not a dateline.
_RELATIVE_DAY = re.compile(
    r"\W{0,3}(?:(?:published|posted|updated|veröffentlicht|aktualisiert|publié|publicado)\W{1,3})?"
    r"(yesterday|today|gestern|heute|hier|aujourd'hui|ayer|hoy)(?!\w)",
    re.IGNORECASE,
)
_RELATIVE_DAY_OFFSET = {
    "yesterday": 1,
    "gestern": 1,
    "hier": 1,
    "ayer": 1,
    "today": 0,
    "heute": 0,
    "aujourd'hui": 0,
    "hoy": 0,
}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_COARSE_UNITS = frozenset("hdw")  # relative forms coarser than a minute resolve to a day
_GERMAN_UNIT = {"sek": "s", "min": "m", "stu": "h", "tag": "d", "woc": "w"}

# Lines that say "this is when the article was published" beat any other dated line. "Updated",
# "mis à jour" or "Stand" say the opposite, so they earn nothing: a story's "Article mis à jour le
# 7 janvier 2020" does not beat its byline's "30 septembre 2018".
_PUBLISHED_CUE = re.compile(
    r"(?<![\w])(published|posted|first published|date|dated|veröffentlicht|erschienen|gepostet"
    r"|publié|publicado|pubblicato)(?!\w)",
    re.IGNORECASE,
)
# In a line that dates more than one thing ("Letzte Änderung: 31.10.2023 Erschienen am:
# 01.11.2023", "Updated May 5 · Published May 3"), the date after one of these is the publication.
_PUBLICATION_ONLY_CUE = re.compile(
    r"(?<![\w])(?:published|posted|veröffentlicht|erschienen|gepostet|publié|publicado|pubblicato)"
    r"(?!\w)",
    re.IGNORECASE,
)
_MAX_LINE_CHARS = 200
_MAX_CUED_LINE_CHARS = 120
# `_line_rank` of a line that names itself a publication date (its cue alone is worth 4).
_CUED_RANK = 4 * 1000 - 999
_MAX_FIND_LINES = 400


def parse_date(text: str, *, fetched_at: datetime | None, source: DateSource) -> PublishedAt | None:
    """One date/time expression (meta value, dateline, ...) -> its PublishedAt in UTC, or None."""
    return _parse(text[:_MAX_EXPRESSION_CHARS], fetched_at=fetched_at, source=source)[0]


def _parse(
    expression: str, *, fetched_at: datetime | None, source: DateSource
) -> tuple[PublishedAt | None, bool]:
    """`parse_date`, and whether the expression prints a calendar date (not a relative one)."""
    if not _DIGIT.search(expression):
        # Every absolute form has digits: without any, only "2 hrs ago" words can be a date.
        return _relative(expression, fetched_at=fetched_at, source=source), False
    if _ISO_LIKE.match(expression):
        iso = _parse_iso(expression.strip(), fetched_at=fetched_at, source=source)
        if iso is not None:
            return iso, True
    if source != "text":
        machine = _machine_value(expression, fetched_at=fetched_at, source=source)
        if machine is not None:
            return machine, True
    else:
        expression = _from_publication_cue(expression)
    day = _absolute_date(expression)
    if day is not None:
        return _compose(expression, day, fetched_at=fetched_at, source=source), True
    printed = _ISO_LIKE.match(expression) is not None
    return _relative(expression, fetched_at=fetched_at, source=source), printed


def _from_publication_cue(expression: str) -> str:
    """The expression from a publication cue after its start on, if a date follows the cue."""
    cue = _PUBLICATION_ONLY_CUE.search(expression, 1)
    if cue is None:
        return expression
    rest = expression[cue.start() :]
    return rest if _absolute_date(rest) is not None else expression


def _machine_value(
    expression: str, *, fetched_at: datetime | None, source: DateSource
) -> PublishedAt | None:
    """A bare 20190105 or Unix timestamp, as metadata carries them (never read from prose)."""
    compact = _COMPACT_DATE.fullmatch(expression)
    if compact is not None:
        day = _make_date(int(compact[1]), int(compact[2]), int(compact[3]))
        if day is None:
            return None
        return _finish(day, None, None, fetched_at=fetched_at, source=source)
    epoch = _EPOCH_SECONDS.fullmatch(expression)
    if epoch is not None:
        moment = datetime.fromtimestamp(int(epoch[1]), tz=UTC).replace(tzinfo=None)
        return _finish(moment.date(), moment, 0, fetched_at=fetched_at, source=source)
    return None


def names_publication(text: str) -> bool:
    """Say whether a line says it dates a publication ("posted on", "veröffentlicht am")."""
    return _PUBLICATION_ONLY_CUE.search(text) is not None


def find_date(lines: Sequence[str], *, fetched_at: datetime | None) -> PublishedAt | None:
    """The lines of a text dump -> the publication date they state (source "text"), or None."""
    best: PublishedAt | None = None
    best_rank = -1
    for index, line in enumerate(lines[:_MAX_FIND_LINES]):
        short = line.strip()[:_MAX_LINE_CHARS]
        # Parsing is most of the cost: a line that could not beat the best so far even as a cued,
        # printed date with a time is never parsed (a page's dateline usually ends the search).
        if _line_rank(short, index, cue=True, minute=True, printed=True) <= best_rank:
            continue
        if not _DIGIT.search(short) and not _RELATIVE_DAY.match(short):
            continue
        cue: bool | None = None
        if _line_rank(short, index, cue=False, minute=True, printed=True) <= best_rank:
            cue = _cued(short)
            if not cue:
                continue
        published, printed = _parse(short, fetched_at=fetched_at, source="text")
        if published is None:
            continue
        if cue is None:
            cue = _cued(short)
        minute = published.precision == "minute"
        rank = _line_rank(short, index, cue=cue, minute=minute, printed=printed)
        if rank > best_rank:
            best, best_rank = published, rank
    if best is None or (best.precision == "day" and best_rank < _CUED_RANK):
        # An agency's dateline ("BELGRADE, April 8 -") names the story's own day where the page
        # prints no cued or timed date; its year comes from the page's other date or the fetch.
        dateline = _yearless_dateline(lines[:_MAX_FIND_LINES], best, fetched_at=fetched_at)
        if dateline is not None:
            return dateline
    return best


def _yearless_dateline(
    lines: Sequence[str], reference: PublishedAt | None, *, fetched_at: datetime | None
) -> PublishedAt | None:
    """The day of the first line opening with a year-less agency dateline, or None.

    The year is the one that puts the day nearest the reference (the page's other date, else the
    fetch), never after the fetch: "Dec 30" read on 3 January is last year's.
    """
    anchor = reference.at if reference is not None else fetched_at
    if anchor is None:
        return None
    for line in lines:
        match = _YEARLESS_DATELINE.match(line.strip()[:_MAX_LINE_CHARS])
        if match is None or (month := _MONTHS.get(match[1].lower())) is None:
            continue
        latest = (fetched_at + _FUTURE_SLACK).date() if fetched_at is not None else date.max
        days = [
            day
            for year in (anchor.year - 1, anchor.year, anchor.year + 1)
            if (day := _make_date(year, month, int(match[2]))) is not None and day <= latest
        ]
        if days:
            nearest = min(days, key=lambda day: abs(day - anchor.date()))
            return _finish(nearest, None, None, fetched_at=fetched_at, source="text")
    return None


def _cued(line: str) -> bool:
    """Whether a line names itself a publication date: a short line with a publication cue."""
    # In a paragraph the words are about something else: "posted pretax profit ... in the year to
    # Dec 31, 1986", "Payment date is April 2, 1992".
    return len(line) <= _MAX_CUED_LINE_CHARS and _PUBLISHED_CUE.search(line) is not None


def _line_rank(line: str, index: int, *, cue: bool, minute: bool, printed: bool) -> int:
    """Higher for lines that name themselves a publication date, carry a time, or sit early."""
    rank = 0
    if cue:
        rank += 4
    if minute:
        rank += 2
    if printed:
        # "2 hrs ago" beside another story's headline is common in lists; a printed date is not.
        rank += 2
    if len(line) <= 80:
        # A dateline is short; a date inside a paragraph is usually about something else.
        rank += 1
    # Earlier lines win ties: the dateline sits near the headline, archives and lists come later.
    return rank * 1000 - min(index, 999)


def _parse_iso(
    expression: str, *, fetched_at: datetime | None, source: DateSource
) -> PublishedAt | None:
    token = expression.split(maxsplit=1)[0] if " " not in expression[:11] else expression
    try:
        parsed = datetime.fromisoformat(token)
    except ValueError:
        return None
    has_time = len(token) > 10
    offset = _offset_minutes(parsed.utcoffset()) if parsed.tzinfo is not None else None
    local = parsed.replace(tzinfo=None)
    if not has_time:
        return _finish(local.date(), None, offset, fetched_at=fetched_at, source=source)
    return _finish(local.date(), local, offset, fetched_at=fetched_at, source=source)


# A text dump asks about the same short lines twice (is this line a date? which date is the
# page's?), and a site prints the same datelines and teaser dates on every page.
@lru_cache(maxsize=4096)
def _absolute_date(expression: str) -> date | None:
    """The earliest calendar date written in the expression, or None."""
    candidates: list[tuple[int, date]] = []
    # Each pattern runs only where its separator appears: most expressions are not dates at all.
    slash_or_dot = "/" in expression or "." in expression
    hyphen = "-" in expression
    for pattern, separator in ((_ISO_DATE, hyphen), (_YMD_DATE, slash_or_dot)):
        match = pattern.search(expression) if separator else None
        if match:
            day = _make_date(int(match[1]), int(match[2]), int(match[3]))
            if day is not None:
                candidates.append((match.start(), day))
    for match in _overlapping(_DAY_MONTH_YEAR, expression):
        month = _MONTHS.get(match[3].lower())
        if month is not None:
            day = _make_date(_full_year(match[4]), month, _first_day(match[1], match[2]))
            if day is not None:
                candidates.append((match.start(), day))
                break
    for match in _overlapping(_MONTH_DAY_YEAR, expression):
        month = _MONTHS.get(match[1].lower())
        if month is not None:
            day = _make_date(int(match[4]), month, _first_day(match[2], match[3]))
            if day is not None:
                candidates.append((match.start(), day))
                break
    hyphened = _HYPHENED_DATE.search(expression) if hyphen else None
    if hyphened is not None and (month := _MONTHS.get(hyphened[2].lower())) is not None:
        day = _make_date(int(hyphened[3]), month, int(hyphened[1]))
        if day is not None:
            candidates.append((hyphened.start(), day))
    ctime = _CTIME.search(expression) if ":" in expression else None
    if ctime is not None and (month := _MONTHS.get(ctime[1].lower())) is not None:
        day = _make_date(int(ctime[3]), month, int(ctime[2]))
        if day is not None:
            candidates.append((ctime.start(), day))
    if "|" in expression or ". " in expression or not expression.isascii():
        candidates.extend(_spaced_or_cjk_dates(expression))
    if not candidates and (hyphen or slash_or_dot):
        numeric = _NUMERIC_DATE.search(expression)
        if numeric:
            day = _numeric_date(expression, numeric)
            if day is not None:
                candidates.append((numeric.start(), day))
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: candidate[0])[1]


def _first_day(*days: str | None) -> int:
    """The day a date names, or the first day of a range within one month ("14" of "14.–20.")."""
    numbers = [int(day) for day in days if day is not None]
    # "31.–6. Januar" starts in a month the expression does not name: its last day is all it dates.
    return numbers[0] if numbers[0] < numbers[-1] else numbers[-1]


def _spaced_or_cjk_dates(expression: str) -> Iterator[tuple[int, date]]:
    """Give (position, date) for the CJK, spaced dotted and barred dates in the expression."""
    for pattern, year_first in _NUMBERED_DATES:
        match = pattern.search(expression)
        if match is not None:
            year, day_of_month = (match[1], match[3]) if year_first else (match[3], match[1])
            day = _make_date(int(year), int(match[2]), int(day_of_month))
            if day is not None:
                yield match.start(), day


def _overlapping(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Every match of the pattern, including ones that start inside an earlier rejected match."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        yield match
        position = match.start() + 1


def _numeric_date(expression: str, match: re.Match[str]) -> date | None:
    first, second, year = int(match[1]), int(match[3]), _full_year(match[4])
    if first > 12:
        return _make_date(year, second, first)
    if second > 12:
        return _make_date(year, first, second)
    # Ambiguous: month-first only where the expression itself says it is American.
    if match[2] == "/" and _looks_american(expression):
        return _make_date(year, first, second)
    return _make_date(year, second, first)


def _looks_american(expression: str) -> bool:
    clock = _CLOCK.search(expression)
    if _BARE_HOUR.search(expression) or (clock is not None and clock[6] is not None):
        return True
    return any(match[1] in _US_ZONES for match in _ZONE_WORD.finditer(expression))


def _full_year(text: str) -> int:
    digits = int(text.lstrip("'"))
    if len(text.lstrip("'")) == 4:
        return digits
    return 2000 + digits if digits < 70 else 1900 + digits


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _compose(
    expression: str,
    day: date,
    *,
    fetched_at: datetime | None,
    source: DateSource,
) -> PublishedAt | None:
    if day.year < _EARLIEST_YEAR:
        # Refused before any arithmetic: a "0001-01-01" placeholder minus an offset overflows.
        return None
    if fetched_at is not None and (
        datetime(day.year, day.month, day.day, tzinfo=UTC) - _LARGEST_OFFSET
        > fetched_at + _FUTURE_SLACK
    ):
        # No time or zone can bring the day back before the fetch: say so before reading them.
        return None
    clock = _clock(expression)
    if clock is None:
        zone = _zone(expression, day, None, 0)
        return _finish(day, None, zone, fetched_at=fetched_at, source=source)
    hour, minute, clock_end = clock
    local = datetime(day.year, day.month, day.day, hour, minute)
    zone = _zone(expression, day, local, clock_end)
    return _finish(day, local, zone, fetched_at=fetched_at, source=source)


def _clock(expression: str) -> tuple[int, int, int] | None:
    """The first clock time in the expression as (hour, minute, end of its text), or None."""
    match = _CLOCK.search(expression)
    if match is not None:
        hour = int(match[1])
        minute = int(match[2] or match[4] or match[5])
        meridiem = match[6]
        end = match.end()
    else:
        bare = _BARE_HOUR.search(expression)
        if bare is None:
            return None
        hour, minute, meridiem, end = int(bare[1]), 0, bare[2], bare.end()
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem in "Pp" else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute, end


def _zone(expression: str, day: date, local: datetime | None, clock_end: int) -> int | None:
    """The UTC offset in minutes the expression states, or None when it names no zone."""
    if local is not None:
        offset = _OFFSET_AFTER_CLOCK.match(expression, clock_end)
        if offset is not None and not _ends_a_time_range(offset, local):
            return _signed_minutes(offset[3], offset[4], offset[6])
        if _ZULU.match(expression, clock_end):
            return 0
    for match in _ZONE_WORD.finditer(expression):
        name = match[1]
        if name in _FIXED_ZONES:
            base = _FIXED_ZONES[name]
            if match[2] is not None and name in {"GMT", "UTC"}:
                return _signed_minutes(match[2], match[3], match[4])
            return base
        if name in _REGION_ZONES:
            wall = local if local is not None else datetime(day.year, day.month, day.day, 12)
            aware = wall.replace(tzinfo=ZoneInfo(_REGION_ZONES[name]))
            return _offset_minutes(aware.utcoffset())
    return None


def _ends_a_time_range(offset: re.Match[str], local: datetime) -> bool:
    """Whether what follows a clock reads as the end of a range ("10:00-12:00 Uhr", "10:00-12"),
    not as a UTC offset: no GMT/UTC before it, and either no minutes or, written tight against the
    clock as HH:MM, a time later than the clock. ("3:04 PM -0500", "10:00-05:00" and "GMT-5" stay
    offsets.)"""
    space, prefix, sign, hours, colon, minutes = offset.groups()
    if prefix is not None:
        return False
    if minutes is None:
        return True
    later = (int(hours), int(minutes)) > (local.hour, local.minute)
    return not space and colon == ":" and sign in "-−" and later


def _signed_minutes(sign: str, hours: str, minutes: str | None) -> int | None:
    total = int(hours) * 60 + int(minutes or 0)
    if total > 14 * 60:
        return None
    return -total if sign in "-−" else total


def _offset_minutes(offset: timedelta | None) -> int | None:
    if offset is None:
        return None
    return int(offset.total_seconds() // 60)


def _finish(
    day: date,
    local: datetime | None,
    offset: int | None,
    *,
    fetched_at: datetime | None,
    source: DateSource,
) -> PublishedAt | None:
    precision: Precision
    if day.year < _EARLIEST_YEAR:
        return None
    if local is None:
        # Day precision keeps the page's own calendar day: shifting midnight by the offset would
        # move the article to the previous or next day.
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        precision = "day"
    else:
        # No zone named: the time is taken as UTC (utc_offset_minutes stays None to say so).
        zone: tzinfo = timezone(timedelta(minutes=offset or 0))
        at = local.replace(second=0, microsecond=0, tzinfo=zone).astimezone(UTC)
        precision = "minute"
    if not _plausible(at, fetched_at):
        return None
    return PublishedAt(at=at, precision=precision, source=source, utc_offset_minutes=offset)


def _plausible(at: datetime, fetched_at: datetime | None) -> bool:
    if at.year < _EARLIEST_YEAR:
        return False
    if fetched_at is None:
        return at.year <= _LATEST_YEAR_WITHOUT_FETCH
    return at <= fetched_at + _FUTURE_SLACK


def _relative(
    expression: str, *, fetched_at: datetime | None, source: DateSource
) -> PublishedAt | None:
    """A relative expression ("2 hrs ago", "gestern") resolved against fetched_at, or None."""
    if fetched_at is None:
        return None
    ago = _ago(expression)
    if ago is not None:
        count, unit = ago
        fetched_utc = fetched_at.astimezone(UTC)
        delta = timedelta(seconds=count * _UNIT_SECONDS[unit])
        moment = fetched_utc - delta
        if unit in _COARSE_UNITS or delta >= timedelta(days=1):
            # "2 hrs ago" read an hour later says "3 hrs ago": at minute precision every crawl
            # would give the article a new timestamp (and dedupe key); the day stays put.
            return _finish(moment.date(), None, None, fetched_at=fetched_at, source=source)
        # "15 minutes ago" names its minute (as far as the page's rounding allows).
        at = moment.replace(second=0, microsecond=0)
        return PublishedAt(at=at, precision="minute", source=source, utc_offset_minutes=None)
    match = _RELATIVE_DAY.match(expression)
    if match is None:
        return None
    day = fetched_at.astimezone(UTC).date() - timedelta(days=_RELATIVE_DAY_OFFSET[match[1].lower()])
    return _compose(expression, day, fetched_at=fetched_at, source=source)


def _ago(expression: str) -> tuple[int, str] | None:
    """The count and unit ("s", "m", "h", "d", "w") of a "2 hrs ago" or "vor 2 Stunden", or None."""
    # Both patterns hold a literal word: looking for it first spares most lines both searches.
    lowered = expression.lower()
    match = _AGO.search(expression) if "ago" in lowered else None
    if match is not None:
        count = 1 if not match[1].isdigit() else int(match[1])
        unit = match[2].lower()
        return count, "m" if unit.startswith("min") or unit == "m" else unit[0]
    german = _VOR.search(expression) if "vor" in lowered else None
    if german is not None:
        count = 1 if not german[1].isdigit() else int(german[1])
        return count, _GERMAN_UNIT[german[2].lower()[:3]]
    return None
