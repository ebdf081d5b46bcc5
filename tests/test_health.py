"""The drift rule on simulated histories: what an operator would call drift is flagged, with the
measure and both figures; weekends, holidays, noise and new sources are not."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from worker.health import (
    DriftRule,
    Measure,
    SourceHealth,
    SourceState,
    SourceWindow,
    assess,
    measure_of,
)

RULE = DriftRule()


def _day(rng: random.Random, *, weekday: bool = True, scale: float = 1.0) -> SourceWindow:
    """One day of a healthy source: ~400 pages on weekdays, ~150 at weekends, 20% resends,
    3% rejected, 5% undated, 20% without a region, bodies around 2,500 characters."""
    received = max(0, round(rng.gauss(400 if weekday else 150, 25) * scale))
    rejected = sum(rng.random() < 0.03 for _ in range(received))
    duplicates = sum(rng.random() < 0.2 for _ in range(received - rejected))
    stored = received - rejected - duplicates
    dated = stored - sum(rng.random() < 0.05 for _ in range(stored))
    return SourceWindow(
        received=received,
        stored=stored,
        duplicates=duplicates,
        rejected=rejected,
        rejected_by_reason={"no_body": rejected} if rejected else {},
        dated=dated,
        minute_precision=dated,
        regioned=stored - sum(rng.random() < 0.2 for _ in range(stored)),
        median_body_length=rng.gauss(2500, 120) if stored else None,
    )


def _history(seed: int, days: int = 14, today_weekday: int = 2) -> list[SourceWindow]:
    """`days` healthy days before a day of the week `today_weekday` (0 Monday), newest first."""
    rng = random.Random(seed)
    return [_day(rng, weekday=(today_weekday - back) % 7 < 5) for back in range(1, days + 1)]


def _flags(health: SourceHealth) -> dict[Measure, tuple[float, float]]:
    return {f.measure: (f.baseline, f.today) for f in health.flags}


@pytest.mark.parametrize("seed", range(30))
def test_a_healthy_source_is_ok_on_any_day_of_the_week(seed: int) -> None:
    rng = random.Random(1000 + seed)
    today_weekday = seed % 7
    today = _day(rng, weekday=today_weekday < 5)
    health = assess(source="s", today=today, history=_history(seed, today_weekday=today_weekday))
    assert health.state is SourceState.OK
    assert health.flags == ()


def test_a_redesign_that_rejects_every_page_is_flagged_with_both_figures() -> None:
    history = _history(1)
    today = SourceWindow(received=390, rejected=390, rejected_by_reason={"no_body": 390})
    health = assess(source="s", today=today, history=history)
    assert health.state is SourceState.DRIFT
    flags = _flags(health)
    assert set(flags) == {Measure.REJECTED_SHARE}  # volume held up; nothing was stored
    baseline, figure = flags[Measure.REJECTED_SHARE]
    assert figure == 1.0
    assert 0.01 < baseline < 0.06  # the history's ~3%
    assert health.baseline[Measure.REJECTED_SHARE] == baseline


def test_a_redesign_from_a_day_on_is_flagged_every_day_after_it() -> None:
    rng = random.Random(7)
    days = [_day(rng, weekday=(d % 7) < 5) for d in range(40)]  # oldest first
    broken = 25
    for d in range(broken, 40):
        days[d] = replace(days[d], median_body_length=310.0)  # the site menu, not the article
    for d in range(15, 40):
        history = days[d - 14 : d][::-1]
        health = assess(source="s", today=days[d], history=history)
        flagged = Measure.MEDIAN_BODY_LENGTH in _flags(health)
        # Flagged from the first broken day until the breakage fills most of the baseline.
        assert flagged == (broken <= d < broken + 7), d


def test_articles_losing_their_dates_or_regions_are_flagged() -> None:
    history = _history(2)
    ordinary = _day(random.Random(3))
    undated = replace(ordinary, dated=ordinary.stored // 4, minute_precision=0)
    unregioned = replace(ordinary, regioned=0)
    assert set(_flags(assess(source="s", today=undated, history=history))) == {
        Measure.UNDATED_SHARE
    }
    assert set(_flags(assess(source="s", today=unregioned, history=history))) == {
        Measure.UNREGIONED_SHARE
    }


@pytest.mark.parametrize("scale", [0.5, 0.35, 0.25])
def test_a_holiday_dip_in_volume_is_not_drift(scale: float) -> None:
    # A weekday holiday (Wednesday) with a half to a quarter of the usual pages, all as healthy.
    today = _day(random.Random(4), weekday=True, scale=scale)
    health = assess(source="s", today=today, history=_history(4))
    assert health.flags == ()
    assert health.state is SourceState.OK


def test_a_weekend_is_not_a_dip_even_after_a_week_of_weekdays() -> None:
    # Saturday after five weekdays at the top of the baseline.
    today = _day(random.Random(5), weekday=False)
    assert assess(source="s", today=today, history=_history(5, today_weekday=5)).flags == ()


def test_a_source_that_rests_on_sundays_is_not_silent_on_sunday() -> None:
    rng = random.Random(6)
    history = [
        SourceWindow() if (6 - back) % 7 == 6 else _day(rng) for back in range(1, 15)
    ]  # today is Sunday (6); Sundays one and two weeks back were empty
    health = assess(source="s", today=SourceWindow(), history=history)
    assert health.flags == ()
    assert health.state is SourceState.QUIET


def test_a_source_gone_silent_is_flagged() -> None:
    health = assess(source="s", today=SourceWindow(), history=_history(8))
    assert health.state is SourceState.DRIFT
    baseline, figure = _flags(health)[Measure.VOLUME]
    assert figure == 0
    assert baseline > 150


def test_a_flood_of_pages_is_flagged() -> None:
    today = _day(random.Random(9), scale=12)
    assert set(_flags(assess(source="s", today=today, history=_history(9)))) == {Measure.VOLUME}


@pytest.mark.parametrize("seen_days", [0, 1, 3, 6])
def test_a_new_source_is_new_and_never_flagged(seen_days: int) -> None:
    today = SourceWindow(received=200, rejected=200, rejected_by_reason={"no_body": 200})
    health = assess(source="s", today=today, history=_history(10, days=seen_days))
    assert health.state is SourceState.NEW
    assert health.flags == ()
    assert health.baseline_days == seen_days
    assert all(v is None for v in health.baseline.values())


def test_a_flat_baseline_does_not_flag_noise() -> None:
    # Fourteen days without a single rejection or undated article; today has a few of each.
    flat = [
        SourceWindow(received=300, stored=300, dated=300, regioned=300, median_body_length=2000.0)
        for _ in range(14)
    ]
    today = SourceWindow(
        received=300,
        stored=292,
        rejected=8,
        rejected_by_reason={"no_body": 8},
        dated=280,
        regioned=285,
        median_body_length=2150.0,
    )
    health = assess(source="s", today=today, history=flat)
    assert health.flags == ()
    # ... but the same baseline flags a real break.
    broken = replace(today, dated=150)
    assert set(_flags(assess(source="s", today=broken, history=flat))) == {Measure.UNDATED_SHARE}


def test_a_small_day_is_not_judged_on_shares() -> None:
    # Ten pages today, all rejected: too few to call a change in share; the volume is judged.
    today = SourceWindow(received=10, rejected=10, rejected_by_reason={"no_body": 10})
    history = _history(11)
    health = assess(source="s", today=today, history=history)
    assert Measure.REJECTED_SHARE not in _flags(health)
    # The same ten pages from a source that always sends about ten are merely quiet.
    small = [SourceWindow(received=10, stored=10, dated=10, regioned=10) for _ in range(14)]
    quiet = assess(source="s", today=today, history=small)
    assert quiet.state is SourceState.QUIET
    assert quiet.flags == ()


def test_the_threshold_is_a_parameter() -> None:
    # A rejection share of 12% against ~3%: not far by default, far for a stricter rule.
    history = _history(12)
    ordinary = _day(random.Random(12))
    today = replace(ordinary, rejected=48, rejected_by_reason={"no_body": 48})
    assert measure_of(today, Measure.REJECTED_SHARE) == pytest.approx(48 / ordinary.received)
    assert assess(source="s", today=today, history=history).flags == ()
    strict = DriftRule(threshold=2.0, share_floor=0.02)
    assert set(_flags(assess(source="s", today=today, history=history, rule=strict))) == {
        Measure.REJECTED_SHARE
    }
