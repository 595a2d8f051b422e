"""Tests for digest.ids: every spelling of a paper comes down to one key; nothing else does."""

from __future__ import annotations

import time

import pytest

from digest.errors import BadArxivId
from digest.ids import abs_url, find_ids, html_url, parse_id, pdf_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.12345", ("2401.12345", None)),
        ("2401.12345v2", ("2401.12345", 2)),
        ("arXiv:2401.12345v2", ("2401.12345", 2)),
        ("arxiv: 2401.12345", ("2401.12345", None)),
        ("  2401.12345\n", ("2401.12345", None)),
        ("0704.0001", ("0704.0001", None)),
        ("1412.6980v9", ("1412.6980", 9)),
        ("https://arxiv.org/abs/2401.12345", ("2401.12345", None)),
        ("https://arxiv.org/abs/2401.12345v3", ("2401.12345", 3)),
        ("http://arxiv.org/abs/2401.12345?context=cs", ("2401.12345", None)),
        ("https://www.arxiv.org/abs/2401.12345#comments", ("2401.12345", None)),
        ("arxiv.org/abs/2401.12345", ("2401.12345", None)),
        ("https://arxiv.org/pdf/2401.12345", ("2401.12345", None)),
        ("https://arxiv.org/pdf/2401.12345v2", ("2401.12345", 2)),
        ("https://arxiv.org/pdf/2401.12345v2.pdf", ("2401.12345", 2)),
        ("https://arxiv.org/pdf/2401.12345.pdf", ("2401.12345", None)),
        ("https://arxiv.org/html/2401.12345v1", ("2401.12345", 1)),
        ("https://arxiv.org/html/2401.12345v1/", ("2401.12345", 1)),
        ("https://arxiv.org/html/2401.12345v1#S3.SS2", ("2401.12345", 1)),
        ("http://export.arxiv.org/abs/2401.12345", ("2401.12345", None)),
        ("https://ar5iv.labs.arxiv.org/html/1706.03762", ("1706.03762", None)),
        ("https://huggingface.co/papers/2401.12345", ("2401.12345", None)),
        ("<https://arxiv.org/abs/2401.12345>", ("2401.12345", None)),
        ("(2401.12345v2).", ("2401.12345", 2)),
        ("arXiv 2401.12345", ("2401.12345", None)),
        ("10.48550/arXiv.2401.12345", ("2401.12345", None)),
        ("https://doi.org/10.48550/arXiv.2401.12345", ("2401.12345", None)),
        ("doi:10.48550/arxiv.1706.03762", ("1706.03762", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("arXiv:hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("HEP-TH/9901001", ("hep-th/9901001", None)),
        ("astro-ph/0601001", ("astro-ph/0601001", None)),
        ("https://arxiv.org/abs/hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("https://arxiv.org/pdf/quant-ph/0201082v1.pdf", ("quant-ph/0201082", 1)),
    ],
)
def test_parse_id_accepts_every_common_spelling(text, expected):
    assert parse_id(text) == expected


@pytest.mark.parametrize("text", ["math.GT/0309136", "math.gt/0309136", "https://arxiv.org/abs/math.GT/0309136"])
def test_parse_id_drops_the_old_style_subject_class_as_arxiv_does(text):
    assert parse_id(text) == ("math/0309136", None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not an arXiv id"),
        ("hello", "not an arXiv id"),
        ("https://example.com/abs/2401.12345", "not an arXiv id"),
        ("2413.12345", "not a month"),
        ("2400.12345", "not a month"),
        ("0612.1234", "April 2007"),
        ("2401.1234", "5 digits"),
        ("1412.12345", "4 digits"),
        ("2401.123456", "not an arXiv id"),
        ("2401.12345v0", "start at v1"),
        ("foo-bar/9901001", "no archive"),
        ("hep-th/9913001", "not a month"),
        ("hep-th/0801001", "1991 to 2007"),
        ("hep-th/990100", "not an arXiv id"),
        ("10.1234/5678", "not an arXiv id"),
        ("10.1234/arXiv.2401.12345", "not an arXiv id"),
        ("2401.12345 and more", "not an arXiv id"),
    ],
)
def test_parse_id_explains_what_is_wrong(text, reason):
    with pytest.raises(BadArxivId, match=reason):
        parse_id(text)


def test_parse_id_error_shows_accepted_examples():
    with pytest.raises(BadArxivId) as err:
        parse_id("see my paper")
    assert "arXiv:2401.12345v2" in str(err.value)
    assert "hep-th/9901001" in str(err.value)


@pytest.mark.parametrize("huge", ["x" * 5000, "." * 20_000 + "x", " " * 20_000 + "2401.12345"])
def test_parse_id_rejects_huge_input_quickly_with_a_short_message(huge):
    started = time.perf_counter()
    with pytest.raises(BadArxivId) as err:
        parse_id(huge)
    assert time.perf_counter() - started < 2  # a guard against catastrophic backtracking, not a benchmark
    assert len(str(err.value)) < 300


def test_find_ids_is_fast_on_long_messages():
    text = ("see 2401.12345 and 1.2345 10.1234/5678 " * 2000) + "hep-th/9901001"
    started = time.perf_counter()
    assert find_ids(text) == ["2401.12345", "hep-th/9901001"]
    assert time.perf_counter() - started < 2  # a guard against pathological slowness, not a benchmark


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Look at https://arxiv.org/abs/2401.12345v2 please", ["2401.12345"]),
        (
            "pdf: arxiv.org/pdf/2401.12345.pdf, html: https://arxiv.org/html/2402.00001v1/#S2",
            ["2401.12345", "2402.00001"],
        ),
        ("(arXiv:2401.12345) and arXiv:hep-th/9901001v2.", ["2401.12345", "hep-th/9901001"]),
        ("bare 2401.12345 at the end of a sentence 2402.54321.", ["2401.12345", "2402.54321"]),
        ("old style hep-th/9901001 and math.GT/0309136", ["hep-th/9901001", "math/0309136"]),
        ("the DOI 10.48550/arXiv.2301.00001 is arXiv's own", ["2301.00001"]),
        ("1706.03762 then 1706.03762v5 then arxiv.org/abs/1706.03762", ["1706.03762"]),
        ("first 2402.00002, then 2401.00001", ["2402.00002", "2401.00001"]),
        ("https://export.arxiv.org/abs/quant-ph/0201082v1", ["quant-ph/0201082"]),
        ("arXiv 0704.0001 is the first new-style id", ["0704.0001"]),
    ],
)
def test_find_ids_finds_links_prefixed_and_bare_ids_in_order(text, expected):
    assert find_ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "upgrade to version 1.2345 or 3.14159",
        "python 3.11.4 and numpy 1.26.4",
        "meeting on 2024.01.15 or 15.01.2024",
        "see 10.1234/5678.12345 and doi:10.1016/j.cell.2020.12345",
        "DOI 10.1103/PhysRevLett.2401.12345",
        "call 555-2401.12345 or +1 2401123456",
        "id12401.12345 and 2401.12345x",
        "v1.2401.12345 and 2401.12345.6",
        "month 2413.12345 is no month",
        "https://example.com/files/2401.12345",
        "and/9901001 or foo-bar/9901001",
        "a ratio of 1234.56789 and 9999.1234",
        "",
    ],
)
def test_find_ids_ignores_things_that_only_look_like_ids(text):
    assert find_ids(text) == []


