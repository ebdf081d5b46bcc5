"""Near-duplicate bodies: word shingles, their MinHash signature and its LSH band keys.

    body → BodyPrint (shingle set, band keys) ; BodyPrint × BodyPrint → similarity

Written here rather than with datasketch, the field's MinHash library: its `MinHash.update_batch`
alone cost ~550 µs a Reuters body, against ~55 µs for the whole print below (one vectorised
multiply-shift hash per row over the shingles' CRC32s), and every ingested page pays it.

Pure and deterministic across processes (no `hash()`, whose seed differs per process): any worker
computes the same band keys for the same body, so the store finds candidates with an indexed
query on the stored keys and needs no shared memory. The signature is a MinHash (one
multiply-shift hash per row, seeded once); its band keys are the LSH bands (Broder's banding: two
bodies of Jaccard similarity s share a band with probability 1 - (1 - s^ROWS)^BANDS).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BANDS",
    "MIN_SHINGLES",
    "ROWS",
    "SHINGLE_WORDS",
    "BodyPrint",
    "body_print",
    "shingle_bytes",
    "similarity",
    "stored_print",
]

# Three-word shingles: short enough that a re-wrapped or lightly edited paragraph keeps most of
# them, long enough that two texts on one topic share few (see bench/stories.py).
SHINGLE_WORDS = 3
# 12 bands of 3 rows: a pair at Jaccard similarity 0.7 (a copy with a paragraph cut, or an
# outlet's header and footer) becomes a candidate with probability 0.99, at 0.5 with 0.80, at 0.3
# with 0.28; two texts on one topic (~0.01) with 0.00001, so that a week of a busy feed gives a
# new body few false candidates to refuse. Copies under the same headline or URL (an HTML page
# and its text dump that kept the site's chrome, Jaccard 0.2-0.5) are found by those instead.
# bench/stories.py: 24 and 16 bands found 0.2-0.3% more copies, for ~80 and ~30 µs more a
# text page end to end.
BANDS = 12
ROWS = 3
# Fewer shingles than this (about 60 words, repeats counted) and a body is a brief: too little
# text to tell one story's copy from another written to the same template; never linked by body.
MIN_SHINGLES = 60

_PUNCTUATION = (
    "".join(chr(c) for c in range(0x2000, 0x2070)) + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»"
)
# A body's first words only: a page at the size limit holds ~150,000, whose signature would take
# ~40 MB and tens of ms; copies of one story agree on their beginning.
_MOST_WORDS = 20_000
_WORD_HASHES: dict[str, int] = {}
_WORD_CACHE_SIZE = 200_000
# The signature's hash functions; changing the seed changes every stored band key.
_RANDOM = np.random.default_rng(20)
_MULTIPLIERS = _RANDOM.integers(1, 2**32, BANDS * ROWS, dtype=np.uint32) | np.uint32(1)
_ADDENDS = _RANDOM.integers(0, 2**32, BANDS * ROWS, dtype=np.uint32)
_BAND_MIXERS = _RANDOM.integers(1, 2**63, ROWS, dtype=np.uint64) | np.uint64(1)
_BAND_SALTS = _RANDOM.integers(0, 2**63, BANDS, dtype=np.uint64)
# Per word position in a shingle, so that "a b c" and "c b a" hash apart.
_MIXERS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D], dtype=np.uint64)[:SHINGLE_WORDS]


@dataclass(frozen=True, slots=True)
class BodyPrint:
    """What a cleaned body is compared by: its shingle hashes and the LSH band keys."""

    # The shingle hashes in text order, repeats kept (a NumPy array: a frozenset of Python ints
    # cost ~15 µs an article to build and free, for the few bodies ever compared).
    shingles: np.ndarray
    bands: tuple[int, ...]  # BANDS signed 64-bit keys, band number folded in

    @property
    def linkable(self) -> bool:
        """Long enough to be linked to another body by similarity."""
        return int(self.shingles.size) >= MIN_SHINGLES


def _word_hash(token: str) -> int:
    """A token's 32-bit hash, punctuation around it ignored; 0 when nothing else is left."""
    word = token.strip(_PUNCTUATION)
    if not word:
        return 0
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) | 1


