"""Scheduled delivery and the outbox, driven by a FakeClock.

A chat gets the latest announcement at its own local time (never before, never twice), and the
outbox turns every failure mode (transient errors, crashes mid-send, restarts, blocked or moved
chats) into "delivered exactly once" or "stopped on purpose".
"""

from __future__ import annotations

import datetime as dt
import email.utils
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy import text as text_sql

from bot.delivery import deliver_due, ingest
from bot.ports import ChatContext, ChatMoved, ChatUnreachable, TransientSendError
from bot.schema import OutboxRow
from tests.fakes.fake_arxiv import rss_feed, rss_item
from tests.fakes.fake_sender import FakeSender

NEW_YORK = ZoneInfo("America/New_York")
TUE, WED, THU = dt.date(2026, 6, 16), dt.date(2026, 6, 17), dt.date(2026, 6, 18)
BERLIN = ChatContext(chat_id="console:berlin")
SHANGHAI = ChatContext(chat_id="console:shanghai")


def pub(day: dt.date) -> str:
    return email.utils.format_datetime(dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK))


def serve_day(fake_arxiv, day: dt.date, papers: list[tuple[str, int, str]], cats: str = "cs.CL") -> None:  # type: ignore[no-untyped-def]
    """Serve `cats`'s feed for `day` with (id, version, announce type) items."""
    items = [rss_item(pid, f"Paper {pid} v{v}", version=v, announce_type=kind, categories=(cats,), pub_date=pub(day))
             for pid, v, kind in papers]
    fake_arxiv.rss[cats] = rss_feed(cats, items, pub_date=pub(day))


