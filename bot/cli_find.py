"""`paperboy search | related | rank`: the find-and-rank features on the command line, for evaluation.

They run exactly the code the bot runs (`bot.finder.Finder`, `digest.personal`) against the
configured database. People get a readable table (id, title, first author, date, score); `--json`
output can be scored by scripts, each entry carrying `title`, `authors`, `published` and `url`:

    paperboy search 'diffusion au:ho' --limit 20 --json      -> [{"id", "score", "title", ...}, ...]
    paperboy search --queries queries.txt --json             -> [{"query", "results": [...], "ms"}, ...]
    paperboy related 2501.01234 --json                       -> [{"id", "score", "title", ...}, ...]
    paperboy rank --likes likes.txt --candidates day.txt --json  -> [{"id", "score", "reason", "title", ...}, ...]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.app import Paperboy
from bot.config import Settings
from digest.errors import BadInput, PaperNotFound
from digest.ids import abs_url, parse_id
from digest.latex import to_unicode
from digest.models import Paper
from digest.search_query import parse_query

AppFactory = Callable[[Settings], Paperboy]
"""`bot.cli.build_app`: passed in, so this module needs nothing from `bot.cli` (which imports it)."""


def add_find_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], build_app: AppFactory) -> None:
    """Register `search`, `related` and `rank` on the main parser's subcommands; each builds its app
    with `build_app`."""
    search = subparsers.add_parser("search", help="search stored papers (the /search syntax)")
    search.add_argument("query", nargs="?", help='e.g. \'diffusion "video generation" au:ho cat:cs.CV\'')
    search.add_argument("--limit", type=int, default=10, help="results per query (default 10)")
    search.add_argument("--queries", metavar="FILE", help="run one query per line, timing each")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(run=functools.partial(cmd_search, build_app=build_app))

    related = subparsers.add_parser("related", help="the stored papers most related to one")
    related.add_argument("paper", help="arXiv id or link")
    related.add_argument("--limit", type=int, default=10)
    related.add_argument("--json", action="store_true")
    related.set_defaults(run=functools.partial(cmd_related, build_app=build_app))

    rank = subparsers.add_parser("rank", help="order candidate papers by similarity to liked ones")
    rank.add_argument("--likes", required=True, metavar="FILE", help="arXiv ids, one per line")
    rank.add_argument("--candidates", required=True, metavar="FILE", help="arXiv ids, one per line")
    rank.add_argument("--json", action="store_true")
    rank.set_defaults(run=functools.partial(cmd_rank, build_app=build_app))


def _emit(args: argparse.Namespace, data: object, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print("\n".join(lines))


def _described(app: Paperboy, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each hit with what a reader needs: `title`, `authors`, `published` and `url` (LaTeX converted)."""
    papers: dict[str, Paper] = app.store.get_papers([h["id"] for h in hits])
    out = []
    for hit in hits:
        paper = papers.get(hit["id"])
        out.append({
            **hit,
            "title": to_unicode(paper.title) if paper else None,
            "authors": [to_unicode(a) for a in paper.authors] if paper else [],
            "published": paper.published.isoformat() if paper and paper.published else None,
            "url": abs_url(hit["id"], app.settings.arxiv.abs_url),
        })
    return out


def _emit_papers(args: argparse.Namespace, rows: list[dict[str, Any]], *, title: str, reason: bool = False) -> None:
    """`--json` rows as JSON, else a table people can read: id, title, first author, date, score."""
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    console = Console(soft_wrap=False, width=max(Console().width, 100))
    if not rows:
        console.print(f"{title}: nothing found.", markup=False, highlight=False)
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("id", no_wrap=True)
    table.add_column("title", ratio=3, overflow="fold")
    table.add_column("first author", ratio=1, overflow="ellipsis")
    table.add_column("date", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    if reason:
        table.add_column("why", ratio=1, overflow="fold")
    for row in rows:
        authors = row["authors"]
        first = (authors[0] + (" et al." if len(authors) > 1 else "")) if authors else ""
        cells = [row["id"], row["title"] or "(not stored)", first, row["published"] or "", f"{row['score']:.4f}"]
        if reason:
            cells.append(row.get("reason") or "")
        table.add_row(*(Text(c) for c in cells))
    console.print(table)


async def cmd_search(settings: Settings, args: argparse.Namespace, *, build_app: AppFactory) -> int:
    if bool(args.query) == bool(args.queries):
        print("paperboy search: give a QUERY or --queries FILE", file=sys.stderr)
        return 2
    app = build_app(settings)  # its migration step also makes sure every stored paper is searchable
    finder = app.finder
    try:
        if args.query:
            page = finder.search.search(parse_query(args.query), limit=args.limit)
            hits = [{"id": h.id, "score": round(h.score, 4)} for h in page.hits]
            _emit_papers(args, _described(app, hits), title=f"Search: {args.query}")
            return 0
        out, lines = [], []
        for line in Path(args.queries).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            started = time.perf_counter()
            try:
                page = finder.search.search(parse_query(line), limit=args.limit)
                results = [{"id": h.id, "score": round(h.score, 4)} for h in page.hits]
                error = None
            except BadInput as exc:
                results, error = [], str(exc)
            ms = round((time.perf_counter() - started) * 1000, 2)
            out.append({"query": line, "results": results, "ms": ms, **({"error": error} if error else {})})
            lines.append(f"{ms:8.2f} ms  {len(results):3d}  {line}" + (f"  ({error})" if error else ""))
        _emit(args, out, lines)
        return 0
    finally:
        await app.aclose()


async def cmd_related(settings: Settings, args: argparse.Namespace, *, build_app: AppFactory) -> int:
    paper_id = parse_id(args.paper)[0]
    app = build_app(settings)  # its migration step also makes sure every stored paper is searchable
    finder = app.finder
    try:
        paper = app.store.get_paper(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        # a one-shot command may wait for the index (built once, then opened from disk at every run)
        await asyncio.to_thread(finder.vectors.refresh, wait=True)
        hits = await asyncio.to_thread(finder.related.related, paper, args.limit)
        data = [{"id": h.id, "score": round(h.score, 4)} for h in hits]
        _emit_papers(args, _described(app, data), title=f"Related to {paper.id}: {to_unicode(paper.title)}")
        return 0
    finally:
        await app.aclose()


def _ids(path: str) -> list[str]:
    ids = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            ids.append(parse_id(line.split()[0])[0])
    return list(dict.fromkeys(ids))


async def cmd_rank(settings: Settings, args: argparse.Namespace, *, build_app: AppFactory) -> int:
    like_ids, candidate_ids = _ids(args.likes), _ids(args.candidates)
    app = build_app(settings)
    try:
        stored = app.store.get_papers(like_ids + candidate_ids)
        missing = [i for i in like_ids + candidate_ids if i not in stored]
        if missing:
            print(f"paperboy rank: not in the store (import them first): {', '.join(missing[:10])}", file=sys.stderr)
            return 1
        ranked = app.personal.rank([stored[i] for i in like_ids], [stored[i] for i in candidate_ids])
        data = [{"id": p.id, "score": round(score, 4), "reason": reason} for p, score, reason in ranked]
        _emit_papers(args, _described(app, data), title="Candidates by your likes", reason=True)
        return 0
    finally:
        await app.aclose()
