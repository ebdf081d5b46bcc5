"""One story across sources and forms: near-duplicate bodies link, columns and briefs do not."""

from __future__ import annotations

import gzip
import html
import json
import uuid
from functools import cache
from typing import Any

from conftest import ingest_at_once, query, run_cli, shared_data

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive
from worker.pipeline.shingles import BANDS, MIN_SHINGLES, body_print, similarity
from worker.pipeline.types import Rejection
from worker.store import Outcome, story_rules, transaction
from worker.store.stats import read_books
from worker.store.stories import list_relink_ids, relink_stories


@cache
def _reuters(newid: int) -> list[str]:
    """A Reuters story's paragraphs (a real wire text, long enough to link)."""
    with shared_data("regions", "reuters21578-train.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            if story["newid"] == newid:
                return [" ".join(p.split()) for p in story["body"].split("\n    ") if p.strip()]
    raise LookupError(newid)


QUAKE = 3332  # ECUADOR QUAKE TO CUT OIL REVENUES 800 MLN DLRS, 9 March 1987
EGYPT = 5180  # EGYPT, SOVIET UNION TO RENEGOTIATE ARMS DEBT TERMS, 15 March 1987


def _page(
    headline: str, published: str | None, body: list[str], *, source: str = "wire"
) -> Received:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body)
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    content = (
        f"<html><head><title>{html.escape(headline)}</title>{meta}</head>"
        f"<body><article><h1>{html.escape(headline)}</h1>{paragraphs}</article></body></html>"
    )
    page = RawPage(content=content, content_type="text/html", source=source)
    return receive(page, receipt_key=str(uuid.uuid4()))


def _ingest(*batches: list[Received], settings: Settings | None = None) -> None:
    for pages in batches:
        with transaction() as session:
            ingest_batch(session=session, pages=pages, settings=settings or Settings())
    with transaction() as session:
        assert read_books(session=session).problems == []


def _members(db: str) -> list[tuple[object, ...]]:
    """(headline, story's first headline, link_reason, similarity) per article, oldest first."""
    return query(
        db,
        "SELECT m.headline, f.headline, m.link_reason, m.link_similarity "
        "FROM newsingest.v1_story_members AS m JOIN articles AS f ON f.id = m.story_id "
        "ORDER BY m.published_at",
    )


def test_an_outlets_edited_copy_joins_the_wire_story(db: str) -> None:
    body = _reuters(QUAKE)
    wire = _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body)
    # Another headline, another source, the first paragraph cut, its own header and footer.
    copy = _page(
        "Quake costs Ecuador $800 million in oil income - Valley Courier",
        "1987-03-09T19:02:00Z",
        ["The Valley Courier | World news", *body[1:], "Subscribe to the Courier."],
        source="courier",
    )
    other = _page(
        "Egypt and Soviets to renegotiate arms debt", "1987-03-10T08:00:00Z", _reuters(EGYPT)
    )
    _ingest([wire], [copy, other])
    members = _members(db)
    quake = "Ecuador quake to cut oil revenues"
    assert [row[1:3] for row in members] == [
        (quake, "first"),
        (quake, "near_duplicate"),
        ("Egypt and Soviets to renegotiate arms debt", "first"),
    ]
    assert str(members[1][0]).startswith("Quake costs Ecuador")
    assert float(members[1][3]) >= Settings().story_similarity  # type: ignore[arg-type]
    linked = query(db, "SELECT linked_to FROM articles WHERE link_reason IS NOT NULL")
    assert linked == query(db, "SELECT id FROM articles WHERE headline = %s", quake)


def test_copies_in_one_batch_make_one_story(db: str) -> None:
    body = _reuters(QUAKE)
    pages = [
        _page(f"Ecuador quake, take {n}", f"1987-03-09T1{n}:00:00Z", body, source=f"outlet-{n}")
        for n in range(4)
    ]
    _ingest(pages)
    assert query(db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(1, 4)]
    # The earliest copy began it.
    assert query(db, "SELECT headline FROM articles WHERE id = story_id") == [
        ("Ecuador quake, take 0",)
    ]


