"""`Section`: one top-level section of a paper's full text, what both parsers (HTML, PDF) produce.

It lives apart from `digest.fulltext` so that the parsers (`fulltext_html`, `fulltext_pdf`) and
the fetcher that calls them import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Section"]


@dataclass(frozen=True, slots=True)
class Section:
    """One top-level section: its heading ("3 Method", "Abstract") and its text (subsections inline)."""

    title: str
    text: str
