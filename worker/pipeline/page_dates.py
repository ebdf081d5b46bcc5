"""An HTML page's publication day as htmldate reads it: clean_html's last resort.

htmldate (the field's date library, Apache-2.0) reads a page's markup, URL and text with rules
tuned on thousands of pages. clean_html asks it only when its own reading found nothing: where
both read a page, ours is right more often (on the tuning part of the htmldate evaluation pages,
disagreements went to ours 61 times and to htmldate 8), and ours keeps the time and the zone the
page states, which htmldate drops.

What htmldate gives is a day: the result has day precision, no UTC offset, and source
"htmldate". Its fast mode (`extensive_search=False`, ~2 ms a page) is used: the extensive one
guesses from any date in the text, and a wrong day is worse than none for the dedupe key.
htmldate reads the clock for its latest plausible date unless told one: it is told the fetch
time (and one day of slack, as `parse_date` allows), or the same far bound `parse_date` keeps
without a fetch time, so the result never depends on when the page is cleaned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from htmldate import find_date

from worker.pipeline.dates import parse_date
from worker.pipeline.types import PublishedAt

__all__ = ["htmldate_day"]

_FUTURE_SLACK = timedelta(days=1)
_LATEST_WITHOUT_FETCH = datetime(2100, 12, 31)


def htmldate_day(text: str, *, url: str | None, fetched_at: datetime | None) -> PublishedAt | None:
    """An HTML page's text -> the day htmldate's fast search reads (source "htmldate"), or None."""
    latest = (
        (fetched_at.astimezone(UTC) + _FUTURE_SLACK).replace(tzinfo=None)
        if fetched_at is not None
        else _LATEST_WITHOUT_FETCH
    )
    day = find_date(text, extensive_search=False, url=url, max_date=latest)
    if not day:
        return None
    return parse_date(day, fetched_at=fetched_at, source="htmldate")
