"""What provider embeddings (`llm.embedding_model`) cost: requests, tokens, time, disk, and (with a
real provider) what they do to the personal ranker's nDCG@10.

    python bench/bench_embeddings.py                       # the fake server of tests/fakes: plumbing only
    python bench/bench_embeddings.py --base-url https://api.openai.com/v1 --api-key sk-... \\
        --model text-embedding-3-small [--dimensions 256] [--papers 2000] [--ndcg --users 100]

It stores `--papers` papers of the 75k corpus in a fresh SQLite file and measures:
- embedding them through `bot.embedder.Embedder` (the bot's own path: the openai SDK, 100 a request,
  vectors stored as float16): ms per 100 papers, requests, tokens per paper as the server reports;
- storage: bytes per paper in the database file (vector and row), and what 1M and 2.7M papers take;
- reading: the vectors Related reads per answer (the paper and 50 candidates), p50 / p95;
- Related with and without the blend, and the personal ranker with and without it (ms per call);
- with `--ndcg`: bench_ranking's text-only evaluation (same readers, same days) with and without
  the embedding term. On the fake server its vectors are hashed words, so that figure says
  nothing about real embeddings: only a real provider's run measures the quality effect.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _corpus import corpus_path, load_papers, ndcg_at, percentile  # also puts the project on sys.path

import bot.embedder
from bot.config import Settings
from bot.embedder import BATCH, Embedder
from bot.migrate import init_db
from digest import personal
from digest.db import make_engine, make_sessionmaker
from digest.embeddings import PaperEmbeddings, model_key
from digest.personal import rank_papers
from digest.related import PaperVectors, RelatedFinder
from digest.search import PaperSearch
from digest.store import PaperStore
from digest.term_counts import HashedTermCounts

DAY = 600  # new papers arXiv announces on a typical day, roughly
HISTORY = 2_700_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="an OpenAI-compatible /v1 URL (default: start the fake server)")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    parser.add_argument("--model", default="fake-embed")
    parser.add_argument("--dimensions", type=int, default=0, help="ask for this many dimensions (0: the model's)")
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--ndcg", action="store_true", help="also run bench_ranking's evaluation with embeddings")
    parser.add_argument("--users", type=int, default=100, help="readers for --ndcg")
    parser.add_argument("--days", type=int, default=0,
                        help="--ndcg on the readers of the N days with most readers only (fewer papers to embed)")
    parser.add_argument("--weights", default="0.5", help="embedding weights to score with --ndcg, e.g. 0.25,0.5,1")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pad", type=int, default=0,
                        help="add this many random vectors (of other ids) first, to measure reads at that table size")
    parser.add_argument("--batch", type=int, default=BATCH, help="papers per request (a slow local server: fewer)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--workdir", help="keep the database here, so a second run embeds nothing again")
    parser.add_argument("--corpus")
    args = parser.parse_args()
    bot.embedder.BATCH = args.batch
    bot.embedder.TIMEOUT_CAP_S = args.timeout

    fake = None
    if not args.base_url:
        from tests.fakes.fake_openai import FakeOpenAI

        fake = FakeOpenAI(embedding_dim=1536)  # text-embedding-3-small's size
        fake.start()
        args.base_url = fake.base_url
    try:
        asyncio.run(run(args))
    finally:
        if fake is not None:
            fake.stop()


async def run(args: argparse.Namespace) -> None:
    papers = load_papers(corpus_path(args.corpus), limit=args.papers)
    llm = Settings().replace("llm", base_url=args.base_url, api_key=args.api_key, embedding_model=args.model,
                             embedding_dimensions=args.dimensions, timeout_s=args.timeout, retries=3).llm
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.workdir or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        db = Path(folder) / "bench.sqlite3"
        engine = make_engine(f"sqlite:///{db}")
        init_db(engine)
        sessions = make_sessionmaker(engine)
        PaperStore(sessions).upsert_papers(papers)
        embeddings = PaperEmbeddings(sessions, model_key(args.model, args.dimensions))
        embedder = Embedder(llm, embeddings)
        before = _db_bytes(engine, db)
        started = time.perf_counter()
        done = await embedder.embed_history()
        seconds = time.perf_counter() - started
        await embedder.aclose()
        per_paper_bytes = (_db_bytes(engine, db) - before) / max(done, 1)
        dims = len(next(iter(embeddings.vectors([papers[0].id]).values())))
        tokens = embedder.tokens / max(done, 1)
        print(f"server: {args.base_url} model {args.model} ({dims} dimensions); {done} papers embedded")
        if not done:
            print("embedding: nothing to embed (the --workdir database has every vector already)")
        print(f"embedding: {seconds * 1000 / max(done, 1) * 100:.0f} ms per 100 papers "
              f"({done / seconds:.0f} papers/s), "
              f"{embedder.requests} requests of up to {bot.embedder.BATCH}, "
              f"{tokens:.0f} tokens per paper as the server counts")
        print(f"storage: {per_paper_bytes:.0f} bytes per paper in SQLite ({dims * 2} of them the float16 vector); "
              f"1M papers: {per_paper_bytes * 1e6 / 2**30:.2f} GiB, 2.7M: {per_paper_bytes * HISTORY / 2**30:.2f} GiB")
        print(f"a day of {DAY} papers: {-(-DAY // bot.embedder.BATCH)} requests, {tokens * DAY / 1e3:.0f}k tokens; "
              f"the {HISTORY / 1e6:.1f}M history: {-(-HISTORY // bot.embedder.BATCH)} requests, "
              f"{tokens * HISTORY / 1e6:.0f}M tokens")
        if args.pad:
            _pad(embeddings, args.pad, dims)
        _reads(papers, sessions, embeddings.model)
        _related(engine, sessions, papers, embeddings)
        _ranking(papers, embeddings)
        if args.ndcg:
            await _quality(args, llm, sessions, embeddings)
        engine.dispose()


def _db_bytes(engine, db: Path) -> int:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def _timed(calls) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return percentile(times, 50), percentile(times, 95)


def _pad(embeddings: PaperEmbeddings, rows: int, dims: int) -> None:
    """`rows` random vectors under ids no paper has, so reads are timed on a table of that size."""
    rng = np.random.default_rng(4)
    started = time.perf_counter()
    for start in range(0, rows, 10_000):
        count = min(10_000, rows - start)
        vectors = rng.standard_normal((count, dims)).astype(np.float32)
        embeddings.save([(f"pad.{start + i:08d}", "", vectors[i]) for i in range(count)])
    embeddings._cache.clear()
    print(f"padded the table with {rows} vectors in {time.perf_counter() - started:.0f} s")


def _reads(papers, sessions, model: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    ids = [p.id for p in papers]
    cold = PaperEmbeddings(sessions, model, cache_size=0)
    k = min(51, len(ids))
    p50, p95 = _timed([lambda: cold.vectors(rng.sample(ids, k)) for _ in range(200)])
    print(f"reading 51 vectors (one Related answer) from the database: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    warm = PaperEmbeddings(sessions, model)
    warm.vectors(ids)
    p50, p95 = _timed([lambda: warm.vectors(rng.sample(ids, k)) for _ in range(200)])
    print(f"reading 51 vectors from the in-process cache: p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def _related(engine, sessions, papers, embeddings: PaperEmbeddings) -> None:  # type: ignore[no-untyped-def]
    vectors = PaperVectors(sessions)
    vectors.refresh(wait=True)
    plain = RelatedFinder(vectors, PaperSearch(engine))
    blended = RelatedFinder(vectors, PaperSearch(engine), embeddings)
    sample = random.Random(2).sample(papers, min(100, len(papers)))
    for name, finder in (("TF-IDF only", plain), ("blended", blended)):
        p50, p95 = _timed([lambda p=p, f=finder: f.related(p, 10) for p in sample])
        print(f"Related, {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    changed = sum(1 for p in sample if [h.id for h in plain.related(p, 10)] != [h.id for h in blended.related(p, 10)])
    print(f"Related: the blend changed the top 10 of {changed} of {len(sample)} papers")


def _ranking(papers, embeddings: PaperEmbeddings) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    cases = [(rng.sample(papers, min(10, len(papers))), rng.sample(papers, min(300, len(papers)))) for _ in range(30)]
    stored = embeddings.vectors(p.id for likes, cands in cases for p in [*likes, *cands])
    counts = HashedTermCounts(limit=10**6)  # the day's word counts cached, as the bot keeps them
    for likes, cands in cases:
        counts.counts([*likes, *cands])
    p50, _ = _timed([lambda c=c: rank_papers(*c, vectors=counts, use_authors=False) for c in cases])
    q50, _ = _timed([lambda c=c: rank_papers(*c, vectors=counts, use_authors=False, embeddings=stored)
                     for c in cases])
    cold = PaperEmbeddings(embeddings.sessions, embeddings.model, cache_size=0)
    r50, _ = _timed([lambda c=c: cold.vectors(p.id for p in [*c[0], *c[1]]) for c in cases])
    w50, _ = _timed([lambda c=c: embeddings.vectors(p.id for p in [*c[0], *c[1]]) for c in cases])
    print(f"ranking 300 papers for 10 likes: {p50:.1f} ms text only, {q50:.1f} ms with embeddings "
          f"(+ reading the 310 vectors: {r50:.1f} ms from the database, {w50:.1f} ms from the cache)")


async def _quality(args, llm, sessions, embeddings: PaperEmbeddings) -> None:  # type: ignore[no-untyped-def]
    from bench_ranking import build_cases

    corpus = load_papers(corpus_path(args.corpus))
    cases = build_cases(corpus, args.users, args.seed)
    if args.days:
        busiest = collections.Counter(cands[0].published for _, _, cands, _ in cases).most_common(args.days)
        cases = [c for c in cases if c[2][0].published in {day for day, _ in busiest}]
    needed = {p.id: p for _, likes, cands, _ in cases for p in [*likes, *cands]}
    PaperStore(sessions).upsert_papers(needed.values())
    embedder = Embedder(llm, embeddings)
    started = time.perf_counter()
    await embedder.embed_new(list(needed))
    print(f"nDCG: {len(cases)} readers, {len(needed)} papers embedded in {time.perf_counter() - started:.0f} s "
          f"({embedder.tokens} tokens)")
    await embedder.aclose()
    stored = embeddings.vectors(needed)
    if args.model == "fake-embed":
        print("nDCG: the fake server's vectors are hashed words, not meaning: these two lines test the plumbing, "
              "not the quality of embeddings")
    counts = HashedTermCounts(limit=10**6)
    runs: list[tuple[str, dict | None, float]] = [("text only", None, 0.0)]
    runs += [(f"text + embeddings x {w:g}", stored, w) for w in map(float, args.weights.split(","))]
    for centred in (False, True):
        personal.EMBED_CENTRED = centred
        how = " (centred on the day)" if centred else ""
        for label, vectors, weight in runs[0 if not centred else 1 :]:
            personal.EMBED_WEIGHT = weight
            scores = []
            for _, likes, cands, relevant in cases:
                ranked = rank_papers(likes, cands, vectors=counts, use_authors=False, embeddings=vectors)
                scores.append(ndcg_at(sorted(ranked, key=lambda pid: -ranked[pid][0]), relevant))
            print(f"nDCG@10 {label}{how if vectors else ''}: {statistics.mean(scores):.3f}")
        alone = []
        for _, likes, cands, relevant in cases:  # the embedding term by itself, no text model
            affinity = personal._embedding_affinity(likes, cands, stored)
            alone.append(ndcg_at([cands[i].id for i in np.argsort(-affinity, kind="stable")], relevant))
        print(f"nDCG@10 embeddings alone{how}: {statistics.mean(alone):.3f}")


if __name__ == "__main__":
    main()
