"""The consumer commands of `newsingest`: `query` (filters, search, incremental pulls) and `export`.

Both read through the versioned `newsingest.v1_*` views only, so they work with a database URL
whose user is a member of the read-only role `newsingest_reader`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.table import Table

from worker._console import err, out, progress_bar

# Structured columns are JSON text in CSV (and in parquet, except the list of section labels).
_JSON_FIELDS = frozenset({"section_labels", "region_scores", "region_evidence"})
_TABLE_COLUMNS = ("ingest_seq", "published_at", "region", "source", "headline")
_EXIT_USAGE = 2  # worker.cli.EXIT_USAGE, which this module cannot import (cli imports it)


class QueryFormat(StrEnum):
    """How `query` prints its rows."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class ExportFormat(StrEnum):
    """The file format of `export`."""

    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


def _known_regions() -> tuple[str, ...]:
    # Read from the taxonomy file itself, not through the pipeline package, whose import would
    # cost `--help` most of a second.
    taxonomy = Path(__file__).parent / "pipeline" / "gazetteer" / "taxonomy-bbc.json"
    return (*orjson.loads(taxonomy.read_bytes())["regions"], "unknown")


REGIONS = _known_regions()


def _known_region(value: str | None) -> str | None:
    if value is None:
        return None
    for region in REGIONS:
        if region.casefold() == value.strip().casefold():
            return region
    raise typer.BadParameter(f"{value!r} is not a region; the regions are {', '.join(REGIONS)}")


