"""Reading dumps from what a user names: folders walked in name order, hidden entries skipped."""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.errors import ConfigError, UnreadableInput
from worker.inputs import _read_file, _read_limited, batched, expand_paths, read_dumps


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"dump {name}\n", encoding="utf-8")


def test_a_folder_gives_its_files_recursively_in_name_order_without_hidden_ones(
    tmp_path: Path,
) -> None:
    _touch(tmp_path, "b.txt", "a/2.html", "a/1.txt", "a-z.txt", ".hidden.txt", ".git/x.txt")
    _touch(tmp_path, "a/.cache/y.txt")
    found = [Path(path).relative_to(tmp_path).as_posix() for path in expand_paths([str(tmp_path)])]
    assert found == ["a/1.txt", "a/2.html", "a-z.txt", "b.txt"]


def test_files_globs_and_missing_paths(tmp_path: Path) -> None:
    _touch(tmp_path, "one.txt", "two.txt", "three.html")
    named = str(tmp_path / "three.html")
    pattern = str(tmp_path / "t*.txt")
    assert expand_paths([named, pattern]) == [named, str(tmp_path / "two.txt")]
    with pytest.raises(ConfigError, match="no such file"):
        expand_paths([str(tmp_path / "absent.txt")])
    with pytest.raises(ConfigError, match="no files match"):
        expand_paths([str(tmp_path / "*.xml")])


def test_read_dumps_keeps_the_bytes_and_guesses_the_type_from_the_suffix(tmp_path: Path) -> None:
    _touch(tmp_path, "page.HTML", "notes.txt")
    (tmp_path / "latin1.txt").write_bytes("Zürich".encode("latin-1"))
    dumps = list(read_dumps(expand_paths([str(tmp_path)]), source="t", max_page_bytes=1000))
    by_name = {Path(d.label).name: d.page for d in dumps}
    assert by_name["page.HTML"].content_type == "text/html"
    assert by_name["notes.txt"].content == "dump notes.txt\n"
    assert by_name["latin1.txt"].content_encoding == "base64"  # not UTF-8: sent as bytes
    assert len({page.id for page in by_name.values()}) == 3


def test_batches_are_cut_by_count_and_by_characters() -> None:
    sizes = [10, 10, 10, 50, 10, 200, 10]
    cut = list(batched(sizes, batch_size=3, max_chars=60, chars=lambda size: size))
    # Count caps the first batch, characters the next ones; a single item over the cap travels
    # alone rather than being lost.
    assert cut == [[10, 10, 10], [50, 10], [200], [10]]


@pytest.mark.parametrize(
    "size", [0, 1, 65_535, 65_536, 200_000, 299_999, 300_000, 300_001, 1_234_567]
)
def test_a_dump_is_read_whole_up_to_the_limit_and_measured_past_it(size: int) -> None:
    limit = 300_000
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    head, original_size = _read_limited(io.BytesIO(data).read, limit)
    assert head == data[:limit]
    assert original_size == (size if size > limit else None)


class _Terminal(io.BytesIO):
    """Standard input at a terminal: each read hands over at most one typed line."""

    def read(self, size: int | None = -1) -> bytes:
        return self.readline(size)


def test_a_dump_typed_at_a_terminal_is_read_to_its_end() -> None:
    typed = b"Headline\n\nFirst paragraph.\nSecond line.\n"
    assert _read_limited(_Terminal(typed).read, 1000, short_read_ends=False) == (typed, None)


def test_batches_by_count_alone() -> None:
    assert list(batched(range(5), batch_size=2)) == [[0, 1], [2, 3], [4]]


def test_a_dump_from_a_pipe_arriving_in_pieces_is_read_to_its_end(tmp_path: Path) -> None:
    # A regular file returns less than asked only at its end; a pipe whenever its writer pauses.
    fifo = tmp_path / "dump.txt"
    os.mkfifo(fifo)
    parts = [b"Headline\n\n", b"First paragraph, sent a moment later.\n"]

    def write() -> None:
        with fifo.open("wb", buffering=0) as pipe:
            for part in parts:
                pipe.write(part)
                time.sleep(0.05)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert _read_file(str(fifo), 1000) == (b"".join(parts), None)
    finally:
        writer.join()


