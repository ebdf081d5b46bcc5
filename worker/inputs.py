"""Reading dumps from the paths a user names: files, folders, globs and `-` for standard input.

A file is one dump, read as it is or, when it starts with the magic bytes of gzip, bzip2, xz or
zstd, through the matching decompressor (whatever its name), with the size limit applied to what it
inflates to. A WARC file (inflated, if compressed) holds a dump in each HTML or text response, read
with warcio; a JSON Lines file (*.jsonl, *.ndjson, or any with `jsonl`) a RawPage on each line.
"""

from __future__ import annotations

import base64
import bz2
import codecs
import contextlib
import dataclasses
import functools
import glob
import gzip
import io
import lzma
import os
import re
import stat
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, Literal, TypeVar
from urllib.parse import quote

import orjson
from pydantic import ValidationError

from schemas import EARLIEST_FETCHED_AT, MAX_CONTENT_CHARS, RawPage
from worker.errors import ConfigError, UnreadableInput

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

T = TypeVar("T")

# A batch carries at most this many characters of content, whatever its page count: a worker holds
# a whole batch (text, bytes, parse trees) at once. Measured with bench/e2e.py on ~170 KB HTML
# pages: 100 to a batch (~17 MB) peaked at 544 MB per worker process, 20 (~3.4 MB) at 278 MB.
MAX_BATCH_CHARS = 4 * 1024 * 1024

# Not a MIME type for a page: JSON Lines files hold RawPages, each with its own content_type.
_JSONL = "application/jsonl"
_CONTENT_TYPES = {
    "html": "text/html",
    "htm": "text/html",
    "txt": "text/plain",
    "jsonl": _JSONL,
    "ndjson": _JSONL,
}
_COMPRESSED_SUFFIXES = frozenset({"gz", "bz2", "xz", "zst"})

# How a compressed dump starts, and what reads it. By its bytes, not its name: dumps saved by
# scripts are often compressed under a plain name, and a ".gz" may hold plain text. bzip2 starts
# "BZh", the block size as a digit, then the first block's magic (the digits of pi).
_GZIP, _XZ, _ZSTD = b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
# Their first bytes: one look at a dump's first byte clears almost every plain one.
_MAGIC_FIRST_BYTES = frozenset((b"\x1f", b"\xfd", b"\x28", b"B", b"W"))
_SIGNATURE_BYTES = 10
# A JSON Lines line is one RawPage: its content (at most MAX_CONTENT_CHARS) may be escaped to six
# bytes a character. Longer lines are refused unread past this, their first bytes kept.
_MAX_LINE_BYTES = 64 * 1024 * 1024
_KEPT_LINE_BYTES = 64 * 1024
_WARC = b"WARC/"
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_WEB_URL = re.compile(r"https?://")  # as RawPage.url's pattern has it
_MAX_CONTENT_TYPE_CHARS = 200  # RawPage.content_type's limit
_MAX_URL_CHARS = 4096  # RawPage.url's limit
_NO_FIELDS: dict[str, Any] = {}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+")  # a file name that quote() leaves as it is
# A compressed dump past the size limit is inflated only to be measured, and no further than
# this: a decompression bomb (a few KB that inflate to terabytes) must not run for hours. Its
# recorded size is then what was counted, a lower bound.
_MAX_INFLATED_COUNT = 256 * 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class InputDump:
    """One dump read from the user's paths: where it came from and the RawPage to send."""

    label: str  # the path as the user will recognise it, or "-" for standard input
    page: RawPage
    # The bytes read, when the page's content is their UTF-8 decoding: `receive` takes them
    # instead of encoding the text again (~70 µs for a 170 KB page).
    utf8: bytes | None = None
    # A line of a JSON Lines file that is no valid RawPage: what it held, to be recorded as an
    # invalid_message rejection (`page` then stands in for it, its text as the content).
    invalid: InvalidLine | None = None
    # How many of the inputs named came before its file: a WARC or JSON Lines file holds many
    # dumps, so progress over the files is told by this, not by counting dumps.
    file: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class InvalidLine:
    """A JSON Lines line that is no valid RawPage: its JSON object, or its text when it holds no
    object (not JSON, or another JSON value), as `receive_message` and a worker take a message."""

    value: dict[str, Any] | str
    reason: str  # why it is no RawPage, for the rejection's detail


