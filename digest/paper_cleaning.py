"""`clean_paper`: a paper from outside (a feed item, an API answer, an imported line) made safe to store.

Every text field goes through `digest.clean` (control characters out, HTML to text, one line, the
size caps), and categories arXiv's taxonomy does not know are dropped. It lives apart from
`digest.clean` because it needs the taxonomy, which itself uses `digest.clean`'s text helpers.
"""

from __future__ import annotations

import functools

from digest.clean import (
    MAX_ABSTRACT_CHARS,
    MAX_AUTHOR_CHARS,
    MAX_AUTHORS,
    MAX_FIELD_CHARS,
    MAX_TITLE_CHARS,
    clean_text,
    clip,
    collapse_whitespace,
    html_to_text,
)
from digest.models import Paper
from digest.taxonomy import load_taxonomy

__all__ = ["clean_categories", "clean_paper"]


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
