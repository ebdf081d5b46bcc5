"""Which story a new article joins: a revision by headline, or a near-duplicate by body.

Called by the batch upsert inside its transaction, before the articles are inserted (a new story's
id is its first article's id, drawn beforehand). A link never deletes or merges rows: it sets the
new article's `story_id` and says why (`link_reason`), like which article (`linked_to`) and how
alike the bodies are (`link_similarity`).

- Revision: a stored or earlier article of the batch with the same headline_key published within
  the story window, whose body is the same (by hash, at any distance) or similar.
- Near-duplicate: an article with another headline whose body shares an LSH band with this one
  (`story_bands`, indexed by band and time) within the window, and is similar.
- Either, at any distance in time, for the same page: an article from the same URL (a page saved
  as HTML and as a text dump) with a similar body; within a day of each other, half the smaller
  body found in the other is similar enough, however short the bodies (the URL says the rest).

Similar means `worker.pipeline.shingles.similarity` at least `StoryRules.min_similarity`, both
bodies long enough to tell apart (a brief or a recurring column's few lines never link by body,
but for the same URL within a day).
Two dated articles are near in time by their publication; when either is undated, by when each
was first seen (the bands of an undated article are stored at its first sighting).

Concurrency: story assignment by headline is serialized per headline (advisory locks, as before).
Body links are not: two batches storing near-duplicates of each other at the same moment do not
see each other's uncommitted rows, and each begins its own story; `newsingest reprocess --stories`
joins them afterwards. Linking to a story already committed is always seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Text,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from worker.config import Settings
from worker.pipeline.shingles import BANDS, BodyPrint, body_print, similarity, stored_print
from worker.store._storable import storable_text
from worker.store.models import Article, StoryLink

# Stored articles sharing bands with a new body that are compared with it exactly, the most bands
# shared first: a wire story carried by fifty outlets needs one of them to join, not fifty.
_MOST_CANDIDATES = 6
# One page, seen twice within a day (its HTML and its text dump, or a re-fetch): the same URL is
# most of the evidence, so half of the smaller body found in the other suffices. A text dump's
# cleaned body can hold a side column's lines among the story's (bench/stories.py, forms part:
# the page's two forms had 0.66 on a page laid out in columns, and 0.87 or more otherwise).
_SAME_PAGE_SPAN = timedelta(days=1)
_SAME_PAGE_SIMILARITY = 0.5


@dataclass(frozen=True, slots=True)
class StoryRules:
    """How close two articles must be to be one story."""

    window: timedelta = timedelta(days=7)
    # Chosen on bench/stories.py's tuning part (see docs/performance.md).
    min_similarity: float = 0.7


def story_rules(settings: Settings) -> StoryRules:
    """The StoryRules the settings give (NEWSINGEST_STORY_WINDOW_HOURS, _STORY_SIMILARITY)."""
    return StoryRules(
        window=timedelta(hours=settings.story_window_hours),
        min_similarity=settings.story_similarity,
    )


@dataclass(frozen=True, slots=True)
class StoryLinkChoice:
    """The story a new article joins and why; reason None: it begins its own."""

    story_id: int
    reason: StoryLink | None = None
    linked_to: int | None = None
    similarity: float | None = None


@dataclass(slots=True)
class _Member:
    """An article a new one may join: stored, or earlier in the same batch."""

    article_id: int
    story_id: int
    headline_key: str
    published_at: datetime | None
    first_seen_at: datetime
    body_hash: bytes
    print: BodyPrint
    url: str | None = None

    def distance(self, other: _Member) -> timedelta:
        """How far apart in time: by publication when both are dated, else by first sighting
        (an undated text dump of an old page is the story's copy seen now, not a later story)."""
        if self.published_at is not None and other.published_at is not None:
            return abs(self.published_at - other.published_at)
        return abs(self.first_seen_at - other.first_seen_at)


_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_NEW_ARTICLE_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_HEADLINE_KEYS = bindparam("headline_keys", type_=ARRAY(Text))
_URLS = bindparam("urls", type_=ARRAY(Text))

# The stored articles sharing a band with each new body within its window, with how many bands.
# Every article's BANDS keys go as one array in PostgreSQL's text form, the k-th article's at
# positions k*BANDS+1..(k+1)*BANDS beside the per-article arrays: psycopg dumps a Python list
# one element at a time (profiled: ~130 µs a page for the seven band-long lists this took).
_BAND_CANDIDATES = """
SELECT q.n, b.article_id, count(*) AS shared
FROM unnest(CAST(%(bands)s AS bigint[])) WITH ORDINALITY AS k(band, i)
JOIN unnest(%(ns)b::bigint[], %(lows)b::timestamptz[], %(highs)b::timestamptz[])
     WITH ORDINALITY AS q(n, low, high, j) ON q.j = (k.i - 1) / %(per)s + 1
JOIN story_bands AS b ON b.band = k.band
 AND (b.anchored_at BETWEEN q.low AND q.high OR b.anchored_at >= %(recent)s)
GROUP BY q.n, b.article_id
"""
_INSERT_BANDS = """
INSERT INTO story_bands (band, anchored_at, article_id)
SELECT k.band, a.anchored_at, a.article_id
FROM unnest(CAST(%(bands)s AS bigint[])) WITH ORDINALITY AS k(band, i)
JOIN unnest(%(ids)b::bigint[], %(anchors)b::timestamptz[])
     WITH ORDINALITY AS a(article_id, anchored_at, j) ON a.j = (k.i - 1) / %(per)s + 1
"""
_DELETE_BANDS = """
DELETE FROM story_bands
WHERE band = ANY(CAST(%(bands)s AS bigint[])) AND article_id = ANY(%(ids)b::bigint[])
"""


# What a stored article is compared by, beside its body's print.
_MEMBER_COLUMNS = (
    Article.id,
    Article.story_id,
    Article.headline_key,
    Article.published_at,
    Article.first_seen_at,
    Article.body_hash,
    Article.url,
)


def _member(row: Any, story_id: int, found: BodyPrint) -> _Member:
    """A stored article read with `_MEMBER_COLUMNS`, in story `story_id`, with its print."""
    return _Member(
        row.id,
        story_id,
        row.headline_key,
        row.published_at,
        row.first_seen_at,
        bytes(row.body_hash),
        found,
        row.url,
    )


def _bands_text(prints: Iterable[BodyPrint]) -> str:
    """The band keys of these prints, in order, as a PostgreSQL array literal."""
    return "{" + ",".join(",".join(map(str, found.bands)) for found in prints) + "}"


def _driver_cursor(session: Session) -> psycopg.Cursor[Any]:
    connection = session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)  # the only driver the store supports
    return connection.cursor()


