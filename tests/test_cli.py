"""The `newsingest` command as a user runs it: exit codes, summaries, inspect's JSON."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from conftest import (
    DUMP,
    DUMP_HEADLINE,
    EXAMPLES,
    REPO,
    SEED,
    newsingest_bin,
    query,
    run_cli,
    shared_data,
)


def test_help_lists_the_commands(service_env: dict[str, str]) -> None:
    result = run_cli("--help", env=service_env)
    assert result.returncode == 0
    for command in ("ingest", "enqueue", "worker", "inspect", "stats", "db"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_ingest_examples_in_process(service_env: dict[str, str], db: str) -> None:
    result = run_cli("ingest", str(EXAMPLES), env=service_env)
    assert result.returncode == 0, result.stderr
    assert "stored, by region" in result.stdout
    regions = dict(query(db, "SELECT headline, region FROM articles"))
    assert regions == {
        "Kenya opens emergency shelters as Tana River floods spread": "Africa",
        "Osaka brings back trams to its waterfront": "Asia-Pacific",
    }
    stats = run_cli("stats", env=service_env)
    assert stats.returncode == 0, stats.stderr
    assert "the books balance" in stats.stdout


def test_ingest_with_a_pool_of_processes_records_what_one_process_does(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    dump = DUMP.read_bytes()
    inputs = {
        "a-dump.txt": dump,
        "b-empty.txt": b"   \n",
        # Batches of two: the copy's batch goes to the pool before the dump's is stored.
        "c-dump-copy.txt": dump,
        **{f"d-{path.name}": path.read_bytes() for path in sorted(EXAMPLES.iterdir())},
    }
    for name, content in inputs.items():
        (tmp_path / name).write_bytes(content)
    result = run_cli("ingest", str(tmp_path), "--jobs", "2", "--batch-size", "2", env=service_env)
    assert result.returncode == 1, result.stderr  # one input was rejected
    assert set(query(db, "SELECT headline, region FROM articles")) == {
        (DUMP_HEADLINE, "Africa"),
        ("Osaka brings back trams to its waterfront", "Asia-Pacific"),
    }
    # The Kenya story came four times: as a- and c-dump, among the examples, and re-sent short.
    outcomes = query(db, "SELECT outcome::text, count(*) FROM sightings GROUP BY 1 ORDER BY 1")
    assert outcomes == [("duplicate", 3), ("rejected", 1), ("stored", 2)]
    stats = run_cli("stats", env=service_env)
    assert "the books balance" in stats.stdout


def test_ingest_exits_1_when_an_input_is_rejected(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    (tmp_path / "empty.txt").write_bytes(b"   \n")
    result = run_cli("ingest", str(DUMP), str(tmp_path / "empty.txt"), env=service_env)
    assert result.returncode == 1
    assert "empty" in result.stdout
    assert query(db, "SELECT count(*) FROM articles") == [(1,)]


def test_ingest_reads_stdin(service_env: dict[str, str], db: str) -> None:
    result = run_cli("ingest", "-", env=service_env, stdin=DUMP.read_bytes())
    assert result.returncode == 0, result.stderr
    assert query(db, "SELECT region FROM articles") == [("Africa",)]


def test_a_missing_path_is_a_usage_error(service_env: dict[str, str]) -> None:
    result = run_cli("ingest", "/no/such/dump.txt", env=service_env)
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_ingest_stops_at_an_unreadable_file_after_recording_what_it_read(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    for path in sorted(EXAMPLES.iterdir()):
        (tmp_path / f"a-{path.name}").write_bytes(path.read_bytes())
    (tmp_path / "b-gone.txt").symlink_to(tmp_path / "nowhere.txt")  # listed, cannot be opened
    (tmp_path / "c-later.txt").write_bytes(DUMP.read_bytes())
    result = run_cli("ingest", str(tmp_path), "--batch-size", "2", env=service_env)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert "b-gone.txt': No such file or directory" in said
    # The batch read before the one the failure cut short was stored (the Kenya story and its
    # re-send), not dropped; the Osaka page, read into the cut batch, and the rest were not.
    assert "2 dumps were recorded before the run stopped" in said
    assert query(db, "SELECT count(*) FROM sightings") == [(2,)]
    assert query(db, "SELECT region FROM articles") == [("Africa",)]


def test_an_unreachable_database_exits_3(service_env: dict[str, str]) -> None:
    env = service_env | {"NEWSINGEST_DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:1/x"}
    result = run_cli("ingest", str(EXAMPLES), env=env)
    assert result.returncode == 3
    assert "s3cret" not in result.stderr + result.stdout


def test_inspect_json_on_the_seed(service_env: dict[str, str]) -> None:
    seed = shared_data("seed", SEED.name)
    result = run_cli("inspect", str(seed), "--json", env=service_env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    expected = json.loads((REPO / "tests" / "expected" / "seed.json").read_text())
    for field, value in expected.items():
        assert record[field] == value, field
    assert record["input"] == str(seed)


def test_rejects_replay_and_reprocess(service_env: dict[str, str], db: str) -> None:
    dump = DUMP
    assert dump.stat().st_size > 1024
    small = service_env | {"NEWSINGEST_MAX_PAGE_BYTES": "1024"}
    assert run_cli("ingest", str(dump), "--source", "bbc", env=small).returncode == 1
    listed = run_cli("rejects", env=service_env)
    assert listed.returncode == 0, listed.stderr
    assert "too_large" in listed.stdout
    assert "too_large: 1" in listed.stdout

    # Only the first 1024 bytes were kept, so no limit makes the dump whole again.
    replayed = run_cli("rejects", "replay", "--reason", "too_large", env=service_env)
    assert replayed.returncode == 1, replayed.stderr  # the dump is still rejected
    assert "replayed 1: 0 stored, 0 duplicates, 1 still rejected" in replayed.stdout

    assert run_cli("ingest", str(dump), "--source", "bbc", env=service_env).returncode == 0
    assert query(db, "SELECT source, region FROM articles") == [("bbc", "Africa")]

    again = run_cli("reprocess", "--source", "bbc", env=service_env)
    assert again.returncode == 0, again.stderr
    assert "reprocessed 1: 0 updated, 0 merged into an article with their new key, 1 unchanged" in (
        " ".join(again.stdout.split())
    )
    stats = run_cli("stats", env=service_env)
    assert stats.returncode == 0
    assert "bbc" in stats.stdout
    assert "the books balance" in stats.stdout


def test_stats_fails_when_the_books_do_not_balance(service_env: dict[str, str], db: str) -> None:
    assert run_cli("ingest", str(EXAMPLES), env=service_env).returncode == 0
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE articles SET seen_count = seen_count + 1 WHERE id = 1")
    stats = run_cli("stats", env=service_env)
    assert stats.returncode == 1
    assert "does not balance" in stats.stderr


def test_a_malformed_setting_is_a_usage_error(service_env: dict[str, str]) -> None:
    result = run_cli("stats", env=service_env | {"NEWSINGEST_BATCH_SIZE": "lots"})
    assert result.returncode == 2
    assert "NEWSINGEST_BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def _unmigrated(empty_database: Callable[[], str], service_env: dict[str, str]) -> dict[str, str]:
    return service_env | {"NEWSINGEST_DATABASE_URL": empty_database()}


@pytest.mark.parametrize("command", [["stats"], ["query"], ["ingest", str(EXAMPLES)]])
def test_a_database_never_migrated_is_one_clear_line_with_the_fix(
    empty_database: Callable[[], str], service_env: dict[str, str], command: list[str]
) -> None:
    result = run_cli(*command, env=_unmigrated(empty_database, service_env))
    assert result.returncode == 2, result.stderr
    assert "newsingest db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_as_a_reader_login_says_what_the_login_may_do(
    service_env: dict[str, str], db: str
) -> None:
    name = f"newsingest_test_{uuid.uuid4().hex[:8]}_reader"
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE newsingest_reader')
    try:
        base, _, rest = db.partition("://")
        _, _, host = rest.partition("@")
        as_reader = service_env | {"NEWSINGEST_DATABASE_URL": f"{base}://{name}@{host}"}
        result = run_cli("stats", env=as_reader)
        assert result.returncode == 2, result.stderr
        assert "newsingest_reader login reads the v1 views only" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        with psycopg.connect(db, autocommit=True) as owner:
            owner.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_export_into_a_folder_that_does_not_exist_is_a_usage_error(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-folder" / "articles.jsonl"
    result = run_cli("export", str(target), env=service_env)
    assert result.returncode == 2, result.stderr
    assert "no-such-folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_an_unknown_region(service_env: dict[str, str]) -> None:
    version = run_cli("--version", env=service_env)
    assert version.returncode == 0
    assert version.stdout.startswith("newsingest ")
    narnia = run_cli("query", "--region", "narnia", env=service_env)
    assert narnia.returncode == 2
    assert "the regions are Africa, Americas, Asia-Pacific" in narnia.stderr


def test_rejects_replay_exits_1_while_dumps_stay_rejected(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    (tmp_path / "empty.txt").write_text("   \n")
    assert run_cli("ingest", str(tmp_path), env=service_env).returncode == 1
    replayed = run_cli("rejects", "replay", env=service_env)
    assert replayed.returncode == 1, replayed.stderr
    assert "1 still rejected" in replayed.stdout


def test_ingest_reads_gzipped_dumps_and_gzip_on_stdin(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    import gzip

    for path in sorted(EXAMPLES.iterdir()):
        (tmp_path / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    result = run_cli("ingest", str(tmp_path), env=service_env)
    assert result.returncode == 0, result.stdout + result.stderr
    regions = sorted(region for (region,) in query(db, "SELECT region FROM articles"))
    assert regions == ["Africa", "Asia-Pacific"]
    # run_cli passes standard input as text; gzip is not. A follow-up story: a new article.
    follow_up = DUMP.read_text().replace(DUMP_HEADLINE, "Kenya extends flood shelters to Lamu")
    piped = subprocess.run(
        [newsingest_bin(), "ingest", "-"],
        env=service_env,
        input=gzip.compress(follow_up.encode()),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert piped.returncode == 0, piped.stdout + piped.stderr
    assert query(db, "SELECT count(*) FROM articles") == [(3,)]


def test_ingest_records_the_file_as_the_url_and_sums_up_rejections_by_reason(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    deep = tmp_path / "an archive of pages saved by a scraper over several years" / "2019"
    deep.mkdir(parents=True)
    for index in range(40):
        (deep / f"blank-{index:03d}.txt").write_bytes(b"  \n")
    (deep / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (tmp_path / "kenya page.txt").write_bytes((EXAMPLES / "kenya-flood-warning.txt").read_bytes())
    result = run_cli("ingest", str(tmp_path), env=service_env)
    assert result.returncode == 1, result.stderr
    # One row a reason, the most common first: its count and the first inputs, cut from the left
    # so their names show, not the start of a long folder.
    assert len(result.stdout.splitlines()) < 30, result.stdout
    empty_row = result.stdout.index("empty")
    assert empty_row < result.stdout.index("binary")
    assert "40" in result.stdout
    assert "…" in result.stdout
    assert "blank-000.txt" in result.stdout
    assert "and 37 more" in result.stdout
    assert "blank-039.txt" not in result.stdout
    verbose = run_cli("ingest", "--verbose", str(deep), env=service_env)
    assert verbose.returncode == 1
    assert "blank-039.txt" in verbose.stdout.replace("\n", "").replace("│", "").replace(" ", "")

    # The file a dump came from is its URL when it has none of its own.
    kenya = (tmp_path / "kenya page.txt").as_uri()
    assert query(db, "SELECT url FROM articles") == [(kenya,)]
    urls = {url for (url,) in query(db, "SELECT url FROM raw_pages")}
    assert kenya in urls
    assert (deep / "picture.txt").as_uri() in urls


JAPANESE_PAGE = (
    """<!DOCTYPE html><html><head><title>東京で大雨、交通機関に乱れ</title></head>
