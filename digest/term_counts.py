"""Hashed counts of papers' text, cached, and their BM25 weights: the personal ranker's text.

Hashing (scikit-learn's HashingVectorizer) needs no vocabulary fitted on the whole store first,
so ranking a day's papers never waits for a fit. The counts of recently seen papers are cached as
raw arrays, so stacking a day's papers is one concatenation rather than hundreds of sparse stacks.

Four views of a paper (`KINDS`), each hashed into 2^20 columns:
- `words`: words and word pairs of the title (twice) and abstract, English stop words dropped;
- `chars`: character 3-5-grams within words of the title and abstract, case and punctuation kept
  (how an author spells, abbreviates and names things: "LLaMA-3", "w.r.t.", "SOTA");
- `style`: 1-3-grams of the text with every word that is not a stop word replaced by its shape
  (`<w>`, `<C>` capitalised, `<A>` all capitals, `<d>` digits), stop words and punctuation kept:
  how an author writes ("in this paper , we <w>"), as authorship attribution reads it;
- `comment`: the arXiv comment's words (page and figure counts dropped) and its links kept whole
  and by prefix (`github.com/group`, `group.github.io/project`).
Authors are never part of any view.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.models import Paper
from digest.vector_index import l2_normalize

__all__ = ["KINDS", "DayMatrix", "HashedTermCounts", "bm25_learnt", "bm25_weights", "sublinear_tfidf"]

N_FEATURES = 2**20
CACHE_LIMIT = 20_000  # hashed vectors kept in memory (a few days of papers)
# character n-grams are ~1,900 a paper against ~220 words (15 KB against 2 KB): a fifth as many kept
CACHE_SHARE = {"chars": 0.2}
DAY_CACHE = 4  # day matrices kept (a day's papers each; ~4-10 MB of character n-grams)
DAY_UNION_LIMIT = 5000  # the most papers one day matrix grows to
COMMON_SHARE = 0.2  # a day matrix drops the columns more than this share of the day's papers use


KINDS = ("words", "chars", "style", "comment")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_LINK = re.compile(r"https?://\S+|\S+\.github\.io\S*|github\.com/\S+")
_COMMENT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")
_COUNT_WORDS = frozenset({"pages", "figures", "tables", "figure", "table", "page"})


def _text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract}"


def _style_grams(text: str, stop: frozenset[str]) -> list[str]:
    shapes = []
    for token in _TOKEN.findall(text):
        lower = token.lower()
        if lower in stop or not token[0].isalnum():
            shapes.append(lower)
        elif token[0].isdigit():
            shapes.append("<d>")
        elif token.isupper() and len(token) > 1:
            shapes.append("<A>")
        elif token[0].isupper():
            shapes.append("<C>")
        else:
            shapes.append("<w>")
    grams = list(shapes)
    grams += [f"{a} {b}" for a, b in itertools.pairwise(shapes)]
    grams += [f"{a} {b} {c}" for a, b, c in zip(shapes, shapes[1:], shapes[2:], strict=False)]
    return grams


def _comment_tokens(comment: str, stop: frozenset[str]) -> list[str]:
    tokens = []
    for link in _LINK.findall(comment):
        link = link.rstrip(".,;)").lower().replace("https://", "").replace("http://", "").replace("www.", "")
        parts = link.split("/")
        tokens += ["URL:" + "/".join(parts[:k]) for k in range(1, min(len(parts), 3) + 1)]
    words = _COMMENT_WORD.findall(re.sub(r"https?://\S+", " ", comment))
    return tokens + [w.lower() for w in words if w.lower() not in stop and w.lower() not in _COUNT_WORDS]


def _hasher(kind: str = "words") -> Callable[[Sequence[Paper]], sparse.csr_matrix]:
    """The kind's hashing of papers (scikit-learn imported on first use: the import costs a second of start-up)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

    stop = frozenset(ENGLISH_STOP_WORDS)
    common = dict(n_features=N_FEATURES, alternate_sign=False, norm=None, dtype=np.float32)
    if kind == "chars":
        chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=False, **common)
        return lambda papers: chars.transform([_text(p) for p in papers])
    if kind == "style":
        style = HashingVectorizer(analyzer=lambda text: _style_grams(text, stop), **common)
        return lambda papers: style.transform([_text(p) for p in papers])
    if kind == "comment":
        comment = HashingVectorizer(analyzer=lambda text: _comment_tokens(text, stop), **common)
        return lambda papers: comment.transform([p.comment or "" for p in papers])
    words = HashingVectorizer(
        ngram_range=(1, 2),
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        stop_words="english",
        strip_accents="unicode",
        token_pattern=r"(?u)\b[^\W\d_][\w-]*\w\b|\b\d*[^\W\d_]\w*\b",
        dtype=np.float32,
    )
    return lambda papers: words.transform([f"{p.title}. {p.title}. {p.abstract}" for p in papers])


