"""Subscriptions: what each chat follows and when it wants its digest.

- `subscription`: the `Subscription` value and the limits on what one may hold;
- `store`: `SubscriptionStore`, which reads and writes them (one row per chat);
- `parsing`: what users type ("08:30", "Europe/Berlin", "mon-fri") as field values.
"""

from digest.subscriptions.parsing import (
    parse_authors,
    parse_max_papers,
    parse_switch,
    parse_terms,
    parse_time,
    parse_timezone,
    parse_weekdays,
)
from digest.subscriptions.store import SubscriptionConflict, SubscriptionStore
from digest.subscriptions.subscription import (
    ALL_DAYS,
    MAX_AUTHORS,
    MAX_CATEGORIES,
    MAX_KEYWORDS,
    MAX_PAPERS_LIMIT,
    MAX_TERM_CHARS,
    WEEKDAYS,
    Subscription,
    check_limits,
)

__all__ = [
    "ALL_DAYS",
    "MAX_AUTHORS",
    "MAX_CATEGORIES",
    "MAX_KEYWORDS",
    "MAX_PAPERS_LIMIT",
    "MAX_TERM_CHARS",
    "WEEKDAYS",
    "Subscription",
    "SubscriptionConflict",
    "SubscriptionStore",
    "check_limits",
    "parse_authors",
    "parse_max_papers",
    "parse_switch",
    "parse_terms",
    "parse_time",
    "parse_timezone",
    "parse_weekdays",
]
