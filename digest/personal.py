"""Personal ranking: each chat's papers ordered by what it saved, 👍/👎'd and seeded.

In the spirit of arxiv-sanity's per-user model, on TF-IDF vectors (words and word pairs, hashed so
nothing has to be fitted on the whole store first, weighted as BM25 weighs terms, IDF taken from
the papers being ranked):

- a paper scores its best cosine to one liked paper plus its cosine to the centroid of all liked
  papers (a nearest-neighbour model: it works from the first like, and keeps several interests
  apart where a centroid alone would blur them); older likes count a little less (each like's
  cosines are weighted by sqrt(0.9^age), age = how many likes are newer), and, on a day's list
  (20 papers or more), `DAY_WEIGHT` times the paper's cosine to the day's own centroid is taken
  off, so what is merely typical of the day ranks below what is typical of the reader;
- on a day's list that words score is one of five views of the text, each scored the same way
  (best like + centroid - the day's centroid), standardised over the day and summed with
  `VIEW_WEIGHTS` (`digest.term_counts` describes the views): character 3-5-grams (how an author
  spells and names things), style (stop words, punctuation and word shapes: how an author writes),
  the arXiv comment (venue, project and code links), and the words again weighed by term weights
  learnt from the store (`digest.term_weights`: how much sharing a word says that two papers have
  one author). Finding the reader's own kind of paper is close to authorship attribution, and
  these views carry what the words alone miss. Measured on bench_ranking's text-only evaluation
  (nDCG@10 over TF-IDF cosine, five samples of 300 readers; weights chosen on seeds 7, 5 and 1):
  1.15x, 1.14x, 1.17x, 1.11x and 1.10x on seeds 7, 11, 23, 5 and 1 (1.13x on average; 11 and 23
  held out), against 1.03x-1.09x for the words score alone; about 18 ms per chat instead of 5;
- 👎'd papers push their neighbours down (minus half the best cosine to a disliked paper);
- a paper by an author of a liked paper gets a bonus: people follow groups more than words.

arxiv-sanity's per-user linear SVM (liked papers against the day's other papers) was measured in
the same benchmark and scored no better than the cosine model (nDCG@10 0.355 vs 0.362 text only,
logistic regression 0.355) while costing ~50 ms per chat, so it is not used. Neither are the other
text models measured since (pseudo-relevance feedback, corpus-wide IDF, LSA, query expansion from
the corpus, rare-word bonuses; the README lists them with their figures).

Likes are saved papers, 👍, `/seed` papers and the entries of an imported BibTeX file (all in
`paper_feedback` with a source, except saves, which live in `saved_papers`). 👎 is a dislike.
Every score comes with a reason when there is one worth saying ("close to your saved 2501.01234",
"by Jane Doe, as in your 👍 2501.01234"); nothing is filtered out, papers are only ordered.
`bench/bench_ranking.py` measures this against plain TF-IDF cosine and random order.

What a chat liked and disliked is read from `digest.feedback`; the hashed word counts come from
`digest.term_counts`. `PersonalRanker.scores` is what the digest builder calls per chat; a chat
with no signal costs one indexed query and returns {}.

With provider embeddings on (`llm.embedding_model`), `EMBED_WEIGHT` times the embedding
affinity (best cosine to a liked paper plus cosine to the likes' centroid, over the papers that
have vectors, after taking the day's mean vector out of every vector) is added to each score
(`_embedding_affinity`). Measured with the one real model reachable here (all-MiniLM-L6-v2, run
locally; bench_embeddings --ndcg, 100 readers): text alone 0.356, + embeddings x 0.25 0.316
(x 0.5 0.303; without the centring 0.310 and 0.279), embeddings alone 0.288. So with that model
embeddings make ranking worse; a provider's stronger model was not measured (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from digest.clean import collapse_whitespace
from digest.embeddings import PaperEmbeddings
from digest.feedback import chat_signal, has_signal
from digest.models import Paper
from digest.store import PaperStore
from digest.term_counts import HashedTermCounts, bm25_learnt, bm25_weights
from digest.term_weights import TermWeights

__all__ = ["PersonalRanker", "rank_papers"]

log = logging.getLogger(__name__)

AUTHOR_BONUS = 0.5  # per shared author, at most two
CENTROID_WEIGHT = 1.0
LIKE_DECAY = 0.9
DAY_WEIGHT = 0.6
DAY_MIN = 20
# On a day's list the words score above is one of five views of the text, each standardised over the
# day's papers and summed with these weights (chosen on bench_ranking's seeds 7, 5 and 1; the
# module docstring has the figures). The words score has weight 1; "learnt" is the words view
# weighed by `digest.term_weights` instead of IDF, used once the store's weights are learnt.
VIEW_WEIGHTS = {"chars": 1.0, "style": 0.35, "comment": 0.35, "learnt": 0.6}
VIEW_DAY_WEIGHT = 1.0
REASON_MIN_COSINE = 0.12  # below this, "close to" would be a stretch: no reason is given
SOURCE_LABELS = {"saved": "saved", "up": "👍", "seed": "seeded", "bib": "BibTeX"}
EMBED_WEIGHT = 0.25  # the embedding affinity's weight next to the text model's score (see the module docstring)
EMBED_CENTRED = True  # take the day's mean vector out of every vector first (as DAY_WEIGHT does for words)


def rank_papers(
    likes: Sequence[Paper],
    candidates: Sequence[Paper],
    *,
    dislikes: Sequence[Paper] = (),
    sources: dict[str, str] | None = None,
    vectors: HashedTermCounts | None = None,
    use_authors: bool = True,
    term_weights: np.ndarray | None = None,
    views: bool = True,
    embeddings: Mapping[str, np.ndarray] | None = None,
) -> dict[str, tuple[float, str | None]]:
    """Score candidates against liked and disliked papers: {paper_id: (score, reason or None)}.

    `term_weights` are the store's learnt weights (`digest.term_weights`); `views=False` keeps the
    words view alone (the model before the other views, for the benchmark)."""
    if not candidates or not (likes or dislikes):
        return {}
    vectors = vectors or HashedTermCounts()
    sources = sources or {}
    everything = [*likes, *dislikes, *candidates]
    matrix = bm25_weights(vectors.counts(everything))
    n_like, n_dis = len(likes), len(dislikes)
    like_m, dis_m, cand_m = matrix[:n_like], matrix[n_like : n_like + n_dis], matrix[n_like + n_dis :]

    scores = np.zeros(len(candidates))
    best = np.zeros(len(candidates))
    nearest = np.zeros(len(candidates), dtype=int)
    if n_like:
        sims = np.asarray((cand_m @ like_m.T).todense())
        ages = np.arange(n_like)[::-1]  # likes come oldest first
        weighted = sims * np.sqrt(LIKE_DECAY ** ages)[None, :]
        best, nearest = sims.max(axis=1), sims.argmax(axis=1)  # the reason names the closest like
        centroid = np.asarray(like_m.mean(axis=0)).ravel()
        centroid /= np.linalg.norm(centroid) or 1.0
        scores = weighted.max(axis=1) + CENTROID_WEIGHT * (cand_m @ centroid)
        if len(candidates) >= DAY_MIN:
            day = np.asarray(cand_m.mean(axis=0)).ravel()
            day /= np.linalg.norm(day) or 1.0
            scores = scores - DAY_WEIGHT * (cand_m @ day)
            if views:
                scores = _with_views(scores, likes, candidates, vectors, term_weights)
    if embeddings and n_like:
        scores = scores + EMBED_WEIGHT * _embedding_affinity(likes, candidates, embeddings)
    if n_dis:
        scores = scores - 0.5 * np.asarray((cand_m @ dis_m.T).todense()).max(axis=1)

    author_of = _author_index(likes) if use_authors else {}
    result: dict[str, tuple[float, str | None]] = {}
    liked_ids = {p.id for p in likes}
    label = lambda pid: SOURCE_LABELS.get(sources.get(pid, "saved"), "liked")  # noqa: E731
    for i, paper in enumerate(candidates):
        reason = None
        shared = [a for a in paper.authors if _norm_name(a) in author_of]
        score = float(scores[i])
        if paper.id in liked_ids:
            reason = f"in your {label(paper.id)} papers"
            score += AUTHOR_BONUS * min(len(shared), 2)
        elif shared:
            score += AUTHOR_BONUS * min(len(shared), 2)
            liked = author_of[_norm_name(shared[0])]
            reason = f"by {shared[0]}, as your {label(liked)} {liked}"
        elif n_like and best[i] >= REASON_MIN_COSINE:
            liked = likes[int(nearest[i])].id
            reason = f"close to your {label(liked)} {liked}"
        result[paper.id] = (score, reason)
    return result


def _embedding_affinity(likes: Sequence[Paper], candidates: Sequence[Paper],
                        embeddings: Mapping[str, np.ndarray]) -> np.ndarray:
    """Each candidate's best embedding cosine to a like plus its cosine to the likes' centroid;
    a candidate without a vector gets the mean of the others (neither helped nor hurt); all 0
    when no like has a vector."""
    liked = [embeddings[p.id] for p in likes if p.id in embeddings]
    have = [i for i, p in enumerate(candidates) if p.id in embeddings]
    out = np.zeros(len(candidates))
    if not liked or not have or len({v.shape for v in liked} | {embeddings[candidates[i].id].shape for i in have}) != 1:
        return out
    like_m = np.vstack(liked)
    cand_m = np.vstack([embeddings[candidates[i].id] for i in have])
    if EMBED_CENTRED and len(have) >= DAY_MIN:
        day = cand_m.mean(axis=0)
        like_m, cand_m = like_m - day, cand_m - day
        like_m /= np.linalg.norm(like_m, axis=1, keepdims=True) + 1e-9
        cand_m /= np.linalg.norm(cand_m, axis=1, keepdims=True) + 1e-9
    centroid = like_m.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    # einsum, not BLAS (`@`): BLAS runs products of this size on several threads, which costs
    # 1-30 ms a call when the cores are busy; einsum stays on this thread (under 1 ms)
    out[have] = np.einsum("ij,kj->ik", cand_m, like_m).max(axis=1) + np.einsum("ij,j->i", cand_m, centroid)
    without = np.ones(len(candidates), dtype=bool)
    without[have] = False
    out[without] = out[have].mean()
    return out


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _with_views(words: np.ndarray, likes: Sequence[Paper], candidates: Sequence[Paper],
                vectors: HashedTermCounts, term_weights: np.ndarray | None) -> np.ndarray:
    """The words score with the other views of the text added (`VIEW_WEIGHTS`), each standardised over
    the day, and put back on the words score's scale, so dislikes and shared authors weigh as before."""
    papers, n_like = [*likes, *candidates], len(likes)
    total = _standardised(words)
    decay = np.sqrt(LIKE_DECAY ** np.arange(n_like)[::-1])
    for kind, weight in VIEW_WEIGHTS.items():
        if kind == "chars":  # ~1,900 n-grams a paper: the day's matrix is built once for every chat
            total += weight * _standardised(_day_view(vectors, likes, candidates, kind, decay))
            continue
        if kind == "learnt":
            if term_weights is None:
                continue
            matrix = bm25_learnt(vectors.counts(papers), term_weights)
        else:
            matrix = bm25_weights(vectors.counts(papers, kind))
        like_m, cand_m = matrix[:n_like], matrix[n_like:]
        centroid = np.asarray(like_m.mean(axis=0)).ravel()
        centroid /= np.linalg.norm(centroid) or 1.0
        view = cand_m @ centroid
        if kind != "comment":  # a comment is a line or none: its centroid alone is the steadier score
            best = (np.asarray((cand_m @ like_m.T).todense()) * decay[None, :]).max(axis=1)
            day = np.asarray(cand_m.mean(axis=0)).ravel()
            day /= np.linalg.norm(day) or 1.0
            view = best + view - VIEW_DAY_WEIGHT * (cand_m @ day)
        total += weight * _standardised(view)
    spread = float(total.std())
    if spread == 0:
        return words
    return words.mean() + words.std() * total / spread


