"""Subscriptions: what each chat follows and when it wants its digest, plus parsing what users type.

One row per chat (`digest.schema.SubscriptionRow`). The parsers here turn user text ("08:30",
"Europe/Berlin", "mon-fri", `diffusion "language model"`) into values or raise `BadInput` with a
message that says what is accepted, so every platform gives the same helpful answer.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.clean import collapse_whitespace, echo
from digest.errors import BadInput
from digest.schema import DigestRow, SavedPaperRow, SentPaperRow, SubscriptionRow, as_stored, utcnow


class SubscriptionConflict(Exception):
    """The subscription changed since it was read (another process or task wrote it): read it again and redo."""


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = ",".join(WEEKDAYS)
MAX_PAPERS_LIMIT = 50
# How much one subscription may hold; more is refused with a message that says so.
MAX_CATEGORIES = 200
MAX_KEYWORDS = 100  # each of keywords and excluded words
MAX_AUTHORS = 100
MAX_TERM_CHARS = 100  # one keyword, excluded word or author name


@dataclass(frozen=True)
class Subscription:
    """A chat's subscription, as a plain value the matcher and scheduler work with."""

    chat_id: str
    categories: str = ""
    chat_kind: str = "private"
    include_cross: bool = True
    include_replacements: bool = False
    keywords: tuple[str, ...] = ()
    keywords_only: bool = False
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    delivery_time: str = "08:00"
    timezone: str = "UTC"
    weekdays: str = ALL_DAYS
    max_papers: int = 5
    style: str = "auto"  # auto | compact | cards (digest.layout)
    language: str = "en"
    paused: bool = False
    paused_reason: str | None = None
    last_digest_day: dt.date | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    version: int = 0  # the row version this value was read at (0: no row yet); see SubscriptionStore.save

    @property
    def is_active(self) -> bool:
        """Whether scheduled digests go to this chat: it follows categories and is not paused.

        Keywords and authors refine what the followed categories bring; alone (after /unsubscribe)
        they are kept for later but bring no digest.
        """
        return not self.paused and bool(self.categories)

    @property
    def wants_translation(self) -> bool:
        """Whether paper cards offer a Translate button (the chat reads answers in another language)."""
        return self.language != "en"

    @property
    def weekday_numbers(self) -> frozenset[int]:
        """Allowed weekdays as `date.weekday()` numbers (Monday = 0)."""
        return frozenset(WEEKDAYS.index(d) for d in self.weekdays.split(",") if d in WEEKDAYS)


_FIELDS = [f for f in Subscription.__dataclass_fields__ if f != "chat_id"]
_WRITTEN = [f for f in _FIELDS if f not in ("created_at", "version")]
_TUPLES = {"keywords", "exclude", "authors"}


def _from_row(row: SubscriptionRow) -> Subscription:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in _TUPLES:
        values[name] = tuple(values[name] or ())
    return Subscription(chat_id=row.chat_id, **values)


