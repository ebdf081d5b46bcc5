"""Reading dumps from the paths a user names: files, folders, globs and `-` for standard input."""

from __future__ import annotations

import base64
import functools
import glob
import os
import stat
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from schemas import RawPage
from worker.errors import ConfigError, UnreadableInput

T = TypeVar("T")

# A batch carries at most this many characters of content, whatever its page count: a worker holds
# a whole batch (text, bytes, parse trees) at once. Measured with bench/e2e.py on ~170 KB HTML
# pages: 100 to a batch (~17 MB) peaked at 544 MB per worker process, 20 (~3.4 MB) at 278 MB.
MAX_BATCH_CHARS = 4 * 1024 * 1024

_CONTENT_TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain"}


@dataclass(frozen=True, slots=True)
class InputDump:
    """One dump read from the user's paths: where it came from and the RawPage to send."""

    label: str  # the path as the user will recognise it, or "-" for standard input
    page: RawPage
    # The bytes read, when the page's content is their UTF-8 decoding: `receive` takes them
    # instead of encoding the text again (~70 µs for a 170 KB page).
    utf8: bytes | None = None


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named directly, found under folders (recursively) or matched by globs, in order.

    Hidden files and folders (a name starting with ".") inside a named folder are skipped. Raises
    ConfigError for a path that matches nothing, so a typo is not a silent no-op.
    """
    found: list[str] = []
    for path in paths:
        if path == "-":
            found.append(path)
        elif os.path.isdir(path):
            found.extend(_files_under(path))
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
    read: Callable[[int], bytes], limit: int, *, short_read_ends: bool = True
) -> tuple[bytes, int | None]:
    """Up to `limit` bytes from `read`, and the whole size when there was more (else None).

    Read in chunks growing from 64 KiB: one read of `limit + 1` bytes made Python allocate (and
    the kernel map) the whole limit, 5 MiB, for every 4 KB dump (~45 µs a file, most of what
    `newsingest enqueue` spent per file). Past the limit the rest is only counted, so a 50 MB
    file costs 50 MB of reading, not of memory. A regular file or a buffered stream returns less
    than asked only at its end (`short_read_ends`); a pipe or a terminal may hand over less at
    any time, so for them only an empty read is the end.
    """
    chunks: list[bytes] = []
    size, chunk_size = 0, 1 << 16
    while size <= limit:
        wanted = min(chunk_size, limit + 1 - size)
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
    while chunk := read(1 << 20):
        size += len(chunk)
    return head[:limit], size


def _read_file(path: str, limit: int) -> tuple[bytes, int | None]:
    """`_read_limited` on a file by its descriptor: open, fstat, one read and close per dump.

    Python's buffered open() cost seven system calls for a 4 KB dump (an isatty ioctl, an lseek,
    a second read to see the end); `newsingest enqueue` reads tens of thousands of files.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        return _read_limited(functools.partial(os.read, fd), limit, short_read_ends=regular)
    finally:
        os.close(fd)


def read_dumps(files: Iterable[str], *, source: str, max_page_bytes: int) -> Iterator[InputDump]:
    """Each file (as `expand_paths` lists them) as a RawPage with a fresh idempotency key;
    oversized ones cut. Raises UnreadableInput, naming the file, when one cannot be read."""
    # One random key for the run and a counter: a uuid4 per file cost a getrandom call each.
    run = uuid.uuid4().hex
    for index, label in enumerate(files):
        if label == "-":
            # A terminal hands over what was typed so far: only an empty read ends it.
            content, original_size = _read_limited(
                sys.stdin.buffer.read, max_page_bytes, short_read_ends=not sys.stdin.isatty()
            )
        else:
            try:
                content, original_size = _read_file(label, max_page_bytes)
            except OSError as exc:  # listed, then gone, a dangling link, a folder's permissions
                msg = f"cannot read {label!r}: {exc.strerror or exc}"
                raise UnreadableInput(msg) from exc
        utf8: bytes | None = content
        try:
            text, encoding = content.decode("utf-8"), "text"
        except UnicodeDecodeError:
            # Bytes that are not UTF-8 travel as base64; the worker decodes them by their charset.
            text, encoding, utf8 = base64.b64encode(content).decode("ascii"), "base64", None
        yield InputDump(
            label=label,
            page=RawPage(
                content=text,
                content_encoding=encoding,
                content_type=_CONTENT_TYPES.get(os.path.splitext(label)[1].lower()),
                source=source,
                id=f"{run}-{index}",
                original_size=original_size,
            ),
            utf8=utf8,
        )