def _day_view(vectors: HashedTermCounts, likes: Sequence[Paper], candidates: Sequence[Paper], kind: str,
              decay: np.ndarray) -> np.ndarray:
    """A view scored against the day's cached matrix (IDF from the day): best like + centroid - the
    candidates' own centroid."""
    day, rows = vectors.day_matrix(candidates, kind)
    like_m = day.weigh(vectors.counts(likes, kind))
    best = (np.asarray((like_m @ day.rows_t).todense())[:, rows].T * decay[None, :]).max(axis=1)
    cand_m = day.rows[rows]
    centroid = np.asarray(like_m.mean(axis=0)).ravel()
    centroid /= np.linalg.norm(centroid) or 1.0
    own = np.asarray(cand_m.mean(axis=0)).ravel()
    own /= np.linalg.norm(own) or 1.0
    return best + cand_m @ centroid - VIEW_DAY_WEIGHT * (cand_m @ own)


def _norm_name(name: str) -> str:
    return collapse_whitespace(name.lower().replace(".", " "))


def _author_index(likes: Sequence[Paper]) -> dict[str, str]:
    index: dict[str, str] = {}
    for paper in likes:
        if len(paper.authors) > 30:  # a 300-author collaboration says little about anyone's taste
            continue
        for author in paper.authors:
            index.setdefault(_norm_name(author), paper.id)
    return index


