"""Per-source health on the real PostgreSQL: really ingested pages are tallied as the sightings
and articles say, once per receipt; the view and the drift check read them back; a drift warning
is claimed once a day; tallies rebuilt by the migration equal the ones kept live."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from celery import Celery
from conftest import EXAMPLES, REPO, query, run_cli, wait_for

from schemas import RawPage
from worker.config import Settings
from worker.crawl import state
from worker.health import Measure, SourceState, list_source_health, warn_once_a_day
from worker.ingest import ingest_batch
from worker.pipeline import Received, receive
from worker.store import reset_engine, status, transaction, upgrade_database
from worker.store.engine import alembic_config

GOLDEN = REPO / "tests" / "golden"
HEALTH = (
    "SELECT source, received, stored, duplicates, rejected, rejected_by_reason, dated_share, "
    "regioned_share, minute_precision_share, median_body_length, fetches, fetch_errors "
    "FROM newsingest.v1_source_health ORDER BY source, day"
)


def _pages(source: str, *, key: str) -> list[Received]:
    """Real dumps (text and HTML), a resend of each, and two that are no article."""
    contents = [
        path.read_text(encoding="utf-8")
        for path in sorted([*GOLDEN.glob("text/*.txt"), *EXAMPLES.glob("*.*")])
    ]
    contents += [contents[0], contents[1], "", "just a few words, no article"]
    return [
        receive(RawPage.model_validate({"content": c, "source": source}), receipt_key=f"{key}{i}")
        for i, c in enumerate(contents)
    ]


def _ingest(pages: list[Received]) -> None:
    with transaction() as session:
        ingest_batch(session=session, pages=pages, settings=Settings())


def _from_sightings(db: str) -> list[tuple[Any, ...]]:
    """The same figures computed from the consumer views of sightings and articles."""
    return query(
        db,
        """
        WITH s AS (SELECT * FROM newsingest.v1_sightings),
        stored AS (SELECT a.* FROM newsingest.v1_articles a
                   JOIN s ON s.article_id = a.id AND s.outcome = 'stored')
        SELECT s.source, count(*), count(*) FILTER (WHERE outcome = 'stored'),
               count(*) FILTER (WHERE outcome = 'duplicate'),
               count(*) FILTER (WHERE outcome = 'rejected'),
               coalesce((SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*) n
                FROM s r WHERE r.source = s.source AND reason IS NOT NULL GROUP BY reason) x),
                '{}'),
               (SELECT avg((published_at IS NOT NULL)::int) FROM stored WHERE source = s.source),
               (SELECT avg((region <> 'unknown')::int) FROM stored WHERE source = s.source),
               (SELECT avg((published_precision = 'minute')::int) FROM stored
                WHERE source = s.source AND published_at IS NOT NULL),
               (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY length(body)) FROM stored
                WHERE source = s.source),
               0, 0
        FROM s GROUP BY s.source ORDER BY s.source
        """,
    )


def _close(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with their fractions rounded: SQL's avg() is a numeric, the view's share a float."""
    return [
        tuple(round(float(v), 9) if isinstance(v, float | Decimal) else v for v in r) for r in rows
    ]


def test_ingested_pages_are_tallied_as_the_sightings_say(db: str) -> None:
    _ingest(_pages("wire", key="a"))
    _ingest(_pages("blog", key="b")[:3])
    health = query(db, HEALTH)
    assert _close(health) == _close(_from_sightings(db))
    wire = {row[0]: row for row in health}["wire"]
    assert wire[4] == 2  # the two dumps that are no article
    assert sum(wire[5].values()) == 2
    assert wire[1] == wire[2] + wire[3] + wire[4]


def test_a_redelivered_batch_is_tallied_once(db: str) -> None:
    pages = _pages("wire", key="a")
    _ingest(pages)
    before = query(db, HEALTH)
    _ingest(pages)  # the same receipts again: nothing new was received
    assert query(db, HEALTH) == before
    assert query(db, "SELECT count(*) FROM source_tallies") == [(1,)]


