"""arXiv's OAI-PMH interface: one `ListRecords` page at a time, in the `arXiv` or `arXivRaw` format.

OAI-PMH (https://www.openarchives.org/OAI/openarchivesprotocol.html) is how arXiv lets others
harvest all of its metadata: `verb=ListRecords&metadataPrefix=arXiv&set=cs&from=2024-01-01` answers
with a page of records and a `resumptionToken`; the next page is asked for with that token alone,
until a page comes back with an empty token. `completeListSize` on the token says how many
records the whole list holds (for a progress bar).

- Sets are arXiv's archives: `cs`, `math`, `stat`, `q-bio`, `econ`, `eess`, `q-fin`, and for the
  physics group `physics:<archive>` (`physics:hep-th`, `physics:cond-mat`, `physics:physics`).
- `from`/`until` select on the record's *datestamp*, the last time arXiv changed its metadata, not on
  the submission date: a 2007 paper revised last week has a datestamp of last week.
- The `arXiv` format gives `created` (the first version's date) and the latest metadata;
  `arXivRaw` lists every version with its date, so it also says which version is the latest.
- Errors come as `<error code="...">` in a 200 answer; `noRecordsMatch` just means an empty list.

Every request goes through `ArxivHttp` (one request every 3 s, 503 + Retry-After honoured).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from digest.arxiv_http import ArxivHttp
from digest.clean import collapse_whitespace
from digest.errors import BadInput, SourceError
from digest.ids import parse_id
from digest.models import Paper
from digest.taxonomy import Taxonomy

__all__ = ["OaiPage", "OaiUnavailable", "fetch_page", "parse_page", "set_of"]

OAI = "{http://www.openarchives.org/OAI/2.0/}"
_FORMATS = {"arXiv": "{http://arxiv.org/OAI/arXiv/}", "arXivRaw": "{http://arxiv.org/OAI/arXivRaw/}"}
_PARENTHESES = re.compile(r"\([^()]*\)")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


class OaiUnavailable(SourceError):
    """arXiv's OAI-PMH interface could not be reached or answered with something unusable."""


class BadResumptionToken(OaiUnavailable):
    """The token expired or was never valid: the list has to be started again."""


@dataclass(frozen=True, slots=True)
class OaiPage:
    """One page: the papers on it, ids of deleted records, and where the list goes on."""

    papers: tuple[Paper, ...]
    deleted: tuple[str, ...]
    token: str | None  # None on the last page
    complete_size: int | None
    cursor: int | None


def set_of(category: str, taxonomy: Taxonomy) -> str:
    """The OAI set holding a category or archive: `cs.CL` -> `cs`, `hep-th` -> `physics:hep-th`."""
    known = taxonomy.get(category)
    archive = known.archive if known else category.split(".")[0]
    group = known.group if known else (taxonomy.archive_map[archive].group if archive in taxonomy.archive_map else "")
    return f"physics:{archive}" if group == "Physics" else archive


async def fetch_page(
    http: ArxivHttp,
    base_url: str,
    *,
    metadata: str = "arXiv",
    oai_set: str | None = None,
    start: dt.date | None = None,
    until: dt.date | None = None,
    token: str | None = None,
) -> OaiPage:
    """One ListRecords page: the first one of a selection, or the one a resumption token names."""
    if metadata not in _FORMATS:
        raise BadInput(f"metadata format must be one of {', '.join(_FORMATS)}, not {metadata!r}")
    params: dict[str, str] = {"verb": "ListRecords"}
    if token:
        params["resumptionToken"] = token
    else:
        params["metadataPrefix"] = metadata
        if oai_set:
            params["set"] = oai_set
        if start:
            params["from"] = start.isoformat()
        if until:
            params["until"] = until.isoformat()
    response = await http.get(base_url, params, error=OaiUnavailable)
    if response.status_code != 200:
        raise OaiUnavailable(f"arXiv's OAI-PMH answered HTTP {response.status_code} for {response.url}")
    return parse_page(response.content, metadata)