RegionOpt = Annotated[
    str | None,
    typer.Option(help=f"Only this region: {', '.join(REGIONS)}.", callback=_known_region),
]
SinceOpt = Annotated[
    datetime | None, typer.Option(help="Only articles published at or after this time (UTC).")
]
UntilOpt = Annotated[
    datetime | None, typer.Option(help="Only articles published before this time (UTC).")
]
SourceOpt = Annotated[str | None, typer.Option(help="Only articles from this source.")]
AfterSeqOpt = Annotated[
    int | None,
    typer.Option(
        "--after-seq",
        help="Incremental pull: only rows after this ingest_seq, oldest first, up to the pull "
        "horizon (rows still being written are left for the next pull).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `query`, `export` and `stories` commands to the `newsingest` app."""
    app.command("query")(query)
    app.command("export")(export)
    stories_app = typer.Typer(help="Stories: articles from any source that tell one story.")
    stories_app.command("show")(stories_show)
    app.add_typer(stories_app, name="stories")


def stories_show(
    article_id: Annotated[int, typer.Argument(metavar="ID", help="A story id or any member's id.")],
    output: Annotated[
        QueryFormat | None,
        typer.Option("--format", help="table or json [default: table on a terminal]"),
    ] = None,
) -> None:
    """Print a story's members, oldest first, and why each belongs to it."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.read import list_story_members  # noqa: PLC0415

    with transaction() as session:
        members = list_story_members(session=session, article_id=article_id)
    if not members:
        err.print(f"no article {article_id}")
        raise typer.Exit(1)
    chosen = output or (QueryFormat.TABLE if sys.stdout.isatty() else QueryFormat.JSON)
    if chosen is not QueryFormat.TABLE:
        for member in members:
            sys.stdout.write(orjson.dumps(member).decode() + "\n")
        return
    table = Table(show_lines=False)
    columns = ("article_id", "link_reason", "linked_to", "link_similarity", "published_at",
               "source", "content_type", "headline")  # fmt: skip
    for name in columns:
        table.add_column(name, overflow="fold", max_width=60 if name == "headline" else None)
    for member in members:
        table.add_row(*(_cell(name, member.get(name)) for name in columns))
    out.print(table)
    sources = sorted({member["source"] for member in members})
    out.print(
        f"story {members[0]['story_id']}: {len(members)} articles from {len(sources)} sources "
        f"({', '.join(sources)})"
    )


# PostgreSQL turns a search into a tree of terms; tens of thousands of words fail deep inside it
# (stack depth), which would read as the database failing rather than as too long a query.
MAX_SEARCH_CHARS = 1000


def _bounded_search(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_SEARCH_CHARS:
        msg = f"is {len(value):,} characters long; at most {MAX_SEARCH_CHARS:,} are searched"
        raise typer.BadParameter(msg)
    return value


def query(
    *,
    region: RegionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    search: Annotated[
        str | None,
        typer.Option(
            help='Full-text search: words, "a phrase", -excluded, or; ranked '
            f"(at most {MAX_SEARCH_CHARS:,} characters).",
            callback=_bounded_search,
        ),
    ] = None,
    stories: Annotated[
        bool, typer.Option("--stories", help="One row per story, at its latest revision.")
    ] = False,
    after_seq: AfterSeqOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    output: Annotated[
        QueryFormat | None,
        typer.Option(
            "--format",
            help="table, json (one object per line) or csv [default: table on a terminal, "
            "json in a pipe]",
        ),
    ] = None,
) -> None:
    """List articles, newest first (by rank with --search, by ingest_seq with --after-seq)."""
    from worker.store import transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.read import ARTICLE_FIELDS, STORY_FIELDS, list_articles  # noqa: PLC0415

    request = _request(
        region=region,
        since=since,
        until=until,
        source=source,
        search=search,
        stories=stories,
        after_seq=after_seq,
        limit=limit,
    )
    with transaction() as session:
        rows = list_articles(session=session, query=request)
    fields = list(STORY_FIELDS if stories else ARTICLE_FIELDS) + (["rank"] if search else [])
    chosen = output or (QueryFormat.TABLE if sys.stdout.isatty() else QueryFormat.JSON)
    if chosen is QueryFormat.JSON:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
    elif chosen is QueryFormat.CSV:
        _write_csv(sys.stdout, fields, [rows])
    else:
        _print_table(rows, search=search is not None, stories=stories)
        if after_seq is not None:
            last = rows[-1]["ingest_seq"] if rows else after_seq
            err.print(f"next pull: --after-seq {last}")


def export(
    path: Annotated[Path, typer.Argument(help="The file to write (overwritten).")],
    *,
    output: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl, csv or parquet.")
    ] = ExportFormat.JSONL,
    region: RegionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    after_seq: AfterSeqOpt = None,
) -> None:
    """Write every matching article to a file, in ingest_seq order up to the pull horizon."""
    from worker.store import get_engine, transaction  # noqa: PLC0415 - keeps `--help` fast
    from worker.store.read import (  # noqa: PLC0415
        ARTICLE_FIELDS,
        count_articles,
        stream_articles,
    )

    if output is ExportFormat.PARQUET:
        _require_pyarrow()
    # Ordering by ingest_seq below the horizon makes the file a consistent prefix of the pull
    # stream: the last seq written is where `query --after-seq` picks up.
    request = _request(
        region=region,
        since=since,
        until=until,
        source=source,
        after_seq=after_seq if after_seq is not None else -1,
        limit=None,
    )
    with transaction() as session:
        total = count_articles(session=session, query=request)
    last_seq: int | None = None
    written = 0

    def counted(batches: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        nonlocal last_seq, written
        for batch in batches:
            yield batch
            if batch:
                last_seq = batch[-1]["ingest_seq"]
            written += len(batch)
            progress.update(task, completed=written, total=max(total, written))

    with progress_bar() as progress, get_engine().connect() as connection:
        task = progress.add_task(f"exporting {path.name}", total=total)
        batches = counted(stream_articles(connection=connection, query=request))
        if output is ExportFormat.PARQUET:
            _write_parquet(path, batches)
        else:
            with path.open("w", encoding="utf-8", newline="") as stream:
                if output is ExportFormat.CSV:
                    _write_csv(stream, list(ARTICLE_FIELDS), batches)
                else:
                    for batch in batches:
                        stream.writelines(orjson.dumps(row).decode() + "\n" for row in batch)
    resume = f"; continue with --after-seq {last_seq}" if last_seq is not None else ""
    out.print(f"exported {written} articles to {path}{resume}")


def _request(**filters: Any) -> Any:
    from worker.store.read import ArticleQuery  # noqa: PLC0415 - keeps `--help` fast

    for bound in ("since", "until"):
        moment = filters.get(bound)
        if moment is not None and moment.tzinfo is None:
            filters[bound] = moment.replace(tzinfo=UTC)
    return ArticleQuery(**filters)


def _csv_value(field: str, value: Any) -> Any:
    if value is None:
        return ""
    if field in _JSON_FIELDS:
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _write_csv(
    stream: IO[str], fields: list[str], batches: Iterator[list[dict[str, Any]]] | list[Any]
) -> None:
    writer = csv.writer(stream)
    writer.writerow(fields)
    for batch in batches:
        writer.writerows([_csv_value(f, row.get(f)) for f in fields] for row in batch)


def _print_table(rows: list[dict[str, Any]], *, search: bool, stories: bool) -> None:
    table = Table(show_lines=False)
    columns = [*_TABLE_COLUMNS, *(["revisions"] if stories else []), *(["rank"] if search else [])]
    for name in columns:
        table.add_column(name, overflow="fold", max_width=70 if name == "headline" else None)
    for row in rows:
        table.add_row(*(_cell(name, row.get(name)) for name in columns))
    out.print(table)
    out.print(f"{len(rows)} {'stories' if stories else 'articles'}")


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    if name in ("rank", "link_similarity"):
        return f"{value:.3f}"
    return str(value)


def _require_pyarrow() -> None:
    try:
        # An optional extra, checked before any work; it ships no type information.
        import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401, PLC0415
    except ImportError:
        # Printed here rather than raised as a ConfigError: rich would read [parquet] as markup.
        err.print("[red]error:[/red] parquet export needs pyarrow:", end=" ")
        err.print("pip install 'newsingest[parquet]'", markup=False)
        raise typer.Exit(_EXIT_USAGE) from None


def _write_parquet(path: Path, batches: Iterator[list[dict[str, Any]]]) -> None:
    # An optional extra that ships no type information.
    import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    timestamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("story_id", pa.int64()),
            ("ingest_seq", pa.int64()),
            ("published_at", timestamp),
            ("published_precision", pa.string()),
            ("region", pa.string()),
            ("region_confidence", pa.float64()),
            ("source", pa.string()),
            ("headline", pa.string()),
            ("byline", pa.string()),
            ("url", pa.string()),
            ("body", pa.string()),
            ("section_labels", pa.list_(pa.string())),
            ("region_scores", pa.string()),
            ("region_evidence", pa.string()),
            ("content_type", pa.string()),
            ("first_seen_at", timestamp),
            ("last_seen_at", timestamp),
            ("seen_count", pa.int64()),
            ("extractor_version", pa.string()),
            ("classifier_version", pa.string()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            columns = {
                field.name: [
                    orjson.dumps(row[field.name]).decode()
                    if field.name in _JSON_FIELDS and field.name != "section_labels"
                    else row[field.name]
                    for row in batch
                ]
                for field in schema
            }
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
