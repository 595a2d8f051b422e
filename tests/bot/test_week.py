"""A simulated week of the daily loop (see tests/fakes/week_sim.py): 50 chats in 6 time zones, an
arXiv holiday, a feed 3 hours late, a 2-hour outage, a restart mid fan-out, chats joining, changing
filters and leaving mid-week. Every promise is checked against an independent oracle."""

from __future__ import annotations

from tests.conftest import SHARED_DATA
from tests.fakes.week_sim import WeekSimulation


async def test_a_simulated_week_delivers_every_matching_paper_once_and_on_time(tmp_path):
    shared = SHARED_DATA if SHARED_DATA.is_dir() else None  # small generated days on a fresh clone
    report = await WeekSimulation(tmp_path, chats=50, shared=shared).run()
    print(report.summary())
    assert report.problems == []
    assert report.delivered == report.expected > 150
    assert report.duplicates == 0
    assert report.papers_delivered == report.papers_expected > 0
    assert report.notes > 0 and report.restarted_rows > 0  # the late feed, the outage and the restart happened
    assert max(report.lateness_s) <= 15 * 60
