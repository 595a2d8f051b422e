"""The arXiv API (export.arxiv.org/api/query): papers by id.

Daily lists come from RSS; the API is for any paper a person names (`/paper 2401.12345`, a link in
a message, an old-style `hep-th/9901001`). Ids go out in `id_list` batches
of at most 100, every request through the shared polite `ArxivHttp`.

The API's quirks, handled here so no caller has to (REFERENCE.md):
- a malformed id makes the whole request an HTTP 400 with an Atom "error" entry: `BadArxivId`;
  ids are checked with `digest.ids.parse_id` first, so this costs no request in practice;
- an unknown id is simply absent from the answer: it is missing from the returned dict;
- an empty page can be a glitch: an empty answer is asked again once before it is believed;
- an answer is trusted only for what was asked: entries for ids nobody asked for are dropped (they
  would overwrite stored papers), and every entry is cleaned, capped and checked against the
  taxonomy like an RSS item (`digest.clean.clean_paper`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax import SAXException

import feedparser

from digest.arxiv_http import ArxivHttp
from digest.clean import clean_paper, collapse_whitespace
from digest.errors import AnswerTooLarge, ApiUnavailable, BadArxivId
from digest.ids import parse_id
from digest.models import Paper

__all__ = ["MAX_IDS_PER_REQUEST", "ApiPage", "fetch_by_ids", "parse_api_feed"]

log = logging.getLogger(__name__)

MAX_IDS_PER_REQUEST = 100
MAX_ANSWER_BYTES = 50_000_000  # 100 entries are well under 1 MB
_ERROR_ID = "/api/errors"
_BAD_ID = re.compile(r"incorrect id format for (.+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ApiPage:
    """One API answer: its papers in order, and how many the query matches in all."""

    papers: tuple[Paper, ...]
    total: int
    start: int = 0


async def fetch_by_ids(http: ArxivHttp, api_url: str, ids: Iterable[str]) -> dict[str, Paper]:
    """The papers arXiv knows among `ids`, keyed by versionless id; unknown ids are left out.

    `ids` may be versioned (`2104.12255v1` asks for that version), old style, or links.
    Raises `BadArxivId` for something that is not an id, `ApiUnavailable` when arXiv fails.
    """
    wanted = _query_ids(ids)
    asked = {parse_id(i)[0] for i in wanted}
    papers: dict[str, Paper] = {}
    for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
        batch = wanted[start : start + MAX_IDS_PER_REQUEST]
        for paper in await _fetch_batch(http, api_url, batch):
            if paper.id in asked:
                papers[paper.id] = paper
            else:
                log.warning("the arXiv API answered with %s, which was not asked for; dropped", paper.id)
    return papers


def parse_api_feed(xml: bytes | str) -> ApiPage:
    """An API Atom answer as papers; error entries become `BadArxivId` or `ApiUnavailable`.

    Entries that cannot become a Paper are skipped with a warning.
    """
    parsed = feedparser.parse(xml, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version", "").startswith("atom"):
        raise ApiUnavailable("the arXiv API sent something that is not an Atom feed")
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), SAXException):
        raise ApiUnavailable(f"the arXiv API answer is malformed or cut short: {parsed.bozo_exception}")
    papers: list[Paper] = []
    for entry in parsed.entries:
        if _ERROR_ID in (entry.get("id") or ""):
            raise _api_error(entry.get("summary") or entry.get("title") or "unknown error")
        try:
            papers.append(_paper(entry))
        except (BadArxivId, ValueError) as exc:
            log.warning("skipping API entry %s: %s", entry.get("id", "without id"), exc)
    return ApiPage(
        papers=tuple(papers),
        total=_int(parsed.feed.get("opensearch_totalresults"), default=len(papers)),
        start=_int(parsed.feed.get("opensearch_startindex"), default=0),
    )


def _query_ids(ids: Iterable[str]) -> list[str]:
    """Each id checked and written as the API wants it (versioned only when asked), once each."""
    seen: dict[str, None] = {}
    for raw in ids:
        paper_id, version = parse_id(raw)
        seen.setdefault(f"{paper_id}v{version}" if version else paper_id, None)
    return list(seen)


async def _fetch_batch(http: ArxivHttp, api_url: str, batch: list[str]) -> tuple[Paper, ...]:
    params: dict[str, str | int] = {"id_list": ",".join(batch), "start": 0, "max_results": len(batch)}
    page = await _query(http, api_url, params)
    if not page.papers:
        log.info("arXiv API found none of %d ids; asking once more before believing it", len(batch))
        page = await _query(http, api_url, params)
    return page.papers


async def _query(http: ArxivHttp, api_url: str, params: Mapping[str, str | int]) -> ApiPage:
    try:
        response = await http.get(api_url, params, error=ApiUnavailable, max_bytes=MAX_ANSWER_BYTES)
    except AnswerTooLarge as exc:
        raise ApiUnavailable(str(exc)) from None
    if response.status_code == 200:
        return parse_api_feed(response.content)
    if response.status_code == 400:
        parse_api_feed(response.content)  # raises the error the feed describes, if it has one
    raise ApiUnavailable(f"the arXiv API answered HTTP {response.status_code}")


def _api_error(message: str) -> Exception:
    """The API's error entry as our exception: a bad id is the user's, anything else is arXiv's."""
    message = collapse_whitespace(message)
    bad = _BAD_ID.search(message)
    if bad:
        return BadArxivId(f"arXiv says '{bad.group(1)}' is not an arXiv id.")
    return ApiUnavailable(f"the arXiv API refused the query: {message}")


def _paper(entry: Any) -> Paper:
    paper_id, version = parse_id(entry.get("id") or "")
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    paper = clean_paper(Paper(
        id=paper_id,
        title=entry.get("title") or "",
        authors=tuple(name for a in entry.get("authors", []) if (name := _collapse(a.get("name")))),
        abstract=_collapse(entry.get("summary")),
        categories=_categories(primary, entry.get("tags", []) or []),
        version=version or 1,
        primary_category=primary or None,
        doi=_collapse(entry.get("arxiv_doi")) or None,
        journal_ref=_collapse(entry.get("arxiv_journal_ref")) or None,
        comment=_collapse(entry.get("arxiv_comment")) or None,
        published=_date(entry.get("published_parsed")),
    ))
    if not paper.title:
        raise ValueError("no title")
    if not paper.categories:
        raise ValueError("no category arXiv's taxonomy knows")
    return paper


def _categories(primary: str | None, tags: list[Any]) -> tuple[str, ...]:
    """Primary first, then the rest in arXiv's order, once each."""
    seen: dict[str, None] = {primary: None} if primary else {}
    for tag in tags:
        term = (tag.get("term") or "").strip()
        if term:
            seen.setdefault(term, None)
    return tuple(seen)


def _date(parsed: Any) -> dt.date | None:
    return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday) if parsed else None


def _collapse(text: str | None) -> str:
    return collapse_whitespace(text or "")


def _int(value: Any, *, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
