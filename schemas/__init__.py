"""Wire contracts of newsingest: what producers send and what consumers read.

`RawPage` is the message a producer puts on the queue; `Article` is the normalized record the store
keeps. Both are exported as JSON Schema under `schemas/json/` so producers and consumers in any
language can validate (`python -m schemas` rewrites the files). This package imports nothing from
`worker/`.
"""

from schemas._models import (
    EARLIEST_FETCHED_AT,
    MAX_CONTENT_CHARS,
    Article,
    EvidenceItem,
    RawPage,
)

__all__ = ["EARLIEST_FETCHED_AT", "MAX_CONTENT_CHARS", "Article", "EvidenceItem", "RawPage"]
