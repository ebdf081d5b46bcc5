"""One page in two forms: its HTML and its text dump get one dedupe key, so one article.

The two forms of a page print the same headline but not always the same timestamp: the HTML's
metadata states an instant with its zone, while the dump prints the local time without a zone
(read as if UTC) or only the day. Neither reading is wrong; the dump's is a range of instants, and
the key compares exact values. So before a batch's keys are taken, a page whose URL and
headline_key equal those of a stored article (or of another page of the batch) and whose timestamp
could name the same moment (`could_be_same_moment`) takes that article's timestamp, hence its key,
and is recorded as a duplicate sighting of it. The zone of the dump's local time is thus knowable
from the page's other form, and only from there: a dump alone keeps the time it prints.

What "could name the same moment" allows is narrow, so that two stories never meet by it: the
same URL and headline, and either the very same instant, or a zone-less local time a whole number
of quarter hours within a zone's offset (-12 h .. +14 h) of the other form's instant, or a day on
which that instant falls in some zone. Two instants both stated with their zones, or two different
days, never meet; a page of a recurring column at a fixed URL published on another day keeps its
own key. The form stored first keeps the article's timestamp: a dump stored before its HTML is
not rewritten when the HTML comes (of two forms in one batch, the one with the most exact
timestamp is stored). Undated forms are the exception, either way: a page without a date takes
the date of its dated form, and a stored undated form takes the date its dated form reads when
that one comes (its `undated_source` cleared, its story bands moved to that time), unless that
time is after the undated form was first seen or another article holds that key already.

Serialized per headline with the story links (`LOCK_HEADLINES`), so a concurrent batch's
form of the same page is seen once it commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, Text, any_, bindparam, case, select, text, update
from sqlalchemy.orm import Session

from worker.pipeline import Processed, Received
from worker.pipeline.shingles import body_print
from worker.pipeline.types import DateSource, Precision, PublishedAt, Rejection
from worker.store._storable import storable_text
from worker.store.models import Article
from worker.store.stories import delete_bands, insert_bands

__all__ = ["LOCK_HEADLINES", "could_be_same_moment", "resolve_forms"]

# A local time is at most 14 hours ahead of UTC (Line Islands) and 12 behind (Baker Island), and
# every zone in use is a whole number of quarter hours from UTC.
_EAST = timedelta(hours=14)
_WEST = timedelta(hours=12)
_QUARTER_SECONDS = 15 * 60
# A page cannot be published after it was seen; a day of slack for a page's own clock and zone.
_SEEN_SLACK = timedelta(days=1)

_WEB = ("http://", "https://")
_HEADLINE_KEYS = bindparam("headline_keys", type_=ARRAY(Text))
_URLS = bindparam("urls", type_=ARRAY(Text))
# Serializes per headline what a batch decides by it (this module's forms, the story links), in
# hash order so that two batches never wait on each other's locks in opposite orders. Released at
# commit; taking a lock the transaction already holds again does not wait.
LOCK_HEADLINES = text(
    "SELECT pg_advisory_xact_lock(h) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k "
    "ORDER BY h) AS ordered_locks"
)


def _exact(published: PublishedAt) -> bool:
    """Whether a timestamp names one instant: a time with its zone."""
    return published.precision == "minute" and published.utc_offset_minutes is not None


def _certainty(published: PublishedAt | None) -> int:
    """Lower for the timestamps that say more: an instant, a zone-less time, a day, nothing."""
    if published is None:
        return 3
    if published.precision == "day":
        return 2
    return 0 if published.utc_offset_minutes is not None else 1


def could_be_same_moment(first: PublishedAt | None, second: PublishedAt | None) -> bool:
    """Whether two forms of one page may be dated by the same moment, read as each prints it.

    An undated form may be any moment. A day is the local day of an instant in some zone. A
    zone-less time is the instant's local time in some zone: a whole number of quarter hours
    within the offsets zones have. Two instants stated with their zones must be equal, and two
    days too.
    """
    if first is None or second is None or first.at == second.at:
        return True
    if first.precision == "day" and second.precision == "day":
        return False
    if first.precision == "day" or second.precision == "day":
        day, moment = (first, second) if first.precision == "day" else (second, first)
        return (moment.at - _WEST).date() <= day.at.date() <= (moment.at + _EAST).date()
    if _exact(first) and _exact(second):
        return False
    gap = (first.at - second.at).total_seconds()
    # Which way the local time lies from the instant is unknown when both lack a zone (a page's
    # metadata often states UTC without saying so), so either way, within the larger span.
    return abs(gap) <= _EAST.total_seconds() and gap % _QUARTER_SECONDS == 0


def _stored_published(row: Any) -> PublishedAt:
    return PublishedAt(
        at=row.published_at,
        precision=cast("Precision", row.published_precision),
        source=cast("DateSource", row.published_source),
        utc_offset_minutes=row.published_utc_offset_minutes,
    )


def _rank(candidate: PublishedAt, published: PublishedAt | None) -> tuple[int, float]:
    """How a dated form ranks as the one whose timestamp a page takes: the most exact first, then
    the nearest to the page's own (for an undated page, the latest)."""
    if published is None:
        return _certainty(candidate), -candidate.at.timestamp()
    return _certainty(candidate), abs((candidate.at - published.at).total_seconds())


