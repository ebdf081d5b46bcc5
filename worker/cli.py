"""The `newsingest` command: ingest, enqueue, run workers, inspect pages, manage the database."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.progress import Progress, TaskID
from rich.table import Table

from worker._console import err, out, progress_bar
from worker.config import get_settings, redact_url
from worker.consumers_cli import register as register_consumer_commands
from worker.crawl.cli import register as register_crawl_commands
from worker.errors import ConfigError, NewsingestError, ServiceUnavailable, UnreadableInput
from worker.inputs import (
    MAX_BATCH_CHARS,
    InputDump,
    batched,
    check_encoding,
    expand_paths,
    read_dumps,
)
from worker.logs import configure_logging
from worker.serve.cli import register as register_serve_command

if TYPE_CHECKING:
    from worker.pipeline import Processed, Received
    from worker.pipeline.types import Rejection

# `newsingest ingest` cleans and classifies in a pool of processes from this many inputs on.
_PARALLEL_FROM_FILES = 1_000
# ... or from this many bytes of input files: one WARC or JSON Lines file may hold thousands of
# pages (64 MiB is some 400 HTML pages of the e2e benchmark's ~170 KB, uncompressed).
_PARALLEL_FROM_BYTES = 64 * 1024 * 1024

# The pipeline and SQLAlchemy are imported by the commands that use them, not here: they are most
# of a second of startup that `--help`, `enqueue` and `query` do not need.


# Exit codes, stated in --help and the README.
EXIT_OK = 0
EXIT_REJECTED = 1  # the command ran, and some inputs were rejected: look at them
EXIT_USAGE = 2  # bad arguments or configuration
EXIT_UNAVAILABLE = 3  # PostgreSQL or the broker could not be reached

HELP = """\
Turn raw news page dumps (HTML or plain text) into clean, deduplicated, region-tagged articles
in PostgreSQL.

Without NEWSINGEST_DATABASE_URL an embedded PostgreSQL runs in NEWSINGEST_DATA_DIR.

Exit codes: 0 ok; 1 some inputs were rejected (their reasons are printed and stored);
2 bad arguments or configuration; 3 PostgreSQL or the broker could not be reached.
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None, add_completion=False)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
rejects_app = typer.Typer(
    help="List rejected dumps with their reasons; `replay` runs them again after a fix.",
    invoke_without_command=True,
)
app.add_typer(rejects_app, name="rejects")


def _inputs(
    paths: list[str], *, source: str, encoding: str | None, jsonl: bool
) -> tuple[list[str], Iterator[InputDump], Counter[str]]:
    """The files `paths` name, the dumps read from them as they are asked for, and the counts of
    records skipped (a WARC's non-page records) that reading fills in."""
    codec = check_encoding(encoding) if encoding is not None else None
    labels = expand_paths(paths)
    skipped: Counter[str] = Counter()
    dumps = read_dumps(
        labels,
        source=source,
        max_page_bytes=get_settings().max_page_bytes,
        encoding=codec,
        skipped=skipped,
        jsonl=jsonl,
    )
    return labels, dumps, skipped


def _counted(n: int, noun: str) -> str:
    """'1 batch', '2 batches': a count with its noun in the number it takes."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun}{'es' if noun.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version  # noqa: PLC0415 - only for --version

        out.print(f"newsingest {version('newsingest')}")
        raise typer.Exit


@app.callback()
def _global_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options every command shares (the app's help is HELP above)."""


PathsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="PATH...", help="Files, folders (searched recursively), globs, or - for stdin."
    ),
]
SourceOpt = Annotated[
    str, typer.Option("--source", "-s", help="Source name recorded with each dump.")
]
JsonlOpt = Annotated[
    bool,
    typer.Option(
        "--jsonl",
        help="Every input (stdin too) is JSON Lines: a RawPage object a line. Files named "
        "*.jsonl or *.ndjson are read so without it.",
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Read every input in this encoding (e.g. cp1251, shift_jis), whatever it declares "
        "[default: its byte-order mark, UTF-8, its declaration, else detected]",
    ),
]

# The summary of `ingest` names this many rejected inputs of each reason; --verbose names all.
_EXAMPLES_PER_REASON = 3