@pytest.mark.parametrize(
    ("func", "base", "expected"),
    [
        (abs_url, "https://arxiv.org/abs", "https://arxiv.org/abs/2401.12345"),
        (pdf_url, "https://arxiv.org/pdf/", "https://arxiv.org/pdf/2401.12345"),
        (html_url, "https://arxiv.org/html", "https://arxiv.org/html/2401.12345"),
        (abs_url, "http://127.0.0.1:8080/abs", "http://127.0.0.1:8080/abs/2401.12345"),
    ],
)
def test_url_helpers_join_the_configured_base(func, base, expected):
    assert func("2401.12345", base) == expected


def test_url_helpers_keep_old_style_slash_and_optional_version():
    assert abs_url("hep-th/9901001", "https://arxiv.org/abs") == "https://arxiv.org/abs/hep-th/9901001"
    assert pdf_url("2401.12345", "https://arxiv.org/pdf", version=2) == "https://arxiv.org/pdf/2401.12345v2"


@pytest.mark.parametrize("paper_id", ["2401.12345", "hep-th/9901001", "0704.0001"])
def test_built_urls_parse_back_to_the_same_id(paper_id):
    bases = {abs_url: "https://arxiv.org/abs", pdf_url: "https://arxiv.org/pdf", html_url: "https://arxiv.org/html"}
    for func, base in bases.items():
        assert parse_id(func(paper_id, base, version=3)) == (paper_id, 3)