class HashedTermCounts:
    """Hashed counts per paper id of one of `KINDS` (default words), cached up to `limit` papers per kind."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self._hashers: dict[str, Callable[[Sequence[Paper]], sparse.csr_matrix]] = {}
        self._caches: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {kind: {} for kind in KINDS}
        self._limit = limit
        self._days: OrderedDict[tuple[str, int], DayMatrix] = OrderedDict()
        self._lock = threading.Lock()

    def counts(self, papers: Sequence[Paper], kind: str = "words") -> sparse.csr_matrix:
        """One row of counts per paper, in order."""
        cache = self._caches[kind]
        with self._lock:
            rows = {p.id: cache[p.id] for p in papers if p.id in cache}
        missing = list({p.id: p for p in papers if p.id not in rows}.values())
        if missing:
            fresh = self._hasher(kind)(missing).tocsr()
            new: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for i, paper in enumerate(missing):
                lo, hi = fresh.indptr[i], fresh.indptr[i + 1]
                new[paper.id] = (fresh.indices[lo:hi].copy(), fresh.data[lo:hi].copy())
            rows.update(new)
            with self._lock:
                if len(cache) + len(new) > self._limit * CACHE_SHARE.get(kind, 1.0):
                    cache.clear()
                cache.update(new)
        parts = [rows[p.id] for p in papers]
        indptr = np.zeros(len(parts) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(ix) for ix, _ in parts])
        indices = np.concatenate([ix for ix, _ in parts]) if parts else np.zeros(0, dtype=np.int32)
        data = np.concatenate([d for _, d in parts]) if parts else np.zeros(0, dtype=np.float32)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(parts), N_FEATURES))

    def day_matrix(self, papers: Sequence[Paper], kind: str) -> tuple[DayMatrix, np.ndarray]:
        """A TF-IDF matrix holding `papers` (a day's, or a chat's share of one), and the row of each.

        Chats get different shares of one day (their categories, minus what they have seen), so a
        matrix is kept and reused for every list it holds (the last `DAY_CACHE`); a list that is
        mostly in the newest one is merged into it, so after a few chats one matrix holds the day
        (at most `DAY_UNION_LIMIT` papers) and IDF comes from the whole day."""
        ids = [p.id for p in papers]
        with self._lock:
            for key in reversed(self._days):
                day = self._days[key]
                if key[0] == kind and all(i in day.row_of for i in ids):
                    self._days.move_to_end(key)
                    return day, np.array([day.row_of[i] for i in ids], dtype=np.int64)
            newest = next((d for k, d in reversed(self._days.items()) if k[0] == kind), None)
        held = sum(i in newest.row_of for i in ids) if newest is not None else 0
        everything = list(papers)
        if newest is not None and 2 * held >= len(ids) and len(newest.papers) + len(ids) - held <= DAY_UNION_LIMIT:
            everything = [*newest.papers, *(p for p in papers if p.id not in newest.row_of)]
        unique = list({p.id: p for p in everything}.values())
        day = DayMatrix.build(unique, self.counts(unique, kind))
        with self._lock:
            self._days[(kind, id(day))] = day
            while len(self._days) > DAY_CACHE:
                self._days.popitem(last=False)
        return day, np.array([day.row_of[i] for i in ids], dtype=np.int64)

    def _hasher(self, kind: str) -> Callable[[Sequence[Paper]], sparse.csr_matrix]:
        with self._lock:
            if kind not in self._hashers:
                self._hashers[kind] = _hasher(kind)
            return self._hashers[kind]


def bm25_weights(counts: sparse.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """BM25 term weights (saturating, length-normalised TF times IDF from these rows), rows L2-normalised.

    BM25's weighting beat plain sublinear TF-IDF in bench_ranking (nDCG@10 0.372 vs 0.362).
    """
    # only the hashed columns these papers use (a few thousand of 2^20): the rows' cosines are unchanged
    used, compact = np.unique(counts.indices, return_inverse=True)
    counts = sparse.csr_matrix((counts.data, compact.astype(np.int32), counts.indptr),
                               shape=(counts.shape[0], len(used)))
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    average = float(lengths.mean()) or 1.0
    per_entry = np.repeat(lengths, np.diff(counts.indptr))
    weighted = counts.copy()
    weighted.data = (counts.data * (k1 + 1) / (counts.data + k1 * (1 - b + b * per_entry / average))
                     * idf[counts.indices]).astype(np.float32)
    return l2_normalize(weighted)


def _compact(counts: sparse.csr_matrix) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The hashed columns these rows use (a few thousand of 2^20), and the rows over those only."""
    used, compact = np.unique(counts.indices, return_inverse=True)
    return used, sparse.csr_matrix((counts.data, compact.astype(np.int32), counts.indptr),
                                   shape=(counts.shape[0], len(used)))


