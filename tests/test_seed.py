"""The canonical dump (../shared/data/seed) through the pure pipeline, against tests/expected."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, SEED, shared_data

from schemas import RawPage
from worker.pipeline import Processed, process, receive

EXPECTED = json.loads((REPO / "tests" / "expected" / "seed.json").read_text(encoding="utf-8"))
CHROME = [
    "(left) talks to Russian Foreign Minister",  # image caption
    "must look beyond their differences",  # image caption
    "Print Sponsor",
    "Nato chief reaches out to Russia",  # related stories
    "18 Sep 09",
    "France24",  # other sources
    "Has China's housing bubble burst?",
    "Sign in",
    "BBC navigation",
    "Copyright",
    "best viewed in an up-to-date web browser",
    "Americas Africa Europe",  # region menu
]


@pytest.fixture(scope="module")
def seed() -> Processed:
    page = RawPage(content=shared_data("seed", SEED.name).read_text(encoding="utf-8"))
    result = process(receive(page, receipt_key="seed"), max_page_bytes=5_000_000)
    assert isinstance(result, Processed), result
    return result


def test_seed_fields(seed: Processed) -> None:
    published = seed.clean.published
    assert published is not None
    assert seed.clean.headline == EXPECTED["headline"]
    assert published.at.strftime("%Y-%m-%dT%H:%M:%SZ") == EXPECTED["published_at"]
    assert published.precision == EXPECTED["published_precision"]
    assert published.source == EXPECTED["published_source"]
    assert published.utc_offset_minutes == EXPECTED["published_utc_offset_minutes"]
    assert seed.verdict.region == EXPECTED["region"]
    assert seed.clean.kind == EXPECTED["content_type"]
    assert list(seed.clean.section_labels) == EXPECTED["section_labels"]


def test_seed_body_is_the_article_and_nothing_else(seed: Processed) -> None:
    body = "\n\n".join(seed.clean.body)
    assert body == EXPECTED["body"]
    for chrome in CHROME:
        assert chrome not in body, chrome


def test_seed_dedupe_key(seed: Processed) -> None:
    assert seed.headline_key == "nato chief seeks russian helicopters for afghanistan"
