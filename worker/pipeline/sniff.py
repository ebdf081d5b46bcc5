"""Decide whether a decoded dump is an HTML page or plain text saved from one."""

from __future__ import annotations

import re

from worker.pipeline.types import ContentKind

__all__ = ["looks_like_html", "mime_type", "sniff"]

_HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_MIMES = frozenset({"text/plain"})
_SNIFF_CHARS = 8192

# What an HTML document starts with, after optional whitespace, an XML declaration and comments.
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|link|style|script)\b", re.IGNORECASE
)
_PROLOG = re.compile(r"\s*(?:<\?xml[^>]{0,500}>\s*)?(?:<!--.{0,2000}?-->\s*){0,5}", re.DOTALL)
_TAG = re.compile(
    r"</?(a|abbr|article|aside|b|body|br|dd|div|dl|dt|em|footer|form|h[1-6]|head|header|hr|html|"
    r"i|iframe|img|input|li|link|main|meta|nav|ol|option|p|picture|pre|script|section|select|"
    r"source|span|strong|style|table|tbody|td|th|title|tr|u|ul)\b[^<>]{0,1000}>",
    re.IGNORECASE,
)
# Ten known tags of three kinds in the first 8 KB, or a few making up a tenth of it, is markup, not
# prose that happens to mention a tag.
_MIN_TAGS = 10
_MIN_TAG_NAMES = 3
_MIN_TAG_SHARE = 0.1


def sniff(text: str, *, content_type: str | None) -> ContentKind:
    """Take decoded text and its declared MIME type; give "html" or "text"."""
    mime = mime_type(content_type)
    if mime in _HTML_MIMES:
        return "html"
    if mime in _TEXT_MIMES:
        return "text"
    return "html" if looks_like_html(text) else "text"


def mime_type(content_type: str | None) -> str | None:
    """Take a Content-Type value; give its lower-cased MIME type without parameters, or None."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime or None


def looks_like_html(text: str) -> bool:
    """Take the start of a document; give whether it reads as HTML markup rather than prose."""
    head = text[:_SNIFF_CHARS].lstrip("\ufeff")
    prolog = _PROLOG.match(head)
    start = prolog.end() if prolog else 0
    if _HTML_START.match(head, start):
        return True
    tags = list(_TAG.finditer(head))
    if len(tags) >= _MIN_TAGS and len({tag.group(1).lower() for tag in tags}) >= _MIN_TAG_NAMES:
        return True
    return (
        len(tags) >= 2
        and sum(tag.end() - tag.start() for tag in tags) >= len(head) * _MIN_TAG_SHARE
    )
