"""Every exception `digest/` raises, under one base, so callers never catch a library's types.

Library errors (httpx, feedparser, SQLAlchemy) are mapped at the boundary with `raise ... from exc`.
"""

from __future__ import annotations


class PaperboyError(Exception):
    """Base of every paperboy error."""


class SourceError(PaperboyError):
    """Talking to arXiv failed."""


class FeedUnavailable(SourceError):
    """An RSS feed could not be fetched or parsed after retries (not the same as an empty day)."""


class ApiUnavailable(SourceError):
    """The arXiv API could not be reached or answered with an error after retries."""


class FullTextUnavailable(SourceError):
    """Neither the HTML nor the PDF of a paper could be fetched or read."""


class AnswerTooLarge(SourceError):
    """arXiv's answer is larger than the configured limit; its download was stopped."""


class BadInput(PaperboyError):
    """Something a user typed cannot be understood; the message says what is accepted."""


class UnknownCategory(BadInput):
    """A category name that is not in arXiv's taxonomy; carries suggestions."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        from digest.clean import echo

        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown category '{echo(name)}'.{hint}")
        self.name = name
        self.suggestions = suggestions


class BadArxivId(BadInput):
    """Text that is not an arXiv id or URL."""


class PaperNotFound(PaperboyError):
    """arXiv has no paper with this id."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(f"arXiv has no paper {paper_id}.")
        self.paper_id = paper_id