@app.command()
def ingest(
    paths: PathsArg,
    *,
    source: SourceOpt = "local",
    encoding: EncodingOpt = None,
    jsonl: JsonlOpt = False,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Pages per transaction [default: NEWSINGEST_BATCH_SIZE]"),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that clean and classify side by side [default: one per CPU for "
            f"{_PARALLEL_FROM_FILES:,} inputs or {_PARALLEL_FROM_BYTES >> 20} MiB or more, else 1]",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="List every rejected input, not only the first of each reason."
        ),
    ] = False,
) -> None:
    """Clean, classify and store dumps in-process (no broker needed), then print a summary."""
    import multiprocessing  # noqa: PLC0415 - keeps `--help` fast
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    from worker.ingest import PoolPipeline, ProcessPages, store_pages  # noqa: PLC0415
    from worker.store import Outcome, find_known_content, transaction  # noqa: PLC0415

    settings = get_settings()
    labels, dumps, skipped = _inputs(paths, source=source, encoding=encoding, jsonl=jsonl)
    counts: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    rejected: list[tuple[str, str, str]] = []
    if jobs is None:
        # A pool costs each process a second of start-up (the gazetteer): worth it for many pages.
        jobs = (os.cpu_count() or 1) if _many_pages(labels) else 1

    def store(
        batch: list[InputDump], pages: list[Received], processor: ProcessPages | None
    ) -> None:
        outcome = store_pages(pages=pages, settings=settings, processor=processor)
        for dump, item in zip(batch, outcome.items, strict=True):
            counts[item.outcome.value if item.outcome else "already_recorded"] += 1
            if item.outcome is Outcome.STORED and item.region:
                regions[item.region] += 1
            if item.outcome is Outcome.REJECTED:
                rejected.append((dump.label, item.reason or "", item.detail or ""))
        _show_progress(progress, task, "ingested", counts.total(), batch[-1].file)

    with contextlib.ExitStack() as stack, progress_bar() as progress:
        pipeline = None
        if jobs > 1:
            # Not forked from this process: it holds database connections a fork would share.
            # Forked from a fork server that imported the pipeline and built its gazetteer once
            # (worker/pipeline/warm.py): spawned, each process cost ~0.95 s of CPU to start.
            forkserver = "forkserver" in multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if forkserver else "spawn")
            if forkserver:
                context.set_forkserver_preload(["worker.cli", "worker.pipeline.warm"])
            pool = ProcessPoolExecutor(jobs, mp_context=context)
            stack.enter_context(pool)
            pipeline = PoolPipeline(pool, jobs=jobs, max_page_bytes=settings.max_page_bytes)
        task = progress.add_task("ingesting", total=len(labels))  # files, with dumps counted
        # Each batch is read (and with a pool, sent to it) before the one before is stored.
        previous = None
        try:
            for batch in batched(
                dumps,
                batch_size=batch_size or settings.batch_size,
                max_chars=MAX_BATCH_CHARS,
                chars=lambda dump: len(dump.page.content),
            ):
                received = [_received(dump) for dump in batch]
                processor = None
                if pipeline is not None:
                    with transaction() as session:
                        stored = find_known_content(
                            session=session, hashes={page.content_hash for page in received}
                        )
                    processor = pipeline.prepare(received, stored=stored.keys())
                current = (batch, received, processor)
                if previous is not None:
                    store(*previous)
                previous = current
        except UnreadableInput as exc:  # a file that could not be read stops the run
            if previous is not None:
                store(*previous)  # read before the file that failed: recorded, not dropped
            msg = f"{exc}; {counts.total()} dumps were recorded before the run stopped"
            raise UnreadableInput(msg) from exc
        if previous is not None:
            store(*previous)

    summary = Table(title="newsingest ingest", show_header=True)
    summary.add_column("received", justify="right")
    summary.add_column("stored", justify="right")
    summary.add_column("duplicates", justify="right")
    summary.add_column("rejected", justify="right")
    summary.add_row(
        str(counts.total()),
        str(counts["stored"]),
        str(counts["duplicate"]),
        str(counts["rejected"]),
    )
    out.print(summary)
    _print_skipped(skipped)
    if regions:
        by_region = Table(title="stored, by region")
        by_region.add_column("region")
        by_region.add_column("articles", justify="right")
        for region, n in regions.most_common():
            by_region.add_row(region, str(n))
        out.print(by_region)
    if rejected:
        _print_rejections(rejected, verbose=verbose)
        raise typer.Exit(EXIT_REJECTED)


