"""BibTeX export (valid entries with arXiv ids and URLs, unique keys, LaTeX-safe) and import."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from digest.bibtex import BibEntry, export_bibtex, export_links, latex_escape, parse_bibtex
from digest.models import Paper


def paper(pid: str = "2501.01234", title: str = "Attention Is All You Need", **kw) -> Paper:
    values = dict(id=pid, title=title, authors=("Ashish Vaswani", "Noam Shazeer"), abstract="",
                  categories=("cs.CL", "cs.LG"), published=dt.date(2025, 1, 3))
    values.update(kw)
    return Paper(**values)  # type: ignore[arg-type]


def entries(bib: str) -> list[str]:
    return re.findall(r"@misc\{[^\n]*\n(?:  .*\n)*\}", bib)


def balanced(text: str) -> bool:
    depth = 0
    text = re.sub(r"\\.", "", text)
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_an_entry_carries_the_arxiv_fields_and_the_url():
    bib = export_bibtex([paper(doi="10.1000/xyz")])
    assert bib.startswith("@misc{vaswani2025attention,\n")
    for line in ("  title = {{Attention Is All You Need}},", "  author = {Ashish Vaswani and Noam Shazeer},",
                 "  year = {2025},", "  eprint = {2501.01234},", "  archivePrefix = {arXiv},",
                 "  primaryClass = {cs.CL},", "  url = {https://arxiv.org/abs/2501.01234},", "  doi = {10.1000/xyz}"):
        assert line in bib
    assert bib.rstrip().endswith("}")


def test_keys_are_unique_even_for_the_same_author_year_and_word():
    bib = export_bibtex([paper("2501.00001"), paper("2501.00002"), paper("2501.00003")])
    keys = re.findall(r"@misc\{([^,]+),", bib)
    assert keys == ["vaswani2025attention", "vaswani2025attentiona", "vaswani2025attentionb"]


def test_keys_are_ascii_and_skip_leading_small_words():
    bib = export_bibtex([paper(title="On the Núñez Effect", authors=("José Núñez",))])
    assert "@misc{nunez2025nunez," in bib


def test_the_year_comes_from_the_id_when_no_date_is_known():
    assert "year = {1999}" in export_bibtex([paper("hep-th/9901001", published=None)])
    assert "year = {2024}" in export_bibtex([paper("2403.00001", published=None)])


@pytest.mark.parametrize(("raw", "escaped"), [
    ("Cats & Dogs: 50% of #1", r"Cats \& Dogs: 50\% of \#1"),
    ("snake_case names", r"snake\_case names"),
    ("Math $x_i^2$ stays", "Math $x_i^2$ stays"),
    (r"Already \& escaped and Schr\"odinger", r"Already \& escaped and Schr\"odinger"),
    ("An {unbalanced brace", r"An \{unbalanced brace"),
    ("A lone $ sign", r"A lone \$ sign"),
    ("~ and ^", r"\textasciitilde{} and \textasciicircum{}"),
])
def test_latex_escaping_keeps_math_and_commands_but_not_breakage(raw, escaped):
    assert latex_escape(raw) == escaped


def test_the_whole_export_is_balanced_and_parses_back_to_the_same_ids():
    papers = [paper("2501.00001", title="A {weird} title with } and 100% _underscores_"),
              paper("2501.00002", title="Plain"), paper("math/0309136", title="Knots", published=None)]
    bib = export_bibtex(papers)
    assert len(entries(bib)) == 3
    assert all(balanced(e) for e in entries(bib))
    assert [e.arxiv_id for e in parse_bibtex(bib)] == ["2501.00001", "2501.00002", "math/0309136"]


def test_links_are_a_numbered_list_of_abs_pages():
    text = export_links([paper("2501.00001", title="One"), paper("2501.00002", title="Two\n  lines")],
                        abs_base="https://arxiv.example/abs")
    assert text == ("1. One — https://arxiv.example/abs/2501.00001\n"
                    "2. Two lines — https://arxiv.example/abs/2501.00002\n")


BIB = r"""
% exported by a reference manager
@comment{ignore me}
@string{acl = "ACL"}
@article{smith2024,
  title = {Deep {Learning} for \& with Graphs},
  author = "Smith, J. and Doe, A.",
  journal = {arXiv preprint arXiv:2401.12345},
  year = 2024,
}
@misc{eprinted, title={Eprint Field}, eprint={2402.00001v2}, archivePrefix={arXiv}, primaryClass={cs.CL}}
@misc{viaurl, title="Via URL", url={https://arxiv.org/abs/2403.00002}}
@misc{viadoi, title = {Via DOI}, doi = {10.48550/arXiv.2404.00003}}
@inproceedings{noid, title = {A Conference Paper Without an arXiv Id}, booktitle = acl # " 2024"}
@misc{other, title = {Not arXiv}, eprint = {1234.5678}, archivePrefix = {SSRN}}
@book(paren, title = {Parenthesised Entry}, note = {see arXiv:2405.00004})
"""


def test_import_finds_arxiv_ids_wherever_reference_managers_put_them():
    found = parse_bibtex(BIB)
    assert [(e.key, e.arxiv_id) for e in found] == [
        ("smith2024", "2401.12345"), ("eprinted", "2402.00001"), ("viaurl", "2403.00002"),
        ("viadoi", "2404.00003"), ("noid", None), ("other", None), ("paren", "2405.00004"),
    ]
    assert found[0].title == "Deep Learning for & with Graphs"
    assert found[4] == BibEntry(key="noid", title="A Conference Paper Without an arXiv Id", arxiv_id=None)


def test_import_of_garbage_is_empty_not_an_error():
    assert parse_bibtex("not a bib file { at all") == []
    assert parse_bibtex("@misc{broken, title = {unclosed") == [BibEntry(key="broken", title="unclosed", arxiv_id=None)]


@pytest.mark.parametrize(("title", "authors", "key"), [
    (r"\textsc{DiARC}: Agents that Plan", ("Wei Yang",), "yang2025diarc"),
    (r"PM$_{2.5}$ Forecasting from Space", ("Ana Ruiz",), "ruiz2025pm2"),
    (r"$\alpha$-Divergence Bridges", (r"Erwin Schr\"odinger",), "schrodinger2025divergence"),
])
def test_keys_come_from_the_title_a_reader_sees_not_its_latex(title, authors, key):
    bib = export_bibtex([paper(title=title, authors=authors)])
    assert bib.startswith(f"@misc{{{key},")
    assert "textsc" not in bib.split(",")[0]


def test_exported_links_show_titles_with_latex_converted():
    links = export_links([paper(title=r"\textsc{DiARC}: PM$_{2.5}$ with $\alpha$-nets")])
    assert links.startswith("1. DiARC: PM₂.₅ with α-nets — https://arxiv.org/abs/2501.01234")
