"""Alembic environment: runs migrations online against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import worker.crawl.state  # noqa: F401 - registers the crawl tables on Base.metadata
from worker.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the migrations in one transaction on a fresh connection."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        msg = "no database URL: run migrations with `newsingest db upgrade`"
        raise RuntimeError(msg)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
