"""decode: bytes to text by BOM, HTTP charset, meta charset, UTF-8, cp1252; rejections otherwise."""

from __future__ import annotations

import base64
import codecs
import random
from pathlib import Path

import pytest

from schemas import RawPage
from worker.pipeline import clean, receive
from worker.pipeline.decode import decode
from worker.pipeline.sniff import sniff
from worker.pipeline.types import CleanPage, Rejection

# The project's own example dump (tests/conftest.py's DUMP), so this runs from a fresh clone.
DUMP = Path(__file__).resolve().parents[2] / "examples" / "dumps" / "kenya-flood-warning.txt"
HEADLINE = "Zürich café owner’s “naïve” plan — €5 coffee"


def _html(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"
    )


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_bom_decides_over_every_declaration(bom: bytes, codec: str) -> None:
    raw = bom + _html(HEADLINE, '<meta charset="iso-8859-1">').encode(codec)
    text = decode(raw, content_type="text/html; charset=iso-8859-1")
    assert isinstance(text, str)
    assert HEADLINE in text
    assert not text.startswith("\ufeff")


def test_http_charset_is_used() -> None:
    raw = _html("Größe und Öffnungszeiten").encode("iso-8859-15")
    assert "Größe und Öffnungszeiten" in str(
        decode(raw, content_type="text/html; charset=ISO-8859-15")
    )


def test_http_charset_beats_meta_charset() -> None:
    raw = _html("Москва", '<meta charset="utf-8">').encode("koi8-r")
    assert "Москва" in str(decode(raw, content_type='text/html; charset="koi8-r"'))


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1251">',
        "<meta charset=windows-1251>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ],
)
def test_meta_charset_is_used_for_html(meta: str) -> None:
    raw = _html("Новости дня", meta).encode("cp1251")
    assert "Новости дня" in str(decode(raw, content_type=None))


def test_latin1_label_decodes_as_windows_1252() -> None:
    # Browsers read "iso-8859-1" as windows-1252, whose 0x93/0x94 are curly quotes.
    raw = _html("“quoted”").encode("cp1252")
    assert "“quoted”" in str(decode(raw, content_type="text/html; charset=iso-8859-1"))


def test_undeclared_utf8_html() -> None:
    raw = _html(HEADLINE).encode("utf-8")
    assert HEADLINE in str(decode(raw, content_type="text/html"))


def test_cp1252_fallback_for_undeclared_html() -> None:
    raw = _html("Café — “déjà vu”").encode("cp1252")
    assert "Café — “déjà vu”" in str(decode(raw, content_type=None))


def test_cp1252_fallback_keeps_undefined_bytes() -> None:
    raw = _html("a\x81b").encode("latin-1")
    text = decode(raw, content_type="text/html")
    assert isinstance(text, str)
    assert "a\x81b" in text


def test_wrong_declaration_falls_through_to_utf8() -> None:
    raw = _html("日本語のニュース", '<meta charset="shift_jis">').encode("utf-8")
    # A page saying shift_jis while being UTF-8 is common after a CMS migration.
    text = decode(raw, content_type=None)
    assert isinstance(text, str)
    assert "日本語のニュース" in text


def test_plain_utf8_text() -> None:
    assert (
        decode(f"{HEADLINE}\n\nBody.".encode(), content_type="text/plain") == f"{HEADLINE}\n\nBody."
    )


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\r\n\t ", codecs.BOM_UTF8 + b"  \n"])
def test_whitespace_is_empty(raw: bytes) -> None:
    result = decode(raw, content_type=None)
    assert isinstance(result, Rejection)
    assert result.reason == "empty"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"word/document.xml" * 3,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        random.Random(3).randbytes(4096),
        b"header\x00\x01\x02\x03 text",
        b"".join(bytes([b]) for b in b"\x01\x02\x03\x04\x05\x06abc" * 50),
    ],
)
def test_binary_is_rejected(raw: bytes) -> None:
    result = decode(raw, content_type=None)
    assert isinstance(result, Rejection)
    assert result.reason == "binary"
    assert result.detail