def check_encoding(name: str) -> str:
    """The Python codec a `--encoding` names; ConfigError when there is none, or it is not one
    that turns bytes into text (base64, zlib)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ConfigError(f"unknown encoding {name!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ConfigError(f"{name!r} is not a text encoding")
    return info.name


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named directly, found under folders (recursively) or matched by globs, in order.

    Hidden files and folders (a name starting with ".") inside a named folder are skipped. Raises
    ConfigError for a path that matches nothing or a folder with no file in it, so a typo or a
    wrong folder is not a silent no-op.
    """
    found: list[str] = []
    for path in paths:
        if path == "-":
            found.append(path)
        elif os.path.isdir(path):
            files = _files_under(path)
            if not files:
                raise ConfigError(f"no files in the folder {path!r} (hidden ones are skipped)")
            found.extend(files)
        elif os.path.isfile(path):
            found.append(path)
        elif glob.has_magic(path):
            matches = sorted(m for m in glob.glob(path, recursive=True) if os.path.isfile(m))
            if not matches:
                raise ConfigError(f"no files match {path!r}")
            found.extend(matches)
        else:
            raise ConfigError(f"no such file or folder: {path!r}")
    return found


def _files_under(folder: str) -> list[str]:
    # os.walk reads each folder once and knows files from folders without a stat per entry;
    # Path.rglob with is_file() and relative_to() cost ~75 µs a file, more than reading it.
    files: list[str] = []
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        files.extend(os.path.join(parent, name) for name in names if not name.startswith("."))
    # Sorted by path components, so a folder's files and subfolders interleave by name. Comparing
    # the paths with the separator made "\0" (which sorts before any character of a name) orders
    # them as the lists of components would, at an eighth of the cost of splitting each path.
    return sorted(files, key=lambda file: file.replace(os.sep, "\0"))


def batched(
    items: Iterable[T],
    *,
    batch_size: int,
    max_chars: int | None = None,
    chars: Callable[[T], int] | None = None,
) -> Iterator[list[T]]:
    """Batches of at most `batch_size` items and, with `chars`, of at most `max_chars` characters
    (by `chars(item)`) unless one item alone is larger."""
    batch: list[T] = []
    total = 0
    limit = max_chars if chars is not None and max_chars is not None else None
    for item in items:
        size = chars(item) if chars is not None else 0
        if batch and (len(batch) >= batch_size or (limit is not None and total + size > limit)):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += size
    if batch:
        yield batch


def _read_limited(
    read: Callable[[int], bytes],
    limit: int,
    *,
    short_read_ends: bool = True,
    first: bytes | None = None,
    count_up_to: int | None = None,
) -> tuple[bytes, int | None]:
    """Up to `limit` bytes from `read`, and the whole size when there was more (else None).

    Read in chunks growing from 64 KiB: one read of `limit + 1` bytes made Python allocate (and
    the kernel map) the whole limit, 5 MiB, for every 4 KB dump (~45 µs a file, most of what
    `newsingest enqueue` spent per file). Past the limit the rest is only counted, so a 50 MB
    file costs 50 MB of reading, not of memory. A regular file or a buffered stream returns less
    than asked only at its end (`short_read_ends`); a pipe or a terminal may hand over less at
    any time, so for them only an empty read is the end. `first` is the first chunk, read by
    the caller to look at the dump's first bytes. Past the limit, counting stops at `count_up_to`
    bytes, if given.
    """
    chunks: list[bytes] = []
    size, chunk_size = 0, 1 << 16
    while size <= limit:
        wanted = min(chunk_size, limit + 1 - size)
        if first is not None:
            chunk, first = first, None
        else:
            chunk = read(wanted)
        if not chunk:
            return b"".join(chunks), None
        chunks.append(chunk)
        size += len(chunk)
        if len(chunk) < wanted and short_read_ends:
            # No extra read (a system call per file) to see the stream come back empty.
            return b"".join(chunks), None
        chunk_size = min(chunk_size * 2, 1 << 20)
    head = b"".join(chunks)
    while (count_up_to is None or size < count_up_to) and (chunk := read(1 << 20)):
        size += len(chunk)
    return head[:limit], size


