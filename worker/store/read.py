"""Reading articles the way consumers do: through the versioned `newsingest.v1_*` views only.

Nothing here touches a table, so every function works for the `newsingest_reader` role. Values are
always bound parameters; the only SQL text is fixed.

Incremental pulls page on `ingest_seq` and stop below `newsingest.v1_ingest_horizon()`: every row
under the horizon was written by a transaction that has ended, so no row can later commit behind a
cursor handed out (docs/consumers.md explains why a plain sequence would not be enough).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    TableClause,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import REGCONFIG, TSVECTOR
from sqlalchemy.orm import Session

# Columns a consumer gets for an article, in the order they are printed and exported.
ARTICLE_FIELDS = (
    "id",
    "story_id",
    "ingest_seq",
    "published_at",
    "published_precision",
    "region",
    "region_confidence",
    "source",
    "headline",
    "byline",
    "url",
    "body",
    "section_labels",
    "region_scores",
    "region_evidence",
    "content_type",
    "first_seen_at",
    "last_seen_at",
    "seen_count",
    "extractor_version",
    "classifier_version",
)
STORY_FIELDS = (*ARTICLE_FIELDS, "revisions", "first_published_at")

# 'simple', as search_vector is built: pages are multilingual, so no stemming and no stopwords.
_SEARCH_CONFIG = literal_column("'simple'::regconfig", REGCONFIG)


def _view(name: str, fields: tuple[str, ...]) -> TableClause:
    return table(
        name,
        *(column(field) for field in fields),
        column("search_vector", TSVECTOR),
        schema="newsingest",
    )


_ARTICLES = _view("v1_articles", ARTICLE_FIELDS)
_STORIES = _view("v1_stories", STORY_FIELDS)
_HORIZON = func.newsingest.v1_ingest_horizon(type_=BigInteger)

# Ranking every match of a common phrase costs a position check per row (~15 µs; a few percent of
# a million articles match "central bank"), so an open-ended search ranks within the last week,
# month or year back from the newest article, the first that holds a full page, else everything.
# Each step is a BitmapAnd of the GIN index and ix_articles_newest: work grows with the
# matches inside the window, not with the archive.
SEARCH_WINDOWS = (timedelta(days=7), timedelta(days=30), timedelta(days=365))


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """What a consumer asks for; every field left as None does not filter."""

    region: str | None = None
    since: datetime | None = None  # published at or after
    until: datetime | None = None  # published before
    source: str | None = None
    search: str | None = None  # web-search syntax: words, "a phrase", -not, or
    stories: bool = False  # one row per story, at its latest revision
    after_seq: int | None = None  # an incremental pull: rows after this cursor, oldest first
    limit: int | None = 50  # None: no limit (exports)


def _search_query(text: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(_SEARCH_CONFIG, text)


def build_select(query: ArticleQuery) -> Select[Any]:
    """The SELECT for `query` over the v1 views, with every value a bound parameter."""
    view = _STORIES if query.stories else _ARTICLES
    fields = STORY_FIELDS if query.stories else ARTICLE_FIELDS
    columns: list[ColumnElement[Any]] = [view.c[field] for field in fields]
    rank: ColumnElement[Any] | None = None
    if query.search is not None:
        terms = _search_query(query.search)
        rank = func.ts_rank(view.c.search_vector, terms).label("rank")
        columns.append(rank)
    statement = select(*columns)
    if query.search is not None:
        statement = statement.where(view.c.search_vector.bool_op("@@")(_search_query(query.search)))
    if query.region is not None:
        statement = statement.where(view.c.region == query.region)
    if query.source is not None:
        statement = statement.where(view.c.source == query.source)
    if query.since is not None:
        statement = statement.where(view.c.published_at >= query.since)
    if query.until is not None:
        statement = statement.where(view.c.published_at < query.until)
    if query.after_seq is not None:
        statement = statement.where(
            view.c.ingest_seq > query.after_seq, view.c.ingest_seq < _HORIZON
        ).order_by(view.c.ingest_seq)
    elif rank is not None:
        statement = statement.order_by(rank.desc(), view.c.id.desc())
    else:
        statement = statement.order_by(view.c.published_at.desc().nulls_last(), view.c.id.desc())
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return statement


def list_articles(*, session: Session, query: ArticleQuery) -> list[dict[str, Any]]:
    """The articles (or stories) matching `query`, as dicts of the view's columns.

    A search with no time range and no cursor ranks within the most recent window that holds a
    full page of matches (SEARCH_WINDOWS back from the newest article), then the next wider.
    """
    if query.search is None or query.limit is None or query.after_seq is not None:
        return _rows(session, query)
    if query.since is not None or query.until is not None:
        return _rows(session, query)
    newest = session.scalar(select(func.max(_ARTICLES.c.published_at)))
    for window in SEARCH_WINDOWS if newest is not None else ():
        rows = _rows(session, replace(query, since=newest - window))
        if len(rows) >= query.limit:
            return rows
    return _rows(session, query)


def _rows(session: Session, query: ArticleQuery) -> list[dict[str, Any]]:
    # Through the connection: these are plain rows, and the ORM's result layer doubles the cost.
    connection = session.connection()
    _parse_json_with_orjson(connection)
    result = connection.execute(build_select(query))
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _parse_json_with_orjson(connection: Connection) -> None:
    # Three jsonb columns a row: with the standard json module, parsing them was most of the
    # Python time of a 1,000-row pull. Scoped to this connection; orjson reads the same JSON.
    driver = connection.connection.driver_connection
    if isinstance(driver, psycopg.Connection):
        set_json_loads(orjson.loads, driver)


def count_articles(*, session: Session, query: ArticleQuery) -> int:
    """How many rows `query` would give without its limit."""
    unlimited = build_select(replace(query, limit=None))
    return int(session.scalar(select(func.count()).select_from(unlimited.subquery())) or 0)


def stream_articles(
    *, connection: Connection, query: ArticleQuery, batch_size: int = 2000
) -> Iterator[list[dict[str, Any]]]:
    """The rows of `query` in batches, through a server-side cursor (for bulk exports)."""
    result = connection.execution_options(stream_results=True, yield_per=batch_size).execute(
        build_select(query)
    )
    for partition in result.mappings().partitions(batch_size):
        yield [dict(row) for row in partition]


def get_ingest_horizon(*, session: Session) -> int:
    """The pull horizon now: every article with a lower ingest_seq is final."""
    return int(session.scalar(select(_HORIZON)) or 0)


# Columns of a story member, in the order `newsingest stories show` prints them.
STORY_MEMBER_FIELDS = (
    "article_id",
    "link_reason",
    "linked_to",
    "link_similarity",
    "published_at",
    "source",
    "content_type",
    "seen_count",
    "headline",
    "url",
    "story_id",
)
_STORY_MEMBERS = table(
    "v1_story_members", *(column(field) for field in STORY_MEMBER_FIELDS), schema="newsingest"
)


def list_story_members(*, session: Session, article_id: int) -> list[dict[str, Any]]:
    """The members of the story that holds this article (or that this story id names), oldest
    first; empty when there is no such article."""
    story = (
        select(_STORY_MEMBERS.c.story_id)
        .where(_STORY_MEMBERS.c.article_id == article_id)
        .scalar_subquery()
    )
    query = (
        select(*_STORY_MEMBERS.c)
        .where(_STORY_MEMBERS.c.story_id == story)
        .order_by(_STORY_MEMBERS.c.published_at.asc().nulls_last(), _STORY_MEMBERS.c.article_id)
    )
    return [dict(row._mapping) for row in session.execute(query)]
