"""Sections of a paper from arXiv's HTML rendering (LaTeXML), maths kept as TeX.

arXiv's HTML pages (`https://arxiv.org/html/<id>`) are LaTeXML output: an `<article class=
"ltx_document">` with `section.ltx_section` / `section.ltx_appendix` children, `<math alttext=...>`
for every formula, figures as `<figure>` with `<img>` and a `<figcaption>`, and a bibliography in
`section.ltx_bibliography`. We keep what an LLM can use — headings, paragraphs, lists, table cells,
captions, equations as `$TeX$` — and drop page chrome (navigation, header, footer), hidden
elements, images, footnote marks and the reference list, which is long and rarely worth its tokens.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from digest.fulltext_section import Section

__all__ = ["parse_html"]

# Chrome, hidden text and noise; removed before anything is read.
_DROP = ", ".join(
    [
        "script", "style", "noscript", "template", "svg", "img", "picture", "video", "audio", "canvas",
        "nav", "header", "footer", "button", "form", "input",
        "[hidden]", "[aria-hidden=true]", "[style*='display:none']", "[style*='display: none']",
        "[style*='visibility:hidden']", ".ltx_page_navbar", ".ltx_page_header", ".ltx_page_footer",
        ".ltx_page_logo", ".ltx_TOC", ".ltx_role_affiliationtext", ".ltx_authors", ".ltx_dates",
        ".ltx_bibliography", ".ltx_note_mark", ".ltx_tag_note", ".ltx_ERROR", ".ltx_rdf",
        "#header", ".package-alerts", ".ar5iv-footer", ".html-header-nav", ".sr-only", ".ltx_page_logo",
    ]
)
# Elements read as one block of text each (their insides are not walked further).
_LEAF_TAGS = {"p", "figcaption", "li", "dt", "dd", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_TOP_SECTIONS = ("ltx_section", "ltx_appendix", "ltx_chapter", "ltx_part")
_SPACE = re.compile(r"[ \t\u00a0]+")


def parse_html(html: str | bytes) -> tuple[str, list[Section]]:
    """The title and the sections of a LaTeXML page (abstract first); ([] when nothing is readable)."""
    tree = LexborHTMLParser(html if isinstance(html, str) else html.decode("utf-8", "replace"))
    for node in tree.css(_DROP):
        node.decompose()
    _maths_to_tex(tree)
    for note in tree.css(".ltx_note"):  # footnotes: kept, but marked, where their mark was
        text = _clean(note.text(separator=""))
        note.replace_with(f" (footnote: {text})" if text else "")
    root = tree.css_first("article.ltx_document") or tree.css_first("article") or tree.body
    if root is None:
        return "", []
    title_node = root.css_first(".ltx_title_document") or tree.css_first("h1")
    title = _clean(title_node.text(separator=" ")) if title_node else ""
    sections: list[Section] = []
    abstract = root.css_first(".ltx_abstract")
    if abstract is not None:
        for h in abstract.css(".ltx_title_abstract"):
            h.decompose()
        text = "\n".join(_blocks(abstract))
        if text:
            sections.append(Section("Abstract", text))
        abstract.decompose()
    tops = [n for n in root.css("section") if _is_top(n)]
    if not tops:  # a page without LaTeXML sections: one body section
        text = "\n".join(b for b in _blocks(root) if b != title)
        return title, ([*sections, Section("Body", text)] if text else sections)
    for node in tops:
        heading = node.css_first("h1, h2, h3, h4")
        name = _clean(heading.text(separator=" ")) if heading else ""
        if heading is not None:
            heading.decompose()
        text = "\n".join(_blocks(node))
        if text or name:
            sections.append(Section(name or "Section", text))
    return title, sections


def _is_top(node: LexborNode) -> bool:
    """A top-level section: a LaTeXML section/appendix not nested in another one."""
    classes = (node.attributes.get("class") or "").split()
    if not any(c in _TOP_SECTIONS for c in classes):
        return False
    parent = node.parent
    while parent is not None:
        if parent.tag == "section" and any(c in _TOP_SECTIONS for c in (parent.attributes.get("class") or "").split()):
            return False
        parent = parent.parent
    return True


def _maths_to_tex(tree: LexborHTMLParser) -> None:
    """Replace every MathML formula with its TeX source (`alttext`), `$...$` inline, `$$...$$` display."""
    for node in tree.css("math"):
        tex = (node.attributes.get("alttext") or "").strip()
        if not tex:
            annotation = node.css_first("annotation[encoding='application/x-tex']")
            tex = annotation.text().strip() if annotation else _clean(node.text(separator=" "))
        display = node.attributes.get("display") == "block"
        node.replace_with(f" $${tex}$$ " if display else f"${tex}$")


def _blocks(node: LexborNode) -> list[str]:
    """The readable blocks under `node` in document order: headings marked `###`, tables row by row."""
    out: list[str] = []
    for child in _children(node):
        tag = child.tag
        classes = (child.attributes.get("class") or "").split()
        if tag == "table" and ("ltx_equation" in classes or "ltx_equationgroup" in classes):
            text = _clean(child.text(separator=" "))
            if text:
                out.append(text)
        elif tag == "table":
            out.extend(_table_rows(child))
        elif tag in _HEADINGS:
            text = _clean(child.text(separator=" "))
            if text:
                out.append(f"### {text}")
        elif tag in _LEAF_TAGS:
            text = _clean(child.text(separator=""))
            if text:
                out.append(f"- {text}" if tag == "li" else text)
        elif tag == "-text":
            text = _clean(child.text())
            if text:
                out.append(text)
        else:
            out.extend(_blocks(child))
    return out


def _table_rows(table: LexborNode) -> list[str]:
    """A table as `cell | cell` lines, which models read well and cost few tokens."""
    rows = []
    for tr in table.css("tr"):
        cells = [_clean(td.text(separator=" ")) for td in tr.css("td, th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _children(node: LexborNode) -> list[LexborNode]:
    return list(node.iter(include_text=True))


def _clean(text: str) -> str:
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return " ".join(line for line in lines if line)