def _show_progress(progress: Progress, task: TaskID, done: str, dumps: int, file: int) -> None:
    """Move a bar over the input files to the file being read, saying how many dumps were
    `done`: a WARC or JSON Lines file holds thousands, so dumps do not measure the files."""
    progress.update(task, completed=file, description=f"{dumps:,} dumps {done}; files")


def _print_skipped(skipped: Counter[str]) -> None:
    """What was left out of the inputs (WARC records that are not pages), by kind."""
    if skipped:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in skipped.most_common())
        out.print(f"skipped: {kinds}", markup=False, highlight=False)


def _print_rejections(rejected: list[tuple[str, str, str]], *, verbose: bool) -> None:
    """The rejected inputs by reason, most common first: how many, the first one's detail and the
    first few inputs; with `verbose`, every one with its own detail."""
    if verbose:
        every = Table(title="rejected")
        for column in ("input", "reason", "detail"):
            every.add_column(column, overflow="fold")
        for label, reason, detail in rejected:
            every.add_row(label, reason, detail)
        out.print(every)
        return
    by_reason: dict[str, list[tuple[str, str]]] = {}
    for label, reason, detail in rejected:
        by_reason.setdefault(reason, []).append((label, detail))
    # Plain lines, one for a reason and one for each input named: a table with a column for the
    # paths and one for the detail wrapped both into a tall narrow strip on an 80-column terminal.
    width = max(out.width - 4, 20)
    inputs = f"{len(rejected):,} input{'s' if len(rejected) > 1 else ''}"
    out.print(f"rejected, by reason ({inputs}):", markup=False, highlight=False)
    for reason, items in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        line = f"  {reason}: {len(items):,} — {items[0][1]}"
        out.print(line, markup=False, highlight=False, no_wrap=True, overflow="ellipsis")
        for label, _ in items[:_EXAMPLES_PER_REASON]:
            out.print(f"    {_shortened(label, width)}", markup=False, highlight=False)
        if len(items) > _EXAMPLES_PER_REASON:
            out.print(f"    and {len(items) - _EXAMPLES_PER_REASON:,} more", highlight=False)
    out.print("`--verbose` lists every rejected input; `newsingest rejects` the stored ones")


def _shortened(label: str, width: int) -> str:
    """An input's name cut from the left to fit `width`: its file name is what tells."""
    if len(label) <= width:
        return label
    return "…" + label[-(width - 1) :]


@app.command()
def enqueue(
    paths: PathsArg,
    source: SourceOpt = "local",
    encoding: EncodingOpt = None,
    jsonl: JsonlOpt = False,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Pages per batch [default: NEWSINGEST_BATCH_SIZE]")
    ] = None,
) -> None:
    """Send dumps to the broker in batches for workers to ingest."""
    from worker.producer import enqueue_pages  # noqa: PLC0415 - keeps `--help` fast

    settings = get_settings()
    labels, dumps, skipped = _inputs(paths, source=source, encoding=encoding, jsonl=jsonl)
    sent = Counter[str]()

    files_begun = [0]  # how many files came before the last dump read

    def positioned() -> Iterator[Any]:
        for dump in dumps:
            files_begun[0] = dump.file
            # A JSON Lines line that is no RawPage goes as it was: the worker records it as an
            # invalid_message rejection, as it does any producer's.
            yield dump.page if dump.invalid is None else dump.invalid.value

    def accepted(batch: list[Any]) -> None:
        sent["dumps"] += len(batch)
        _show_progress(progress, task, "enqueued", sent["dumps"], files_begun[0])

    with progress_bar() as progress:
        task = progress.add_task("enqueueing", total=len(labels))
        try:
            report = enqueue_pages(positioned(), batch_size=batch_size, on_batch=accepted)
        except UnreadableInput as exc:  # a file that could not be read stops the run
            msg = f"{exc}; {sent['dumps']} dumps were enqueued before the run stopped"
            raise UnreadableInput(msg) from exc
    out.print(
        f"enqueued {_counted(report.pages, 'dump')} in {_counted(report.batches, 'batch')} "
        f"on {settings.queue!r}"
    )
    _print_skipped(skipped)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def worker(ctx: typer.Context) -> None:
    """Start a Celery worker on the ingest and crawl queues; extra options go to `celery worker`.

    Pass --queues to choose (e.g. --queues ingest for a worker that only ingests).
    """
    from worker.app import app as celery_app  # noqa: PLC0415 - keeps `--help` fast

    settings = get_settings()
    if settings.broker_url is None:
        raise ConfigError("NEWSINGEST_BROKER_URL is not set: a worker needs a broker")
    chosen = any(arg in ("-Q", "--queues") or arg.startswith("--queues=") for arg in ctx.args)
    queues = [] if chosen else ["--queues", f"{settings.queue},{settings.crawl_queue}"]
    # Celery's own command exits 0 after an "Unrecoverable error"; its exit code, passed on,
    # lets a supervisor that restarts failed workers restart this one.
    raise typer.Exit(celery_app.start(["worker", *queues, *ctx.args]) or 0)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def beat(ctx: typer.Context) -> None:
    """Start Celery beat, the scheduler of periodic work; extra options go to `celery beat`."""
    from worker.app import app as celery_app  # noqa: PLC0415 - keeps `--help` fast

    if get_settings().broker_url is None:
        raise ConfigError("NEWSINGEST_BROKER_URL is not set: beat needs a broker")
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)  # where beat keeps its schedule
    raise typer.Exit(celery_app.start(["beat", *ctx.args]) or 0)


