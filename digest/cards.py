"""How a paper looks in a chat: the full card, and the one-line entry of a compact list.

Both are neutral `Message` parts; the title is Unicode (LaTeX converted), the link goes to the abs
page, and every card carries the same buttons: FAQ, Ask, Save, Related, a PDF link, and 👍/👎.
A card also carries what researchers scan for: the version, the submission and announcement dates,
and the authors' comment (pages, figures, "accepted at ACL 2026").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from digest.ids import abs_url, html_url, pdf_url, submitted_month
from digest.latex import to_unicode
from digest.message import Button, Heading, Link, Message, Paragraph, Quote, Span, Text
from digest.models import Paper

MAX_AUTHORS_SHOWN = 4
ABSTRACT_LIMIT = 1500  # characters; the full abstract is one tap away on arXiv
COMMENT_LIMIT = 300  # characters; comments are meant to be a line ("12 pages, 4 figures, ACL 2026")


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


def paper_buttons(paper_id: str, urls: ArxivUrls, *, saved: bool = False,
                  translate: bool = False) -> tuple[tuple[Button, ...], ...]:
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
    announced: dt.date | None = None,
) -> Message:
    """The full card of a paper: linked title, authors, id and version, categories, dates, comment,
    why it is here, abstract, buttons."""
    number = f"{index}. " if index is not None else ""
    title: tuple[Span, ...] = ((Text(number, bold=True),) if number else ()) + (
        Link(to_unicode(paper.title), urls.abs(paper.id), bold=True),
    )
    meta = [f"{paper.id}v{paper.version}", " · ".join(paper.categories[:4])]
    if kind and kind in KIND_LABELS and kind != "new":
        meta.append(KIND_LABELS[kind])
    details = [" · ".join(m for m in meta if m)]
    dates = paper_dates(paper, announced)
    if dates:
        details.append(dates)
    if paper.comment and paper.comment.strip():
        details.append("💬 " + _clip(to_unicode(paper.comment), COMMENT_LIMIT))
    blocks = [
        Heading(title),
        Paragraph((Text(short_authors(paper.authors) + "\n"), Text("\n".join(details), italic=True))),
    ]
    if reason:
        blocks.append(Paragraph((Text(f"⭐ {reason}"),)))
    if tldr:
        blocks.append(Paragraph((Text("TL;DR: ", bold=True), Text(tldr))))
    if paper.abstract:
        blocks.append(Quote((Text(_clip(to_unicode(paper.abstract), ABSTRACT_LIMIT)),), expandable=True))
    return Message(blocks=tuple(blocks), buttons=paper_buttons(paper.id, urls, saved=saved, translate=translate))


def format_date(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def paper_dates(paper: Paper, announced: dt.date | None = None) -> str:
    """'Submitted 1 Dec 2026 · announced 3 Dec 2026', with whichever dates are known.

    A feed tells no submission date: its papers are dated by their announcement (then only that is
    shown) or, for a new version, by the month in their id (shown as the month).
    """
    parts = []
    if paper.published is not None and paper.published != announced:
        month_only = paper.published.day == 1 and paper.published == submitted_month(paper.id)
        submitted = f"{paper.published:%b %Y}" if month_only else format_date(paper.published)
        parts.append(f"Submitted {submitted}")
    if announced is not None:
        parts.append(("announced " if parts else "Announced ") + format_date(announced))
    return " · ".join(parts)


def paper_line(paper: Paper, *, urls: ArxivUrls, index: int, reason: str | None = None, kind: str | None = None,
               tldr: str | None = None) -> Paragraph:
    """One entry of a compact list: number, linked title, first authors, a reason badge; the TL;DR below."""
    tail = f" — {short_authors(paper.authors, 2)}"
    if kind in ("cross", "replace", "replace-cross"):
        tail += f" ({KIND_LABELS[kind]})"
    spans: list[Span] = [Text(f"{index}. ", bold=True), Link(to_unicode(paper.title), urls.abs(paper.id)), Text(tail)]
    if reason:
        spans.append(Text(f" · ⭐ {reason}", italic=True))
    if tldr:
        spans.append(Text(f"\n   {tldr}"))
    return Paragraph(tuple(spans))
