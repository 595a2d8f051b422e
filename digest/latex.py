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
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator

from pylatexenc import latexwalker
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec
from pylatexenc.latex2text import get_default_latex_context_db as text_context_db
from pylatexenc.macrospec import std_macro

__all__ = ["collapse_whitespace", "to_unicode"]

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


def collapse_whitespace(text: str) -> str:
    """One space between words: newlines, tabs and non-breaking spaces (`~`) included."""
    return " ".join(text.split())


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


def _convert_run(run: str) -> str:
    """One run through pylatexenc, or the raw run when the conversion fails or loses it."""
    try:
        result = collapse_whitespace(_convert(_UNESCAPED_SPECIAL.sub(r"\\\1", run)))
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
