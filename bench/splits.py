"""The one split of every evaluation set into a tuning part and a reporting part.

A page (or story) belongs to the reporting part ("holdout", one in three) when the first byte of
the SHA-256 of its id is divisible by three, else to the tuning part ("tune"). The id is the
page's file name, URL or story id, as each benchmark names its pages. Fixed once: tune on
"tune", report both, and never look at "holdout" failures while tuning.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["tune", "holdout"]
SPLITS: tuple[Split, ...] = ("tune", "holdout")
_HOLDOUT_MODULUS = 3


def split(page_id: str) -> Split:
    """Give the part of its set a page belongs to, by a hash of its id."""
    digest = hashlib.sha256(page_id.encode()).digest()
    return "holdout" if digest[0] % _HOLDOUT_MODULUS == 0 else "tune"
