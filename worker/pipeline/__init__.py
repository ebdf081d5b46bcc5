"""The pure pipeline: a received dump in, an article-to-be or a rejection out.

    receive → decode → sniff → clean (text or HTML) → headline_key → classify

Nothing here touches the database, the broker or the clock; `process` is what a task or the CLI
calls for each page, and what a test calls with a saved page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import MAX_CONTENT_CHARS, RawPage
from worker.pipeline.classify import CLASSIFIER_VERSION, classify
from worker.pipeline.clean_html import clean_html
from worker.pipeline.clean_text import clean_text
from worker.pipeline.decode import decode
from worker.pipeline.headline import headline_key
from worker.pipeline.sniff import sniff
from worker.pipeline.types import (
    CleanPage,
    DecodedPage,
    RegionVerdict,
    Rejection,
    pickle_by_fields,
)

__all__ = [
    "CLASSIFIER_VERSION",
    "EXTRACTOR_VERSION",
    "Processed",
    "Received",
    "StageClock",
    "clean",
    "process",
    "process_pages",
    "receive",
    "receive_message",
]

# Bump when cleaning changes what it produces for the same page, so stored records say which
# extractor made them and `reprocess` can find the ones to redo.
EXTRACTOR_VERSION = "clean/2"


@dataclass(frozen=True, slots=True)
class Received:
    """A RawPage as bytes, with the hash that identifies its content and the key of this receipt."""

    page: RawPage
    content: bytes
    content_hash: bytes  # SHA-256 of `content`
    receipt_key: str
    # Set when the message itself was unusable (bad base64): the dump is recorded as rejected.
    rejection: Rejection | None = None
    # The content as it arrived when it arrived as text: `content` is its UTF-8, so decoding
    # need not read the bytes again (~40 µs for a 170 KB page).
    text: str | None = None
    # `content` as a zstd frame, when the page travelled so (a claim's large page): the raw page
    # kept in the database is this frame, which spares the server compressing it again.
    packed: bytes | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (for `newsingest ingest`'s pool) without the text, which its bytes decode to.

        py-spy on `bench/ingest.py --kind html --jobs 2`: each 170 KB page crossed the pipe twice,
        as its bytes and as its text, and encoding the text for pickle was the parent's work.
        """
        fields = (self.page, self.content, self.content_hash, self.receipt_key, self.rejection)
        if self.text is None or self.page.content is not self.text:
            # Arrived as base64, or a stand-in (replay): the page's content is not the text.
            return (Received, (*fields, self.text, self.packed))
        blank = self.page.model_copy(update={"content": ""})
        return (_received_as_utf8, (Received(blank, *fields[1:], None, self.packed),))


def _received_as_utf8(received: Received) -> Received:
    """A Received pickled without its text (see `Received.__reduce__`)."""
    text = str(received.content, "utf-8")
    page = received.page.model_copy(update={"content": text})
    return replace(received, page=page, text=text)


@dataclass(frozen=True, slots=True)
class Processed:
    """A dump that became an article: the clean page, its dedupe key and its region."""

    clean: CleanPage
    headline_key: str
    verdict: RegionVerdict
    extractor_version: str = EXTRACTOR_VERSION
    classifier_version: str = CLASSIFIER_VERSION

    __reduce__ = pickle_by_fields


