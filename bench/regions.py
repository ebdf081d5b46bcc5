"""Region classifier benchmark on Reuters-21578 (TRAIN stories with one gold region).

Prints accuracy, macro-F1 over the seven BBC regions, per-region precision and recall, the
confusion matrix, a confidence calibration table and microseconds per article, for the dev split
(newid % 5 != 0, the only one used for tuning) and the held-out split (newid % 5 == 0).

    .venv/bin/python bench/regions.py                 # both splits
    .venv/bin/python bench/regions.py --split test    # held-out only
    .venv/bin/python bench/regions.py --fit           # also fit the confidence calibration on dev
    .venv/bin/python bench/regions.py --errors 20     # show some dev mistakes
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.pipeline.classify import REGIONS, classify
from worker.pipeline.types import CleanPage, RegionVerdict

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "regions"
STORIES = DATA / "reuters21578-train.jsonl"
HELD_OUT_MODULUS = 5
_PARAGRAPH_BREAK = re.compile(r"\n(?=\s)")


@dataclass(frozen=True, slots=True)
class Story:
    newid: int
    gold: str
    page: CleanPage


@dataclass(frozen=True, slots=True)
class Outcome:
    story: Story
    verdict: RegionVerdict
    micros: float  # wall clock
    cpu_micros: float  # this thread's CPU time: steadier when other processes share the cores


def paragraphs(body: str) -> tuple[str, ...]:
    """Take a Reuters body; give its paragraphs (split on blank or indented lines, lines joined)."""
    return tuple(" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(body) if part.strip())


def stories(split: str) -> Iterator[Story]:
    """Take "dev", "test" or "all"; give the single-region stories with a body in that split."""
    with STORIES.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if not row.get("region_single") or not (row.get("body") or "").strip():
                continue
            held_out = row["newid"] % HELD_OUT_MODULUS == 0
            if (split == "dev" and held_out) or (split == "test" and not held_out):
                continue
            page = CleanPage(
                headline=row.get("title") or "",
                published=None,
                body=paragraphs(row["body"]),
                kind="text",
            )
            yield Story(row["newid"], row["region_single"], page)


def run(split: str) -> list[Outcome]:
    """Classify every story of a split, timing each call (the gazetteer is built before)."""
    classify(CleanPage(headline="Warm-up in Paris", published=None, body=(), kind="text"))
    outcomes = []
    for story in stories(split):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        verdict = classify(story.page)
        cpu = (time.thread_time_ns() - started_cpu) / 1000
        outcomes.append(Outcome(story, verdict, (time.perf_counter_ns() - started) / 1000, cpu))
    return outcomes


def report(name: str, outcomes: list[Outcome]) -> None:
    """Print the figures for one split."""
    total = len(outcomes)
    right = sum(o.verdict.region == o.story.gold for o in outcomes)
    unknown = sum(o.verdict.region == "unknown" for o in outcomes)
    print(f"\n== {name}: {total} stories ==")
    print(f"accuracy {right / total:.4f}   unknown {unknown} ({unknown / total:.2%})")
    f1s = []
    print(f"{'region':<14}{'gold':>6}{'pred':>6}{'prec':>8}{'recall':>8}{'F1':>8}")
    for region in REGIONS:
        gold = sum(o.story.gold == region for o in outcomes)
        predicted = sum(o.verdict.region == region for o in outcomes)
        hits = sum(o.story.gold == region == o.verdict.region for o in outcomes)
        precision = hits / predicted if predicted else 0.0
        recall = hits / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        print(f"{region:<14}{gold:>6}{predicted:>6}{precision:>8.3f}{recall:>8.3f}{f1:>8.3f}")
    print(f"macro-F1 {statistics.fmean(f1s):.4f}")

    columns = [*REGIONS, "unknown"]
    confusion = Counter((o.story.gold, o.verdict.region) for o in outcomes)
    print("\nconfusion (rows gold, columns predicted)")
    print(" " * 14 + "".join(f"{c[:7]:>8}" for c in columns))
    for region in REGIONS:
        print(f"{region:<14}" + "".join(f"{confusion[(region, c)]:>8}" for c in columns))

    print("\ncalibration (confidence bin: stories, mean confidence, accuracy)")
    expected_error = 0.0
    for low in [x / 10 for x in range(10)]:
        members = [
            o
            for o in outcomes
            if low <= o.verdict.confidence < low + 0.1
            or (low == 0.9 and o.verdict.confidence == 1.0)
        ]
        if members:
            mean_conf = statistics.fmean(o.verdict.confidence for o in members)
            accuracy = statistics.fmean(o.verdict.region == o.story.gold for o in members)
            expected_error += abs(mean_conf - accuracy) * len(members) / total
            bounds = f"[{low:.1f}, {low + 0.1:.1f})"
            print(f"  {bounds}  {len(members):>6}  {mean_conf:.3f}  {accuracy:.3f}")
    print(f"expected calibration error {expected_error:.4f}")

    print()
    for clock, micros in (
        ("wall", [o.micros for o in outcomes]),
        ("cpu", [o.cpu_micros for o in outcomes]),
    ):
        median, mean = statistics.median(micros), statistics.fmean(micros)
        print(f"µs per article ({clock}, one core): median {median:.0f}, mean {mean:.0f}")


def features(verdict: RegionVerdict) -> tuple[float, float, float, float]:
    """Take a verdict; give the calibration features: 1, share, log(1 + top score), margin."""
    ranked = sorted(verdict.scores.values(), reverse=True)
    total = sum(ranked)
    runner_up = ranked[1] if len(ranked) > 1 else 0.0
    return 1.0, ranked[0] / total, math.log1p(ranked[0]), (ranked[0] - runner_up) / total


def fit_calibration(outcomes: list[Outcome]) -> list[float]:
    """Fit confidence = logistic(a + b·share + c·log(1+top) + d·margin) by gradient descent."""
    rows = [
        (features(o.verdict), 1.0 if o.verdict.region == o.story.gold else 0.0)
        for o in outcomes
        if o.verdict.scores
    ]
    weights = [0.0, 0.0, 0.0, 0.0]
    for _ in range(4000):
        gradient = [0.0, 0.0, 0.0, 0.0]
        for x, label in rows:
            error = (
                1.0 / (1.0 + math.exp(-sum(w * v for w, v in zip(weights, x, strict=True)))) - label
            )
            for i, value in enumerate(x):
                gradient[i] += error * value
        weights = [w - 0.5 * g / len(rows) for w, g in zip(weights, gradient, strict=True)]
    return weights


def show_errors(outcomes: list[Outcome], count: int) -> None:
    """Print some mistakes with the evidence that decided them."""
    wrong = [o for o in outcomes if o.verdict.region != o.story.gold]
    for outcome in wrong[:count]:
        verdict = outcome.verdict
        places = ", ".join(
            f"{e.place}({e.country or e.region}/{e.where[0]})" for e in verdict.evidence
        )
        print(
            f"\n#{outcome.story.newid} gold {outcome.story.gold} got {verdict.region}: "
            f"{outcome.story.page.headline}\n   {places[:400]}"
        )


def main() -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--fit", action="store_true", help="fit the confidence calibration on dev")
    parser.add_argument("--errors", type=int, default=0, help="print this many dev mistakes")
    args = parser.parse_args()
    if not STORIES.exists():
        sys.exit(f"no Reuters data at {STORIES}: the shared data folder is missing")
    if args.split in ("dev", "both") or args.fit or args.errors:
        dev = run("dev")
        report("dev (newid % 5 != 0)", dev)
        if args.errors:
            show_errors(dev, args.errors)
        if args.fit:
            a, b, c, d = fit_calibration(dev)
            print(f"\nfitted calibration on dev: a={a:.3f} b={b:.3f} c={c:.3f} d={d:.3f}")
    if args.split in ("test", "both"):
        report("held-out (newid % 5 == 0)", run("test"))


if __name__ == "__main__":
    main()