def _read_file(path: str, limit: int) -> tuple[bytes, int | None] | None:
    """`_read_limited` on a file by its descriptor: open, fstat, one read and close per dump.

    Python's buffered open() cost seven system calls for a 4 KB dump (an isatty ioctl, an lseek,
    a second read to see the end); `newsingest enqueue` reads tens of thousands of files. None
    when the file is compressed or a WARC file: the first read shows it, and `_stream_records`
    reads it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        wanted = min(1 << 16, limit + 1)
        first = os.read(fd, wanted)
        if first[:1] in _MAGIC_FIRST_BYTES and (
            _opener(first) is not None or first.startswith(_WARC)
        ):
            return None
        if len(first) < wanted and regular:
            return first, None  # the whole of a small file, as most dumps are
        read = functools.partial(os.read, fd)
        return _read_limited(read, limit, short_read_ends=regular, first=first)
    finally:
        os.close(fd)


def _opener(head: bytes) -> Callable[[IO[bytes]], io.BufferedIOBase] | None:
    """The decompressor for bytes starting with `head`, or None when they are not compressed."""
    if head.startswith(_GZIP):
        return _gunzip
    if head.startswith(_ZSTD):
        return zstd.ZstdFile
    if head.startswith(_XZ):
        return lzma.LZMAFile
    if _BZIP2.match(head):
        return bz2.BZ2File
    return None


def _gunzip(raw: IO[bytes]) -> io.BufferedIOBase:
    """A gzip stream's inflated bytes (GzipFile takes a stream only by keyword)."""
    return gzip.GzipFile(fileobj=raw, mode="rb")


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    """One dump read from a stream: a whole file, or a response inside a WARC file. The fields
    left None are the file's own (its name's content type, its file: URL)."""

    label: str
    content: bytes
    original_size: int | None
    content_type: str | None = None
    url: str | None = None
    fetched_at: datetime | None = None


def _stream_records(
    label: str, raw: IO[bytes], limit: int, skipped: Counter[str]
) -> Iterator[_Record]:
    """The dumps in a stream: inflated when its first bytes say it is compressed, one for each
    HTML or text response when it is a WARC file, else the one it is. (A stream that cannot show
    its first bytes without consuming them, which only a replaced sys.stdin is, is read as is.)

    Raises UnreadableInput, naming the input, when the compressed data or a WARC record is
    corrupt or cut short.
    """
    if not isinstance(raw, io.BufferedReader):
        yield _Record(label, *_read_limited(raw.read, limit, short_read_ends=not raw.isatty()))
        return
    opener = _opener(raw.peek(_SIGNATURE_BYTES)[:_SIGNATURE_BYTES])
    try:
        with opener(raw) if opener is not None else contextlib.nullcontext(raw) as stream:
            if stream.peek(len(_WARC))[: len(_WARC)] == _WARC:  # type: ignore[attr-defined]
                yield from _warc_records(label, stream, limit, skipped)
            elif opener is None:
                # A terminal hands over what was typed so far: only an empty read ends it.
                yield _Record(
                    label, *_read_limited(stream.read, limit, short_read_ends=not raw.isatty())
                )
            else:
                yield _Record(
                    label,
                    *_read_limited(
                        stream.read, limit, short_read_ends=False, count_up_to=_MAX_INFLATED_COUNT
                    ),
                )
    except (OSError, EOFError, lzma.LZMAError, zstd.ZstdError) as exc:
        # gzip and bz2 say OSError (BadGzipFile), a stream cut short EOFError.
        msg = f"cannot read {label!r}: its compressed data is corrupt or cut short ({exc})"
        raise UnreadableInput(msg) from exc


