"""A week of paperboy on a virtual clock, with the situations users meet; used by a test and a bench.

What runs is the real thing: `bot.scheduler.jobs` (ingest check, delivery sweep, outbox flush) on
their own intervals, the real ingest over HTTP against the fake arXiv, the real digests, the real
outbox with its SQLite rows, and a restart that builds a fresh app on the same database. Only the
clock is virtual, and the fake arXiv reads it to decide which day's feed it serves:

- the real announcement days in `../shared/data/rss/rendered` (the combined cs.AI+cs.CL+cs.CV
  feed), or small generated days with the same calendar when `../shared` is absent;
- Juneteenth (Fri 19 Jun 2026) cancels Monday 22 Jun's mailing: the Friday feed stays up;
- Wed 24 Jun's feed comes 3 hours late; arXiv answers 503 for 2 hours around Tue 23 Jun's feed;
- the process dies in the middle of Thursday's 08:00 Berlin fan-out and is started again.

To keep a week quick, the loop ticks minute by minute while anything is in flight (a missing
feed, a chat waiting for its day, outbox rows) and otherwise jumps to the next moment something
can happen (a chat's delivery time, a feed's publication, a fault, a scripted change); with
nothing in flight, the jobs it skips would have found nothing to do.

The checks (`Report`) come from an independent oracle: it knows each chat's settings over time,
parses the feeds itself and works out, with `zoneinfo` and the calendar, which digest each chat
should get when, and which papers match. It does not call the matcher or the scheduler.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import random
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import DatabaseSettings, Settings
from bot.ports import ChatContext, SentRef
from digest.calendar import RSS_DELAY, feed_time, is_announcement_day, latest_announcement_day
from digest.message import Message
from digest.rss import parse_feed
from digest.schema import DigestRow
from tests.fakes.fake_arxiv import FakeArxiv, Reply, rss_feed, rss_item

UTC = dt.timezone.utc
FEED = "cs.AI+cs.CL+cs.CV"
CATEGORIES = ("cs.AI", "cs.CL", "cs.CV")
START = dt.datetime(2026, 6, 17, 12, 0, tzinfo=UTC)  # Wed noon: chats exist, nothing fetched yet
END = dt.datetime(2026, 6, 26, 3, 59, tzinfo=UTC)  # just before Fri 26 Jun's feed
LATE_DAY, LATE_BY = dt.date(2026, 6, 24), dt.timedelta(hours=3)
OUTAGE = (dt.datetime(2026, 6, 23, 3, 30, tzinfo=UTC), dt.datetime(2026, 6, 23, 5, 30, tzinfo=UTC))
RESTART_AT = dt.datetime(2026, 6, 18, 6, 0, tzinfo=UTC)  # 08:00 in Berlin: a crowded fan-out
KILL_AFTER_SENDS = 25
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "America/Los_Angeles", "Asia/Kolkata")
DAYS = ("daily", "mon-fri", "mon,wed,fri", "tue,thu", "daily", "mon-fri")
KEYWORDS = ("model", "agent", "segmentation", "benchmark", "reasoning")
TICK = dt.timedelta(minutes=1)
ON_TIME = dt.timedelta(minutes=15)


# --- the world: which feed arXiv serves when ------------------------------------------------------


def feed_days(shared: Path | None) -> dict[dt.date, bytes]:
    """Announcement day -> the combined feed's XML: the real rendered days, else small generated ones."""
    if shared is not None:
        files = sorted((shared / "rss" / "rendered").glob(f"rss_{FEED}_2026-06-*.xml"))
        return {dt.date.fromisoformat(f.stem.rsplit("_", 1)[1]): f.read_bytes() for f in files}
    return {day: _generated_day(day) for day in _weekdays(dt.date(2026, 6, 15), dt.date(2026, 6, 26))}


def _weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if is_announcement_day(d)]


def _generated_day(day: dt.date) -> bytes:
    rng = random.Random(day.toordinal())
    pub = day.strftime("%a, %d %b %Y 00:00:00 -0400")
    words = ["model", "agent", "segmentation", "benchmark", "reasoning", "survey", "vision", "speech", "graph"]
    items = []
    for n in range(12):
        primary = rng.choice(CATEGORIES + ("cs.LG",))
        cats = [primary, *rng.sample([c for c in CATEGORIES if c != primary], rng.randint(0, 1))]
        kind = "new" if primary in CATEGORIES else "cross"
        title = f"{rng.choice(words).title()} {rng.choice(words)} study {day:%m%d}-{n}"
        items.append(rss_item(f"2606.{day.day:02d}{n:03d}", title, categories=cats, announce_type=kind,
                              abstract=f"We study {rng.choice(words)} and {rng.choice(words)}.", pub_date=pub))
    return rss_feed(FEED, items, pub_date=pub)


