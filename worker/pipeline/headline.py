"""The dedupe form of a headline: the same words in any typography give the same key."""

from __future__ import annotations

import re
import unicodedata

# Typographic variants of the same character, folded before anything else so that the site-name
# and punctuation rules below only have to know the plain forms.
_FOLD = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    }
)  # fmt: skip

# Separators that put a site name after a headline: " - BBC News", " | Reuters", " :: Site".
_SITE_SEPARATORS = (" - ", " | ", " || ", " :: ", " · ", " • ")
_NOT_WORD = re.compile(r"[^\w]+")


def strip_site_suffix(headline: str) -> str:
    """The headline without a trailing site name such as ' - BBC News' or ' | Reuters'."""
    text = headline.strip()
    # Folding maps one character to one character: positions in `folded` are positions in `text`.
    folded = text.translate(_FOLD)
    cut = max(folded.rfind(separator) for separator in _SITE_SEPARATORS)
    # A site name is short, and what is left must still read as a headline (three words or more).
    if cut > 0 and len(folded[cut:].split()) <= 6 and len(folded[:cut].split()) >= 3:
        return text[:cut].rstrip()
    return text


def headline_key(headline: str) -> str:
    """A headline normalized for dedupe: NFKC, casefold, punctuation unified, site name dropped."""
    text = unicodedata.normalize("NFKC", headline).translate(_FOLD)
    # Casefolding can leave a string that is no longer in normal form (Greek with accents), so
    # normalize again: the Unicode "NFKC_Casefold" recipe.
    text = unicodedata.normalize("NFKC", strip_site_suffix(text).casefold())
    # Apostrophes join their word ("Nato's" and "Natos" are the same key); other punctuation is a
    # word break, so "Nato-Russia" and "Nato Russia" collide, which is what a reader would expect.
    text = text.replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", text).split())
