"""Related papers: the stored papers most like one paper, and the TF-IDF vectors behind them.

Cool Papers' [REL] takes 10 TF-IDF keywords of a paper and runs them through BM25 (`baseline`
below, kept for the benchmark). Ten words lose most of what an abstract says, so `related` compares
whole texts instead: the cosine between TF-IDF vectors (title counted twice, term frequency
saturated and length-normalised as in BM25, English stop words and near-universal words dropped)
of the paper and of every stored paper. `bench/bench_related.py` measures both on the 75k corpus
with a co-authorship relevance proxy (figures in the README). Fusing in the BM25 score of the paper's
25 best keywords was measured too and added nothing (nDCG@10 0.124 vs 0.125), and so did LSA (TruncatedSVD, 128 or
256 dimensions, alone or mixed in: 0.056-0.110 vs 0.114), so neither is done.

`PaperVectors` keeps those vectors in a persisted, memory-mapped index (`digest.vector_index`) in
the folder the configuration names (`search.index_dir`), so a start-up opens files instead of
refitting the whole store. It is kept current from the papers' `updated_at`: papers stored since
the index's watermark are vectorised with the existing vocabulary and added as a small segment.
The vocabulary is fitted only when there is none or the store has more than doubled since the
fit; on a large store that fit (and any large catch-up) runs in a background thread, and answers
meanwhile come from the index as it is (or, with no index at all yet, from the search index by
title words), so no answer waits for it. Nothing here is global: the composition root owns one.

With provider embeddings on (`llm.embedding_model`, `digest.embeddings`), Related takes TF-IDF's
best `EMBED_POOL` candidates and orders them by (1 - `EMBED_WEIGHT`) x TF-IDF cosine +
`EMBED_WEIGHT` x embedding cosine, for the candidates that have a vector when the paper has one
(a candidate without one gets the pool's mean cosine, so it is neither helped nor hurt). The
candidates still come from TF-IDF: a paper that shares no words with the query is not found (a
nearest-neighbour search over every stored vector would be the next step). The weight was not
tuned on real embeddings: no provider was reachable where this was built (see the README).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.embeddings import PaperEmbeddings, cosines
from digest.models import Paper
from digest.schema import PaperRow
from digest.search import STOPWORDS, Hit, PaperSearch
from digest.search_query import SearchQuery
from digest.vector_index import VOCAB_SAMPLE, VectorIndex, chunked

__all__ = ["PaperVectors", "RelatedFinder", "default_index_dir", "paper_text"]

log = logging.getLogger(__name__)

_LOAD_CHUNK = 5000
SYNC_LIMIT = 5000  # papers fitted or added inline (about a second); more go to a background thread
EMBED_POOL = 50  # TF-IDF candidates re-ranked with embeddings
EMBED_WEIGHT = 0.5  # share of the embedding cosine in the blended score (not tuned: see the module docstring)


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is vectorised from: the title twice (it is the densest summary), then the abstract."""
    return f"{title}. {title}. {abstract or ''}"


def default_index_dir(database_url: str, configured: str = "") -> Path | None:
    """Where the Related index lives: `configured`, else beside the SQLite file (`<file>.related`),
    else `./paperboy-related` (PostgreSQL); None for an in-memory SQLite database (kept in memory)."""
    if configured:
        return Path(configured).expanduser()
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return Path(path + ".related").expanduser()
    return Path("paperboy-related")


