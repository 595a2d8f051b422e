"""Paper embeddings from the LLM provider: stored compactly in the database, read back for cosines.

Optional (`llm.embedding_model`; empty = off). The bot asks the provider for a vector per paper as
papers arrive (`bot.embedder`) and stores it here; Related (`digest.related`) and the personal
ranker (`digest.personal`) blend the cosine between two papers' vectors into their TF-IDF scores
when both papers have one, and fall back to TF-IDF alone otherwise. This module knows nothing of
the provider: it stores, finds and compares vectors.

How a vector is kept: L2-normalised, then as float16 (`vector`, 2 bytes a dimension: 3 KB for
1536 dimensions, 512 bytes at `llm.embedding_dimensions = 256`), with the model it came from
(`model`, which names the dimensions too, so changing either re-embeds) and a hash of the text
embedded (`text_hash`, so a new version with a new abstract is embedded again, and an unchanged
one never is). One row per paper: a new model's vector replaces the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import DateTime, LargeBinary, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from digest.db import Base
from digest.schema import PaperRow, utcnow

__all__ = [
    "MAX_TEXT_CHARS",
    "PaperEmbeddingRow",
    "PaperEmbeddings",
    "cosines",
    "embedding_text",
    "model_key",
    "pack",
    "text_hash",
    "unpack",
]

MAX_TEXT_CHARS = 4000  # about 1,000 tokens: an arXiv abstract is at most 1,920 characters, a title a few hundred
_IN_CHUNK = 500  # ids per IN (...) query
CACHE_SIZE = 20_000  # vectors kept in memory (float16: 60 MB at 1536 dimensions, 10 MB at 256)


class PaperEmbeddingRow(Base):
    """One paper's embedding: float16, unit length, from `model` over the text whose hash is `text_hash`."""

    __tablename__ = "paper_embeddings"

    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))  # "<model>" or "<model>@<dimensions>"
    text_hash: Mapped[str] = mapped_column(String(16))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    embedded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def model_key(model: str, dimensions: int = 0) -> str:
    """What a stored vector is labelled with: the model, and the dimensions when they were asked for."""
    return f"{model}@{dimensions}" if dimensions else model


def embedding_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: title and abstract, cut at `MAX_TEXT_CHARS`."""
    return f"{title.strip()}\n\n{(abstract or '').strip()}"[:MAX_TEXT_CHARS]


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def pack(vector: Sequence[float] | np.ndarray) -> bytes:
    """A vector as stored: unit length, float16."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array)) or 1.0
    return (array / norm).astype(np.float16).tobytes()


def unpack(blob: bytes) -> np.ndarray:
    """A stored vector back as float32 (unit length, within float16's precision)."""
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


