"""The one rule for text that reaches PostgreSQL: what it cannot hold is replaced before the insert.

PostgreSQL's `text` and `jsonb` cannot hold U+0000 (an ordinary crawled page can carry one, in its
body or escaped in its JSON-LD), and no UTF-8 can carry half a surrogate pair (JSON may escape one,
and Python's json reads it). Either would fail the insert of a whole batch. Each such character is
replaced by U+FFFD in every text and JSON value the store writes; the dump's raw bytes are kept as
they came (`raw_pages.content` is `bytea`), so nothing is lost and a replay after a change of rule
reads the original.
"""

from __future__ import annotations

from typing import Any

import orjson

REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with each U+0000 and each half surrogate pair replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # The strict encoder failed only on surrogates: each becomes U+FFFD.
            text = "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def storable_json(value: Any) -> str:
    """`value` as JSON text that PostgreSQL's `jsonb` accepts (see `storable_text`)."""
    try:
        dumped = orjson.dumps(value).decode()
    except TypeError:  # orjson refuses a half surrogate pair
        return orjson.dumps(_storable_value(value)).decode()
    if "\\u0000" in dumped:
        return orjson.dumps(_storable_value(value)).decode()
    return dumped


def storable_values(row: dict[str, Any]) -> dict[str, Any]:
    """A row of column values for an ORM UPDATE, each text and JSON value made storable."""
    return {column: _storable_value(value) for column, value in row.items()}


def _storable_value(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): _storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_value(v) for v in value]
    return value
