"""The search query language: what a person types after /search, parsed into a `SearchQuery`.

The syntax is the one people already know from web search and from arXiv's own listing filters:

    diffusion "video generation" -survey au:hinton au:"yann lecun" cat:cs.CV after:2025-06-01

- plain words must all appear (in the title, the abstract or the authors; stemmed, so
  `models` finds `model`); when no paper has them all, the search engine relaxes to any of them;
- `"quoted phrases"` must appear as written (words in that order);
- `-word` and `-"a phrase"` exclude papers that contain them;
- `au:name` / `au:"first last"` (also `author:`) match an author; several `au:` must all match;
- `cat:cs.CL` keeps papers listed in that category (primary or cross-list); several `cat:` are
  alternatives; `cat:cs` means any cs.* category;
- dates filter on the first-version date: `after:2025-01-01` and `before:2025-06-30` are
  inclusive and take a year, a month or a day (`after:2025-03` = from 1 March, `before:2025-03` =
  up to 31 March); `date:2025-01..2025-03` is the same range in one token and `date:2025-03` one
  month; either side of `..` may be left open;
- a query that is just an arXiv id or link (`2501.01234`, `arXiv:2501.01234v2`,
  `https://arxiv.org/abs/2501.01234`) is not a search: it names the paper directly.

Parsing never touches the database; `digest.search` turns a `SearchQuery` into FTS5 or PostgreSQL
full-text SQL. Mistakes raise `BadQuery` with a message that says what is accepted.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from digest.clean import collapse_whitespace, echo
from digest.errors import BadArxivId, BadInput
from digest.ids import parse_id

__all__ = ["BadQuery", "SearchQuery", "parse_query"]

MAX_QUERY_CHARS = 400  # a chat message can be 4096 characters; nobody searches with a page of text


class BadQuery(BadInput):
    """A search query that cannot be understood; the message names the part that is wrong."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: text to match with BM25, and filters that only keep or drop papers."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # words or phrases (a space inside means a phrase)
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    after: dt.date | None = None  # inclusive
    before: dt.date | None = None  # inclusive
    paper_id: str | None = None  # the query was an arXiv id or link

    @property
    def has_text(self) -> bool:
        """True when there is something for BM25 to score (words, phrases or authors)."""
        return bool(self.words or self.phrases or self.authors)

    @property
    def is_empty(self) -> bool:
        return not (self.has_text or self.exclude or self.categories or self.after or self.before or self.paper_id)

    def canonical(self) -> str:
        """The query written back in the syntax above, normalised (stored for paging, shown in replies)."""
        if self.paper_id:
            return self.paper_id
        parts: list[str] = list(self.words)
        parts += [f'"{p}"' for p in self.phrases]
        parts += [f'-"{e}"' if " " in e else f"-{e}" for e in self.exclude]
        parts += [f'au:"{a}"' if " " in a else f"au:{a}" for a in self.authors]
        parts += [f"cat:{c}" for c in self.categories]
        if self.after:
            parts.append(f"after:{self.after.isoformat()}")
        if self.before:
            parts.append(f"before:{self.before.isoformat()}")
        return " ".join(parts)


# A token: an optional `-`, an optional `field:`, then a "quoted run" or a bare run of non-spaces.
_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]*))')
_FIELDS = {"au": "author", "author": "author", "cat": "category", "category": "category",
           "after": "after", "before": "before", "date": "date"}  # fmt: skip
_CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_WORDISH = re.compile(r"\w", re.UNICODE)

_SYNTAX_HELP = ('Try words, "a phrase", -exclude, au:name, cat:cs.CL, after:2025-01-01, before:2025-06-30 '
                "or date:2025-01..2025-03.")


