"""Digest-building benchmark: 10,000 subscriptions over a 1,000-paper day.

    python bench/bench_digest.py [--subs 10000] [--papers 1000] [--repeat 3]

Papers come from ../shared/data/corpus/sample_1000_cs_cv_cl_ai.jsonl when present (real titles,
abstracts, authors and categories), otherwise they are synthesised. Subscriptions mix 1-4
categories (sometimes a whole archive, sometimes an exclusion), 0-3 keywords or phrases, excluded
words, followed authors and the cross/replacement switches, and a tenth of the chats have already
seen some of the day's papers. It reports the time to build every digest (the day index
included) and the memory used, as `paperboy` does it at delivery time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.day_index import DayIndex  # noqa: E402
from digest.matching import build_digest, subscription_expr  # noqa: E402
from digest.models import AnnounceType, Paper  # noqa: E402
from digest.subscriptions import Subscription  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "sample_1000_cs_cv_cl_ai.jsonl"
CATEGORIES = ["cs.CL", "cs.CV", "cs.AI", "cs.LG", "stat.ML", "cs.RO", "cs.IR", "cs.HC", "cs.CR", "eess.IV",
              "cs.MA", "cs.SE", "cs.NE", "q-bio.NC", "cs.CY", "cs.SD", "eess.AS", "math.OC"]
DAY = dt.date(2026, 6, 16)
KEYWORDS = ["diffusion", "large language model", "reinforcement learning", "transformer", "benchmark",
            "retrieval", "agent", "segmentation", "graph neural network", "robot", "reasoning", "multimodal",
            "speech", "federated", "privacy", "3D", "video", "alignment", "hallucination", "quantization"]


def load_papers(n: int, rng: random.Random) -> list[tuple[Paper, AnnounceType]]:
    papers: list[Paper] = []
    if SAMPLE.is_file():
        for line in SAMPLE.open(encoding="utf-8"):
            r = json.loads(line)
            papers.append(Paper(id=r["id"], title=r["title"], authors=tuple(r["authors"]), abstract=r["abstract"],
                                categories=tuple(r["categories"]), primary_category=r.get("primary_category")))
    while len(papers) < n:
        i = len(papers)
        words = rng.sample(KEYWORDS, 3)
        papers.append(Paper(id=f"2606.{i:05d}", title=f"On {words[0]} and {words[1]}",
                            authors=(f"Author {i % 700}", f"Writer {i % 313}"), abstract=" ".join(words) * 20,
                            categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3)))))
    papers = papers[:n]
    types = [AnnounceType.NEW] * 70 + [AnnounceType.CROSS] * 20 + [AnnounceType.REPLACE] * 10
    return [(p, rng.choice(types)) for p in papers]


def make_subscriptions(n: int, papers: list[Paper], rng: random.Random) -> list[Subscription]:
    authors = [a for p in papers for a in p.authors]
    subs = []
    for i in range(n):
        cats = rng.sample([c for c in CATEGORIES if c != "cs.CY"], rng.randint(1, 4))
        expr = "+".join(cats)
        if rng.random() < 0.05:
            expr = "cs-cs.CY"
        elif rng.random() < 0.1:
            expr += "-cs.CY"
        subs.append(Subscription(
            chat_id=f"tg:{i}",
            categories=expr,
            keywords=tuple(rng.sample(KEYWORDS, rng.randint(0, 3))),
            keywords_only=rng.random() < 0.15,
            exclude=tuple(rng.sample(["survey", "position paper", "workshop"], rng.randint(0, 1))),
            authors=tuple(rng.sample(authors, rng.randint(0, 2))) if rng.random() < 0.3 else (),
            include_cross=rng.random() < 0.85,
            include_replacements=rng.random() < 0.1,
        ))
    return subs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subs", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(42)
    announced = load_papers(args.papers, rng)
    subs = make_subscriptions(args.subs, [p for p, _ in announced], rng)
    ids = [p.id for p, _ in announced]
    seen = {s.chat_id: set(rng.sample(ids, 50)) for s in subs[: len(subs) // 10]}
    for text in {s.categories for s in subs}:
        subscription_expr(text)  # parsing is cached across days; warm it like a running bot would

    timings, matched = [], 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        index = DayIndex.build(announced)
        digests = [build_digest(index, s, DAY, seen=seen.get(s.chat_id, ())) for s in subs]
        timings.append(time.perf_counter() - start)
        matched = sum(d.counts.matched for d in digests)

    start = time.perf_counter()
    entries = sum(len(d.entries) for d in digests)
    materialize = time.perf_counter() - start

    tracemalloc.start()
    index = DayIndex.build(announced)
    digests = [build_digest(index, s, DAY, seen=seen.get(s.chat_id, ())) for s in subs]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    source = "real sample" if SAMPLE.is_file() else "synthetic"
    print(f"papers: {len(announced)} ({source}), subscriptions: {len(subs)}, entries built: {matched}")
    print(f"build all digests: best {min(timings):.2f} s, median {statistics.median(timings):.2f} s "
          f"over {args.repeat} runs (target < 2 s)")
    print(f"ranked entries with reasons for every chat: {entries} in {materialize:.2f} s "
          "(done per chat at send time, not part of the build)")
    print(f"memory: {peak / 2**20:.0f} MiB peak traced while building, process max RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