async def follow(app, ctx: ChatContext, zone: str, time: str = "08:00", extra: tuple[str, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    for line in ("/subscribe cs.CL", f"/time {time} {zone}", *extra):
        await app.handle_text(ctx, line)


def headers(sender: FakeSender, chat_id: str) -> list[str]:
    return [m.plain_text().splitlines()[0] for c, m, _ in sender.sent if c == chat_id and "arXiv digest" in m.plain_text()]


def paper_ids(sender: FakeSender, chat_id: str) -> list[str]:
    return [b.action.split(":", 1)[1] for c, m, _ in sender.sent if c == chat_id
            for row in m.buttons for b in row if b.action and b.action.startswith(("save:", "card:"))]


def outbox_rows(app, **where) -> list[OutboxRow]:  # type: ignore[no-untyped-def]
    with app.sessions() as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        for key, value in where.items():
            query = query.where(getattr(OutboxRow, key) == value)
        return list(session.scalars(query))


# --- at the chat's local time ------------------------------------------------------------------


async def test_each_chat_gets_the_day_at_its_own_local_time_and_not_before(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "Europe/Berlin")  # 08:00 CEST = 06:00 UTC
    await follow(app, SHANGHAI, "Asia/Shanghai")  # 08:00 CST = 00:00 UTC, before the feed is out
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new"), ("2606.00002", 1, "new")])
    clock.set("2026-06-16 04:30")
    await ingest(app)

    clock.set("2026-06-16 05:59")
    assert await deliver_due(app) == 0 and sender.sent == []

    clock.set("2026-06-16 06:00")
    assert await deliver_due(app) == 1
    assert headers(sender, BERLIN.chat_id) == ["📬 arXiv digest · Tue 16 Jun 2026"]
    assert headers(sender, SHANGHAI.chat_id) == []

    clock.set("2026-06-16 23:59")
    assert await deliver_due(app) == 0
    clock.set("2026-06-17 00:00")  # 08:00 in Shanghai, the first one after Tuesday's feed
    assert await deliver_due(app) == 1
    assert headers(sender, SHANGHAI.chat_id) == ["📬 arXiv digest · Tue 16 Jun 2026"]
    assert headers(sender, BERLIN.chat_id) == ["📬 arXiv digest · Tue 16 Jun 2026"]  # still once
    assert sorted(paper_ids(sender, SHANGHAI.chat_id)) == ["2606.00001", "2606.00002"]


async def test_subscribing_in_the_evening_sends_nothing_until_the_next_delivery_time(app, fake_arxiv, clock, sender):
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")])
    await ingest(app, TUE, "cs.CL")
    clock.set("2026-06-16 20:00", "Europe/Berlin")
    await follow(app, BERLIN, "Europe/Berlin")
    assert await deliver_due(app) == 0
    serve_day(fake_arxiv, WED, [("2606.00002", 1, "new"), ("2606.00003", 1, "new")])
    clock.set("2026-06-17 07:59", "Europe/Berlin")
    assert await deliver_due(app) == 0
    assert sender.sent == []
    clock.set("2026-06-17 08:00", "Europe/Berlin")  # the delivery run fetches Wednesday's feed first
    assert await deliver_due(app) == 1
    assert headers(sender, BERLIN.chat_id) == ["📬 arXiv digest · Wed 17 Jun 2026"]
    assert sorted(paper_ids(sender, BERLIN.chat_id)) == ["2606.00002", "2606.00003"]  # the whole latest day


async def test_delivery_waits_for_an_allowed_weekday(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "Europe/Berlin", extra=("/days wed",))
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")])
    await ingest(app, TUE, "cs.CL")
    clock.set("2026-06-16 12:00")  # Tuesday noon: past 08:00, but not a Wednesday
    assert await deliver_due(app) == 0
    clock.set("2026-06-17 05:59")
    assert await deliver_due(app) == 0
    serve_day(fake_arxiv, WED, [("2606.00002", 1, "new")])
    clock.set("2026-06-17 06:00")  # Wednesday 08:00 in Berlin: the first digest is the latest day
    assert await deliver_due(app) == 1
    assert len(headers(sender, BERLIN.chat_id)) == 1
    assert paper_ids(sender, BERLIN.chat_id) == ["2606.00002"]


async def test_days_without_a_delivery_roll_into_the_next_digest_so_no_paper_is_missed(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "Europe/Berlin", extra=("/days mon,thu",))
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")])
    await ingest(app, TUE, "cs.CL")
    clock.set("2026-06-16 06:00")  # Tuesday: not a delivery day for this chat
    assert await deliver_due(app) == 0
    serve_day(fake_arxiv, WED, [("2606.00002", 1, "new")])
    await ingest(app, WED, "cs.CL")
    serve_day(fake_arxiv, THU, [("2606.00003", 1, "new")])
    await ingest(app, THU, "cs.CL")
    clock.set("2026-06-18 06:00")  # Thursday 08:00 in Berlin
    # The chat's first digest is only the newest day; the next one carries everything since.
    assert await deliver_due(app) == 1
    assert paper_ids(sender, BERLIN.chat_id) == ["2606.00003"]

    sender.sent.clear()
    clock.set("2026-06-19 04:30")
    serve_day(fake_arxiv, dt.date(2026, 6, 19), [("2606.00004", 1, "new")])
    await ingest(app, dt.date(2026, 6, 19), "cs.CL")
    with app.sessions.begin() as session:  # pretend Thursday's digest went out on Monday the 15th
        from digest.schema import SubscriptionRow

        session.get(SubscriptionRow, BERLIN.chat_id).last_digest_day = dt.date(2026, 6, 15)
        session.execute(text_sql("DELETE FROM sent_papers"))
    clock.set("2026-06-22 06:00")  # Monday 08:00 in Berlin
    assert await deliver_due(app) == 1
    assert sorted(paper_ids(sender, BERLIN.chat_id)) == ["2606.00001", "2606.00002", "2606.00003", "2606.00004"]
    header = sender.sent[0][1].plain_text()
    assert "Covers the announcements of Tue 16 Jun 2026, Wed 17 Jun 2026, Thu 18 Jun 2026 and Fri 19 Jun 2026" in header


async def test_no_chat_is_shown_the_same_paper_twice_across_days_and_versions(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "UTC", "06:00", extra=("/replacements on", "/subscribe cs.AI"))
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new"), ("2606.00002", 1, "new")])
    serve_day(fake_arxiv, TUE, [("2606.00050", 1, "new")], cats="cs.AI")
    clock.set("2026-06-16 06:00")
    await ingest(app, TUE, "cs.CL")
    await ingest(app, TUE, "cs.AI")
    assert await deliver_due(app) == 1
    assert sorted(paper_ids(sender, BERLIN.chat_id)) == ["2606.00001", "2606.00002", "2606.00050"]

    # Wednesday: a new version of 00001, 00002 cross-listed again in cs.AI, and one fresh paper
    serve_day(fake_arxiv, WED, [("2606.00001", 2, "replace"), ("2606.00003", 1, "new")])
    serve_day(fake_arxiv, WED, [("2606.00002", 1, "cross")], cats="cs.AI")
    clock.set("2026-06-17 06:00")
    await ingest(app, WED, "cs.CL")
    await ingest(app, WED, "cs.AI")
    assert await deliver_due(app) == 1
    ids = paper_ids(sender, BERLIN.chat_id)
    assert sorted(ids) == ["2606.00001", "2606.00002", "2606.00003", "2606.00050"]
    wednesday = [m.plain_text() for c, m, _ in sender.sent if "Wed 17 Jun 2026" in m.plain_text()]
    assert "2 you already had" in wednesday[0]


async def test_a_chat_that_got_the_latest_day_by_asking_is_not_sent_it_again(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "UTC", "06:00")
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")])
    clock.set("2026-06-16 05:00")
    await app.handle_text(BERLIN, "/digest")
    clock.set("2026-06-16 06:00")
    assert await deliver_due(app) == 0 and sender.sent == []


# --- the outbox ---------------------------------------------------------------------------------


async def enqueue_due_digests(app) -> int:  # type: ignore[no-untyped-def]
    """Run the delivery sweep with no adapter attached: due digests become outbox rows, nothing is sent."""
    senders, app.senders = app.senders, {}
    try:
        return await deliver_due(app)
    finally:
        app.senders = senders


async def due_berlin_digest(app, fake_arxiv, clock, n: int = 2) -> None:  # type: ignore[no-untyped-def]
    """Berlin follows cs.CL; Tuesday is ingested and its digest is due at 06:00 UTC."""
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "Europe/Berlin")
    serve_day(fake_arxiv, TUE, [(f"2606.{i:05d}", 1, "new") for i in range(1, n + 1)])
    await ingest(app, TUE, "cs.CL")
    clock.set("2026-06-16 06:00")


async def test_enqueueing_the_same_digest_twice_is_one_set_of_rows(app, fake_arxiv, clock):
    from bot.delivery import build_digests, commit_digest

    await due_berlin_digest(app, fake_arxiv, clock)
    assert await enqueue_due_digests(app) == 1
    before = [(r.key, r.payload) for r in outbox_rows(app)]
    assert len(before) == 3  # header + two cards
    assert await enqueue_due_digests(app) == 0
    sub = app.subscriptions.get(BERLIN.chat_id)
    commit_digest(app, sub, build_digests(app, TUE, [sub])[0], enqueue_messages=True)
    assert [(r.key, r.payload) for r in outbox_rows(app)] == before
    assert len({r.key for r in outbox_rows(app)}) == 3


async def test_committing_a_digest_holds_one_connection_and_opens_no_session_inside_its_transaction(
        app, fake_arxiv, clock):
    """Reads for the messages (Save buttons, the day before) happen before the write transaction."""
    from sqlalchemy import event

    from bot.delivery import build_digests, commit_digest

    await due_berlin_digest(app, fake_arxiv, clock)
    sub = app.subscriptions.get(BERLIN.chat_id)
    digest = build_digests(app, TUE, [sub])[0]
    held, most = 0, 0

    def checkout(*_):  # type: ignore[no-untyped-def]
        nonlocal held, most
        held += 1
        most = max(most, held)

    def checkin(*_):  # type: ignore[no-untyped-def]
        nonlocal held
        held -= 1

    event.listen(app.engine, "checkout", checkout)
    event.listen(app.engine, "checkin", checkin)
    try:
        digest_id, messages = commit_digest(app, sub, digest, enqueue_messages=True)
    finally:
        event.remove(app.engine, "checkout", checkout)
        event.remove(app.engine, "checkin", checkin)
    assert most == 1 and held == 0
    assert len(messages) == 3 and len(outbox_rows(app)) == 3 and digest_id > 0
    assert app.subscriptions.get(BERLIN.chat_id).last_digest_day == TUE


@pytest.mark.parametrize("retry_after", [30.0, None], ids=["retry-after", "backoff"])
async def test_a_transient_send_error_retries_later_and_delivers_once_in_order(app, fake_arxiv, clock, sender, retry_after):
    await due_berlin_digest(app, fake_arxiv, clock, n=3)
    await enqueue_due_digests(app)
    expected = [r.key for r in outbox_rows(app)]
    sender.fail_next.append(TransientSendError("502 Bad Gateway", retry_after=retry_after))
    assert await app.deliver_pending() == 0
    assert sender.sent == [] and {r.status for r in outbox_rows(app)} == {"pending"}
    assert await app.deliver_pending() == 0  # too early: the retry is scheduled, not immediate
    clock.advance(seconds=31)
    assert await app.deliver_pending() == 4  # header + three cards
    assert sender.keys() == expected
    assert {r.status for r in outbox_rows(app)} == {"sent"}
    clock.advance(hours=2)
    assert await app.deliver_pending() == 0 and sender.keys() == expected


async def test_an_error_mid_digest_keeps_the_order_and_sends_nothing_twice(app, fake_arxiv, clock, sender):
    await due_berlin_digest(app, fake_arxiv, clock, n=3)
    await enqueue_due_digests(app)
    expected = [r.key for r in outbox_rows(app)]

    class FlakySender(FakeSender):
        async def send(self, chat_id, message, *, idempotency_key=None):  # type: ignore[no-untyped-def]
            if len(self.sent) == 2 and not getattr(self, "failed_once", False):
                self.failed_once = True
                raise TransientSendError("timeout")
            return await super().send(chat_id, message, idempotency_key=idempotency_key)

    flaky = FlakySender()
    app.attach_sender("console", flaky)
    assert await app.deliver_pending() == 2
    clock.advance(minutes=1)
    assert await app.deliver_pending() == 2
    assert flaky.keys() == expected


async def test_rows_claimed_by_a_dead_sender_are_taken_over_when_its_claim_expires(app, fake_arxiv, clock, settings):
    from bot.cli import build_app
    from bot.outbox import CLAIM_LEASE

    await due_berlin_digest(app, fake_arxiv, clock)
    await enqueue_due_digests(app)
    expires = clock().astimezone(dt.timezone.utc).replace(tzinfo=None) + CLAIM_LEASE
    with app.sessions.begin() as session:  # another sender claimed the rows, then died
        session.execute(update(OutboxRow).values(status="sending", claimed_by="other-host:sender", next_attempt_at=expires))
    await app.aclose()

    restarted = build_app(settings, clock=clock)
    fresh = FakeSender()
    restarted.attach_sender("console", fresh)
    try:
        clock.advance(seconds=CLAIM_LEASE.total_seconds() - 1)
        assert await restarted.deliver_pending() == 0  # its heartbeat may still be alive
        clock.advance(seconds=2)
        assert await restarted.deliver_pending() == 3
        assert len(fresh.sent) == 3 and len(set(fresh.keys())) == 3
        assert await restarted.deliver_pending() == 0
    finally:
        await restarted.aclose()


async def test_a_restarted_sender_takes_back_its_own_claims_at_once(app, fake_arxiv, clock, settings):
    from bot.cli import build_app

    await due_berlin_digest(app, fake_arxiv, clock)
    await enqueue_due_digests(app)
    own = app.outbox.sender_id
    later = clock().astimezone(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=5)
    with app.sessions.begin() as session:  # this sender claimed the rows, then was killed
        session.execute(update(OutboxRow).values(status="sending", claimed_by=own, next_attempt_at=later))
    await app.aclose()

    restarted = build_app(settings, clock=clock)
    restarted.outbox.sender_id = own
    fresh = FakeSender()
    restarted.attach_sender("console", fresh)
    try:
        assert await restarted.deliver_pending() == 3  # no waiting for the claim to expire
        assert len(set(fresh.keys())) == 3
    finally:
        await restarted.aclose()


async def test_a_chats_rows_are_claimed_one_at_a_time_in_order(app, fake_arxiv, clock):
    await due_berlin_digest(app, fake_arxiv, clock, n=3)
    await enqueue_due_digests(app)
    app.attach_sender("console", FakeSender())
    first = app.outbox._claim(100)
    assert [key for _, _, key, _ in first] == [outbox_rows(app)[0].key]  # the head row only
    assert app.outbox._claim(100) == []  # the rest waits until the head is sent


async def test_a_restart_after_a_missed_delivery_time_sends_the_missed_digest_once(app, fake_arxiv, clock, settings):
    from bot.cli import build_app

    await due_berlin_digest(app, fake_arxiv, clock)
    clock.set("2026-06-15 12:00")
    await app.aclose()  # down from Monday noon to Tuesday 14:00, across Berlin's 08:00

    clock.set("2026-06-16 14:00")
    restarted = build_app(settings, clock=clock)
    fresh = FakeSender()
    restarted.attach_sender("console", fresh)
    try:
        assert await deliver_due(restarted) == 1
        assert headers(fresh, BERLIN.chat_id) == ["📬 arXiv digest · Tue 16 Jun 2026"]
        clock.advance(hours=1)
        assert await deliver_due(restarted) == 0
        assert len(headers(fresh, BERLIN.chat_id)) == 1
    finally:
        await restarted.aclose()


async def test_an_unreachable_chat_is_paused_and_not_retried(app, fake_arxiv, clock, sender):
    await due_berlin_digest(app, fake_arxiv, clock)
    sender.fail_next.append(ChatUnreachable("Forbidden: bot was blocked by the user"))
    assert await deliver_due(app) == 1
    sub = app.subscriptions.get(BERLIN.chat_id)
    assert sub.paused and "blocked" in (sub.paused_reason or "")
    assert {r.status for r in outbox_rows(app)} == {"dead"}
    clock.advance(hours=3)
    assert await app.deliver_pending() == 0 and sender.sent == []
    # the next day nothing is built for it either
    serve_day(fake_arxiv, WED, [("2606.00009", 1, "new")])
    await ingest(app, WED, "cs.CL")
    clock.set("2026-06-17 12:00")
    assert await deliver_due(app) == 0 and sender.sent == []
    # talking to the bot again resumes it
    await app.handle_text(BERLIN, "/max 5")
    assert not app.subscriptions.get(BERLIN.chat_id).paused


async def test_a_moved_chat_takes_its_subscription_along_and_gets_the_digest_at_the_new_id(app, fake_arxiv, clock, sender):
    await due_berlin_digest(app, fake_arxiv, clock)
    sender.fail_next.append(ChatMoved("group upgraded to supergroup", "console:berlin-super"))
    await deliver_due(app)
    await app.deliver_pending()
    assert app.subscriptions.get(BERLIN.chat_id) is None
    moved = app.subscriptions.get("console:berlin-super")
    assert moved is not None and moved.categories == "cs.CL" and moved.timezone == "Europe/Berlin"
    assert headers(sender, "console:berlin-super") == ["📬 arXiv digest · Tue 16 Jun 2026"]
    assert [c for c, _, _ in sender.sent] == ["console:berlin-super"] * 3
    assert {r.chat_id for r in outbox_rows(app)} == {"console:berlin-super"}


async def test_rows_for_a_platform_without_a_running_adapter_wait(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, ChatContext(chat_id="tg:42"), "UTC", "06:00")
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")])
    await ingest(app, TUE, "cs.CL")
    clock.set("2026-06-16 07:00")
    assert await deliver_due(app) == 1
    assert sender.sent == []
    assert {r.status for r in outbox_rows(app, chat_id="tg:42")} == {"pending"}
    tg = FakeSender()
    app.attach_sender("tg", tg)
    assert await app.deliver_pending() == 2
    assert app.outbox.pending_count() == 0


async def test_the_outbox_counts_pending_rows(app, fake_arxiv, clock):
    await due_berlin_digest(app, fake_arxiv, clock)
    await enqueue_due_digests(app)
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 3
    assert app.outbox.pending_count() == 3


async def test_a_moved_chat_keeps_its_history_so_old_buttons_work_and_nothing_repeats(app, fake_arxiv, clock, sender):
    from digest.saved import saved_ids, toggle_saved

    await due_berlin_digest(app, fake_arxiv, clock, n=16)
    toggle_saved(app.sessions, BERLIN.chat_id, "2606.00002")
    sender.fail_next.append(ChatMoved("group upgraded to supergroup", "console:berlin-super"))
    await deliver_due(app)
    await app.deliver_pending()
    new = ChatContext(chat_id="console:berlin-super")
    page = next(b.action for _, m, _ in sender.sent for row in m.buttons for b in row
                if b.action and b.action.startswith("pg:"))
    turned = await app.handle_action(new, page)
    assert turned.edit is not None, turned.notice
    assert saved_ids(app.sessions, new.chat_id) == ["2606.00002"]
    # Wednesday lists a paper the group already had (cross-listed again): it is not shown twice
    serve_day(fake_arxiv, WED, [("2606.00001", 1, "cross"), ("2606.00099", 1, "new")])
    await ingest(app, WED, "cs.CL")
    clock.set("2026-06-17 06:00")
    before = len(sender.sent)
    assert await deliver_due(app) == 1
    wednesday = [b.action.split(":", 1)[1] for _, m, _ in sender.sent[before:] for row in m.buttons for b in row
                 if b.action and b.action.startswith("save:")]
    assert wednesday == ["2606.00099"]


# --- only days whose feed is in; late notes; new subscribers ---------------------------------------

FRI = dt.date(2026, 6, 26)


async def test_a_new_subscribers_first_digest_is_the_latest_day_fetched_before_delivery(app, fake_arxiv, clock, sender):
    """Subscribed at 09:30 UTC with /time 11:33 Europe/Berlin, nothing fetched yet: at 11:33 the
    delivery run fetches Friday's feed and sends the whole day, never "0 new"."""
    serve_day(fake_arxiv, FRI, [(f"2606.{i:05d}", 1, "new") for i in range(1, 8)])
    clock.set("2026-06-26 09:30")
    await follow(app, BERLIN, "Europe/Berlin", "11:33")
    clock.set("2026-06-26 11:32", "Europe/Berlin")
    assert await deliver_due(app) == 0
    assert fake_arxiv.requests_to("/rss") == []  # nothing due yet, so nothing fetched by delivery
    clock.set("2026-06-26 11:33", "Europe/Berlin")
    assert await deliver_due(app) == 1
    header = sender.texts(BERLIN.chat_id)[0]
    assert "Fri 26 Jun 2026" in header and "7 new" in header and "→ 7 for you" in header
    assert len(set(paper_ids(sender, BERLIN.chat_id))) == 7


async def test_an_unfetched_day_is_never_reported_as_nothing_matched(app, fake_arxiv, clock, sender):
    from tests.fakes.fake_arxiv import Reply

    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "UTC", "06:00")
    serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new")], cats="cs.AI")  # another category's day is in
    await ingest(app, TUE, "cs.AI")
    fake_arxiv.rss["cs.CL"] = Reply.html_error()
    for hour in range(6, 12):
        clock.set(f"2026-06-16 {hour:02d}:00")
        assert await deliver_due(app) == 0
    digests = [t for t in sender.texts(BERLIN.chat_id) if "arXiv digest" in t]
    assert digests == []
    assert sender.texts(BERLIN.chat_id) == [
        "I can't reach arXiv to fetch the feed for Tue 16 Jun 2026 right now; your digest follows as soon as I can."]