class PaperVectors:
    """The persisted TF-IDF index of every stored paper, opened from disk and kept current."""

    def __init__(self, sessions: sessionmaker[Session], *, ngrams: int = 1, index_dir: Path | None = None,
                 sync_limit: int = SYNC_LIMIT) -> None:
        self.sessions = sessions
        self.ngrams = ngrams  # 2 adds word pairs: nDCG@10 0.120 vs 0.114 in bench_related, fit 54 s vs 16 s
        self.index_dir = index_dir
        self.sync_limit = sync_limit
        self.fits = 0  # vocabulary fits run by this object (a restart that opens the index runs none)
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._opened = False
        self._job: threading.Thread | None = None
        self._work = threading.Lock()  # held by whoever fits or adds (a background thread releases it)

    @property
    def ready(self) -> bool:
        """True when there is an index to answer from."""
        with self._lock:
            self._open()
            return self._index is not None

    @property
    def busy(self) -> bool:
        """True while a fit or catch-up runs (here or in the background)."""
        return self._work.locked()

    def refresh(self, *, wait: bool = False) -> int:
        """Open the index, add papers stored since its watermark, refit the vocabulary when needed.

        Small jobs run inline; large ones (more than `sync_limit` papers) in a background thread,
        unless `wait` (the CLI, a benchmark). While a job runs, other callers do not wait for it
        (unless `wait`): they answer from the index as it is. Returns how many papers were added inline.
        """
        job, size = self._next_job()
        if job is None:
            return 0
        if wait or size <= self.sync_limit:
            if not self._work.acquire(blocking=wait):
                return 0
            try:
                job, _ = self._next_job()  # a job that ran meanwhile may have done it
                return job() if job is not None else 0
            finally:
                self._work.release()
        if self._work.acquire(blocking=False):
            log.info("Related: updating the index of %d papers in the background", size)
            self._job = threading.Thread(target=self._background, args=(job,), name="related-index", daemon=True)
            self._job.start()
        return 0

    def wait(self) -> None:
        """Wait for a background job (tests, shutdown)."""
        job = self._job
        if job is not None:
            job.join()

    def _next_job(self) -> tuple[Callable[[], int] | None, int]:
        with self._lock:
            self._open()
            index = self._index
        if index is None:
            return self._fit, self._count()
        pending = self._count_since(index.watermark)
        if index.size + pending > 2 * index.fitted_on + 10:  # the store has more than doubled since the fit
            return self._fit, index.size + pending
        return (self._add_new, pending) if pending else (None, 0)

    def index(self) -> VectorIndex | None:
        with self._lock:
            self._open()
            return self._index

    def keywords(self, paper: Paper, n: int) -> list[str]:
        """The paper's `n` heaviest TF-IDF terms, single words (as Cool Papers uses)."""
        self.refresh()
        index = self.index()
        if index is None:
            return []
        row = index.vocabulary.weigh([paper_text(paper.title, paper.abstract)])
        ranked = sorted(zip(row.data.tolist(), row.indices.tolist()), reverse=True)
        terms = [index.vocabulary.terms[col] for _, col in ranked]
        return [t for t in terms if " " not in t][:n]

    # --- work ---------------------------------------------------------------------------------------

    def _background(self, job: Callable[[], int]) -> None:
        try:
            job()
        except Exception:
            log.exception("Related: updating the index failed")
        finally:
            self._work.release()

    def _open(self) -> None:
        if not self._opened:
            self._opened = True
            if self.index_dir is not None:
                self._index = VectorIndex.open(self.index_dir)

    def _fit(self) -> int:
        """A new vocabulary and every stored paper's vectors, published as a new generation."""
        watermark = self._watermark()
        total = self._count()
        step = max(1, -(-total // VOCAB_SAMPLE))
        sample = [text for i, (_, text) in enumerate(self._rows(until=watermark)) if i % step == 0]
        index = VectorIndex.build(self.index_dir, sample, chunked(self._rows(until=watermark)),
                                  ngrams=self.ngrams, watermark=watermark, total=total)
        self.fits += 1
        with self._lock:
            self._index = index
        log.info("Related: fitted a vocabulary of %d terms on %d papers", len(index.vocabulary.terms), total)
        return index.size

    def _add_new(self) -> int:
        """Papers stored or changed since the watermark, added as a segment with the same vocabulary."""
        index = self._index
        assert index is not None
        until = self._watermark()
        added = 0
        for ids, texts in chunked(self._rows(since=index.watermark, until=until)):
            index.add(ids, texts, index.watermark)
            added += len(ids)
        index.add([], [], until)
        return added

    # --- the store ----------------------------------------------------------------------------------

    def _count(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(PaperRow)) or 0

    def _watermark(self) -> str:
        with self.sessions() as session:
            newest = session.scalar(select(func.max(PaperRow.updated_at)))
        return newest.isoformat() if newest else ""

    def _count_since(self, watermark: str) -> int:
        query = select(func.count()).select_from(PaperRow)
        if watermark:
            query = query.where(PaperRow.updated_at > dt.datetime.fromisoformat(watermark))
        with self.sessions() as session:
            return session.scalar(query) or 0

    def _rows(self, *, since: str = "", until: str = "") -> Iterator[tuple[str, str]]:
        query = select(PaperRow.id, PaperRow.title, PaperRow.abstract)
        if since:
            query = query.where(PaperRow.updated_at > dt.datetime.fromisoformat(since))
        if until:
            query = query.where(PaperRow.updated_at <= dt.datetime.fromisoformat(until))
        with self.sessions() as session:
            for paper_id, title, abstract in session.execute(query.order_by(PaperRow.id)).yield_per(_LOAD_CHUNK):
                yield paper_id, paper_text(title, abstract)


class RelatedFinder:
    """The 10 (or k) stored papers most related to one paper."""

    def __init__(self, vectors: PaperVectors, search: PaperSearch, embeddings: PaperEmbeddings | None = None) -> None:
        self.vectors = vectors
        self.search = search
        self.embeddings = embeddings

    def related(self, paper: Paper, k: int = 10) -> list[Hit]:
        """The stored papers whose whole text is closest (TF-IDF cosine) to the paper's."""
        self.vectors.refresh()
        index = self.vectors.index()
        if index is None:  # the first fit of a large store is still running: never make the reader wait
            return self._by_title_words(paper, k)
        query = index.vocabulary.weigh([paper_text(paper.title, paper.abstract)])
        if self.embeddings is not None:
            return self._blended(paper.id, index.top(query, max(k, EMBED_POOL), exclude=paper.id), k)
        return [Hit(paper_id, score) for paper_id, score in index.top(query, k, exclude=paper.id)]

    def _blended(self, paper_id: str, pool: list[tuple[str, float]], k: int) -> list[Hit]:
        """TF-IDF's candidates re-ranked with the embedding cosine, when the paper and some candidates have vectors."""
        assert self.embeddings is not None
        try:
            vectors = self.embeddings.vectors([paper_id, *(pid for pid, _ in pool)])
        except Exception:  # the embeddings are an extra: never let them cost an answer
            log.exception("Related: reading embeddings failed; TF-IDF only")
            vectors = {}
        own = vectors.pop(paper_id, None)
        similar = cosines(own, vectors) if own is not None else {}
        if not similar:
            return [Hit(pid, score) for pid, score in pool[:k]]
        fill = sum(similar.values()) / len(similar)
        blended = [(pid, (1 - EMBED_WEIGHT) * score + EMBED_WEIGHT * similar.get(pid, fill)) for pid, score in pool]
        blended.sort(key=lambda item: (-item[1], item[0]))
        return [Hit(pid, score) for pid, score in blended[:k]]

    def baseline(self, paper: Paper, k: int = 10) -> list[Hit]:
        """Cool Papers' [REL]: the paper's 10 TF-IDF keywords as one BM25 query (for the benchmark)."""
        self.vectors.refresh()
        words = tuple(self.vectors.keywords(paper, 10))
        if not words:
            return []
        page = self.search.search_any(SearchQuery(words=words), limit=k + 1)
        return [h for h in page.hits if h.id != paper.id][:k]

    def _by_title_words(self, paper: Paper, k: int) -> list[Hit]:
        words = tuple(dict.fromkeys(w for w in paper.title.lower().split() if w.isalpha() and w not in STOPWORDS))
        if not words:
            return []
        page = self.search.search_any(SearchQuery(words=words), limit=k + 1)
        return [h for h in page.hits if h.id != paper.id][:k]
