"""The wire contracts: the JSON Schema files match the models; RawPage refuses bad input."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import MAX_CONTENT_CHARS, RawPage
from schemas._export import CONTRACTS, JSON_DIR, check_schema_files, render_schema


def test_schema_files_match_the_models() -> None:
    stale = check_schema_files()
    assert not stale, f"run `python -m schemas` to refresh: {stale}"


def test_every_contract_has_a_file() -> None:
    for name, model in CONTRACTS.items():
        path = JSON_DIR / f"{name}.schema.json"
        assert path.read_text(encoding="utf-8") == render_schema(model)


def test_a_minimal_raw_page_needs_only_content() -> None:
    page = RawPage(content="Headline\n\nBody.")
    assert page.source == "unknown"
    assert page.content_encoding == "text"


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no content
        {"content": "x", "url": "ftp://example.com/page.html"},  # neither http(s) nor a file
        {"content": "x", "url": "javascript:alert(1)"},
        {"content": "x", "url": "file:page.html"},  # a file: URL names an absolute path
        {"content": "x", "unexpected": 1},  # unknown fields are refused, not ignored
        {"content": "x", "fetched_at": "2020-01-01T10:00:00"},  # naive timestamp
        {"content": "x" * (MAX_CONTENT_CHARS + 1)},  # over the hard size ceiling
        {"content": "x", "content_encoding": "pickle"},
    ],
)
def test_raw_page_refuses(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RawPage.model_validate(fields)


def test_a_raw_page_url_is_a_web_address_or_a_local_file() -> None:
    for url in ("https://example.com/a", "http://example.com/a", "file:///srv/dumps/a%20b.html"):
        assert RawPage(content="x", url=url).url == url