def receive(
    page: RawPage, *, receipt_key: str, utf8: bytes | None = None, packed: bytes | None = None
) -> Received:
    """RawPage → Received: the dump's bytes and their hash (no parsing yet).

    `utf8`, when given, is what the page's text content was decoded from (a framed claim's
    bytes): it is taken as the bytes instead of encoding the content again. `packed` is those
    bytes' zstd frame, when the page travelled as one.
    """
    rejection = text = None
    if page.content_encoding == "base64":
        try:
            content = base64.b64decode(page.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            content = page.content.encode("utf-8")
            rejection = Rejection("invalid_message", f"content is not valid base64: {exc}")
    else:
        # Raises UnicodeEncodeError for half a surrogate pair (see `receive_message`).
        text = page.content
        content = utf8 if utf8 is not None else text.encode("utf-8")
    return Received(
        page=page,
        content=content,
        content_hash=hashlib.sha256(content).digest(),
        receipt_key=receipt_key,
        rejection=rejection,
        text=text,
        # A frame is only known to be of the bytes it came with.
        packed=packed if utf8 is not None and text is not None else None,
    )


def receive_message(
    item: object, *, fallback_key: str, utf8: bytes | None = None, packed: bytes | None = None
) -> Received:
    """One element of an `ingest.batch` message → Received; one that is not a RawPage is rejected.

    The element is kept as its JSON text so the rejection row shows exactly what arrived. `utf8`
    and `packed` are passed to `receive`.
    """
    try:
        page = RawPage.model_validate(item)
        return receive(page, receipt_key=page.id or fallback_key, utf8=utf8, packed=packed)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'message'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        invalid = {error["loc"][0] for error in exc.errors() if error["loc"]}
    except UnicodeEncodeError as exc:
        # Half a surrogate pair ("\ud800" is valid JSON): RawPage checks its content's length,
        # not its characters, which encoding it for the hash does anyway.
        errors = f"content: half a surrogate pair (U+{ord(exc.object[exc.start]):04X}) is not text"
        invalid = {"content"}
    # The sender's name is kept when it was valid itself.
    source = item.get("source") if isinstance(item, dict) else None
    stand_in = RawPage(
        content=_as_json(item)[:MAX_CONTENT_CHARS],
        content_type="application/json",
        source=source if isinstance(source, str) and "source" not in invalid else "unknown",
    )
    received = receive(stand_in, receipt_key=fallback_key)
    return Received(
        page=stand_in,
        content=received.content,
        content_hash=received.content_hash,
        receipt_key=fallback_key,
        rejection=Rejection("invalid_message", f"not a valid RawPage: {errors}"[:2000]),
    )


def _as_json(item: object) -> str:
    """An element of a message as JSON text, whatever strings it holds."""
    try:
        return orjson.dumps(item).decode()
    except TypeError:
        # orjson refuses a lone surrogate ("\ud800" is valid JSON, and Celery's decoder passes it
        # on); the standard library escapes it, so the rejection still shows what arrived.
        return json.dumps(item, ensure_ascii=True, default=repr)


def _web_url(url: str | None) -> str | None:
    """The page's URL when it is a web address; None for the file: URL of a local dump, whose
    folder names are the user's filing, not the site's (no dates, slugs or places from them)."""
    return None if url is not None and url.startswith("file:") else url


def clean(received: Received, *, max_page_bytes: int) -> CleanPage | Rejection:
    """Received → CleanPage | Rejection: size check, decode, sniff and the matching cleaner."""
    page = received.page
    if received.rejection is not None:
        return received.rejection
    if page.original_size is not None or len(received.content) > max_page_bytes:
        size = page.original_size if page.original_size is not None else len(received.content)
        return Rejection(
            "too_large", f"the dump is {size:,} bytes; the limit is {max_page_bytes:,} bytes"
        )
    text = decode(received.content, content_type=page.content_type, text=received.text)
    if isinstance(text, Rejection):
        return text
    decoded = DecodedPage(
        text=text,
        kind=sniff(text, content_type=page.content_type),
        url=_web_url(page.url),
        fetched_at=page.fetched_at,
        # The text it arrived as, whose UTF-8 `content` is (see `receive`).
        utf8=received.content if text is received.text else None,
    )
    return clean_html(decoded) if decoded.kind == "html" else clean_text(decoded)


@dataclass(slots=True)
class StageClock:
    """CPU seconds `process` spent classifying, summed over the pages it was given to, and the CPU
    other processes spent on pages processed there (see `process_pages`)."""

    classify: float = 0.0
    elsewhere: float = 0.0


def process_pages(
    pages: Sequence[Received], *, max_page_bytes: int
) -> tuple[list[Processed | Rejection], StageClock]:
    """Received pages → their results in order, and the CPU spent on them, as if elsewhere.

    What a pool process runs for `newsingest ingest --jobs`: its CPU is not in the caller's.
    """
    started = time.process_time()
    clock = StageClock()
    results = [process(page, max_page_bytes=max_page_bytes, clock=clock) for page in pages]
    clock.elsewhere = time.process_time() - started
    return results, clock


def process(
    received: Received, *, max_page_bytes: int, clock: StageClock | None = None
) -> Processed | Rejection:
    """Received → Processed | Rejection: the whole pure pipeline for one dump.

    A stage that raises is a bug, but one bad page must not sink its batch: the exception becomes a
    `stage_error` rejection that keeps the page for `newsingest rejects replay` after a fix.
    """
    try:
        cleaned = clean(received, max_page_bytes=max_page_bytes)
        if isinstance(cleaned, Rejection):
            return cleaned
        key = headline_key(cleaned.headline)
        if not key:
            return Rejection("no_headline", f"the headline {cleaned.headline!r} has no words")
        started = time.process_time() if clock is not None else 0.0
        verdict = classify(cleaned, url=_web_url(received.page.url))
        if clock is not None:
            clock.classify += time.process_time() - started
        return Processed(clean=cleaned, headline_key=key, verdict=verdict)
    except Exception as exc:
        return Rejection("stage_error", f"{type(exc).__name__}: {exc}"[:2000])
