"""A digest laid out as chat messages: a header, cards for the top papers, a paged list for the rest.

Researchers skim 50-300 papers a day. Each chat picks a *style* (`/style`):

- `cards`: the top papers as full cards (title, authors, reason, abstract, buttons), then a
  numbered compact list of the rest;
- `compact`: only the numbered list, one or two lines a paper (number, linked title, first
  authors, reason badge, TL;DR), skimmable in two minutes; a number opens the full card;
- `auto` (the default): compact when a digest has more than `COMPACT_OVER` papers, else cards.

The list pages in place (`pg:<digest>:<page>`) with page numbers (first, nearby, last) besides
Previous/Next, and the header offers the day before (`dg:<YYYY-MM-DD>`). Every match stays reachable.
"""

from __future__ import annotations

import datetime as dt

from digest.cards import ArxivUrls, paper_card, paper_line
from digest.matching import Digest, DigestEntry
from digest.message import Block, Button, Heading, Message, Paragraph, Text

NUMBERS_PER_ROW = 5
STYLES = ("compact", "cards")
COMPACT_OVER = 30  # `auto` chats get the compact style on days with more papers than this


def format_day(day: dt.date) -> str:
    return day.strftime("%a %-d %b %Y")


def uses_compact(style: str, total: int) -> bool:
    """Whether a digest of `total` papers is laid out compact for a chat whose style is `style`."""
    return style == "compact" or (style not in STYLES and total > COMPACT_OVER)


def cards_shown(style: str, total: int, max_cards: int) -> int:
    """How many full cards come before the list: none in compact style."""
    return 0 if uses_compact(style, total) else max_cards


def header_message(digest: Digest, *, following: str = "", note: str | None = None,
                   day_before: dt.date | None = None) -> Message:
    """The digest's first message: which day, how many papers arXiv had, how many are here."""
    c = digest.counts
    blocks: list[Block] = [Heading((Text(f"📬 arXiv digest · {format_day(digest.day)}"),))]
    if len(digest.covers) > 1:
        days = ", ".join(format_day(d) for d in digest.covers[:-1]) + f" and {format_day(digest.covers[-1])}"
        blocks.append(Paragraph((Text(f"Covers the announcements of {days}: days without a delivery roll "
                                      "into the next digest.", italic=True),)))
    if note:
        blocks.append(Paragraph((Text(note, italic=True),)))
    summary = f"{c.new} new and {c.cross} cross-listed papers in your categories"
    if c.replaced:
        summary += f", {c.replaced} updated"
    summary += f" → {c.matched} for you." if c.matched else "."
    blocks.append(Paragraph((Text(summary),)))
    if following:
        blocks.append(Paragraph((Text(following, italic=True),)))
    left_out = []
    if c.seen_before:
        left_out.append(f"{c.seen_before} you already had")
    if c.excluded:
        left_out.append(f"{c.excluded} with excluded words")
    if left_out:
        blocks.append(Paragraph((Text(f"Left out: {', '.join(left_out)}."),)))
    if not c.matched:
        blocks.append(Paragraph((Text("Nothing matched your filters today. /settings shows them."),)))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if day_before is not None:
        buttons = ((Button(f"⏪ The day before ({format_day(day_before)})", action=f"dg:{day_before.isoformat()}"),),)
    return Message(blocks=tuple(blocks), buttons=buttons)


def digest_messages(
    digest: Digest,
    *,
    urls: ArxivUrls,
    digest_id: int,
    max_cards: int,
    page_size: int,
    saved: frozenset[str] = frozenset(),
    following: str = "",
    note: str | None = None,
    tldrs: dict[str, str] | None = None,
    translate: bool = False,
    style: str = "cards",
    day_before: dt.date | None = None,
) -> list[Message]:
    """All messages of a digest, in sending order (`max_cards` is ignored in compact style)."""
    messages = [header_message(digest, following=following, note=note, day_before=day_before)]
    max_cards = cards_shown(style, len(digest.entries), max_cards)
    cards = digest.entries[:max_cards]
    for number, entry in enumerate(cards, start=1):
        messages.append(
            paper_card(entry.paper, urls=urls, reason=entry.reason, saved=entry.paper.id in saved,
                       index=number, kind=entry.kind, tldr=(tldrs or {}).get(entry.paper.id),
                       translate=translate, announced=digest.day if len(digest.covers) <= 1 else None)
        )
    if len(digest.entries) > max_cards:
        messages.append(list_page(digest.entries, urls=urls, digest_id=digest_id, first=max_cards, page=0,
                                  page_size=page_size, tldrs=tldrs))
    return messages


def page_count(total: int, first: int, page_size: int) -> int:
    rest = max(total - first, 0)
    return max((rest + page_size - 1) // page_size, 1)


def list_page(
    entries: tuple[DigestEntry, ...],
    *,
    urls: ArxivUrls,
    digest_id: int,
    first: int,
    page: int,
    page_size: int,
    tldrs: dict[str, str] | None = None,
) -> Message:
    """One page of the compact list of papers after the first `first` (cards).

    Each paper is one line (two with a reason badge or a TL;DR); under the number buttons come the
    page buttons: the first page, the pages next to this one, the last, then Previous/Next.
    """
    pages = page_count(len(entries), first, page_size)
    page = min(max(page, 0), pages - 1)
    start = first + page * page_size
    chunk = entries[start : start + page_size]
    title = "More papers" if first else "Papers"
    blocks: list[Block] = [Heading((Text(f"{title} {start + 1}–{start + len(chunk)} of {len(entries)}"
                            + (f" · page {page + 1}/{pages}" if pages > 1 else "")),))]
    for offset, entry in enumerate(chunk):
        # In the compact list only a notable reason is worth a line; the kind says the rest.
        reason = entry.reason if entry.notable else None
        blocks.append(paper_line(entry.paper, urls=urls, index=start + offset + 1, reason=reason, kind=entry.kind,
                                 tldr=(tldrs or {}).get(entry.paper.id)))
    numbers = [Button(str(start + k + 1), action=f"card:{e.paper.id}") for k, e in enumerate(chunk)]
    rows = [tuple(numbers[i : i + NUMBERS_PER_ROW]) for i in range(0, len(numbers), NUMBERS_PER_ROW)]
    # The page buttons name where the list starts, so a day re-shown in another style pages right.
    rows.extend(page_rows(f"pg:{digest_id}", page, pages, suffix=f":{first}"))
    return Message(blocks=tuple(blocks), buttons=tuple(rows))


def page_numbers(page: int, pages: int) -> list[int]:
    """The pages (0-based) worth a button from `page`: the first, its neighbours, the last."""
    return sorted({0, max(page - 1, 0), page, min(page + 1, pages - 1), pages - 1})


def page_rows(prefix: str, page: int, pages: int, suffix: str = "") -> list[tuple[Button, ...]]:
    """Page-number buttons (the current one marked) and Previous/Next; nothing for a single page.

    At most five buttons a row, Discord's limit; `prefix:<page>suffix` is each button's action.
    """
    if pages <= 1:
        return []
    numbers = tuple(
        Button(f"· {p + 1} ·" if p == page else str(p + 1), action=f"{prefix}:{p}{suffix}")
        for p in page_numbers(page, pages)
    )
    nav = []
    if page > 0:
        nav.append(Button("◀ Previous", action=f"{prefix}:{page - 1}{suffix}"))
    if page < pages - 1:
        nav.append(Button("Next ▶", action=f"{prefix}:{page + 1}{suffix}"))
    return [numbers, tuple(nav)]