class SubscriptionStore:
    """Read and write subscriptions; a chat without a row gets the configured defaults."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        defaults: Subscription | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.defaults = defaults or Subscription(chat_id="")
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def _now(self) -> dt.datetime:
        """Naive UTC, as stored."""
        return as_stored(self.clock())

    def get(self, chat_id: str) -> Subscription | None:
        with self.sessions() as session:
            row = session.get(SubscriptionRow, chat_id)
            return _from_row(row) if row else None

    def get_or_default(self, chat_id: str, chat_kind: str = "private") -> Subscription:
        return self.get(chat_id) or replace(self.defaults, chat_id=chat_id, chat_kind=chat_kind, created_at=self._now())

    def save(self, sub: Subscription) -> Subscription:
        """Write the whole subscription, if nobody changed it since `sub` was read; returns it as stored.

        Two processes (or two tasks) changing one chat's subscription each read it, change it and
        write it back; without a check the second write would silently undo the first. So the write
        only happens if the row is still at `sub.version` (or still absent when `sub.version` is 0),
        and bumps the version; otherwise `SubscriptionConflict` is raised and the caller starts over
        from a fresh read (the bot re-runs the command).
        """
        values = {name: (list(getattr(sub, name)) if name in _TUPLES else getattr(sub, name)) for name in _WRITTEN}
        now = self._now()
        try:
            with self.sessions.begin() as session:
                if sub.version == 0:
                    session.add(SubscriptionRow(chat_id=sub.chat_id, created_at=sub.created_at, updated_at=now,
                                                version=1, **values))
                    session.flush()
                else:
                    result = session.execute(
                        update(SubscriptionRow)
                        .where(SubscriptionRow.chat_id == sub.chat_id, SubscriptionRow.version == sub.version)
                        .values(**values, updated_at=now, version=SubscriptionRow.version + 1)
                    )
                    if result.rowcount != 1:
                        raise SubscriptionConflict(sub.chat_id)
        except IntegrityError:  # someone created the row first
            raise SubscriptionConflict(sub.chat_id) from None
        return replace(sub, version=sub.version + 1)

    def all(self, *, active_only: bool = False) -> list[Subscription]:
        with self.sessions() as session:
            subs = [_from_row(row) for row in session.scalars(select(SubscriptionRow))]
        return [s for s in subs if s.is_active] if active_only else subs

    def still_due(self, day: dt.date) -> list[Subscription]:
        """Active subscriptions that have not had the digest of `day` (or a later one) yet.

        The delivery sweep runs every minute; once most chats have the day, this reads few rows.
        """
        query = select(SubscriptionRow).where(
            SubscriptionRow.paused.is_(False), SubscriptionRow.categories != "",
            or_(SubscriptionRow.last_digest_day.is_(None), SubscriptionRow.last_digest_day < day))
        with self.sessions() as session:
            subs = [_from_row(row) for row in session.scalars(query)]
        return [s for s in subs if s.is_active]

    def followed_categories(self) -> list[str]:
        """The distinct category expressions active chats follow (what the ingester must fetch)."""
        query = select(SubscriptionRow.categories).where(
            SubscriptionRow.paused.is_(False), SubscriptionRow.categories != "").distinct()
        with self.sessions() as session:
            return list(session.scalars(query))

    def pause(self, chat_id: str, reason: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(SubscriptionRow, chat_id)
            if row is not None:
                row.paused, row.paused_reason, row.updated_at = True, reason, self._now()
                row.version += 1

    def move(self, old_chat_id: str, new_chat_id: str) -> None:
        """Give a chat's subscription to its new id (a Telegram group became a supergroup)."""
        with self.sessions.begin() as session:
            row = session.get(SubscriptionRow, old_chat_id)
            if row is None or session.get(SubscriptionRow, new_chat_id) is not None:
                return
            values = {c.name: getattr(row, c.name) for c in SubscriptionRow.__table__.columns}
            values["chat_id"] = new_chat_id
            session.delete(row)
            session.flush()
            session.add(SubscriptionRow(**values))
            # The chat's history moves too: what it was shown (no repeats), its digests (their page
            # buttons are already in the chat) and its saved papers.
            for table in (SentPaperRow, DigestRow, SavedPaperRow):
                session.execute(update(table).where(table.chat_id == old_chat_id).values(chat_id=new_chat_id))


def check_limits(sub: Subscription, category_count: int) -> None:
    """`BadInput` naming the limit when a subscription holds more than it may (checked before saving)."""
    if category_count > MAX_CATEGORIES:
        raise BadInput(f"A chat can follow at most {MAX_CATEGORIES} categories; this would make {category_count}. "
                       "Follow a whole archive instead (/subscribe cs), or /unsubscribe some first.")
    for label, terms, limit in (("keywords", sub.keywords, MAX_KEYWORDS), ("excluded words", sub.exclude, MAX_KEYWORDS),
                                ("authors", sub.authors, MAX_AUTHORS)):
        if len(terms) > limit:
            raise BadInput(f"A chat can have at most {limit} {label}; that would make {len(terms)}. "
                           "Keep the ones that matter most.")
        long = next((t for t in terms if len(t) > MAX_TERM_CHARS), None)
        if long is not None:
            raise BadInput(f"'{echo(long, 60)}' is {len(long)} characters long; "
                           f"{label} can be at most {MAX_TERM_CHARS} characters each.")


# --- parsing what users type -------------------------------------------------------------

_TIME = re.compile(r"^(\d{1,2})(?::|h|\.)?(\d{2})?\s*(am|pm)?$", re.IGNORECASE)