def test_crawl_fetches_and_their_errors_are_counted_per_day(db: str) -> None:
    now = datetime.now(UTC)

    def record(url: str, outcome: str, *, failed: bool) -> state.UrlRecord:
        return state.UrlRecord(url=url, kind="page", outcome=outcome, fetched_at=now, failed=failed)

    with transaction() as session:
        state.record_fetches(
            session=session,
            source="wire",
            records=[
                record("https://a.example/1", "enqueued", failed=False),
                record("https://a.example/2", "http_error", failed=True),
                record("https://a.example/3", "failed", failed=True),
                record("https://a.example/4", "disallowed", failed=False),  # never fetched
            ],
        )
    with transaction() as session:
        # The same URL fetched again later counts again: health counts fetches, not URLs.
        state.record_fetches(
            session=session,
            source="wire",
            records=[record("https://a.example/2", "http_error", failed=True)],
        )
    assert query(
        db, "SELECT source, received, fetches, fetch_errors FROM newsingest.v1_source_health"
    ) == [("wire", 0, 4, 3)]


def _tally_history(db: str, source: str, *, now: datetime, days: int, per_day: int) -> None:
    """`days` healthy days of a source before the last 24 hours, as batches would have left."""
    with psycopg.connect(db, autocommit=True) as conn:
        for back in range(1, days + 1):
            stored = per_day - per_day // 5
            conn.execute(
                "INSERT INTO source_tallies (source, tallied_at, received, stored, duplicates, "
                "rejected, rejected_by_reason, dated, minute_precision, regioned, body_lengths) "
                "VALUES (%s, %s, %s, %s, %s, 0, NULL, %s, %s, %s, %s)",
                (source, now - timedelta(days=back, hours=3), per_day, stored, per_day // 5,
                 stored, stored, stored, [1500 + i for i in range(stored)]),
            )  # fmt: skip


def test_a_source_whose_pages_stop_making_articles_is_flagged(db: str) -> None:
    now = datetime.now(UTC)
    _tally_history(db, "wire", now=now, days=14, per_day=60)
    _tally_history(db, "steady", now=now, days=14, per_day=5)
    # Today the wire's pages are all rejected; a new source sends real articles.
    empty = [
        receive(
            RawPage.model_validate({"content": f"menu {i}", "source": "wire"}), receipt_key=f"w{i}"
        )
        for i in range(40)
    ]
    _ingest(empty)
    _ingest(_pages("fresh", key="f"))
    with transaction() as session:
        judged = {h.source: h for h in list_source_health(session=session, now=datetime.now(UTC))}
    assert judged["wire"].state is SourceState.DRIFT
    (flag,) = judged["wire"].flags
    assert (flag.measure, flag.baseline, flag.today) == (Measure.REJECTED_SHARE, 0.0, 1.0)
    assert judged["wire"].today.rejected_by_reason == {"no_body": 40}
    assert judged["wire"].baseline[Measure.MEDIAN_BODY_LENGTH] == 1523.5  # median of 1500..1547
    assert judged["fresh"].state is SourceState.NEW
    assert judged["steady"].state is SourceState.QUIET  # five pages a day: silence is its normal
    assert judged["steady"].flags == ()


def test_a_drift_warning_is_claimed_once_a_day(db: str) -> None:
    now = datetime.now(UTC)
    _tally_history(db, "wire", now=now, days=14, per_day=60)  # and nothing since: silent
    warned: list[dict[str, Any]] = []

    def warn(event: str, **fields: Any) -> None:
        warned.append({"event": event, **fields})

    def check(at: datetime) -> list[str]:
        with transaction() as session:
            health = list_source_health(session=session, now=at)
            return warn_once_a_day(session=session, health=health, now=at, warn=warn)

    assert check(now) == ["wire"]
    assert check(now) == []
    assert check(now + timedelta(seconds=1)) == []
    assert warned == [
        {
            "event": "source_drift",
            "source": "wire",
            "flags": [{"measure": "volume", "baseline": 60.0, "today": 0.0}],
        }
    ]
    tomorrow = now + timedelta(days=1)
    assert check(tomorrow) == ["wire"]


