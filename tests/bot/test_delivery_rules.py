"""The delivery rules alone: plain subscriptions and instants in, answers out; no app, no database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.delivery_rules import (
    LATE_NOTE_AFTER,
    MAX_ROLLED_DAYS,
    covered_days,
    delivery_moment,
    first_shown,
    following_line,
    ingest_given_up,
    ingest_wait_over,
    is_due,
    is_late,
    late_note,
    oldest_last_digest,
)
from digest.calendar import feed_time
from digest.subscriptions import Subscription

UTC = dt.UTC
TUE = dt.date(2026, 6, 16)  # its feed is out at midnight New York time: 04:00 UTC
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=UTC)


def sub(**fields) -> Subscription:  # type: ignore[no-untyped-def]
    return Subscription(chat_id="1", **{"categories": "cs.CL", "created_at": LONG_AGO, **fields})


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("zone", "expected"), [
    ("Europe/Berlin", "2026-06-16 06:00"),  # 08:00 in Berlin comes after the feed (06:00 local)
    ("Asia/Tokyo", "2026-06-16 23:00"),  # the feed is out at 13:00 in Tokyo: 08:00 the next morning
    ("America/Los_Angeles", "2026-06-16 15:00"),
])
def test_the_delivery_moment_is_the_first_local_time_after_the_feed(zone, expected):
    assert delivery_moment(sub(timezone=zone), feed_time(TUE), LONG_AGO) == utc(expected)


def test_subscribing_after_today_s_time_moves_the_moment_to_tomorrow():
    subscribed = utc("2026-06-16 07:00")  # 09:00 in Berlin, after its 08:00
    assert delivery_moment(sub(timezone="Europe/Berlin"), feed_time(TUE), subscribed) == utc("2026-06-17 06:00")


def test_the_moment_waits_for_an_allowed_weekday():
    moment = delivery_moment(sub(weekdays="fri"), feed_time(TUE), LONG_AGO)
    assert moment == utc("2026-06-19 08:00") and moment.weekday() == 4


def test_the_moment_keeps_the_wall_clock_time_across_a_daylight_saving_change():
    new_york = ZoneInfo("America/New_York")
    saturday_after_eight = dt.datetime(2026, 3, 7, 9, 0, tzinfo=new_york)  # clocks go forward on Sunday
    moment = delivery_moment(sub(timezone="America/New_York"), saturday_after_eight, LONG_AGO)
    assert moment.astimezone(new_york).replace(tzinfo=None) == dt.datetime(2026, 3, 8, 8, 0)
    assert moment.astimezone(UTC) == utc("2026-03-08 12:00")  # EDT now: UTC-4, not UTC-5


def test_a_naive_subscription_time_counts_as_utc():
    naive = sub(timezone="Europe/Berlin", created_at=dt.datetime(2026, 6, 16, 7, 0))
    assert not is_due(naive, TUE, utc("2026-06-16 06:30"))  # subscribed at 07:00 UTC: tomorrow
    assert is_due(naive, TUE, utc("2026-06-17 06:00"))


def test_a_chat_is_due_from_its_moment_on_and_not_a_minute_before():
    berlin = sub(timezone="Europe/Berlin")
    assert not is_due(berlin, TUE, utc("2026-06-16 05:59"))
    assert is_due(berlin, TUE, utc("2026-06-16 06:00"))
    assert is_due(berlin, TUE, utc("2026-06-16 18:00"))


@pytest.mark.parametrize("changes", [
    {"paused": True}, {"categories": ""}, {"last_digest_day": TUE}, {"last_digest_day": TUE + dt.timedelta(days=1)},
], ids=["paused", "follows-nothing", "has-the-day", "has-a-later-day"])
def test_a_chat_is_not_due_when_paused_following_nothing_or_already_served(changes):
    assert not is_due(sub(**changes), TUE, utc("2026-06-17 12:00"))


def test_a_chat_that_had_the_day_before_is_due_again():
    assert is_due(sub(last_digest_day=TUE - dt.timedelta(days=1)), TUE, utc("2026-06-16 08:00"))


def test_a_waiting_chat_is_late_after_the_grace_period():
    moment = utc("2026-06-16 08:00")
    assert not is_late(sub(), TUE, moment + LATE_NOTE_AFTER - dt.timedelta(minutes=1))
    assert is_late(sub(), TUE, moment + LATE_NOTE_AFTER)


def test_the_late_note_says_whether_arxiv_is_late_or_unreachable():
    assert "is late" in late_note(TUE, failing=False)
    assert "can't reach arXiv" in late_note(TUE, failing=True)


def test_ingest_waits_its_delay_and_gives_up_after_its_hours():
    out = feed_time(TUE)
    assert not ingest_wait_over(TUE, out + dt.timedelta(minutes=1), delay_min=2)
    assert ingest_wait_over(TUE, out + dt.timedelta(minutes=2), delay_min=2)
    assert not ingest_given_up(TUE, out + dt.timedelta(hours=8), give_up_h=8)
    assert ingest_given_up(TUE, out + dt.timedelta(hours=8, seconds=1), give_up_h=8)


def _days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def test_a_first_digest_covers_one_day():
    assert covered_days(TUE, [sub()], stored=_days(TUE - dt.timedelta(days=5), 6)) == [(TUE,)]


def test_days_a_chat_did_not_get_roll_into_its_next_digest():
    stored = _days(dt.date(2026, 6, 10), 7)  # June 10 .. 16
    skipped = sub(last_digest_day=dt.date(2026, 6, 13))
    assert covered_days(TUE, [skipped], stored) == [(dt.date(2026, 6, 14), dt.date(2026, 6, 15), TUE)]


def test_at_most_a_week_rolls_in():
    stored = _days(dt.date(2026, 6, 1), 16)
    covered = covered_days(TUE, [sub(last_digest_day=dt.date(2026, 5, 31))], stored)[0]
    assert len(covered) == MAX_ROLLED_DAYS and covered[-1] == TUE


def test_a_chat_with_nothing_newer_stored_still_gets_the_day():
    assert covered_days(TUE, [sub(last_digest_day=dt.date(2026, 6, 15))], stored=[]) == [(TUE,)]


def test_stored_days_are_loaded_from_the_oldest_last_digest():
    subs = [sub(), sub(last_digest_day=dt.date(2026, 6, 12)), sub(last_digest_day=dt.date(2026, 6, 9))]
    assert oldest_last_digest(subs) == dt.date(2026, 6, 9)
    assert oldest_last_digest([sub()]) is None


def test_the_first_messages_show_the_cards_or_the_first_page():
    assert first_shown(sub(style="cards", max_papers=3), entries=40, page_size=10) == 3
    assert first_shown(sub(style="compact", max_papers=3), entries=40, page_size=10) == 10


def test_the_following_line_names_categories_keywords_and_authors():
    line = following_line(sub(keywords=("diffusion",), authors=("Hinton",)))
    assert line == "Following cs.CL · keywords: diffusion · authors: Hinton"
    assert following_line(sub(categories="")) == ""
