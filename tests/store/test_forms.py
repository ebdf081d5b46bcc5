"""One page as HTML and as its text dump: one dedupe key, hence one article, in either order."""

from __future__ import annotations

import gzip
import html
import json
import uuid
from datetime import UTC, datetime

import pytest
from conftest import ingest_at_once, query, shared_data

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive
from worker.pipeline.dates import parse_date
from worker.pipeline.types import PublishedAt
from worker.store import Outcome, transaction
from worker.store.forms import could_be_same_moment
from worker.store.stats import read_books

# Fragments of a real page (twincities.com, 19 November 2019) and of its `w3m -dump`: the HTML's
# metadata states the instant in UTC, the dump prints the local time (US Central) without a zone.
URL = "https://www.twincities.com/2019/11/19/parise-scores-2-goals-wild-beat-sabres-4-1/"
HEADLINE = "Zach Parise heating up, scores twice as Wild beat Sabres 4-1"
PUBLISHED_META = "2019-11-20T02:59:46+00:00"
PUBLISHED_LINE = "PUBLISHED: November 19, 2019 at 8:59 pm | UPDATED: November 19, 2019 at 10:16 pm"
BODY = [
    "BUFFALO, N.Y. — Hours before Zach Parise’s two-goal performance Tuesday, Wild coach Bruce "
    "Boudreau expressed confidence in the veteran winger, saying he had been playing better than "
    "his numbers showed over the first quarter of the season.",
    "Parise scored twice in the second period, Ryan Suter had two assists and Devan Dubnyk made "
    "31 saves as the Minnesota Wild beat the Buffalo Sabres 4-1 on Tuesday night.",
    "Jonas Brodin and Jason Zucker also scored for the Wild, who have won five of their last "
    "seven games after a slow start that left them at the bottom of the Western Conference.",
]


def _html(
    headline: str, published: str, body: list[str], *, url: str | None, source: str = "site-html"
) -> Received:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body)
    content = (
        f"<html><head><title>{html.escape(headline)}</title>"
        f'<meta property="article:published_time" content="{published}"></head>'
        f"<body><article><h1>{html.escape(headline)}</h1>{paragraphs}</article></body></html>"
    )
    page = RawPage(content=content, content_type="text/html", url=url, source=source)
    return receive(page, receipt_key=str(uuid.uuid4()))


def _dump(
    headline: str,
    dateline: str | None,
    body: list[str],
    *,
    url: str | None,
    source: str = "site-text",
) -> Received:
    lines = [headline, "", "By Bill Hoppe | Special to the Pioneer Press"]
    if dateline is not None:
        lines.append(dateline)
    content = "\n".join(lines) + "\n\n" + "\n\n".join(body) + "\n"
    page = RawPage(content=content, content_type="text/plain", url=url, source=source)
    return receive(page, receipt_key=str(uuid.uuid4()))


def _ingest(*batches: list[Received]) -> list[Outcome | None]:
    outcomes: list[Outcome | None] = []
    for pages in batches:
        with transaction() as session:
            result = ingest_batch(session=session, pages=pages, settings=Settings())
        outcomes += [item.outcome for item in result.items]
    with transaction() as session:
        assert read_books(session=session).problems == []
    return outcomes


def _text(expression: str) -> PublishedAt:
    published = parse_date(expression, fetched_at=None, source="text")
    assert published is not None
    return published


def _meta(expression: str) -> PublishedAt:
    published = parse_date(expression, fetched_at=None, source="meta")
    assert published is not None
    return published


# --- which readings may name one moment ----------------------------------------------------------


def test_a_zone_less_local_time_meets_the_instant_it_is_in_some_zone() -> None:
    instant = _meta(PUBLISHED_META)
    local = _text(PUBLISHED_LINE)
    assert local.utc_offset_minutes is None  # printed without a zone: read as if UTC
    assert local.at != instant.at
    assert could_be_same_moment(instant, local)
    assert could_be_same_moment(local, instant)
    # Seven minutes off is another time, not another zone (zones are whole quarter hours).
    assert not could_be_same_moment(instant, _text("November 19, 2019 at 9:06 pm"))
    # Nor is a day and a half.
    assert not could_be_same_moment(instant, _text("November 18, 2019 at 8:59 am"))


