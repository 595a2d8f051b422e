"""Full text for the LLM: LaTeXML HTML first, PDF otherwise, cleaned, cached, cut to a budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.arxiv_http import ArxivHttp
from digest.db import make_sessionmaker
from digest.fulltext import FullText, NoFullText, Section, estimate_tokens, fetch_fulltext, fit_to_budget
from digest.fulltext_cache import FullTextCache, FullTextRow
from digest.fulltext_html import parse_html
from digest.fulltext_pdf import _join_hyphens, parse_pdf
from tests.fakes.fake_arxiv import FakeArxiv

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "html" / "latexml_small.html"


def minimal_pdf(pages: list[list[str]]) -> bytes:
    """A real PDF, written by hand, with one Helvetica text line per string (top to bottom)."""
    objects: list[bytes] = []
    kids = []
    font_id = 3
    for index, lines in enumerate(pages):
        page_id = 4 + 2 * index
        content_id = page_id + 1
        kids.append(f"{page_id} 0 R")
        ops = ["BT", "/F1 10 Tf", "14 TL", "72 760 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {content_id} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(head + objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    body += f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return body


def synthetic_paper_pdf() -> bytes:
    """Five pages with a running header, page numbers, the arXiv stamp, a hyphenated word and references."""
    header = "Proceedings of the Widget Conference 2026"
    filler = "Widgets are studied here in some detail and with care for the reader."
    pages = [
        ["Sparse Widgets for Tiny Tests", "Abstract", "We make tests faster with sparse widgets.",
         "arXiv:2401.00001v2 [cs.LG] 3 Jan 2024", "1 Introduction", "Testing is slow, so we build wid-", "gets that help.", "1"],
        [header, "2 Method", *[filler] * 5, "2"],
        [header, "3 Experiments", *[filler] * 5, "3"],
        [header, "4 Conclusion", "Widgets work.", "References", "[1] A. Prior. Old widgets. 2020.", "4"],
        [header, "A Proofs", "The proof is left to the reader.", "5"],
    ]
    return minimal_pdf(pages)


# --- HTML -------------------------------------------------------------------------------------


def test_html_keeps_sections_in_order_with_the_abstract_first():
    title, sections = parse_html(FIXTURE.read_bytes())
    assert title == "Sparse Widgets for Tiny Tests"
    assert [s.title for s in sections] == [
        "Abstract", "1 Introduction", "2 Method", "3 Experiments", "4 Related Work", "5 Conclusion", "Appendix A Proofs",
    ]


def test_html_keeps_maths_as_tex():
    _, sections = parse_html(FIXTURE.read_bytes())
    text = "\n".join(s.text for s in sections)
    assert "$k^{2}$" in text
    assert "$$\\mathcal{L}(w)=\\sum_{i}|w_{i}|$$" in text


def test_html_keeps_subsections_lists_captions_and_table_rows():
    _, sections = parse_html(FIXTURE.read_bytes())
    method = next(s for s in sections if s.title == "2 Method").text
    experiments = next(s for s in sections if s.title == "3 Experiments").text
    assert "### 2.1 Training" in method
    assert "- Step one: prune." in method
    assert "Figure 1: Widget pipeline overview." in method
    assert "Widgets | 12" in experiments


@pytest.mark.parametrize(
    "noise",
    ["SCRIPT-NOISE", "STYLE-NOISE", "HEADER-NOISE", "NAV-NOISE", "PACKAGE-NOISE", "AUTHOR-NOISE", "HIDDEN-NOISE",
     "STYLE-HIDDEN-NOISE", "BIBLIOGRAPHY-NOISE", "FOOTER-NOISE", "IMG-ALT-NOISE", "References"],
)
def test_html_drops_page_chrome_hidden_text_and_the_bibliography(noise):
    _, sections = parse_html(FIXTURE.read_bytes())
    assert noise not in FullText("html", sections).as_text()


def test_html_marks_footnotes_instead_of_gluing_them_into_the_sentence():
    _, sections = parse_html(FIXTURE.read_bytes())
    assert "Testing is slow. (footnote: Widgets were first built in 1999.)" in sections[1].text


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_sections_come_from_numbered_headings():
    sections = parse_pdf(synthetic_paper_pdf())
    assert [s.title for s in sections] == [
        "Front matter", "Abstract", "1 Introduction", "2 Method", "3 Experiments", "4 Conclusion", "A Proofs",
    ]


def test_pdf_removes_running_headers_page_numbers_stamp_and_references():
    text = FullText("pdf", parse_pdf(synthetic_paper_pdf())).as_text()
    assert "Widget Conference" not in text
    assert "arXiv:2401.00001" not in text
    assert "Old widgets" not in text
    assert not any(line.strip().isdigit() for line in text.splitlines())


def test_pdf_joins_words_hyphenated_across_lines():
    """TeX's soft hyphen at a line end ("wid-" / "gets") joins into one word."""
    intro = next(s for s in parse_pdf(synthetic_paper_pdf()) if s.title == "1 Introduction")
    assert intro.text == "Testing is slow, so we build widgets that help."