def assign_stories(
    *,
    session: Session,
    articles: Mapping[int, Mapping[str, Any]],
    prints: Mapping[int, BodyPrint],
    seen_at: datetime,
    rules: StoryRules,
) -> dict[int, StoryLinkChoice]:
    """The story each new article joins, by its pre-drawn id; `articles` are their rows
    (headline_key, published_at, body_hash), `prints` their bodies' prints and `seen_at` the
    time they are first seen (the transaction's)."""
    new = {
        article_id: _Member(
            article_id,
            article_id,
            row["headline_key"],
            row["published_at"],
            seen_at,
            row["body_hash"],
            prints[article_id],
            # As stored (`_storable`): compared with stored URLs, and sent in a query.
            None if row["url"] is None else storable_text(row["url"]),
        )
        for article_id, row in articles.items()
    }
    stored = _stored_candidates(session, new, rules)
    # The batch's own earlier articles, by headline and by band: comparing each with every one
    # before it would cost a set intersection per pair (~125,000 for 500 pages).
    by_headline: dict[str, list[_Member]] = {}
    by_band: dict[int, list[_Member]] = {}
    by_url: dict[str, list[_Member]] = {}
    choices: dict[int, StoryLinkChoice] = {}
    # Earliest first, so that a batch holding a story's copies makes the earliest its first.
    for article_id in sorted(new, key=lambda i: (new[i].published_at or seen_at, i)):
        member = new[article_id]
        earlier = {m.article_id: m for m in by_headline.get(member.headline_key, ())}
        if member.url is not None:
            earlier.update((m.article_id, m) for m in by_url.get(member.url, ()))
        if member.print.linkable:
            for band in member.print.bands:
                hits = by_band.get(band)
                if hits is not None:
                    earlier.update((m.article_id, m) for m in hits)
        choice = _best_link(member, [*stored.get(article_id, ()), *earlier.values()], rules)
        if choice is not None:
            member.story_id = choice.story_id
            choices[article_id] = choice
        else:
            choices[article_id] = StoryLinkChoice(article_id)
        by_headline.setdefault(member.headline_key, []).append(member)
        if member.url is not None:
            by_url.setdefault(member.url, []).append(member)
        if member.print.linkable:
            for band in member.print.bands:
                by_band.setdefault(band, []).append(member)
    return choices