def parse_page(body: bytes, metadata: str = "arXiv") -> OaiPage:
    """Papers, deletions and the resumption token of one ListRecords answer."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise OaiUnavailable(f"arXiv's OAI-PMH answer is not XML ({exc})") from None
    if root.tag != f"{OAI}OAI-PMH":
        raise OaiUnavailable(f"not an OAI-PMH answer (root element {root.tag})")
    error = root.find(f"{OAI}error")
    if error is not None:
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return OaiPage((), (), None, 0, 0)
        if code == "badResumptionToken":
            raise BadResumptionToken(f"arXiv no longer knows this resumption token: {error.text or ''}".strip())
        raise OaiUnavailable(f"arXiv's OAI-PMH refused the request: {code} {error.text or ''}".strip())
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise OaiUnavailable("the OAI-PMH answer has neither ListRecords nor an error")
    papers: list[Paper] = []
    deleted: list[str] = []
    for record in listing.findall(f"{OAI}record"):
        header = record.find(f"{OAI}header")
        if header is not None and header.get("status") == "deleted":
            deleted.append(_header_id(header))
            continue
        paper = _paper(record, metadata)
        if paper is not None:
            papers.append(paper)
    token_el = listing.find(f"{OAI}resumptionToken")
    token = (token_el.text or "").strip() if token_el is not None else ""
    return OaiPage(
        papers=tuple(papers),
        deleted=tuple(d for d in deleted if d),
        token=token or None,
        complete_size=_int(token_el.get("completeListSize")) if token_el is not None else None,
        cursor=_int(token_el.get("cursor")) if token_el is not None else None,
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _header_id(header: ET.Element) -> str:
    identifier = (header.findtext(f"{OAI}identifier") or "").strip()
    return identifier.split(":", 2)[-1] if identifier.startswith("oai:") else identifier


def _text(element: ET.Element, ns: str, name: str) -> str | None:
    value = element.findtext(f"{ns}{name}")
    value = collapse_whitespace(value) if value else ""
    return value or None


def _paper(record: ET.Element, metadata: str) -> Paper | None:
    """A Paper from one record's metadata; None for a record without usable metadata."""
    ns = _FORMATS[metadata]
    body = record.find(f"{OAI}metadata/{ns}{metadata}")
    if body is None:
        return None
    try:
        paper_id, version = parse_id(_text(body, ns, "id") or "")
    except (BadInput, ValueError):
        return None
    title = _text(body, ns, "title")
    categories = tuple(dict.fromkeys((_text(body, ns, "categories") or "").split()))
    if not title or not categories:
        return None
    if metadata == "arXiv":
        authors = _structured_authors(body, ns)
        published = _iso_date(_text(body, ns, "created"))
        version = version or 1
    else:
        authors = _split_authors(_text(body, ns, "authors") or "")
        dates = [_rfc_date(v.findtext(f"{ns}date")) for v in body.findall(f"{ns}version")]
        published = min((d for d in dates if d), default=None)
        version = max(version or 1, len(dates))
    return Paper(
        id=paper_id,
        version=version,
        title=title,
        authors=authors,
        abstract=_text(body, ns, "abstract") or "",
        categories=categories,
        primary_category=categories[0],
        comment=_text(body, ns, "comments"),
        doi=_text(body, ns, "doi"),
        journal_ref=_text(body, ns, "journal-ref"),
        license=_text(body, ns, "license"),
        published=published,
    )


def _structured_authors(body: ET.Element, ns: str) -> tuple[str, ...]:
    names = []
    for author in body.findall(f"{ns}authors/{ns}author"):
        parts = [_text(author, ns, "forenames"), _text(author, ns, "keyname"), _text(author, ns, "suffix")]
        name = " ".join(p for p in parts if p)
        if name:
            names.append(name)
    return tuple(names)


def _split_authors(text: str) -> tuple[str, ...]:
    text = _PARENTHESES.sub(" ", text)
    return tuple(n.strip() for n in _AUTHOR_SPLIT.split(text) if n.strip())


def _iso_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _rfc_date(value: str | None) -> dt.date | None:
    try:
        return email.utils.parsedate_to_datetime(value.strip()).date() if value else None
    except (TypeError, ValueError, IndexError):
        return None
