"""A later, richer copy of a stored page replaces the article's content; other copies do not."""

from __future__ import annotations

import uuid

from conftest import EXAMPLES, query

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive
from worker.store import Outcome, transaction
from worker.store.revise import list_article_ids, reprocess_articles
from worker.store.stats import read_books

# The bundled examples: the same page saved in full and as a short re-send (its first four
# paragraphs, no chrome). Both carry the same headline and time, so the same dedupe key.
FULL = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
SHORT = (EXAMPLES / "kenya-flood-warning-resend.txt").read_text(encoding="utf-8")
ONLY_IN_FULL = "Farmers along the river said whole fields of maize"
HEADLINE_LINE = "Kenya opens emergency shelters as Tana River floods spread\n"


def _page(content: str, *, source: str = "test") -> Received:
    page = RawPage.model_validate({"content": content, "source": source})
    return receive(page, receipt_key=str(uuid.uuid4()))


def _ingest(*pages: Received) -> list[Outcome | None]:
    with transaction() as session:
        outcome = ingest_batch(session=session, pages=list(pages), settings=Settings())
    return [item.outcome for item in outcome.items]


def _article(db: str) -> tuple[str, int, int]:
    ((body, seen_count, ingest_seq),) = query(
        db, "SELECT body, seen_count, ingest_seq FROM articles"
    )
    return body, seen_count, ingest_seq


def _books_balance() -> None:
    with transaction() as session:
        assert read_books(session=session).problems == []


def _stored_raw_page(db: str) -> bytes:
    """The raw content of the one raw page that stores the article (what reprocess reads)."""
    rows = query(db, "SELECT content_codec, content FROM raw_pages WHERE outcome = 'stored'")
    assert len(rows) == 1
    codec, content = rows[0]
    assert codec is None  # pages given in-process travel unpacked
    return bytes(content)


def test_a_fuller_later_copy_replaces_the_short_one(db: str) -> None:
    assert _ingest(_page(SHORT)) == [Outcome.STORED]
    short_body, _, seq_before = _article(db)
    assert ONLY_IN_FULL not in short_body

    # The full page comes later: still a duplicate sighting by key, but the article now holds it.
    assert _ingest(_page(FULL)) == [Outcome.DUPLICATE]
    body, seen_count, seq_after = _article(db)
    assert ONLY_IN_FULL in body
    assert body.startswith(short_body.split("\n\n")[0])
    assert seen_count == 2
    # Consumers pulling by ingest_seq see the article again.
    assert seq_after > seq_before
    # The reason is recorded on the sighting of the copy the article was rewritten from.
    assert query(db, "SELECT outcome::text, match::text FROM sightings ORDER BY id") == [
        ("stored", "new"),
        ("duplicate", "richer_copy"),
    ]
    assert _stored_raw_page(db) == FULL.encode()
    _books_balance()

    # Reprocessing reads the raw page that stores the article: the full one.
    with transaction() as session:
        ids = list_article_ids(session=session)
        reprocess_articles(session=session, ids=ids, settings=Settings())
    assert ONLY_IN_FULL in _article(db)[0]


def test_the_same_body_with_a_byline_replaces_one_without(db: str) -> None:
    signed = SHORT.replace(HEADLINE_LINE, HEADLINE_LINE + "\nBy Amina Odhiambo, Nairobi\n")
    assert _ingest(_page(SHORT)) == [Outcome.STORED]
    assert query(db, "SELECT byline FROM articles") == [(None,)]
    assert _ingest(_page(signed)) == [Outcome.DUPLICATE]
    assert query(db, "SELECT byline FROM articles") == [("Amina Odhiambo",)]
    assert _stored_raw_page(db) == signed.encode()
    # The unsigned copy again adds nothing and loses nothing.
    assert _ingest(_page(SHORT + "\n")) == [Outcome.DUPLICATE]
    assert query(db, "SELECT byline FROM articles") == [("Amina Odhiambo",)]
    assert query(db, "SELECT match::text FROM sightings ORDER BY id") == [
        ("new",),
        ("richer_copy",),
        ("same_key",),
    ]
    _books_balance()


def test_the_fuller_copy_wins_within_one_batch(db: str) -> None:
    assert _ingest(_page(SHORT), _page(FULL)) == [Outcome.DUPLICATE, Outcome.STORED]
    body, seen_count, _ = _article(db)
    assert ONLY_IN_FULL in body
    assert seen_count == 2
    assert _stored_raw_page(db) == FULL.encode()
    _books_balance()


def test_a_shorter_later_copy_changes_nothing(db: str) -> None:
    assert _ingest(_page(FULL)) == [Outcome.STORED]
    before = _article(db)
    assert _ingest(_page(SHORT)) == [Outcome.DUPLICATE]
    body, seen_count, seq = _article(db)
    assert (body, seq) == (before[0], before[2])
    assert seen_count == 2
    assert _stored_raw_page(db) == FULL.encode()
    _books_balance()


def test_a_longer_copy_with_other_text_does_not_replace(db: str) -> None:
    assert _ingest(_page(SHORT)) == [Outcome.STORED]
    before = _article(db)
    # Same headline and time, but the body is another text: not a fuller copy of the stored one.
    paragraphs = SHORT.split("\n\n")
    other = "\n\n".join(
        [
            *paragraphs[:2],
            "Election officials in Nairobi said counting would resume on Monday after a delay.",
            "Turnout in the capital was lower than in the last vote, observers said today.",
            "The electoral commission has promised to publish results from every polling station.",
            "Opposition parties have called for calm while the remaining ballots are counted.",
            "International observers are expected to give their first assessment on Tuesday.",
            paragraphs[-1],
        ]
    )
    assert _ingest(_page(other)) == [Outcome.DUPLICATE]
    assert _article(db)[0] == before[0]
    _books_balance()


def test_another_sources_fuller_copy_does_not_replace(db: str) -> None:
    assert _ingest(_page(SHORT, source="wire")) == [Outcome.STORED]
    before = _article(db)
    assert _ingest(_page(FULL, source="outlet")) == [Outcome.DUPLICATE]
    body, seen_count, seq = _article(db)
    assert (body, seq, seen_count) == (before[0], before[2], 2)
    assert query(db, "SELECT source FROM articles") == [("wire",)]
    _books_balance()