def test_a_printed_day_meets_an_instant_that_falls_on_it_in_some_zone() -> None:
    instant = _meta(PUBLISHED_META)  # 02:59 UTC on the 20th: the 19th in the Americas
    assert could_be_same_moment(_text("November 19, 2019"), instant)
    assert could_be_same_moment(_text("November 20, 2019"), instant)
    assert not could_be_same_moment(_text("November 21, 2019"), instant)
    assert not could_be_same_moment(_text("November 18, 2019"), instant)


def test_stated_instants_and_days_must_be_equal() -> None:
    assert not could_be_same_moment(_meta(PUBLISHED_META), _meta("2019-11-20T04:59:46+01:00"))
    assert could_be_same_moment(_meta(PUBLISHED_META), _meta("2019-11-19T20:59:46-06:00"))
    assert not could_be_same_moment(_text("19 November 2019"), _text("20 November 2019"))
    assert could_be_same_moment(None, _text("19 November 2019"))  # undated: any moment


# --- through the store ---------------------------------------------------------------------------


def _articles(db: str) -> list[tuple[object, ...]]:
    return query(
        db,
        "SELECT published_at, published_utc_offset_minutes, content_type, seen_count"
        " FROM articles ORDER BY id",
    )


INSTANT = datetime(2019, 11, 20, 2, 59, tzinfo=UTC)


@pytest.mark.parametrize("order", ["html first", "dump first", "one batch"])
def test_a_page_and_its_dump_are_one_article(db: str, order: str) -> None:
    page = _html(HEADLINE, PUBLISHED_META, BODY, url=URL)
    dump = _dump(HEADLINE, PUBLISHED_LINE, BODY, url=URL)
    if order == "html first":
        outcomes = _ingest([page], [dump])
    elif order == "dump first":
        outcomes = _ingest([dump], [page])
    else:
        outcomes = _ingest([dump, page])
    assert sorted(map(str, outcomes)) == sorted(map(str, [Outcome.STORED, Outcome.DUPLICATE]))
    (article,) = _articles(db)
    # The form stored first keeps its reading; in one batch, the one that names the instant.
    if order == "dump first":
        assert article[:3] == (datetime(2019, 11, 19, 20, 59, tzinfo=UTC), None, "text")
    else:
        assert article[:3] == (INSTANT, 0, "html")
    assert article[3] == 2
    matches = query(db, "SELECT match::text FROM sightings ORDER BY match")
    assert matches == [("new",), ("same_key",)]


def test_a_page_and_its_dump_sent_at_the_same_moment_are_one_article(db: str) -> None:
    """Two transactions on two connections, one form each: the headline lock serializes them, and
    the second reads the first's article once it commits."""
    pages = [
        _html(HEADLINE, PUBLISHED_META, BODY, url=URL),
        _dump(HEADLINE, PUBLISHED_LINE, BODY, url=URL),
    ]
    ingest_at_once(db, [[page] for page in pages])
    assert query(db, "SELECT count(*), sum(seen_count) FROM articles") == [(1, 2)]


def test_a_dump_that_prints_only_the_day_or_no_date_joins_its_page(db: str) -> None:
    _ingest([_html(HEADLINE, PUBLISHED_META, BODY, url=URL)])
    outcomes = _ingest(
        [_dump(HEADLINE, "November 19, 2019", BODY, url=URL)],
        [_dump(HEADLINE, None, [*BODY, "Sign up for Newsletters and Alerts"], url=URL)],
    )
    assert outcomes == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert [row[0] for row in _articles(db)] == [INSTANT]