def parse_time(text: str) -> str:
    """'8:30', '08:30', '8h30', '7pm' -> 'HH:MM' (24-hour)."""
    match = _TIME.match(text.strip())
    if not match:
        raise BadInput(f"'{echo(text)}' is not a time. Use HH:MM in 24-hour form, e.g. 08:30 or 18:00.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").lower()
    if suffix:
        if not 1 <= hour <= 12:
            raise BadInput(f"'{echo(text)}' is not a time. Use HH:MM in 24-hour form, e.g. 08:30 or 18:00.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        raise BadInput(f"'{echo(text)}' is not a time of day. Hours go 00-23 and minutes 00-59, e.g. 08:30.")
    return f"{hour:02d}:{minute:02d}"


_ZONE_NAMES: dict[str, str] | None = None


def parse_timezone(text: str) -> str:
    """An IANA zone name, case-insensitive ('europe/berlin' -> 'Europe/Berlin'); UTC offsets refused."""
    global _ZONE_NAMES
    if _ZONE_NAMES is None:
        _ZONE_NAMES = {name.lower(): name for name in zoneinfo.available_timezones()}
    name = _ZONE_NAMES.get(text.strip().lower())
    if name:
        return name
    words = text.strip().lower().replace(" ", "_")
    close = sorted(n for low, n in _ZONE_NAMES.items() if words and words in low)[:5]
    hint = f" Did you mean {', '.join(close)}?" if close else " For example Europe/Berlin, America/New_York, Asia/Shanghai."
    raise BadInput(f"'{echo(text)}' is not a time zone I know. Use an IANA name (Area/City).{hint}")


_DAY_ALIASES = {"daily": WEEKDAYS, "everyday": WEEKDAYS, "all": WEEKDAYS, "weekdays": WEEKDAYS[:5],
                "workdays": WEEKDAYS[:5], "weekends": WEEKDAYS[5:], "weekend": WEEKDAYS[5:]}


def parse_weekdays(text: str) -> str:
    """'mon-fri', 'mon,wed,fri', 'daily', 'weekdays' -> 'mon,tue,...' in week order."""
    chosen: set[str] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        if part in _DAY_ALIASES:
            chosen.update(_DAY_ALIASES[part])
            continue
        start, _, end = part.partition("-")
        first, last = _day(start, text), _day(end, text) if end else None
        if last is None:
            chosen.add(first)
            continue
        i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
        span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]
        chosen.update(WEEKDAYS[k] for k in span)
    if not chosen:
        raise BadInput("Say which days, e.g. mon-fri, mon,wed,fri or daily.")
    return ",".join(d for d in WEEKDAYS if d in chosen)


def _day(word: str, text: str) -> str:
    for day in WEEKDAYS:
        if word[:3] == day and len(word) >= 3:
            return day
    raise BadInput(f"'{echo(text)}' is not a list of days. Use e.g. mon-fri, mon,wed,fri or daily.")


def parse_terms(text: str) -> tuple[str, ...]:
    """Words and "quoted phrases", de-duplicated case-insensitively, order kept."""
    try:
        parts = shlex.split(text)
    except ValueError:
        parts = text.replace('"', " ").split()
    seen: dict[str, str] = {}
    for part in parts:
        term = collapse_whitespace(part.replace(",", " ")) if " " in part else part.strip(",;")
        if term and term.lower() not in seen:
            seen[term.lower()] = term
    return tuple(seen.values())


def parse_authors(text: str) -> tuple[str, ...]:
    """Author names separated by commas or semicolons (a name has spaces, so no space splitting)."""
    names = [collapse_whitespace(n) for n in re.split(r"[;,\n]", text)]
    seen: dict[str, str] = {}
    for name in names:
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return tuple(seen.values())


def parse_switch(text: str) -> bool:
    word = text.strip().lower()
    if word in {"on", "yes", "true", "1", "enable"}:
        return True
    if word in {"off", "no", "false", "0", "disable"}:
        return False
    raise BadInput(f"'{echo(text)}' is not on or off.")


def parse_max_papers(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise BadInput(f"'{echo(text)}' is not a number. Use a number from 0 to {MAX_PAPERS_LIMIT}.") from None
    if not 0 <= value <= MAX_PAPERS_LIMIT:
        raise BadInput(f"Use a number from 0 to {MAX_PAPERS_LIMIT} (0 shows only the compact list).")
    return value
