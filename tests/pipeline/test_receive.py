"""receive, and how pages and their results cross to and from a pool process (pickle)."""

from __future__ import annotations

import pickle

from conftest import EXAMPLES

from schemas import RawPage
from worker.pipeline import Processed, process, receive, receive_message
from worker.pipeline.types import Rejection

PAGE = (
    "<html><body><h1>Café crème</h1><p>"
    + "Prose “quoted” and plain. " * 2000
    + "</p></body></html>"
)


def test_a_received_page_is_pickled_with_its_content_once() -> None:
    received = receive(
        RawPage(content=PAGE, content_type="text/html", source="t", url="https://e.x/a"),
        receipt_key="k",
    )
    pickled = pickle.dumps(received, protocol=pickle.HIGHEST_PROTOCOL)
    # `newsingest ingest --jobs` sends each page to its pool: the text is its bytes decoded.
    assert len(pickled) < 1.2 * len(received.content)
    back = pickle.loads(pickled)  # noqa: S301 - our own bytes, as the pool exchanges them
    assert back == received
    assert back.text is back.page.content


def test_pages_whose_content_is_not_their_text_pickle_whole() -> None:
    base64_page = receive(
        RawPage(content="aGVsbG8=", content_encoding="base64", source="t"), receipt_key="b"
    )
    invalid = receive_message({"content": 5, "source": "t"}, fallback_key="i")
    for received in (base64_page, invalid):
        assert pickle.loads(pickle.dumps(received)) == received  # noqa: S301


def test_results_come_back_from_a_pool_process_as_they_were() -> None:
    seed = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
    pages = [receive(RawPage(content=text, source="t"), receipt_key=text) for text in (seed, " ")]
    results = [process(page, max_page_bytes=10**7) for page in pages]
    processed, rejection = results
    assert isinstance(processed, Processed)
    assert processed.verdict.evidence
    assert processed.clean.published is not None
    assert isinstance(rejection, Rejection)
    back = pickle.loads(pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    assert back == results
    assert [type(item) for item in back[0].verdict.evidence] == [
        type(item) for item in processed.verdict.evidence
    ]


def test_a_file_url_is_provenance_only_and_the_page_reads_as_without_one() -> None:
    # A page in a folder that names a place and a date: the user's filing, not the site's.
    text = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
    results = [
        process(
            receive(RawPage(content=text, url=url, source="t"), receipt_key="k"),
            max_page_bytes=1 << 20,
        )
        for url in (
            None,
            "file:///srv/news/world/asia/2001/02/03/osaka-trams.txt",
            "https://example.com/news/world/asia/2001/02/03/osaka-trams",
        )
    ]
    without, with_file, with_web_url = results
    assert isinstance(with_web_url, Processed)
    assert with_web_url.verdict != without.verdict  # the same path on the web votes "Asia"
    assert isinstance(without, Processed)
    assert isinstance(with_file, Processed)
    assert with_file.verdict == without.verdict
    assert with_file.clean == without.clean