class PaperEmbeddings:
    """The stored vectors of one model: read them, find what still needs one, save new ones."""

    def __init__(self, sessions: sessionmaker[Session], model: str, *, cache_size: int = CACHE_SIZE) -> None:
        self.sessions = sessions
        self.model = model  # a `model_key`
        self.cache_size = cache_size
        # A day's papers are read again for every chat's ranking: their packed vectors stay here
        # (emptied when full; `save` keeps it current for this process's own writes).
        self._cache: dict[str, bytes] = {}

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """{paper_id: vector} for the papers among `ids` that have one from this model."""
        wanted = list(dict.fromkeys(ids))
        cache = self._cache
        found = {paper_id: cache[paper_id] for paper_id in wanted if paper_id in cache}
        unknown = [paper_id for paper_id in wanted if paper_id not in found]
        with self.sessions() as session:
            for start in range(0, len(unknown), _IN_CHUNK):
                rows = session.execute(
                    select(PaperEmbeddingRow.paper_id, PaperEmbeddingRow.vector)
                    .where(PaperEmbeddingRow.paper_id.in_(unknown[start : start + _IN_CHUNK]),
                           PaperEmbeddingRow.model == self.model))
                found.update((paper_id, blob) for paper_id, blob in rows)
        if len(cache) + len(found) > self.cache_size:
            cache.clear()
        cache.update(list(found.items())[: self.cache_size])
        return {paper_id: unpack(blob) for paper_id, blob in found.items()}

    def stale(self, ids: Iterable[str]) -> list[tuple[str, str]]:
        """(paper_id, text) for the stored papers among `ids` whose vector is missing, from another
        model, or of another text (a new version): what embedding them would change."""
        wanted = list(dict.fromkeys(ids))
        out: list[tuple[str, str]] = []
        with self.sessions() as session:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                have = dict(session.execute(
                    select(PaperEmbeddingRow.paper_id, PaperEmbeddingRow.text_hash)
                    .where(PaperEmbeddingRow.paper_id.in_(chunk), PaperEmbeddingRow.model == self.model)).all())
                rows = session.execute(select(PaperRow.id, PaperRow.title, PaperRow.abstract)
                                       .where(PaperRow.id.in_(chunk)).order_by(PaperRow.id))
                for paper_id, title, abstract in rows:
                    text = embedding_text(title, abstract)
                    if have.get(paper_id) != text_hash(text):
                        out.append((paper_id, text))
        return out

    def missing(self, limit: int, after: str = "") -> list[tuple[str, str]]:
        """Up to `limit` (paper_id, text) of stored papers with no vector from this model, by id after `after`
        (the history job pages through the store with it)."""
        embedded = select(PaperEmbeddingRow.paper_id).where(
            PaperEmbeddingRow.paper_id == PaperRow.id, PaperEmbeddingRow.model == self.model).exists()
        query = (select(PaperRow.id, PaperRow.title, PaperRow.abstract)
                 .where(~embedded, PaperRow.id > after).order_by(PaperRow.id).limit(limit))
        with self.sessions() as session:
            return [(paper_id, embedding_text(title, abstract)) for paper_id, title, abstract in session.execute(query)]

    def count_missing(self) -> int:
        """How many stored papers have no vector from this model."""
        with self.sessions() as session:
            papers = session.scalar(select(func.count()).select_from(PaperRow)) or 0
            done = session.scalar(select(func.count()).select_from(PaperEmbeddingRow)
                                  .join(PaperRow, PaperRow.id == PaperEmbeddingRow.paper_id)
                                  .where(PaperEmbeddingRow.model == self.model)) or 0
        return max(0, papers - done)

    def save(self, items: Sequence[tuple[str, str, Sequence[float] | np.ndarray]]) -> None:
        """Store (paper_id, text, vector) triples, replacing a paper's older vector; one transaction."""
        if not items:
            return
        try:
            self._save(items)
        except IntegrityError:  # another process stored one of these papers' first vector meanwhile
            self._save(items)

    def _save(self, items: Sequence[tuple[str, str, Sequence[float] | np.ndarray]]) -> None:
        ids = [paper_id for paper_id, _, _ in items]
        with self.sessions.begin() as session:
            existing = {row.paper_id: row for row in session.scalars(
                select(PaperEmbeddingRow).where(PaperEmbeddingRow.paper_id.in_(ids)).with_for_update())}
            for paper_id, text, vector in items:
                row = existing.get(paper_id) or PaperEmbeddingRow(paper_id=paper_id)
                row.model, row.text_hash, row.vector = self.model, text_hash(text), pack(vector)
                row.embedded_at = utcnow()
                self._cache.pop(paper_id, None)
                if paper_id not in existing:
                    session.add(row)
                    existing[paper_id] = row


def cosines(query: np.ndarray, vectors: dict[str, np.ndarray]) -> dict[str, float]:
    """{paper_id: cosine with `query`} (the stored vectors are unit length already)."""
    norm = float(np.linalg.norm(query)) or 1.0
    return {paper_id: float(vector @ query) / norm for paper_id, vector in vectors.items()
            if vector.shape == query.shape}
