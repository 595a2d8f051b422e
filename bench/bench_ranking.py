"""Offline evaluation of the personal ranker (digest.personal.rank_papers) on the 75k corpus.

The question a digest answers is "of today's papers, which will this reader care about?". Without
real readers, an author stands in for one: their earlier papers are the likes, and on a later day
on which they published, their new paper(s) are hidden among every paper announced that day
(200-700 papers). A good ranker puts them in the top 10.

    python bench/bench_ranking.py [--users 300] [--seed 7] [--corpus PATH]

Rankers compared on the same users and days:
- `personal`: the bot's ranker (nearest liked paper + centroid cosine on five views of the text:
  words, character n-grams, style, comment, words under learnt term weights; + co-author bonus);
- `personal (text only)`: the same without the co-author bonus, i.e. the text model alone; the
  proxy (an author's own new paper) rewards the co-author signal directly, so this line is the
  honest measure of the text model;
- `words view alone`: the text model before its other views (characters, style, comment, learnt
  term weights) were added, for comparison;
- `tfidf cosine`: cosine of each paper to the centroid of the liked papers (textbook TF-IDF on
  the same hashed words and word pairs);
- `random`: the day's papers in random order.
The learnt term weights (digest.term_weights) are learnt here, before any ranking, from the
corpus minus every hidden paper of the evaluated readers, with the evaluated readers left out as
supervision (authors are the supervision of that fit; no ranker ever reads a paper's authors
except the `personal` line's co-author bonus), so no reader's answer is learnt from.
Latency is per reader with the day's papers already vectorised and the day's character n-gram
matrix built (the digest builder ranks many chats against the same day; building it costs about
20-40 ms once per day). Authors with one name shared by several people make some "likes" noisy; that noise is the same
for every ranker. Authors of huge collaborations (>30 authors on a paper) are not used as readers.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import time

import numpy as np

from _corpus import corpus_path, load_papers, ndcg_at, recall_at, percentile

from scipy import sparse
from sklearn.preprocessing import normalize

from digest.personal import rank_papers  # noqa: E402
from digest.term_counts import HashedTermCounts  # noqa: E402
from digest.term_weights import learn_weights  # noqa: E402


def build_cases(papers, users: int, seed: int, min_likes: int = 3, max_likes: int = 20):
    by_day = collections.defaultdict(list)
    by_author = collections.defaultdict(list)
    for paper in papers:
        by_day[paper.published].append(paper)
        if len(paper.authors) <= 30:
            for author in paper.authors:
                by_author[author].append(paper)
    rng = random.Random(seed)
    names = sorted(a for a, ps in by_author.items() if len(ps) >= min_likes + 1)
    rng.shuffle(names)
    cases = []
    for name in names:
        own = sorted(by_author[name], key=lambda p: (p.published, p.id))
        days = sorted({p.published for p in own[min_likes:]})
        eligible = [d for d in days if sum(p.published < d for p in own) >= min_likes]
        if not eligible:
            continue
        day = rng.choice(eligible)
        likes = [p for p in own if p.published < day][-max_likes:]
        relevant = {p.id for p in own if p.published == day}
        candidates = by_day[day]
        cases.append((name, likes, candidates, relevant))
        if len(cases) >= users:
            break
    return cases


def plain_tfidf(counts):
    """Textbook TF-IDF (sublinear TF, smoothed IDF from these rows), rows L2-normalised."""
    tf = counts.copy()
    tf.data = 1.0 + np.log(tf.data)
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log((1.0 + tf.shape[0]) / (1.0 + df)) + 1.0
    return sparse.csr_matrix(normalize(tf @ sparse.diags(idf.astype(np.float32))))


def cosine_order(likes, candidates, vectors):
    matrix = plain_tfidf(vectors.counts([*likes, *candidates]))
    centroid = np.asarray(matrix[: len(likes)].mean(axis=0)).ravel()
    scores = matrix[len(likes):] @ centroid
    return [candidates[i].id for i in np.argsort(-scores, kind="stable")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--corpus")
    args = parser.parse_args()
    started = time.perf_counter()
    papers = load_papers(corpus_path(args.corpus))
    cases = build_cases(papers, args.users, args.seed)
    print(f"{len(papers)} papers, {len(cases)} readers; candidates per day: "
          f"median {statistics.median(len(c[2]) for c in cases):.0f}; loaded in {time.perf_counter() - started:.1f} s")
    vectors = HashedTermCounts(limit=10**6)  # every reader's day stays cached, as one day does in the bot
    rng = random.Random(args.seed)
    started = time.perf_counter()
    hidden = {pid for _, _, _, relevant in cases for pid in relevant}
    weights = learn_weights([p for p in papers if p.id not in hidden], exclude_authors={c[0] for c in cases})
    print(f"term weights learnt from {len(papers) - len(hidden)} papers in {time.perf_counter() - started:.1f} s "
          f"({len(hidden)} hidden papers and {len(cases)} readers left out)")
    started = time.perf_counter()
    for _, likes, candidates, _ in cases:  # hash every paper once, as a day's digests would
        for kind in ("words", "chars", "style", "comment"):
            vectors.counts([*likes, *candidates], kind)
    print(f"papers hashed in {time.perf_counter() - started:.1f} s")

    def personal(use_authors, views=True):
        def run(likes, candidates):
            scores = rank_papers(likes, candidates, vectors=vectors, use_authors=use_authors,
                                 term_weights=weights if views else None, views=views)
            return sorted(scores, key=lambda pid: -scores[pid][0])
        return run

    rankers = {
        "personal": personal(True),
        "personal (text only)": personal(False),
        "words view alone": personal(False, views=False),
        "tfidf cosine": lambda likes, cands: cosine_order(likes, cands, vectors),
        "random": lambda likes, cands: rng.sample([p.id for p in cands], len(cands)),
    }
    print(f"{'ranker':24s} {'nDCG@10':>8s} {'recall@10':>10s} {'ms/reader p50':>14s} {'p95':>6s}")
    means = {}
    for name, ranker in rankers.items():
        ndcgs, recalls, times = [], [], []
        for _, likes, candidates, relevant in cases:
            vectors.day_matrix(candidates, "chars")  # built once per day for every chat, like the hashing
            t0 = time.perf_counter()
            ranked = ranker(likes, candidates)
            times.append((time.perf_counter() - t0) * 1000)
            ndcgs.append(ndcg_at(ranked, relevant))
            recalls.append(recall_at(ranked, relevant))
        means[name] = statistics.mean(ndcgs)
        print(f"{name:24s} {means[name]:8.3f} {statistics.mean(recalls):10.3f} "
              f"{percentile(times, 50):14.1f} {percentile(times, 95):6.1f}")
    print(f"text only against TF-IDF cosine (issue 13 asks for 1.10x): "
          f"{means['personal (text only)'] / means['tfidf cosine']:.3f}x")


if __name__ == "__main__":
    main()