def _warc_records(
    label: str, stream: io.BufferedIOBase, limit: int, skipped: Counter[str]
) -> Iterator[_Record]:
    """Each response in a WARC file whose HTTP body is HTML or plain text, that body de-chunked
    and its content encoding undone by warcio; the other records are counted in `skipped`."""
    # Imported here: only WARC files need it. (The pipeline's sniff.mime_type is not imported
    # either: importing the pipeline costs `enqueue` a second of startup.)
    from warcio.archiveiterator import ArchiveIterator  # noqa: PLC0415
    from warcio.exceptions import ArchiveLoadFailed  # noqa: PLC0415

    records = ArchiveIterator(stream)
    try:
        for record in records:
            if record.rec_type != "response":
                skipped[f"WARC {record.rec_type} records"] += 1
                continue
            if record.http_headers is None:  # a dns: lookup, or a URI warcio does not read
                skipped["WARC responses that are not HTTP"] += 1
                continue
            content_type = record.http_headers.get_header("Content-Type") or ""
            if content_type.split(";", 1)[0].strip().lower() not in _PAGE_TYPES:
                skipped["WARC responses that are not HTML or text"] += 1
                continue
            if not (record.http_headers.get_statuscode() or "").startswith("2"):
                skipped["WARC responses that are redirects or errors"] += 1
                continue
            target = record.rec_headers.get_header("WARC-Target-URI") or ""
            url = target if _WEB_URL.match(target) and len(target) <= _MAX_URL_CHARS else None
            content, original_size = _read_limited(
                record.content_stream().read,
                limit,
                short_read_ends=False,
                count_up_to=_MAX_INFLATED_COUNT,
            )
            yield _Record(
                label=f"{label} {target}" if target else f"{label} @{records.get_record_offset()}",
                content=content,
                original_size=original_size,
                content_type=content_type[:_MAX_CONTENT_TYPE_CHARS],
                url=url,
                fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
            )
    except ArchiveLoadFailed as exc:
        msg = f"cannot read {label!r}: a WARC record is corrupt ({exc})"
        raise UnreadableInput(msg) from exc


def _warc_date(value: str | None) -> datetime | None:
    """A WARC-Date as an aware datetime, or None when missing, malformed or implausible."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None or not EARLIEST_FETCHED_AT <= when <= datetime.now(UTC):
        return None
    return when


class _FileUrls:
    """The file: URLs of paths, each folder made absolute and quoted once: `Path.as_uri()` cost
    ~6 µs a file, and an absolute path quoted whole 1.3 µs, a tenth of reading a small dump."""

    def __init__(self) -> None:
        self._cwd = os.getcwd()
        self._folders: dict[str, str] = {}

    def __call__(self, folder: str, name: str) -> str | None:
        """The URL of the file `name` in `folder` (as `_split` gives them), or None when it is too
        long for a RawPage."""
        prefix = self._folders.get(folder)
        if prefix is None:
            absolute = os.path.normpath(os.path.join(self._cwd, folder))
            prefix = self._folders[folder] = "file://" + quote(absolute).rstrip("/") + "/"
        url = prefix + (name if _PLAIN_NAME.fullmatch(name) else quote(name))
        return url if len(url) <= _MAX_URL_CHARS else None


def _split(path: str) -> tuple[str, str]:
    """A path's folder ("" for the working folder) and file name, cheaper than os.path.split."""
    folder, separator, name = path.rpartition(os.sep)
    return folder or separator, name


