"""Fixtures shared by every test: a clean environment, the shared arXiv data, a fresh database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environ():
    """Restore os.environ after each test, so no PAPERBOY_* variable leaks between tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def shared_data() -> Path:
    """The real arXiv material in ../shared/data; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def engine(tmp_path):
    """A fresh SQLite database at the current schema."""
    from bot.migrate import init_db
    from digest.db import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'paperboy.sqlite3'}")
    init_db(eng)
    yield eng
    eng.dispose()


pytest_plugins = ["tests.fakes.arxiv_fixtures", "tests.fakes.app_fixtures", "tests.fakes.assistant_fixtures",
                  "tests.fakes.postgres_fixtures"]
