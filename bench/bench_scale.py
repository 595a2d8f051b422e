"""Scale benchmark: stores of 100k, 300k and 1M papers, built from the 75k corpus, on SQLite (and
PostgreSQL with `--postgres URL`).

    python bench/bench_scale.py [--sizes 100000,300000,1000000] [--postgres postgresql+psycopg://...]
                                [--workdir DIR] [--queries 300] [--related 200] [--digests 10000]

For each size it writes a file in arXiv's metadata-snapshot format (the corpus replicated with new
ids, every copy's text perturbed: a tenth of the abstract's words dropped, a twentieth replaced by
words of other papers, authors rotated, dates moved back a year per copy), then measures, each
step in a fresh process as a self-hoster would run it:

- import: `paperboy import FILE` (the search index included), papers per second;
- Related index: the first `paperboy related ID` (which fits the persisted index once), then a
  second, cold `paperboy related ID` (the index opened from disk);
- start-up: a process that builds the bot (`build_app`, migrations, the finder, the Related index
  opened) until it can answer, and its RSS memory then;
- search p50/p95: the README's query mix (bench_search's generator, 300 queries, a page of 10);
- Related p50/p95: `/related` of random stored papers in the started bot;
- digests: 10,000 subscriptions (bench_digest's mix) over the papers of one day read from the store.

Targets at 1M (issue 13): import >= 10,000 papers/s, start-up < 10 s, RSS < 2 GB, search p95 < 30 ms
(SQLite) / < 50 ms (PostgreSQL), Related p95 < 200 ms. Stores and files are kept in --workdir so
a size need not be rebuilt (delete them to measure the import again).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from _corpus import ROOT, corpus_path, percentile

PY = sys.executable
TARGETS = {"import_rate": 10_000, "startup_s": 10, "rss_mb": 2048, "search_p95_sqlite": 30,
           "search_p95_postgresql": 50, "related_p95": 200}


# --- the snapshot files ------------------------------------------------------------------------


def write_snapshot(corpus: Path, size: int, target: Path, seed: int = 13) -> None:
    """`size` papers in snapshot format: copy 0 is the corpus as it is, later copies perturbed."""
    rng = random.Random(seed)
    records = [json.loads(line) for line in gzip.open(corpus, "rt", encoding="utf-8")]
    vocabulary = [w for r in rng.sample(records, 2000) for w in r["abstract"].split()]
    written = 0
    tmp = target.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        copy = 0
        while written < size:
            for i, r in enumerate(records):
                if written >= size:
                    break
                out.write(json.dumps(snapshot_line(r, copy, i, rng, vocabulary), ensure_ascii=False) + "\n")
                written += 1
            copy += 1
    tmp.rename(target)


def snapshot_line(r: dict, copy: int, i: int, rng: random.Random, vocabulary: list[str]) -> dict:
    title, abstract, authors = r["title"], r["abstract"], list(r["authors"])
    if copy:
        words = []
        for w in abstract.split():
            roll = rng.random()
            if roll < 0.10:
                continue
            words.append(rng.choice(vocabulary) if roll < 0.15 else w)
        abstract = " ".join(words)
        title_words = title.split()
        if len(title_words) > 3:
            j = rng.randrange(len(title_words) - 1)
            title_words[j], title_words[j + 1] = title_words[j + 1], title_words[j]
        title = " ".join(title_words)
        shift = copy % max(1, len(authors))
        authors = authors[shift:] + authors[:shift]
    first = dt.date.fromisoformat(r["first_seen"]) - dt.timedelta(days=365 * copy)
    cats = [r.get("primary_category") or r["categories"][0]] + [c for c in r["categories"]
                                                                 if re.match(r"^[a-z-]+(\.[A-Za-z-]+)?$", c)]
    return {
        # copies get five-digit ids of 2015-2021 (January or July), each copy its own month
        "id": r["id"] if copy == 0 else f"{15 + (copy - 1) // 2:02d}{1 if copy % 2 else 7:02d}.{i + 1:05d}",
        "submitter": authors[0] if authors else None,
        "authors": ", ".join(authors),
        "title": title,
        "comments": r.get("comment"),
        "journal-ref": None, "doi": None, "report-no": None,
        "categories": " ".join(dict.fromkeys(cats)),
        "license": None,
        "abstract": abstract,
        "versions": [{"version": "v1", "created": first.strftime("%a, %d %b %Y 12:00:00 GMT")}],
        "update_date": first.isoformat(),
        "authors_parsed": [[a.split()[-1], " ".join(a.split()[:-1]), ""] for a in authors if a.split()],
    }


# --- one store ---------------------------------------------------------------------------------


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def pg_database(url: str, name: str, fresh: bool) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if fresh and exists:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def measure(size: int, db_url: str, index_dir: Path, snapshot: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PAPERBOY_DATABASE__URL": db_url, "PAPERBOY_SEARCH__INDEX_DIR": str(index_dir),
           "PAPERBOY_LOGGING__LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    result: dict = {"size": size}
    if not args.skip_import:
        seconds, out = run([PY, "-m", "bot.cli", "import", "--quiet", str(snapshot)], env)
        result["import_s"] = seconds
        result["import_rate"] = size / seconds
        print(f"  import: {seconds:.1f} s, {size / seconds:,.0f} papers/s ({out.strip()})", flush=True)
    if args.search_only:
        probe = subprocess.run([PY, str(Path(__file__).resolve()), "--probe", "--search-only", "--queries",
                                str(args.queries), "--related", str(args.related)],
                               check=False, env=env, capture_output=True, text=True, cwd=ROOT)
        if probe.returncode != 0:
            raise SystemExit(f"probe failed:\n{probe.stderr}")
        figures = json.loads(probe.stdout.strip().splitlines()[-1])
        print(f"  search p50 {figures['search_p50']:.2f} / p95 {figures['search_p95']:.2f} ms; slowest "
              f"{figures['slowest'][:3]}", flush=True)
        return {**result, **figures}
    sample_id = json.loads(snapshot.open(encoding="utf-8").readline())["id"]
    seconds, _ = run([PY, "-m", "bot.cli", "related", sample_id, "--json"], env)
    result["related_first_s"] = seconds
    print(f"  first `paperboy related` (fits the index if there is none): {seconds:.1f} s", flush=True)
    seconds, _ = run([PY, "-m", "bot.cli", "related", sample_id, "--json"], env)
    result["related_cold_cli_s"] = seconds
    print(f"  cold `paperboy related` (index opened from disk): {seconds:.2f} s", flush=True)
    started = time.perf_counter()
    probe = subprocess.run([PY, str(Path(__file__).resolve()), "--probe", "--queries", str(args.queries),
                            "--related", str(args.related), "--digests", str(args.digests)],
                           env=env, capture_output=True, text=True, cwd=ROOT)
    if probe.returncode != 0:
        raise SystemExit(f"probe failed:\n{probe.stderr}")
    figures = json.loads(probe.stdout.strip().splitlines()[-1])
    result.update(figures)
    print(f"  start-up {figures['startup_s']:.2f} s, RSS {figures['rss_mb']:.0f} MB; "
          f"search p50 {figures['search_p50']:.2f} / p95 {figures['search_p95']:.2f} ms; "
          f"related p50 {figures['related_p50']:.1f} / p95 {figures['related_p95']:.1f} ms; "
          f"{args.digests} digests {figures['digests_s']:.2f} s over {figures['day_papers']} papers "
          f"(probe wall {time.perf_counter() - started:.0f} s)", flush=True)
    return result


# --- the probe: a started bot, measured from the inside ------------------------------------------


def search_probe(args: argparse.Namespace) -> None:
    """`--search-only`: the search columns alone, on the store's engine (no bot, no Related index)."""
    from bot.config import load_settings
    from digest.db import make_engine, make_sessionmaker
    from digest.search import PaperSearch
    from digest.search_query import parse_query
    from digest.store import PaperStore

    engine = make_engine(load_settings().database.url)
    sessions = make_sessionmaker(engine)
    search = PaperSearch(engine)
    papers = list(PaperStore(sessions).get_papers(_sample_ids(sessions, args)).values())
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_search import make_queries

    queries = make_queries(papers * 3, args.queries, 7)
    for q in queries[:50]:
        search.search(parse_query(q), limit=10)
    search_ms = []
    for q in queries:
        t = time.perf_counter()
        search.search(parse_query(q), limit=10)
        search_ms.append((time.perf_counter() - t) * 1000)
    slowest = sorted(zip(search_ms, queries), reverse=True)[:8]
    print(json.dumps({"search_p50": percentile(search_ms, 50), "search_p95": percentile(search_ms, 95),
                      "slowest": [[round(ms, 1), q] for ms, q in slowest]}))