async def test_a_late_feed_gets_one_true_note_and_then_the_digest(app, fake_arxiv, clock, sender):
    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "UTC", "05:00")
    serve_day(fake_arxiv, dt.date(2026, 6, 15), [("2606.00001", 1, "new")])  # Monday's feed is still up
    await ingest(app, dt.date(2026, 6, 15), "cs.CL")
    for minute in range(0, 120, 5):  # Tuesday's feed is due at 04:00 UTC but does not come
        clock.set(f"2026-06-16 {5 + minute // 60:02d}:{minute % 60:02d}")
        await deliver_due(app)
    assert sender.texts(BERLIN.chat_id) == ["arXiv's feed for Tue 16 Jun 2026 is late; your digest follows when it arrives."]
    serve_day(fake_arxiv, TUE, [("2606.00002", 1, "new"), ("2606.00003", 1, "new")])
    clock.set("2026-06-16 07:05")
    assert await deliver_due(app) == 1
    texts = sender.texts(BERLIN.chat_id)
    assert len(texts) == 4 and "Tue 16 Jun 2026" in texts[1] and "→ 2 for you" in texts[1]
    assert sorted(paper_ids(sender, BERLIN.chat_id)) == ["2606.00002", "2606.00003"]


async def test_at_start_up_the_scheduler_catches_up_on_the_latest_announcement(app, fake_arxiv, clock, sender):
    from bot.delivery import ingest_if_due

    clock.set("2026-06-15 12:00")
    await follow(app, BERLIN, "UTC", "06:00")
    serve_day(fake_arxiv, WED, [("2606.00001", 1, "new")])
    clock.set("2026-06-17 15:00")  # down since Monday: a late start
    assert await ingest_if_due(app) == "announced"
    assert await deliver_due(app) == 1
    assert "Wed 17 Jun 2026" in sender.texts(BERLIN.chat_id)[0]
    assert await ingest_if_due(app) is None  # in: nothing more to fetch