@dataclass
class ArxivWorld:
    """The fake arXiv's behaviour over virtual time."""

    days: dict[dt.date, bytes]
    now: dt.datetime = START

    def published_at(self, day: dt.date) -> dt.datetime:
        return feed_time(day) + (LATE_BY if day == LATE_DAY else dt.timedelta(0))

    def arrival(self, day: dt.date) -> dt.datetime:
        """When the day's feed could first be fetched: published, and arXiv not down."""
        at = self.published_at(day)
        return OUTAGE[1] if OUTAGE[0] <= at < OUTAGE[1] else at

    def serve(self, seen: object) -> Reply | bytes:
        if OUTAGE[0] <= self.now < OUTAGE[1]:
            return Reply(503, b"Service Unavailable")
        out = [d for d in self.days if self.published_at(d) <= self.now]
        return self.days[max(out)] if out else rss_feed(FEED, [])

    def events(self) -> list[dt.datetime]:
        times = [*OUTAGE, RESTART_AT]
        for day in self.days:
            times += [self.published_at(day), feed_time(day) + dt.timedelta(minutes=2)]
        return times


# --- the chats -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a chat follows, as the oracle sees it."""

    categories: frozenset[str]
    cross: bool = True
    keywords_only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class ChatPlan:
    """One chat: where and when it reads, and its settings over the week (None: not following)."""

    chat_id: str
    zone: str
    time: str
    days: str
    timeline: list[tuple[dt.datetime, Filters | None, list[str]]]  # (from, filters, commands sent then)

    def filters_at(self, moment: dt.datetime) -> Filters | None:
        current = None
        for start, filters, _ in self.timeline:
            if start <= moment:
                current = filters
        return current