<body><article><h1>東京で大雨、交通機関に乱れ</h1>
<p>2026年3月3日 09:12</p>
<p>気象庁によると、東京都心では午後から激しい雨が降り、鉄道各社で運転見合わせが相次いだ。</p>
<p>首都圏の多くの路線で夕方の帰宅時間帯まで遅れが続き、駅には長い列ができた。</p>
<p>気象庁は今夜にかけて土砂災害に警戒するよう呼びかけている。</p>
"""
    + "".join(
        f"<p>{n}時の時点で、都内の観測所では一時間に{40 + n}ミリの雨を記録し、川の水位も上がった。"
        "区役所は住民に対し、早めの避難と最新の情報の確認を求めている。</p>\n"
        for n in range(10, 20)
    )
    + "</article></body></html>"
)


def test_ingest_detects_undeclared_legacy_charsets_and_takes_a_forced_one(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    # Undeclared Shift-JIS HTML was stored with a headline read as windows-1252, and undeclared
    # cp1251 and KOI8-R text dumps were refused.
    (tmp_path / "tokyo.html").write_bytes(JAPANESE_PAGE.encode("shift_jis"))
    kenya = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
    (tmp_path / "kenya-latin1.txt").write_bytes(
        kenya.replace("Nairobi", "Nairóbi").encode("cp1252")
    )
    result = run_cli("ingest", str(tmp_path), env=service_env)
    assert result.returncode == 0, result.stdout + result.stderr
    headlines = {headline for (headline,) in query(db, "SELECT headline FROM articles")}
    assert "東京で大雨、交通機関に乱れ" in headlines
    assert len(headlines) == 2

    # --encoding decides over everything: these bytes are valid UTF-8 as well.
    forced = tmp_path / "forced"
    forced.mkdir()
    (forced / "page.html").write_bytes(JAPANESE_PAGE.replace("東京", "大阪").encode("utf-8"))
    result = run_cli("inspect", "--json", "--encoding", "latin-1", str(forced), env=service_env)
    assert "大阪" not in result.stdout
    assert json.loads(result.stdout)["headline"].startswith("å¤§é")  # UTF-8 read as Latin-1
    unknown = run_cli("ingest", "--encoding", "klingon", str(forced), env=service_env)
    assert unknown.returncode == 2
    assert "unknown encoding 'klingon'" in unknown.stderr


def test_ingest_reads_each_page_of_a_warc_file_with_its_url_and_fetch_time(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    from test_inputs import _warc

    kenya = (EXAMPLES / "kenya-flood-warning.txt").read_bytes()
    osaka = (EXAMPLES / "osaka-trams.html").read_bytes()
    _warc(
        tmp_path / "CC-NEWS-20240501.warc.gz",
        [
            ("https://news.example/kenya", "200 OK", kenya, {"Content-Type": "text/plain"}),
            ("https://news.example/osaka", "200 OK", osaka, {"Content-Type": "text/html"}),
            (
                "https://news.example/feed.json",
                "200 OK",
                b"{}",
                {"Content-Type": "application/json"},
            ),
        ],
    )
    result = run_cli("ingest", str(tmp_path), env=service_env)
    assert result.returncode == 0, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert "1 WARC responses that are not HTML or text" in said
    assert "3 WARC request records" in said
    rows = query(db, "SELECT url, region FROM articles ORDER BY url")
    assert rows == [
        ("https://news.example/kenya", "Africa"),
        ("https://news.example/osaka", "Asia-Pacific"),
    ]
    fetched = query(db, "SELECT DISTINCT fetched_at FROM raw_pages")
    assert [when.isoformat() for (when,) in fetched] == ["2024-05-01T10:20:30+00:00"]


def _jsonl_pages() -> str:
    kenya = (EXAMPLES / "kenya-flood-warning.txt").read_text(encoding="utf-8")
    osaka = (EXAMPLES / "osaka-trams.html").read_text(encoding="utf-8")
    return (
        json.dumps({"content": kenya, "url": "https://news.example/kenya", "source": "feed"})
        + "\n"
        + json.dumps({"content": osaka, "content_type": "text/html"})
        + "\n\n"
        + '{"content": "a line cut short\n'
        + json.dumps({"content": "x", "url": "ftp://news.example/x"})
        + "\n"
    )


def test_ingest_reads_json_lines_and_records_an_invalid_line_as_a_rejection(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    (tmp_path / "pages.jsonl").write_text(_jsonl_pages(), encoding="utf-8")
    result = run_cli("ingest", "--source", "mine", str(tmp_path), env=service_env)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = query(db, "SELECT url, source, region FROM articles ORDER BY region")
    assert rows == [
        ("https://news.example/kenya", "feed", "Africa"),
        (None, "mine", "Asia-Pacific"),
    ]
    rejected = query(
        db, "SELECT reason, convert_from(content, 'UTF8') FROM raw_pages WHERE outcome = 'rejected'"
    )
    assert sorted(reason for reason, _ in rejected) == ["invalid_message", "invalid_message"]
    assert '{"content": "a line cut short' in {content for _, content in rejected}
    said = " ".join(result.stdout.split())
    assert "invalid_message: 2" in said
    assert "pages.jsonl:4" in said


def test_enqueue_sends_json_lines_and_the_worker_records_invalid_ones(
    service_env: dict[str, str], worker_process: subprocess.Popen[bytes], db: str
) -> None:
    from conftest import wait_for

    sent = run_cli("enqueue", "--jsonl", "-", env=service_env, stdin=_jsonl_pages().encode())
    assert sent.returncode == 0, sent.stdout + sent.stderr
    wait_for(lambda: query(db, "SELECT count(*) FROM sightings") == [(4,)], what="4 sightings")
    assert query(db, "SELECT count(*) FROM articles") == [(2,)]
    reasons = query(db, "SELECT reason FROM raw_pages WHERE outcome = 'rejected'")
    assert reasons == [("invalid_message",), ("invalid_message",)]


def test_ingest_starts_its_pool_for_a_few_large_files_as_for_many_small_ones(
    tmp_path: Path,
) -> None:
    from worker.cli import _PARALLEL_FROM_BYTES, _PARALLEL_FROM_FILES, _many_pages

    small = tmp_path / "page.txt"
    small.write_text("x")
    assert not _many_pages([str(small), "-"])
    assert _many_pages([str(small)] * _PARALLEL_FROM_FILES)
    with (tmp_path / "CC-NEWS.warc.gz").open("wb") as warc:
        warc.truncate(_PARALLEL_FROM_BYTES)  # sparse: cheap to make
    assert _many_pages([str(small), str(tmp_path / "CC-NEWS.warc.gz")])


def test_an_empty_folder_is_a_usage_error_and_one_batch_is_one_batch(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.txt").write_text("not read")
    for command in ("ingest", "enqueue"):
        result = run_cli(command, str(empty), env=service_env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no files in the folder" in result.stderr
    sent = run_cli("enqueue", str(EXAMPLES / "osaka-trams.html"), env=service_env)
    assert sent.returncode == 0, sent.stderr
    assert "enqueued 1 dump in 1 batch on" in sent.stdout


def test_rejects_show_writes_a_rejected_dumps_raw_content(
    service_env: dict[str, str], db: str, tmp_path: Path
) -> None:
    raw = "Caf\u00e9 menu only\n".encode("latin-1") + b"\x00\x01binary tail"
    (tmp_path / "odd.bin").write_bytes(raw)
    assert run_cli("ingest", str(tmp_path), env=service_env).returncode == 1
    (raw_id,) = query(db, "SELECT id FROM raw_pages WHERE outcome = 'rejected'")[0]
    shown = subprocess.run(
        [newsingest_bin(), "rejects", "--show", str(raw_id)],
        env=service_env,
        capture_output=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == raw
    missing = run_cli("rejects", "--show", "999999", env=service_env)
    assert missing.returncode == 2
    assert "no rejected dump has the id 999999" in missing.stderr
