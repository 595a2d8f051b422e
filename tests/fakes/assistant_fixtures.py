"""The assistant test rig: a fake OpenAI-compatible server, a fake arXiv serving a paper's HTML,
and an `Assistant` wired to both on a migrated SQLite database. Enabled in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.assistant import Assistant
from bot.config import Settings
from bot.migrate import init_db
from digest.arxiv_http import ArxivHttp
from digest.db import make_engine, make_sessionmaker
from digest.models import Paper
from tests.fakes.clock import FakeClock
from tests.fakes.fake_arxiv import FakeArxiv
from tests.fakes.fake_openai import FakeOpenAI

HTML = (Path(__file__).resolve().parents[1] / "fixtures" / "html" / "latexml_small.html").read_bytes()
PAPER = Paper(
    id="2401.00001",
    title="Sparse Widgets for Tiny Tests",
    authors=("Ada Tester",),
    abstract="We introduce sparse widgets.",
    categories=("cs.LG",),
)


@dataclass
class Rig:
    """Everything one assistant test needs."""

    assistant: Assistant
    llm: FakeOpenAI
    arxiv: FakeArxiv
    settings: Settings
    sessions: Any
    clock: FakeClock

    def count(self, model: type, **where: Any) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(model)
            for key, value in where.items():
                query = query.where(getattr(model, key) == value)
            return int(session.scalar(query) or 0)

    def requests_since(self, start: int) -> list[dict[str, Any]]:
        return self.llm.requests[start:]


def app_settings_with_llm(tmp_path: Path, arxiv: FakeArxiv, llm: FakeOpenAI, **overrides: Any) -> Settings:
    """Settings for a whole app on a fresh SQLite file, with arXiv and the LLM on the given fakes."""
    base = Settings()
    return Settings(
        database=base.database.__class__(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=arxiv.settings(),
    ).replace("llm", base_url=llm.base_url, api_key="test-key", timeout_s=5.0, retries=0, **overrides)


@contextlib.asynccontextmanager
async def assistant_rig(tmp_path: Path, **llm: Any):
    """A started fake LLM and fake arXiv (serving PAPER's HTML), and an Assistant wired to both."""
    with FakeOpenAI() as fake_llm, FakeArxiv() as arxiv:
        arxiv.html[PAPER.id] = HTML
        llm_settings = {"base_url": fake_llm.base_url, "api_key": "test-key", "timeout_s": 5.0, "retries": 2,
                        "max_concurrency": 4, "daily_quota": 50, **llm}
        settings = Settings(arxiv=arxiv.settings()).replace("llm", **llm_settings)
        engine = make_engine(f"sqlite:///{tmp_path / 'assistant.sqlite3'}")
        init_db(engine)
        sessions = make_sessionmaker(engine)
        http = ArxivHttp.from_settings(settings.arxiv)
        clock = FakeClock(dt.datetime(2026, 6, 16, 8, 0, tzinfo=dt.timezone.utc))
        assistant = Assistant(settings, sessions, http, clock, retry_wait_s=0.0, lease_poll_s=0.05)
        try:
            yield Rig(assistant, fake_llm, arxiv, settings, sessions, clock)
        finally:
            await assistant.aclose()
            await http.aclose()
            engine.dispose()


@pytest.fixture
async def rig(tmp_path):
    async with assistant_rig(tmp_path) as built:
        yield built
