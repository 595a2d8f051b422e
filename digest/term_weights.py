"""Term weights learnt from the store: how much sharing a word says that two papers share an author.

IDF says a rare word is worth more than a common one. What the personal ranker wants to know is
narrower: when two papers both use a word, how much likelier is it that they come from the same
person? The store answers that by itself, with authors as the supervision (at ranking time only
the text is read). For every hashed word or word pair t (the `words` view of `digest.term_counts`):

- stickiness(t) = P(another paper of the same author has t | one has t), counted over every pair
  of papers by one author (authors of at most 30-author papers, with two papers or more), and
  smoothed towards the average with `SMOOTHING` pseudo-pairs;
- the weight is log(stickiness(t) / P(t)) (the lift of t between papers of one author over
  papers at random), floored at `FLOOR`.

A word every paper of a group repeats (its system's name, its dataset, its turn of phrase) weighs
more than an equally rare word people use once. The ranker uses these weights instead of IDF in
one of its text views (`digest.personal`). Measured on bench_ranking (learnt there only from
papers that are nobody's hidden paper and from authors who are not among the evaluated readers).

`TermWeights` keeps the weights in a file beside the store (`search.term_weights_file`; 2^20
float16 values, 2 MB): a start-up opens the file and never fits. They are learnt from the newest
`FIT_SAMPLE` stored papers (100,000: about 25 s), and refitted in a background thread when the
store has grown by `REFIT_GROWTH` since the fit, checked at most every `CHECK_EVERY_S`; until the
first fit is done the ranker simply does without them.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Paper
from digest.schema import PaperRow
from digest.store import paper_from_row
from digest.term_counts import N_FEATURES, HashedTermCounts

__all__ = ["TermWeights", "default_weights_file", "learn_weights"]

log = logging.getLogger(__name__)

FIT_SAMPLE = 100_000  # the newest papers the weights are learnt from
MIN_PAIRS = 100  # fewer same-author paper pairs than this: nothing worth learning, no weights
SMOOTHING = 20.0
FLOOR = 0.1
MAX_AUTHORS = 30  # papers of larger collaborations say little about any one author
REFIT_GROWTH = 0.1
CHECK_EVERY_S = 600.0
_CHUNK = 5000


def default_weights_file(database_url: str, configured: str = "") -> Path | None:
    """Where the learnt term weights live: `configured`, else beside the SQLite file
    (`<file>.termweights.npz`), else `./paperboy-termweights.npz` (PostgreSQL); None for an
    in-memory SQLite database (kept in memory)."""
    if configured:
        return Path(configured).expanduser()
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return Path(path + ".termweights.npz").expanduser()
    return Path("paperboy-termweights.npz")


def learn_weights(papers: Sequence[Paper], *, exclude_authors: Iterable[str] = ()) -> np.ndarray | None:
    """One learnt weight per hashed word column (float32, 2^20), or None when `papers` hold too few
    same-author pairs. Authors in `exclude_authors` are not used as supervision (the benchmark's readers)."""
    excluded = set(exclude_authors)
    counts = HashedTermCounts(limit=0)
    parts = [counts.counts(papers[lo : lo + _CHUNK]) for lo in range(0, len(papers), _CHUNK)]
    present = sparse.vstack(parts).tocsr() if parts else sparse.csr_matrix((0, N_FEATURES), dtype=np.float32)
    present.data[:] = 1.0
    rows_of: dict[str, list[int]] = collections.defaultdict(list)
    for i, paper in enumerate(papers):
        if len(paper.authors) <= MAX_AUTHORS:
            for author in dict.fromkeys(paper.authors):
                if author not in excluded:
                    rows_of[author].append(i)
    groups = [rows for rows in rows_of.values() if len(rows) >= 2]
    pairs = sum(len(g) * (len(g) - 1) for g in groups)
    if pairs < 2 * MIN_PAIRS:
        return None
    shared = np.zeros(N_FEATURES)  # over ordered same-author pairs: both papers have t
    either = np.zeros(N_FEATURES)  # ... the first has t
    for lo in range(0, len(groups), _CHUNK):
        chunk = groups[lo : lo + _CHUNK]
        owners = np.repeat(np.arange(len(chunk)), [len(g) for g in chunk])
        members = np.concatenate([np.asarray(g) for g in chunk])
        incidence = sparse.csr_matrix((np.ones(len(members), np.float32), (owners, members)),
                                      shape=(len(chunk), len(papers)))
        df = (incidence @ present).tocsr()  # per author: how many of their papers have t
        sizes = np.repeat(np.array([len(g) for g in chunk], dtype=np.float64), np.diff(df.indptr))
        x = df.data.astype(np.float64)
        shared += np.bincount(df.indices, weights=x * (x - 1), minlength=N_FEATURES)
        either += np.bincount(df.indices, weights=x * (sizes - 1), minlength=N_FEATURES)
    average = shared.sum() / (either.sum() or 1.0)
    stickiness = (shared + SMOOTHING * average) / (either + SMOOTHING)
    n = present.shape[0]
    frequency = (np.bincount(present.indices, minlength=N_FEATURES) + 1.0) / (n + 1.0)
    return np.maximum(np.log(stickiness / frequency), FLOOR).astype(np.float32)


class TermWeights:
    """The store's learnt term weights, opened from a file, refitted in the background as the store grows."""

    def __init__(self, sessions: sessionmaker[Session], path: Path | None = None, *, sample: int = FIT_SAMPLE,
                 check_every_s: float = CHECK_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.path = path
        self.sample = sample
        self.check_every_s = check_every_s
        self.clock = clock
        self.fits = 0  # fits run by this object (a restart that opens the file runs none)
        self.fitted_on = 0  # the store's size when the weights in use were learnt
        self._weights: np.ndarray | None = None
        self._opened = False
        self._checked_at: float | None = None
        self._lock = threading.Lock()
        self._work = threading.Lock()  # held while a fit runs (a background thread releases it)
        self._job: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._work.locked()

    def current(self) -> np.ndarray | None:
        """The weights in use (None until a first fit is done); never waits for a fit, starts one when due."""
        self._open()
        self.refresh()
        return self._weights

    def refresh(self, *, wait: bool = False) -> bool:
        """Start a fit when there are no weights or the store grew by `REFIT_GROWTH` since the fit (checked at
        most every `check_every_s` unless `wait`). In a background thread, unless `wait`. True if one started."""
        self._open()
        now = self.clock()
        with self._lock:
            if not wait and self._checked_at is not None and now - self._checked_at < self.check_every_s:
                return False
            self._checked_at = now
        if self.busy and not wait:
            return False
        size = self._count()
        if self._weights is not None and size <= self.fitted_on * (1 + REFIT_GROWTH):
            return False
        if not self._work.acquire(blocking=wait):
            return False
        if wait:
            try:
                self._fit()
            finally:
                self._work.release()
            return True
        self._job = threading.Thread(target=self._background, name="term-weights", daemon=True)
        self._job.start()
        return True

    def wait(self) -> None:
        """Wait for a background fit (tests, shutdown)."""
        job = self._job
        if job is not None:
            job.join()

    def _background(self) -> None:
        try:
            self._fit()
        except Exception:
            log.exception("term weights: the fit failed")
        finally:
            self._work.release()

    def _open(self) -> None:
        with self._lock:
            if self._opened:
                return
            self._opened = True
            if self.path is None or not self.path.is_file():
                return
            try:
                with np.load(self.path) as saved:
                    self._weights = saved["weights"].astype(np.float32)
                    self.fitted_on = int(saved["fitted_on"])
            except Exception:  # a torn or foreign file is relearnt, never fatal
                log.warning("term weights: %s is unreadable; they will be learnt again", self.path)

    def _fit(self) -> None:
        started = time.perf_counter()
        size = self._count()
        papers = self._newest(self.sample)
        weights = learn_weights(papers)
        self.fits += 1
        if weights is None:
            log.info("term weights: %d papers hold too few same-author pairs to learn from", len(papers))
            with self._lock:
                self.fitted_on = size
            return
        if self.path is not None:
            self._save(weights, size)
        with self._lock:
            self._weights, self.fitted_on = weights, size
        log.info("term weights: learnt from %d papers in %.1f s", len(papers), time.perf_counter() - started)

    def _save(self, weights: np.ndarray, size: int) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        with open(partial, "wb") as handle:
            np.savez(handle, weights=weights.astype(np.float16), fitted_on=np.int64(size),
                     fitted_at=np.array(dt.datetime.now(dt.UTC).isoformat()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)

    def _count(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(PaperRow)) or 0

    def _newest(self, limit: int) -> list[Paper]:
        query = select(PaperRow).order_by(PaperRow.updated_at.desc(), PaperRow.id).limit(limit)
        with self.sessions() as session:
            return [paper_from_row(row) for row in session.scalars(query).yield_per(_CHUNK)]
