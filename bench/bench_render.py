"""Rendering benchmark: a 300-paper day laid out compact and rendered for every platform.

    python bench/bench_render.py [--papers 300] [--repeat 5]

Papers come from ../shared/data/corpus/sample_1000_cs_cv_cl_ai.jsonl (real titles, abstracts and
authors, LaTeX included). It reports, cold (LaTeX converter cache empty) and warm:
- the LaTeX conversion of every title and abstract (`digest.latex.to_unicode`);
- laying out the digest (header + first compact page) and every one of its list pages;
- rendering all of those messages for the console, Telegram and Discord;
and how many lines and characters the first screen of the compact digest takes against the cards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.console import render as console_render  # noqa: E402
from digest.cards import ArxivUrls  # noqa: E402
from digest.latex import to_unicode  # noqa: E402
from digest.layout import digest_messages, list_page, page_count  # noqa: E402
from digest.matching import Digest, DigestCounts, DigestEntry  # noqa: E402
from digest.models import Paper  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "sample_1000_cs_cv_cl_ai.jsonl"
DAY = dt.date(2026, 6, 16)
URLS = ArxivUrls()
TELEGRAM = importlib.import_module("adapters.telegram.render")
DISCORD = importlib.import_module("adapters.discord.render")


def load_papers(n: int) -> list[Paper]:
    if not SAMPLE.exists():
        sys.exit(f"needs {SAMPLE}")
    papers = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:n]:
        row = json.loads(line)
        papers.append(Paper(id=row["id"], title=row["title"], authors=tuple(row.get("authors") or ()),
                            abstract=row.get("abstract") or "", categories=tuple(row.get("categories") or ("cs.CL",)),
                            comment=row.get("comment")))
    return papers


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=10)
    args = parser.parse_args()
    papers = load_papers(args.papers)
    entries = tuple(DigestEntry(p, "new", "new in cs.CL") for p in papers)
    digest = Digest(chat_id="bench", day=DAY, entries=entries,
                    counts=DigestCounts(new=len(papers), cross=0, matched=len(papers)), covers=(DAY,))
    pages = page_count(len(entries), 0, args.page_size)

    to_unicode.cache_clear()
    cold_latex = timed(lambda: [(to_unicode(p.title), to_unicode(p.abstract)) for p in papers])

    def layout() -> list:
        messages = digest_messages(digest, urls=URLS, digest_id=1, max_cards=5, page_size=args.page_size, style="compact")
        return messages + [list_page(entries, urls=URLS, digest_id=1, first=0, page=k, page_size=args.page_size)
                           for k in range(1, pages)]

    messages = layout()
    layout_s = statistics.median(timed(layout) for _ in range(args.repeat))
    renderers = {"console": console_render, "telegram": TELEGRAM.render, "discord": DISCORD.render}
    print(f"{len(papers)} papers, {pages} list pages of {args.page_size}, {len(messages)} messages")
    print(f"LaTeX conversion of every title and abstract, cold cache: {cold_latex * 1000:.0f} ms")
    print(f"layout of the whole digest (every page), warm: {layout_s * 1000:.1f} ms")
    for name, render in renderers.items():
        def run_all() -> None:
            TELEGRAM._render_cached.cache_clear()  # Telegram caches rendered messages; time the work itself
            for message in messages:
                render(message)  # noqa: B023 (the loop's renderer, on purpose)

        seconds = statistics.median(timed(run_all) for _ in range(args.repeat))
        print(f"render every message for {name:8}: {seconds * 1000:6.1f} ms ({seconds / len(messages) * 1000:.2f} ms a message)")

    compact = digest_messages(digest, urls=URLS, digest_id=1, max_cards=5, page_size=args.page_size, style="compact")
    cards = digest_messages(digest, urls=URLS, digest_id=1, max_cards=5, page_size=args.page_size, style="cards")
    for label, shown in (("compact", compact), ("cards", cards)):
        text = "\n".join(console_render(m) for m in shown)
        print(f"first screen, {label:7}: {len(shown)} messages, {text.count(chr(10)) + 1} terminal lines, {len(text)} characters")


if __name__ == "__main__":
    main()