def _best_link(
    new: _Member, candidates: Iterable[_Member], rules: StoryRules
) -> StoryLinkChoice | None:
    """The closest candidate `new` may join, or None."""
    best: tuple[tuple[float, float], StoryLinkChoice] | None = None
    for other in candidates:
        if other.article_id == new.article_id:
            continue
        same_headline = other.headline_key == new.headline_key
        # One page, fetched twice or saved in two forms: its two dates may be years apart when
        # one form shows another date than the other (the cleaners read what each form holds).
        same_page = new.url is not None and other.url == new.url
        distance = new.distance(other)
        # One page seen twice within a day: its URL says most, so a short body may link too.
        near_page = same_page and distance <= _SAME_PAGE_SPAN
        if same_headline and other.body_hash == new.body_hash:
            # The very same text under the same headline, at any distance (a retransmission).
            score, similar = 2.0, None
        elif (distance > rules.window and not same_page) or not (
            (new.print.linkable and other.print.linkable) or near_page
        ):
            continue
        else:
            similar = similarity(new.print, other.print)
            floor = rules.min_similarity
            if near_page:
                floor = min(floor, _SAME_PAGE_SIMILARITY)
            if similar < floor:
                continue
            score = similar
        reason = StoryLink.REVISION if same_headline else StoryLink.NEAR_DUPLICATE
        rank = (score, -distance.total_seconds())
        if best is None or rank > best[0]:
            best = (
                rank,
                StoryLinkChoice(
                    other.story_id,
                    reason,
                    other.article_id,
                    None if similar is None else round(similar, 4),
                ),
            )
    return None if best is None else best[1]


def _stored_candidates(
    session: Session, new: Mapping[int, _Member], rules: StoryRules
) -> dict[int, list[_Member]]:
    """For each new article, the stored articles it may join: same headline, or shared bands."""
    wanted: dict[int, set[int]] = {article_id: set() for article_id in new}
    by_headline: dict[str, list[int]] = {}
    by_url: dict[str, list[int]] = {}
    for article_id, member in new.items():
        by_headline.setdefault(member.headline_key, []).append(article_id)
        if member.url is not None:
            by_url.setdefault(member.url, []).append(article_id)
    for stored_id, headline, url, published_at, first_seen_at, stored_hash in session.execute(
        select(
            Article.id,
            Article.headline_key,
            Article.url,
            Article.published_at,
            Article.first_seen_at,
            Article.body_hash,
        ).where(
            or_(
                Article.headline_key == any_(_HEADLINE_KEYS),
                Article.url == any_(_URLS),
            )
        ),
        {"headline_keys": sorted(by_headline), "urls": sorted(by_url)},
    ):
        for article_id in by_url.get(url, ()) if url is not None else ():
            wanted[article_id].add(stored_id)
        for article_id in by_headline.get(headline, ()):
            member = new[article_id]
            if member.published_at is not None and published_at is not None:
                near = abs(member.published_at - published_at) <= rules.window
            else:
                near = abs(member.first_seen_at - first_seen_at) <= rules.window
            if near or bytes(stored_hash) == member.body_hash:
                wanted[article_id].add(stored_id)

    linkable = [article_id for article_id, member in new.items() if member.print.linkable]
    if linkable:
        # A dated article's bands are looked up around its publication and among those stored
        # lately (an undated article's are stored at its first sighting); an undated one's at any
        # time (the copy it is may be dated long ago). `distance` then decides.
        params: dict[str, Any] = {
            "bands": _bands_text(new[i].print for i in linkable),
            "per": BANDS,
            "ns": linkable,
            "lows": [],
            "highs": [],
            "recent": min(new[i].first_seen_at for i in linkable) - rules.window,
        }
        for article_id in linkable:
            published_at = new[article_id].published_at
            params["lows"].append(
                _EARLIEST if published_at is None else published_at - rules.window
            )
            params["highs"].append(_LATEST if published_at is None else published_at + rules.window)
        shared: dict[int, list[tuple[int, int]]] = {}
        with _driver_cursor(session) as cursor:
            cursor.execute(_BAND_CANDIDATES, params, prepare=True)
            for article_id, stored_id, count in cursor.fetchall():
                shared.setdefault(article_id, []).append((count, stored_id))
        for article_id, found in shared.items():
            found.sort(reverse=True)
            wanted[article_id].update(stored_id for _, stored_id in found[:_MOST_CANDIDATES])

    ids = sorted(set().union(*wanted.values()))
    if not ids:
        return {}
    members = {
        row.id: _member(
            row,
            row.story_id,
            body_print(row.body) if row.body_shingles is None else stored_print(row.body_shingles),
        )
        for row in session.execute(
            select(
                *_MEMBER_COLUMNS,
                Article.body_shingles,
                # The body only where its hashes were not kept (stored before migration 0011).
                case((Article.body_shingles.is_(None), Article.body), else_=None).label("body"),
            ).where(Article.id == any_(_NEW_ARTICLE_IDS)),
            {"ids": ids},
        )
    }
    return {
        article_id: [members[i] for i in sorted(found) if i in members]
        for article_id, found in wanted.items()
    }


