"""Turn the bytes a producer sent into text, or say why they are not text.

The charset is taken from the strongest signal present: a byte-order mark, a UTF-16/32 charset in
the content type, valid UTF-8 (see `decode`), then, in the order browsers use, the charset
parameter of the HTTP/producer content type and a `<meta>` declaration near the top of an HTML
page. Bytes that declare nothing that fits are given to charset-normalizer, which weighs the
encodings a web page can be in by how readable each makes them. For HTML with too few non-ASCII
bytes to tell, or none it finds readable, windows-1252, which is what browsers assume for
undeclared legacy pages. UTF-16 without a byte-order mark, whose NUL and control bytes look
binary, is found the same way before the bytes are refused as binary.
"""

from __future__ import annotations

import codecs
import re

from worker.pipeline.sniff import looks_like_html, mime_type
from worker.pipeline.types import Rejection

__all__ = ["decode"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# WHATWG Encoding Standard aliases: browsers decode these labels with a superset codec, and pages
# that declare them routinely contain bytes only the superset defines.
_WHATWG_SUPERSETS = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
}

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]{1,40})""", re.IGNORECASE)
_META_TAG = re.compile(rb"<meta\b[^>]{0,1024}>", re.IGNORECASE)
_META_SCAN_BYTES = 8192
_SNIFF_BYTES = 8192

# A few undeclared bytes that cannot be decoded are tolerated (the rest of the page is fine); more
# than this share means the declaration is wrong and the next signal is tried.
_TOLERATED_ERROR_SHARE = 0.002
# Bytes that never occur in text: C0 controls other than tab, newlines, form feed and escape.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1b")
_BINARY_CONTROL_SHARE = 0.05
# The encodings of the WHATWG Encoding Standard, the ones a web page can be in, as Python codecs:
# left to choose among all it knows, charset-normalizer read short French text as cp437 and
# KOI8-R as shift_jis_2004.
_WEB_CODECS = [
    *(f"cp{n}" for n in range(1250, 1259)),
    "cp874",
    "cp866",
    *(f"iso8859_{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
    "koi8_r",
    "koi8_u",
    "mac_roman",
    "mac_cyrillic",
    "gb18030",
    "big5hkscs",
    "euc_jp",
    "iso2022_jp",
    "cp932",
    "cp949",
    "utf_16_le",
    "utf_16_be",
]
_WIDE_CODECS = ["utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]
# Below this, a UTF-16 reading is a guess ("Zürich" in Latin-1 read as CJK in UTF-16-BE).
_MIN_WIDE_GUESS_BYTES = 64
# HTML with fewer non-ASCII bytes than this is windows-1252 without asking: a page's few curly
# quotes are too little to tell charsets apart (the detector read "Café — “déjà vu”" as
# windows-1257, and a lone 0x81 as Shift-JIS).
_MIN_DETECTED_BYTES = 16
_ASCII_BYTES = bytes(range(128))
# windows-1252 is taken when it reads the bytes nearly as cleanly as the detector's first choice
# (its mess ratio, 0 to 1): for Latin text several single-byte charsets read alike, and 1252 is
# the likeliest by far ("élève" is "ėlčve" in 1250 and 1257, "Café" the same in all three).
_CP1252_MESS_TOLERANCE = 0.1

_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"%PDF-",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"RIFF",
    b"OggS",
    b"\x7fELF",
)


def decode(raw: bytes, *, content_type: str | None, text: str | None = None) -> str | Rejection:
    """Take a dump's bytes and its declared MIME type; give its text or a Rejection.

    `text`, when given, is what `raw` is the UTF-8 of (the dump arrived as text): it is returned
    where the bytes would be read as UTF-8, instead of decoding them again.
    """
    if not raw or raw.isspace():  # ASCII whitespace, as strip() knows it, without a copy
        return Rejection("empty", f"{len(raw)} bytes of whitespace only")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            # A byte-order mark outranks every declaration; stray bad bytes become U+FFFD.
            text = raw[len(bom) :].decode(encoding, errors="replace")
            if not text.strip():
                return Rejection("empty", f"a {encoding} byte-order mark and whitespace only")
            return text
    declared = _http_charset(content_type)
    if declared is not None and declared.startswith(("utf-16", "utf-32")):
        declared_text = _decode_declared(raw, declared)
        if declared_text is not None:
            return declared_text
    binary = _binary_signature(raw)
    if binary is not None:
        # UTF-16 or UTF-32 without a byte-order mark: NULs in every other (or every fourth) byte
        # of Latin text, control bytes among the halves of CJK characters.
        wide = None if raw.startswith(_BINARY_MAGIC) else _detected(raw, _WIDE_CODECS)
        if wide is not None:
            return raw.decode(wide, errors="replace")
        return Rejection("binary", binary)
    # Bytes that are valid UTF-8 are UTF-8, whatever ASCII-compatible charset they declare (only a
    # UTF-16/32 declaration, read above, outranks them). Text a producer decoded itself arrives as
    # UTF-8 under the declarations of the bytes it was read from: decoding it by a declared
    # iso-8859-1 made "CafÃ©". And a page really in a single-byte or legacy multi-byte charset
    # almost never forms valid UTF-8 sequences, while a stale declaration after a CMS migration is
    # common.
    if text is not None:
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        utf8_error = error
    is_html = _is_html(raw, content_type)
    if declared is not None:
        declared_text = _decode_declared(raw, declared)
        if declared_text is not None:
            return declared_text
    if is_html:
        meta = _meta_charset(raw)
        if meta is not None:
            declared_text = _decode_declared(raw, meta)
            if declared_text is not None:
                return declared_text
    evident = not is_html or len(raw.translate(None, _ASCII_BYTES)) >= _MIN_DETECTED_BYTES
    detected = _detected(raw, _WEB_CODECS) if evident else None
    if detected is not None:
        return raw.decode(detected, errors="replace")
    if is_html:
        return raw.decode("cp1252", errors="_newsingest_c1")
    stated = f"declares {declared!r}, which does not fit," if declared else "declares nothing,"
    return Rejection(
        "undecodable",
        f"plain text that {stated} is not UTF-8 (byte 0x{raw[utf8_error.start]:02x} at offset "
        f"{utf8_error.start}: {utf8_error.reason}) and reads as no other charset",
    )


def _detected(raw: bytes, candidates: list[str]) -> str | None:
    """The codec among `candidates` that charset-normalizer finds makes the bytes most readable,
    or None when none does (it stops at a fifth of the text looking garbled)."""
    # Imported here: ~14 ms of startup that UTF-8 and declared pages, nearly all, never need.
    from charset_normalizer import from_bytes  # noqa: PLC0415

    matches = from_bytes(raw, cp_isolation=candidates)
    best = matches.best()
    if best is None:
        return None
    if best.encoding.startswith("utf_16") and len(raw) < _MIN_WIDE_GUESS_BYTES:
        return None
    for match in matches:
        if (
            "cp1252" in match.could_be_from_charset
            and match.chaos <= best.chaos + _CP1252_MESS_TOLERANCE
        ):
            return "cp1252"
    return best.encoding


def _c1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Map the five bytes cp1252 leaves undefined to the C1 controls, as browsers do."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return chr(error.object[error.start]), error.start + 1


codecs.register_error("_newsingest_c1", _c1_fallback)


def _codec_name(label: str) -> str | None:
    """Give the Python codec for a charset label, widened to its WHATWG superset, or None."""
    name = label.strip().strip("\"'").lower()
    name = _WHATWG_SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _http_charset(content_type: str | None) -> str | None:
    """Give the codec named by a content type's charset parameter, if any and known."""
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type[:512].encode("ascii", errors="replace"))
    return _codec_name(match.group(1).decode("ascii")) if match else None


