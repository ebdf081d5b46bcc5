"""Story linking: one story across forms (HTML and text) and across outlets (syndication).

Ingests, through the real pipeline and store (`store_pages`, one transaction per batch) into a
scratch database, and prints one JSON line per part and split (bench/splits.py):

- `forms`: every Scrapinghub page as HTML and as its text dump (same file stem): the share of
  pairs that get one dedupe key (one article: `same_key_share`, with what keeps the others apart,
  and on the tuning part each such pair's two keys) and the share that end in one story (both
  stored; a rejected copy is counted apart).
- `forms-eval`: the same on trafilatura-eval's pages that have a URL (about 940), their dumps
  rendered by w3m (`bench/w3m.py`; skipped without the program): a second, larger set of pairs.
- `syndication`: the Reuters stories of some days, each re-sent by 0-4 outlets with seeded edits
  (headline rewritten, first or last paragraph cut, the outlet's header and footer, paragraphs
  re-wrapped, a later timestamp), all in one random order: recall (copies in their original's
  story), wrong links (an article linked to another story's article, per article), pairwise
  precision and recall, the adjusted Rand index of the clustering, and the store's CPU per
  article in this process and in the PostgreSQL backend. Recall is also given over stories whose
  body is long enough to link (`shingles.MIN_SHINGLES`); briefs never link by body, by design.

    .venv/bin/python bench/stories.py [--part forms|forms-eval|syndication] [--days 20] [--keep]

Server: PostgreSQL at NEWSINGEST_BENCH_POSTGRES_URL (default postgres on 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import textwrap
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import comb
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import w3m
from e2e import CHROME_BOTTOM, CHROME_TOP, DATA  # the e2e text dumps' site chrome
from scratch import scratch_database
from splits import SPLITS, split

_MAX_STEM_CHARS = 150
_URL_SHOWN_CHARS = 70

OUTLETS = [
    ("Valley Courier", "The Valley Courier | News you can trust", "Subscribe to the Courier."),
    ("Harbour Times", "HARBOUR TIMES - business desk", "Harbour Times Ltd. Reprinted with leave."),
    ("Daily Ledger", "From the wires, via the Daily Ledger", "Follow the Ledger for updates."),
    ("Metro Post", "Metro Post / World", "Copyright the Metro Post and its wire partners."),
]


def _reuters_days(days: int, rng: random.Random) -> list[dict[str, Any]]:
    """The Reuters stories of `days` days picked at random, with their UTC timestamps."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with (DATA / "regions" / "reuters21578-train.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            if not story["title"] or not (story["body"] or "").strip():
                continue
            stamp = story["date"].strip().split(".")[0]
            try:
                when = datetime.strptime(stamp, "%d-%b-%Y %H:%M:%S")
            except ValueError:
                continue
            story["when"] = when.replace(tzinfo=UTC)
            by_day[story["date"][:11]].append(story)
    chosen = rng.sample(sorted(day for day, stories in by_day.items() if len(stories) >= 20), days)
    return [story for day in sorted(chosen) for story in by_day[day]]


def _retransmissions(stories: list[dict[str, Any]], *, by_body: bool) -> dict[str, str]:
    """The true story of each Reuters item: items under the same title within a day are the
    wire's own retransmissions and corrections (the corpus holds such pairs with identical
    bodies), so they count as one story; the smallest newid names it. With `by_body`, so are
    items with the very same body text within a day under an edited title ("ST. JOE GOLD <SJG>
    TO DEVELOP MINE", then "ST. JOE GOLD TO DEVELOP ONTARIO MINE"): a corrected headline is the
    same story (issue #20), and the corpus does not mark these as duplicates."""
    first: dict[str, str] = {}
    latest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for story in sorted(stories, key=lambda s: s["when"]):
        newid = str(story["newid"])
        names = [("title", " ".join(story["title"].split()).casefold())]
        if by_body:
            names.append(("body", " ".join(story["body"].split())))
        near = [
            before
            for name in names
            if (before := latest.get(name)) is not None
            and story["when"] - before[0] <= timedelta(days=1)
        ]
        first[newid] = first[min(near)[1]] if near else newid
        for name in names:
            latest[name] = (story["when"], newid)
    return first


