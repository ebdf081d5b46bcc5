"""Source health and drift: is a source still sending what it used to?

A source that redesigns its pages keeps "working": pages arrive and the books balance, but its
articles are rejected as `no_body`, stored without a date or a region, or with the site menu as
their body. Each source is judged against its own recent past: the last 24 hours against each of
the `days` 24-hour windows before them (the baseline), on five measures:

- `rejected_share`: rejected / received
- `undated_share`, `unregioned_share`: of the stored articles
- `median_body_length`: of the stored articles (judged on a log scale: a ratio)
- `volume`: pages received (log scale, with one added so that silence is a figure)

The rule, per measure: the baseline's median is its centre and its median absolute deviation
(MAD, times 1.4826 so it estimates a standard deviation) its spread, but never less than a floor,
so a perfectly flat baseline does not flag noise. Today is flagged when it lies more than
`threshold` spreads from the centre. Shares add today's sampling noise (a share of 30 pages moves
more than one of 3,000). Volume has a wide floor (by default a factor of ~7): weekends and holidays
dip by half or more and are not drift; silence is. A low volume is also not flagged when it is
not far below the same weekday one and two weeks back (sources that rest on Sundays).

A measure is judged only with enough pages (`min_volume`) today and on enough baseline days; a
source seen for fewer than `min_baseline_days` days is "new" and never flagged.

`assess` is the pure rule (tested on simulated histories in tests/test_health.py);
`list_source_health` applies it to what the store tallied.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from worker.store.health import (
    SourceWindow,
    claim_daily_warnings,
    get_first_seen,
    list_source_windows,
)

__all__ = [
    "DriftRule",
    "Flag",
    "Measure",
    "SourceHealth",
    "SourceState",
    "SourceWindow",
    "assess",
    "list_source_health",
    "warn_once_a_day",
]

log = structlog.get_logger(__name__)

MAD_TO_SD = 1.4826  # the MAD of a normal distribution times this is its standard deviation


class Measure(enum.StrEnum):
    """What drift is judged on."""

    REJECTED_SHARE = "rejected_share"
    UNDATED_SHARE = "undated_share"
    UNREGIONED_SHARE = "unregioned_share"
    MEDIAN_BODY_LENGTH = "median_body_length"
    VOLUME = "volume"


class SourceState(enum.StrEnum):
    """A source's verdict."""

    OK = "ok"  # judged, nothing far from its baseline
    DRIFT = "drift"  # at least one measure far from its baseline (see the flags)
    QUIET = "quiet"  # too few pages in the last 24 hours to judge its articles; volume is fine
    NEW = "new"  # seen for too few days to have a baseline; not judged


@dataclass(frozen=True, slots=True)
class DriftRule:
    """The rule's parameters; the defaults are tested in tests/test_health.py."""

    threshold: float = 4.0  # spreads from the centre beyond which a measure is flagged
    share_floor: float = 0.04  # least spread of a share: flags need ~16 points of change
    length_floor: float = 0.125  # least spread of log(median body length): a factor of ~1.65
    volume_floor: float = 0.5  # least spread of log(1 + received): a factor of ~7.4
    min_volume: int = 20  # pages (stored, for article measures) a window needs to be judged
    min_baseline_days: int = 7  # days a source must have been seen before it is judged
    min_judged_days: int = 5  # baseline windows with enough pages a measure needs


@dataclass(frozen=True, slots=True)
class Flag:
    """A measure far from its baseline: the baseline's centre and today's figure."""

    measure: Measure
    baseline: float
    today: float


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's last 24 hours, its baseline, its state and its flags."""

    source: str
    state: SourceState
    today: SourceWindow
    baseline: dict[Measure, float | None]  # each measure's baseline centre; None if not judged
    flags: tuple[Flag, ...] = ()
    baseline_days: int = 0  # complete days in the baseline
    first_seen: datetime | None = None

    @property
    def flagged(self) -> bool:
        """Whether any measure is far from its baseline."""
        return bool(self.flags)

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (measures by name, figures as numbers)."""
        return {
            "source": self.source,
            "state": self.state.value,
            "today": {
                "received": self.today.received,
                "stored": self.today.stored,
                "duplicates": self.today.duplicates,
                "rejected": self.today.rejected,
                "rejected_by_reason": dict(self.today.rejected_by_reason),
                "fetches": self.today.fetches,
                "fetch_errors": self.today.fetch_errors,
                "minute_precision_share": _share(self.today.minute_precision, self.today.dated),
                **{m.value: measure_of(self.today, m) for m in Measure},
            },
            "baseline": {m.value: v for m, v in self.baseline.items()},
            "baseline_days": self.baseline_days,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "flags": [
                {"measure": f.measure.value, "baseline": f.baseline, "today": f.today}
                for f in self.flags
            ],
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def measure_of(window: SourceWindow, measure: Measure) -> float | None:
    """A window's figure for `measure` (None where it has no denominator)."""
    if measure is Measure.REJECTED_SHARE:
        return _share(window.rejected, window.received)
    if measure is Measure.UNDATED_SHARE:
        return _share(window.stored - window.dated, window.stored)
    if measure is Measure.UNREGIONED_SHARE:
        return _share(window.stored - window.regioned, window.stored)
    if measure is Measure.MEDIAN_BODY_LENGTH:
        return window.median_body_length
    return float(window.received)


def _robust(values: Sequence[float]) -> tuple[float, float]:
    """Median and MAD-based standard deviation."""
    centre = statistics.median(values)
    return centre, MAD_TO_SD * statistics.median(abs(v - centre) for v in values)


