"""Dedupe you can audit: keys, races between real transactions, revisions, replay and reprocess."""

from __future__ import annotations

import html
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import psycopg
from conftest import DUMP, ingest_at_once, query, shared_data
from hypothesis import given
from hypothesis import strategies as st

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive
from worker.pipeline.headline import headline_key
from worker.store import Outcome, transaction
from worker.store.models import SEARCH_VECTOR_SQL
from worker.store.revise import (
    list_article_ids,
    list_rejected_ids,
    replay_rejections,
    reprocess_articles,
)
from worker.store.stats import read_books

# --- headline_key properties ---------------------------------------------------------------

words = st.lists(
    # Words whose upper case folds back to the same letters (not so for Turkish dotless i).
    st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd"]), min_size=1, max_size=8).filter(
        lambda w: w.upper().casefold() == w.casefold()
    ),
    min_size=1,
    max_size=8,
)


@given(st.text(max_size=200))
def test_headline_key_is_idempotent(text: str) -> None:
    assert headline_key(headline_key(text)) == headline_key(text)


@given(words)
def test_headline_key_ignores_case_spacing_and_quote_style(parts: list[str]) -> None:
    plain = " ".join(parts)
    noisy = "  " + "\u00a0 ".join(p.upper() for p in parts) + "\t"
    assert headline_key(plain) == headline_key(noisy)
    assert headline_key(f"“{plain}”") == headline_key(f'"{plain}"')


@given(words, st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8))
def test_headline_key_sees_every_word(parts: list[str], extra: str) -> None:
    assert headline_key(" ".join(parts)) != headline_key(" ".join([*parts, extra]))


def test_headline_key_drops_site_names() -> None:
    base = "Nato chief seeks Russian helicopters for Afghanistan"
    assert headline_key(f"{base} - BBC News") == headline_key(base)
    assert headline_key(f"{base} | Reuters") == headline_key(base)
    assert headline_key("Nato chief’s ‘new’ plan — explained") == headline_key(
        "Nato chief's 'new' plan - explained"
    )


# --- helpers -------------------------------------------------------------------------------


def _html_page(headline: str, published: str, body: list[str], *, source: str = "test") -> Received:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body)
    content = (
        f"<html><head><title>{html.escape(headline)}</title>"
        f'<meta property="article:published_time" content="{published}"></head>'
        f"<body><article><h1>{html.escape(headline)}</h1>{paragraphs}</article></body></html>"
    )
    page = RawPage(content=content, content_type="text/html", source=source)
    return receive(page, receipt_key=str(uuid.uuid4()))


def _text_page(content: str, *, source: str = "test") -> Received:
    return receive(RawPage(content=content, source=source), receipt_key=str(uuid.uuid4()))


BODY = [
    "The city council in Lyon voted on Tuesday to close the old river bridge to cars from May, "
    "after engineers found cracks in two of its supporting piers during a routine inspection.",
    "Buses and cyclists will still be allowed to cross, and the council said repairs would take "
    "at least eighteen months and cost about twelve million euros, paid mostly by the region.",
    "Shop owners on both banks said they feared losing customers, while residents welcomed a "
    "quieter street and asked for more trees along the new cycle lanes on the embankment.",
]


def _ingest(pages: list[Received], settings: Settings | None = None) -> list[Outcome | None]:
    with transaction() as session:
        outcome = ingest_batch(session=session, pages=pages, settings=settings or Settings())
    return [item.outcome for item in outcome.items]


def _assert_books_balance() -> None:
    with transaction() as session:
        assert read_books(session=session).problems == []


# --- races between real transactions ------------------------------------------------------


def _ingest_at_once(db: str, pages: list[Received]) -> list[Outcome | None]:
    """Ingest each page in its own transaction on its own connection, all at the same moment."""
    return [
        item.outcome
        for outcome in ingest_at_once(db, [[page] for page in pages])
        for item in outcome.items
    ]


