"""Untrusted text made safe to store and to show: control characters out, HTML to text, sizes capped.

Every text that comes from outside (chat messages, button payloads, RSS feeds, API answers,
imported files) passes through here once, at the edge where it enters:

- `clean_text` removes NUL bytes, lone surrogates and other control characters (newlines and tabs
  stay where a caller allows them). SQLite's FTS5 chokes on NUL, PostgreSQL refuses it, and a lone
  surrogate cannot even be encoded as UTF-8.
- `html_to_text` turns HTML tags and entities in a title or abstract into plain text. Only real
  HTML tag names count as tags, so LaTeX such as `$a<b$` or `$x < y$` survives.
- `collapse_whitespace` leaves one space between words; `clip` cuts a text to a length, and `echo`
  is the form in which a reply may quote user input.
- `digest.paper_cleaning.clean_paper` applies all of it to a `Paper`, with the caps below.
"""

from __future__ import annotations

import html
import re

__all__ = [
    "MAX_ABSTRACT_CHARS",
    "MAX_AUTHORS",
    "MAX_ECHO_CHARS",
    "MAX_TITLE_CHARS",
    "clean_text",
    "clip",
    "collapse_whitespace",
    "echo",
    "html_to_text",
]

MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 10_000
MAX_AUTHORS = 2_000  # the largest collaborations list about 3,000 names; a card shows a handful
MAX_AUTHOR_CHARS = 300
MAX_FIELD_CHARS = 2_000  # comment, DOI, journal reference, licence
MAX_ECHO_CHARS = 200  # how much of a user's input a reply may quote back

# C0 and C1 controls, DEL, and lone surrogates. \t and \n are handled apart (see `clean_text`).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_HTML_TAG_NAMES = (
    "a|abbr|b|big|blockquote|body|br|center|code|dd|del|div|dl|dt|em|font|form|h[1-6]|head|hr|html|i|"
    "iframe|img|input|ins|kbd|li|link|mark|meta|object|ol|p|pre|q|s|samp|script|small|span|strike|"
    "strong|style|sub|sup|svg|table|tbody|td|th|thead|title|tr|tt|u|ul|var|wbr"
)
# A tag is a known name with attributes written `name=value` (quoted or not), so `a<b && c>d` is maths.
_ATTRIBUTE = r"""\s+[a-z_:][-a-z0-9_:.]*\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`]+)"""
_HTML_TAG = re.compile(rf"<({_HTML_TAG_NAMES})(?:{_ATTRIBUTE})*\s*/?>|</({_HTML_TAG_NAMES})\s*>", re.IGNORECASE)
# Tags inside a word (H<sub>2</sub>O) vanish; the others (<p>, <br>) separate words.
_INLINE_TAGS = frozenset("a abbr b big code del em font i ins kbd mark q s samp small span strike strong sub sup "
                         "tt u var".split())
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.IGNORECASE)


def collapse_whitespace(text: str) -> str:
    """One space between words: newlines, tabs and non-breaking spaces (LaTeX's `~`) included."""
    return " ".join(text.split())


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """`text` without NUL, other control characters and lone surrogates; tabs become spaces.

    With `keep_newlines`, line breaks stay (chat messages, abstracts); otherwise they become spaces.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not keep_newlines:
        text = text.replace("\n", " ")
    return _CONTROLS.sub("", text)


def html_to_text(text: str) -> str:
    """HTML tags removed (script and style with their content) and entities decoded, once."""
    if "<" not in text and "&" not in text:
        return text
    text = _SCRIPT_OR_STYLE.sub(" ", text)
    text = _HTML_TAG.sub(_tag_replacement, text)
    if _ENTITY.search(text):
        text = html.unescape(text)
    return text


def _tag_replacement(match: re.Match[str]) -> str:
    name = (match.group(1) or match.group(2) or "").lower()
    return "" if name in _INLINE_TAGS else " "


def clip(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters (ellipsis included), at a word break when one is near."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - len(ellipsis))]
    cut = head.rfind(" ")
    if cut > len(head) * 0.8:
        head = head[:cut]
    return head.rstrip() + ellipsis


def echo(user_text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """User input as a reply may quote it: one line, at most `limit` characters."""
    return clip(collapse_whitespace(clean_text(str(user_text))), limit)
