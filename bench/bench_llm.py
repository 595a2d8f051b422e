"""LLM assistant benchmark: time from the model's first token to the first visible text, tokens per FAQ, loop lag.

    python bench/bench_llm.py [--runs 12] [--ttft 0.4] [--tokens-per-s 60] [--words 120] [--groups 0]

A local OpenAI-compatible fake (tests/fakes/fake_openai.py) streams answers at a realistic rate
(first token after `--ttft` seconds, then `--tokens-per-s`), and the real `Assistant` (real openai
SDK, real full-text extraction from ../shared/data/pdfs when present, the HTML fixture otherwise)
writes FAQs for distinct papers, `llm.max_concurrency` at a time. Each chat's stream records when
every preview arrived.

Latency = (first preview carrying answer text, as the chat shows it) - (when the fake server wrote
the first token of that FAQ). It is reported for the bot alone (adapter shows every preview at
once) and through a simulated adapter throttle: Telegram drafts (private chats, ~0.3 s between
drafts) and Discord edits (one every 1.5 s, the answer's first words at once after a status line).

Telegram groups are also measured for real: the same FAQs requested in Telegram groups (one group
per FAQ by default, so answers wait in the LLM's queue; `--groups N` shares N groups) through
the real `TelegramSender` (its rate limiter at Telegram's limits: 20 messages and about 20 edits
a minute per group) against the fake Bot API, once with status lines told apart from answer text
(`AnswerStream.status`, what the bot does) and once with status lines sent as text (as before).

Tokens per FAQ come from the usage the server reports (~4 characters a token), against the
paper's own tokens (its data block), with no prompt cache assumed. "Before" is the six-call FAQ it replaced, computed
over the same conversation: call n resent system, paper, the n-1 earlier questions and answers,
and question n. Loop lag: 30,000 one-character chunks streamed into an Ask (the fake model in a
process of its own) while a ticker measures how late the event loop wakes it, and how much CPU
time this process spent between two ticks (what our own code held the loop for).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import random
import re
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
from tests.fakes.fake_stream import FakeStream, FakeStreamFactory  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT.parent / "shared" / "data" / "pdfs"
HTML = ROOT / "tests" / "fixtures" / "html" / "latexml_small.html"
FULL_PDFS = ["1706.03762v5.pdf", "2203.00130v1.pdf", "2206.10883v3.pdf", "2302.07302v1.pdf", "2304.02623v1.pdf"]
STATUS_PREFIXES = ("📄", "⏳", "✍️")
# label -> (seconds between previews, whether the first edit after the placeholder goes at once)
THROTTLES = {
    "bot only (no adapter limit)": (0.0, False),
    "Telegram draft (0.3 s)": (0.3, False),
    "Discord edits (1.5 s, first words at once)": (1.5, True),
}
WORDS = ("the model attention layer results show training data baseline improves accuracy we propose method "
         "experiments benchmark transformer encoder decoder sequence tokens evaluation section").split()


def answer_text(words: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + ". (§3 Method)"


def model_answer(body: dict, words: int, rng: random.Random) -> str:
    """An answer per question; the FAQ request gets all six, each after its marker, as a model writes them."""
    if "[Q6]" in body["messages"][-1]["content"]:
        return "\n\n".join(f"[Q{n}] {answer_text(words, rng)}" for n in range(1, len(FAQ_QUESTIONS) + 1))
    return answer_text(words, rng)


def paper_of(body: dict) -> str:
    return re.search(r"arXiv (\S+)", body["messages"][1]["content"]).group(1)


def first_visible(updates: list[tuple[float, str, bool]], interval: float, first_text_free: bool = False) -> float | None:
    """When answer text first shows, if the adapter shows at most one preview per `interval` (latest wins).

    `updates` are (time, text, is_status). `first_text_free`: the answer's first words go at once
    even right after a status line (the Discord stream does that).
    """
    shown: list[tuple[float, str]] = []
    last = float("-inf")
    pending: str | None = None
    answered = False
    for at, text, is_status in updates:
        if pending is not None and last + interval <= at:
            last += interval
            shown.append((last, pending))
            pending = None
        if first_text_free and not is_status and not answered:
            answered, last, pending = True, at, None
            shown.append((at, text))
            continue
        answered = answered or not is_status
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
        lambda body: model_answer(body, args.words, rng),
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
            "llm", base_url=llm.base_url, api_key="bench", max_concurrency=args.concurrency, daily_quota=0,
            daily_token_budget=0,
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

        first_request = {paper_of(body): index for index, body in enumerate(llm.requests)}
        print(f"{args.runs} FAQs ({len(FAQ_QUESTIONS)} questions in one call each), {args.concurrency} at a time, "
              f"in {elapsed:.1f}s; fake model: first token after {args.ttft}s, {args.tokens_per_s} tokens/s, "
              f"~{args.words} words an answer; papers: {'real PDFs' if sources else 'HTML fixture'}")
        print()
        print("first model token -> first visible answer text          n      p50      p95      max")
        for label, (interval, first_free) in THROTTLES.items():
            groups: dict[str, list[float]] = {"all": [], "served at once": [], "waited in line": []}
            for factory, paper in zip(factories, papers):
                stream = factory.last
                token_at = llm.first_token_at[first_request[paper.id]]
                shown = first_visible(list(zip(stream.update_times, stream.updates, stream.statuses)), interval, first_free)
                if shown is None:
                    continue
                queued = any("in line" in u for u in stream.updates)
                groups["all"].append(shown - token_at)
                groups["waited in line" if queued else "served at once"].append(shown - token_at)
            report(label, groups)
        print_tokens(assistant, llm, papers, sources)
        await assistant.aclose()
        # a new language each time: the FAQs are written again, over the full texts already read
        for mode, language in (("status lines told apart (now)", "de"), ("status lines sent as text (before)", "fr")):
            llm.reset()
            await telegram_groups(args, settings, sessions, http, papers, llm, mode, language)
        await loop_lag(settings, sessions, http, papers[0])
        await http.aclose()
        engine.dispose()


def report(label: str, groups: dict[str, list[float]]) -> None:
    print(f"  {label}")
    for name, latencies in groups.items():
        if latencies:
            print(f"    {name:<44} {len(latencies):3d} {percentile(latencies, .5):7.3f}s "
                  f"{percentile(latencies, .95):7.3f}s {max(latencies):7.3f}s")


def print_tokens(assistant: Assistant, llm: FakeOpenAI, papers: list[Paper], sources: list[Path]) -> None:
    """Tokens per FAQ now (one call) and before (six calls over the same conversation)."""
    print()
    print("tokens per FAQ                    paper | now (1 call): prompt completion  prompt/paper  all/paper "
          "| before (6 calls): prompt  prompt/paper")
    rows = []
    for paper in papers:
        spent = assistant.store.tokens(paper_id=paper.id)
        body = next(b for b in llm.requests if paper_of(b) == paper.id)
        paper_tokens = len(body["messages"][1]["content"]) // 4
        answers = assistant.store.faq_answers(paper.id, "en", len(FAQ_QUESTIONS)) or []
        head = sum(len(m["content"]) for m in body["messages"][:3]) // 4
        before = sum(head + sum(len(q) + len(a) for q, a in zip(FAQ_QUESTIONS[:n], answers[:n])) // 4 + len(FAQ_QUESTIONS[n]) // 4
                     for n in range(len(FAQ_QUESTIONS)))
        rows.append((paper_tokens, spent["prompt_tokens"], spent["completion_tokens"], before))
    names = [source.name for source in sources or [HTML]]
    mean = tuple(statistics.mean(r[i] for r in rows) for i in range(4))
    for name, (paper_tokens, prompt, completion, before) in [*zip(names, rows), ("mean", mean)]:
        print(f"  {name:<29} {paper_tokens:6.0f} | {prompt:19.0f} {completion:10.0f} {prompt / paper_tokens:13.2f} "
              f"{(prompt + completion) / paper_tokens:10.2f} | {before:23.0f} {before / paper_tokens:13.2f}")
    print("  the paper's tokens: its data block alone; target: an FAQ's prompt within 1.3x of it with no prompt cache")


class _Recorded:
    """A real Telegram stream that notes when its answer text first became visible in the chat."""

    def __init__(self, inner, fake: FakeTelegram, tg_id: int, *, tell_status: bool) -> None:
        self.inner, self.fake, self.tg_id, self.tell_status = inner, fake, tg_id, tell_status
        self.visible_at: float | None = None
        self.queued = False
        self.paper_id = ""

    async def update(self, text: str) -> None:
        await self.inner.update(text)
        self._look()

    async def status(self, line: str) -> None:
        self.queued = self.queued or "in line" in line
        await (self.inner.status(line) if self.tell_status else self.inner.update(line))

    def _look(self) -> None:
        ref = getattr(self.inner, "ref", None)
        if self.visible_at is None and ref is not None:
            shown = self.fake.chat(self.tg_id).messages.get(int(ref.message_id), {}).get("text", "")
            if shown and not shown.startswith(STATUS_PREFIXES):
                self.visible_at = time.monotonic()

    async def finish(self, message):
        sent = await self.inner.finish(message)
        if self.visible_at is None:  # the answer was over before a preview of it could be shown
            self.visible_at = time.monotonic()
        return sent

    async def fail(self, message):
        return await self.inner.fail(message)


async def telegram_groups(args, settings, sessions, http, papers, llm, mode: str, language: str) -> None:  # type: ignore[no-untyped-def]
    """The same FAQs, asked in Telegram groups through the real sender at Telegram's real limits."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from adapters.telegram.sender import TelegramSender

    with FakeTelegram() as fake:
        assistant = Assistant(settings, sessions, http, lambda: dt.datetime.now(dt.timezone.utc))
        bot = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(connection_pool_size=16))
        async with bot:
            sender = TelegramSender(bot)
            recorded: list[_Recorded] = []

            def opener(tg_id: int, paper_id: str):  # type: ignore[no-untyped-def]
                async def open_stream() -> _Recorded:
                    stream = _Recorded(await sender.open_stream(f"tg:{tg_id}"), fake, tg_id, tell_status=mode.endswith("(now)"))
                    stream.paper_id = paper_id
                    recorded.append(stream)
                    return stream
                return open_stream

            group_ids = [-1001000 - n for n in range(args.groups or len(papers))]
            chats = [group_ids[n % len(group_ids)] for n in range(len(papers))]
            await asyncio.gather(*(assistant.faq(f"tg:{g}", p, language, opener(g, p.id)) for g, p in zip(chats, papers)))
        await assistant.aclose()
    first_request = {paper_of(body): index for index, body in enumerate(llm.requests)}
    groups: dict[str, list[float]] = {"all": [], "served at once": [], "waited in line": []}
    for stream in recorded:
        if stream.visible_at is None:
            continue
        latency = stream.visible_at - llm.first_token_at[first_request[stream.paper_id]]
        groups["all"].append(latency)
        groups["waited in line" if stream.queued else "served at once"].append(latency)
    report(f"Telegram groups, real sender and limits, {len(papers)} FAQs in {args.groups or len(papers)} groups: {mode}", groups)


