"""LLM assistant benchmark: time from the model's first token to the first visible text, and tokens per FAQ.

    python bench/bench_llm.py [--runs 12] [--ttft 0.4] [--tokens-per-s 60] [--words 120]

A local OpenAI-compatible fake (tests/fakes/fake_openai.py) streams answers at a realistic rate
(first token after `--ttft` seconds, then `--tokens-per-s`), and the real `Assistant` (real openai
SDK, real full-text extraction from ../shared/data/pdfs when present, the HTML fixture otherwise)
writes FAQs for distinct papers, `llm.max_concurrency` at a time. Each chat's stream records when
every preview arrived.

Latency = (first preview carrying answer text, as the chat shows it) - (when the fake server wrote
the first token of that FAQ). It is reported for the bot alone (adapter shows every preview at
once) and through a simulated adapter throttle: Telegram drafts (private chats, ~0.3 s between
drafts) and placeholder edits in groups/Discord (one edit every 3 s; the status line "Reading the
paper…" spends the first edit). Tokens per FAQ come from the usage the server reports (~4
characters a token; `cached` is what a provider's prefix cache would have served).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.assistant import FAQ_QUESTIONS, Assistant  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.migrate import init_db  # noqa: E402
from digest.arxiv_http import ArxivHttp  # noqa: E402
from digest.db import make_engine, make_sessionmaker  # noqa: E402
from digest.models import Paper  # noqa: E402
from tests.fakes.fake_arxiv import FakeArxiv  # noqa: E402
from tests.fakes.fake_openai import FakeOpenAI  # noqa: E402
from tests.fakes.fake_stream import FakeStreamFactory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT.parent / "shared" / "data" / "pdfs"
HTML = ROOT / "tests" / "fixtures" / "html" / "latexml_small.html"
FULL_PDFS = ["1706.03762v5.pdf", "2203.00130v1.pdf", "2206.10883v3.pdf", "2302.07302v1.pdf", "2304.02623v1.pdf"]
STATUS_PREFIXES = ("📄", "⏳")
# label -> (seconds between previews, whether the first edit after the placeholder goes at once)
THROTTLES = {
    "bot only (no adapter limit)": (0.0, False),
    "Telegram draft (0.3 s)": (0.3, False),
    "fixed 3 s edit interval": (3.0, False),
    "Telegram group edits (3 s, first edit at once)": (3.0, True),
    "Discord edits (1.5 s)": (1.5, False),
}
WORDS = ("the model attention layer results show training data baseline improves accuracy we propose method "
         "experiments benchmark transformer encoder decoder sequence tokens evaluation section").split()


def answer_text(words: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + ". (§3 Method)"


def first_visible(updates: list[tuple[float, str]], interval: float, first_free: bool = False) -> float | None:
    """When answer text first shows, if the adapter shows at most one preview per `interval` (latest wins).

    `first_free`: the first edit after the placeholder is not held back (the Telegram group stream).
    """
    shown: list[tuple[float, str]] = []
    last = float("-inf")
    pending: str | None = None
    for at, text in updates:
        if first_free and len(shown) == 1 and pending is None:
            last = at
            shown.append((at, text))
            continue
        if pending is not None and last + interval <= at:
            last += interval
            shown.append((last, pending))
            pending = None
        if at >= last + interval:
            last = at
            shown.append((at, text))
        else:
            pending = text
    if pending is not None:
        shown.append((last + interval, pending))
    return next((at for at, text in shown if not text.startswith(STATUS_PREFIXES)), None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    chunk_chars = 4  # about one token a chunk
    with FakeOpenAI(
        lambda body: answer_text(args.words, rng),
        chunk_chars=chunk_chars,
        chunk_delay_s=1.0 / args.tokens_per_s,
        first_token_delay_s=args.ttft,
    ) as llm, FakeArxiv() as arxiv, tempfile.TemporaryDirectory() as tmp:
        sources = [p for p in (PDFS / n for n in FULL_PDFS) if p.is_file()]
        papers = []
        for n in range(args.runs):
            paper = Paper(id=f"2601.{n:05d}", title=f"Benchmark paper {n}", authors=("A. Author",),
                          abstract="A paper used to measure the assistant.", categories=("cs.CL",))
            if sources:
                arxiv.pdf[paper.id] = sources[n % len(sources)].read_bytes()
            else:
                arxiv.html[paper.id] = HTML.read_bytes()
            papers.append(paper)
        settings = Settings(arxiv=arxiv.settings()).replace(
            "llm", base_url=llm.base_url, api_key="bench", max_concurrency=args.concurrency, daily_quota=0
        )
        engine = make_engine(f"sqlite:///{tmp}/bench.sqlite3")
        init_db(engine)
        sessions = make_sessionmaker(engine)
        http = ArxivHttp.from_settings(settings.arxiv)
        assistant = Assistant(settings, sessions, http, lambda: dt.datetime.now(dt.timezone.utc))
        # warm the full-text cache so the benchmark measures the LLM path, not arXiv's 3-second spacing
        for paper in papers:
            await assistant.texts.get(paper.id)
        factories = [FakeStreamFactory(f"bench:{n}") for n in range(args.runs)]
        started = time.monotonic()
        await asyncio.gather(*(assistant.faq(f.chat_id, p, "en", f) for f, p in zip(factories, papers)))
        elapsed = time.monotonic() - started

        # the first request of each FAQ is the one whose first token starts the clock
        first_request = {}
        for index, body in enumerate(llm.requests):
            paper_id = body["messages"][1]["content"].split("arXiv ", 1)[1].split(" ", 1)[0]
            first_request.setdefault(paper_id, index)
        print(f"{args.runs} FAQs ({len(FAQ_QUESTIONS)} questions each), {args.concurrency} at a time, "
              f"in {elapsed:.1f}s; fake model: first token after {args.ttft}s, {args.tokens_per_s} tokens/s, "
              f"~{args.words} words an answer; papers: {'real PDFs' if sources else 'HTML fixture'}")
        print()
        print("first model token -> first visible answer text          n      p50      p95      max")
        for label, (interval, first_free) in THROTTLES.items():
            groups: dict[str, list[float]] = {"all": [], "served at once": [], "waited in line": []}
            for factory, paper in zip(factories, papers):
                stream = factory.last
                token_at = llm.first_token_at[first_request[paper.id]]
                shown = first_visible(list(zip(stream.update_times, stream.updates)), interval, first_free)
                if shown is None:
                    continue
                queued = any("in line" in u for u in stream.updates)
                groups["all"].append(shown - token_at)
                groups["waited in line" if queued else "served at once"].append(shown - token_at)
            print(f"  {label}")
            for name, latencies in groups.items():
                if latencies:
                    print(f"    {name:<44} {len(latencies):3d} {percentile(latencies, .5):7.3f}s "
                          f"{percentile(latencies, .95):7.3f}s {max(latencies):7.3f}s")
        print()
        print("tokens per FAQ (6 calls)                 prompt   cached  completion")
        per_paper = [assistant.store.tokens(paper_id=p.id) for p in papers]
        for source_index, source in enumerate(sources or [HTML]):
            rows = per_paper[source_index :: len(sources or [HTML])]
            spent = rows[0]
            print(f"  {source.name:<38} {spent['prompt_tokens']:8d} {spent['cached_tokens']:8d} {spent['completion_tokens']:11d}")
        prompts = [t["prompt_tokens"] for t in per_paper]
        cached = [t["cached_tokens"] for t in per_paper]
        print(f"  {'mean':<38} {statistics.mean(prompts):8.0f} {statistics.mean(cached):8.0f} "
              f"{statistics.mean(t['completion_tokens'] for t in per_paper):11.0f}")
        print(f"  uncached prompt tokens per FAQ (mean): {statistics.mean(p - c for p, c in zip(prompts, cached)):.0f} "
              f"({100 * (1 - sum(cached) / sum(prompts)):.0f}% of the prompt is new to the provider's cache)")
        await assistant.aclose()
        await http.aclose()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ttft", type=float, default=0.4, help="the fake model's time to first token, seconds")
    parser.add_argument("--tokens-per-s", type=float, default=60.0)
    parser.add_argument("--words", type=int, default=120, help="words per answer")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
