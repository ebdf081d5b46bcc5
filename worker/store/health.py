"""Reads of per-source health: what each source brought in consecutive 24-hour windows.

The windows end at a given instant and run back a day each (window 0 is the last 24 hours), so a
check run at any hour compares whole days with whole days, and window 7 falls on the same weekday
and hours as window 0. Figures come from `source_tallies` (worker/store/models.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class SourceWindow:
    """What one source brought in one 24-hour window."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    dated: int = 0  # stored articles with a timestamp
    minute_precision: int = 0  # of those, timestamps to the minute
    regioned: int = 0  # stored articles with a region other than unknown
    median_body_length: float | None = None  # characters; None when nothing was stored
    fetches: int = 0
    fetch_errors: int = 0


# Window k holds the tallies of (now - (k + 1) days, now - k days], give or take the instant
# on a boundary.
_WINDOW = "floor(extract(epoch FROM CAST(:now AS timestamptz) - t.tallied_at) / 86400)::int"
_SPAN = (
    "t.tallied_at > CAST(:now AS timestamptz) - make_interval(days => :windows) "
    "AND t.tallied_at <= CAST(:now AS timestamptz)"
)
_COUNTS = text(
    f"SELECT t.source, {_WINDOW} AS k, sum(t.received), sum(t.stored), sum(t.duplicates), "  # noqa: S608 - constants
    "sum(t.rejected), sum(t.dated), sum(t.minute_precision), sum(t.regioned), sum(t.fetches), "
    f"sum(t.fetch_errors) FROM source_tallies AS t WHERE {_SPAN} GROUP BY 1, 2"
)
_REASONS = text(
    f"SELECT t.source, {_WINDOW} AS k, e.key, sum(e.value::bigint) "  # noqa: S608 - constants
    "FROM source_tallies AS t, jsonb_each_text(t.rejected_by_reason) AS e "
    f"WHERE {_SPAN} AND t.rejected_by_reason IS NOT NULL GROUP BY 1, 2, 3"
)
# Each window's median on its own (by the source's index), so each sort holds one window's lengths:
# grouping every length of the span by source and window sorted them all together, ~3 times
# slower (bench/health.py: 240,000 lengths, ~230 ms against ~70 ms).
_MEDIANS = text(
    "SELECT w.source, w.k, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l.length) "
    "FROM source_tallies AS t, unnest(t.body_lengths) AS l(length) "
    "WHERE t.source = w.source "
    "AND t.tallied_at > CAST(:now AS timestamptz) - make_interval(days => w.k + 1) "
    "AND t.tallied_at <= CAST(:now AS timestamptz) - make_interval(days => w.k)) "
    "FROM unnest(CAST(:sources AS text[])) AS s(source) "
    "CROSS JOIN LATERAL (SELECT s.source, k FROM generate_series(0, :windows - 1) AS k) AS w"
)
# Each source's first tally ever, one index probe per source.
_FIRST_SEEN = text(
    "SELECT s.source, "
    "(SELECT min(t.tallied_at) FROM source_tallies AS t WHERE t.source = s.source) "
    "FROM unnest(CAST(:sources AS text[])) AS s(source)"
)


def list_source_windows(
    *, session: Session, now: datetime, windows: int
) -> dict[str, list[SourceWindow]]:
    """Every source with a tally in the last `windows` days, by name: its figures in each 24-hour
    window ending at `now`, newest first (index 0 is the last 24 hours), empty windows included."""
    params = {"now": now, "windows": windows}
    counts: dict[tuple[str, int], dict[str, object]] = {}
    for (
        source,
        k,
        received,
        stored,
        dupes,
        rejected,
        dated,
        minute,
        regioned,
        fetches,
        errors,
    ) in session.execute(_COUNTS, params):
        counts[(source, k)] = {
            "received": int(received),
            "stored": int(stored),
            "duplicates": int(dupes),
            "rejected": int(rejected),
            "dated": int(dated),
            "minute_precision": int(minute),
            "regioned": int(regioned),
            "fetches": int(fetches),
            "fetch_errors": int(errors),
            "rejected_by_reason": {},
        }
    for source, k, reason, n in session.execute(_REASONS, params):
        counts[(source, k)]["rejected_by_reason"][reason] = int(n)  # type: ignore[index]
    names = sorted({source for source, _ in counts})
    for source, k, median in session.execute(_MEDIANS, params | {"sources": names}):
        if median is not None and (source, k) in counts:
            counts[(source, k)]["median_body_length"] = float(median)
    sources: dict[str, list[SourceWindow]] = {}
    for (source, k), figures in counts.items():
        found = sources.setdefault(source, [SourceWindow() for _ in range(windows)])
        if 0 <= k < windows:
            found[k] = SourceWindow(**figures)  # type: ignore[arg-type]
    return dict(sorted(sources.items()))


def get_first_seen(*, session: Session, sources: Sequence[str]) -> dict[str, datetime]:
    """When each of `sources` was first tallied (the source's first page or fetch)."""
    rows = session.execute(_FIRST_SEEN, {"sources": list(sources)})
    return {source: first for source, first in rows if first is not None}


_WARN_ONCE = text(
    "INSERT INTO source_health_warnings (source, day) "
    "SELECT s, CAST(:day AS date) FROM unnest(CAST(:sources AS text[])) AS s "
    "ORDER BY s ON CONFLICT DO NOTHING RETURNING source"
)
_FORGET_WARNINGS = text("DELETE FROM source_health_warnings WHERE day < CAST(:before AS date)")


def claim_daily_warnings(
    *, session: Session, sources: Sequence[str], day: date, keep_days: int = 30
) -> list[str]:
    """Of `sources`, those not yet warned about on `day`, now marked as warned (so exactly one
    caller a day, across processes, gets each); marks older than `keep_days` are dropped."""
    session.execute(_FORGET_WARNINGS, {"before": date.fromordinal(day.toordinal() - keep_days)})
    if not sources:
        return []
    claimed = session.scalars(_WARN_ONCE, {"day": day, "sources": sorted(set(sources))})
    return sorted(claimed)
