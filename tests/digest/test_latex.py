"""Tests for digest.latex: arXiv's raw LaTeX reads as Unicode, and nasty input never breaks it."""

from __future__ import annotations

import json
import time

import pytest

from digest.clean import collapse_whitespace
from digest.latex import to_unicode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"Sub-$\sqrt{T}$ regret", "Sub-√(T) regret"),
        (r"Schr\"odinger and Erd\H{o}s", "Schrödinger and Erdős"),
        (r"Schr\"{o}dinger", "Schrödinger"),
        (r"$\alpha$-divergence", "α-divergence"),
        (r"$\mathcal{O}(n \log n)$ time", "𝒪(n log n) time"),
        (r"$\tilde{O}(\sqrt{T})$ regret", "Õ(√(T)) regret"),
        (r"$\mathbf{x}\in\mathbb{R}^d$", "𝐱∈ℝ^d"),
        (r"$\to$ $\infty$", "→ ∞"),
        (r"\v{S}ediv\'y", "Šedivý"),
        (r"\textbf{Bold} and \emph{em}", "Bold and em"),
        (r"\texttt{code_x} after", "code_x after"),
        (r"\href{https://x.org}{our code} is public", "our code is public"),
        (r"100\% accuracy", "100% accuracy"),
        (r"costs \$5", "costs $5"),
        ("pages 1--10", "pages 1–10"),
        ("``quoted''", "“quoted”"),
        (r"Fig.~2", "Fig. 2"),
    ],
)
def test_to_unicode_turns_latex_into_readable_text(raw, expected):
    assert to_unicode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("50% of cases", "50% of cases"),
        ("50% of cases \\emph{really}", "50% of cases really"),
        (r"$x$ in 50% of <&> cases", "x in 50% of <&> cases"),
        ("Q&A over <html> & more", "Q&A over <html> & more"),
        (r"Q&A with $\alpha<\beta$", "Q&A with α<β"),
        ("a < b > c", "a < b > c"),
    ],
)
def test_to_unicode_keeps_percent_ampersand_and_angle_brackets_literal(raw, expected):
    assert to_unicode(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "unbalanced $x + y",
        "$",
        "$$",
        "{",
        "}{",
        "\\",
        "\\\\",
        r"\textit{",
        r"\begin{itemize} never ends",
        r"\end{itemize}",
        r"\frac{1}{",
        r"\undefinedmacro{arg}",
        r"$\left( x$",
        "^_^ #1 ~~~",
        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        "$" * 101,
        "\x00\x01 control",
        "",
        "   ",
    ],
)
def test_to_unicode_never_raises_and_returns_one_line(raw):
    result = to_unicode(raw)
    assert isinstance(result, str)
    assert "\n" not in result
    assert result == result.strip()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("unbalanced $x + y", "unbalanced x + y"),
        (r"\end{itemize} stray", r"\end{itemize} stray"),
        ("line one\n  line two\t\tend", "line one line two end"),
        ("a\\\\b", "a b"),
        ("", ""),
    ],
)
def test_to_unicode_keeps_the_words_of_broken_latex(raw, expected):
    assert to_unicode(raw) == expected


def test_to_unicode_collapses_whitespace_and_newlines():
    title = "Attention Is\n  All You\tNeed\n"
    assert to_unicode(title) == "Attention Is All You Need"


def test_to_unicode_handles_formulas_spanning_words():
    assert to_unicode(r"for all $x \in X$ and $\{a, b\}$ sets") == "for all x ∈ X and {a, b} sets"


def test_to_unicode_is_cached():
    text = r"A unique $\beta$ title for the cache test"
    to_unicode(text)
    hits = to_unicode.cache_info().hits
    to_unicode(text)
    assert to_unicode.cache_info().hits == hits + 1


def test_to_unicode_gives_up_on_huge_input_without_parsing():
    huge = r"$\alpha$ " * 10_000
    started = time.perf_counter()
    result = to_unicode(huge)
    assert time.perf_counter() - started < 2  # a guard against pathological slowness, not a benchmark
    assert result.startswith(r"$\alpha$ $\alpha$")


def test_collapse_whitespace_includes_non_breaking_spaces():
    assert collapse_whitespace(" a\u00a0\u00a0b\n") == "a b"


def test_to_unicode_leaves_no_math_delimiters_in_real_titles(shared_data):
    rows = [
        json.loads(line)
        for line in (shared_data / "corpus" / "sample_1000_cs_cv_cl_ai.jsonl").open(encoding="utf-8")
    ]
    titles = [row["title"] for row in rows if "$" in row["title"]]
    assert titles, "the sample has titles with maths"
    for title in titles:
        assert "$" not in to_unicode(title), title
