"""`newsingest serve` over HTTP: a real server process, a real database of ingested pages."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from conftest import ADMIN_URL, RUN_ID, query
from selectolax.lexbor import LexborHTMLParser, LexborNode
from status_site import (
    BIG_REJECT,
    ENQUEUED_BATCHES,
    HOSTILE_HEADLINE,
    HOSTILE_REJECT,
    HOSTILE_SOURCE,
    STORIES_FOR_PAGING,
    StatusSite,
    running_status_site,
)

from worker.serve.app import RAW_CONTENT_LIMIT


@pytest.fixture(scope="module")
def site(
    empty_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatusSite]:
    """This module's status page, its database and queue."""
    with running_status_site(empty_database, tmp_path_factory) as running:
        yield running


PAGES = ("/", "/stories", "/sources", "/rejections", "/stories?page=2&size=5", "/stories/1")


def get(site: StatusSite, path: str, **kwargs: object) -> httpx.Response:
    """GET a path of the page."""
    return httpx.get(site.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def html(response: httpx.Response) -> LexborHTMLParser:
    """The response parsed as a browser would."""
    assert response.status_code == 200, response.text[:500]
    return LexborHTMLParser(response.text)


def cells(row: LexborNode) -> list[str]:
    """The text of a table row's cells."""
    return [cell.text(strip=True) for cell in row.css("td")]


def test_the_overview_counts_what_each_source_sent(site: StatusSite) -> None:
    page = html(get(site, "/"))
    shown = {
        cells(row)[0]: [int(n) for n in cells(row)[1:5]] for row in page.css("#sources tbody tr")
    }
    expected = {
        source: [received, stored, duplicates, rejected]
        for source, received, stored, duplicates, rejected in query(
            site.database_url,
            "SELECT source, count(*), count(*) FILTER (WHERE outcome = 'stored'), "
            "count(*) FILTER (WHERE outcome = 'duplicate'), "
            "count(*) FILTER (WHERE outcome = 'rejected') FROM sightings GROUP BY source",
        )
    }
    assert shown == expected
    assert shown[HOSTILE_SOURCE][3] == 3  # its empty dump, script-only page and big page


def test_the_chart_draws_every_article_in_its_region(site: StatusSite) -> None:
    page = html(get(site, "/"))
    drawn: Counter[str] = Counter()
    for bar in page.css("#regions svg rect.bar"):
        drawn[bar.attributes["data-region"] or ""] += int(bar.attributes["data-articles"] or 0)
    # The wire's pages and the hostile one were published in the last fortnight; the examples
    # months before it.
    recent = query(
        site.database_url,
        "SELECT region, count(*) FROM articles WHERE source IN ('wire', %s) GROUP BY 1",
        HOSTILE_SOURCE,
    )
    assert drawn == Counter(dict(recent))
    assert sum(drawn.values()) == STORIES_FOR_PAGING + 1


def test_a_hostile_headline_and_source_are_shown_as_text(site: StatusSite) -> None:
    response = get(site, "/")
    page = html(response)
    headlines = [cell.text(deep=False, strip=True) for cell in page.css("#stories td.headline")]
    assert HOSTILE_HEADLINE in headlines
    assert HOSTILE_SOURCE in [cell.text(strip=True) for cell in page.css("#sources td")]
    # No markup of the page's content reached the document: it sends no script or image at all.
    assert page.css("script") == []
    assert page.css("img") == []
    assert page.css("b") == []
    assert "&lt;script&gt;document.title=" in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_security_headers(site: StatusSite, path: str) -> None:
    response = get(site, path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # so default-src 'none' forbids every script
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-type"].startswith("text/html")


def test_the_stylesheet_is_served_from_the_page_itself(site: StatusSite) -> None:
    page = html(get(site, "/"))
    (link,) = page.css("link[rel=stylesheet]")
    css = get(site, link.attributes["href"] or "")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/stories?page=0",
        "/stories?page=-1",
        "/stories?page=abc",
        "/stories?page=99999999999999999999999",
        "/stories?page=1e3",
        "/stories?page=%EF%BC%91",  # a full-width digit one
        "/stories?size=0",
        "/stories?size=100000",
        "/stories?page=1&page=2",
        "/stories?page=52&size=200",  # past the newest 10,000 rows
        "/sources?days=0",
        "/sources?days=100000",
        "/?days=-3",
        "/rejections?reason=%3Cscript%3E",
        "/rejections?reason=" + "a" * 41,
        "/stories?x=" + "y" * 2000,
    ],
)
def test_absurd_query_parameters_are_refused_with_400(site: StatusSite, path: str) -> None:
    response = get(site, path)
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert LexborHTMLParser(response.text).css_first("#problem") is not None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_page_takes_no_writes(site: StatusSite, method: str) -> None:
    response = httpx.request(method, site.url + "/", timeout=30, content=b"x=1")
    assert response.status_code == 405
    rejection = httpx.request(method, site.url + "/rejections/1", timeout=30)
    assert rejection.status_code == 405