def _content_type(name: str) -> str | None:
    """The MIME type a file name suggests, looking through a compression suffix."""
    # rpartition, not os.path.splitext: a third of the cost, on every file read.
    stem, _, suffix = name.rpartition(".")
    suffix = suffix.lower()
    if suffix in _COMPRESSED_SUFFIXES:
        suffix = stem.rpartition(".")[2].lower()
    return _CONTENT_TYPES.get(suffix)


def read_dumps(
    files: Iterable[str],
    *,
    source: str,
    max_page_bytes: int,
    encoding: str | None = None,
    skipped: Counter[str] | None = None,
    jsonl: bool = False,
) -> Iterator[InputDump]:
    """Each file (as `expand_paths` lists them) as a RawPage with a fresh idempotency key, or for
    a WARC file each HTML or text response in it; oversized ones cut. Raises UnreadableInput,
    naming the file, when one cannot be read. WARC records that are not pages are counted by
    kind in `skipped`.

    A file named *.jsonl or *.ndjson (compressed or not), or every input with `jsonl`, holds a
    RawPage as JSON on each line; the run's source and a fresh key fill in those it lacks.

    With `encoding` (a codec name, see `check_encoding`), every dump is decoded by it here and
    sent as text, whatever its bytes or declarations say; bytes it cannot decode become U+FFFD.
    """
    # One random key for the run and a counter: a uuid4 per file cost a getrandom call each.
    run = uuid.uuid4().hex
    file_url = _FileUrls()
    skipped = skipped if skipped is not None else Counter()
    index = 0
    for file, label in enumerate(files):
        folder, name = _split(label)
        content_type = _content_type(name)
        url = None if label == "-" else file_url(folder, name)
        if jsonl or content_type == _JSONL:
            for dump in _jsonl_dumps(label, source=source, keys=f"{run}-{index}-"):
                yield dataclasses.replace(dump, file=file) if file else dump
                index += 1
            continue
        if label == "-":
            records = _stream_records(label, sys.stdin.buffer, max_page_bytes, skipped)
        else:
            try:
                read = _read_file(label, max_page_bytes)
            except OSError as exc:  # listed, then gone, a dangling link, a folder's permissions
                msg = f"cannot read {label!r}: {exc.strerror or exc}"
                raise UnreadableInput(msg) from exc
            if read is not None:  # a plain file, as most are: no _Record on the way
                page, utf8 = _raw_page(
                    read[0], encoding, source, f"{run}-{index}", content_type, url, read[1], None
                )
                yield InputDump(label, page, utf8, None, file)
                index += 1
                continue
            records = _file_records(label, max_page_bytes, skipped)  # compressed, or WARC
        for record in records:
            page, utf8 = _raw_page(
                record.content,
                encoding,
                source,
                f"{run}-{index}",
                record.content_type or content_type,
                record.url or url,
                record.original_size,
                record.fetched_at,
            )
            yield InputDump(record.label, page, utf8, None, file)
            index += 1


def _raw_page(  # noqa: PLR0917 - called positionally once a file: keywords cost ~0.3 µs
    content: bytes,
    encoding: str | None,
    source: str,
    key: str,
    content_type: str | None,
    url: str | None,
    original_size: int | None,
    fetched_at: datetime | None,
) -> tuple[RawPage, bytes | None]:
    """The RawPage of a dump's bytes, and the bytes when the page's content is their UTF-8."""
    utf8: bytes | None = content
    try:
        if encoding is not None:
            text, utf8 = content.decode(encoding, errors="replace"), None
        else:
            text = content.decode("utf-8")
        transfer: Literal["text", "base64"] = "text"
    except UnicodeDecodeError:
        # Bytes that are not UTF-8 travel as base64; the worker decodes them by their charset.
        text, transfer, utf8 = base64.b64encode(content).decode("ascii"), "base64", None
    # fetched_at only when known (a WARC record's): a None given is still validated, ~0.25 µs.
    when = {"fetched_at": fetched_at} if fetched_at is not None else _NO_FIELDS
    page = RawPage(
        content=text,
        content_encoding=transfer,
        content_type=content_type,
        url=url,
        source=source,
        id=key,
        original_size=original_size,
        **when,
    )
    return page, utf8


