"""The status page: a read-only, server-rendered Flask app (served by waitress, see `serve`).

Flask rather than an async framework: the store is synchronous SQLAlchemy, and a WSGI app on
waitress's thread pool runs it as written, with no event loop to keep unblocked. Both are
maintained, pure Python, and need no build step; waitress is a production server with no C parts.

Everything shown is hostile input (headlines, URLs, source names and raw content come from
whoever produced the pages), so Jinja2's autoescaping stays on for every template, the page sends
no script at all and forbids any by its Content-Security-Policy, and the database login reads in
read-only transactions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from flask import Flask, Response, abort, render_template, request
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from worker.config import Settings, redact_url, sqlalchemy_url
from worker.serve._chart import region_chart
from worker.serve._queues import read_queue_depths
from worker.store import status
from worker.store.read import list_story_members

log = structlog.get_logger(__name__)

# Bounds on what a query string may ask for: past them the page answers 400, never a slow query.
MAX_PAGE = 10_000
MAX_PAGE_SIZE = 200
# Lists page by OFFSET, whose cost grows with the rows skipped (bench/serve.py, 200,000 articles:
# stories at offset 20,000 took ~0.75 s); the page shows the newest 10,000 rows of a list, and
# `newsingest query`/`export` and `rejects` reach the rest.
MAX_OFFSET = 10_000
DEFAULT_PAGE_SIZE = 25
OVERVIEW_ROWS = 10
MAX_DAYS = 90
DEFAULT_DAYS = 14
MAX_QUERY_STRING = 1024
MAX_ID = 2**63 - 1  # PostgreSQL's bigint: a larger id in a path is no row's
# A story page lists this many members; `newsingest stories show ID` lists them all.
MAX_STORY_MEMBERS = 500
# A rejection's raw content is shown up to this many bytes; the rest is `newsingest rejects --show`.
RAW_CONTENT_LIMIT = 256 * 1024
# A page that needs longer than this is cut off by PostgreSQL rather than holding a thread.
STATEMENT_TIMEOUT_MS = 10_000

_DIGITS = re.compile(r"[0-9]{1,7}")
_REASON = re.compile(r"[a-z0-9_]{1,40}")

# Content-Security-Policy: no script from anywhere, styles from our own stylesheet only (the chart
# is inline SVG drawn with attributes, not style), no framing, forms submit only to this page.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a paginated list stands: its page, size and whether pages follow."""

    page: int
    size: int
    has_next: bool

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.size


def page_login_url(settings: Settings) -> str:
    """The URL the page reads with: NEWSINGEST_READER_DATABASE_URL, else the database's own."""
    if settings.reader_database_url is not None:
        return sqlalchemy_url(settings.reader_database_url.get_secret_value())
    from worker.store import database_url  # noqa: PLC0415 - may start the embedded PostgreSQL

    return database_url(settings)


def _page_engine(url: str, *, threads: int) -> Engine:
    # Every transaction is read-only on the server, whichever login this is, and each statement
    # is bounded in time; one connection per serving thread.
    options = (
        f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS} "
        "-c application_name=newsingest-serve"
    )
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=threads,
        max_overflow=0,
        connect_args={"options": options},
    )