@pytest.mark.parametrize(("lines", "joined"), [
    (["we build wid\ufffe", "gets here"], "we build widgets here"),  # pdfium's soft-hyphen mark
    (["we build wid\u00ad", "gets here"], "we build widgets here"),  # Unicode soft hyphen
    (["a sequence-", "aligned model"], "a sequence-aligned model"),  # a real hyphen stays
])
def test_line_end_hyphens_join_soft_and_keep_real(lines, joined):
    assert "\n".join(_join_hyphens(lines)).replace("\n", " ") == joined


def test_pdf_that_is_not_a_pdf_raises_value_error():
    with pytest.raises(ValueError):
        parse_pdf(b"<html>not a pdf</html>")


def test_real_pdf_is_cleaned_and_sectioned(shared_data):
    sections = parse_pdf((shared_data / "pdfs" / "1706.03762v5.pdf").read_bytes())
    titles = [s.title for s in sections]
    text = FullText("pdf", sections).as_text()
    assert titles[:4] == ["Front matter", "Abstract", "1 Introduction", "2 Background"]
    assert "7 Conclusion" in titles
    assert "arXiv:1706.03762v5" not in text
    assert "Learning phrase representations using rnn encoder-decoder" not in text  # a reference entry
    assert "\ufffe" not in text
    assert "Scaled Dot-Product Attention" in text


def test_real_pdf_running_headers_are_removed(shared_data):
    text = FullText("pdf", parse_pdf((shared_data / "pdfs" / "2302.07302v1.pdf").read_bytes())).as_text()
    assert "Hamburg, Germany Chang et al." not in text
    assert "CiteSee augments inline citations" in text


@pytest.mark.parametrize("name", ["2203.06947_XYLayoutLM_CVPR2022-version.pdf", "2212.08410_teaching-small-LMs-to-reason_ACL2023-version.pdf"])
def test_real_conference_pdfs_keep_introduction_and_conclusion(shared_data, name):
    titles = [s.title for s in parse_pdf((shared_data / "pdfs" / name).read_bytes())]
    assert "1 Introduction" in titles
    assert any("Conclusion" in t for t in titles)


# --- fetching and caching ---------------------------------------------------------------------


@pytest.fixture
def arxiv():
    with FakeArxiv() as fake:
        yield fake


@pytest.fixture
async def http():
    client = ArxivHttp(user_agent="paperboy-tests", min_interval_s=0, retries=0)
    yield client
    await client.aclose()


