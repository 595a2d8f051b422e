"""The same code on PostgreSQL: migrations, ingest, digests, the importer and a shared outbox.

Runs when PAPERBOY_TEST_POSTGRES_URL points at a server where the user may create databases
(`.ci/run` starts one when it can); each test gets a fresh database (`pg_url`). Skipped otherwise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from bot.config import DatabaseSettings, Settings
from bot.ports import ChatContext
from tests.fakes.fake_arxiv import rss_feed, rss_item
from tests.fakes.fake_sender import FakeSender

@pytest.fixture
async def pg_app(pg_url, fake_arxiv, clock):
    from bot.cli import build_app

    settings = Settings(database=DatabaseSettings(url=pg_url), arxiv=fake_arxiv.settings())
    app = build_app(settings, clock=clock)
    yield app
    await app.wait_idle()
    await app.aclose()


async def test_subscribe_and_digest_work_on_postgres(pg_app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [
        rss_item("2606.00001", "Tokens <&> $\\alpha$", categories=("cs.CL",)),
        rss_item("2606.00002", "A cross-list", categories=("cs.LG", "cs.CL"), announce_type="cross"),
    ])
    ctx = ChatContext("console:pg")
    await pg_app.handle_text(ctx, "/subscribe cs.CL")
    replies = await pg_app.handle_text(ctx, "/digest")
    text_out = "\n".join(m.plain_text() for m in replies)
    assert "1 new and 1 cross-listed" in text_out
    assert "Tokens <&> α" in text_out
    again = await pg_app.handle_text(ctx, "/digest")
    assert [m.plain_text() for m in again] == [m.plain_text() for m in replies]


async def test_two_outbox_workers_never_send_a_row_twice(pg_app):
    from bot.outbox import Outbox, Outgoing, enqueue
    from digest.message import text as text_message

    now = dt.datetime(2026, 6, 16, 8, 0)
    with pg_app.sessions.begin() as session:
        items = [Outgoing(f"k:{chat}:{part}", f"console:{chat}", text_message(f"{chat}/{part}"))
                 for chat in range(20) for part in range(3)]
        assert enqueue(session, items, now) == 60
        assert enqueue(session, items, now) == 0  # the idempotency key holds on PostgreSQL too
    sender = FakeSender()

    def worker(sender_id: str) -> Outbox:  # two sender processes: each has its own id
        return Outbox(pg_app.sessions, sender_for=lambda chat: sender, clock=pg_app.clock,
                      on_unreachable=lambda *a: None, on_moved=lambda *a: None, sender_id=sender_id)

    sent = await asyncio.gather(worker("sender-1").deliver(), worker("sender-2").deliver())
    assert sum(sent) == 60
    assert sorted(k for k in sender.keys()) == sorted(o.key for o in items)
    for chat in range(20):  # and in order within each chat
        assert [t for t in sender.texts(f"console:{chat}")] == [f"{chat}/{p}" for p in range(3)]


def test_import_upserts_on_postgres(pg_app, tmp_path):
    from digest.importer import import_jsonl

    path = tmp_path / "2026-06-16.jsonl"
    rows = [{"id": "2606.00001", "title": "A", "authors": ["X"], "categories": ["cs.CL"], "summary": "s"},
            {"id": "2606.00001", "title": "A", "authors": ["X"], "categories": ["cs.CL", "cs.AI"], "summary": "s"},
            {"id": "2606.00002v2", "title": "B", "authors": ["Y"], "categories": ["cs.AI"], "summary": "t"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    report = import_jsonl([path], pg_app.sessions)
    assert (report.papers, report.announcements) == (2, 2)
    again = import_jsonl([path], pg_app.sessions)
    assert again.announcements == 0
    assert pg_app.store.count_papers() == 2
    assert pg_app.store.get_paper("2606.00002").version == 2


def test_quota_reservations_hold_across_processes_on_postgres(pg_url):
    """Two processes (two engines) reserving at once never pass the chat's quota or the token budget."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.assistant.store import AssistantStore
    from bot.migrate import init_db
    from digest.db import make_engine, make_sessionmaker

    engines = [make_engine(pg_url) for _ in range(2)]
    init_db(engines[0])
    stores = [AssistantStore(make_sessionmaker(engine)) for engine in engines]
    day = dt.date(2026, 6, 16)

    def reserve(n: int) -> int | str:
        return stores[n % 2].reserve(chat_id="tg:1", paper_id="2401.00001", kind="ask", day=day, tokens=100,
                                     chat_calls=5, daily_tokens=10_000)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(reserve, range(20)))
    assert sum(isinstance(r, int) for r in results) == 5
    assert results.count("quota") == 15
    for engine in engines:
        engine.dispose()
