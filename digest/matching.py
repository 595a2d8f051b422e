"""Which of a day's papers a subscription gets, in what order, and why each one is there.

The rules, in the words a user would use:
- Categories choose the pool (Cool Papers' algebra: `cs.AI+cs.LG-cs.CY`, whole archives like `cs`).
  A paper is *new* for a chat when its primary category is followed, a *cross-list* otherwise.
  Cross-lists are in by default, replacements (new versions of older papers) are not.
- Papers by followed authors are always in, from any category that was ingested.
- Keywords put matching papers first; with `keywords_only` they are the only ones shown.
  Excluded words remove a paper, unless it is by a followed author.
- A paper a chat was already shown (any day, any category, any version) never comes again.
- Order: followed authors, then keyword hits, then the rest; within each, the personal score
  (saved papers and 👍/👎) when there is one, then new before cross-list before replacement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from digest.categories import CategoryExpr, parse_expr
from digest.day_index import DayIndex, bits
from digest.models import AnnounceType, Paper
from digest.subscriptions.subscription import Subscription
from digest.taxonomy import load_taxonomy

# chat_id, papers -> {paper_id: (score, reason or None)}; the personal ranker plugs in here.
PersonalScores = Callable[[str, list[Paper]], dict[str, tuple[float, str | None]]]


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One paper in a chat's digest."""

    paper: Paper
    kind: str  # "new" | "cross" | "replace" | "replace-cross" (as this chat sees the paper)
    reason: str
    notable: bool = False  # a followed author, a keyword or the personal ranker put it here


@dataclass(frozen=True, slots=True)
class DigestCounts:
    """The numbers in a digest's header."""

    new: int  # new submissions in the followed categories
    cross: int  # cross-lists into them
    matched: int  # papers in this digest
    replaced: int = 0  # replacements in the followed categories (shown only when enabled)
    seen_before: int = 0  # matches dropped because the chat already had them
    excluded: int = 0  # matches dropped by excluded words


class Digest:
    """Every paper a chat gets for one announcement day, ranked, with the header's counts.

    Building ten thousand digests must take well under the time it takes to send them, so a
    freshly built digest keeps only the order (indices into the day) and makes its entries, with
    their reason strings, the first time someone reads `entries`.
    """

    __slots__ = ("_entries", "_make_entries", "chat_id", "counts", "covers", "day")

    def __init__(
        self,
        chat_id: str,
        day: dt.date,
        counts: DigestCounts,
        entries: tuple[DigestEntry, ...] | None = None,
        make_entries: Callable[[], tuple[DigestEntry, ...]] | None = None,
        covers: tuple[dt.date, ...] = (),
    ) -> None:
        self.chat_id, self.day, self.counts = chat_id, day, counts
        self.covers = covers or (day,)  # every announcement day it holds (skipped days roll in)
        self._entries = entries
        self._make_entries = make_entries

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        if self._entries is None:
            self._entries = self._make_entries() if self._make_entries else ()
            self._make_entries = None
        return self._entries


@lru_cache(maxsize=65_536)
def subscription_expr(text: str) -> CategoryExpr | None:
    """The parsed category expression of a subscription (cached: many chats share one)."""
    return parse_expr(text, load_taxonomy()) if text.strip() else None


def build_digest(
    index: DayIndex,
    sub: Subscription,
    day: dt.date,
    *,
    seen: Iterable[str] = (),
    personal: PersonalScores | None = None,
    covers: tuple[dt.date, ...] = (),
) -> Digest:
    """The digest of `sub` for the day(s) `index` holds; `day` is the newest, `covers` all of them."""
    expr = subscription_expr(sub.categories)
    pool = index.listed_in(expr.include) if expr else 0
    if expr and expr.exclude:
        pool &= ~index.listed_in(expr.exclude)
    primary = index.primary_in(expr.include) if expr else 0
    revisions = index.revisions
    new = pool & primary & ~revisions
    cross = pool & ~primary & ~revisions
    replaced = pool & revisions

    by_author = _any(index.author, sub.authors)
    by_keyword = _any(index.keyword, sub.keywords)
    excluded_words = _any(index.keyword, sub.exclude)

    wanted = new | (cross if sub.include_cross else 0) | (replaced if sub.include_replacements else 0)
    if sub.keywords_only:
        wanted &= by_keyword
    elif not expr:
        wanted = by_keyword  # no categories: keywords choose the pool
    wanted |= by_author
    excluded = wanted & excluded_words & ~by_author
    wanted &= ~excluded

    seen_mask = index.mask_of_ids(seen) & wanted
    wanted &= ~seen_mask

    counts = DigestCounts(
        new=new.bit_count(),
        cross=cross.bit_count(),
        matched=wanted.bit_count(),
        replaced=replaced.bit_count(),
        seen_before=seen_mask.bit_count(),
        excluded=excluded.bit_count(),
    )
    ranking = _Ranking(index, sub, expr, wanted, by_author, by_keyword & ~by_author, new, cross)
    if personal is not None and wanted:
        ranking.personal = personal(sub.chat_id, [index.papers[i] for i in bits(wanted)])
    return Digest(sub.chat_id, day, counts, make_entries=ranking.entries, covers=covers)


