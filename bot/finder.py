"""`Finder`: the search index, the related-papers finder and their TF-IDF vectors, built together.

The composition root (`bot.cli.build_app`) builds one per process and hands it to `Paperboy`;
`/search`, `/related`, `/seed` and `paperboy search | related` use it through `app.finder`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.embeddings import PaperEmbeddings
from digest.related import PaperVectors, RelatedFinder, default_index_dir
from digest.search import PaperSearch

__all__ = ["Finder"]


@dataclass
class Finder:
    """The search index, related-papers finder and TF-IDF vectors of one app (or CLI run)."""

    search: PaperSearch
    vectors: PaperVectors
    related: RelatedFinder

    @classmethod
    def build(cls, engine: Engine, sessions: sessionmaker[Session], engine_choice: str = "auto",
              index_dir: str = "", embeddings: PaperEmbeddings | None = None) -> Finder:
        """One over the database at `engine`; `index_dir` holds the persisted Related index ("" = next to it)."""
        search = PaperSearch(engine, engine_choice)
        vectors = PaperVectors(sessions, index_dir=default_index_dir(engine.url.render_as_string(), index_dir))
        return cls(search=search, vectors=vectors, related=RelatedFinder(vectors, search, embeddings))
