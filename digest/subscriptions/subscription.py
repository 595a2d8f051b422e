"""A chat's subscription as a plain value: what it follows, how it wants its digest, and how much it may hold.

The value is what the matcher, the scheduler and the commands pass around; `SubscriptionStore`
(`digest.subscriptions.store`) reads and writes it, and the parsers (`digest.subscriptions.parsing`)
turn what users type into its fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from digest.clean import echo
from digest.errors import BadInput
from digest.schema import utcnow

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