def _judge(
    measure: Measure,
    today: SourceWindow,
    history: Sequence[SourceWindow],
    rule: DriftRule,
) -> tuple[float | None, Flag | None]:
    """The baseline centre of one measure, and a flag if today is far from it."""
    if measure is Measure.VOLUME:
        return _judge_volume(today, history, rule)
    is_share = measure is not Measure.MEDIAN_BODY_LENGTH

    def count(window: SourceWindow) -> int:
        return window.received if measure is Measure.REJECTED_SHARE else window.stored

    judged = [measure_of(w, measure) for w in history if count(w) >= rule.min_volume]
    values = [v for v in judged if v is not None]
    if len(values) < rule.min_judged_days:
        return None, None
    figure = measure_of(today, measure)
    if is_share:
        centre, spread = _robust(values)
        if figure is None or count(today) < rule.min_volume:
            return centre, None
        # Today's own sampling noise: a binomial share of n pages around the centre.
        noise = centre * (1 - centre) / count(today)
        spread = math.sqrt(max(spread, rule.share_floor) ** 2 + noise)
        far = abs(figure - centre) > rule.threshold * spread
        return centre, Flag(measure, centre, figure) if far else None
    logs = [math.log(max(v, 1.0)) for v in values]
    centre_log, spread = _robust(logs)
    centre = statistics.median(values)
    if figure is None or count(today) < rule.min_volume:
        return centre, None
    far = abs(math.log(max(figure, 1.0)) - centre_log) > rule.threshold * max(
        spread, rule.length_floor
    )
    return centre, Flag(measure, centre, figure) if far else None


def _judge_volume(
    today: SourceWindow, history: Sequence[SourceWindow], rule: DriftRule
) -> tuple[float | None, Flag | None]:
    volumes = [float(w.received) for w in history]
    centre = statistics.median(volumes)
    if centre < rule.min_volume:
        return centre, None
    centre_log, spread = _robust([math.log1p(v) for v in volumes])
    limit = rule.threshold * max(spread, rule.volume_floor)
    distance = math.log1p(today.received) - centre_log
    if distance < -limit:
        # Not drift if this weekday was as low a week or two ago (a source that rests on Sundays).
        same_weekday = [volumes[i] for i in (6, 13) if i < len(volumes)]
        if same_weekday and math.log1p(today.received) >= math.log1p(max(same_weekday)) - limit:
            return centre, None
    elif distance <= limit:
        return centre, None
    return centre, Flag(Measure.VOLUME, centre, float(today.received))


def assess(
    *,
    source: str,
    today: SourceWindow,
    history: Sequence[SourceWindow],
    rule: DriftRule | None = None,
    first_seen: datetime | None = None,
) -> SourceHealth:
    """Judge a source's last 24 hours (`today`) against `history`, its complete 24-hour windows
    before them, newest first (history[0] is the day before; history[6] the same weekday a week
    back). Pass only the windows since the source was first seen: a shorter history than
    `rule.min_baseline_days` makes the source "new"."""
    rule = rule or DriftRule()
    if len(history) < rule.min_baseline_days:
        return SourceHealth(
            source=source,
            state=SourceState.NEW,
            today=today,
            baseline=dict.fromkeys(Measure),
            baseline_days=len(history),
            first_seen=first_seen,
        )
    baseline: dict[Measure, float | None] = {}
    flags: list[Flag] = []
    for measure in Measure:
        centre, flag = _judge(measure, today, history, rule)
        baseline[measure] = centre
        if flag is not None:
            flags.append(flag)
    if flags:
        state = SourceState.DRIFT
    elif today.received < rule.min_volume:
        state = SourceState.QUIET
    else:
        state = SourceState.OK
    return SourceHealth(
        source=source,
        state=state,
        today=today,
        baseline=baseline,
        flags=tuple(flags),
        baseline_days=len(history),
        first_seen=first_seen,
    )


def list_source_health(
    *,
    session: Session,
    days: int = 14,
    now: datetime | None = None,
    rule: DriftRule | None = None,
) -> list[SourceHealth]:
    """Every source tallied in the last `days` + 1 days, judged: its last 24 hours before `now`
    (default: the current time) against the `days` 24-hour windows before them. Flagged sources
    first, then by name."""
    if days < 1:
        msg = "days must be at least 1"
        raise ValueError(msg)
    now = now or datetime.now(UTC)
    windows = list_source_windows(session=session, now=now, windows=days + 1)
    first_seen = get_first_seen(session=session, sources=list(windows))
    judged = []
    for source, figures in windows.items():
        first = first_seen.get(source, now)
        # Only the windows the source existed for all of: of a source first seen 3.5 days ago,
        # the last 24 hours are judged against the two whole days before them.
        complete = max(0, int((now - first) / timedelta(days=1)) - 1)
        judged.append(
            assess(
                source=source,
                today=figures[0],
                history=figures[1 : 1 + min(days, complete)],
                rule=rule,
                first_seen=first,
            )
        )
    return sorted(judged, key=lambda h: (not h.flagged, h.source))


def warn_once_a_day(
    *,
    session: Session,
    health: Sequence[SourceHealth],
    now: datetime | None = None,
    warn: Callable[..., object] | None = None,
) -> list[str]:
    """Log a `source_drift` warning for each flagged source not yet warned about this UTC day
    (across all processes); returns the sources warned about now."""
    now = now or datetime.now(UTC)
    flagged = {h.source: h for h in health if h.flagged}
    claimed = claim_daily_warnings(
        session=session, sources=list(flagged), day=now.astimezone(UTC).date()
    )
    emit = warn or log.warning
    for source in claimed:
        emit(
            "source_drift",
            source=source,
            flags=[
                {"measure": f.measure.value, "baseline": f.baseline, "today": f.today}
                for f in flagged[source].flags
            ],
        )
    return claimed
