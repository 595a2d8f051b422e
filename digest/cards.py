"""How a paper looks in a chat: the full card, and the one-line entry of a compact list.

Both are neutral `Message` parts; the title is Unicode (LaTeX converted), the link goes to the abs
page, and every card carries the same buttons: FAQ, Ask, Save, Related, a PDF link, and 👍/👎.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.ids import abs_url, html_url, pdf_url
from digest.latex import to_unicode
from digest.message import Button, Heading, Link, Message, Paragraph, Quote, Span, Text
from digest.models import Paper

MAX_AUTHORS_SHOWN = 4
ABSTRACT_LIMIT = 1500  # characters; the full abstract is one tap away on arXiv


@dataclass(frozen=True, slots=True)
class ArxivUrls:
    """The configured arXiv bases, so every link respects `arxiv.*_url`."""

    abs_base: str = "https://arxiv.org/abs"
    pdf_base: str = "https://arxiv.org/pdf"
    html_base: str = "https://arxiv.org/html"

    def abs(self, paper_id: str) -> str:
        return abs_url(paper_id, self.abs_base)

    def pdf(self, paper_id: str) -> str:
        return pdf_url(paper_id, self.pdf_base)

    def html(self, paper_id: str) -> str:
        return html_url(paper_id, self.html_base)


def short_authors(authors: tuple[str, ...], limit: int = MAX_AUTHORS_SHOWN) -> str:
    """'A, B, C, D +7 more' past `limit` names."""
    names = [to_unicode(a) for a in authors if any(c.isalpha() for c in a)]  # crawls leave ':' and such
    if not names:
        return "Unknown authors"
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} +{len(names) - limit} more"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


KIND_LABELS = {"new": "new", "cross": "cross-list", "replace": "updated", "replace-cross": "updated"}


def paper_buttons(paper_id: str, urls: ArxivUrls, *, saved: bool = False, translate: bool = False) -> tuple[tuple[Button, ...], ...]:
    """The standard buttons under a paper (Translate only for chats that read another language)."""
    return (
        (
            Button("📖 FAQ", action=f"faq:{paper_id}"),
            Button("💬 Ask", action=f"ask:{paper_id}"),
            Button("★ Saved" if saved else "☆ Save", action=f"save:{paper_id}"),
            Button("🔗 Related", action=f"rel:{paper_id}"),
        ),
        (
            Button("📄 PDF", url=urls.pdf(paper_id)),
            *((Button("🌐 Translate", action=f"tr:{paper_id}"),) if translate else ()),
            Button("👍", action=f"up:{paper_id}"),
            Button("👎", action=f"down:{paper_id}"),
        ),
    )


def paper_card(
    paper: Paper,
    *,
    urls: ArxivUrls,
    reason: str | None = None,
    saved: bool = False,
    index: int | None = None,
    kind: str | None = None,
    tldr: str | None = None,
    translate: bool = False,
) -> Message:
    """The full card of a paper: linked title, authors, categories, why it is here, abstract, buttons."""
    number = f"{index}. " if index is not None else ""
    title: tuple[Span, ...] = ((Text(number, bold=True),) if number else ()) + (
        Link(to_unicode(paper.title), urls.abs(paper.id), bold=True),
    )
    meta = [paper.id, " · ".join(paper.categories[:4])]
    if kind and kind in KIND_LABELS and kind != "new":
        meta.append(KIND_LABELS[kind])
    blocks = [
        Heading(title),
        Paragraph((Text(short_authors(paper.authors) + "\n"), Text(" · ".join(m for m in meta if m), italic=True))),
    ]
    if reason:
        blocks.append(Paragraph((Text(f"⭐ {reason}"),)))
    if tldr:
        blocks.append(Paragraph((Text("TL;DR: ", bold=True), Text(tldr))))
    if paper.abstract:
        blocks.append(Quote((Text(_clip(to_unicode(paper.abstract), ABSTRACT_LIMIT)),), expandable=True))
    return Message(blocks=tuple(blocks), buttons=paper_buttons(paper.id, urls, saved=saved, translate=translate))


def paper_line(paper: Paper, *, urls: ArxivUrls, index: int, reason: str | None = None, kind: str | None = None) -> Paragraph:
    """One entry of a compact list: number, linked title, first authors, why."""
    tail = f" — {short_authors(paper.authors, 2)}"
    if kind in ("cross", "replace", "replace-cross"):
        tail += f" ({KIND_LABELS[kind]})"
    spans: list[Span] = [Text(f"{index}. ", bold=True), Link(to_unicode(paper.title), urls.abs(paper.id)), Text(tail)]
    if reason:
        spans.append(Text(f"\n   ⭐ {reason}", italic=True))
    return Paragraph(tuple(spans))
