"""Sections of a paper from its PDF, with the page furniture taken out (pypdfium2).

pypdfium2 (Apache-2.0/BSD; PyMuPDF is AGPL) gives plain text per page. A PDF's text is noisy in
predictable ways, and each way costs the LLM tokens or misleads it:

- running headers and footers (conference name, short title, page numbers) repeat on every page:
  lines that recur at the top or bottom of many pages are dropped, digits folded so "Page 3" and
  "Page 4" count as one line;
- arXiv's side stamp (`arXiv:2401.12345v2 [cs.CL] 3 Jan 2024`) is cut wherever it lands;
- words hyphenated across lines are joined (pdfium marks TeX's soft hyphens with U+FFFE or
  U+00AD, which are dropped; a real hyphen at a line end is kept: "sequence-aligned");
- the reference list is dropped up to the appendices, which are kept.

Headings are recognised by their numbering ("3 Method", "4.2 Results", "A Proofs") and by the
usual unnumbered names ("Abstract", "References"), top-level ones starting a new `Section`.
"""

from __future__ import annotations

import re
from collections import Counter

import pypdfium2 as pdfium

from digest.fulltext import Section

__all__ = ["clean_pages", "page_texts", "parse_pdf"]

_STAMP = re.compile(r"arXiv:\s?\d{4}\.\d{4,5}(?:v\d+)?\s*\[[^\]]{2,20}\]\s*\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}")
_OLD_STAMP = re.compile(r"arXiv:\s?[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?\s*"
                        r"\[[^\]]{2,20}\]\s*\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_NUMBERED = re.compile(r"^(?P<num>(?:\d{1,2}|[A-H])(?:\.\d{1,2})*)\.?\s+(?P<name>[A-Z][^\n]{1,80})$")
_NAMED = re.compile(
    r"^(?:abstract|introduction|related work|background|conclusions?|discussion|acknowledge?ments?|"
    r"references|bibliography|appendix(?:\s+[A-Z])?|appendices|limitations|ethics statement)\s*:?$",
    re.I,
)
_REFERENCES = re.compile(r"^(?:\d{1,2}\.?\s+)?(?:references|bibliography|works cited)$", re.I)
_EDGE_LINES = 3  # lines at the top and bottom of a page that may be furniture
_SOFT_HYPHEN = re.compile(r"[\ufffe\u00ad]\s*\n\s*|[\ufffe\u00ad]")
_HARD_HYPHEN = re.compile(r"(?<=[a-z])-\n(?=[a-z])")


def page_texts(pdf_bytes: bytes) -> list[str]:
    """The raw text of every page; raises ValueError when the bytes are not a readable PDF."""
    try:
        pdf = pdfium.PdfDocument(pdf_bytes)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"not a readable PDF ({exc})") from None
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def clean_pages(pages: list[str]) -> list[list[str]]:
    """Lines of each page without the stamp, page numbers and repeated headers and footers."""
    pages = [_OLD_STAMP.sub(" ", _STAMP.sub(" ", p)) for p in pages]
    split = [[ln.strip() for ln in p.split("\n")] for p in pages]
    split = [[ln for ln in lines if ln] for lines in split]
    repeated = _repeated_edges(split)
    cleaned = []
    for lines in split:
        keep = []
        for i, line in enumerate(lines):
            at_edge = i < _EDGE_LINES or i >= len(lines) - _EDGE_LINES
            if at_edge and (_PAGE_NUMBER.match(line) or _fold(line) in repeated):
                continue
            keep.append(line)
        cleaned.append(keep)
    return cleaned


def _fold(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _repeated_edges(pages: list[list[str]]) -> set[str]:
    """Edge lines that recur on at least 3 pages and a third of them: running heads and feet."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        edges = {_fold(ln) for ln in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]}
        counts.update(edges)
    threshold = max(3, len(pages) // 3)
    return {line for line, n in counts.items() if n >= threshold and len(line) < 120}


def parse_pdf(pdf_bytes: bytes) -> list[Section]:
    """A PDF's text as sections, furniture and references removed; ValueError for unreadable bytes."""
    lines = [ln for page in clean_pages(page_texts(pdf_bytes)) for ln in page]
    return _sections(_join_hyphens(lines))


def _join_hyphens(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    text = _SOFT_HYPHEN.sub("", text)
    text = _HARD_HYPHEN.sub("-", text)  # a real hyphen at a line end: keep it, join the word
    return text.split("\n")


class _Outline:
    """What numbering we have seen, so headings must come in sequence (1, 2, 3 / A, B, C)."""

    def __init__(self) -> None:
        self.number = 0
        self.letter = ""

    def heading(self, line: str) -> tuple[str, bool] | None:
        """(title, is_top_level) when `line` looks like the next section heading."""
        if len(line) > 90:
            return None
        if _NAMED.match(line) or _REFERENCES.match(line):
            return line.rstrip(":"), True
        match = _NUMBERED.match(line)
        if not match or line.endswith((".", ",", ";")) or ". " in match["name"]:
            return None
        num, name = match["num"], match["name"]
        if len(name.split()) > 10 or re.search(r"\d[\d.,%]*\s*$", name):
            return None  # a sentence or a table row ("3 BLEU 27.3"), not a heading
        top, _, rest = num.partition(".")
        title = f"{num} {name}"
        if top.isdigit():
            n = int(top)
            if not rest:
                if self.letter or not self.number < n <= self.number + 2:
                    return None
                self.number = n
                return title, True
            return (title, False) if n == self.number else None
        if self.number == 0:
            return None  # lettered headings only come after numbered sections (appendices)
        if not rest:
            expected = chr(ord(self.letter) + 1) if self.letter else "A"
            if not expected <= top <= chr(ord(expected) + 1):
                return None
            self.letter = top
            return title, True
        return (title, False) if top == self.letter else None


def _sections(lines: list[str]) -> list[Section]:
    """Group lines under top-level headings; the text before the first one becomes "Front matter"."""
    sections: list[tuple[str, list[str]]] = [("Front matter", [])]
    outline = _Outline()
    in_references = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        heading = outline.heading(line)
        if heading is None:
            if not in_references:
                sections[-1][1].append(line)
            continue
        title, top = heading
        if _REFERENCES.match(line):
            in_references = True
            continue
        # an all-capitals heading wrapped onto a second line ("2 CHARACTERIZING EXPOSITORY" / "WRITING")
        if title.isupper() and i < len(lines) and lines[i].isupper() and len(lines[i]) < 60:
            title = f"{title} {lines[i]}"
            i += 1
        if top:
            in_references = False
            sections.append((title, []))
        elif not in_references:
            sections[-1][1].append(f"### {title}")
    out = []
    for title, body in sections:
        text = _paragraphs(body)
        if text:
            out.append(Section(title, text))
    return out


def _paragraphs(lines: list[str]) -> str:
    """Re-flow PDF lines into paragraphs: a line ending a sentence early ends its paragraph."""
    out: list[str] = []
    current: list[str] = []
    width = max((len(ln) for ln in lines), default=0)
    for line in lines:
        if line.startswith("### "):
            if current:
                out.append(" ".join(current))
                current = []
            out.append(line)
            continue
        current.append(line)
        if line.endswith((".", ":", "?", "!")) and len(line) < 0.7 * width:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return "\n".join(out).strip()