def _sample_ids(sessions, args: argparse.Namespace) -> list[str]:  # type: ignore[no-untyped-def]
    """The probe's papers: 40 spread over the id order, the rest among the most recently written."""
    from sqlalchemy import func, select

    from digest.schema import PaperRow

    rng = random.Random(5)
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(PaperRow))
        offsets = sorted(rng.sample(range(total), min(total, max(args.related, 400))))
        ids = [session.scalar(select(PaperRow.id).order_by(PaperRow.id).offset(o).limit(1)) for o in offsets[:40]]
        ids += [row[0] for row in session.execute(select(PaperRow.id).where(
            PaperRow.id.in_(_random_ids(session, rng, args.related)))).all()]
    return ids[: max(40, args.related)]


def probe(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    from bot.cli import build_app
    from bot.config import load_settings
    from bot.find_commands import finder_of
    from digest.search_query import parse_query

    app = build_app(load_settings())
    finder = finder_of(app)
    finder.vectors.refresh()  # what warm_up starts: opens the index, catches up (in the background if large)
    finder.search.search(parse_query("model"), limit=10)
    startup = time.perf_counter() - started
    rss = _rss_mb()
    papers = list(app.store.get_papers(_sample_ids(app.sessions, args)).values())
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_search import make_queries

    queries = make_queries(papers * 3, args.queries, 7)
    for q in queries[:50]:
        finder.search.search(parse_query(q), limit=10)
    search_ms = []
    for q in queries:
        t = time.perf_counter()
        finder.search.search(parse_query(q), limit=10)
        search_ms.append((time.perf_counter() - t) * 1000)
    related_ms = []
    for paper in papers[: args.related]:
        t = time.perf_counter()
        finder.related.related(paper, 10)
        related_ms.append((time.perf_counter() - t) * 1000)
    digests_s, day_papers = _digests(app, args.digests)
    print(json.dumps({
        "startup_s": startup, "rss_mb": rss, "rss_after_mb": _rss_mb(),
        "search_p50": percentile(search_ms, 50), "search_p95": percentile(search_ms, 95),
        "related_p50": percentile(related_ms, 50), "related_p95": percentile(related_ms, 95),
        "digests_s": digests_s, "day_papers": day_papers, "index_ready": finder.vectors.ready,
    }))


def _random_ids(session, rng: random.Random, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from digest.schema import PaperRow

    rows = session.execute(select(PaperRow.id).order_by(PaperRow.updated_at.desc()).limit(20000)).scalars().all()
    return rng.sample(rows, min(n, len(rows)))


def _digests(app, n: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Build n digests over the papers first published on the busiest recent day of the store."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_digest import make_subscriptions
    from sqlalchemy import func, select

    from digest.day_index import DayIndex
    from digest.matching import build_digest
    from digest.models import AnnounceType
    from digest.schema import PaperRow

    started = time.perf_counter()
    with app.sessions() as session:
        day = session.execute(select(PaperRow.published, func.count()).group_by(PaperRow.published)
                              .order_by(func.count().desc()).limit(1)).first()[0]
        ids = session.execute(select(PaperRow.id).where(PaperRow.published == day)).scalars().all()
    papers = list(app.store.get_papers(ids).values())
    announced = [(p, AnnounceType.NEW) for p in papers]
    subs = make_subscriptions(n, papers, random.Random(42))
    index = DayIndex.build(announced)
    for sub in subs:
        build_digest(index, sub, day, seen=())
    return time.perf_counter() - started, len(papers)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the table ----------------------------------------------------------------------------------


def table(rows: list[dict]) -> None:
    print("\n| store | papers | import (papers/s) | first Related (fit) | cold `paperboy related` | start-up | RSS | "
          "search p50 / p95 | Related p50 / p95 | 10,000 digests |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rate = f"{r['import_rate']:,.0f}" if "import_rate" in r else "(kept)"
        print(f"| {r['engine']} | {r['size']:,} | {rate} | {r['related_first_s']:.1f} s | {r['related_cold_cli_s']:.2f} s | "
              f"{r['startup_s']:.2f} s | {r['rss_mb']:.0f} MB | {r['search_p50']:.1f} / {r['search_p95']:.1f} ms | "
              f"{r['related_p50']:.0f} / {r['related_p95']:.0f} ms | {r['digests_s']:.2f} s ({r['day_papers']} papers) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--postgres", help="also measure PostgreSQL (a database per size is created there)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", default=str(Path("/tmp") / "paperboy-bench-scale"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--related", type=int, default=200)
    parser.add_argument("--digests", type=int, default=10_000)
    parser.add_argument("--corpus")
    parser.add_argument("--skip-import", action="store_true", help="reuse stores already built in --workdir")
    parser.add_argument("--search-only", action="store_true",
                        help="measure only search p50/p95 on stores already built (with --skip-import)")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        search_probe(args) if args.search_only else probe(args)
        return
    corpus = corpus_path(args.corpus)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        snapshot = work / f"snapshot-{size}.json"
        if not snapshot.is_file():
            started = time.perf_counter()
            write_snapshot(corpus, size, snapshot)
            print(f"wrote {snapshot} in {time.perf_counter() - started:.0f} s", flush=True)
        engines = [] if args.no_sqlite else [("SQLite", f"sqlite:///{work}/store-{size}.sqlite3",
                                             work / f"store-{size}.sqlite3.related")]
        if args.postgres:
            engines.append(("PostgreSQL", pg_database(args.postgres, f"paperboy_scale_{size}", not args.skip_import),
                            work / f"pg-{size}.related"))
        for name, url, index_dir in engines:
            if not args.skip_import:
                for path in (Path(url.split("///", 1)[-1]) if url.startswith("sqlite") else None,):
                    if path is not None:
                        for extra in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                            extra.unlink(missing_ok=True)
                import shutil

                shutil.rmtree(index_dir, ignore_errors=True)
            print(f"{name}, {size:,} papers:", flush=True)
            row = measure(size, url, index_dir, snapshot, args)
            row["engine"] = name
            rows.append(row)
    if not args.search_only:
        table(rows)


if __name__ == "__main__":
    main()