def test_copies_outside_the_window_are_other_stories(db: str) -> None:
    body = _reuters(QUAKE)
    first = _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body)
    later = _page("A look back at the Ecuador quake", "1987-03-20T15:31:00Z", body[1:])
    _ingest([first], [later])
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(2,)]
    _ingest([_page("Ecuador quake, a year on", "1987-03-25T10:00:00Z", body[1:])],
            settings=Settings(story_window_hours=24 * 30))  # fmt: skip
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(2,)]
    assert query(db, "SELECT link_reason::text FROM articles ORDER BY id DESC LIMIT 1") == [
        ("near_duplicate",)
    ]


def _weather(day: int) -> list[str]:
    """A recurring column: the same template every day, other figures and places."""
    regions = ["the north", "the south", "the east coast", "the west", "the midlands", "Wales"]
    lines = []
    for n, region in enumerate(regions):
        high, low, wind = 8 + (day * 3 + n) % 9, 1 + (day + n * 2) % 6, 10 + (day * 7 + n) % 25
        sky = ["sunny spells", "scattered showers", "heavy rain", "low cloud", "fog patches"][
            (day + n) % 5
        ]
        lines.append(
            f"In {region} expect {sky} through the morning, with highs of {high}C and lows of "
            f"{low}C overnight. Winds will reach {wind} mph from the {['west', 'north'][day % 2]} "
            f"by evening, easing towards {['dawn', 'midnight'][(day + n) % 2]}."
        )
    return lines


def test_a_recurring_column_does_not_merge_day_to_day(db: str) -> None:
    days = [
        _page("Weather forecast", f"2026-03-0{day}T06:00:00Z", _weather(day)) for day in (2, 3, 4)
    ]
    similar = similarity(body_print("\n\n".join(_weather(2))), body_print("\n\n".join(_weather(3))))
    assert similar < Settings().story_similarity  # the measured reason, asserted
    _ingest(days[:1], days[1:])
    assert query(db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(3, 3)]
    assert query(db, "SELECT count(*) FROM articles WHERE link_reason IS NOT NULL") == [(0,)]


def test_short_briefs_do_not_merge(db: str) -> None:
    brief = [
        "Shares in Acme rose five pct in early trade after the company said profits doubled.",
        "Analysts had expected a rise of about forty pct, a dealer in London said.",
    ]
    _ingest(
        [_page("Acme shares jump", "2026-03-02T09:00:00Z", brief)],
        [
            # Another headline with the same few words: too little text to tell stories apart.
            _page("Acme up in early trade", "2026-03-02T10:00:00Z", brief, source="other"),
            # The same headline, other words: a brief is a revision only with the very same text.
            _page(
                "Acme shares jump",
                "2026-03-02T11:00:00Z",
                [brief[0].replace("five", "six"), brief[1]],
            ),
        ],
    )
    assert query(db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(3, 3)]
    assert not body_print("\n\n".join(brief)).linkable


def test_a_brief_sent_again_under_its_headline_is_a_revision(db: str) -> None:
    brief = [
        "Shares in Acme rose five pct in early trade after the company said profits doubled.",
        "Analysts had expected a rise of about forty pct, a dealer in London said.",
    ]
    _ingest(
        [_page("Acme shares jump", "2026-03-02T09:00:00Z", brief)],
        [_page("Acme shares jump", "2026-03-02T11:00:00Z", brief)],
    )
    assert query(db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(1, 2)]
    assert query(
        db, "SELECT link_reason::text, link_similarity FROM articles WHERE id <> story_id"
    ) == [("revision", None)]