@app.command()
def inspect(
    paths: PathsArg,
    encoding: EncodingOpt = None,
    jsonl: JsonlOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the region evidence for each page.")
    ] = False,
) -> None:
    """Clean and classify dumps without storing them, and show what would be stored."""
    from worker.pipeline import process  # noqa: PLC0415 - keeps `--help` fast
    from worker.pipeline.types import Rejection  # noqa: PLC0415

    settings = get_settings()
    codec = check_encoding(encoding) if encoding is not None else None
    any_rejected = False
    skipped: Counter[str] = Counter()
    for dump in read_dumps(
        expand_paths(paths),
        source="inspect",
        max_page_bytes=settings.max_page_bytes,
        encoding=codec,
        skipped=skipped,
        jsonl=jsonl,
    ):
        result = process(_received(dump), max_page_bytes=settings.max_page_bytes)
        any_rejected |= isinstance(result, Rejection)
        record = _inspect_record(dump.label, result)
        if as_json:
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        else:
            _print_inspection(record, result, explain=explain)
    if not as_json:
        _print_skipped(skipped)
    if any_rejected:
        raise typer.Exit(EXIT_REJECTED)


def _many_pages(labels: list[str]) -> bool:
    """Whether the inputs hold enough pages for `ingest`'s pool: by their count, or for a few
    files (a WARC, JSON Lines) by their size."""
    if len(labels) >= _PARALLEL_FROM_FILES:
        return True
    size = 0
    for label in labels:
        with contextlib.suppress(OSError):  # stdin, or gone: reading it will say so
            size += os.stat(label).st_size
    return size >= _PARALLEL_FROM_BYTES


def _received(dump: InputDump) -> Received:
    """An input as the pipeline receives it; a JSON Lines line that is no RawPage as rejected."""
    from worker.pipeline import receive  # noqa: PLC0415 - keeps `--help` fast
    from worker.pipeline.types import Rejection  # noqa: PLC0415

    page = dump.page
    received = receive(page, receipt_key=page.id or str(uuid.uuid4()), utf8=dump.utf8)
    if dump.invalid is None:
        return received
    return dataclasses.replace(
        received, rejection=Rejection("invalid_message", dump.invalid.reason[:2000])
    )


def _inspect_record(label: str, result: Processed | Rejection) -> dict[str, Any]:
    from worker.pipeline.types import Rejection  # noqa: PLC0415 - keeps `--help` fast

    if isinstance(result, Rejection):
        return {"input": label, "rejected": {"reason": result.reason, "detail": result.detail}}
    clean, verdict, published = result.clean, result.verdict, result.clean.published
    return {
        "input": label,
        "headline": clean.headline,
        "headline_key": result.headline_key,
        "published_at": published.at.strftime("%Y-%m-%dT%H:%M:%SZ") if published else None,
        "published_precision": published.precision if published else None,
        "published_source": published.source if published else None,
        "published_utc_offset_minutes": published.utc_offset_minutes if published else None,
        "region": verdict.region,
        "region_confidence": round(verdict.confidence, 3),
        "region_scores": {k: round(v, 3) for k, v in verdict.scores.items()},
        "byline": clean.byline,
        "section_labels": list(clean.section_labels),
        "content_type": clean.kind,
        "body": "\n\n".join(clean.body),
    }