def test_failed_fetches_back_off_with_the_first_retry_within_two_minutes():
    from bot.feed_watch import FeedWatch

    watch, now = FeedWatch(retry_min=5), dt.datetime(2026, 6, 16, 4, 2, tzinfo=dt.timezone.utc)
    waits = []
    for _ in range(5):
        watch.record(TUE, "failed", now)
        waits.append((watch.next_try(TUE, now) - now).total_seconds() / 60)
    assert waits == [1, 2, 4, 5, 5]
    assert not watch.may_fetch(TUE, now + dt.timedelta(minutes=4))
    assert watch.may_fetch(TUE, now + dt.timedelta(seconds=30), asked_by_user=True)  # a person asking may try sooner
    watch.record(TUE, "announced", now)
    assert not watch.failing(TUE)


async def test_a_process_without_a_platforms_adapter_claims_none_of_its_rows(app, fake_arxiv, clock):
    await due_berlin_digest(app, fake_arxiv, clock)
    await enqueue_due_digests(app)
    app.senders.clear()  # a scheduler process: no adapter at all
    assert app.outbox._claim(100) == []
    with app.sessions.begin() as session:
        session.execute(update(OutboxRow).values(chat_id="tg:1"))
    app.attach_sender("dc", FakeSender())  # a Discord-only sender leaves Telegram's rows alone
    assert app.outbox._claim(100) == []
    app.attach_sender("tg", FakeSender())
    assert len(app.outbox._claim(100)) == 1
