"""A fresh PostgreSQL database per test, when PAPERBOY_TEST_POSTGRES_URL names a server.

The URL points at any database of a server where the user may create databases (`.ci/run` starts
one when it can); each test gets its own database, dropped afterwards. Skips otherwise.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError


@pytest.fixture
def pg_url():
    admin_url = os.environ.get("PAPERBOY_TEST_POSTGRES_URL", "")
    if not admin_url:
        pytest.skip("PAPERBOY_TEST_POSTGRES_URL is not set")
    name = f"paperboy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    _drop(admin, name)
    admin.dispose()


def _drop(admin, name: str) -> None:  # type: ignore[no-untyped-def]
    """Drop the test's database; an autovacuum worker still in it (which a non-superuser may not
    terminate) is waited out, and a database that cannot be dropped is a warning, not a failure."""
    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as exc:
            last = exc
            time.sleep(0.2 * (attempt + 1))
    warnings.warn(f"could not drop the test database {name}: {last.orig}", stacklevel=1)
