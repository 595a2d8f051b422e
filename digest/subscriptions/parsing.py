"""Parsing what users type into subscription fields.

"08:30", "Europe/Berlin", "mon-fri", `diffusion "language model"` become values, or `BadInput`
with a message that says what is accepted, so every platform gives the same helpful answer.
"""

from __future__ import annotations

import re
import shlex
import zoneinfo

from digest.clean import collapse_whitespace, echo
from digest.errors import BadInput
from digest.subscriptions.subscription import MAX_PAPERS_LIMIT, WEEKDAYS

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
    example = " For example Europe/Berlin, America/New_York, Asia/Shanghai."
    hint = f" Did you mean {', '.join(close)}?" if close else example
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
