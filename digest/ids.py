"""arXiv identifiers: parse what people paste, find ids in free text, build links.

Papers are keyed by their *versionless* id, so every spelling a person may paste has to come
down to one string: `2401.12345`, `arXiv:2401.12345v2`, `https://arxiv.org/pdf/2401.12345v2.pdf`
and `export.arxiv.org/abs/2401.12345` are all the paper `2401.12345`.

Two id schemes exist (https://info.arxiv.org/help/arxiv_identifier.html):

- new style `YYMM.NNNN` (April 2007 to December 2014) and `YYMM.NNNNN` (since January 2015);
- old style `archive/YYMMNNN` (1991 to March 2007), where math and cs papers were often written
  with their subject class, `math.GT/0309136`. arXiv itself knows that paper as `math/0309136`
  (the abs page and the API both say so), so the subject class is dropped from the key.

`parse_id` is strict and explains what is wrong; `find_ids` is lenient about the text around ids but
strict about what counts as one, so that version numbers, dates, DOIs and phone numbers in a chat
message never turn into paper cards.
"""

from __future__ import annotations

import datetime as dt
import re

from digest.clean import collapse_whitespace
from digest.errors import BadArxivId

__all__ = ["abs_url", "find_ids", "html_url", "parse_id", "pdf_url"]

# Archives that issued old-style ids (active and retired). Only these count as `archive/NNNNNNN`,
# so that `and/1234567` in a sentence is never mistaken for a paper.
OLD_STYLE_ARCHIVES = frozenset(
    {
        "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an",
        "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an",
        "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th", "nlin",
        "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph", "q-alg", "q-bio", "quant-ph",
        "solv-int", "supr-con",
    }
)  # fmt: skip

_MAX_INPUT = 1_000  # longer than any arXiv link; keeps hostile input cheap
_EXAMPLES = "2401.12345, arXiv:2401.12345v2, hep-th/9901001 or https://arxiv.org/abs/2401.12345"

# One id with its optional version, as it appears inside any of the accepted spellings.
_NEW = r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})"
_OLD = r"(?P<archive>[A-Za-z]+(?:-[A-Za-z]+)?)(?:\.(?P<subject>[A-Za-z]{2}))?/(?P<onum>\d{7})"
_VERSION = r"(?:[vV](?P<version>\d+))?"
_ID = rf"(?:{_NEW}|{_OLD}){_VERSION}"

# Hosts whose paths name an arXiv paper directly. ar5iv, alphaxiv and Hugging Face paper pages
# are not arxiv.org, but they only ever show arXiv papers, and people paste them just as often.
_URL_PREFIX = (
    r"(?:https?://)?(?:"
    r"(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|ps)"
    r"|ar5iv(?:\.labs\.arxiv)?\.org/(?:abs|html)"
    r"|(?:www\.)?alphaxiv\.org/(?:abs|overview)"
    r"|huggingface\.co/papers"
    r")/"
)
_URL_SUFFIX = r"(?:\.pdf)?/?(?:[?#]\S*)?"

# What chats wrap around a pasted id or link: `<...>` (Discord), brackets, sentence punctuation.
_WRAPPING = re.compile(r"^[\s<(\[]+|[\s>)\].,;:!?]+$")
_FULL_URL = re.compile(rf"{_URL_PREFIX}{_ID}{_URL_SUFFIX}", re.IGNORECASE)
_FULL_PREFIXED = re.compile(rf"(?:arxiv\s*:?\s*)?{_ID}", re.IGNORECASE)
_FULL_DOI = re.compile(
    rf"(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s*)?10\.48550/arxiv\.{_NEW}{_VERSION}", re.IGNORECASE
)

# In free text: an id ends where a word would end, and never continues as `.digit` or `/`
# (so `2401.12345.6` or `2401.12345/x` are not ids).
_END = r"(?![\w/-]|\.\d)"
_URL_END = r"(?![\w-]|\.\d)"  # a link may go on with `/`, `.pdf`, `?query` or `#anchor`
_TEXT_PATTERNS = (
    re.compile(rf"{_URL_PREFIX}{_ID}{_URL_END}", re.IGNORECASE),
    re.compile(rf"(?<![\w.])arxiv:\s?{_ID}{_END}", re.IGNORECASE),
    # arXiv's own DOIs, 10.48550/arXiv.2401.12345; other DOIs never match (see the look-behind below).
    re.compile(rf"\b10\.48550/arxiv\.{_NEW}{_VERSION}{_END}", re.IGNORECASE),
    # Bare ids: nothing id-like may come just before (`v1.2401.12345`, `10.1234/5678.12345`,
    # `call 555-1203.4567`), hence the look-behind on word characters, `.`, `/` and `-`.
    re.compile(rf"(?<![\w./-]){_NEW}{_VERSION}{_END}"),
    re.compile(rf"(?<![\w./-]){_OLD}{_VERSION}{_END}"),
)