def test_binary_is_rejected_even_when_declared_html() -> None:
    result = decode(b"\x89PNG\r\n\x1a\n\x00\x00", content_type="text/html; charset=utf-8")
    assert isinstance(result, Rejection)
    assert result.reason == "binary"


RUSSIAN = "Москва, 3 марта. Правительство объявило о новых мерах поддержки экономики. "
FRENCH = "Zürich, le 3 mars. Les élèves ont manifesté devant l'hôtel de ville, naïvement. "
JAPANESE = "気象庁によると、東京都心では午後から激しい雨が降り、鉄道各社で運転見合わせが相次いだ。"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Café au lait, naïve", "latin-1"),  # windows-1250 reads it the same: 1252 is likelier
        (FRENCH * 3, "latin-1"),
        ("Prix : 5 €, “en solde”. " * 4, "cp1252"),
        (RUSSIAN * 3, "cp1251"),
        (RUSSIAN * 3, "koi8-r"),
        ("Ελλάδα: η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία. " * 3, "cp1253"),
        (FRENCH * 3, "utf-16-le"),  # no byte-order mark: NUL bytes in every other byte
        (FRENCH * 3, "utf-16-be"),
        (JAPANESE * 3, "utf-16-le"),  # no NULs, but control bytes among the halves
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_undeclared_legacy_text_is_read_by_the_charset_it_reads_best_in(
    text: str, codec: str, content_type: str | None
) -> None:
    assert decode(text.encode(codec), content_type=content_type) == text


def test_undeclared_shift_jis_html_is_not_read_as_windows_1252() -> None:
    raw = _html("東京で大雨、交通機関に乱れ").replace("<p>", "<p>" + JAPANESE * 10).encode("cp932")
    text = decode(raw, content_type="text/html")
    assert isinstance(text, str)
    assert "東京で大雨、交通機関に乱れ" in text


def test_text_that_reads_as_no_charset_is_undecodable_and_says_so_once() -> None:
    rng = random.Random(5)
    garbled = bytes(rng.choice([*range(0x80, 0x100), *b"ab "]) for _ in range(600))
    result = decode(garbled, content_type="text/plain")
    assert isinstance(result, Rejection)
    assert result.reason == "undecodable"
    assert "declares nothing, is not UTF-8" in result.detail
    assert "and and" not in result.detail
    declared = decode(garbled, content_type="text/plain; charset=utf-16")
    assert isinstance(declared, Rejection)
    assert "declares 'utf-16', which does not fit, is not UTF-8" in declared.detail


def test_utf8_and_declared_pages_never_call_the_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the detector ran")

    monkeypatch.setattr("charset_normalizer.from_bytes", refuse)
    assert HEADLINE in str(decode(_html(HEADLINE).encode("utf-8"), content_type=None))
    latin1 = "Café au lait".encode("latin-1")
    assert decode(latin1, content_type="text/plain; charset=latin-1") == "Café au lait"
    meta = _html(HEADLINE, '<meta charset="windows-1252">').encode("cp1252")
    assert HEADLINE in str(decode(meta, content_type=None))
    few = _html("Café — “déjà vu”").encode("cp1252")  # too few non-ASCII bytes to ask
    assert "Café — “déjà vu”" in str(decode(few, content_type=None))


def test_declared_charset_rescues_non_utf8_text() -> None:
    raw = "Café au lait".encode("latin-1")
    assert decode(raw, content_type="text/plain; charset=latin-1") == "Café au lait"


def test_utf16_declared_without_bom() -> None:
    raw = "Nachrichten aus Köln".encode("utf-16-le")
    assert decode(raw, content_type="text/plain; charset=utf-16le") == "Nachrichten aus Köln"


def test_unknown_charset_label_is_ignored() -> None:
    raw = _html("plain ascii").encode()
    assert "plain ascii" in str(decode(raw, content_type="text/html; charset=x-no-such-thing"))


