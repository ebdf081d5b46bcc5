"""The incremental pull: ingest_seq below the horizon never misses or repeats a row, even when
transactions commit out of order; LISTEN hears a batch when it commits and only then."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import orjson
import psycopg
from conftest import DUMP, query, wait_for
from consumer_rows import insert_article, pull

from schemas import RawPage
from worker.config import Settings
from worker.ingest import ingest_batch
from worker.pipeline import receive
from worker.store import transaction


def _pull_all(conn: psycopg.Connection[Any], after: int) -> tuple[list[int], int]:
    """Pull pages of 2 until nothing is left; returns the ids seen and the new cursor."""
    ids: list[int] = []
    while page := pull(conn, after, limit=2):
        ids += [article_id for article_id, _ in page]
        after = page[-1][1]
    return ids, after


def _caught_up(conn: psycopg.Connection[Any], cursor: int, expected: list[int]) -> int:
    """Pull from `cursor` until `expected` ids have come, in that order; returns the new cursor.

    Waits because a writer of this database may hold the horizon back a while (by design, pulls
    are late rather than lossy).
    """
    pulled: list[int] = []

    def done() -> bool:
        nonlocal cursor
        ids, cursor = _pull_all(conn, cursor)
        pulled.extend(ids)
        return len(pulled) >= len(expected)

    wait_for(done, timeout=60, what=f"{len(expected)} rows to pass the pull horizon")
    assert pulled == expected
    return cursor


def test_a_late_commit_with_a_lower_position_is_not_missed(db: str) -> None:
    with (
        psycopg.connect(db, autocommit=True) as reader,
        psycopg.connect(db) as slow,
        psycopg.connect(db) as fast,
    ):
        before = insert_article(reader)  # autocommit: done before the race starts
        cursor = _caught_up(reader, 0, [before])

        late = insert_article(slow)  # draws the lower id and the lower xid, commits last
        early = insert_article(fast)
        fast.commit()
        assert late < early
        # The trap a plain sequence falls into: `id > cursor` would hand out `early` now, and
        # `late` would then commit behind the cursor and never be pulled.
        assert query(db, "SELECT id FROM articles WHERE id > %s ORDER BY id", before) == [(early,)]
        assert pull(reader, cursor) == []  # `early` waits until `late`'s transaction has ended

        slow.commit()
        cursor = _caught_up(reader, cursor, [late, early])  # the slow one first: its xid is lower
        assert pull(reader, cursor) == []  # nothing repeated


def test_a_rolled_back_insert_leaves_no_hole_and_no_row(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as reader, psycopg.connect(db) as doomed:
        insert_article(doomed)
        kept = insert_article(reader)
        assert pull(reader, 0) == []
        doomed.rollback()
        _caught_up(reader, 0, [kept])


def test_concurrent_writers_and_a_puller_agree_on_every_row(db: str) -> None:
    rng = random.Random(7)
    plans = [[rng.randint(1, 3) for _ in range(8)] for _ in range(4)]
    pauses = [[rng.uniform(0, 0.03) for _ in range(8)] for _ in range(4)]
    written: list[int] = []
    lock = threading.Lock()

    def writer(plan: list[int], pause: list[float]) -> None:
        with psycopg.connect(db) as conn:
            for rows, wait in zip(plan, pause, strict=True):
                ids = [insert_article(conn) for _ in range(rows)]
                time.sleep(wait)  # hold the transaction open while others commit
                conn.commit()
                with lock:
                    written.extend(ids)

    threads = [threading.Thread(target=writer, args=pp) for pp in zip(plans, pauses, strict=True)]
    pulled: list[int] = []
    seqs: list[int] = []
    cursor = 0
    with psycopg.connect(db, autocommit=True) as reader:
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for article_id, seq in pull(reader, cursor, limit=3):
                pulled.append(article_id)
                seqs.append(seq)
                cursor = seq
            time.sleep(0.005)
        for thread in threads:
            thread.join()
        total = sum(map(sum, plans))

        def drained() -> bool:
            nonlocal cursor
            for article_id, seq in pull(reader, cursor):
                pulled.append(article_id)
                seqs.append(seq)
                cursor = seq
            return len(pulled) >= total

        wait_for(drained, timeout=60, what="the puller to see every committed row")
    assert len(written) == total
    assert sorted(pulled) == sorted(written)  # nothing missed, nothing repeated
    assert seqs == sorted(seqs)


def test_a_content_change_moves_the_row_forward_and_a_sighting_does_not(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        article = insert_article(conn)
        other = insert_article(conn)
        (first,) = conn.execute("SELECT ingest_seq FROM articles WHERE id = %s", (article,))
        conn.execute(
            "UPDATE articles SET seen_count = seen_count + 1, last_seen_at = now() WHERE id = %s",
            (article,),
        )
        (after_sighting,) = conn.execute(
            "SELECT ingest_seq FROM articles WHERE id = %s", (article,)
        )
        assert after_sighting == first
        conn.execute("UPDATE articles SET region = 'Africa' WHERE id = %s", (article,))
        (after_reprocess,) = conn.execute(
            "SELECT ingest_seq FROM articles WHERE id = %s", (article,)
        )
        (other_seq,) = conn.execute("SELECT ingest_seq FROM articles WHERE id = %s", (other,))
        assert after_reprocess[0] > other_seq[0] > first[0]


def _dump_page() -> Any:
    dump = DUMP.read_text(encoding="utf-8")
    page = RawPage.model_validate({"content": dump, "source": "test"})
    return receive(page, receipt_key=str(uuid.uuid4()))


def test_listeners_hear_a_batch_when_it_commits(db: str) -> None:
    page = _dump_page()
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN newsingest_articles")
        with transaction() as session:
            ingest_batch(session=session, pages=[page], settings=Settings())
            # Not yet committed: nothing is delivered.
            assert list(listener.notifies(timeout=0.3, stop_after=1)) == []
        heard = list(listener.notifies(timeout=10, stop_after=1))
    assert len(heard) == 1
    assert heard[0].channel == "newsingest_articles"
    assert orjson.loads(heard[0].payload) == {"stored": 1}


def test_a_rolled_back_batch_is_not_announced(db: str) -> None:
    page = _dump_page()

    class Abandon(Exception):
        pass

    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN newsingest_articles")
        try:
            with transaction() as session:
                ingest_batch(session=session, pages=[page], settings=Settings())
                raise Abandon
        except Abandon:
            pass
        assert list(listener.notifies(timeout=1, stop_after=1)) == []
    assert query(db, "SELECT count(*) FROM articles") == [(0,)]