def _print_inspection(
    record: dict[str, Any], result: Processed | Rejection, *, explain: bool
) -> None:
    from worker.pipeline.types import Rejection  # noqa: PLC0415 - keeps `--help` fast

    out.rule(_shortened(record["input"], max(out.width - 8, 20)))
    if isinstance(result, Rejection):
        out.print(f"[red]rejected[/red] ({result.reason}): {result.detail}")
        return
    table = Table(show_header=False, box=None)
    for field in ("headline", "published_at", "published_source", "region", "region_confidence"):
        table.add_row(field, str(record[field]))
    table.add_row("paragraphs", str(len(result.clean.body)))
    out.print(table)
    out.print(record["body"][:600] + ("…" if len(record["body"]) > 600 else ""))
    if explain:
        evidence = Table(title="region evidence")
        for column in ("place", "country", "region", "where", "weight"):
            evidence.add_column(column)
        for item in result.verdict.evidence:
            evidence.add_row(
                item.place, item.country or "", item.region, item.where, f"{item.weight:.2f}"
            )
        out.print(evidence)


@app.command()
def stats() -> None:
    """Show receipts per source and day, and check that the books balance (exit 1 if not)."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.stats import read_books  # noqa: PLC0415

    with transaction() as session:
        books = read_books(session=session)
    table = Table(title="received = stored + duplicates + rejected")
    for column in ("source", "day", "received", "stored", "duplicates", "rejected"):
        table.add_column(column, justify="left" if column in ("source", "day") else "right")
    for day in books.days:
        table.add_row(
            day.source,
            str(day.day),
            str(day.received),
            str(day.stored),
            str(day.duplicates),
            str(day.rejected),
        )
    out.print(table)
    out.print(f"articles: {books.articles}, sightings of them: {books.seen_total}")
    if books.problems:
        for problem in books.problems:
            err.print(f"[red]does not balance:[/red] {problem}")
        raise typer.Exit(EXIT_REJECTED)
    out.print("the books balance")


@rejects_app.callback()
def rejects(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. no_body.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    show: Annotated[
        int | None,
        typer.Option(
            "--show",
            metavar="ID",
            help="Write the raw content of rejected dump ID (from the list) to stdout, as it "
            "came, instead of the list.",
        ),
    ] = None,
) -> None:
    """List rejected dumps, newest first, with their reasons."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import func, select  # noqa: PLC0415 - keeps `--help` fast

    from worker.store import transaction  # noqa: PLC0415
    from worker.store.models import Outcome, RawPage  # noqa: PLC0415

    if show is not None:
        with transaction() as session:
            page = session.get(RawPage, show)
            if page is None or page.outcome is not Outcome.REJECTED:
                raise ConfigError(f"no rejected dump has the id {show} (see `newsingest rejects`)")
            content = page.dump_bytes()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return

    query = (
        select(
            RawPage.id,
            RawPage.received_at,
            RawPage.source,
            RawPage.url,
            RawPage.reason,
            RawPage.detail,
            RawPage.size,
        )
        .where(RawPage.outcome == Outcome.REJECTED)
        .order_by(RawPage.id.desc())
        .limit(limit)
    )
    if reason is not None:
        query = query.where(RawPage.reason == reason)
    with transaction() as session:
        rows = session.execute(query).all()
        by_reason = session.execute(
            select(RawPage.reason, func.count())
            .where(RawPage.outcome == Outcome.REJECTED)
            .group_by(RawPage.reason)
            .order_by(func.count().desc())
        ).all()
    table = Table(title="rejected dumps (raw content kept; `newsingest rejects replay`)")
    for column in ("id", "received", "source", "url", "reason", "detail", "bytes"):
        table.add_column(column)
    for raw_id, received_at, source, url, why, detail, size in rows:
        table.add_row(
            str(raw_id),
            f"{received_at:%Y-%m-%d %H:%M}",
            source,
            url or "",
            why or "",
            detail or "",
            f"{size:,}",
        )
    out.print(table)
    out.print(", ".join(f"{why}: {n}" for why, n in by_reason) or "no rejections")


