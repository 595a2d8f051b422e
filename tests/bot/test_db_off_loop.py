"""Async code never calls the database on the event loop: delivery, the feed watch and the assistant go through
`in_db_thread` (a slow query must not stall every chat)."""

from __future__ import annotations

import dataclasses

from tests.bot.test_delivery import BERLIN, TUE, due_berlin_digest
from tests.fakes.assistant_fixtures import PAPER
from tests.fakes.db_probe import database_calls_on_the_loop
from tests.fakes.fake_stream import FakeStreamFactory


async def test_delivering_due_digests_calls_the_database_off_the_loop(app, fake_arxiv, clock, sender):
    from bot.delivery import deliver_due, ingest_if_due

    await due_berlin_digest(app, fake_arxiv, clock)
    with database_calls_on_the_loop(app.engine) as on_loop:
        assert await deliver_due(app) == 1
        await ingest_if_due(app)
    assert on_loop == [], on_loop[0]
    assert app.subscriptions.get(BERLIN.chat_id).last_digest_day == TUE and sender.sent


async def test_the_assistant_calls_the_database_off_the_loop(rig):
    rig.assistant.settings = rig.settings.replace("llm", tldr=True)
    with database_calls_on_the_loop(rig.sessions.kw["bind"]) as on_loop:
        await rig.assistant.faq("test:1", PAPER, "en", FakeStreamFactory("test:1"))
        await rig.assistant.faq("test:2", PAPER, "en", FakeStreamFactory("test:2"))  # from the cache
        await rig.assistant.ask("test:1", PAPER, "What dataset?", "en", FakeStreamFactory("test:1"))
        await rig.assistant.translate("test:1", PAPER, "zh")
        assert await rig.assistant.tldr(dataclasses.replace(PAPER)) is not None
    assert on_loop == [], on_loop[0]