def _jsonl_dumps(label: str, *, source: str, keys: str) -> Iterator[InputDump]:
    """The RawPages of a JSON Lines file (or standard input), inflated when compressed; a line
    that is no valid RawPage becomes a stand-in with `invalid` set. Blank lines are skipped.

    A page without `source` or `id` gets the run's source and `keys` with its line number.
    """
    try:
        raw = sys.stdin.buffer if label == "-" else open(label, "rb")  # noqa: SIM115
    except OSError as exc:
        msg = f"cannot read {label!r}: {exc.strerror or exc}"
        raise UnreadableInput(msg) from exc
    opener = None
    if isinstance(raw, io.BufferedReader):
        opener = _opener(raw.peek(_SIGNATURE_BYTES)[:_SIGNATURE_BYTES])
    try:
        with (
            contextlib.nullcontext() if label == "-" else raw,
            opener(raw) if opener is not None else contextlib.nullcontext(raw) as stream,
        ):
            number = 0
            while line := stream.readline(_MAX_LINE_BYTES + 1):
                number += 1
                if len(line) > _MAX_LINE_BYTES and not line.endswith(b"\n"):
                    while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pass  # the rest of an over-long line, unread
                    yield _invalid_line(
                        f"{label}:{number}",
                        line[:_KEPT_LINE_BYTES].decode("utf-8", errors="replace"),
                        f"line {number} is longer than {_MAX_LINE_BYTES:,} bytes",
                        source,
                    )
                    continue
                if line.isspace():
                    continue
                yield _jsonl_dump(f"{label}:{number}", line, source, f"{keys}{number}")
    except (OSError, EOFError, lzma.LZMAError, zstd.ZstdError) as exc:
        msg = f"cannot read {label!r}: its compressed data is corrupt or cut short ({exc})"
        raise UnreadableInput(msg) from exc


def _jsonl_dump(label: str, line: bytes, source: str, key: str) -> InputDump:
    """One JSON Lines line as the RawPage it holds, or as an invalid line."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        return _invalid_line(label, text, f"not JSON: {exc}", source)
    if not isinstance(value, dict):
        text = line.decode("utf-8").rstrip("\r\n")
        return _invalid_line(label, text, f"a JSON {type(value).__name__}, not an object", source)
    fields = {"source": source, "id": key, **value}
    try:
        return InputDump(label, RawPage.model_validate(fields))
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'line'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        stand_in = _stand_in(line.decode("utf-8").rstrip("\r\n"), source)
        reason = f"{label}: not a valid RawPage: {errors}"
        return InputDump(label, stand_in, invalid=InvalidLine(value, reason))


def _invalid_line(label: str, text: str, error: str, source: str) -> InputDump:
    """An input standing for a line that holds no JSON object."""
    reason = f"{label}: {error}"
    return InputDump(label, _stand_in(text, source), invalid=InvalidLine(text, reason))


def _stand_in(text: str, source: str) -> RawPage:
    """The RawPage batched in place of an invalid line: its text, for its size."""
    return RawPage(content=text[:MAX_CONTENT_CHARS], content_type="application/json", source=source)


def _file_records(label: str, limit: int, skipped: Counter[str]) -> Iterator[_Record]:
    """`_stream_records` of a file, opened buffered (to peek at its first bytes)."""
    try:
        raw = open(label, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as exc:
        msg = f"cannot read {label!r}: {exc.strerror or exc}"
        raise UnreadableInput(msg) from exc
    with raw:
        yield from _stream_records(label, raw, limit, skipped)