def _paragraphs(body: str) -> list[str]:
    return [" ".join(p.split()) for p in body.split("\n    ") if p.strip()]


def _dump(headline: str, when: datetime, paragraphs: list[str], related: str) -> str:
    return (
        CHROME_TOP
        + when.strftime("Page last updated at %H:%M GMT, %A, %-d %B %Y")
        + f"\n\n{headline}\n\n"
        + "\n\n".join(paragraphs)
        + CHROME_BOTTOM.format(related=related)
    )


def _rewritten(title: str, rng: random.Random) -> str:
    """Another outlet's headline for the same story."""
    words = title.title().split()
    if len(words) > 3:
        del words[rng.randrange(len(words))]
    forms = ["{} - Report", "Wire: {}", "{}, Sources Say", "Update: {}", "{} As Markets Watch"]
    return rng.choice(forms).format(" ".join(words))


def _copy(story: dict[str, Any], outlet: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """An outlet's edited copy of a story as a text dump, and the edits made."""
    name, header, footer = OUTLETS[outlet]
    paragraphs = _paragraphs(story["body"])
    edits: dict[str, Any] = {"outlet": name}
    if len(paragraphs) > 3 and rng.random() < 0.5:
        cut = rng.choice(["first", "last"])
        paragraphs = paragraphs[1:] if cut == "first" else paragraphs[:-1]
        edits["cut"] = cut
    if rng.random() < 0.5:
        width = rng.randrange(50, 90)
        paragraphs = [textwrap.fill(p, width) for p in paragraphs]
        edits["rewrapped"] = width
    if rng.random() < 0.7:
        paragraphs = [header, *paragraphs, footer]
        edits["header_footer"] = True
    when = story["when"] + timedelta(minutes=rng.randrange(1, 600))
    return _dump(_rewritten(story["title"], rng), when, paragraphs, "More wire news"), edits


def _ingest(pages: list[dict[str, Any]], *, batch_size: int) -> tuple[dict[str, int], float]:
    """Store the pages in batches; their article ids by page id, and this process's CPU."""
    from schemas import RawPage
    from worker.config import get_settings
    from worker.ingest import store_pages
    from worker.pipeline import receive

    settings = get_settings()
    articles: dict[str, int] = {}
    cpu = 0.0
    for start in range(0, len(pages), batch_size):
        chunk = [
            receive(RawPage.model_validate(p), receipt_key=p["id"])
            for p in pages[start:][:batch_size]
        ]
        began = time.process_time()
        outcome = store_pages(pages=chunk, settings=settings)
        cpu += time.process_time() - began
        for item in outcome.items:
            if item.article_id is not None:
                articles[item.receipt_key] = item.article_id
    return articles, cpu


def _stories(db_url: str) -> dict[int, tuple[int, int | None, str | None, float | None]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, story_id, linked_to, link_reason::text, link_similarity FROM articles"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _adjusted_rand(truth: list[Any], found: list[Any]) -> float:
    pairs = Counter(zip(truth, found, strict=True))
    index = sum(comb(n, 2) for n in pairs.values())
    a = sum(comb(n, 2) for n in Counter(truth).values())
    b = sum(comb(n, 2) for n in Counter(found).values())
    expected = a * b / comb(len(truth), 2)
    top = (a + b) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


@dataclass
class _Scorer:
    """Scores a story clustering of the syndication pages against the truth."""

    truth: dict[str, str]
    originals: dict[str, str]
    articles: dict[str, int]
    stored_linkable: dict[int, bool]
    long_enough: set[str]
    article_truth: dict[int, set[str]]

    def __call__(self, found: dict[int, Any], part: str, label: str) -> dict[str, Any]:
        """The figures of one split."""
        truth, originals, articles = self.truth, self.originals, self.articles
        ids = [p for p in articles if split(truth[p]) == part]
        copies = [p for p in ids if not p.endswith(":reuters") and originals[truth[p]] in articles]
        linked = {
            p for p in copies if found[articles[p]][0] == found[articles[originals[truth[p]]]][0]
        }
        linkable = [p for p in copies if truth[p] in self.long_enough]
        # Copies whose stored body and whose original's stored body are both long enough: what
        # the linking rules are asked to find (the cleaner may have cut a copy to a brief).
        both = [
            p
            for p in copies
            if self.stored_linkable[articles[p]]
            and self.stored_linkable[articles[originals[truth[p]]]]
        ]
        # Per article (one article may hold several pages: an exact duplicate).
        part_articles = sorted({articles[p] for p in ids})
        labels = {a: min(self.article_truth[a]) for a in part_articles}
        wrong = [
            a
            for a in part_articles
            if found[a][1] is not None and labels.get(found[a][1], labels[a]) != labels[a]
        ]
        truth_of_pages = [truth[p] for p in ids]
        found_of_pages = [found[articles[p]][0] for p in ids]
        together = Counter(zip(truth_of_pages, found_of_pages, strict=True))
        tp = sum(comb(n, 2) for n in together.values())
        found_pairs = sum(comb(n, 2) for n in Counter(found_of_pages).values())
        true_pairs = sum(comb(n, 2) for n in Counter(truth_of_pages).values())
        return {
            "part": label,
            "split": part,
            "stories": len({truth[p] for p in ids}),
            "pages": len(ids),
            "articles": len(part_articles),
            "copies": len(copies),
            "recall": round(len(linked) / max(1, len(copies)), 4),
            "recall_linkable": round(sum(p in linked for p in linkable) / max(1, len(linkable)), 4),
            "recall_stored_linkable": round(sum(p in linked for p in both) / max(1, len(both)), 4),
            "wrong_links": len(wrong),
            "wrong_link_share": round(len(wrong) / max(1, len(part_articles)), 4),
            "pair_precision": round(tp / max(1, found_pairs), 4),
            "pair_recall": round(tp / max(1, true_pairs), 4),
            "adjusted_rand": round(_adjusted_rand(truth_of_pages, found_of_pages), 4),
            "wrong_examples": [
                (labels[a], labels.get(found[a][1], "?"), found[a][2], found[a][3])
                for a in wrong[:5]
            ],
        }


def forms(db_url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 1: each Scrapinghub page as HTML and as its text dump."""
    gold = json.loads((DATA / "extraction" / "scrapinghub" / "ground-truth.json").read_text())
    pairs = []
    for stem, record in sorted(gold.items()):
        html = gzip.decompress(
            (DATA / "extraction" / "scrapinghub" / "html" / f"{stem}.html.gz").read_bytes()
        ).decode("utf-8", "replace")
        dump = (DATA / "extraction" / "scrapinghub-textdumps" / f"{stem}.txt").read_text()
        pairs.append((stem, record["url"], html, dump))
    return _forms(db_url, args, pairs, "scrapinghub")


def forms_eval(db_url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 1 again on trafilatura-eval's 990 pages, their dumps rendered by w3m (bench/w3m.py):
    a second, larger set of development pages, which the linking rules were not set on."""
    if not w3m.available():
        print("forms-eval: skipped, w3m is not installed (apt install w3m)", file=sys.stderr)
        return []
    from worker.pipeline.decode import decode
    from worker.pipeline.types import Rejection

    folder = DATA / "extraction" / "trafilatura-eval"
    cases = json.loads((folder / "evaldata.json").read_bytes())
    pairs = []
    for url in sorted(cases):
        source = folder / cases[url]["file"]
        if not source.is_file() or not url.startswith(("http://", "https://")):
            continue  # a few are named, not addressed ("hard::..."): a page has its URL here
        html = decode(gzip.decompress(source.read_bytes()), content_type="text/html")
        if isinstance(html, Rejection):
            continue
        # The page ids name the receipt (at most 200 characters); the split goes by the URL, as
        # in bench/extraction.py's dumps-eval section.
        pairs.append((url, url, html, w3m.render(url, html)))
    return _forms(db_url, args, pairs, "trafilatura-eval")


def _forms(
    db_url: str, args: argparse.Namespace, pairs: list[tuple[str, str, str, str]], label: str
) -> list[dict[str, Any]]:
    """Ingest each (id, URL, HTML, dump) pair's two forms in one random order; score the pairs."""
    pages = []
    for stem, url, html, dump in pairs:
        for kind, content in (("html", html), ("text", dump)):
            pages.append(
                {
                    "id": f"{_page_id(stem)}:{kind}",
                    "content": content,
                    "content_type": "text/html" if kind == "html" else "text/plain",
                    "url": url,
                    "source": f"forms-{kind}",
                }
            )
    random.Random(args.seed).shuffle(pages)
    articles, _ = _ingest(pages, batch_size=args.batch_size)
    stories = _stories(db_url)
    keys = _keys(db_url)
    # Each pair's two articles, where both forms were stored.
    stored = {
        stem: (articles[f"{_page_id(stem)}:html"], articles[f"{_page_id(stem)}:text"])
        for stem, *_ in pairs
        if f"{_page_id(stem)}:html" in articles and f"{_page_id(stem)}:text" in articles
    }
    figures = []
    for part in SPLITS:
        stems = [stem for stem, *_ in pairs if split(stem) == part]
        both = [s for s in stems if s in stored]
        linked = [s for s in both if stories[stored[s][0]][0] == stories[stored[s][1]][0]]
        how = Counter(
            "same_article"
            if stored[s][0] == stored[s][1]
            else str(stories[stored[s][1]][2] or stories[stored[s][0]][2])
            for s in linked
        )
        same_key = [s for s in both if stored[s][0] == stored[s][1]]
        apart = {
            s: _why_apart(keys[stored[s][0]], keys[stored[s][1]]) for s in both if s not in same_key
        }
        figure = {
            "part": "forms",
            "set": label,
            "split": part,
            "pairs": len(stems),
            "both_stored": len(both),
            "same_key": len(same_key),
            "same_key_share": round(len(same_key) / max(1, len(both)), 4),
            "keys_differ_by": dict(Counter(apart.values())),
            "linked": len(linked),
            "linked_share": round(len(linked) / max(1, len(both)), 4),
            "how": dict(how),
            "unlinked": sorted(_short(s) for s in set(both) - set(linked)),
        }
        if part == "tune":
            # Why each pair's keys differ, on the tuning part only (never look at the holdout's).
            figure["keys_apart"] = {
                _short(s): [why, _key_text(keys[stored[s][0]]), _key_text(keys[stored[s][1]])]
                for s, why in sorted(apart.items())
            }
        figures.append(figure)
    return figures


def _page_id(stem: str) -> str:
    """A pair's page id: its stem, or a digest of a stem too long for a receipt (a URL)."""
    return stem if len(stem) <= _MAX_STEM_CHARS else hashlib.sha256(stem.encode()).hexdigest()


def _short(stem: str) -> str:
    """How a pair is named in the figures: a file stem's first characters, or its URL."""
    return stem[:_URL_SHOWN_CHARS] if "://" in stem else stem[:8]


def _keys(db_url: str) -> dict[int, tuple[str, datetime | None, str | None, int | None]]:
    """Each article's headline_key, published_at, precision and UTC offset, by id."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, headline_key, published_at, published_precision,"
            " published_utc_offset_minutes FROM articles"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _why_apart(html: tuple[Any, ...], text: tuple[Any, ...]) -> str:
    """Which part of the dedupe key keeps a page's two forms apart."""
    if html[0] != text[0]:
        return "headline" if html[1] == text[1] else "headline and time"
    if html[1] is None or text[1] is None:
        return "one undated"
    return "time"


def _key_text(key: tuple[Any, ...]) -> str:
    headline, at, precision, offset = key
    when = "undated" if at is None else f"{at:%Y-%m-%d %H:%M}Z {precision} offset={offset}"
    return f"{headline[:50]} @ {when}"


def syndication(db_url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 2: Reuters stories of some days, re-sent by outlets with edits."""
    from worker.pipeline.shingles import body_print

    rng = random.Random(args.seed)
    stories = _reuters_days(args.days, rng)
    same_story = _retransmissions(stories, by_body=not args.same_title_only)
    pages, truth, originals = [], {}, {}
    for story in stories:
        story_id = same_story[str(story["newid"])]
        # Each item its own receipt: a retransmission under one receipt key with its first
        # would be taken for a redelivery of the same message and never stored.
        page_id = f"{story['newid']}:reuters"
        content = _dump(story["title"].title(), story["when"], _paragraphs(story["body"]), "")
        pages.append({"id": page_id, "content": content, "source": "reuters"})
        truth[page_id] = story_id
        originals.setdefault(story_id, page_id)
        for outlet in rng.sample(range(len(OUTLETS)), rng.choice([0, 0, 1, 2, 3, 4])):
            content, _ = _copy(story, outlet, rng)
            copy_id = f"{story['newid']}:{outlet}"
            pages.append({"id": copy_id, "content": content, "source": OUTLETS[outlet][0]})
            truth[copy_id] = story_id
    rng.shuffle(pages)
    for page in pages:
        page["content_type"] = "text/plain"

    from worker.store import transaction

    with transaction() as session:
        backend_pid = session.scalar(text("SELECT pg_backend_pid()"))
    backend = psutil.Process(backend_pid)
    server0 = backend.cpu_times()
    articles, client = _ingest(pages, batch_size=args.batch_size)
    server1 = backend.cpu_times()
    server = server1.user + server1.system - server0.user - server0.system
    with psycopg.connect(db_url) as conn:
        stored_linkable = {
            article_id: body_print(body).linkable
            for article_id, body in conn.execute("SELECT id, body FROM articles")
        }
    long_enough = {
        same_story[str(s["newid"])]
        for s in stories
        if body_print(" ".join(_paragraphs(s["body"]))).linkable
    }
    article_truth: dict[int, set[str]] = defaultdict(set)
    for page_id, article_id in articles.items():
        article_truth[article_id].add(truth[page_id])
    score = _Scorer(truth, originals, articles, stored_linkable, long_enough, article_truth)
    found = _stories(db_url)
    figures = [score(found, part, "syndication") for part in SPLITS]
    # Then every link decided again in publication order, as `reprocess --stories` does: a copy
    # that arrived before its original and bridged to nothing finds its story then.
    from worker.config import get_settings
    from worker.store import story_rules
    from worker.store.stories import list_relink_ids, relink_stories

    with transaction() as session:
        ids = list_relink_ids(session=session)
    for start in range(0, len(ids), 500):
        with transaction() as session:
            relink_stories(
                session=session,
                ids=ids[start : start + 500],
                rules=story_rules(get_settings()),
            )
    relinked = _stories(db_url)
    figures += [score(relinked, part, "syndication_relinked") for part in SPLITS]
    figures.append(
        {
            "part": "syndication_cost",
            "pages": len(pages),
            "articles": len(relinked),
            "cpu_us_per_page": {
                "worker_store_and_pipeline": round(client * 1e6 / len(pages)),
                "postgresql": round(server * 1e6 / len(pages)),
            },
        }
    )
    return figures


def main() -> None:
    """Parse the options, run both parts on scratch databases, print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20, help="Reuters days to syndicate")
    parser.add_argument(
        "--similarity", type=float, default=None, help="NEWSINGEST_STORY_SIMILARITY"
    )
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--part", choices=["forms", "forms-eval", "syndication", "both"], default="both"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--same-title-only",
        action="store_true",
        help="count wire items with one body under edited titles as distinct stories (the "
        "truth before 2026-12-08)",
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not here: the benchmark builds its pages from the shared data")
    if args.similarity is not None:
        os.environ["NEWSINGEST_STORY_SIMILARITY"] = str(args.similarity)
    parts = {
        "forms": [forms],
        "forms-eval": [forms_eval],
        "syndication": [syndication],
        "both": [forms, forms_eval, syndication],
    }
    for measure in parts[args.part]:
        from worker.config import get_settings
        from worker.store import reset_engine

        with scratch_database("stories", keep=args.keep) as db_url:
            os.environ["NEWSINGEST_DATABASE_URL"] = db_url
            get_settings.cache_clear()
            try:
                for figures in measure(db_url, args):
                    print(json.dumps(figures))
            finally:
                reset_engine(close=True)


if __name__ == "__main__":
    main()
