"""Related-papers benchmark: the bot's Related (TF-IDF cosine) against Cool Papers' [REL] baseline.

    python bench/bench_related.py [--papers 300] [--ngrams 1|2] [--corpus PATH]

Relevance proxy (no human judgements exist for this corpus): two papers are related when they share
at least two authors. Co-authors who keep writing together keep working on the same problem, and
the proxy is blind to the text, so it favours no text method; requiring two shared names keeps
common single names ("Wei Wang") from making strangers related. Authors on more than 200 papers
are ignored for the same reason. Query papers are drawn at random (fixed seed) among papers with
at least one such related paper; every stored paper (75k) is a candidate.

Methods, all through the bot's own code (digest.related.RelatedFinder on a fresh SQLite store):
- `cool-papers baseline`: the paper's 10 TF-IDF keywords as one BM25 query (FTS5);
- `related (bot)`: cosine of whole-text TF-IDF vectors;
- `random`: 10 random stored papers.
Reported: nDCG@10, recall@10 (of at most 10 related), and latency per paper.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import tempfile
import time

from _corpus import corpus_path, load_papers, ndcg_at, percentile, recall_at

from bot.migrate import init_db
from digest.db import make_engine, make_sessionmaker
from digest.importer import import_jsonl
from digest.related import PaperVectors, RelatedFinder
from digest.search import PaperSearch, rebuild_search_index, suspend_search_index


def relevance(papers, count: int, seed: int):
    by_author = collections.defaultdict(set)
    for p in papers:
        for a in p.authors:
            by_author[a].add(p.id)
    rng = random.Random(seed)
    order = list(papers)
    rng.shuffle(order)
    cases = []
    for paper in order:
        if len(paper.authors) < 2:
            continue
        shared = collections.Counter()
        for author in paper.authors:
            if len(by_author[author]) <= 200:
                shared.update(other for other in by_author[author] if other != paper.id)
        related = {other for other, n in shared.items() if n >= 2}
        if related:
            cases.append((paper, related))
        if len(cases) >= count:
            break
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=300, help="query papers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ngrams", type=int, default=1, help="1 = words (the bot's default), 2 = + word pairs")
    parser.add_argument("--corpus")
    args = parser.parse_args()
    corpus = corpus_path(args.corpus)
    papers = load_papers(corpus)
    cases = relevance(papers, args.papers, args.seed)
    print(f"{len(papers)} papers; {len(cases)} query papers; related per query: "
          f"median {statistics.median(len(r) for _, r in cases):.0f}")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/related.sqlite3")
        init_db(engine)
        with engine.begin() as conn:
            suspend_search_index(conn)
        sessions = make_sessionmaker(engine)
        import_jsonl([corpus], sessions)
        with engine.begin() as conn:
            rebuild_search_index(conn)
        vectors = PaperVectors(sessions, ngrams=args.ngrams)
        started = time.perf_counter()
        vectors.refresh(wait=True)
        print(f"TF-IDF vectors (ngrams 1-{args.ngrams}) fitted in {time.perf_counter() - started:.1f} s")
        finder = RelatedFinder(vectors, PaperSearch(engine))
        ids = [p.id for p in papers]
        rng = random.Random(args.seed)
        methods = {
            "cool-papers baseline": lambda p: [h.id for h in finder.baseline(p, 10)],
            "related (bot)": lambda p: [h.id for h in finder.related(p, 10)],
            "random": lambda p: rng.sample(ids, 10),
        }
        print(f"{'method':22s} {'nDCG@10':>8s} {'recall@10':>10s} {'p50 ms':>8s} {'p95 ms':>8s}")
        scores = {}
        for name, method in methods.items():
            ndcgs, recalls, times = [], [], []
            for paper, related in cases:
                started = time.perf_counter()
                ranked = method(paper)
                times.append((time.perf_counter() - started) * 1000)
                ndcgs.append(ndcg_at(ranked, related))
                recalls.append(recall_at(ranked, related))
            scores[name] = statistics.mean(ndcgs)
            print(f"{name:22s} {scores[name]:8.3f} {statistics.mean(recalls):10.3f} "
                  f"{percentile(times, 50):8.1f} {percentile(times, 95):8.1f}")
        base = scores["cool-papers baseline"]
        print(f"related vs baseline: {100 * (scores['related (bot)'] - base) / base:+.0f}% nDCG@10")
        engine.dispose()


if __name__ == "__main__":
    main()
