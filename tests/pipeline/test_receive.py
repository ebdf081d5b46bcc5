"""receive: a RawPage to its bytes and hash, and how a Received crosses to a pool process."""

from __future__ import annotations

import pickle

from schemas import RawPage
from worker.pipeline import receive, receive_message

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