def test_an_html_page_and_its_text_dump_are_one_story(db: str) -> None:
    """A development page whose text dump gives no date and another headline than its HTML."""
    stem = "851498a2"
    folder = shared_data("extraction", "scrapinghub")
    name = next(p.name for p in (folder / "html").glob(f"{stem}*.html.gz")).removesuffix(".html.gz")
    page_html = gzip.decompress((folder / "html" / f"{name}.html.gz").read_bytes()).decode()
    dump = shared_data("extraction", "scrapinghub-textdumps", f"{name}.txt").read_text()
    pages = [
        receive(
            RawPage(content=page_html, content_type="text/html", source="site"), receipt_key="h"
        ),
        receive(RawPage(content=dump, content_type="text/plain", source="dumps"), receipt_key="t"),
    ]
    _ingest(pages[:1], pages[1:])
    rows = query(db, "SELECT count(DISTINCT headline), count(DISTINCT story_id) FROM articles")
    assert rows == [(2, 1)]


def test_concurrent_batches_link_to_the_same_story(db: str) -> None:
    body = _reuters(QUAKE)
    _ingest([_page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body)])
    ingest_at_once(
        db,
        [
            [
                _page(f"Ecuador quake: outlet {n} reports", f"1987-03-09T2{n}:00:00Z", body[n:]),
                _page(f"Egypt debt, outlet {n}", f"1987-03-15T2{n}:00:00Z", _reuters(EGYPT)[n:]),
            ]
            for n in range(4)
        ],
    )
    with transaction() as session:
        assert read_books(session=session).problems == []
    stories = query(
        db,
        "SELECT count(*) FROM articles AS a JOIN articles AS f ON f.id = a.story_id "
        "WHERE f.headline = 'Ecuador quake to cut oil revenues'",
    )
    assert stories == [(5,)]  # every copy joined the stored story
    assert query(db, "SELECT count(*) FROM articles") == [(9,)]
    assert query(db, "SELECT outcome::text, count(*) FROM sightings GROUP BY 1") == [
        (Outcome.STORED.value, 9)
    ]


def test_reprocess_stories_relinks_after_a_threshold_change(
    db: str, service_env: dict[str, str]
) -> None:
    body = _reuters(QUAKE)
    # A page that quotes four paragraphs of the story among text of its own: one story at a
    # threshold of 0.5, two at the default.
    local = [f"Local reaction, part {n}: {p}" for n, p in enumerate(_reuters(EGYPT)[:3])]
    half = body[:4] + local
    pages = [
        _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body),
        # The same headline, so that it is a candidate whatever bands the two share.
        _page("Ecuador quake to cut oil revenues", "1987-03-09T18:00:00Z", half, source="other"),
    ]
    similar = similarity(body_print("\n\n".join(body)), body_print("\n\n".join(half)))
    assert 0.5 <= similar < Settings().story_similarity
    _ingest(pages)
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(2,)]
    seq_before = query(db, "SELECT max(ingest_seq) FROM articles")[0][0]

    looser = {**service_env, "NEWSINGEST_STORY_SIMILARITY": "0.5"}
    result = run_cli("reprocess", "--stories", "--since", "2000-01-01", env=looser)
    assert result.returncode == 0, result.stderr
    assert "1 changed" in result.stdout
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(1,)]
    # The relinked article is pulled again by consumers.
    assert query(db, "SELECT count(*) FROM articles WHERE ingest_seq > %s", seq_before) == [(1,)]

    shown = run_cli("stories", "show", str(query(db, "SELECT max(id) FROM articles")[0][0]),
                    "--format", "table", env=service_env)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "story 1: 2 articles from 2 sources (other, wire)" in shown.stdout
    as_json = run_cli("stories", "show", "1", "--format", "json", env=service_env)
    members = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(m["article_id"], m["link_reason"], m["linked_to"]) for m in members] == [
        (1, "first", None),
        (2, "revision", 1),
    ]
    assert 0.5 <= members[1]["link_similarity"] < 0.7

    # Back at the default: the link is undone, and running it again changes nothing.
    assert "1 changed" in run_cli("reprocess", "--stories", env=service_env).stdout
    assert "0 changed" in run_cli("reprocess", "--stories", env=service_env).stdout
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(2,)]
    assert query(db, "SELECT count(*) FROM story_bands") == [(2 * BANDS,)]


