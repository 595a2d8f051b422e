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


async def test_ingesting_a_day_calls_the_database_off_the_loop(app, fake_arxiv, clock):
    from bot.delivery import ingest
    from tests.bot.test_delivery import serve_day

    clock.set("2026-06-16 06:00")
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new"), ("2606.00002", 1, "new")])
    with database_calls_on_the_loop(app.engine) as on_loop:
        report = await ingest(app, TUE, "cs.CL")
        again = await ingest(app, TUE, "cs.CL")  # the day is stored: the skip check reads the store too
    assert on_loop == [], on_loop[0]
    assert report is not None and report.new_listings == 2 and again is not None


async def test_the_assistant_calls_the_database_off_the_loop(rig):
    rig.assistant.settings = rig.settings.replace("llm", tldr=True)
    with database_calls_on_the_loop(rig.sessions.kw["bind"]) as on_loop:
        await rig.assistant.faq("test:1", PAPER, "en", FakeStreamFactory("test:1"))
        await rig.assistant.faq("test:2", PAPER, "en", FakeStreamFactory("test:2"))  # from the cache
        await rig.assistant.ask("test:1", PAPER, "What dataset?", "en", FakeStreamFactory("test:1"))
        await rig.assistant.translate("test:1", PAPER, "zh")
        assert await rig.assistant.tldr(dataclasses.replace(PAPER)) is not None
    assert on_loop == [], on_loop[0]
