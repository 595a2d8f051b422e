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
- `clean_paper` applies all of it to a `Paper` (with the title and abstract caps), and drops
  categories that arXiv's taxonomy does not know.
"""

from __future__ import annotations

import functools
import html
import re

from digest.models import Paper

__all__ = [
    "MAX_ABSTRACT_CHARS",
    "MAX_AUTHORS",
    "MAX_ECHO_CHARS",
    "MAX_TITLE_CHARS",
    "clean_categories",
    "clean_paper",
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


def _line(text: str | None, limit: int) -> str:
    """One collapsed, cleaned, HTML-free line of at most `limit` characters.

    Written for speed (an import cleans 75k papers): the C-level `isprintable` and `in` checks let
    clean text through untouched, and the regular expressions run only on text that needs them.
    """
    if not text:
        return ""
    if not (text.isprintable() and text[0] != " " and text[-1] != " "):  # (double spaces may stay)
        text = collapse_whitespace(text)
    if "<" in text or "&" in text:
        text = collapse_whitespace(html_to_text(text))
    if not text.isprintable():  # controls or lone surrogates left (split() takes only whitespace)
        text = collapse_whitespace(clean_text(text, keep_newlines=False))
    return clip(text, limit)


def _optional(text: str | None, limit: int = MAX_FIELD_CHARS) -> str | None:
    return _line(text, limit) or None


def clean_categories(categories: tuple[str, ...]) -> tuple[str, ...]:
    """The categories arXiv's taxonomy knows (any spelling, or an old archive-wide one like astro-ph)."""
    kept: dict[str, None] = {}
    for name in categories:
        name = name.strip()
        if name and _known_category(name):
            kept.setdefault(name, None)
    return tuple(kept)


@functools.lru_cache(maxsize=4096)
def _known_category(name: str) -> bool:
    from digest.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    return bool(taxonomy.canonical(name) or taxonomy.is_archive(name) or name.lower() in taxonomy.retired)


def clean_paper(paper: Paper, *, check_categories: bool = True) -> Paper:
    """A paper with clean, capped text fields; with `check_categories`, unknown categories dropped.

    The caller refuses a paper left without a title, or (when checked) without a category.
    """
    categories = clean_categories(paper.categories) if check_categories else paper.categories
    primary = paper.primary_category
    if primary is not None and primary not in categories:
        primary = None
    return Paper(
        id=paper.id,
        title=_line(paper.title, MAX_TITLE_CHARS),
        authors=_names(paper.authors),
        abstract=_line(paper.abstract, MAX_ABSTRACT_CHARS),
        categories=categories,
        version=paper.version,
        primary_category=primary,
        doi=_optional(paper.doi),
        journal_ref=_optional(paper.journal_ref),
        license=_optional(paper.license),
        comment=_optional(paper.comment),
        published=paper.published,
    )


def _names(authors: tuple[str, ...]) -> tuple[str, ...]:
    """Author names, each one clean line; a clean list (the usual case) is checked in one pass."""
    if authors and len(authors) <= MAX_AUTHORS and all(a and len(a) <= MAX_AUTHOR_CHARS for a in authors):
        joined = "|".join(authors)
        if (joined.isprintable() and "<" not in joined and "&" not in joined
                and "| " not in joined and " |" not in joined and joined[0] != " " and joined[-1] != " "):
            return tuple(authors)
    return tuple(name for a in authors[:MAX_AUTHORS] if (name := _line(a, MAX_AUTHOR_CHARS)))