def parse_query(text: str) -> SearchQuery:
    """Parse what follows /search. Raises BadQuery for an empty query or a bad filter value."""
    text = collapse_whitespace(text)
    if not text:
        raise BadQuery(f"What should I search for? {_SYNTAX_HELP}")
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"That query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}.")
    paper_id = _as_paper_id(text)
    if paper_id:
        return SearchQuery(paper_id=paper_id)

    words: list[str] = []
    phrases: list[str] = []
    exclude: list[str] = []
    authors: list[str] = []
    categories: list[str] = []
    after: dt.date | None = None
    before: dt.date | None = None

    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:  # a lone quote
            pos += 1
            continue
        pos = match.end()
        negated = bool(match.group("neg"))
        field = match.group("field")
        quoted = match.group("quoted")
        value = (quoted if quoted is not None else match.group("bare") or "").strip()
        kind = _FIELDS.get(field.lower()) if field else None
        if field and kind is None:
            # `http://...` or `C:foo`: not a filter, just text
            value = f"{field}:{value}"
        if kind is None:
            _add_text(value, quoted is not None and field is None, negated, words, phrases, exclude)
        elif kind == "author":
            name = collapse_whitespace(value)
            if not _WORDISH.search(name):
                raise BadQuery(f"au: needs a name, e.g. au:hinton or au:\"yann lecun\". {_SYNTAX_HELP}")
            authors.append(name)
        elif kind == "category":
            if not _CATEGORY.match(value):
                raise BadQuery(f"'{echo(value)}' is not a category; write it like cat:cs.CL or cat:cs.")
            categories.append(_normalise_category(value))
        elif kind == "after":
            after = _parse_date(value, "after", end=False)
        elif kind == "before":
            before = _parse_date(value, "before", end=True)
        else:  # date:A..B or date:A
            start, sep, end = value.partition("..")
            if not sep:
                end = start
            if start:
                after = _parse_date(start, "date", end=False)
            if end:
                before = _parse_date(end, "date", end=True)
            if not start and not end:
                raise BadQuery(f"date: needs a range, e.g. date:2025-01..2025-03. {_SYNTAX_HELP}")
    if after and before and after > before:
        raise BadQuery(f"The date range is empty: {after.isoformat()} is after {before.isoformat()}.")
    query = SearchQuery(
        words=tuple(dict.fromkeys(words)),
        phrases=tuple(dict.fromkeys(phrases)),
        exclude=tuple(dict.fromkeys(exclude)),
        authors=tuple(dict.fromkeys(authors)),
        categories=tuple(dict.fromkeys(categories)),
        after=after,
        before=before,
    )
    if query.is_empty:
        raise BadQuery(f"I could not find anything to search for in '{echo(text)}'. {_SYNTAX_HELP}")
    return query


def _as_paper_id(text: str) -> str | None:
    if " " in text:
        return None
    try:
        return parse_id(text)[0]
    except BadArxivId:
        return None


def _add_text(value: str, quoted: bool, negated: bool, words: list[str], phrases: list[str],
              exclude: list[str]) -> None:
    """Sort one piece of free text into words, phrases or exclusions; punctuation alone is dropped."""
    value = collapse_whitespace(value).lower()
    if not _WORDISH.search(value):
        return
    if negated:
        exclude.append(value)
    elif quoted and " " in value:
        phrases.append(value)
    else:
        words.append(value)


def _normalise_category(value: str) -> str:
    """arXiv writes archives in lower case, two-letter subject classes in upper case (cs.CL, q-bio.NC)."""
    archive, _, subject = value.partition(".")
    archive = archive.lower()
    if not subject:
        return archive
    subject = subject.upper() if len(subject) == 2 else subject.lower()  # cs.CL, but cond-mat.mes-hall
    return f"{archive}.{subject}"


def _parse_date(value: str, name: str, *, end: bool) -> dt.date:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a year or month means its first day, or its last when `end`."""
    match = _DATE.match(value)
    if not match:
        raise BadQuery(f"{echo(name + ':' + value)} is not a date; "
                       f"use YYYY, YYYY-MM or YYYY-MM-DD, e.g. {name}:2025-03-01.")
    year = int(match.group(1))
    month = int(match.group(2) or (12 if end else 1))
    try:
        if match.group(3):
            return dt.date(year, month, int(match.group(3)))
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day)
    except (ValueError, calendar.IllegalMonthError):
        raise BadQuery(f"{echo(name + ':' + value)} is not a real date.") from None
