"""Search engine benchmark: index build time and query latency on the 75k-paper corpus.

    python bench/bench_search.py [--queries 300] [--postgres postgresql+psycopg://...] [--write-queries FILE]

Engines, on the same papers and the same generated queries, in one run:
- `sqlite-fts5`: the bot's engine (digest.search.PaperSearch on a fresh SQLite file); "import" is
  `paperboy import`'s code with the live index triggers, "rebuild" re-indexes every paper at once;
- `tantivy`: the Rust engine's Python binding (BM25, en_stem, title/authors boosts), in memory of
  its own directory; it gets the same words, phrases, exclusions, authors and filters;
- `postgres`: PostgreSQL full text (tsvector + GIN, ts_rank) through the same PaperSearch, when
  `--postgres URL` points at an empty scratch database (its tables are created and dropped).

Queries are generated from the corpus with a fixed seed, the way people search: two title words,
one word, a two-word phrase, an author's surname, a word with a category and a date, a word with an
exclusion. Latency is wall time per query (results page of 10) after one warm-up pass, single thread.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from _corpus import corpus_path, load_papers, percentile

from sqlalchemy import text

from digest.db import make_engine, make_sessionmaker
from digest.importer import import_jsonl
from digest.search import STOPWORDS, PaperSearch, create_search_index, rebuild_search_index
from digest.search_query import SearchQuery, parse_query

_WORD = re.compile(r"^[a-z][a-z-]{3,}$")


def make_queries(papers, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    queries: list[str] = []
    kinds = ["two", "two", "two", "one", "phrase", "author", "filtered", "exclude"]
    while len(queries) < n:
        paper = rng.choice(papers)
        words = [w for w in re.findall(r"[A-Za-z-]+", paper.title.lower()) if _WORD.match(w) and w not in STOPWORDS]
        kind = kinds[len(queries) % len(kinds)]
        if kind == "author" and paper.authors:
            surname = re.sub(r"[^\w-]", "", paper.authors[0].split()[-1].lower())
            if surname:
                queries.append(f"au:{surname}")
            continue
        if len(words) < 2:
            continue
        if kind == "two":
            queries.append(" ".join(rng.sample(words, 2)))
        elif kind == "one":
            queries.append(rng.choice(words))
        elif kind == "phrase":
            i = rng.randrange(len(words) - 1)
            queries.append(f'"{words[i]} {words[i + 1]}"')
        elif kind == "filtered":
            month = rng.choice(["2025-06", "2025-09", "2026-01", "2026-03"])
            queries.append(f"{rng.choice(words)} cat:{paper.primary} after:{month}")
        else:
            first, second = rng.sample(words, 2)
            queries.append(f"{first} -{second}")
    return queries


def time_queries(run, queries: list[str]) -> tuple[list[float], list[int]]:
    for q in queries:  # warm-up: page cache, statement caches
        run(q)
    times, counts = [], []
    for q in queries:
        started = time.perf_counter()
        n = run(q)
        times.append((time.perf_counter() - started) * 1000)
        counts.append(n)
    return times, counts


def report(name: str, build: str, times: list[float], counts: list[int]) -> None:
    empty = sum(1 for c in counts if c == 0)
    print(f"{name:12s} {build:34s} p50 {percentile(times, 50):6.2f} ms  p95 {percentile(times, 95):6.2f} ms  "
          f"max {max(times):7.2f} ms  mean {statistics.mean(times):6.2f} ms  ({empty} queries without results)")


def bench_sql(name: str, url: str, corpus: Path, queries: list[str]) -> None:
    engine = make_engine(url)
    from bot.migrate import init_db

    init_db(engine)
    with engine.begin() as conn:
        create_search_index(conn)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    imported = import_jsonl([corpus], sessions)
    import_s = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        indexed = rebuild_search_index(conn)
    rebuild_s = time.perf_counter() - started
    search = PaperSearch(engine)
    times, counts = time_queries(lambda q: len(search.search(parse_query(q), limit=10).hits), queries)
    report(name, f"import {import_s:5.1f} s, rebuild {rebuild_s:5.1f} s", times, counts)
    assert indexed == imported.papers, (indexed, imported.papers)
    engine.dispose()


def _tantivy_query(q: SearchQuery) -> str:
    def quoted(s: str) -> str:
        return '"' + s.replace('"', " ") + '"'

    parts = [f"+{quoted(w)}" for w in q.words if w not in STOPWORDS]
    parts += [f"+{quoted(p)}" for p in q.phrases]
    parts += [f"+authors:{quoted(a)}" for a in q.authors]
    parts += [f"-{quoted(e)}" for e in q.exclude]
    if q.categories:
        parts.append("+(" + " ".join(f'cats:"{c}"' for c in q.categories) + ")")
    if q.after or q.before:
        low = q.after.strftime("%Y%m%d") if q.after else "*"
        high = q.before.strftime("%Y%m%d") if q.before else "*"
        parts.append(f"+day:[{low} TO {high}]")
    return " ".join(parts)


def bench_tantivy(papers, queries: list[str]) -> None:
    try:
        import tantivy
    except ImportError:
        print("tantivy      not installed (pip install tantivy) - skipped")
        return
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for field in ("title", "abstract", "authors"):
        builder.add_text_field(field, tokenizer_name="en_stem")
    builder.add_text_field("cats", tokenizer_name="raw")
    builder.add_integer_field("day", indexed=True, fast=True)
    with tempfile.TemporaryDirectory() as folder:
        index = tantivy.Index(builder.build(), path=folder)
        started = time.perf_counter()
        writer = index.writer(heap_size=256_000_000)
        for p in papers:
            doc = tantivy.Document(id=p.id, title=p.title, abstract=p.abstract, authors=" ".join(p.authors),
                                   day=int(p.published.strftime("%Y%m%d")) if p.published else 0)
            for cat in p.categories:
                doc.add_text("cats", cat)
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        build_s = time.perf_counter() - started
        searcher = index.searcher()
        boosts = {"title": 4.0, "authors": 3.0, "abstract": 1.0}

        def run(q: str) -> int:
            query = index.parse_query(_tantivy_query(parse_query(q)), ["title", "abstract", "authors"],
                                      field_boosts=boosts)
            hits = searcher.search(query, 10).hits
            return len([searcher.doc(address)["id"][0] for _, address in hits])

        times, counts = time_queries(run, queries)
        report("tantivy", f"build {build_s:5.1f} s", times, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--corpus")
    parser.add_argument("--postgres", help="URL of an empty scratch PostgreSQL database")
    parser.add_argument("--write-queries", metavar="FILE", help="also write the queries, one a line")
    args = parser.parse_args()
    corpus = corpus_path(args.corpus)
    papers = load_papers(corpus)
    queries = make_queries(papers, args.queries, args.seed)
    if args.write_queries:
        Path(args.write_queries).write_text("\n".join(queries) + "\n", encoding="utf-8")
    print(f"{len(papers)} papers, {len(queries)} queries (e.g. {', '.join(queries[:8])})")
    with tempfile.TemporaryDirectory() as folder:
        bench_sql("sqlite-fts5", f"sqlite:///{folder}/bench.sqlite3", corpus, queries)
    bench_tantivy(papers, queries)
    if args.postgres:
        engine = make_engine(args.postgres)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        bench_sql("postgres", args.postgres, corpus, queries)


if __name__ == "__main__":
    main()