def _serve_tiny_chunks(port: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    """In a process of its own (so its thread does not share our GIL): a model answering in 1-character chunks."""
    with FakeOpenAI(lambda body: "ab" * 15_000, chunk_chars=1) as server:
        port.put(server.base_url)
        stop.wait()


async def loop_lag(settings, sessions, http, paper: Paper) -> None:  # type: ignore[no-untyped-def]
    """The event loop's worst lateness while 30,000 one-character chunks stream into an Ask."""
    context = multiprocessing.get_context("fork")
    port, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve_tiny_chunks, args=(port, stop), daemon=True)
    server.start()
    base_url = port.get(timeout=30)
    assistant = Assistant(settings.replace("llm", max_answer_tokens=10_000, base_url=base_url), sessions, http,
                          lambda: dt.datetime.now(dt.timezone.utc))
    lags: list[float] = []
    busy: list[float] = []  # CPU time this process spent between two ticks: the loop held by our own code

    async def ticker() -> None:
        while True:
            before, cpu = time.monotonic(), time.process_time()
            await asyncio.sleep(0.005)
            lags.append(time.monotonic() - before - 0.005)
            busy.append(time.process_time() - cpu)

    stream = FakeStream("bench:lag")

    async def opened() -> FakeStream:
        return stream

    await assistant.texts.get(paper.id)  # the paper is read already: measure the stream alone
    watch = asyncio.create_task(ticker())
    started = time.monotonic()
    await assistant.ask("bench:lag", paper, "Tiny chunks?", "en", opened)
    elapsed = time.monotonic() - started
    watch.cancel()
    await assistant.aclose()
    stop.set()
    server.join(timeout=10)
    print()
    print(f"30,000 one-character chunks into one Ask (model in another process): {elapsed:.1f}s, "
          f"{len(stream.texts)} previews; event loop late by at most {max(lags) * 1000:.0f} ms "
          f"(p99 {percentile(lags, .99) * 1000:.0f} ms) by the wall clock, and held by this process's own work "
          f"for at most {max(busy) * 1000:.0f} ms (p99 {percentile(busy, .99) * 1000:.0f} ms) of CPU time between two ticks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ttft", type=float, default=0.4, help="the fake model's time to first token, seconds")
    parser.add_argument("--tokens-per-s", type=float, default=60.0)
    parser.add_argument("--words", type=int, default=120, help="words per answer")
    parser.add_argument("--groups", type=int, default=0,
                        help="Telegram groups the FAQs are asked in (0: one group per FAQ, so they queue for the LLM, not for the group)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
