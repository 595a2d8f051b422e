"""The parts that let several processes share one database: the scheduler lease, the status
report, the error log, and health, on a frozen clock."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update

from bot.lease import LEASE_TTL, SCHEDULER_LEASE, Lease, lease_state
from bot.outbox import Outgoing, enqueue
from bot.schema import OutboxRow
from bot.status import ErrorRecorder, collect, health, render_text
from digest.message import text
from tests.fakes.clock import FakeClock


def test_one_holder_at_a_time_and_a_takeover_only_after_the_lease_expires(app, clock: FakeClock):
    first = Lease(app.sessions, SCHEDULER_LEASE, "host-a:100", clock=clock)
    second = Lease(app.sessions, SCHEDULER_LEASE, "host-b:200", clock=clock)
    assert first.try_acquire() and not second.try_acquire()
    clock.advance(seconds=LEASE_TTL.total_seconds() - 1)
    assert first.try_acquire()  # renewed
    clock.advance(seconds=LEASE_TTL.total_seconds() - 1)
    assert not second.try_acquire()  # still fresh thanks to the renewal
    clock.advance(seconds=2)
    assert second.try_acquire() and not first.try_acquire()  # first stopped renewing: it lost the lease
    assert lease_state(app.sessions, SCHEDULER_LEASE, clock())["holder"] == "host-b:200"
    second.release()
    assert first.try_acquire()


def test_health_needs_a_fresh_scheduler_lease(app, clock: FakeClock):
    assert health(app)["ok"] is False and health(app)["database"] is True
    Lease(app.sessions, SCHEDULER_LEASE, "host-a:1", clock=clock).try_acquire()
    assert health(app)["ok"] is True
    clock.advance(seconds=LEASE_TTL.total_seconds() + 1)
    assert health(app)["ok"] is False


def test_status_reports_the_outbox_paused_chats_and_recorded_errors(app, clock: FakeClock):
    now = clock().astimezone(dt.timezone.utc).replace(tzinfo=None)
    with app.sessions.begin() as session:
        enqueue(session, [Outgoing(f"k{i}", "console:a", text(f"m{i}")) for i in range(3)], now)
        session.execute(update(OutboxRow).where(OutboxRow.key == "k0").values(status="sent"))
    app.subscriptions.save(app.subscriptions.get_or_default("tg:5"))
    app.subscriptions.pause("tg:5", "Forbidden: bot was blocked by the user")
    recorder = ErrorRecorder(app.sessions)
    logging.getLogger().addHandler(recorder)
    try:
        logging.getLogger("bot.outbox").error("sending outbox row %s failed", 7)
        logging.getLogger("somelib").error("not ours")  # other libraries' errors are not recorded
        recorder.flush()
    finally:
        logging.getLogger().removeHandler(recorder)
    clock.advance(minutes=10)

    report = collect(app)
    assert report["outbox"]["by_status"] == {"pending": 2, "sending": 0, "sent": 1, "dead": 0}
    assert report["outbox"]["oldest_pending"]["key"] == "k1"
    assert report["outbox"]["oldest_pending_age_s"] == 600
    assert report["paused_chats"][0]["chat_id"] == "tg:5"
    assert [e["message"] for e in report["last_errors"]] == ["ERROR: sending outbox row 7 failed"]
    assert report["next_announcement"]["day"] == "2026-06-17"  # Tue 16 Jun 2026 08:00 UTC: Wednesday's is next
    lines = render_text(report)
    assert "Outbox: 2 pending, 0 sending, 1 sent, 0 dead" in lines and "oldest waiting: k1" in lines