@rejects_app.command("replay")
def rejects_replay(
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. no_body.")] = None,
) -> None:
    """Run rejected dumps through the pipeline again (after a fix); those that pass are stored."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.revise import list_rejected_ids, replay_rejections  # noqa: PLC0415

    with transaction() as session:
        ids = list_rejected_ids(session=session, reason=reason)
    total = _revise_in_chunks("replaying", ids, replay_rejections)
    out.print(
        f"replayed {total.examined}: {total.stored} stored, {total.duplicates} duplicates, "
        f"{total.rejected} still rejected"
    )
    settings = get_settings()
    if settings.broker_url is not None and reason is None:
        from worker.deadletter import replay_dead_batches  # noqa: PLC0415
        from worker.ingest import ingest_message  # noqa: PLC0415

        batches = replay_dead_batches(
            settings=settings,
            ingest=lambda pages, task_id: ingest_message(pages, task_id=task_id, settings=settings),
        )
        out.print(f"dead-lettered batches ingested: {batches}")
    if total.rejected:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
def reprocess(
    since: Annotated[
        datetime | None, typer.Option(help="Only articles first seen at or after this time (UTC).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only articles from this source.")] = None,
    stories: Annotated[
        bool,
        typer.Option(
            "--stories",
            help="Decide again which story each article belongs to (after a change of "
            "NEWSINGEST_STORY_SIMILARITY or _STORY_WINDOW_HOURS), oldest first; nothing is "
            "cleaned again.",
        ),
    ] = False,
) -> None:
    """Clean and classify stored articles again after an extractor or classifier change."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.revise import list_article_ids, reprocess_articles  # noqa: PLC0415

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if stories:
        if source is not None:
            # A story spans sources: relinking one source's articles alone would leave the
            # others pointing at stories decided by the old rules.
            err.print("--stories relinks every source; --source does not apply")
            raise typer.Exit(EXIT_USAGE)
        _relink_stories(since)
        return
    with transaction() as session:
        ids = list_article_ids(session=session, since=since, source=source)
    total = _revise_in_chunks("reprocessing", ids, reprocess_articles)
    out.print(
        f"reprocessed {total.examined}: {total.updated} updated, {total.merged} merged into "
        f"an article with their new key, {total.unchanged} unchanged, {total.rejected} now "
        "rejected (left as they were)"
    )
    if total.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _relink_stories(since: datetime | None) -> None:
    """`reprocess --stories`: relink articles first seen since then, oldest first, in chunks."""
    from worker.store import story_rules, transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.stories import list_relink_ids, relink_stories  # noqa: PLC0415

    settings = get_settings()
    with transaction() as session:
        ids = list_relink_ids(session=session, since=since)
    changed = 0
    with progress_bar() as progress:
        task = progress.add_task("relinking stories", total=len(ids))
        # In order, one transaction per chunk: each chunk joins the stories decided before it.
        for chunk in batched(ids, batch_size=settings.batch_size):
            with transaction() as session:
                changed += relink_stories(session=session, ids=chunk, rules=story_rules(settings))
            progress.advance(task, len(chunk))
    out.print(f"relinked {len(ids)} articles: {changed} changed story or link")


def _revise_in_chunks(label: str, ids: list[int], revise: Callable[..., Any]) -> Any:
    """Run a replay or reprocess over `ids`, one transaction per batch, with a progress bar."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.revise import ReviseReport  # noqa: PLC0415

    settings = get_settings()
    total = ReviseReport()
    with progress_bar() as progress:
        task = progress.add_task(label, total=len(ids))
        for chunk in batched(ids, batch_size=settings.batch_size):
            with transaction() as session:
                total.add(revise(session=session, ids=chunk, settings=settings))
            progress.advance(task, len(chunk))
    return total


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the schema migrations to the configured database."""
    from worker.store import database_url, upgrade_database  # noqa: PLC0415

    url = database_url()
    upgrade_database(url, revision)
    out.print(f"database at {redact_url(url)} is at {revision}")


# Commands that live beside their subsystems, listed after the core ones in --help.
register_consumer_commands(app)