def test_the_migration_rebuilds_the_tallies_of_earlier_pages(db: str) -> None:
    _ingest(_pages("wire", key="a"))
    _ingest(_pages("blog", key="b")[:4])
    _ingest(_pages("wire", key="c")[-3:])
    live = query(db, HEALTH)
    reset_engine(close=True)  # the downgrade drops tables this process's connections know
    command.downgrade(alembic_config(db), "0012")
    upgrade_database(db)
    assert _close(query(db, HEALTH)) == _close(live)


def test_the_health_command_exits_1_only_when_a_source_is_flagged(
    db: str, service_env: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    _ingest(_pages("fresh", key="f"))  # a new source: listed, never flagged
    _tally_history(db, "wire", now=now, days=14, per_day=60)
    _ingest(_pages("wire", key="w"))  # a healthy day's pages, if a small one

    calm = run_cli("sources", "--health", env=service_env)
    assert calm.returncode == 0, calm.stderr
    records = {r["source"]: r for r in map(json.loads, calm.stdout.splitlines())}
    assert {s: r["state"] for s, r in records.items()} == {"fresh": "new", "wire": "quiet"}
    assert records["wire"]["today"]["received"] == len(_pages("wire", key="w"))
    assert records["wire"]["baseline"]["volume"] == 60

    menus = [RawPage.model_validate({"content": f"menu {i}", "source": "wire"}) for i in range(60)]
    _ingest([receive(page, receipt_key=f"m{i}") for i, page in enumerate(menus)])
    flagged = run_cli("sources", "--health", "--format", "json", env=service_env)
    assert flagged.returncode == 1, flagged.stderr
    wire = next(r for r in map(json.loads, flagged.stdout.splitlines()) if r["source"] == "wire")
    assert wire["state"] == "drift"
    # The day's two pages that are no article and the sixty menus, of all it received.
    today = (2 + 60) / (len(_pages("wire", key="w")) + 60)
    assert wire["flags"] == [{"measure": "rejected_share", "baseline": 0.0, "today": today}]

    wide = service_env | {"COLUMNS": "200"}  # rich folds a pipe's table at 80 columns
    table = run_cli("sources", "--health", "--format", "table", env=wide)
    assert table.returncode == 1
    assert "drift" in table.stdout
    assert f"rejected_share: 0% → {today:.0%}" in table.stdout


def test_a_worker_logs_a_flagged_source_once_a_day(
    db: str, service_env: dict[str, str], worker_process: Any, tmp_path: Path
) -> None:
    _tally_history(db, "wire", now=datetime.now(UTC), days=14, per_day=60)  # silent since
    log = tmp_path / "worker-0.log"  # where the start_worker fixture keeps its output
    producer = Celery(broker=service_env["NEWSINGEST_BROKER_URL"])

    def checks_done() -> int:
        text = log.read_text(encoding="utf-8", errors="replace")
        return sum("health.check" in line and "succeeded" in line for line in text.splitlines())

    for n in (1, 2):  # what beat sends every NEWSINGEST_HEALTH_CHECK_SECONDS
        producer.send_task("health.check", queue=service_env["NEWSINGEST_QUEUE"])
        wait_for(lambda n=n: checks_done() == n, what=f"health check {n}")  # type: ignore[misc]
    warnings = [
        json.loads(line)
        for line in log.read_text(encoding="utf-8").splitlines()
        if '"source_drift"' in line
    ]
    assert [(w["level"], w["source"], w["flags"]) for w in warnings] == [
        ("warning", "wire", [{"measure": "volume", "baseline": 60.0, "today": 0.0}])
    ]
    assert worker_process.poll() is None


def test_the_status_page_lists_a_drifting_sources_flags(db: str) -> None:
    now = datetime.now(UTC)
    _tally_history(db, "wire", now=now, days=14, per_day=60)
    _ingest(
        [
            receive(
                RawPage.model_validate({"content": f"menu {i}", "source": "wire"}),
                receipt_key=f"w{i}",
            )
            for i in range(40)
        ]
    )
    _ingest(_pages("fresh", key="f"))
    with transaction() as session:
        shown = {
            row.source: row.flags
            for row in status.list_source_counts(
                session=session, now=datetime.now(UTC), days=14, offset=0, limit=10
            )
        }
    assert shown == {"wire": ("rejected_share 0 → 1",), "fresh": ()}