def parse_id(text: str) -> tuple[str, int | None]:
    """The versionless id and the version (None when not given) of one id or arXiv link.

    Raises BadArxivId, saying what is accepted, for anything else.
    """
    if len(text) > _MAX_INPUT:
        raise BadArxivId(f"'{_shorten(text)}' is not an arXiv id or link. Try {_EXAMPLES}.")
    candidate = _WRAPPING.sub("", text)
    match = next(
        (m for pattern in (_FULL_URL, _FULL_PREFIXED, _FULL_DOI) if (m := pattern.fullmatch(candidate))), None
    )
    if match is None:
        raise BadArxivId(f"'{_shorten(text)}' is not an arXiv id or link. Try {_EXAMPLES}.")
    return _key(match), _version(match)


def submitted_month(paper_id: str) -> dt.date | None:
    """The first day of the month a versionless id was assigned in (its first version's month).

    `2606.01234` -> 2026-06-01, `hep-th/9901001` -> 1999-01-01; None when the id says nothing.
    """
    digits = paper_id.rsplit("/", 1)[-1] if "/" in paper_id else paper_id.split(".", 1)[0]
    if len(digits) < 4 or not digits[:4].isdigit():
        return None
    year, month = int(digits[:2]), int(digits[2:4])
    if not 1 <= month <= 12:
        return None
    return dt.date(1900 + year if year >= 91 else 2000 + year, month, 1)


def find_ids(text: str) -> list[str]:
    """Every versionless arXiv id mentioned in free text, once each, in order of appearance."""
    found: list[tuple[int, str]] = []
    for pattern in _TEXT_PATTERNS:
        for match in pattern.finditer(text):
            try:
                found.append((match.start(), _key(match)))
            except BadArxivId:
                continue  # looks like an id, is not one (month 13, unknown archive): not a paper
    seen: dict[str, None] = {}
    for _, paper_id in sorted(found):
        seen.setdefault(paper_id, None)
    return list(seen)


def abs_url(paper_id: str, base: str, *, version: int | None = None) -> str:
    """The abstract page of a paper, under the configured `arxiv.abs_url` base."""
    return _join(base, paper_id, version)


def pdf_url(paper_id: str, base: str, *, version: int | None = None) -> str:
    """The PDF of a paper, under the configured `arxiv.pdf_url` base."""
    return _join(base, paper_id, version)


def html_url(paper_id: str, base: str, *, version: int | None = None) -> str:
    """The LaTeXML HTML of a paper, under the configured `arxiv.html_url` base."""
    return _join(base, paper_id, version)


def _join(base: str, paper_id: str, version: int | None) -> str:
    suffix = f"v{version}" if version is not None else ""
    return f"{base.rstrip('/')}/{paper_id}{suffix}"


def _key(match: re.Match[str]) -> str:
    """The versionless id of a match, after checking it could be a real arXiv id."""
    groups = match.groupdict()
    if groups.get("yymm"):
        return _check_new(groups["yymm"], groups["num"])
    return _check_old(groups["archive"], groups["onum"])


def _version(match: re.Match[str]) -> int | None:
    raw = match.group("version")
    if raw is None:
        return None
    version = int(raw)
    if version < 1:
        raise BadArxivId(f"'v{raw}' is not a version: arXiv versions start at v1.")
    return version


def _check_new(yymm: str, number: str) -> str:
    """`YYMM.NNNN(N)`: a real month, from 0704 on, with 4 digits before 2015 and 5 since."""
    year, month = int(yymm[:2]), int(yymm[2:])
    if not 1 <= month <= 12:
        raise BadArxivId(f"'{yymm}.{number}' is not an arXiv id: {month:02d} is not a month (YYMM).")
    if int(yymm) < 704:
        raise BadArxivId(f"'{yymm}.{number}' is not an arXiv id: new-style ids start in April 2007.")
    digits = 4 if year < 15 else 5
    if len(number) != digits:
        raise BadArxivId(
            f"'{yymm}.{number}' is not an arXiv id: ids from 20{year:02d} have "
            f"{digits} digits after the dot."
        )
    return f"{yymm}.{number}"


def _check_old(archive: str, number: str) -> str:
    """`archive/YYMMNNN`: a known archive and a real month between 1991 and 2007."""
    name = archive.lower()
    if name not in OLD_STYLE_ARCHIVES:
        raise BadArxivId(f"'{archive}/{number}' is not an arXiv id: no archive is called '{archive}'.")
    year, month = int(number[:2]), int(number[2:4])
    if not 1 <= month <= 12:
        raise BadArxivId(f"'{archive}/{number}' is not an arXiv id: {month:02d} is not a month.")
    if not (year >= 91 or year <= 7):
        raise BadArxivId(f"'{archive}/{number}' is not an arXiv id: old-style ids run from 1991 to 2007.")
    return f"{name}/{number}"


def _shorten(text: str, limit: int = 60) -> str:
    text = collapse_whitespace(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