def create_app(settings: Settings, *, threads: int = 4) -> Flask:
    """The status page's WSGI app, reading with the page's login (see `page_login_url`)."""
    app = Flask(__name__)
    # Flask autoescapes .html templates already; stated so that a renamed template cannot lose it.
    app.jinja_env.autoescape = True
    app.url_map.strict_slashes = True
    url = page_login_url(settings)
    engine = _page_engine(url, threads=threads)
    sessions = sessionmaker(engine, expire_on_commit=False)
    app.config["NEWSINGEST_LOGIN"] = redact_url(url)
    app.extensions["newsingest_engine"] = engine

    @contextmanager
    def reading() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    @app.before_request
    def _only_reads() -> None:
        if request.method not in ("GET", "HEAD"):
            abort(405)
        if len(request.query_string) > MAX_QUERY_STRING:
            abort(400, f"the query string is longer than {MAX_QUERY_STRING} bytes")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        return render_template("error.html", code=code, message=exc.description), code

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> tuple[str, int]:
        log.warning("status_page_database_unavailable", error=str(exc.orig).strip())
        return render_template(
            "error.html",
            code=503,
            message="The database did not answer; the page will show again when it does.",
        ), 503

    @app.errorhandler(Exception)
    def _failure(exc: Exception) -> tuple[str, int]:
        # Logged with its traceback for the operator; the browser gets no detail of it.
        log.exception("status_page_error", path=request.path)
        message = "The page failed; the server's log holds the reason."
        if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == "42501":
            message = (
                "This database login may not read the newsingest views: make it a member of "
                "newsingest_reader (README: Status page)."
            )
        return render_template("error.html", code=500, message=message), 500

    @app.get("/", provide_automatic_options=False)
    def overview() -> str:
        days = _int_arg("days", DEFAULT_DAYS, 1, MAX_DAYS)
        now = datetime.now(UTC)
        with reading() as session:
            region_days = status.list_region_days(session=session, now=now, days=days)
            stories = status.list_newest_stories(session=session, offset=0, limit=OVERVIEW_ROWS + 1)
            sources = status.list_source_counts(
                session=session, now=now, days=days, offset=0, limit=OVERVIEW_ROWS + 1
            )
            reasons = status.count_rejections_by_reason(session=session, now=now, days=days)
            rejections = status.list_rejections(
                session=session, reason=None, offset=0, limit=OVERVIEW_ROWS + 1
            )
        queues, queue_problem = read_queue_depths(settings)
        return render_template(
            "overview.html",
            days=days,
            chart=region_chart(region_days, now=now, days=days),
            stories=stories[:OVERVIEW_ROWS],
            more_stories=len(stories) > OVERVIEW_ROWS,
            sources=sources[:OVERVIEW_ROWS],
            more_sources=len(sources) > OVERVIEW_ROWS,
            reasons=reasons,
            rejections=rejections[:OVERVIEW_ROWS],
            more_rejections=len(rejections) > OVERVIEW_ROWS,
            queues=queues,
            queue_problem=queue_problem,
            login=app.config["NEWSINGEST_LOGIN"],
            now=now,
        )

    @app.get("/stories", provide_automatic_options=False)
    def stories() -> str:
        page, size = _paging()
        with reading() as session:
            rows = status.list_newest_stories(
                session=session, offset=(page - 1) * size, limit=size + 1
            )
        return render_template(
            "stories.html", stories=rows[:size], pager=Pager(page, size, len(rows) > size)
        )

    @app.get("/stories/<int:story_id>", provide_automatic_options=False)
    def story(story_id: int) -> str:
        if story_id > MAX_ID:
            abort(404, f"there is no story {story_id}")
        with reading() as session:
            members = list_story_members(session=session, article_id=story_id)
        if not members:
            abort(404, f"there is no story {story_id}")
        return render_template(
            "story.html",
            story_id=members[0]["story_id"],
            members=members[:MAX_STORY_MEMBERS],
            hidden=max(len(members) - MAX_STORY_MEMBERS, 0),
        )

    @app.get("/sources", provide_automatic_options=False)
    def sources() -> str:
        page, size = _paging()
        days = _int_arg("days", DEFAULT_DAYS, 1, MAX_DAYS)
        with reading() as session:
            rows = status.list_source_counts(
                session=session,
                now=datetime.now(UTC),
                days=days,
                offset=(page - 1) * size,
                limit=size + 1,
            )
        return render_template(
            "sources.html",
            sources=rows[:size],
            days=days,
            pager=Pager(page, size, len(rows) > size),
        )

    @app.get("/rejections", provide_automatic_options=False)
    def rejections() -> str:
        page, size = _paging()
        reason = _reason_arg()
        days = _int_arg("days", DEFAULT_DAYS, 1, MAX_DAYS)
        with reading() as session:
            reasons = status.count_rejections_by_reason(
                session=session, now=datetime.now(UTC), days=days
            )
            rows = status.list_rejections(
                session=session, reason=reason, offset=(page - 1) * size, limit=size + 1
            )
        return render_template(
            "rejections.html",
            rejections=rows[:size],
            reasons=reasons,
            reason=reason,
            days=days,
            pager=Pager(page, size, len(rows) > size),
        )

    @app.get("/rejections/<int:sighting_id>", provide_automatic_options=False)
    def rejection(sighting_id: int) -> tuple[str, int] | str:
        if sighting_id > MAX_ID:
            abort(404, f"there is no rejection {sighting_id}")
        with reading() as session:
            try:
                found = status.get_rejected_content(
                    session=session, sighting_id=sighting_id, limit=RAW_CONTENT_LIMIT
                )
            except status.RawContentDenied as exc:
                return render_template(
                    "error.html",
                    code=403,
                    message=(
                        "This page's database login may not read raw content: a "
                        "newsingest_reader login reads the v1 views only. Run "
                        f"`newsingest rejects --show RAW_ID` with the owner's login ({exc})."
                    ),
                ), 403
        if found is None:
            abort(404, f"there is no rejection {sighting_id}")
        return render_template("raw.html", rejection=found, limit=RAW_CONTENT_LIMIT)

    return app


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], else a 400."""
    values = request.args.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        abort(400, f"{name} is given {len(values)} times")
    raw = values[0]
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        abort(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _paging() -> tuple[int, int]:
    page = _int_arg("page", 1, 1, MAX_PAGE)
    size = _int_arg("size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if (page - 1) * size > MAX_OFFSET:
        abort(
            400,
            f"the page shows the newest {MAX_OFFSET:,} rows of a list; older ones are read with "
            "`newsingest query`, `export` or `rejects`",
        )
    return page, size


def _reason_arg() -> str | None:
    values = request.args.getlist("reason")
    if not values or values == [""]:
        return None
    if len(values) > 1 or not _REASON.fullmatch(values[0]):
        abort(400, "reason must be one rejection reason, such as no_body")
    return values[0]