def test_an_undated_dump_stored_first_takes_the_date_of_its_page(db: str) -> None:
    outcomes = _ingest(
        [_dump(HEADLINE, None, BODY, url=URL)],
        [_html(HEADLINE, PUBLISHED_META, BODY, url=URL)],
        # Another source's undated dump of the page now meets the dated article too.
        [_dump(HEADLINE, None, [*BODY, "Most Popular"], url=URL, source="other-text")],
    )
    assert outcomes == [Outcome.STORED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    rows = query(
        db,
        "SELECT published_at, published_utc_offset_minutes, undated_source, content_type,"
        " seen_count FROM articles",
    )
    assert rows == [(INSTANT, 0, None, "text", 3)]
    # Its story bands moved with it: a copy published that day finds it by its body.
    assert query(db, "SELECT DISTINCT anchored_at FROM story_bands") == [(INSTANT,)]


def test_an_undated_dump_keeps_no_date_from_a_later_story_at_its_url(db: str) -> None:
    """A fixed URL whose page tells a story published after the undated dump was seen."""
    later, live = "2030-01-01T10:00:00+00:00", "https://www.twincities.com/live/wild-hockey/"
    outcomes = _ingest(
        [_dump(HEADLINE, None, BODY, url=live)], [_html(HEADLINE, later, BODY[1:], url=live)]
    )
    assert outcomes == [Outcome.STORED, Outcome.STORED]
    rows = query(db, "SELECT published_at IS NULL FROM articles ORDER BY id")
    assert rows == [(True,), (False,)]


def test_other_days_other_urls_and_other_headlines_stay_apart(db: str) -> None:
    _ingest([_html(HEADLINE, PUBLISHED_META, BODY, url=URL)])
    outcomes = _ingest(
        # The same column at the same URL two days later.
        [_dump(HEADLINE, "November 21, 2019 at 8:59 pm", BODY, url=URL)],
        # The same words from another URL: nothing says it is this page, so its local time is
        # not resolved.
        [_dump(HEADLINE, PUBLISHED_LINE, BODY, url=URL + "?amp")],
        [_dump("Wild beat Sabres as Parise scores twice", PUBLISHED_LINE, BODY, url=URL)],
    )
    assert outcomes == [Outcome.STORED] * 3
    assert len(_articles(db)) == 4


def _real_pair(stem: str, *, html_source: str, text_source: str) -> tuple[Received, Received]:
    """A Scrapinghub benchmark page and its `w3m -dump`, whole, as the shared data holds them."""
    folder = shared_data("extraction")
    url = json.loads((folder / "scrapinghub" / "ground-truth.json").read_text())[stem]["url"]
    html_bytes = gzip.decompress((folder / "scrapinghub" / "html" / f"{stem}.html.gz").read_bytes())
    page = RawPage(
        content=html_bytes.decode("utf-8"), content_type="text/html", url=url, source=html_source
    )
    dump = RawPage(
        content=(folder / "scrapinghub-textdumps" / f"{stem}.txt").read_text(encoding="utf-8"),
        content_type="text/plain",
        url=url,
        source=text_source,
    )
    return receive(page, receipt_key=f"{stem}:html"), receive(dump, receipt_key=f"{stem}:text")


def test_the_real_pages_meet(db: str) -> None:
    """twincities.com: the HTML states 02:59 UTC, the dump prints "November 19, 2019 at 8:59 pm"."""
    page, dump = _real_pair(
        "264dc3ae31249cb1f50c50986e0952a4708c2e705d18a2d8bf0e525da6e2b485",
        html_source="forms-html",
        text_source="forms-text",
    )
    assert _ingest([dump], [page]) == [Outcome.STORED, Outcome.DUPLICATE]


def test_the_dump_of_a_page_from_the_same_source_does_not_replace_it(db: str) -> None:
    """bbc.com: the dump holds the page's story and some of its menus, a quarter more words (the
    measure of a fuller copy of the page), but no more of the story."""
    page, dump = _real_pair(
        "70cb2d5bca75ab5a8f6bb378a38a52f882f6bda508de93b12502e74936d86ff2",
        html_source="bbc",
        text_source="bbc",
    )
    assert _ingest([page], [dump]) == [Outcome.STORED, Outcome.DUPLICATE]
    assert query(db, "SELECT content_type FROM articles") == [("html",)]