def test_reprocess_stories_joins_copies_stored_at_the_same_moment(db: str) -> None:
    """Two batches storing copies of one story concurrently cannot see each other; relinking
    afterwards makes them one story."""
    body = _reuters(QUAKE)
    ingest_at_once(
        db,
        [
            [_page(f"Ecuador quake, outlet {n}", f"1987-03-09T1{n}:00:00Z", body, source=f"o{n}")]
            for n in range(2)
        ],
    )
    with transaction() as session:
        relink_stories(
            session=session, ids=list_relink_ids(session=session), rules=story_rules(Settings())
        )
    assert query(db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(1, 2)]
    assert query(db, "SELECT headline FROM articles WHERE id = story_id") == [
        ("Ecuador quake, outlet 0",)
    ]


def test_v1_stories_says_who_carried_the_story(db: str) -> None:
    body = _reuters(QUAKE)
    _ingest(
        [_page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body)],
        [_page("Quake hits Ecuador oil", "1987-03-09T19:00:00Z", body[1:], source="courier")],
    )
    rows = query(
        db,
        "SELECT revisions, member_count, sources, story_first_seen_at <= story_last_seen_at "
        "FROM newsingest.v1_stories",
    )
    assert rows == [(2, 2, ["courier", "wire"], True)]


def test_two_forms_of_one_page_link_whatever_dates_they_show(db: str) -> None:
    """The same URL with a similar body: one story even when the forms' dates are years apart."""
    body = _reuters(QUAKE)
    url = "https://example.com/world/ecuador-quake"
    pages = [
        _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body),
        _page("Ecuador counts the cost", "1989-06-01T00:00:00Z", body[1:], source="dumps"),
        _page("Another page, same text", "1988-01-01T00:00:00Z", body[1:], source="other"),
    ]
    pages[:2] = [
        receive(page.page.model_copy(update={"url": url}), receipt_key=page.receipt_key)
        for page in pages[:2]
    ]
    _ingest(pages[:1], pages[1:])
    rows = _story_firsts(db)
    # The page's other form joins; the same text from another URL months later does not.
    assert rows == [
        ("dumps", "near_duplicate", "wire"),
        ("other", None, "other"),
        ("wire", None, "wire"),
    ]


def test_a_stored_article_is_compared_by_the_shingles_it_was_stored_with(db: str) -> None:
    # Its body is not read back and shingled again (migration 0011); an article stored before
    # that, with none kept, is shingled from its body and links all the same.
    wire = _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", _reuters(QUAKE))
    _ingest([wire])
    (kept,) = query(db, "SELECT body_shingles FROM articles")[0]
    assert len(bytes(kept)) >= 4 * MIN_SHINGLES
    body = _reuters(QUAKE)
    copy = _page("Quake costs Ecuador", "1987-03-09T19:02:00Z", body[1:], source="courier")
    query(db, "UPDATE articles SET body = 'Not the stored text.' RETURNING id")
    _ingest([copy])
    assert [row[2] for row in _members(db)] == ["first", "near_duplicate"]
    query(db, "UPDATE articles SET body_shingles = NULL, body = %s RETURNING id", "\n\n".join(body))
    again = _page("Ecuador's oil income falls after quake", "1987-03-09T21:00:00Z", body[:-1])
    _ingest([again])
    assert sorted(row[2] for row in _members(db)) == ["first", "near_duplicate", "near_duplicate"]


