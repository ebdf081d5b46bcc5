"""The crawl commands: `newsingest crawl [SOURCE] --once` and `newsingest sources [--health]`."""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import orjson
import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from worker._console import err, out
from worker.crawl.settings import get_crawl_settings
from worker.crawl.sources import find_source

EXIT_FAILED = 1  # a crawl failed or could not start; with `sources --health`, a source is flagged

crawl_app = typer.Typer(help="Crawl the news sources listed in NEWSINGEST_SOURCES.")


# Outcomes in the order a reader wants them, each with the words the progress line uses for one
# and for more.
_SHOWN = (
    ("enqueued", "enqueued", "enqueued"),
    ("not_modified", "not modified", "not modified"),
    ("unchanged", "unchanged", "unchanged"),
    ("disallowed", "disallowed by robots.txt", "disallowed by robots.txt"),
    ("unwanted_type", "other content type", "other content types"),
    ("too_large", "too large", "too large"),
    ("http_error", "HTTP error", "HTTP errors"),
    ("failed", "failed", "failed"),
    ("refused", "refused", "refused"),
    ("recent", "fetched recently", "fetched recently"),
)


def _summary(counts: Counter[str], *, empty: str = "nothing to fetch") -> str:
    parts = [
        f"{counts[key]} {one if counts[key] == 1 else many}"
        for key, one, many in _SHOWN
        if counts[key]
    ]
    return " · ".join(parts) or empty


def crawl(
    source: Annotated[
        str | None, typer.Argument(help="Source name; every active source when omitted.")
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Crawl once and exit; without it, crawl due sources until stopped."
        ),
    ] = False,
) -> None:
    """Crawl sources by hand, showing progress (scheduled crawls run under `newsingest beat`)."""
    from worker.crawl import service, state  # noqa: PLC0415 - keeps `--help` fast
    from worker.store import transaction  # noqa: PLC0415

    sources = service.list_sources()
    if source is not None:
        sources = [find_source(sources, source)]
    elif once:
        with transaction() as session:
            known = state.get_source_states(session=session)
        sources = [
            s for s in sources if s.enabled and not (s.name in known and known[s.name].paused)
        ]
    failed = False
    while True:
        if not once:
            with transaction() as session:
                known = state.get_source_states(session=session)
            due = service.due_sources(sources=sources, states=known, now=datetime.now(UTC))
        for item in sources if once else due:
            failed |= not _crawl_one(item.name)
        if once:
            break
        time.sleep(get_crawl_settings().crawl_tick)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _crawl_one(name: str) -> bool:
    from worker.crawl.service import crawl_named  # noqa: PLC0415 - keeps `--help` fast

    counts: Counter[str] = Counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[source]}[/bold] {task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", source=name)

        def heard(outcome: str, url: str) -> None:
            counts[outcome] += 1
            progress.update(task, description=f"{_summary(counts, empty='fetching')}  {url[:60]}")

        report = crawl_named(name=name, on_event=heard)
    if report is None:
        err.print(f"[yellow]{name}:[/yellow] another crawl of this source is running")
        return False
    line = f"{name}: {_summary(report.counts)}"
    if report.failed:
        err.print(f"[red]{line} — the crawl failed:[/red] {report.error or ''}")
        for failure in report.entry_failures:
            err.print(f"  {failure}")
        if report.paused:
            err.print(f"[red]{name} is paused[/red] after failing crawls in a row")
        return False
    out.print(line)
    return True


class HealthFormat(StrEnum):
    """How `sources --health` prints its records."""

    TABLE = "table"
    JSON = "json"


def sources(
    health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Judge each source's last 24 hours against its own recent past and list its "
            "state and drift flags; exits 1 when any source is flagged.",
        ),
    ] = False,
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=90,
            help="With --health: days of baseline [default: NEWSINGEST_HEALTH_BASELINE_DAYS].",
        ),
    ] = None,
    output: Annotated[
        HealthFormat | None,
        typer.Option(
            "--format",
            help="With --health: table or json (one object per line) [default: table on a "
            "terminal, json in a pipe]",
        ),
    ] = None,
) -> None:
    """List the sources with their schedule and the state of their crawls (or, with --health,
    their drift flags)."""
    if health:
        _health(days=days, output=output)
        return
    from worker.crawl import service, state  # noqa: PLC0415 - keeps `--help` fast
    from worker.store import transaction  # noqa: PLC0415

    listed = service.list_sources()
    with transaction() as session:
        known = state.get_source_states(session=session)
    now = datetime.now(UTC)
    due = {source.name for source in service.due_sources(sources=listed, states=known, now=now)}
    table = Table(title="crawl sources")
    for column in (
        "source",
        "state",
        "every",
        "feeds/sitemaps/starts",
        "last crawl",
        "result",
        "failures",
        "enqueued",
        "urls",
    ):
        table.add_column(
            column, justify="right" if column in ("failures", "enqueued", "urls") else "left"
        )
    for source in listed:
        seen = known.get(source.name)
        if not source.enabled:
            status = "disabled"
        elif seen is not None and seen.paused:
            status = "[red]paused[/red]"
        else:
            status = "due" if source.name in due else "waiting"
        finished = seen.last_finished_at if seen else None
        table.add_row(
            source.name,
            status,
            str(source.interval),
            f"{len(source.feeds)}/{len(source.sitemaps)}/{len(source.start_urls)}",
            finished.strftime("%Y-%m-%d %H:%M:%SZ") if finished else "never",
            (seen.last_status or "") if seen else "",
            str(seen.consecutive_failures) if seen else "0",
            str(seen.last_enqueued) if seen else "0",
            str(seen.urls_known) if seen else "0",
        )
    out.print(table)
    for source in listed:
        seen = known.get(source.name)
        if seen is not None and seen.paused:
            err.print(
                f"{source.name} paused: {seen.last_error or 'failing'} "
                f"(`newsingest crawl {source.name} --once` retries it and resumes it)"
            )


