"""The benchmarks' PostgreSQL server and their scratch databases.

Server: NEWSINGEST_BENCH_POSTGRES_URL (default postgres on 127.0.0.1:5432), a role that may create
databases.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get(
    "NEWSINGEST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_database(kind: str, *, keep: bool = False) -> Iterator[str]:
    """A new database on the benchmark server, migrated; dropped afterwards unless `keep`."""
    from worker.store import upgrade_database

    name = f"newsingest_bench_{kind}_{uuid.uuid4().hex[:8]}"
    url = f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade_database(url)
        yield url
    finally:
        if keep:
            print(f"kept the database {url}", file=sys.stderr)
        else:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