def test_concurrent_upserts_of_one_key_make_one_row(db: str) -> None:
    """Eight transactions on eight connections insert the same article at the same moment."""
    page = _html_page("Lyon closes its old bridge to cars", "2026-03-03T09:12:00Z", BODY)
    # Each copy has different bytes (a comment), so only the dedupe key can unite them.
    variants = [
        Received(
            page=page.page,
            content=page.content + f"<!-- copy {n} -->".encode(),
            content_hash=uuid.uuid4().bytes * 2,
            receipt_key=f"race-{n}",
        )
        for n in range(8)
    ]
    outcomes = _ingest_at_once(db, variants)
    assert sorted(outcomes) == sorted([Outcome.STORED] + [Outcome.DUPLICATE] * 7)
    assert query(db, "SELECT count(*), sum(seen_count) FROM articles") == [(1, 8)]
    _assert_books_balance()


def test_concurrent_batches_with_the_same_bytes_record_one_raw_page(db: str) -> None:
    """Four transactions receive byte-identical dumps (other receipt keys) at the same moment: the
    ones that lose the insert find the winner's raw page and record a sighting of it."""
    page = _html_page("Lyon closes its old bridge to cars", "2026-03-03T09:12:00Z", BODY)
    copies = [
        Received(page.page, page.content, page.content_hash, receipt_key=f"same-{n}")
        for n in range(4)
    ]
    _ingest_at_once(db, copies)
    assert query(db, "SELECT count(*) FROM raw_pages") == [(1,)]
    assert query(db, "SELECT count(*), count(DISTINCT raw_page_id) FROM sightings") == [(4, 1)]
    assert query(db, "SELECT seen_count FROM articles") == [(4,)]
    _assert_books_balance()


# --- revisions and stories ---------------------------------------------------------------


def test_revisions_share_a_story_within_the_window(db: str) -> None:
    first = _html_page("Lyon closes its old bridge to cars", "2026-03-03T09:12:00Z", BODY)
    update = _html_page(
        "Lyon closes its old bridge to cars", "2026-03-03T17:40:00Z", [*BODY, "Updated."]
    )
    much_later = _html_page(
        "Lyon closes its old bridge to cars", "2026-05-20T08:00:00Z", ["Another year, " + BODY[0]]
    )
    assert _ingest([first, update, much_later]) == [Outcome.STORED] * 3
    rows = query(db, "SELECT id, story_id FROM articles ORDER BY published_at")
    assert rows[0][1] == rows[0][0]
    assert rows[1][1] == rows[0][0]  # the update is a revision of the first
    assert rows[2][1] == rows[2][0]  # eleven weeks later with other text: a new story


def test_a_narrower_window_separates_revisions(db: str) -> None:
    first = _html_page("Lyon closes its old bridge to cars", "2026-03-03T09:12:00Z", BODY)
    update = _html_page("Lyon closes its old bridge to cars", "2026-03-03T17:40:00Z", BODY[:2])
    _ingest([first, update], Settings(story_window_hours=1))
    assert len({story for (story,) in query(db, "SELECT story_id FROM articles")}) == 2


def test_undated_pages_dedupe_by_headline_within_their_source(db: str) -> None:
    dump = "Lyon closes its old bridge to cars\n\n" + "\n\n".join(BODY)
    outcomes = _ingest(
        [
            _text_page(dump, source="a"),
            _text_page(dump + "\n\nShare this page", source="a"),
            # Byte-identical dumps are one dump whoever sends them; other bytes from another
            # source with no timestamp cannot be told apart from a different story.
            _text_page(dump + "\n\nMost read", source="b"),
        ]
    )
    assert outcomes == [Outcome.STORED, Outcome.DUPLICATE, Outcome.STORED]
    rows = query(db, "SELECT undated_source, published_at FROM articles ORDER BY undated_source")
    assert rows == [("a", None), ("b", None)]