def insert_bands(
    *,
    session: Session,
    prints: Mapping[int, BodyPrint],
    anchors: Mapping[int, datetime],
) -> None:
    """Record the band keys of these stored articles' bodies (a brief's are never needed)."""
    ids = sorted(article_id for article_id, found in prints.items() if found.linkable)
    if ids:
        params = {
            "bands": _bands_text(prints[i] for i in ids),
            "per": BANDS,
            "ids": ids,
            "anchors": [anchors[i] for i in ids],
        }
        with _driver_cursor(session) as cursor:
            cursor.execute(_INSERT_BANDS, params, prepare=True)


def delete_bands(*, session: Session, prints: Mapping[int, BodyPrint]) -> None:
    """Forget the band keys of these articles, given the prints of the bodies they were stored
    for (found by band: the table has no index by article)."""
    linkable = [found for found in prints.values() if found.linkable]
    if linkable:
        params = {"bands": _bands_text(linkable), "ids": sorted(prints)}
        with _driver_cursor(session) as cursor:
            cursor.execute(_DELETE_BANDS, params, prepare=True)


def relink_stories(*, session: Session, ids: Sequence[int], rules: StoryRules) -> int:
    """Decide the story of these stored articles again, in order (`list_relink_ids`); returns
    how many changed.

    Each joins the best of the articles before it (by the rules given, against their links as
    decided again), or begins its own story; its bands are written afresh. Run chunk by chunk
    in order, oldest first, from the first article whose link may have changed to the newest.
    """
    rows = session.execute(
        select(
            *_MEMBER_COLUMNS,
            Article.body,
            Article.link_reason,
            Article.linked_to,
            Article.link_similarity,
        ).where(Article.id == any_(_NEW_ARTICLE_IDS)),
        {"ids": list(ids)},
    ).all()
    # Printed afresh: relinking writes their band keys again, which stored prints do not keep.
    new = {row.id: _member(row, row.id, body_print(row.body)) for row in rows}
    before = {row.id: (row.story_id, row.link_reason, row.linked_to, row.link_similarity)
              for row in rows}  # fmt: skip
    stored = _stored_candidates(session, new, rules)

    def order(member: _Member) -> tuple[datetime, int]:
        return (member.published_at or member.first_seen_at, member.article_id)

    changed = []
    for member in sorted(new.values(), key=order):
        earlier = [
            new.get(other.article_id, other)  # one of these, as decided again just now
            for other in stored.get(member.article_id, ())
            if order(other) < order(member)
        ]
        choice = _best_link(member, earlier, rules) or StoryLinkChoice(member.article_id)
        member.story_id = choice.story_id
        after = (choice.story_id, choice.reason, choice.linked_to, choice.similarity)
        if after != before[member.article_id]:
            changed.append(
                {
                    "article_id": member.article_id,
                    "story_id": choice.story_id,
                    "link_reason": choice.reason,
                    "linked_to": choice.linked_to,
                    "link_similarity": choice.similarity,
                }
            )
    if changed:
        session.execute(
            update(Article.__table__)  # type: ignore[arg-type]
            .where(Article.__table__.c.id == bindparam("article_id"))
            .values(
                story_id=bindparam("story_id"),
                link_reason=bindparam("link_reason"),
                linked_to=bindparam("linked_to"),
                link_similarity=bindparam("link_similarity"),
            ),
            changed,
        )
    delete_bands(session=session, prints={i: m.print for i, m in new.items()})
    insert_bands(
        session=session,
        prints={i: m.print for i, m in new.items()},
        anchors={i: m.published_at or m.first_seen_at for i, m in new.items()},
    )
    return len(changed)


def list_relink_ids(*, session: Session, since: datetime | None = None) -> list[int]:
    """Articles first seen at or after `since` (all when None), in the order they relink."""
    query = select(Article.id).order_by(
        func.coalesce(Article.published_at, Article.first_seen_at), Article.id
    )
    if since is not None:
        query = query.where(Article.first_seen_at >= since)
    return list(session.scalars(query))


def now(session: Session) -> datetime:
    """The transaction's time: what undated articles are placed at (their first_seen_at)."""
    value = session.scalar(text("SELECT now()"))
    assert isinstance(value, datetime)
    return value


__all__: Sequence[str] = [
    "StoryLinkChoice",
    "StoryRules",
    "assign_stories",
    "delete_bands",
    "insert_bands",
    "list_relink_ids",
    "now",
    "relink_stories",
    "story_rules",
]
