"""The paper-side nouns every other module shares: papers and their announcements.

Papers are keyed by their versionless arXiv id (`2401.12345`, `hep-th/9901001`), so one paper
announced in several categories, or again as a new version, is always the same row.
Titles and abstracts are kept raw (LaTeX included); `display_*` helpers live in `digest.latex`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class AnnounceType(str, enum.Enum):
    """How a paper appears in a daily mailing, as arXiv's feed says it."""

    NEW = "new"
    CROSS = "cross"
    REPLACE = "replace"
    REPLACE_CROSS = "replace-cross"

    @property
    def is_revision(self) -> bool:
        return self in (AnnounceType.REPLACE, AnnounceType.REPLACE_CROSS)


# When one paper shows up in several feeds of the same day with different types, the strongest wins.
ANNOUNCE_STRENGTH = {
    AnnounceType.NEW: 3,
    AnnounceType.CROSS: 2,
    AnnounceType.REPLACE: 1,
    AnnounceType.REPLACE_CROSS: 0,
}


@dataclass(frozen=True, slots=True)
class Paper:
    """One arXiv paper's metadata, raw as arXiv gives it."""

    id: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]  # primary first when known
    version: int = 1
    primary_category: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    license: str | None = None
    comment: str | None = None
    published: dt.date | None = None  # date of the first version, when known

    @property
    def primary(self) -> str | None:
        return self.primary_category or (self.categories[0] if self.categories else None)


@dataclass(frozen=True, slots=True)
class Announcement:
    """A paper as listed in one day's mailing."""

    paper: Paper
    day: dt.date
    announce_type: AnnounceType


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What one RSS request returned: the items, and the feed's own publication date."""

    announcements: tuple[Announcement, ...]
    feed_date: dt.date | None  # the channel's pubDate as an ET date, None when missing
    categories: tuple[str, ...] = field(default=())  # the categories this request asked for
    skipped: dict[str, int] = field(default_factory=dict)  # why items were refused -> how many