def test_reuters_retransmissions_end_as_one_story_each(db: str) -> None:
    """Reuters-21578's exact_dup_group: the same wire story sent again, hours or weeks apart."""
    path = shared_data("regions", "reuters21578-train.jsonl")
    groups: dict[int, list[dict[str, str]]] = defaultdict(list)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            # Untitled or bodiless wires (text_type BRIEF/UNPROC) are not articles to begin with.
            if story.get("exact_dup_group") is not None and story["title"] and story["body"]:
                groups[story["exact_dup_group"]].append(story)
    pages, group_of = [], {}
    for group, stories in groups.items():
        for story in stories:
            when = datetime.strptime(story["date"].split(".")[0], "%d-%b-%Y %H:%M:%S")
            body = [" ".join(p.split()) for p in story["body"].split("\n    ") if p.strip()]
            page = _html_page(story["title"].title(), when.replace(tzinfo=UTC).isoformat(), body)
            pages.append(page)
            group_of[page.receipt_key] = group
    outcomes = []
    for start in range(0, len(pages), 100):
        with transaction() as session:
            result = ingest_batch(
                session=session, pages=pages[start : start + 100], settings=Settings()
            )
        outcomes.extend(result.items)
    stories_of: dict[int, set[int]] = defaultdict(set)
    story_by_article = dict(query(db, "SELECT id, story_id FROM articles"))
    stored = 0
    for item in outcomes:
        if item.article_id is not None:
            stored += 1
            stories_of[group_of[item.receipt_key]].add(story_by_article[item.article_id])
    assert stored >= 0.9 * len(pages)  # a few one-line flashes are rejected as having no body
    split = {group: stories for group, stories in stories_of.items() if len(stories) > 1}
    assert split == {}
    _assert_books_balance()


# --- replay and reprocess ------------------------------------------------------------------


def test_replay_stores_what_a_fix_lets_through(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    small = Settings(max_page_bytes=1024)
    first, again = _text_page(dump), _text_page(dump)
    assert _ingest([first, again], small) == [Outcome.REJECTED, Outcome.REJECTED]
    with transaction() as session:
        ids = list_rejected_ids(session=session, reason="too_large")
        report = replay_rejections(session=session, ids=ids, settings=small)
    assert (report.examined, report.rejected) == (1, 1)
    with transaction() as session:  # the "fix": a larger limit
        report = replay_rejections(session=session, ids=ids, settings=Settings())
    assert (report.examined, report.stored) == (1, 1)
    assert query(db, "SELECT outcome::text, match::text FROM sightings ORDER BY id") == [
        ("stored", "new"),
        ("duplicate", "same_content"),
    ]
    assert query(db, "SELECT seen_count FROM articles") == [(2,)]
    _assert_books_balance()


def test_reprocess_rewrites_stale_records_and_merges_collisions(db: str) -> None:
    dump = DUMP.read_text(encoding="utf-8")
    _ingest([_text_page(dump)])
    # Simulate records made by an older extractor and classifier.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "UPDATE articles SET headline_key = 'stale key', region = 'unknown', "
            "classifier_version = 'regions/0'"
        )
    _ingest([_text_page(dump.replace("Copyright © 2026 Example", ""))])  # same story, other bytes
    assert query(db, "SELECT count(*) FROM articles") == [(2,)]
    with transaction() as session:
        ids = list_article_ids(session=session)
        report = reprocess_articles(session=session, ids=ids, settings=Settings())
    assert (report.examined, report.merged, report.unchanged) == (2, 1, 1)
    assert query(db, "SELECT region, seen_count FROM articles") == [("Africa", 2)]
    _assert_books_balance()

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE articles SET region = 'unknown', classifier_version = 'regions/0'")
    with transaction() as session:
        report = reprocess_articles(
            session=session, ids=list_article_ids(session=session), settings=Settings()
        )
    assert report.updated == 1
    assert query(db, "SELECT region FROM articles") == [("Africa",)]


# --- the search document --------------------------------------------------------------------


def test_search_vector_follows_headline_and_body_and_survives_sightings(db: str) -> None:
    page = _html_page("Lyon closes its old bridge to cars", "2026-03-03T09:12:00Z", BODY)
    assert _ingest([page]) == [Outcome.STORED]
    # A sighting only raises the counters (the trigger skips it); the document stays right.
    again = receive(page.page, receipt_key=str(uuid.uuid4()))
    assert _ingest([again]) == [Outcome.DUPLICATE]
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE articles SET body = 'The ferry to Vienne now runs hourly.'")
    # The model's expression, a constant of ours, computed afresh beside the stored document.
    matches = f"SELECT seen_count, search_vector = ({SEARCH_VECTOR_SQL}) FROM articles"  # noqa: S608
    assert query(db, matches) == [(2, True)]

    def found(words: str) -> int:
        return query(
            db,
            "SELECT count(*) FROM articles "
            "WHERE search_vector @@ websearch_to_tsquery('simple', %s)",
            words,
        )[0][0]

    assert found("ferry vienne") == 1
    assert found("cracks piers") == 0  # the old body's words are gone with it
    assert found("lyon bridge") == 1  # the headline's
