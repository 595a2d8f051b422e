"""A clock tests can set and move, passed to the app as `clock=`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, text: str, zone: str = "UTC") -> None:
        """Set the time from 'YYYY-MM-DD HH:MM' in `zone`."""
        self.now = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