def _health(*, days: int | None, output: HealthFormat | None) -> None:
    from worker.config import get_settings  # noqa: PLC0415 - keeps `--help` fast
    from worker.health import Measure, SourceState, list_source_health  # noqa: PLC0415
    from worker.store import transaction  # noqa: PLC0415

    with transaction() as session:
        judged = list_source_health(
            session=session, days=days or get_settings().health_baseline_days
        )
    chosen = output or (HealthFormat.TABLE if sys.stdout.isatty() else HealthFormat.JSON)
    if chosen is HealthFormat.JSON:
        for record in judged:
            sys.stdout.write(orjson.dumps(record.as_dict()).decode() + "\n")
    else:
        table = Table(title="source health: the last 24 hours against each source's baseline")
        columns = ("source", "state", "received", "stored", "rejected", "undated", "unregioned",
                   "median body", "fetch errors", "flags (baseline → today)")  # fmt: skip
        for column in columns:
            left = column in ("source", "state") or column.startswith("flags")
            table.add_column(column, justify="left" if left else "right")
        styles = {SourceState.DRIFT: "red", SourceState.NEW: "cyan", SourceState.QUIET: "yellow"}
        for record in judged:
            today = record.as_dict()["today"]
            style = styles.get(record.state)
            table.add_row(
                escape(record.source),
                f"[{style}]{record.state}[/{style}]" if style else str(record.state),
                str(record.today.received),
                str(record.today.stored),
                _percent(today[Measure.REJECTED_SHARE]),
                _percent(today[Measure.UNDATED_SHARE]),
                _percent(today[Measure.UNREGIONED_SHARE]),
                _figure(today[Measure.MEDIAN_BODY_LENGTH]),
                f"{record.today.fetch_errors}/{record.today.fetches}"
                if record.today.fetches
                else "",
                "; ".join(
                    f"{flag.measure}: {_flag_figure(flag.measure, flag.baseline)} → "
                    f"{_flag_figure(flag.measure, flag.today)}"
                    for flag in record.flags
                ),
            )
        out.print(table)
        if not judged:
            err.print("no source has sent pages or been crawled in the baseline's days")
    if any(record.flagged for record in judged):
        raise typer.Exit(EXIT_FAILED)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _flag_figure(measure: str, value: float) -> str:
    return _percent(value) if measure.endswith("_share") else _figure(value)


crawl_app.command("crawl")(crawl)
crawl_app.command("sources")(sources)


def register(app: typer.Typer) -> None:
    """Add `crawl` and `sources` to the top level of the `newsingest` command."""
    app.command("crawl")(crawl)
    app.command("sources")(sources)