@app.command()
def claims(
    delete_orphans: Annotated[
        bool, typer.Option("--delete-orphans", help="Delete the orphaned claims found.")
    ] = False,
    idle: Annotated[
        int,
        typer.Option(min=0, help="Minutes a claim must have been untouched to count as an orphan."),
    ] = 60,
) -> None:
    """Count the claim checks in Redis (large batches waiting for a worker) and find orphans.

    An orphan is a waiting claim that no message names any more, on the queue, its dead-letter
    queue or in a worker's hands: its queue was purged. Nothing else deletes orphans.
    """
    from redis.exceptions import RedisError  # noqa: PLC0415 - keeps `--help` fast

    from worker.claims import census, claims_supported, delete_claims  # noqa: PLC0415
    from worker.deadletter import dead_letter_queue  # noqa: PLC0415

    settings = get_settings()
    if not claims_supported(settings):
        raise ConfigError("claims live on a Redis broker: set NEWSINGEST_BROKER_URL=redis://...")
    try:
        found = census(
            settings,
            queues=[settings.queue, dead_letter_queue(settings)],
            idle_seconds=idle * 60,
        )
        deleted = delete_claims(settings, found.orphans) if delete_orphans else 0
    except RedisError as exc:
        raise ServiceUnavailable(f"Redis did not answer: {exc}") from exc
    table = Table(title=f"claim checks on queue {settings.queue!r}")
    for column in ("waiting", "MB waiting", "settled (expiring)", f"orphans (idle >= {idle} min)"):
        table.add_column(column)
    table.add_row(
        str(found.waiting),
        f"{found.waiting_bytes / 1e6:.1f}",
        str(found.settled),
        str(len(found.orphans)),
    )
    out.print(table)
    if delete_orphans:
        out.print(f"deleted {deleted} orphaned claims")
    elif found.orphans:
        out.print("delete them with `newsingest claims --delete-orphans`")


register_crawl_commands(app)
register_serve_command(app)


def main() -> None:
    """Entry point of the `newsingest` console script: maps our errors to exit codes."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"NEWSINGEST_{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        err.print(f"[red]configuration error:[/red] {problems}")
        sys.exit(EXIT_USAGE)
    # Interactive commands talk through rich tables and progress bars; their logs are for trouble.
    configure_logging(level=settings.log_level or "WARNING", fmt=settings.log_rendering)
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)
    except ServiceUnavailable as exc:
        err.print(f"[red]unavailable:[/red] {exc}")
        sys.exit(EXIT_UNAVAILABLE)
    except NewsingestError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise
        # A file or folder the user named (an export's folder that does not exist, say).
        err.print(f"[red]error:[/red] cannot use {exc.filename}: {exc.strerror or exc}")
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        problem = _database_problem(exc)
        if problem is not None:
            err.print(f"[red]error:[/red] {problem}")
            sys.exit(EXIT_USAGE)
        cause = _database_unavailable(exc)
        if cause is None:
            raise
        err.print(f"[red]database unavailable:[/red] {cause}")
        sys.exit(EXIT_UNAVAILABLE)


def _database_problem(exc: Exception) -> str | None:
    """What to do about a database that answers but is not ready for the command, else None.

    Looked up in sys.modules, as in `_database_unavailable`.
    """
    errors = sys.modules.get("psycopg.errors")
    cause = getattr(exc, "orig", None) or exc
    if errors is None:
        return None
    if isinstance(cause, errors.UndefinedTable):
        return (
            "the database has no newsingest tables yet (it was never migrated): run "
            "`newsingest db upgrade` once with the same NEWSINGEST_DATABASE_URL"
        )
    if isinstance(cause, errors.InsufficientPrivilege):
        return (
            f"this database login may not do that ({str(cause).splitlines()[0]}): a "
            "newsingest_reader login reads the v1 views only (`newsingest query`, `export`); "
            "`stats`, `ingest` and the repair commands need the owner's login"
        )
    return None


def _database_unavailable(exc: Exception) -> BaseException | None:
    """The driver's error when `exc` is SQLAlchemy's OperationalError, else None.

    Looked up in sys.modules: a command that never imported SQLAlchemy cannot have raised its
    errors, and importing it here only to say so would cost every command its startup time.
    """
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None or not isinstance(exc, errors.OperationalError):
        return None
    cause: BaseException = exc.orig or exc
    return cause