class PersonalRanker:
    """Per-chat scores for the digest builder: `scores(chat_id, papers)`; {} when the chat gave no signal."""

    def __init__(self, sessions: sessionmaker[Session], store: PaperStore | None = None,
                 term_weights: TermWeights | None = None, *, embeddings: PaperEmbeddings | None = None) -> None:
        self.sessions = sessions
        self.store = store or PaperStore(sessions)
        self.term_weights = term_weights
        self.embeddings = embeddings  # provider embeddings (llm.embedding_model), or None when off
        self._vectors = HashedTermCounts()

    def scores(self, chat_id: str, papers: list[Paper]) -> dict[str, tuple[float, str | None]]:
        """{paper_id: (score, reason)} for `papers`, higher first; {} quickly for chats without likes."""
        if not papers or not has_signal(self.sessions, chat_id):
            return {}
        signal = chat_signal(self.sessions, chat_id)
        if signal.empty:
            return {}
        known = {p.id: p for p in papers}
        wanted = [i for i in [*signal.likes, *signal.dislikes] if i not in known]
        stored = self.store.get_papers(wanted) if wanted else {}
        stored.update({i: known[i] for i in [*signal.likes, *signal.dislikes] if i in known})
        likes = [stored[i] for i in signal.likes if i in stored]
        dislikes = [stored[i] for i in signal.dislikes if i in stored]
        return rank_papers(likes, papers, dislikes=dislikes, sources=signal.likes, vectors=self._vectors,
                           term_weights=self._learnt(), embeddings=self._embedded([*likes, *papers]))

    def rank(self, likes: Sequence[Paper], candidates: Sequence[Paper]) -> list[tuple[Paper, float, str | None]]:
        """Candidates best first against an explicit list of liked papers (the `paperboy rank` CLI)."""
        scored = rank_papers(likes, candidates, vectors=self._vectors, term_weights=self._learnt(),
                             embeddings=self._embedded([*likes, *candidates]))
        order = sorted(candidates, key=lambda p: -scored.get(p.id, (0.0, None))[0])
        return [(p, *scored.get(p.id, (0.0, None))) for p in order]

    def _learnt(self) -> np.ndarray | None:
        return self.term_weights.current() if self.term_weights is not None else None

    def _embedded(self, papers: Sequence[Paper]) -> dict[str, np.ndarray] | None:
        """The stored embeddings of `papers` (None when embeddings are off or cannot be read)."""
        if self.embeddings is None:
            return None
        try:
            return self.embeddings.vectors(p.id for p in papers)
        except Exception:  # an extra: never let it cost a digest
            log.exception("ranking: reading embeddings failed; text only")
            return None
