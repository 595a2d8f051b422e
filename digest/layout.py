"""A digest laid out as chat messages: a header, cards for the top papers, a paged list for the rest.

Researchers skim 50-200 papers a day. Cards (title, authors, reason, abstract, buttons) suit the
few that matter most; a numbered compact list with a button per number suits the long tail, and it
pages in place (`pg:<digest>:<page>`) instead of flooding the chat. Every match stays reachable.
"""

from __future__ import annotations

from digest.cards import ArxivUrls, paper_card, paper_line
from digest.matching import Digest, DigestEntry
from digest.message import Button, Heading, Message, Paragraph, Text

NUMBERS_PER_ROW = 5


def format_day(day) -> str:  # type: ignore[no-untyped-def]
    return day.strftime("%a %-d %b %Y")


def header_message(digest: Digest, *, following: str = "", note: str | None = None) -> Message:
    """The digest's first message: which day, how many papers arXiv had, how many are here."""
    c = digest.counts
    blocks = [Heading((Text(f"📬 arXiv digest · {format_day(digest.day)}"),))]
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
    return Message(blocks=tuple(blocks))


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
) -> list[Message]:
    """All messages of a digest, in sending order."""
    messages = [header_message(digest, following=following, note=note)]
    cards = digest.entries[:max_cards]
    for number, entry in enumerate(cards, start=1):
        messages.append(
            paper_card(entry.paper, urls=urls, reason=entry.reason, saved=entry.paper.id in saved,
                       index=number, kind=entry.kind, tldr=(tldrs or {}).get(entry.paper.id),
                       translate=translate)
        )
    if len(digest.entries) > max_cards:
        messages.append(list_page(digest.entries, urls=urls, digest_id=digest_id, first=max_cards, page=0,
                                  page_size=page_size))
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
) -> Message:
    """One page of the compact list of papers after the first `first` (cards)."""
    pages = page_count(len(entries), first, page_size)
    page = min(max(page, 0), pages - 1)
    start = first + page * page_size
    chunk = entries[start : start + page_size]
    title = "More papers" if first else "Papers"
    blocks = [Heading((Text(f"{title} {start + 1}–{start + len(chunk)} of {len(entries)}"
                            + (f" · page {page + 1}/{pages}" if pages > 1 else "")),))]
    for offset, entry in enumerate(chunk):
        # In the compact list only a notable reason is worth a line; the kind says the rest.
        reason = entry.reason if entry.notable else None
        blocks.append(paper_line(entry.paper, urls=urls, index=start + offset + 1, reason=reason, kind=entry.kind))
    numbers = [Button(str(start + k + 1), action=f"card:{e.paper.id}") for k, e in enumerate(chunk)]
    rows = [tuple(numbers[i : i + NUMBERS_PER_ROW]) for i in range(0, len(numbers), NUMBERS_PER_ROW)]
    nav = []
    if page > 0:
        nav.append(Button("◀ Previous", action=f"pg:{digest_id}:{page - 1}"))
    if page < pages - 1:
        nav.append(Button("Next ▶", action=f"pg:{digest_id}:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    return Message(blocks=tuple(blocks), buttons=tuple(rows))