def _any(lookup: Callable[[str], int], terms: Iterable[str]) -> int:
    mask = 0
    for term in terms:
        mask |= lookup(term)
    return mask


_GROUP_AUTHOR, _GROUP_KEYWORD, _GROUP_REST = 0, 1, 2


@dataclass
class _Ranking:
    """The order of a digest as bitsets; `entries()` turns it into DigestEntry objects."""

    index: DayIndex
    sub: Subscription
    expr: CategoryExpr | None
    wanted: int
    by_author: int
    by_keyword: int
    new: int
    cross: int
    personal: dict[str, tuple[float, str | None]] | None = None

    def order(self) -> list[tuple[int, str, int]]:
        """(group, kind, paper index) in digest order: authors, keywords, the rest; new, cross, updated."""
        groups = (
            (_GROUP_AUTHOR, self.wanted & self.by_author),
            (_GROUP_KEYWORD, self.wanted & self.by_keyword),
            (_GROUP_REST, self.wanted & ~self.by_author & ~self.by_keyword),
        )
        order: list[tuple[int, str, int]] = []
        for group, mask in groups:
            members = [(group, "new", i) for i in bits(mask & self.new)]
            members += [(group, "cross", i) for i in bits(mask & self.cross)]
            members += [(group, _kind_of(self.index.types[i], self.index.papers[i], self.expr), i)
                        for i in bits(mask & ~self.new & ~self.cross)]
            if self.personal:
                scores = self.personal
                members.sort(key=lambda m: -scores.get(self.index.papers[m[2]].id, (0.0, None))[0])
            order.extend(members)
        return order

    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(self._entry(group, kind, i) for group, kind, i in self.order())

    def _entry(self, group: int, kind: str, i: int) -> DigestEntry:
        paper = self.index.papers[i]
        personal_reason = self.personal.get(paper.id, (0.0, None))[1] if self.personal else None
        notable = group != _GROUP_REST or personal_reason is not None
        if group == _GROUP_AUTHOR:
            reason = f"by {_followed_author(self.index, self.sub.authors, 1 << i)}"
        elif group == _GROUP_KEYWORD:
            reason = f"matches “{_matched_keyword(self.index, self.sub.keywords, 1 << i)}”"
        else:
            reason = personal_reason or _category_reason(paper, kind, self.expr)
            personal_reason = None
        if personal_reason:
            reason = f"{reason}; {personal_reason}"
        return DigestEntry(paper=paper, kind=kind, reason=reason, notable=notable)


def _kind_of(announce: AnnounceType, paper: Paper, expr: CategoryExpr | None) -> str:
    if announce.is_revision:
        return announce.value  # "replace" | "replace-cross"
    if expr and paper.primary in expr.include:
        return "new"
    return "cross" if expr else "new"


def _followed_author(index: DayIndex, authors: Iterable[str], bit: int) -> str:
    return next((a for a in authors if index.author(a) & bit), "a followed author")


def _matched_keyword(index: DayIndex, keywords: Iterable[str], bit: int) -> str:
    return next((k for k in keywords if index.keyword(k) & bit), "your keywords")


def _category_reason(paper: Paper, kind: str, expr: CategoryExpr | None) -> str:
    followed = [c for c in paper.categories if expr and c in expr.include]
    where = followed[0] if followed else (paper.primary or "arXiv")
    if kind == "new":
        return f"new in {where}"
    if kind == "cross":
        return f"cross-listed to {where} from {paper.primary}"
    return f"new version, in {where}"