def _meta_charset(raw: bytes) -> str | None:
    """Give the codec a `<meta charset>` or `<meta http-equiv>` near the page top names, if any."""
    for tag in _META_TAG.finditer(raw[:_META_SCAN_BYTES]):
        match = _CHARSET_PARAM.search(tag.group(0))
        if match is None:
            continue
        codec = _codec_name(match.group(1).decode("ascii"))
        if codec is None:
            continue
        # The bytes were readable as ASCII to find this tag, so a UTF-16/32 label cannot be right;
        # the HTML standard says to read it as UTF-8.
        return "utf-8" if codec.startswith(("utf-16", "utf-32")) else codec
    return None


def _decode_declared(raw: bytes, codec: str) -> str | None:
    """Decode with a declared codec, tolerating a few bad bytes; None when it does not fit."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        pass
    if _is_utf8(raw):
        # A declaration the bytes break while they are flawless UTF-8 is a stale template header.
        return None
    text = raw.decode(codec, errors="replace")
    errors = text.count("\ufffd") - raw.decode(codec, errors="ignore").count("\ufffd")
    if errors <= max(1, int(len(raw) * _TOLERATED_ERROR_SHARE)):
        return text
    return None


def _is_utf8(raw: bytes) -> bool:
    """Say whether the bytes are valid UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _binary_signature(raw: bytes) -> str | None:
    """Say why the bytes look like a binary file rather than text; None when they look like text."""
    head = raw[:_SNIFF_BYTES]
    for magic in _BINARY_MAGIC:
        if head.startswith(magic):
            return f"starts with the signature {magic!r} of a binary file format"
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"NUL byte at offset {nul}: not text in any ASCII-compatible encoding"
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > len(head) * _BINARY_CONTROL_SHARE:
        return f"{controls} of the first {len(head)} bytes are control characters"
    return None


def _is_html(raw: bytes, content_type: str | None) -> bool:
    """Say whether the dump is HTML, by its MIME type or else by its first bytes."""
    mime = mime_type(content_type)
    if mime is not None and ("html" in mime or mime == "text/plain"):
        return "html" in mime
    return looks_like_html(raw[:_SNIFF_BYTES].decode("latin-1"))
