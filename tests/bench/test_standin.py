"""bench/standin.py: the stand-in cleaners keep and reject the benchmark pages the cleaners do.

`bench/e2e.py --standin-cleaner` prices the cleaners by taking them out. Its figures compare with
a real run only if the same pages become articles, each distinct page a distinct article, so that
dedupe and the books come out the same.
"""

from __future__ import annotations

import sys

import pytest
from conftest import REPO, shared_data

from schemas import RawPage
from worker.pipeline import clean, receive
from worker.pipeline.headline import headline_key
from worker.pipeline.types import CleanPage

sys.path.insert(0, str(REPO / "bench"))

import e2e
import standin


@pytest.mark.parametrize("kind", ["text", "html"])
def test_standins_keep_the_pages_the_cleaners_keep_each_as_its_own_article(kind: str) -> None:
    shared_data("regions" if kind == "text" else "extraction")
    received = [
        receive(RawPage.model_validate(page), receipt_key=page["id"])
        for page in e2e.build_pages(kind, 200)
    ]
    real = [clean(page, max_page_bytes=8 << 20) for page in received]
    standin.install()
    try:
        stood_in = [clean(page, max_page_bytes=8 << 20) for page in received]
    finally:
        standin.uninstall()
    assert stood_in != real  # the stand-ins did the cleaning
    assert [type(result) for result in stood_in] == [type(result) for result in real]
    articles = {
        page.content_hash: result
        for page, result in zip(received, stood_in, strict=True)
        if isinstance(result, CleanPage)
    }
    assert len(articles) > 0.9 * len(received) / 1.22  # the distinct pages, less the bad ones
    keys = {(headline_key(a.headline), a.published) for a in articles.values()}
    assert len(keys) == len(articles)
    assert all(article.body and article.published for article in articles.values())
    # The real cleaners are back.
    assert [clean(page, max_page_bytes=8 << 20) for page in received[:20]] == real[:20]
