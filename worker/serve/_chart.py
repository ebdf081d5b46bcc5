"""Articles per region per day as a stacked bar chart, laid out here and drawn as inline SVG.

Drawn on the server so that the page needs no script and no chart library: the layout is a
handful of rectangles, and the template writes them out as SVG attributes (escaped like all else).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from worker.consumers_cli import REGIONS
from worker.store.status import RegionDay

# Okabe and Ito's palette, told apart with the common colour-vision deficiencies; grey: unknown.
COLOURS = dict(
    zip(
        REGIONS,
        ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#999999"),
        strict=False,
    )
)
WIDTH = 720
HEIGHT = 240
LEFT = 48  # room for the count axis
BOTTOM = 36  # room for the day labels
TOP = 12


@dataclass(frozen=True, slots=True)
class Segment:
    """One region's share of one day's bar."""

    region: str
    articles: int
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template needs to draw the chart, in SVG user units."""

    width: int
    height: int
    segments: list[Segment]
    days: list[tuple[date, float, int]]  # (day, centre x, articles that day)
    ticks: list[tuple[int, float]]  # (count, y)
    legend: list[tuple[str, str, int]]  # (region, colour, articles in the window)
    baseline: float
    left: int
    total: int


def _ceiling(largest: int) -> int:
    """A round top for the count axis at or above `largest`: 1, 2 or 5 times a power of ten."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= largest:
                return top * step
        top *= 10


def region_chart(rows: list[RegionDay], *, now: datetime, days: int) -> Chart:
    """Lay out a stacked bar per UTC day (the last `days`, oldest left) of articles by region."""
    today = now.astimezone(UTC).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row.day][row.region] = counts[row.day].get(row.region, 0) + row.articles
    top = _ceiling(max((sum(c.values()) for c in counts.values()), default=1))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / len(window)
    bar = max(slot * 0.7, 1.0)
    baseline = float(HEIGHT - BOTTOM)
    order = {region: i for i, region in enumerate(REGIONS)}
    segments: list[Segment] = []
    day_marks: list[tuple[date, float, int]] = []
    for i, day in enumerate(window):
        x = LEFT + i * slot + (slot - bar) / 2
        y = baseline
        for region, n in sorted(counts.get(day, {}).items(), key=lambda kv: order.get(kv[0], 99)):
            height = plot_height * n / top
            y -= height
            segments.append(
                Segment(region, n, x, y, bar, height, COLOURS.get(region, COLOURS["unknown"]))
            )
        day_marks.append((day, x + bar / 2, sum(counts.get(day, {}).values())))
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.region] += row.articles
    legend = [
        (region, COLOURS.get(region, COLOURS["unknown"]), totals[region])
        for region in sorted(totals, key=lambda r: order.get(r, 99))
    ]
    # Evenly spaced whole counts: every count up to 5, else fifths of a top of 1 or 5 times a
    # power of ten (0, 20, ... 100) and quarters of one of 2 times (0, 50, ... 200).
    parts = top if top <= 5 else 4 if str(top)[0] == "2" else 5
    values = [top * k // parts for k in range(parts + 1)]
    ticks = [(value, baseline - plot_height * value / top) for value in values]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        segments=segments,
        days=day_marks,
        ticks=ticks,
        legend=legend,
        baseline=baseline,
        left=LEFT,
        total=sum(totals.values()),
    )