def sublinear_tfidf(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Textbook TF-IDF (1 + log TF, smoothed IDF from these rows), rows L2-normalised (columns compacted)."""
    _, counts = _compact(counts)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    weighted = counts.copy()
    weighted.data = ((1.0 + np.log(counts.data)) * idf[counts.indices]).astype(np.float32)
    return l2_normalize(weighted)


def bm25_learnt(counts: sparse.csr_matrix, weights: np.ndarray, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """BM25's saturating, length-normalised TF times a learnt weight per hashed column
    (`digest.term_weights`) instead of IDF, rows L2-normalised (columns compacted)."""
    used, counts = _compact(counts)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    average = float(lengths.mean()) or 1.0
    per_entry = np.repeat(lengths, np.diff(counts.indptr))
    weighted = counts.copy()
    weighted.data = (counts.data * (k1 + 1) / (counts.data + k1 * (1 - b + b * per_entry / average))
                     * weights[used][counts.indices]).astype(np.float32)
    return l2_normalize(weighted)


@dataclass(frozen=True)
class DayMatrix:
    """A list of papers (a day's) as sublinear TF-IDF rows with IDF from that list, L2-normalised,
    over the hashed columns the list uses; columns used by more than `COMMON_SHARE` of its papers
    count in each row's length but are then dropped (they cost most of a product and tell least).
    Other papers (a chat's likes) are weighed against it with `weigh`."""

    papers: tuple[Paper, ...]
    row_of: dict[str, int]
    columns: np.ndarray  # sorted hashed columns
    idf: np.ndarray
    max_idf: float  # the IDF of a column no paper of the list uses
    common: np.ndarray  # per column: dropped
    rows: sparse.csr_matrix
    rows_t: sparse.csr_matrix

    @classmethod
    def build(cls, papers: Sequence[Paper], counts: sparse.csr_matrix) -> DayMatrix:
        columns, counts = _compact(counts)
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=len(columns))
        idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        common = df > COMMON_SHARE * n
        rows = counts.copy()
        rows.data = ((1.0 + np.log(counts.data)) * idf[counts.indices]).astype(np.float32)
        rows = l2_normalize(rows)
        rows.data[common[rows.indices]] = 0.0
        rows.eliminate_zeros()
        return cls(tuple(papers), {p.id: i for i, p in enumerate(papers)}, columns, idf,
                   float(np.log(1.0 + n) + 1.0), common, rows, rows.T.tocsr())

    def weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Other papers' rows (hashed counts) weighed with this list's IDF, L2-normalised over all their
        columns, then kept on this list's columns only (the others meet no paper of the list)."""
        position = np.searchsorted(self.columns, counts.indices)
        position[position >= len(self.columns)] = 0
        found = self.columns[position] == counts.indices if len(self.columns) else np.zeros(len(position), bool)
        weighted = counts.copy()
        idf = np.where(found, self.idf[position], self.max_idf)
        weighted.data = ((1.0 + np.log(counts.data)) * idf).astype(np.float32)
        weighted = l2_normalize(weighted)
        keep = found & ~self.common[position] if len(self.columns) else found
        owner = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        return sparse.csr_matrix((weighted.data[keep], (owner[keep], position[keep])),
                                 shape=(counts.shape[0], len(self.columns)))