def _compress(codec: str, data: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    from worker.packing import zstd

    return {
        "gzip": gzip.compress,
        "bzip2": bz2.compress,
        "xz": lzma.compress,
        "zstd": zstd.compress,
    }[codec](data)


@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz", "zstd"])
def test_a_compressed_dump_is_read_inflated_by_its_magic_bytes(codec: str, tmp_path: Path) -> None:
    text = "Zürich council votes\n\nThe council voted on Tuesday.\n" * 50
    (tmp_path / "page.html.gz").write_bytes(_compress(codec, text.encode("utf-8")))
    # Compressed under a plain name: found by its first bytes, not its suffix.
    (tmp_path / "notes.txt").write_bytes(_compress(codec, b"plain notes\n"))
    (tmp_path / "stored.gz").write_bytes(b"not compressed at all\n")
    dumps = list(read_dumps(expand_paths([str(tmp_path)]), source="t", max_page_bytes=100_000))
    by_name = {Path(d.label).name: d.page for d in dumps}
    assert by_name["page.html.gz"].content == text
    assert by_name["page.html.gz"].content_type == "text/html"  # the name under the ".gz"
    assert by_name["page.html.gz"].original_size is None
    assert by_name["notes.txt"].content == "plain notes\n"
    assert by_name["stored.gz"].content == "not compressed at all\n"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_decompression_bomb_is_cut_at_the_limit_and_measured_no_further_than_a_bound(
    codec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.inputs._MAX_INFLATED_COUNT", 8 << 20)
    bomb = _compress(codec, b"\0" * (64 << 20))
    assert len(bomb) < 100_000
    (tmp_path / "bomb.txt.gz").write_bytes(bomb)
    (dump,) = read_dumps([str(tmp_path / "bomb.txt.gz")], source="t", max_page_bytes=1 << 20)
    assert len(dump.page.content) == 1 << 20  # NUL bytes are valid UTF-8
    # Counted up to the bound (a lower bound of its size), not inflated to the end.
    assert dump.page.original_size is not None
    assert 1 << 20 < dump.page.original_size <= (8 << 20) + (1 << 20)


def test_a_corrupt_compressed_dump_is_unreadable_input_naming_it(tmp_path: Path) -> None:
    whole = _compress("gzip", b"a page that was cut short in transfer\n" * 1000)
    (tmp_path / "cut.txt.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableInput, match=r"cut\.txt\.gz.*corrupt or cut short"):
        list(read_dumps([str(tmp_path / "cut.txt.gz")], source="t", max_page_bytes=1 << 20))


def _warc(path: Path, responses: list[tuple[str, str, bytes, dict[str, str]]]) -> None:
    """A WARC file written by warcio, as crawlers write them: a warcinfo record, then a request
    and a response for each (uri, status, body, headers); gzipped per record for ".gz"."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as output:
        writer = WARCWriter(output, gzip=path.suffix == ".gz")
        records = [writer.create_warcinfo_record(path.name, {"software": "tests"})]
        for uri, status, body, headers in responses:
            request = StatusAndHeaders(
                f"GET {uri} HTTP/1.1", [("Host", "e.x")], is_http_request=True
            )
            records.append(writer.create_warc_record(uri, "request", http_headers=request))
            http = StatusAndHeaders(status, list(headers.items()), protocol="HTTP/1.1")
            records.append(
                writer.create_warc_record(
                    uri,
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": "2024-05-01T10:20:30Z"},
                )
            )
        for record in records:
            writer.write_record(record)
            # warcio spools each record's block to a temporary file it leaves open.
            record.raw_stream.close()


def _chunked(body: bytes, size: int = 100) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz", "crawl-warc.bin"])
def test_a_warc_file_gives_one_dump_per_html_or_text_response(tmp_path: Path, name: str) -> None:
    import gzip

    html = "<html><head><title>Zürich</title></head><body><p>Café</p></body></html>"
    _warc(
        tmp_path / name,
        [
            (
                "https://news.example/2024/zurich",
                "200 OK",
                _chunked(gzip.compress(html.encode("cp1252"))),
                {
                    "Content-Type": "text/html; charset=windows-1252",
                    "Content-Encoding": "gzip",
                    "Transfer-Encoding": "chunked",
                },
            ),
            (
                "https://news.example/notes",
                "200 OK",
                b"Plain notes\n",
                {"Content-Type": "text/plain"},
            ),
            (
                "https://news.example/logo.png",
                "200 OK",
                b"\x89PNG\r\n",
                {"Content-Type": "image/png"},
            ),
            (
                "https://news.example/old",
                "301 Moved Permanently",
                b"<html></html>",
                {"Content-Type": "text/html"},
            ),
            ("dns:news.example", "200 OK", b"<p>x</p>", {"Content-Type": "text/html"}),
        ],
    )
    skipped: Counter[str] = Counter()
    dumps = list(
        read_dumps([str(tmp_path / name)], source="t", max_page_bytes=1000, skipped=skipped)
    )
    assert [dump.page.url for dump in dumps] == [
        "https://news.example/2024/zurich",
        "https://news.example/notes",
    ]
    page = dumps[0].page
    # De-chunked and inflated; still the bytes the server sent, decoded later by their charset.
    assert base64.b64decode(page.content) == html.encode("cp1252")
    assert page.content_type == "text/html; charset=windows-1252"
    assert page.fetched_at == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)
    assert dumps[1].page.content == "Plain notes\n"
    assert dumps[0].label.endswith(" https://news.example/2024/zurich")
    assert len({dump.page.id for dump in dumps}) == 2
    assert skipped == Counter(
        {
            "WARC warcinfo records": 1,
            "WARC request records": 5,
            "WARC responses that are not HTTP": 1,
            "WARC responses that are not HTML or text": 1,
            "WARC responses that are redirects or errors": 1,
        }
    )


def test_a_warc_response_past_the_limit_is_cut_and_measured(tmp_path: Path) -> None:
    body = b"<html><body>" + b"<p>words and more words</p>" * 1000 + b"</body></html>"
    _warc(
        tmp_path / "big.warc.gz",
        [("https://e.x/big", "200 OK", body, {"Content-Type": "text/html"})],
    )
    (dump,) = read_dumps([str(tmp_path / "big.warc.gz")], source="t", max_page_bytes=1000)
    assert len(dump.page.content) == 1000
    assert dump.page.original_size == len(body)


def test_a_jsonl_file_gives_its_raw_pages_and_keeps_invalid_lines(tmp_path: Path) -> None:
    import gzip
    import json

    lines = [
        json.dumps({"content": "<p>One</p>", "content_type": "text/html"}),
        "",
        json.dumps(
            {
                "content": "Two",
                "url": "https://e.x/two",
                "source": "feed",
                "id": "two",
                "fetched_at": "2024-05-01T10:20:30Z",
            }
        ),
        '{"content": "cut',
        "[1, 2]",
        json.dumps({"content": "Three", "url": "ftp://e.x/three"}),
    ]
    text = "\n".join(lines) + "\n"
    (tmp_path / "pages.jsonl").write_text(text, encoding="utf-8")
    (tmp_path / "more.ndjson.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("pages.jsonl", "more.ndjson.gz"):
        path = str(tmp_path / name)
        dumps = list(read_dumps([path], source="run", max_page_bytes=1000))
        assert [dump.label for dump in dumps] == [f"{path}:{n}" for n in (1, 3, 4, 5, 6)]
        one, two, cut, array, ftp = dumps
        assert one.invalid is None
        assert (one.page.content, one.page.content_type) == ("<p>One</p>", "text/html")
        assert one.page.source == "run"  # the run's, where the line names none
        assert one.page.id
        assert two.invalid is None
        assert (two.page.source, two.page.id, two.page.url) == ("feed", "two", "https://e.x/two")
        assert cut.invalid is not None
        assert cut.invalid.value == '{"content": "cut'  # the line, kept
        assert "not JSON" in cut.invalid.reason
        assert array.invalid is not None
        assert array.invalid.value == "[1, 2]"
        assert "not an object" in array.invalid.reason
        assert ftp.invalid is not None
        assert ftp.invalid.value == {"content": "Three", "url": "ftp://e.x/three"}
        assert "url" in ftp.invalid.reason
        assert ftp.page.content == lines[-1]  # the stand-in batched in its place


def test_jsonl_is_chosen_for_any_input_by_the_flag(tmp_path: Path) -> None:
    (tmp_path / "pages.txt").write_text('{"content": "One"}\n{"content": "Two"}\n')
    plain = list(read_dumps([str(tmp_path / "pages.txt")], source="t", max_page_bytes=1000))
    assert len(plain) == 1
    lines = list(
        read_dumps([str(tmp_path / "pages.txt")], source="t", max_page_bytes=1000, jsonl=True)
    )
    assert [dump.page.content for dump in lines] == ["One", "Two"]


def test_each_dump_says_how_many_input_files_came_before_its_own(tmp_path: Path) -> None:
    # Progress is told over the files: a WARC or JSON Lines file holds many dumps.
    _touch(tmp_path, "a.txt", "d.txt")
    (tmp_path / "b.jsonl").write_text('{"content": "1"}\n{"content": "2"}\n')
    _warc(
        tmp_path / "c.warc.gz",
        [
            (f"https://e.x/{n}", "200 OK", b"<p>x</p>", {"Content-Type": "text/html"})
            for n in range(3)
        ],
    )
    dumps = list(read_dumps(expand_paths([str(tmp_path)]), source="t", max_page_bytes=1000))
    assert [dump.file for dump in dumps] == [0, 1, 1, 2, 2, 2, 3]
