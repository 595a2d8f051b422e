"""The full text of a paper, for the LLM: fetched (HTML first, PDF otherwise) and cut to a budget.

arXiv's HTML rendering keeps the section structure and the maths as TeX, so it is tried first; when
the conversion failed arXiv answers 404 and we read the PDF instead (pypdfium2, never stored:
arXiv asks that PDFs are not kept or served). Both go through the one polite `ArxivHttp`, so the
3-second spacing applies. `fit_to_budget` then keeps the parts that answer the FAQ best
(abstract, introduction, method, experiments, conclusion) when a paper is longer than the model's
context allows. Caching of the extracted text lives in `digest.fulltext_cache`.

Sizes are bounded: a download is streamed and abandoned past `max_bytes` (`fulltext.max_bytes`,
20 MB by default), and at most `MAX_KEPT_CHARS` characters of text are kept and stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx

from digest.errors import AnswerTooLarge, FullTextUnavailable, SourceError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_KEPT_CHARS",
    "FullText",
    "NoFullText",
    "Section",
    "estimate_tokens",
    "fetch_fulltext",
    "fit_to_budget",
    "section_priority",
]

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # a fair average for English prose with some maths; good enough for budgeting
DEFAULT_MAX_BYTES = 20_000_000  # `fulltext.max_bytes`: the largest HTML or PDF download
MAX_KEPT_CHARS = 400_000  # text kept per paper: ten times what a 32k-token context can read


class NoFullText(FullTextUnavailable):
    """arXiv answered, but has no readable full text for this paper (no HTML, no PDF, or a scan).

    Unlike its parent (arXiv unreachable after retries), this will not change by trying again.
    """


class _Http(Protocol):
    async def get(self, url: str, *, error: type[SourceError] = ..., max_bytes: int | None = ...) -> httpx.Response: ...


@dataclass(frozen=True, slots=True)
class Section:
    """One top-level section: its heading ("3 Method", "Abstract") and its text (subsections inline)."""

    title: str
    text: str


@dataclass(frozen=True, slots=True)
class FullText:
    """What we could read of a paper, and from where."""

    source: Literal["html", "pdf"]
    sections: list[Section] = field(default_factory=list)
    title: str = ""

    @property
    def chars(self) -> int:
        return sum(len(s.title) + len(s.text) for s in self.sections)

    def as_text(self) -> str:
        """Every section as `## title` + text, the form the LLM reads."""
        return "\n\n".join(_render(s) for s in self.sections)


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, approximately (chars / 4); providers' tokenizers differ anyway."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


async def fetch_fulltext(http: _Http, paper_id: str, *, html_url: str, pdf_url: str,
                         max_bytes: int = DEFAULT_MAX_BYTES) -> FullText:
    """Read a paper: arXiv HTML (`{html_url}/{id}`) when it exists, else the PDF (`{pdf_url}/{id}`).

    `html_url`/`pdf_url` are the bases from `settings.arxiv`. Raises `FullTextUnavailable` when
    neither can be fetched (after `http`'s retries), `NoFullText` when arXiv has none to read.
    A download over `max_bytes` is stopped (`FullTextUnavailable`); the text kept is capped.
    """
    from digest.fulltext_html import parse_html
    from digest.fulltext_pdf import parse_pdf

    html_response = await _get(http, f"{html_url.rstrip('/')}/{paper_id}", max_bytes)
    if html_response is not None and html_response.status_code == 200 \
            and "html" in html_response.headers.get("content-type", "html"):
        title, sections = await asyncio.to_thread(parse_html, html_response.content)
        if _enough(sections):
            return FullText("html", _capped(sections), title[:1000])
        log.info("arXiv HTML of %s has too little text; trying the PDF", paper_id)
    pdf_response = await _get(http, f"{pdf_url.rstrip('/')}/{paper_id}", max_bytes)
    if pdf_response is None:
        raise NoFullText(f"the full text of {paper_id} is larger than fulltext.max_bytes ({max_bytes:,} bytes)")
    if pdf_response.status_code != 200:
        error = NoFullText if pdf_response.status_code in (404, 410) else FullTextUnavailable
        raise error(f"arXiv has neither HTML nor PDF for {paper_id} (HTTP {pdf_response.status_code})")
    try:
        sections = await asyncio.to_thread(parse_pdf, pdf_response.content)
    except ValueError as exc:
        raise NoFullText(f"the PDF of {paper_id} could not be read: {exc}") from exc
    if not _enough(sections):
        raise NoFullText(f"the PDF of {paper_id} has no extractable text (a scan?)")
    return FullText("pdf", _capped(sections))


async def _get(http: _Http, url: str, max_bytes: int) -> httpx.Response | None:
    """The answer for `url`, or None when it is larger than `max_bytes` (the download is stopped)."""
    try:
        return await http.get(url, error=FullTextUnavailable, max_bytes=max_bytes)
    except AnswerTooLarge as exc:
        log.warning("full text too large: %s", exc)
        return None


def _capped(sections: list[Section], limit: int = MAX_KEPT_CHARS) -> list[Section]:
    """The first sections, cut so that titles and texts hold at most `limit` characters in all."""
    kept: list[Section] = []
    left = limit
    for section in sections:
        if left <= 0:
            break
        title, body = section.title[:left], section.text[: max(0, left - len(section.title))]
        kept.append(Section(title, body))
        left -= len(title) + len(body)
    return kept


def _enough(sections: list[Section]) -> bool:
    return sum(len(s.text) for s in sections) >= 500


# --- fitting a paper into the model's context -------------------------------------------------

# Lower is more useful. The FAQ asks for problem, related work, method, experiments, future work
# and a summary: the abstract, introduction and conclusion answer most of it, then the method and
# the experiments; related work matters for one question only, appendices rarely.
_PRIORITIES: list[tuple[int, re.Pattern[str]]] = [
    (0, re.compile(r"abstract|summary", re.I)),
    (1, re.compile(r"introduction|overview|motivation", re.I)),
    (2, re.compile(r"conclusion|discussion|limitation|future|broader impact", re.I)),
    (3, re.compile(r"method|approach|model|architecture|framework|algorithm|design|formulation|theory|preliminar|"
                   r"background|problem", re.I)),
    (4, re.compile(r"experiment|evaluation|result|benchmark|ablation|analysis|setup|dataset|empirical", re.I)),
    (6, re.compile(r"related work|prior work|literature", re.I)),
    (8, re.compile(r"acknowledg|appendix|supplementa|proof|checklist|ethic|reproducibility|contribution statement|"
                   r"author", re.I)),
]
_APPENDIX_NUMBER = re.compile(r"^(?:appendix\s+)?[A-H](?:\.\d+)*\.?\s", re.I)


def section_priority(title: str) -> int:
    """How much a section is worth keeping (0 = most); unknown body sections rank with the method."""
    if _APPENDIX_NUMBER.match(title.strip()):
        return 8
    for priority, pattern in _PRIORITIES:
        if pattern.search(title):
            return priority
    return 3


def fit_to_budget(fulltext: FullText, max_tokens: int) -> str:
    """The paper as text within about `max_tokens`, keeping the most useful sections whole.

    Sections are taken by priority until the budget is spent; the first that does not fit is cut
    at a paragraph boundary, the rest are named in a closing note so the model knows they exist.
    Kept sections stay in document order.
    """
    budget = max(0, max_tokens) * CHARS_PER_TOKEN
    rendered = [_render(s) for s in fulltext.sections]
    if sum(len(r) + 2 for r in rendered) <= budget:
        return "\n\n".join(rendered)
    order = sorted(range(len(rendered)), key=lambda i: (section_priority(fulltext.sections[i].title), i))
    kept: dict[int, str] = {}
    left = budget - 200  # room for the note about what was left out
    for i in order:
        if left <= 0:
            break
        piece = rendered[i]
        if len(piece) + 2 <= left:
            kept[i] = piece
            left -= len(piece) + 2
        elif left > 400:
            kept[i] = _cut(piece, left - 40) + "\n[… section shortened]"
            left = 0
    omitted = [fulltext.sections[i].title for i in range(len(rendered)) if i not in kept]
    text = "\n\n".join(kept[i] for i in sorted(kept))
    if omitted:
        text += "\n\n[Left out for length: " + "; ".join(omitted)[:180] + "]"
    return text


def _render(section: Section) -> str:
    return f"## {section.title}\n{section.text}".rstrip()


def _cut(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, at a line break when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind("\n")
    if cut < limit // 2:
        cut = head.rfind(" ")
    return head[: cut if cut > 0 else limit].rstrip()
