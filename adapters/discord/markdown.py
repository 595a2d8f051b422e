"""Text for Discord: escaping what users and arXiv wrote, converting what the LLM wrote, splitting.

Discord speaks a Markdown dialect: bold, italics, `code`, fenced blocks, `> ` quotes, `#`-`###`
headers, lists and masked links all work, in message content and in embed descriptions alike. So:

- titles, abstracts and author names are *data*: every Markdown character in them is escaped
  (`discord.utils.escape_markdown`, plus line-start `#`, `>`, `-` and `1.` that it leaves alone);
- the LLM's Markdown is kept, with the few things Discord cannot show rewritten (LaTeX maths to
  Unicode through `digest.latex.markdown_math_to_unicode`, the one converter every platform uses;
  tables into a code block, `####` headers to bold, images to links, rules to a line of box
  characters);
- long text is split at paragraph, then line, then word boundaries, closing and reopening a
  fenced code block that a cut falls inside, so every part renders on its own.
"""

from __future__ import annotations

import re

from discord.utils import escape_markdown

from digest.latex import markdown_math_to_unicode

__all__ = ["clip", "convert_llm_markdown", "escape", "split_text"]

_LINE_START = re.compile(r"^(\s*)(?:(#+|>+|[\-+*])|(\d+)\.)(?=\s)", re.MULTILINE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_DEEP_HEADER = re.compile(r"^#{4,}\s+(.+?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")


def escape(text: str) -> str:
    """User or arXiv text made inert: it shows exactly as written, whatever Markdown it holds."""
    return _LINE_START.sub(_escape_line_start, escape_markdown(text))


def _escape_line_start(match: re.Match[str]) -> str:
    """`# `, `> `, `- ` and `1. ` at a line start would become a header, quote or list."""
    indent, mark, number = match.groups()
    return f"{indent}\\{mark}" if mark else f"{indent}{number}\\."


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word and marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip("\\") + "…"


def convert_llm_markdown(text: str) -> str:
    """The LLM's Markdown as Discord shows it best; code is left exactly as written."""
    out: list[str] = []
    table: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            _flush_table(table, out)
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if _TABLE_ROW.match(line):
            table.append(line)
            continue
        _flush_table(table, out)
        out.append(_convert_line(line))
    _flush_table(table, out)
    return markdown_math_to_unicode("\n".join(out), escape_markdown)


def _convert_line(line: str) -> str:
    header = _DEEP_HEADER.match(line)
    if header:
        return f"**{header.group(1)}**"
    if _RULE.match(line):
        return "──────────"
    return _IMAGE.sub(lambda m: f"[{m.group(1) or 'image'}]({m.group(2)})", line)


def _flush_table(table: list[str], out: list[str]) -> None:
    """Discord has no tables: a Markdown table is shown as aligned text in a code block."""
    if not table:
        return
    out.append("```")
    out.extend(row.strip() for row in table)
    out.append("```")
    table.clear()


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at the gentlest boundary available."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    reopen = ""
    remaining = text
    while remaining:
        budget = limit - len(reopen)
        if len(remaining) <= budget:
            parts.append(reopen + remaining)
            break
        cut = _cut_point(remaining, budget - 4)  # room for a closing fence
        chunk = remaining[:cut].rstrip()
        remaining = remaining[cut:].lstrip("\n ")
        fence = _open_fence(reopen + chunk)
        if fence:
            parts.append(reopen + chunk + "\n" + fence[:3])
            reopen = fence + "\n"
        else:
            parts.append(reopen + chunk)
            reopen = ""
    return [p for p in parts if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    window = text[:budget]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > budget // 3:
            return at + len(sep)
    return budget


def _open_fence(text: str) -> str:
    """The opening fence line (``` plus language) if `text` ends inside a fenced block, else ''."""
    opening = ""
    for line in text.split("\n"):
        if _FENCE.match(line):
            opening = "" if opening else line.strip()
    return opening
