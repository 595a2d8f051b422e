"""A fresh PostgreSQL database per test, when PAPERBOY_TEST_POSTGRES_URL names a server.

The URL points at any database of a server where the user may create databases (`.ci/run` starts
one when it can); each test gets its own database, dropped afterwards. Skips otherwise.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text


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
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