async def test_fetch_prefers_html_and_never_asks_for_the_pdf(arxiv, http):
    arxiv.html["2401.00001"] = FIXTURE.read_bytes()
    arxiv.pdf["2401.00001"] = synthetic_paper_pdf()
    text = await fetch_fulltext(http, "2401.00001", html_url=f"{arxiv.base_url}/html", pdf_url=f"{arxiv.base_url}/pdf")
    assert text.source == "html"
    assert arxiv.requests_to("/pdf") == []


async def test_fetch_falls_back_to_the_pdf_when_html_is_missing(arxiv, http):
    arxiv.pdf["2401.00001"] = synthetic_paper_pdf()
    text = await fetch_fulltext(http, "2401.00001", html_url=f"{arxiv.base_url}/html", pdf_url=f"{arxiv.base_url}/pdf")
    assert text.source == "pdf"
    assert [s.title for s in text.sections][2] == "1 Introduction"


async def test_fetch_reads_a_real_pdf_when_html_is_missing(arxiv, http, shared_data):
    arxiv.pdf["1706.03762"] = (shared_data / "pdfs" / "1706.03762v5.pdf").read_bytes()
    text = await fetch_fulltext(http, "1706.03762", html_url=f"{arxiv.base_url}/html", pdf_url=f"{arxiv.base_url}/pdf")
    assert text.source == "pdf"
    assert "Multi-Head Attention" in text.as_text()


async def test_fetch_without_html_or_pdf_raises_no_full_text(arxiv, http):
    with pytest.raises(NoFullText):
        await fetch_fulltext(http, "2401.99999", html_url=f"{arxiv.base_url}/html", pdf_url=f"{arxiv.base_url}/pdf")


async def test_cache_fetches_each_paper_once_and_stores_no_pdf(arxiv, http, engine):
    FullTextRow.__table__.create(engine, checkfirst=True)  # until the migration exists everywhere
    arxiv.pdf["2401.00001"] = synthetic_paper_pdf()
    cache = FullTextCache(make_sessionmaker(engine), http, html_url=f"{arxiv.base_url}/html", pdf_url=f"{arxiv.base_url}/pdf")
    first = await cache.get("2401.00001")
    second = await cache.get("2401.00001")
    assert first == second
    assert len(arxiv.requests_to("/pdf")) == 1
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT sections FROM fulltexts").scalar_one()
    assert "%PDF" not in raw


# --- the budget -------------------------------------------------------------------------------


def _long_paper() -> FullText:
    body = "word " * 2000  # ~10,000 characters, ~2,500 tokens per section
    names = ["Abstract", "1 Introduction", "2 Related Work", "3 Method", "4 Experiments", "5 Conclusion", "A Proofs"]
    return FullText("html", [Section(n, f"{n} text. " + body) for n in names])


def test_budget_keeps_everything_when_the_paper_fits():
    paper = FullText("html", [Section("Abstract", "short"), Section("1 Introduction", "also short")])
    assert fit_to_budget(paper, 1000) == "## Abstract\nshort\n\n## 1 Introduction\nalso short"


def test_budget_prefers_abstract_intro_method_experiments_conclusion_over_related_work_and_appendix():
    paper = _long_paper()
    preferred = sum(len(s.title) + len(s.text) + 6 for s in paper.sections if s.title not in ("2 Related Work", "A Proofs"))
    budget = (preferred + 300) // 4  # room for the five preferred sections and the note, not a sixth
    text = fit_to_budget(paper, budget)
    assert estimate_tokens(text) <= budget
    for kept in ["## Abstract", "## 1 Introduction", "## 3 Method", "## 4 Experiments", "## 5 Conclusion"]:
        assert kept in text
    assert "## 2 Related Work" not in text and "## A Proofs" not in text
    assert "Left out for length: 2 Related Work; A Proofs" in text


def test_budget_keeps_document_order_and_shortens_the_last_section_that_fits():
    text = fit_to_budget(_long_paper(), 4_000)
    assert text.index("## Abstract") < text.index("## 1 Introduction")
    assert "[… section shortened]" in text
    assert estimate_tokens(text) <= 4_000
