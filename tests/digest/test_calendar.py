"""Tests for digest.calendar: announcement days, holidays, and what is due at a given moment."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from digest.calendar import (
    ARXIV_HOLIDAYS,
    NEW_YORK,
    RSS_DELAY,
    announcement_time,
    deadline_day,
    feed_time,
    holiday_for,
    is_announcement_day,
    latest_announcement_day,
    next_announcement_day,
    parse_rfc822,
    previous_announcement_day,
)

D = dt.date
UTC = dt.timezone.utc


def et(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 6, 15), True),  # Monday
        (D(2026, 6, 16), True),
        (D(2026, 6, 18), True),
        (D(2026, 6, 20), False),  # Saturday
        (D(2026, 6, 21), False),  # Sunday
        (D(2026, 6, 19), True),  # Juneteenth itself still has Thursday evening's mailing
        (D(2026, 6, 22), False),  # ... the Friday holiday cancels Sunday evening's, dated Monday
        (D(2026, 6, 23), True),
        (D(2026, 11, 26), True),  # Thanksgiving Day: Wednesday evening's mailing
        (D(2026, 11, 27), False),  # no Thanksgiving-evening announcement
        (D(2026, 1, 19), True),  # MLK Day: Sunday evening's mailing
        (D(2026, 1, 20), False),
        (D(2026, 9, 8), False),  # Labor Day (Mon 7 Sep) cancels Tuesday's feed
        (D(2026, 7, 6), False),  # Independence Day observed, Fri 3 Jul, cancels Monday's feed
        (D(2026, 12, 28), False),  # Christmas, a Friday
        (D(2026, 12, 30), False),  # Tue 29 Dec
        (D(2026, 12, 31), True),
        (D(2027, 1, 1), False),  # New Year's Eve, Thu 31 Dec
        (D(2026, 1, 1), False),  # New Year's Eve 2025 (Wednesday)
        (D(2026, 1, 2), False),  # New Year's Day 2026 (Thursday)
        (D(2026, 1, 5), True),
    ],
)
def test_is_announcement_day(day, expected):
    assert is_announcement_day(day) is expected


@pytest.mark.parametrize(
    "day",
    # The nine days the real crawls in ../shared/data/daily were announced on.
    [D(2026, 6, d) for d in (15, 16, 17, 18, 19, 23, 24, 25, 26)],
)
def test_the_real_june_2026_crawl_days_are_announcement_days(day):
    assert is_announcement_day(day)


def test_the_real_june_2026_crawls_match_the_calendar(shared_data):
    crawled = {D.fromisoformat(p.stem) for p in (shared_data / "daily").glob("*.jsonl")}
    first, last = min(crawled), max(crawled)
    expected = {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}
    assert crawled == {day for day in expected if is_announcement_day(day)}


@pytest.mark.parametrize("holiday", sorted(ARXIV_HOLIDAYS))
def test_every_listed_holiday_cancels_the_next_weekdays_mailing(holiday):
    assert holiday.weekday() < 5, "arXiv lists weekday holidays only"
    cancelled = holiday + dt.timedelta(days=3 if holiday.weekday() == 4 else 1)
    assert not is_announcement_day(cancelled)
    assert holiday_for(cancelled) == ARXIV_HOLIDAYS[holiday]


def test_holiday_for_names_the_reason_only_for_cancelled_days():
    assert holiday_for(D(2026, 11, 27)) == "Thanksgiving"
    assert holiday_for(D(2026, 11, 25)) is None
    assert holiday_for(D(2026, 11, 28)) is None  # Saturday: no mailing, but not a holiday's doing


def test_holidays_can_be_overridden():
    extra = {D(2026, 3, 10): "ad hoc outage"}
    assert not is_announcement_day(D(2026, 3, 11), extra)
    assert is_announcement_day(D(2026, 11, 27), {})
    assert next_announcement_day(D(2026, 3, 10), extra) == D(2026, 3, 12)


@pytest.mark.parametrize(
    ("day", "deadline"),
    [(D(2026, 6, 15), D(2026, 6, 12)), (D(2026, 6, 16), D(2026, 6, 15)), (D(2026, 6, 19), D(2026, 6, 18))],
)
def test_deadline_day_is_the_previous_weekday(day, deadline):
    assert deadline_day(day) == deadline


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        (D(2026, 6, 16), dt.datetime(2026, 6, 16, 0, 0, tzinfo=UTC)),  # EDT: 20:00 = 00:00 UTC
        (D(2026, 1, 13), dt.datetime(2026, 1, 13, 1, 0, tzinfo=UTC)),  # EST: 20:00 = 01:00 UTC
        (D(2026, 6, 15), dt.datetime(2026, 6, 15, 0, 0, tzinfo=UTC)),  # Monday: Sunday evening
        (D(2026, 3, 9), dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),  # Sunday 8 Mar: clocks went forward that night
        (D(2026, 11, 2), dt.datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),  # Sunday 1 Nov: clocks went back that night
    ],
)
def test_announcement_time_is_20_et_the_evening_before_across_dst(day, utc):
    moment = announcement_time(day)
    assert moment.tzinfo is not None
    assert moment == utc
    assert moment.astimezone(NEW_YORK).hour == 20


def test_feed_time_is_midnight_et_of_the_day():
    assert feed_time(D(2026, 6, 16)) == et(2026, 6, 16, 0)
    assert feed_time(D(2026, 11, 2)) == et(2026, 11, 2, 0)
    assert feed_time(D(2026, 6, 16)) - announcement_time(D(2026, 6, 16)) == RSS_DELAY


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (et(2026, 6, 16, 19, 59), D(2026, 6, 16)),  # Tuesday before 20:00: Tuesday's feed
        (et(2026, 6, 16, 20, 0), D(2026, 6, 17)),  # at 20:00 Wednesday's mailing is out
        (et(2026, 6, 16, 23, 59), D(2026, 6, 17)),
        (et(2026, 6, 18, 21, 0), D(2026, 6, 19)),  # Thursday night: Friday's
        (et(2026, 6, 26, 21, 0), D(2026, 6, 26)),  # Friday night: nothing new
        (et(2026, 6, 27, 12, 0), D(2026, 6, 26)),  # Saturday
        (et(2026, 6, 28, 19, 59), D(2026, 6, 26)),  # Sunday just before 20:00
        (et(2026, 6, 28, 20, 0), D(2026, 6, 29)),  # Sunday 20:00: Monday's
        (et(2026, 6, 21, 21, 0), D(2026, 6, 19)),  # Sunday after Juneteenth: no Monday mailing
        (et(2026, 6, 22, 20, 1), D(2026, 6, 23)),
        (et(2026, 11, 26, 21, 0), D(2026, 11, 26)),  # Thanksgiving evening: nothing new
        (et(2026, 11, 29, 20, 0), D(2026, 11, 30)),
        (et(2026, 12, 31, 12, 0), D(2026, 12, 31)),
        (et(2027, 1, 3, 20, 30), D(2027, 1, 4)),
        (et(2026, 11, 1, 20, 0), D(2026, 11, 2)),  # DST ended that morning
        (et(2026, 3, 8, 19, 59), D(2026, 3, 6)),  # DST started that morning
    ],
)
def test_latest_announcement_day(now, expected):
    assert latest_announcement_day(now) == expected


def test_latest_announcement_day_accepts_any_timezone():
    assert latest_announcement_day(dt.datetime(2026, 6, 17, 0, 0, tzinfo=UTC)) == D(2026, 6, 17)
    assert latest_announcement_day(dt.datetime(2026, 6, 16, 23, 59, tzinfo=UTC)) == D(2026, 6, 16)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert latest_announcement_day(dt.datetime(2026, 6, 17, 9, 0, tzinfo=tokyo)) == D(2026, 6, 17)


def test_latest_announcement_day_with_rss_delay_waits_for_midnight():
    assert latest_announcement_day(et(2026, 6, 16, 23, 59), delay=RSS_DELAY) == D(2026, 6, 16)
    assert latest_announcement_day(et(2026, 6, 17, 0, 0), delay=RSS_DELAY) == D(2026, 6, 17)
    assert latest_announcement_day(et(2026, 6, 22, 0, 30), delay=RSS_DELAY) == D(2026, 6, 19)


def test_latest_announcement_day_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        latest_announcement_day(dt.datetime(2026, 6, 16, 12, 0))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (D(2026, 6, 15), D(2026, 6, 16)),
        (D(2026, 6, 18), D(2026, 6, 19)),
        (D(2026, 6, 19), D(2026, 6, 23)),  # skips the weekend and the cancelled Monday
        (D(2026, 6, 20), D(2026, 6, 23)),
        (D(2026, 11, 26), D(2026, 11, 30)),
        (D(2026, 12, 24), D(2026, 12, 25)),
        (D(2026, 12, 25), D(2026, 12, 29)),
        (D(2026, 12, 29), D(2026, 12, 31)),
        (D(2026, 12, 31), D(2027, 1, 4)),
    ],
)
def test_next_announcement_day(after, expected):
    assert next_announcement_day(after) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 6, 16), D(2026, 6, 15)),
        (D(2026, 6, 15), D(2026, 6, 12)),
        (D(2026, 6, 23), D(2026, 6, 19)),
        (D(2026, 6, 21), D(2026, 6, 19)),
        (D(2026, 11, 30), D(2026, 11, 26)),
        (D(2027, 1, 4), D(2026, 12, 31)),
    ],
)
def test_previous_announcement_day(day, expected):
    assert previous_announcement_day(day) == expected


def test_next_and_previous_are_inverse_on_announcement_days():
    day = D(2026, 1, 1)
    while day < D(2027, 1, 1):
        if is_announcement_day(day):
            assert previous_announcement_day(next_announcement_day(day)) == day
        day += dt.timedelta(days=1)


def test_a_year_has_about_250_announcement_days():
    days = [D(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    count = sum(is_announcement_day(d) for d in days)
    assert count == 261 - 9  # 261 weekdays in 2026, nine holidays


def test_holiday_list_is_read_only_data():
    with pytest.raises(TypeError):
        ARXIV_HOLIDAYS[D(2026, 3, 3)] = "x"  # type: ignore[index]
    assert all(re.fullmatch(r"[\w .'()-]+", name) for name in ARXIV_HOLIDAYS.values())


@pytest.mark.parametrize(("value", "expected"), [
    ("Tue, 16 Jun 2026 00:00:00 -0400", dt.datetime(2026, 6, 16, 4, 0, tzinfo=dt.timezone.utc)),
    ("Wed, 21 Oct 2015 07:28:00 GMT", dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.timezone.utc)),
    ("Wed, 21 Oct 2015 07:28:00 -0000", dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.timezone.utc)),  # no zone: UTC
    (None, None), ("", None), ("not a date", None),
])
def test_rfc822_dates_are_aware_or_none(value, expected):
    when = parse_rfc822(value)
    assert when == expected
    assert when is None or when.tzinfo is not None
