"""Every stored paper has a date, whatever brought it: `/search after:/before:` work on feed papers."""

from __future__ import annotations

import datetime as dt
import email.utils
from zoneinfo import ZoneInfo

from bot.delivery import ingest
from bot.search_memory import SearchQueryRow
from bot.ports import ChatContext
from digest.ids import submitted_month
from digest.search import create_search_index
from tests.fakes.fake_arxiv import atom_entry, rss_feed, rss_item

CHAT = ChatContext(chat_id="console:dates")
TUE = dt.date(2026, 6, 23)
PUB = email.utils.format_datetime(dt.datetime.combine(TUE, dt.time(0), tzinfo=ZoneInfo("America/New_York")))


def test_the_id_tells_the_month_of_the_first_version():
    assert submitted_month("2606.01234") == dt.date(2026, 6, 1)
    assert submitted_month("0704.0001") == dt.date(2007, 4, 1)
    assert submitted_month("hep-th/9901001") == dt.date(1999, 1, 1)
    assert submitted_month("math.GT/0309136") == dt.date(2003, 9, 1)


async def _serve_and_ingest(app, fake_arxiv, clock):  # type: ignore[no-untyped-def]
    clock.set("2026-06-23 12:00")
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [
        rss_item("2606.20001", "Grammar induction from speech", categories=("cs.CL",), pub_date=PUB),
        rss_item("2606.20002", "Speech grammar crossing over", categories=("cs.SD", "cs.CL"), announce_type="cross", pub_date=PUB),
        rss_item("2604.09999", "Speech grammar, second version", version=2, announce_type="replace", categories=("cs.CL",), pub_date=PUB),
    ], pub_date=PUB)
    await ingest(app, TUE, "cs.CL")


async def test_feed_papers_get_their_announcement_day_and_replacements_their_ids_month(app, fake_arxiv, clock):
    await _serve_and_ingest(app, fake_arxiv, clock)
    papers = app.store.get_papers(["2606.20001", "2606.20002", "2604.09999"])
    assert papers["2606.20001"].published == TUE and papers["2606.20002"].published == TUE
    assert papers["2604.09999"].published == dt.date(2026, 4, 1)


async def test_an_exact_date_from_the_api_is_never_overwritten_by_a_feeds_estimate(app, fake_arxiv, clock):
    fake_arxiv.api_entries["2604.09999"] = atom_entry("2604.09999", "Speech grammar", published="2026-04-17T10:00:00Z")
    await app.fetch_papers(["2604.09999"])
    await _serve_and_ingest(app, fake_arxiv, clock)
    assert app.store.get_paper("2604.09999").published == dt.date(2026, 4, 17)


async def test_search_date_filters_find_papers_that_came_from_the_feed(app, fake_arxiv, clock):
    SearchQueryRow.__table__.create(app.engine, checkfirst=True)
    with app.engine.begin() as conn:
        create_search_index(conn)
    await _serve_and_ingest(app, fake_arxiv, clock)
    after = "\n".join(m.plain_text() for m in await app.handle_text(CHAT, "/search grammar after:2026-06-20"))
    assert "Grammar induction from speech" in after and "Speech grammar crossing over" in after
    assert "second version" not in after  # first posted in April
    before = "\n".join(m.plain_text() for m in await app.handle_text(CHAT, "/search grammar before:2026-05-01"))
    assert "second version" in before and "Grammar induction" not in before