def _rejection_links(site: StatusSite) -> dict[str, str]:
    """The rejections page's raw-content links by the rejected dump's url."""
    page = html(get(site, "/rejections"))
    links = {}
    for row in page.css("table.rejections tbody tr"):
        link = row.css_first("a.raw-link")
        url = row.css_first("td.url")
        assert link is not None
        assert url is not None
        links[url.text(strip=True)] = link.attributes["href"] or ""
    return links


def test_a_rejections_raw_content_is_shown_as_escaped_text(site: StatusSite) -> None:
    links = _rejection_links(site)
    (script_only,) = [href for url, href in links.items() if url.endswith("script-only.html")]
    response = get(site, script_only)
    page = html(response)
    pre = page.css_first("#raw-content")
    assert pre is not None
    assert pre.text() == HOSTILE_REJECT
    assert page.css("script") == []
    assert page.css("img") == []
    raw_id = int(script_only.rsplit("/", 1)[1])
    ((reason,),) = query(
        site.database_url,
        "SELECT p.reason FROM sightings s JOIN raw_pages p ON p.id = s.raw_page_id WHERE s.id = %s",
        raw_id,
    )
    assert page.css_first("#reason").text(strip=True).startswith(reason)  # type: ignore[union-attr]


def test_a_large_raw_content_is_cut_to_what_the_page_shows(site: StatusSite) -> None:
    (big,) = [href for url, href in _rejection_links(site).items() if url.endswith("big.html")]
    page = html(get(site, big))
    pre = page.css_first("#raw-content")
    assert pre is not None
    assert len(BIG_REJECT) > RAW_CONTENT_LIMIT
    assert pre.text() == BIG_REJECT[:RAW_CONTENT_LIMIT]
    assert f"its first {RAW_CONTENT_LIMIT:,} bytes" in page.text()


def test_rejections_by_reason_match_the_database_and_filter(site: StatusSite) -> None:
    page = html(get(site, "/rejections"))
    shown = {
        item.css_first("a").text(strip=True): int(item.css_first(".reason-count").text())  # type: ignore[union-attr]
        for item in page.css("ul.reasons li")
        if item.css_first(".reason-count") is not None
    }
    expected = dict(
        query(
            site.database_url,
            "SELECT p.reason, count(*) FROM sightings s JOIN raw_pages p ON p.id = s.raw_page_id "
            "WHERE s.outcome = 'rejected' GROUP BY 1",
        )
    )
    assert shown == expected
    for reason, n in expected.items():
        filtered = html(get(site, f"/rejections?reason={reason}"))
        reasons = [cells(row)[1] for row in filtered.css("table.rejections tbody tr")]
        assert reasons == [reason] * n


@pytest.mark.parametrize("which", ["missing", "stored", "huge"])
def test_a_rejection_that_is_not_one_is_404(site: StatusSite, which: str) -> None:
    ((stored,),) = query(
        site.database_url, "SELECT min(id) FROM sightings WHERE outcome = 'stored'"
    )
    sighting = {"missing": 10**9, "stored": stored, "huge": 10**30}[which]
    response = get(site, f"/rejections/{sighting}")
    assert response.status_code == 404
    assert "Traceback" not in response.text


def _story_ids(site: StatusSite, size: int) -> Iterator[tuple[int, list[int]]]:
    page_number, path = 1, f"/stories?size={size}"
    while True:
        page = html(get(site, path))
        ids = [int(cells(row)[5]) for row in page.css("table.stories tbody tr")]
        yield page_number, ids
        following = page.css_first("a#next-page")
        if following is None:
            return
        path = following.attributes["href"] or ""
        page_number += 1
        assert f"page={page_number}" in path
        assert f"size={size}" in path


