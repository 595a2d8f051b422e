"""arXiv's daily RSS feeds: fetch one group of categories, turn every item into an Announcement.

The feed (rss.arxiv.org, see REFERENCE.md) is the source of the daily lists: the API lags behind
the announcement. Each `<item>` is one paper in that day's mailing, with its announce type.

Three outcomes must never be confused, because the calendar and the digests depend on them:

- a feed with items: the day's announcements;
- a valid feed without items (weekend, holiday, or not rebuilt yet): an empty `FeedResult`;
- anything that is not a whole RSS document (an HTML error page, a truncated download):
  `FeedUnavailable`, so the caller retries instead of recording an empty day.

Each item is taken or refused on its own: one malformed item, one of an unknown announce type,
or one whose categories are all unknown to arXiv's taxonomy is skipped with a warning and counted
in `FeedResult.skipped` (the ingest summary reports it); it never costs the rest of the feed.
feedparser runs with `sanitize_html=False`: titles and abstracts are LaTeX-bearing plain text,
and its HTML sanitizer would eat `$a<b$`. `digest.paper_cleaning.clean_paper` turns real HTML tags into
text, removes control characters and caps titles and abstracts; renderers escape the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from xml.sax import SAXException

import feedparser

from digest.arxiv_http import ArxivHttp
from digest.calendar import NEW_YORK, parse_rfc822
from digest.clean import collapse_whitespace
from digest.errors import AnswerTooLarge, BadArxivId, FeedUnavailable
from digest.ids import parse_id, submitted_month
from digest.models import Announcement, AnnounceType, FeedResult, Paper
from digest.paper_cleaning import clean_paper

__all__ = ["feed_url", "fetch_feed", "parse_feed", "peek_feed_date", "split_authors"]

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 50_000_000  # the largest daily feed (all of physics) is a few MB

_GUID_PREFIX = re.compile(r"^oai:arxiv\.org:", re.IGNORECASE)
_DESCRIPTION_ID = re.compile(r"^\s*arXiv:(\S+)", re.IGNORECASE)
_DESCRIPTION_TYPE = re.compile(r"Announce Type:\s*([\w-]+)", re.IGNORECASE)
_ABSTRACT = re.compile(r"Abstract:\s*", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# Name parts that follow a comma but belong to the author before it: "John Smith, Jr.".
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d."})


class _BadItem(ValueError):
    """One item cannot become an announcement; the feed goes on without it.

    `reason` is the short label the ingest summary counts items under.
    """

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


def feed_url(rss_url: str, categories: Iterable[str] | str) -> str:
    """`<rss_url>/cat1+cat2`: one request for a whole group of categories."""
    cats = categories if isinstance(categories, str) else "+".join(categories)
    return f"{rss_url.rstrip('/')}/{cats}"


async def fetch_feed(
    http: ArxivHttp,
    rss_url: str,
    categories: list[str] | tuple[str, ...] | str,
    *,
    day: dt.date | None = None,
    skip_day: Callable[[dt.date], Awaitable[bool]] | None = None,
) -> FeedResult:
    """Fetch and parse one feed; `FeedUnavailable` when arXiv could not give a real feed.

    When the feed is dated another day than `day` and `skip_day(that day)` says it is already
    stored, its items are not parsed: the result is empty, with its `feed_date`.
    """
    url = feed_url(rss_url, categories)
    try:
        response = await http.get(url, error=FeedUnavailable, max_bytes=MAX_FEED_BYTES)
    except AnswerTooLarge as exc:
        raise FeedUnavailable(str(exc)) from None
    if response.status_code != 200:
        raise FeedUnavailable(f"arXiv answered HTTP {response.status_code} for {url}")
    dated = peek_feed_date(response.content) if skip_day is not None else None
    if skip_day is not None and dated is not None and dated != day and await skip_day(dated):
        cats = tuple(categories.split("+")) if isinstance(categories, str) else tuple(categories)
        unread = response.content.count(b"<item>") + response.content.count(b"<item ")
        return FeedResult(announcements=(), feed_date=dated, categories=cats,
                          skipped={"earlier day, already stored": unread} if unread else {})
    return parse_feed(response.content, categories, day=day)


_CHANNEL_DATE = re.compile(rb"<pubDate>([^<]{10,60})</pubDate>")


def peek_feed_date(xml: bytes) -> dt.date | None:
    """The channel's date (New York) read from the head of the document, without parsing the items.

    A feed polled while arXiv is late still shows a day already stored; parsing its hundreds of
    items again would only cost time.
    """
    head = xml[: xml.find(b"<item")] if b"<item" in xml else xml[:4096]
    found = _CHANNEL_DATE.search(head)
    return _et_date(found.group(1).decode("utf-8", "replace")) if found else None


def parse_feed(
    xml: bytes | str,
    categories: Iterable[str] | str = (),
    *,
    day: dt.date | None = None,
) -> FeedResult:
    """Every well-formed item of an RSS document as an Announcement.

    The announcement day is the channel's pubDate in New York, else the item's own date, else
    `day`. Raises `FeedUnavailable` for documents that are not a complete RSS feed.
    """
    parsed = feedparser.parse(xml, sanitize_html=False, resolve_relative_uris=False)
    _check_is_whole_feed(parsed)
    feed_date = _et_date(parsed.feed.get("published"))
    announcements: list[Announcement] = []
    skipped: Counter[str] = Counter()
    for index, entry in enumerate(parsed.entries):
        try:
            announcements.append(_announcement(entry, feed_date or _et_date(entry.get("published")) or day))
        except (_BadItem, BadArxivId) as exc:
            skipped[exc.reason if isinstance(exc, _BadItem) else "bad arXiv id"] += 1
            log.warning("skipping RSS item %d (%s): %s", index, str(entry.get("id", "no guid"))[:100], exc)
    if parsed.entries and not announcements:
        # Items that all fail are a broken feed, never an empty day.
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.most_common())
        raise FeedUnavailable(f"none of the feed's {len(parsed.entries)} items could be taken ({reasons})")
    cats = tuple(categories.split("+")) if isinstance(categories, str) else tuple(categories)
    return FeedResult(announcements=tuple(announcements), feed_date=feed_date, categories=cats,
                      skipped=dict(skipped))


def split_authors(creator: str) -> tuple[str, ...]:
    """`dc:creator` ("A, B and C") as names; suffixes like "Jr." stay with their author."""
    names: list[str] = []
    for part in creator.split(","):
        for name in _AND.split(part):
            name = collapse_whitespace(name)
            if not name:
                continue
            if names and name.lower() in _SUFFIXES:
                names[-1] = f"{names[-1]} {name}"
            else:
                names.append(name)
    return tuple(names)


def _check_is_whole_feed(parsed: Any) -> None:
    """Refuse HTML pages, garbage and truncated XML: a retry may fix them, an empty day would not."""
    version = parsed.get("version", "")
    if not version.startswith("rss"):
        title = parsed.get("feed", {}).get("title")
        hint = f" (page title: {title!r})" if title else ""
        raise FeedUnavailable(f"arXiv sent something that is not an RSS feed{hint}")
    error = parsed.get("bozo_exception")
    if parsed.get("bozo") and _is_xml_syntax_error(error):
        raise FeedUnavailable(f"the RSS feed is malformed or cut short: {error}")


def _is_xml_syntax_error(error: object) -> bool:
    # feedparser reports benign oddities (encoding overrides) as bozo too; only broken XML counts.
    return isinstance(error, SAXException)


def _announcement(entry: Any, day: dt.date | None) -> Announcement:
    if day is None:
        raise _BadItem("no announcement date in the channel, the item or the caller", "no date")
    paper_id, version = _item_id(entry)
    description = entry.get("summary", "") or ""
    announce_type = _announce_type(entry, description)
    paper = clean_paper(Paper(
        id=paper_id,
        title=entry.get("title", "") or "",
        authors=split_authors(entry.get("author", "") or ""),
        abstract=_abstract(description),
        categories=_categories(entry),
        version=version or 1,
        doi=_clean(entry.get("arxiv_doi")),
        journal_ref=_clean(entry.get("arxiv_journal_reference")),
        license=_clean(entry.get("rights")),
        published=_first_version_date(paper_id, day, announce_type),
    ))
    if not paper.title:
        raise _BadItem("no title", "no title")
    if not paper.categories:
        raise _BadItem(f"no category arXiv knows among {_categories(entry)!r:.200}", "unknown categories")
    return Announcement(paper=paper, day=day, announce_type=announce_type)


def _first_version_date(paper_id: str, day: dt.date, announce_type: AnnounceType) -> dt.date | None:
    """When the paper first appeared: a new or cross-listed item appears on its announcement day;
    for a replacement only the id tells, to the month (the store never lets it overwrite a known date)."""
    return submitted_month(paper_id) if announce_type.is_revision else day


def _item_id(entry: Any) -> tuple[str, int | None]:
    """The id from the guid (`oai:arXiv.org:IDvN`), else the description, else the link."""
    guid = entry.get("id") or ""
    if _GUID_PREFIX.match(guid):
        return parse_id(_GUID_PREFIX.sub("", guid))
    found = _DESCRIPTION_ID.search(entry.get("summary", "") or "")
    if found:
        return parse_id(found.group(1))
    if entry.get("link"):
        return parse_id(entry["link"])
    raise _BadItem("no arXiv id in guid, description or link", "no arXiv id")


def _announce_type(entry: Any, description: str) -> AnnounceType:
    raw = entry.get("arxiv_announce_type")
    if not raw:
        found = _DESCRIPTION_TYPE.search(description)
        raw = found.group(1) if found else ""
    try:
        return AnnounceType(raw.strip().lower())
    except ValueError:
        raise _BadItem(f"unknown announce type {raw[:40]!r}", "unknown announce type") from None


def _categories(entry: Any) -> tuple[str, ...]:
    """The item's categories in feed order, once each; arXiv lists the primary first in practice."""
    seen: dict[str, None] = {}
    for tag in entry.get("tags", []) or []:
        term = (tag.get("term") or "").strip()
        if term:
            seen.setdefault(term, None)
    if not seen:
        raise _BadItem("no categories", "no categories")
    return tuple(seen)


def _abstract(description: str) -> str:
    """The text after "Abstract:"; the whole description when arXiv left the marker out."""
    parts = _ABSTRACT.split(description, maxsplit=1)
    return collapse_whitespace(parts[1] if len(parts) == 2 else description)


def _et_date(value: str | None) -> dt.date | None:
    """An RFC 822 date as the calendar day in New York, where arXiv's schedule lives."""
    when = parse_rfc822(value)
    return when.astimezone(NEW_YORK).date() if when else None


def _clean(value: str | None) -> str | None:
    """Collapsed text, or None for a missing or blank field."""
    return collapse_whitespace(value or "") or None