def test_a_decoded_text_dump_sniffs_as_text() -> None:
    text = decode(DUMP.read_bytes(), content_type=None)
    assert isinstance(text, str)
    assert "Kenya opens emergency shelters as Tana River floods spread" in text
    assert sniff(text, content_type=None) == "text"


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("text/html; charset=utf-8", "html"),
        ("application/xhtml+xml", "html"),
        ("TEXT/PLAIN", "text"),
    ],
)
def test_sniff_trusts_an_explicit_type(content_type: str, kind: str) -> None:
    # The body says the opposite of the type: the type wins.
    text = "Just words." if kind == "html" else _html("markup")
    assert sniff(text, content_type=content_type) == kind


@pytest.mark.parametrize(
    "text",
    [
        _html("x"),
        "\ufeff  <!doctype HTML>\n<title>x</title>",
        '<?xml version="1.0"?>\n<!-- saved -->\n<html xmlns="http://www.w3.org/1999/xhtml">',
        "<head><meta charset=utf-8></head>",
        "<div class=menu><a href=/>Home</a></div>" * 4 + "<p>Story</p>",
        "Saved fragment\n" + '<div id="story"><p>One.</p><p>Two.</p></div>',
    ],
)
def test_sniff_recognises_html_without_a_type(text: str) -> None:
    assert sniff(text, content_type=None) == "html"
    assert sniff(text, content_type="application/octet-stream") == "html"


@pytest.mark.parametrize(
    "text",
    [
        "Page last updated at 15:54 GMT\n\nNato chief seeks helicopters\n\nBody text.",
        "Use the <br> tag for a line break, says the style guide, and keep prose " * 20,
        "a < b and c > d in every case we tried\n" * 30,
        "",
    ],
)
def test_sniff_reads_prose_as_text(text: str) -> None:
    assert sniff(text, content_type=None) == "text"


_STORY = (
    "<p>Le café crème est une boisson très appréciée à Zürich, où les cafés sont nombreux et "
    "animés toute la journée, disent les propriétaires.</p>"
) * 4


def _cleaned(content: str, **fields: str) -> CleanPage | Rejection:
    page = RawPage.model_validate({"content": content, "source": "test", **fields})
    return clean(receive(page, receipt_key="k"), max_page_bytes=1 << 20)


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        ('<meta charset="iso-8859-1">', "text/html"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">', None),
        ("", "text/html; charset=iso-8859-1"),
    ],
)
def test_text_a_producer_decoded_is_not_decoded_again(head: str, content_type: str | None) -> None:
    # The declarations describe the bytes the page came as; the producer has read them already.
    html = f"<html><head>{head}</head><body><h1>Café crème à Zürich</h1>{_STORY}</body></html>"
    fields = {"content_type": content_type} if content_type else {}
    cleaned = _cleaned(html, **fields)
    assert isinstance(cleaned, CleanPage)
    assert cleaned.headline == "Café crème à Zürich"
    assert "très appréciée à Zürich" in cleaned.body[0]


def test_bytes_sent_as_base64_are_decoded_by_their_declaration() -> None:
    html = f'<html><head><meta charset="iso-8859-1"></head><body><h1>Café à Zürich</h1>{_STORY}'
    raw = base64.b64encode(html.encode("cp1252")).decode("ascii")
    cleaned = _cleaned(raw, content_encoding="base64")
    assert isinstance(cleaned, CleanPage)
    assert cleaned.headline == "Café à Zürich"


def test_decoded_text_is_still_checked() -> None:
    with_bom = _cleaned("\ufeff<html><body><h1>Café crème à Zürich</h1>" + _STORY)
    assert isinstance(with_bom, CleanPage)
    assert with_bom.headline == "Café crème à Zürich"
    empty = _cleaned(" \n\t ")
    assert isinstance(empty, Rejection)
    assert empty.reason == "empty"
    binary = _cleaned("GIF89a\x00\x01 not text")
    assert isinstance(binary, Rejection)
    assert binary.reason == "binary"


def test_valid_utf8_wins_over_a_single_byte_declaration() -> None:
    # As text a producer decoded arrives, and as pages whose template header went stale do.
    raw = _html(HEADLINE, '<meta charset="iso-8859-1">').encode("utf-8")
    assert HEADLINE in str(decode(raw, content_type="text/html; charset=windows-1252"))