def test_pagination_walks_every_story_once(site: StatusSite) -> None:
    pages = list(_story_ids(site, size=7))
    walked = [story for _, ids in pages for story in ids]
    ((stories,),) = query(site.database_url, "SELECT count(*) FROM newsingest.v1_stories")
    assert len(walked) == len(set(walked)) == stories
    assert len(pages) == -(-stories // 7)
    assert all(len(ids) == 7 for _, ids in pages[:-1])


def test_each_story_links_to_its_members(site: StatusSite) -> None:
    page = html(get(site, "/stories?size=200"))
    links = [link.attributes["href"] or "" for link in page.css("a.story-link")]
    expected = dict(
        query(
            site.database_url,
            "SELECT story_id, count(*) FROM newsingest.v1_story_members GROUP BY 1",
        )
    )
    assert len(links) == len(expected)
    for link in links:
        story = html(get(site, link))
        members = story.css("table.members tbody tr")
        assert len(members) == expected[int(link.rsplit("/", 1)[1])]
    assert get(site, "/stories/999999999").status_code == 404


def test_a_page_past_the_end_is_empty_not_an_error(site: StatusSite) -> None:
    page = html(get(site, "/stories?page=51&size=200"))
    assert page.css("table.stories tbody tr td.headline") == []
    assert page.css_first("a#prev-page") is not None


def test_queue_depths_show_the_batches_waiting(site: StatusSite) -> None:
    page = html(get(site, "/"))
    depths = {cells(row)[0]: int(cells(row)[2]) for row in page.css("#queues tbody tr")}
    queue = site.env["NEWSINGEST_QUEUE"]
    assert depths == {queue: ENQUEUED_BATCHES, f"{queue}.crawl": 0, f"{queue}.dead": 0}


def test_an_unreachable_database_is_a_503_page(site: StatusSite) -> None:
    url, _ = site.start(NEWSINGEST_READER_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    response = httpx.get(url + "/", timeout=30)
    assert response.status_code == 503
    assert "did not answer" in response.text
    assert "Traceback" not in response.text


def test_an_unreachable_broker_leaves_the_rest_of_the_page(site: StatusSite) -> None:
    url, _ = site.start(NEWSINGEST_BROKER_URL="redis://127.0.0.1:1/0")
    page = html(httpx.get(url + "/", timeout=30))
    assert "did not answer" in page.css_first("#queues").text()  # type: ignore[union-attr]
    assert page.css("#stories td.headline")


@pytest.fixture(scope="module")
def reader_url(site: StatusSite) -> Iterator[str]:
    """The site's database as a login in newsingest_reader, dropped afterwards."""
    name = f"newsingest_test_{RUN_ID}_page_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE newsingest_reader')
    base, _, rest = site.database_url.partition("://")
    _, _, host = rest.partition("@")
    yield f"{base}://{name}@{host}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_a_reader_login_shows_everything_but_raw_content(site: StatusSite, reader_url: str) -> None:
    url, log = site.start(NEWSINGEST_READER_DATABASE_URL=reader_url)
    assert re.search(r"status page on http://127\.0\.0\.1:\d+/ \(read-only, as ", log.read_text())
    overview = httpx.get(url + "/", timeout=30)
    page = html(overview)
    reader = reader_url.rsplit("@", 1)[0].rsplit("/", 1)[1]
    assert reader in page.css_first("p.meta").text()  # type: ignore[union-attr]
    assert HOSTILE_HEADLINE in [c.text(deep=False, strip=True) for c in page.css("td.headline")]
    link = page.css_first("a.raw-link")
    assert link is not None
    raw = httpx.get(url + (link.attributes["href"] or ""), timeout=30)
    assert raw.status_code == 403
    assert "newsingest_reader login reads the v1 views only" in raw.text


def test_the_owners_login_reads_in_read_only_transactions(site: StatusSite) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import InternalError

    from worker.config import Settings
    from worker.serve.app import create_app

    settings = Settings(_env_file=None, database_url=site.database_url)  # type: ignore[call-arg]
    engine = create_app(settings).extensions["newsingest_engine"]
    try:
        with engine.connect() as connection, pytest.raises(InternalError, match="read-only"):
            connection.execute(text("DELETE FROM sightings"))
    finally:
        engine.dispose()
    ((sightings,),) = query(site.database_url, "SELECT count(*) FROM sightings")
    assert sightings > 0
