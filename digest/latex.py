"""Readable Unicode from the raw LaTeX in arXiv titles and abstracts.

arXiv feeds and the API give titles and abstracts exactly as authors typed them: `Sub-$\\sqrt{T}$
regret`, `Schr\\"odinger`, `$\\alpha$-divergence`. The store keeps that raw text (it is the source of
truth, and search may want it); everything a person reads goes through `to_unicode` first.

pylatexenc does the conversion, with three fixes for how arXiv text differs from a LaTeX document:

- `%` and `&` are literal characters in abstracts ("50% fewer", "Q&A"), not a comment and a table
  cell, so unescaped ones are escaped before parsing (otherwise `%` swallows the rest of the line);
- a few macros pylatexenc parses but drops (`\\texttt{}`, `\\textsf{}`, `\\href{}{}`) keep their text;
- a conversion that fails, or that loses all the words, falls back to the raw text.

`<`, `>` and `&` are left as they are: escaping for HTML or Markdown is each adapter's job.
Results are cached, because the same titles are rendered for many chats on the same day.

This is the ONE LaTeX converter of paperboy: titles, abstracts, comments, Related headings,
exports and BibTeX keys go through `to_unicode`, and the maths in the assistant's Markdown answers
goes through `markdown_math_to_unicode` on every platform (console, Telegram, Discord), so the same
formula reads the same everywhere.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator

from pylatexenc import latexwalker
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec
from pylatexenc.latex2text import get_default_latex_context_db as text_context_db
from pylatexenc.macrospec import std_macro

from digest.clean import collapse_whitespace

__all__ = ["escape_commonmark", "markdown_math_to_unicode", "to_unicode"]

log = logging.getLogger(__name__)

# Longer than any arXiv abstract (1,920 characters at most); beyond it, skip the parser entirely.
MAX_CONVERTED_CHARS = 20_000

_UNESCAPED_SPECIAL = re.compile(r"(?<!\\)([%&])")
_WORD = re.compile(r"\w")
_MACRO = re.compile(r"\\[A-Za-z]+")
_ENDS_WITH_MACRO = re.compile(r"\\[A-Za-z]+$")
# What pylatexenc changes: macros, math, groups, `~`, and its typographic `--`, ``` `` ```, `''`.
_NEEDS_PARSER = re.compile(r"[\\$~{}`]|--|''")

# Text macros that pylatexenc's walker knows (so it takes their argument) but its text converter
# has no rule for, so the argument would be thrown away.
_KEEP_ARGUMENT = ("texttt", "textsf", "textmd", "textup", "textnormal", "mbox", "hbox")


@functools.lru_cache(maxsize=65_536)
def to_unicode(text: str) -> str:
    """Title or abstract LaTeX as readable Unicode on one line; never raises."""
    if len(text) > MAX_CONVERTED_CHARS:
        return collapse_whitespace(text)
    parts = [
        _convert_run(" ".join(words)) if is_latex else " ".join(words)
        for is_latex, words in _runs(text.split())
    ]
    return " ".join(part for part in parts if part)


def _runs(words: list[str]) -> Iterator[tuple[bool, list[str]]]:
    """Words grouped into runs of plain text and runs that need the LaTeX parser.

    pylatexenc reads a character at a time (about 5 ms for an abstract), while most words of most
    abstracts are plain. A word needs the parser when it holds a LaTeX character, follows a bare
    macro (`\\c c`), or sits inside an open `$...$`, `\\(...\\)` or `{...}`; whitespace
    is collapsed in the output anyway, so splitting between runs changes nothing else.
    """
    depth, math, after_macro = 0, False, False
    run: list[str] = []
    run_is_latex = False
    for word in words:
        is_latex = depth > 0 or math or after_macro or bool(_NEEDS_PARSER.search(word))
        if is_latex:
            depth, math = _track_groups(word, depth, math)
            after_macro = bool(_ENDS_WITH_MACRO.search(word))
        if run and is_latex != run_is_latex:
            yield run_is_latex, run
            run = []
        run.append(word)
        run_is_latex = is_latex
    if run:
        yield run_is_latex, run


def _track_groups(word: str, depth: int, math: bool) -> tuple[int, bool]:
    """Brace depth and math mode after `word`, skipping escaped characters (`\\$`, `\\{`)."""
    i = 0
    while i < len(word):
        char = word[i]
        if char == "\\":
            escaped = word[i + 1 : i + 2]
            if escaped and escaped in "([":
                math = True
            elif escaped and escaped in ")]":
                math = False
            i += 2
            continue
        if char == "$":
            math = not math
        elif char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        i += 1
    return depth, math


_SUPERSCRIPTS = dict(zip("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ"))
_SUBSCRIPTS = dict(zip("0123456789+-=()aeiojklmnprstuvx.", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒⱼₖₗₘₙₚᵣₛₜᵤᵥₓ."))
_INLINE_MATH = re.compile(r"(?<!\\)\$[^$]+\$")
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}\\]{1,12})\}|([0-9A-Za-z+\-]))")


def _scripts_to_unicode(run: str) -> str:
    """`x^2`, `PM_{2.5}` inside `$...$` as `x²`, `PM₂.₅` when every character has a Unicode form."""

    def script(match: re.Match[str]) -> str:
        table = _SUPERSCRIPTS if match.group(1) == "^" else _SUBSCRIPTS
        body = match.group(2) if match.group(2) is not None else match.group(3)
        if body and all(ch in table for ch in body) and not (table is _SUBSCRIPTS and body == "."):
            return "{}" + "".join(table[ch] for ch in body)  # `{}` ends a macro name before it: `\\alpha{}ᵢ`
        return match.group(0)

    return _INLINE_MATH.sub(lambda m: _SCRIPT.sub(script, m.group(0)), run)


def _convert_run(run: str) -> str:
    """One run through pylatexenc, or the raw run when the conversion fails or loses it."""
    try:
        result = collapse_whitespace(_convert(_UNESCAPED_SPECIAL.sub(r"\\\1", _scripts_to_unicode(run))))
    except Exception:  # pylatexenc has many internal failure modes; raw text is always acceptable
        log.debug("LaTeX conversion failed; showing the raw text", exc_info=True)
        return run
    return run if _lost_everything(run, result) else result


def _lost_everything(text: str, result: str) -> bool:
    """True when the conversion dropped every word of the text that was not a macro name."""
    return bool(_WORD.search(_MACRO.sub("", text))) and not _WORD.search(result)


def _convert(text: str) -> str:
    walker_context, converter = _converter()
    nodes, _, _ = latexwalker.LatexWalker(
        text, latex_context=walker_context, tolerant_parsing=True
    ).get_latex_nodes()
    return converter.nodelist_to_text(nodes)


@functools.lru_cache(maxsize=1)
def _converter() -> tuple[object, LatexNodes2Text]:
    """The parser context and converter, built once (building them costs milliseconds)."""
    walker_context = latexwalker.get_default_latex_context_db().filter_context()
    walker_context.add_context_category(
        "paperboy-walker", prepend=True, macros=[std_macro("href", False, 2)]
    )
    text_context = text_context_db().filter_context()
    text_context.add_context_category(
        "paperboy-text",
        prepend=True,
        macros=[MacroTextSpec(name, discard=False) for name in _KEEP_ARGUMENT]
        + [MacroTextSpec("href", simplify_repl="%(2)s")],
    )
    return walker_context, LatexNodes2Text(latex_context=text_context, math_mode="text")


# --- maths inside Markdown (the assistant's answers) ------------------------------------------

# Maths the LLM writes: $$...$$, \[...\], \(...\), and $...$ that is not a price ("$5 and $6").
_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)|(?<![\\$\w])\$(?P<i2>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?![\w$])",
    re.DOTALL,
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_COMMONMARK_SPECIAL = re.compile(r"([\\`*_\[\]$~|])")


def escape_commonmark(text: str) -> str:
    """Text made literal inside CommonMark: `*`, `_`, `` ` ``, `[`, `$` ... backslash-escaped.

    `<` is left alone: each adapter has its own rule for what looks like an HTML tag.
    """
    return _COMMONMARK_SPECIAL.sub(r"\\\1", text)


def markdown_math_to_unicode(text: str, escape: Callable[[str], str] = escape_commonmark) -> str:
    """Markdown with every formula outside code turned into Unicode (`$\\sqrt{T}$` -> `√(T)`).

    The converted formula is passed through `escape` (the platform's Markdown escaping), so an
    `_` or `*` in it stays a character instead of starting emphasis.
    """
    out: list[str] = []
    prose: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line) or in_fence:
            if prose:
                out.append(_math_outside_inline_code("\n".join(prose), escape))
                prose = []
            out.append(line)
            if _FENCE.match(line):
                in_fence = not in_fence
        else:
            prose.append(line)
    if prose:
        out.append(_math_outside_inline_code("\n".join(prose), escape))
    return "\n".join(out)


def _math_outside_inline_code(text: str, escape: Callable[[str], str]) -> str:
    def convert(match: re.Match[str]) -> str:
        inner = next(g for g in match.groups() if g is not None)
        return escape(to_unicode(f"${inner}$"))

    parts: list[str] = []
    last = 0
    for code in _INLINE_CODE.finditer(text):
        parts.append(_MATH.sub(convert, text[last:code.start()]))
        parts.append(code.group(0))
        last = code.end()
    parts.append(_MATH.sub(convert, text[last:]))
    return "".join(parts)