def _shingle_hashes(body: str) -> np.ndarray:
    """The 32-bit hashes of the body's word shingles (lower-cased words), in text order."""
    # str.split and a cache of word hashes looked up in C: a Unicode regex over the body cost
    # ~110 µs a text page, and hashing each word afresh ~35 (profiled on 4.4 KB bodies).
    tokens = body.lower().split()[:_MOST_WORDS]
    known = list(map(_WORD_HASHES.get, tokens))
    if None in known:
        if len(_WORD_HASHES) >= _WORD_CACHE_SIZE:
            _WORD_HASHES.clear()
        for index, value in enumerate(known):
            if value is None:
                known[index] = _WORD_HASHES[tokens[index]] = _word_hash(tokens[index])
    words = np.array(known, dtype=np.uint64)
    words = words[words != 0]
    if words.size < SHINGLE_WORDS:
        return np.zeros(0, dtype=np.uint32)
    span = words.size - SHINGLE_WORDS + 1
    combined = np.zeros(span, dtype=np.uint64)
    for position in range(SHINGLE_WORDS):
        combined = (
            combined * np.uint64(0x100000001B3)
            + words[position : position + span] * (_MIXERS[position])
        )
    return (combined >> np.uint64(32)).astype(np.uint32)


def body_print(body: str) -> BodyPrint:
    """A cleaned body → its BodyPrint (a brief's bands are computed all the same)."""
    hashes = _shingle_hashes(body)
    if hashes.size == 0:
        return BodyPrint(hashes, ())
    # One permutation of the 32-bit hashes per signature row (an odd multiplier and an addend,
    # modulo 2^32), min over the shingles; a repeated shingle changes no minimum, so the hashes
    # are not made distinct here (np.unique cost ~14 µs an article, for the few ever compared).
    signature = (np.multiply.outer(hashes, _MULTIPLIERS) + _ADDENDS).min(axis=0)
    # A band's key mixes its rows' minima and its number (multiplications wrap modulo 2^64), read
    # as PostgreSQL's signed bigint: a blake2b digest per band cost ~25 µs an article.
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS) * _BAND_MIXERS
    keys = rows.sum(axis=1, dtype=np.uint64) + _BAND_SALTS
    bands = tuple((keys ^ (keys >> np.uint64(29))).view(np.int64).tolist())
    return BodyPrint(hashes, bands)


def shingle_bytes(found: BodyPrint) -> bytes:
    """A print's shingle hashes as bytes to store (little-endian uint32, in text order)."""
    return found.shingles.astype("<u4", copy=False).tobytes()


def stored_print(data: bytes) -> BodyPrint:
    """The print of a stored body from its `shingle_bytes`: compared as a fresh one would be
    (its band keys, which only new bodies are looked up by, are not kept)."""
    return BodyPrint(np.frombuffer(data, dtype="<u4").astype(np.uint32), ())


def similarity(first: BodyPrint, second: BodyPrint) -> float:
    """Two BodyPrints → how alike their bodies are, 0..1: the share of the smaller shingle set
    found in the other (overlap coefficient).

    Not the Jaccard index: one copy of a story often holds more text than the other (a text dump
    that kept the site's chrome, an outlet's header and footer, a cut paragraph), and the
    development pages' HTML and text copies had a Jaccard index of 0.2-0.5 with ~1.0 of the
    smaller set contained (bench/stories.py).
    """
    if not first.shingles.size or not second.shingles.size:
        return 0.0
    mine, theirs = np.unique(first.shingles), np.unique(second.shingles)
    shared = np.intersect1d(mine, theirs, assume_unique=True).size
    return float(shared / min(mine.size, theirs.size))