def resolve_forms(
    *,
    session: Session,
    results: Mapping[bytes, Processed | Rejection],
    first_page: Mapping[bytes, Received],
) -> dict[bytes, Processed | Rejection]:
    """The batch's results with each page that is another form of a stored article (or of an
    earlier page of the batch) dated as that article, so that it takes the article's key.

    Takes the headline locks of every processed page's headline_key, which the batch's story
    links need too, before reading the stored forms.
    """
    groups: dict[tuple[str, str], list[bytes]] = {}
    for content_hash, result in results.items():
        url = first_page[content_hash].page.url
        # A web address names a page; a file: URL only where a dump was saved, which two crawls
        # of different pages may share.
        if isinstance(result, Processed) and url is not None and url.startswith(_WEB):
            key = (storable_text(result.headline_key), storable_text(url))
            groups.setdefault(key, []).append(content_hash)
    if not groups:
        return dict(results)
    # Every headline of the batch, not only those with a URL: the story links lock the batch's
    # dated ones afterwards, and must find them held already (a second round of locks taken in
    # another order could deadlock with a concurrent batch).
    every = {storable_text(r.headline_key) for r in results.values() if isinstance(r, Processed)}
    session.execute(LOCK_HEADLINES, {"keys": sorted(every)})
    headline_keys = sorted({headline for headline, _ in groups})
    stored: dict[tuple[str, str], list[PublishedAt]] = {}
    undated: dict[tuple[str, str], list[tuple[int, datetime, str]]] = {}
    for row in session.execute(
        select(
            Article.id,
            Article.headline_key,
            Article.url,
            Article.published_at,
            Article.published_precision,
            Article.published_source,
            Article.published_utc_offset_minutes,
            Article.first_seen_at,
            # The body only of an undated article, whose bands move if it takes a date.
            case((Article.published_at.is_(None), Article.body), else_=None).label("body"),
        ).where(Article.url == any_(_URLS), Article.headline_key == any_(_HEADLINE_KEYS)),
        {"urls": sorted({url for _, url in groups}), "headline_keys": headline_keys},
    ):
        key = (row.headline_key, row.url)
        if key not in groups:
            continue
        if row.published_at is None:
            undated.setdefault(key, []).append((row.id, row.first_seen_at, row.body))
        else:
            stored.setdefault(key, []).append(_stored_published(row))

    resolved = dict(results)
    for key, hashes in groups.items():
        anchors = list(stored.get(key, ()))
        waiting = sorted(undated.get(key, ()))  # undated forms of this page, oldest first
        if not anchors and not waiting and len(hashes) == 1:
            continue
        # The batch's forms with the most exact timestamps first: each later one may take theirs.
        for content_hash in sorted(
            hashes, key=lambda h: _certainty(cast("Processed", results[h]).clean.published)
        ):
            processed = cast("Processed", results[content_hash])
            published = processed.clean.published
            if published is not None and any(a.at == published.at for a in anchors):
                continue
            fits = [a for a in anchors if could_be_same_moment(published, a)]
            if fits:
                chosen = min(fits, key=lambda a: _rank(a, published))
                clean = replace(processed.clean, published=chosen)
                # Last in the batch: the first page of a key makes its article, and the form whose
                # timestamp this page takes should be the one stored.
                del resolved[content_hash]
                resolved[content_hash] = replace(processed, clean=clean)
            elif published is not None:
                if waiting:
                    _date_article(session, waiting.pop(0), headline_key=key[0], published=published)
                anchors.append(published)
    return resolved


def _date_article(
    session: Session,
    article: tuple[int, datetime, str],
    *,
    headline_key: str,
    published: PublishedAt,
) -> None:
    """Give a stored undated form of a page the timestamp its dated form reads, so that the two
    share a key; unless that time is after the undated form was seen (a page at a fixed URL that
    holds a later story now), or another article holds that key already."""
    article_id, first_seen_at, body = article
    if published.at > first_seen_at + _SEEN_SLACK:
        return
    taken = session.scalar(
        select(Article.id).where(
            Article.headline_key == headline_key, Article.published_at == published.at
        )
    )
    if taken is not None:
        return
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            published_at=published.at,
            published_precision=published.precision,
            published_source=published.source,
            published_utc_offset_minutes=published.utc_offset_minutes,
            undated_source=None,
        )
    )
    # An undated article's bands are placed at its first sighting, a dated one's at its time.
    found = body_print(body)
    delete_bands(session=session, prints={article_id: found})
    insert_bands(session=session, prints={article_id: found}, anchors={article_id: published.at})