def plan_chats(n: int, seed: int = 9, minutes: tuple[int, ...] = (0, 15, 30, 45, 7, 33)) -> list[ChatPlan]:
    """`n` chats in 6 zones; some join mid-week, some change their filters, one unsubscribes."""
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        zone = ZONES[i % len(ZONES)]
        time = "08:00" if i % 5 == 0 else f"{rng.randint(0, 23):02d}:{rng.choice(minutes):02d}"
        days = DAYS[(i // len(ZONES)) % len(DAYS)]
        cats = frozenset(rng.sample(CATEGORIES, rng.randint(1, 2)))
        first = Filters(cats, cross=rng.random() > 0.2,
                        keywords_only=(rng.choice(KEYWORDS),) if i % 7 == 3 else (),
                        exclude=("survey",) if i % 9 == 4 else ())
        joined = START if i % 10 != 7 else START + dt.timedelta(days=rng.choice((2, 3, 5)), hours=rng.randint(0, 23))
        setup = [f"/subscribe {' '.join(sorted(cats))}", f"/time {time} {zone}", f"/days {days}"]
        if not first.cross:
            setup.append("/cross off")
        if first.keywords_only:
            setup.append(f"/keywords only {first.keywords_only[0]}")
        if first.exclude:
            setup.append(f"/exclude {first.exclude[0]}")
        timeline: list[tuple[dt.datetime, Filters | None, list[str]]] = [(joined, first, setup)]
        if i % 10 == 5:  # changes its filters mid-week
            when = START + dt.timedelta(days=4, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
            keyword = rng.choice(KEYWORDS)
            timeline.append((when, Filters(cats, cross=False, keywords_only=(keyword,), exclude=first.exclude),
                             ["/cross off", f"/keywords only {keyword}"]))
        if i == 1:  # the one who leaves
            timeline.append((START + dt.timedelta(days=5, hours=12), None, ["/unsubscribe"]))
        plans.append(ChatPlan(f"sim:{i}", zone, time, days, timeline))
    return plans


# --- the oracle -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    chat_id: str
    day: dt.date
    at: dt.datetime  # the chat's delivery moment
    due_by: dt.datetime  # the later of that and the feed's arrival, plus 15 minutes
    papers: frozenset[str]


def _instants(plan: ChatPlan, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The chat's delivery times (its HH:MM on its weekdays) in [start, end)."""
    zone = ZoneInfo(plan.zone)
    hour, minute = (int(x) for x in plan.time.split(":"))
    allowed = _weekday_set(plan.days)
    local = start.astimezone(zone).date() - dt.timedelta(days=1)
    out = []
    while True:
        moment = dt.datetime.combine(local, dt.time(hour, minute), tzinfo=zone)
        if moment >= end:
            return out
        if moment >= start and local.weekday() in allowed:
            out.append(moment.astimezone(UTC))
        local += dt.timedelta(days=1)


def _weekday_set(days: str) -> set[int]:
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    if days == "daily":
        return set(range(7))
    if "-" in days:
        a, b = days.split("-")
        return set(range(names.index(a), names.index(b) + 1))
    return {names.index(d) for d in days.split(",")}


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("-", " ")
    return " ".join(text.split())


def _matches(paper_cats: tuple[str, ...], text: str, filters: Filters) -> bool:
    in_pool = bool(set(paper_cats) & filters.categories)
    new = paper_cats[0] in filters.categories
    if not (new or (in_pool and filters.cross)):
        return False
    has = lambda word: re.search(r"(?<![a-z0-9])" + re.escape(word), text) is not None  # noqa: E731
    if filters.keywords_only and not any(has(w) for w in filters.keywords_only):
        return False
    return not any(has(w) for w in filters.exclude)


def expected_deliveries(plans: list[ChatPlan], world: ArxivWorld) -> list[Expected]:
    papers_of = {day: [(a.paper.id, a.paper.categories, _words(f"{a.paper.title} {a.paper.abstract}"))
                       for a in parse_feed(xml).announcements if not a.announce_type.is_revision]
                 for day, xml in world.days.items()}
    matching: dict[tuple[dt.date, Filters], frozenset[str]] = {}

    def matched(day: dt.date, filters: Filters) -> frozenset[str]:
        if (day, filters) not in matching:  # chats share a few filter combinations: match each once
            matching[(day, filters)] = frozenset(pid for pid, cats, text in papers_of[day] if _matches(cats, text, filters))
        return matching[(day, filters)]

    expected = []
    for plan in plans:
        joined = plan.timeline[0][0]
        last: dt.date | None = None
        had: set[str] = set()
        for at in _instants(plan, joined, END):
            filters = plan.filters_at(at)
            day = latest_announcement_day(at, delay=RSS_DELAY)
            if filters is None or day not in world.days or (last is not None and day <= last):
                continue
            covered = [d for d in world.days if last is not None and last < d <= day] or [day]
            due_by = max(at, world.arrival(day)) + ON_TIME
            if due_by > END:
                break  # the week ends before this one is due (if it comes anyway, it is not checked)
            ids = set().union(*(matched(d, filters) for d in covered)) - had
            had |= ids
            expected.append(Expected(plan.chat_id, day, at, due_by, frozenset(ids)))
            last = day
    return expected


# --- running it ------------------------------------------------------------------------------------


class ProcessKilled(BaseException):
    """The process dies mid-send (a BaseException, so no `except Exception` can absorb it)."""


@dataclass
class SimSender:
    """What reached each chat, and when, across every process of the week."""

    world: ArxivWorld
    sent: list[tuple[str, str | None, Message, dt.datetime]] = field(default_factory=list)


@dataclass
class ProcessSender:
    """One process's `Sender`: records into the shared `SimSender`; can die after some sends."""

    shared: SimSender
    kill_after: int | None = None
    dead: bool = False

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        if self.kill_after is not None and self.kill_after <= 0:
            self.dead = True
        if self.dead:
            raise ProcessKilled()
        if self.kill_after is not None:
            self.kill_after -= 1
        self.shared.sent.append((chat_id, idempotency_key, message, self.shared.world.now))
        return SentRef(chat_id, str(len(self.shared.sent)))

    async def edit(self, ref: SentRef, message: Message) -> None:
        pass

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None):  # type: ignore[no-untyped-def]
        raise NotImplementedError("no streaming in the week simulation")


@dataclass
class Report:
    """The week's figures and every broken promise found."""

    chats: int
    expected: int = 0
    delivered: int = 0
    papers_expected: int = 0
    papers_delivered: int = 0
    duplicates: int = 0
    lateness_s: list[float] = field(default_factory=list)
    notes: int = 0
    restarted_rows: int = 0
    problems: list[str] = field(default_factory=list)
    latest: list[tuple[float, str, dt.date, dt.datetime]] = field(default_factory=list)  # (lateness, chat, day, sent)

    def lateness(self, q: float) -> float:
        if not self.lateness_s:
            return 0.0
        ordered = sorted(self.lateness_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        return (f"{self.chats} chats: digests delivered/expected {self.delivered}/{self.expected}, "
                f"papers {self.papers_delivered}/{self.papers_expected}, duplicates {self.duplicates}, "
                f"lateness p50 {self.lateness(0.5) / 60:.1f} min, p95 {self.lateness(0.95) / 60:.1f} min, "
                f"max {max(self.lateness_s, default=0) / 60:.1f} min; {self.notes} late notes; "
                f"{self.restarted_rows} rows resent after the restart; {len(self.problems)} problems")


class WeekSimulation:
    """Runs the week; `await sim.run()` returns the `Report`."""

    def __init__(self, tmp: Path, *, chats: int = 50, shared: Path | None = None,
                 minutes: tuple[int, ...] = (0, 15, 30, 45, 7, 33)) -> None:
        self.world = ArxivWorld(feed_days(shared))
        self.plans = plan_chats(chats, minutes=minutes)
        self.tmp = tmp
        self.sender = SimSender(self.world)
        self.fake = FakeArxiv()
        self.app = None
        self.timings: dict[str, float] = defaultdict(float)

    def _settings(self) -> Settings:
        return Settings(
            database=DatabaseSettings(url=f"sqlite:///{self.tmp / 'week.sqlite3'}"),
            arxiv=self.fake.settings(retries=1, categories=CATEGORIES),
        )

    def _start_app(self):  # type: ignore[no-untyped-def]
        from bot.cli import build_app
        from digest.arxiv_http import ArxivHttp

        app = build_app(self._settings(), clock=lambda: self.world.now)
        real_http = app.http
        app.http = ArxivHttp.from_settings(app.settings.arxiv, backoff_s=0.0, sleep=_no_sleep)
        asyncio.get_running_loop().create_task(real_http.aclose())
        self.process_sender = ProcessSender(self.sender)
        app.attach_sender("sim", self.process_sender)
        return app

    async def run(self) -> Report:
        from bot.scheduler import jobs

        self.fake.rss[FEED] = self.world.serve
        self.fake.start()
        try:
            self.app = self._start_app()
            scripted = sorted(((start, plan, commands) for plan in self.plans for start, _, commands in plan.timeline),
                              key=lambda x: x[0])
            events = sorted({*self.world.events(), *(s for s, _, _ in scripted),
                             *(t for plan in self.plans for t in _instants(plan, START, END))})
            schedule = {job.id: START + dt.timedelta(seconds=job.first_after_s) for job in jobs(self.app)}
            restarted = False
            while self.world.now < END:
                now = self.world.now
                while scripted and scripted[0][0] <= now:
                    _, plan, commands = scripted.pop(0)
                    for line in commands:
                        await self.app.handle_text(ChatContext(chat_id=plan.chat_id, can_manage=True), line)
                if not restarted and now >= RESTART_AT:
                    restarted = True
                    self.process_sender.kill_after = KILL_AFTER_SENDS
                for job in jobs(self.app):
                    if schedule[job.id] <= now:
                        schedule[job.id] = now + dt.timedelta(seconds=job.every_s)
                        try:
                            await job.run(self.app)
                        except ProcessKilled:
                            await self._die_and_restart()
                            schedule = {j.id: now + dt.timedelta(seconds=j.first_after_s) for j in jobs(self.app)}
                            break
                self.world.now = await self._next_moment(now, events)
            return self._report()
        finally:
            if self.app is not None:
                await self.app.aclose()
            self.fake.stop()

    async def _die_and_restart(self) -> None:
        """The process dies mid fan-out: rows stay claimed; a new process starts on the same database."""
        from bot.schema import OutboxRow

        await asyncio.sleep(0.05)  # the other chats' sends of the dying process fail too
        with self.app.sessions() as session:
            self.restart_claimed = {r.key for r in session.scalars(select(OutboxRow).where(OutboxRow.status == "sending"))}
        self.process_sender.dead = True  # whatever the dead process still had in flight never arrives
        await self.app.aclose()
        self.app = self._start_app()

    async def _next_moment(self, now: dt.datetime, events: list[dt.datetime]) -> dt.datetime:
        """A minute on while anything is in flight, else the next moment something can happen."""
        from bot.delivery import due_subscriptions, ingest_is_due

        app = self.app
        busy = app.outbox.pending_count() or ingest_is_due(app, now) is not None
        if not busy:
            due = due_subscriptions(app, now)
            busy = bool(due.waiting or due.ready)
        if busy:
            return now + TICK
        position = bisect.bisect_right(events, now)
        upcoming = events[position] if position < len(events) else END
        return max(now + TICK, upcoming)

    # --- checking -------------------------------------------------------------------------------

    def _report(self) -> Report:
        report = Report(chats=len(self.plans))
        expected = expected_deliveries(self.plans, self.world)
        report.expected = len(expected)
        keys = Counter(key for _, key, _, _ in self.sender.sent)
        report.duplicates = sum(n - 1 for n in keys.values() if n > 1)
        headers: dict[tuple[str, dt.date], tuple[Message, dt.datetime]] = {}
        notes: list[tuple[str, str, dt.datetime]] = []
        for chat_id, key, message, at in self.sender.sent:
            if key and key.startswith("digest:") and key.endswith(":0"):
                day = dt.date.fromisoformat(key.split(":")[-2])
                headers.setdefault((chat_id, day), (message, at))
            elif key and key.startswith("late:"):
                notes.append((chat_id, message.plain_text(), at))
        entries = self._digest_entries()
        shown: dict[str, Counter] = defaultdict(Counter)
        for (chat_id, day), _ in headers.items():
            shown[chat_id].update(entries.get((chat_id, day), []))
        report.duplicates += sum(n - 1 for c in shown.values() for n in c.values() if n > 1)
        wanted = {(e.chat_id, e.day): e for e in expected}
        for (chat_id, day), (message, at) in headers.items():
            e = wanted.get((chat_id, day))
            got = set(entries.get((chat_id, day), []))
            text = message.plain_text()
            if at < self.world.arrival(day):
                report.problems.append(f"{chat_id} got {day} at {at} before its feed arrived")
            if e is None:
                if at < END - ON_TIME:  # one at the very end may be the next that was not yet due
                    report.problems.append(f"{chat_id} got an unexpected digest for {day} at {at}")
                continue
            report.delivered += 1
            report.papers_expected += len(e.papers)
            report.papers_delivered += len(got & e.papers)
            report.lateness_s.append((at - max(e.at, self.world.arrival(day))).total_seconds())
            report.latest.append((report.lateness_s[-1], chat_id, day, at))
            if at > e.due_by or at < e.at:
                report.problems.append(f"{chat_id} got {day} at {at}, due {e.at}..{e.due_by}")
            if got != e.papers:
                report.problems.append(f"{chat_id} {day}: missing {sorted(e.papers - got)[:5]}, extra {sorted(got - e.papers)[:5]}")
            if ("Nothing matched" in text) != (not e.papers):
                report.problems.append(f"{chat_id} {day}: 'nothing matched' is {'Nothing matched' in text} for {len(e.papers)} papers")
            if f"→ {len(got)} for you" not in text and got:
                report.problems.append(f"{chat_id} {day}: header counts disagree with the {len(got)} papers")
        for e in expected:
            if (e.chat_id, e.day) not in headers:
                report.problems.append(f"{e.chat_id} never got {e.day} (due by {e.due_by})")
        report.notes = len(notes)
        report.problems += self._check_notes(notes, headers)
        report.restarted_rows = len(getattr(self, "restart_claimed", ()))
        if not report.restarted_rows:
            report.problems.append("the restart did not happen in the middle of a fan-out")
        return report

    def _check_notes(self, notes: list[tuple[str, str, dt.datetime]],
                     headers: dict[tuple[str, dt.date], tuple[Message, dt.datetime]]) -> list[str]:
        problems = []
        per_chat_day = Counter()
        for chat_id, text, at in notes:
            day = next((d for d in self.world.days if f"{d:%a} {d.day} {d:%b %Y}" in text), None)
            if day is None:
                problems.append(f"{chat_id}: a note names no day: {text!r}")
                continue
            per_chat_day[(chat_id, day)] += 1
            if "late" in text and at >= self.world.published_at(day):
                problems.append(f"{chat_id}: 'late' note for {day} at {at}, but it was out at {self.world.published_at(day)}")
            if "can't reach" in text and not (OUTAGE[0] <= at <= OUTAGE[1] + dt.timedelta(minutes=6)):
                problems.append(f"{chat_id}: 'can't reach arXiv' note at {at}, outside the outage")
            follow = headers.get((chat_id, day))
            if follow is None or follow[1] < at:
                problems.append(f"{chat_id}: a note for {day} at {at} was not followed by the digest")
        problems += [f"{c}: {n} notes for {d}" for (c, d), n in per_chat_day.items() if n > 1]
        return problems

    def _digest_entries(self) -> dict[tuple[str, dt.date], list[str]]:
        with self.app.sessions() as session:
            return {(row.chat_id, row.day): [e["id"] for e in row.entries] for row in session.scalars(select(DigestRow))}


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