def test_a_page_laid_out_in_columns_joins_its_dump(db: str) -> None:
    """panarmenian.net (Scrapinghub d90bda7e): w3m printed a side column's lines among the story's,
    so the dump's body holds two thirds of the HTML's, under another headline ("Other news in this
    section"); the same URL within a day asks for half."""
    folder = shared_data("extraction", "scrapinghub")
    name = next(p.name for p in (folder / "html").glob("d90bda7e*.html.gz")).removesuffix(
        ".html.gz"
    )
    url = json.loads((folder / "ground-truth.json").read_text())[name]["url"]
    page_html = gzip.decompress((folder / "html" / f"{name}.html.gz").read_bytes()).decode()
    dump = shared_data("extraction", "scrapinghub-textdumps", f"{name}.txt").read_text()
    pages = [
        RawPage(content=page_html, content_type="text/html", url=url, source="site"),
        RawPage(content=dump, content_type="text/plain", url=url, source="dumps"),
    ]
    _ingest([receive(pages[0], receipt_key="h")], [receive(pages[1], receipt_key="t")])
    assert query(db, "SELECT count(*), count(DISTINCT story_id) FROM articles") == [(2, 1)]
    (similar,) = query(db, "SELECT link_similarity FROM articles WHERE link_reason IS NOT NULL")
    assert 0.5 <= similar[0] < 0.7


def test_the_same_url_days_apart_needs_a_similar_body(db: str) -> None:
    """A page at a fixed URL that holds other text three days later (a column, a live page)."""
    body = _reuters(QUAKE)
    half = body[: max(1, len(body) // 2)] + _reuters(EGYPT)[: len(body) // 2]
    url = "https://example.com/world/latest"
    pages = [
        _page("Ecuador quake to cut oil revenues", "1987-03-09T15:31:00Z", body),
        _page("Ecuador and Egypt: the latest", "1987-03-12T15:31:00Z", half, source="later"),
    ]
    first, later = (
        receive(page.page.model_copy(update={"url": url}), receipt_key=page.receipt_key)
        for page in pages
    )
    assert 0.5 <= similarity(_print(first), _print(later)) < 0.7
    _ingest([first], [later])
    assert query(db, "SELECT count(DISTINCT story_id) FROM articles") == [(2,)]


def test_a_short_page_and_its_dump_link_within_a_day_but_short_bodies_of_two_urls_do_not(
    db: str,
) -> None:
    """A product page or a brief as HTML and as a dump: its body is too short to link by body
    alone, but the same URL within a day is the same page; another URL's same brief is not."""
    brief = [
        "Aluminum Co of America said its board declared a regular quarterly dividend of 30 cts "
        "a share, unchanged from the prior quarter.",
        "The dividend is payable May 25 to shareholders of record on May one, the company said.",
    ]
    url = "https://example.com/dividends/alcoa"
    pages = [
        _page("Alcoa regular dividend", "1987-03-06T13:55:00Z", brief),
        _page("Aluminum Co of America dividend", "1987-03-06T18:00:00Z", brief, source="dumps"),
        _page("Alcoa pays its dividend", "1987-03-06T19:00:00Z", brief, source="other"),
    ]
    first, dump, other = pages
    first, dump = (
        receive(page.page.model_copy(update={"url": url}), receipt_key=page.receipt_key)
        for page in (first, dump)
    )
    assert not _print(first).linkable
    _ingest([first], [dump, other])
    rows = _story_firsts(db)
    assert rows == [
        ("dumps", "near_duplicate", "wire"),
        ("other", None, "other"),
        ("wire", None, "wire"),
    ]


def _story_firsts(db: str) -> list[tuple[Any, ...]]:
    """(source, link reason, source of the story's first article) of every article."""
    return query(
        db,
        "SELECT a.source, a.link_reason::text, f.source FROM articles AS a "
        "JOIN articles AS f ON f.id = a.story_id ORDER BY a.source",
    )


def _print(page: Received) -> Any:
    from worker.pipeline import process

    processed = process(page, max_page_bytes=10_000_000)
    assert not isinstance(processed, Rejection)
    return body_print("\n\n".join(processed.clean.body))
