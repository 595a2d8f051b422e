"""pytest fixtures for a whole paperboy app against the fake arXiv, with a frozen clock.

- `clock`: a FakeClock at Tue 2026-06-16 08:00 UTC (the 06-16 feed is out, published at 00:00 ET).
- `settings`: Settings with a temporary SQLite file and every arXiv URL on the fake.
- `app`: a built Paperboy (migrated database) with a FakeSender attached for "console" chats.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import Settings
from tests.fakes.clock import FakeClock
from tests.fakes.fake_sender import FakeSender


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 6, 16, 8, 0, tzinfo=dt.timezone.utc))


@pytest.fixture
def settings(tmp_path, fake_arxiv) -> Settings:
    base = Settings()
    return Settings(
        database=base.database.__class__(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=fake_arxiv.settings(),
    )


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
async def app(settings, clock, sender):
    from bot.cli import build_app

    application = build_app(settings, clock=clock)
    application.attach_sender("console", sender)
    yield application
    await application.wait_idle()
    await application.aclose()
