"""`Assistant`: the paper assistant behind the FAQ, Ask and Translate buttons and the TL;DR line.

It ties together the full text (`digest.fulltext_cache`), the LLM client, the bounded queue and
the caches. The guarantees, and where each is kept:

- one FAQ generation per (paper, language), ever: answers are read from `llm_faq_answers` first;
  concurrent presses in this process join one `Flight` (an asyncio future map keyed by
  (paper, language)); across processes a `llm_leases` row (primary key, expiry renewed per
  question) makes the others wait for the answers instead of generating. Limit, stated honestly:
  a process that dies mid-generation holds the others back until its lease expires
  (`_lease_ttl_s`, a few minutes), after which one of them takes over;
- one reading of the paper per FAQ: the six questions are answered in one streamed call and
  split into six answers as they arrive (`prompts.split_faq`);
- a failed, cut or partial FAQ is never cached: the six answers are stored in one transaction
  once the call has finished with all six;
- today's papers first, at most `llm.max_concurrency` generations at once (`LLMQueue`); every
  answer is bounded by `llm.max_answer_tokens` and `llm.answer_timeout_s` (`LLMClient`), and its
  slot is freed however it ends;
- quotas: every request reserves before it calls the LLM (one call against the chat's
  `llm.daily_quota`, its estimated tokens against `llm.daily_token_budget`) and settles after,
  failed or not, with the calls and tokens it really spent (retries included). Cached answers and
  joining another chat's generation are free, and still served when the budget is spent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import render
from bot.assistant.errors import AnswerTimeout, AssistantError, LLMNotConfigured, LLMUnavailable
from bot.assistant.flight import Flight
from bot.assistant.llm import Completion, LLMClient, Meter, estimate_tokens
from bot.assistant.prompts import (
    FAQ_QUESTIONS,
    MAX_QUESTION_CHARS,
    ask_turn,
    faq_conversation,
    split_faq,
    split_translation,
    tldr_messages,
    translate_messages,
)
from bot.assistant.queue import LLMQueue, ordinal
from bot.assistant.store import AssistantStore
from bot.config import Settings
from bot.db_thread import in_db_thread
from bot.ports import AnswerStream
from digest.clean import collapse_whitespace
from digest.errors import FullTextUnavailable
from digest.fulltext import CHARS_PER_TOKEN, NoFullText, fit_to_budget
from digest.fulltext_cache import FullTextCache
from digest.message import Message
from digest.models import Paper

__all__ = ["Assistant"]

log = logging.getLogger(__name__)

StreamFactory = Callable[[], Awaitable[AnswerStream]]
Clock = Callable[[], dt.datetime]

# Tokens kept free of paper text besides the FAQ's answers: system prompt, questions, an Ask thread.
_PROMPT_OVERHEAD_TOKENS = 1000
_MIN_PAPER_TOKENS = 1500
_THREAD_TURNS = 6
_TLDR_TOKENS = 80


class Assistant:
    """FAQ, Ask, Translate and TL;DR over one LLM client; build one per app, `aclose()` at shutdown."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        http: Any,
        clock: Clock,
        *,
        llm: LLMClient | None = None,
        retry_wait_s: float = 1.0,
        lease_poll_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self.store = AssistantStore(sessions)
        self.texts = FullTextCache(sessions, http, html_url=settings.arxiv.html_url, pdf_url=settings.arxiv.pdf_url,
                                   max_bytes=settings.fulltext.max_bytes, in_db=in_db_thread)
        self.llm = llm or LLMClient(settings.llm, retry_wait_s=retry_wait_s)
        self.queue = LLMQueue(settings.llm.max_concurrency)
        self._clock = clock
        self._abs_url = settings.arxiv.abs_url
        self._owner = f"assistant-{uuid.uuid4().hex[:12]}"
        self._lease_poll_s = lease_poll_s
        self._lease_ttl_s = settings.llm.timeout_s * (settings.llm.retries + 1) + 120
        self._flights: dict[tuple[str, ...], Flight[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # per-thread locks; entries vanish when no ask holds them
        self._threads: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        # per-thread arrival order: held from a question's arrival until it is answered
        self._turns: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        # per-generation locks: looking for a flight, the cache and reserving are one step per key
        self._starting: weakref.WeakValueDictionary[tuple[str, ...], asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def configured(self) -> bool:
        """Whether an LLM endpoint is configured (see `bot.assistant.llm.is_configured`)."""
        return self.llm.configured

    async def aclose(self) -> None:
        """Stop generations in progress and close the LLM client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.llm.aclose()

    # --- FAQ ------------------------------------------------------------------------------------

    async def faq(self, chat_id: str, paper: Paper, language: str, stream_factory: StreamFactory) -> None:
        """Answer the six FAQ questions about `paper` in `language`, streamed into a new answer."""
        stream = await stream_factory()
        if not self.configured:
            await stream.fail(render.not_configured_message())
            return
        key = ("faq", paper.id, language)
        cached: tuple[list[str], str] | None = None
        usage: int | Message = 0
        async with self._start_lock(key):  # no sends while holding it: only the look-ups and the launch
            flight = self._flights.get(key)
            if flight is None:
                cached = await in_db_thread(self._cached_faq, paper.id, language)
                if cached is None:
                    usage = await self._reserve(chat_id, paper.id, "faq", self._faq_max_tokens())
                    if not isinstance(usage, Message):
                        reserved = usage
                        flight = self._launch(key, lambda f: self._generate_faq(reserved, paper, language, f))
        if cached is not None:
            answers, source = cached
            await stream.finish(render.faq_message(paper, answers, abs_url=self._abs_url, source=source))
            return
        if isinstance(usage, Message):
            await stream.fail(usage)
            return
        assert flight is not None
        try:
            answers, source, cut = await flight.follow(stream.update, lambda line: show_status(stream, line))
        except AssistantError as exc:
            await stream.fail(self._failure("faq", paper.id, exc))
            return
        await stream.finish(render.faq_message(paper, answers, abs_url=self._abs_url, source=source, cut=cut))

    async def _generate_faq(self, usage: int, paper: Paper, language: str,
                            flight: Flight[Any]) -> tuple[list[str], str, bool]:
        """One streamed call answers all six questions; (answers, source, cut at the length limit)."""
        lease = f"faq:{paper.id}:{language}"
        meter = Meter()
        ok = False
        try:
            while not await self._take_lease(lease):
                flight.publish("⏳ Another worker is writing this FAQ…", status=True)
                await asyncio.sleep(self._lease_poll_s)
                done = await in_db_thread(self._cached_faq, paper.id, language)
                if done is not None:
                    ok = True
                    return *done, False
            try:
                done = await in_db_thread(self._cached_faq, paper.id, language)
                if done is not None:  # written while we took the lease
                    ok = True
                    return *done, False
                # a status at once: in a group it opens the placeholder (a send, not an edit) before the
                # first words arrive, so those words are an edit that can go out at once
                reading = await in_db_thread(self.texts.cached, paper.id) is None
                flight.publish("📄 Reading the paper…" if reading else "✍️ Writing the FAQ…", status=True)
                body, source = await self._paper_text(paper)
                messages = faq_conversation(paper, body, language)

                async def show_place(place: int) -> None:
                    flight.publish(f"⏳ Waiting for the language model: {ordinal(place)} in line…", status=True)
                    await self._take_lease(lease)

                async def show(text: str) -> None:
                    answers = split_faq(text)
                    if answers:
                        flight.publish(render.faq_markdown(answers[:-1], answers[-1]))

                async with self.queue.slot(await self._priority(paper), on_place=show_place):
                    await self._take_lease(lease)  # renew
                    completion = await self.llm.complete(
                        messages, on_text=show, max_tokens=self._faq_max_tokens(), meter=meter
                    )
                _check_finished(completion)
                answers = split_faq(completion.text)[: len(FAQ_QUESTIONS)]
                cut = completion.finish_reason == "length"
                if cut and answers:
                    ok = True
                    return answers, source, True  # shown, and said to be cut; never cached
                if len(answers) < len(FAQ_QUESTIONS) or not all(answers):
                    answers = await self._ask_missing(paper, body, language, [a for a in answers if a], flight, meter)
                await in_db_thread(self.store.save_faq, paper.id, language, answers, completion, source)
                ok = True
                return answers[: len(FAQ_QUESTIONS)], source, False
            finally:
                await in_db_thread(self.store.release_lease, lease, self._owner)
        finally:
            await self._settle(usage, meter, ok=ok)

    def _cached_faq(self, paper_id: str, language: str) -> tuple[list[str], str] | None:
        """The stored FAQ of a paper in a language and where its text came from, or None (one database call)."""
        answers = self.store.faq_answers(paper_id, language, len(FAQ_QUESTIONS))
        return None if answers is None else (answers, self.store.faq_source(paper_id, language))

    async def _take_lease(self, lease: str) -> bool:
        """Take or renew the lease on writing one FAQ (several processes may share the database)."""
        return await in_db_thread(self.store.acquire_lease, lease, self._owner, self._clock(), self._lease_ttl_s)

    async def _ask_missing(
        self, paper: Paper, body: str, language: str, answers: list[str], flight: Flight[Any], meter: Meter
    ) -> list[str]:
        """A model that ignored the "[Qn]" markers: ask the questions it left out one at a time.

        Costs one more call per missing answer, each resending the paper: only for models that do
        not follow the format (the FAQ is still right, only dearer).
        """
        log.info("the model answered %d of the FAQ questions in one call; asking the rest one by one", len(answers))
        answers = list(answers)
        while len(answers) < len(FAQ_QUESTIONS):
            question = FAQ_QUESTIONS[len(answers)]
            messages = faq_conversation(paper, body, language, answers)
            messages.append({"role": "user",
                             "content": f"Answer only this question now, without its marker: {question}"})

            async def show(text: str, done: list[str] = answers) -> None:
                flight.publish(render.faq_markdown(done, text))

            async with self.queue.slot(await self._priority(paper)):
                completion = await self.llm.complete(messages, on_text=show, meter=meter)
            _check_finished(completion)
            answers.append(completion.text.strip())
        return answers

    def _faq_max_tokens(self) -> int:
        """max_tokens of the FAQ call: six answers, within a third of a small model's context."""
        per_answer = self.settings.llm.max_answer_tokens
        return min(len(FAQ_QUESTIONS) * per_answer, max(per_answer, self.settings.llm.context_tokens // 3))

    # --- Ask ------------------------------------------------------------------------------------

    async def ask(self, chat_id: str, paper: Paper, question: str, language: str,
                  stream_factory: StreamFactory) -> None:
        """Answer a free question about `paper`, continuing this chat's thread on it (cut at 4,000 characters)."""
        question = question.strip()[:MAX_QUESTION_CHARS]
        stream = await stream_factory()
        refusal = self._refusal(chat_id, question)
        usage = refusal or await self._reserve(chat_id, paper.id, "ask", self.settings.llm.max_answer_tokens)
        if isinstance(usage, Message):
            await stream.fail(usage)
            return
        turn = await in_db_thread(self.store.add_question, chat_id, paper.id, language, question)
        async with self._thread_lock(chat_id, paper.id):
            await self._answer(chat_id, usage, paper, turn, question, language, stream)

    async def retry(self, chat_id: str, kind: str, paper: Paper, language: str,
                    stream_factory: StreamFactory) -> Message | None:
        """The Retry button: write again what failed ("faq", "ask" or "tr"). Returns a reply for "tr"."""
        if kind == "tr":
            return await self.translate(chat_id, paper, language)
        if kind == "ask":
            pending = await in_db_thread(self.store.pending_question, chat_id, paper.id)
            if pending is not None:
                stream = await stream_factory()
                usage = self._refusal(chat_id, pending[1]) or await self._reserve(
                    chat_id, paper.id, "ask", self.settings.llm.max_answer_tokens
                )
                if isinstance(usage, Message):
                    await stream.fail(usage)
                    return None
                async with self._thread_lock(chat_id, paper.id):
                    await self._answer(chat_id, usage, paper, pending[0], pending[1], language, stream)
                return None
            return render.usage_message("There is no unanswered question to retry; reply to the paper with a new one.")
        await self.faq(chat_id, paper, language, stream_factory)
        return None

    def thread_turn(self, chat_id: str, paper_id: str) -> asyncio.Lock:
        """Held from a question's arrival until its answer: a thread's questions go in the order they came."""
        lock = self._turns.get((chat_id, paper_id))
        if lock is None:
            lock = self._turns[(chat_id, paper_id)] = asyncio.Lock()
        return lock

    def _thread_lock(self, chat_id: str, paper_id: str) -> asyncio.Lock:
        """One answer at a time per thread, so a quick follow-up sees the answer before it."""
        lock = self._threads.get((chat_id, paper_id))
        if lock is None:
            lock = self._threads[(chat_id, paper_id)] = asyncio.Lock()
        return lock

    async def _answer(
        self, chat_id: str, usage: int, paper: Paper, turn: int, question: str, language: str, stream: AnswerStream
    ) -> None:
        meter = Meter()
        ok = False
        try:
            reading = await in_db_thread(self.texts.cached, paper.id) is None
            await show_status(stream, "📄 Reading the paper…" if reading else "✍️ Writing the answer…")
            body, _source = await self._paper_text(paper)
            messages = await in_db_thread(self._ask_messages, chat_id, paper, body, language, question)

            async def show_place(place: int) -> None:
                await show_status(stream, f"⏳ Waiting for the language model: {ordinal(place)} in line…")

            async with self.queue.slot(await self._priority(paper), on_place=show_place):
                completion = await self.llm.complete(messages, on_text=lambda text: _quietly(stream.update(text)),
                                                     meter=meter)
            _check_finished(completion)
            ok = True
        except AssistantError as exc:
            await stream.fail(self._failure("ask", paper.id, exc))
            return
        except Exception as exc:  # a bug must still end the answer with a message, never a hanging preview
            log.exception("answer for %s failed", paper.id)
            await stream.fail(self._failure("ask", paper.id, LLMUnavailable(f"internal error: {type(exc).__name__}")))
            return
        finally:
            await self._settle(usage, meter, ok=ok)
        cut = completion.finish_reason == "length"
        await in_db_thread(self.store.answer_question, turn, completion.text, completion.model)
        await stream.finish(render.ask_message(paper, question, completion.text, abs_url=self._abs_url, cut=cut))

    def _ask_messages(self, chat_id: str, paper: Paper, body: str, language: str,
                      question: str) -> list[dict[str, Any]]:
        """The FAQ conversation (same prefix as the FAQ call), then as much of the thread as fits, then the question.

        It reads the store: async code calls it through `in_db_thread`.
        """
        faq = self.store.faq_answers(paper.id, language, len(FAQ_QUESTIONS)) or []
        head = faq_conversation(paper, body, language, faq)
        room = self.settings.llm.context_tokens - self.settings.llm.max_answer_tokens - estimate_tokens(head)
        last = [ask_turn(question)]
        thread: list[dict[str, Any]] = []
        for old_question, old_answer in reversed(self.store.thread(chat_id, paper.id, _THREAD_TURNS)):
            pair = [ask_turn(old_question), {"role": "assistant", "content": old_answer}]
            if estimate_tokens(pair + thread + last) > room:
                break  # the oldest turns go first
            thread = pair + thread
        return head + thread + last

    # --- translation and TL;DR ------------------------------------------------------------------

    async def translate(self, chat_id: str, paper: Paper, language: str) -> Message:
        """Title and abstract in `language`, translated once per paper and language for every chat."""
        if language == "en":
            return render.usage_message(
                "This chat's language is English, so there is nothing to translate. "
                "Choose another with /language (e.g. /language zh)."
            )
        if not self.configured:
            return render.not_configured_message()
        key = ("tr", paper.id, language)
        async with self._start_lock(key):
            flight = self._flights.get(key)
            if flight is None:
                cached = await in_db_thread(self.store.translation, paper.id, language)
                if cached is not None:
                    return render.translation_message(paper, *cached, language, abs_url=self._abs_url)
                usage = await self._reserve(chat_id, paper.id, "translate", self.settings.llm.max_answer_tokens)
                if isinstance(usage, Message):
                    return usage
                flight = self._launch(key, lambda f: self._generate_translation(usage, paper, language, f))
        try:
            title, abstract = await flight.follow(_ignore)
        except AssistantError as exc:
            return self._failure("tr", paper.id, exc)
        return render.translation_message(paper, title, abstract, language, abs_url=self._abs_url)

    async def _generate_translation(self, usage: int, paper: Paper, language: str,
                                    flight: Flight[Any]) -> tuple[str, str]:
        meter = Meter()
        ok = False
        try:
            async with self.queue.slot(await self._priority(paper)):
                completion = await self.llm.complete(translate_messages(paper, language), meter=meter)
            _check_finished(completion)
            ok = True
        finally:
            await self._settle(usage, meter, ok=ok)
        title, abstract = split_translation(completion.text)
        await in_db_thread(self.store.save_translation, paper.id, language, title, abstract, completion.model)
        return title, abstract

    async def tldr(self, paper: Paper) -> str | None:
        """A one-line TL;DR for digests when `llm.tldr` is on; None when off, unconfigured, failing or over budget."""
        if not self.settings.llm.tldr or not self.configured:
            return None
        key = ("tldr", paper.id)
        async with self._start_lock(key):
            flight = self._flights.get(key)
            if flight is None:
                cached = await in_db_thread(self.store.tldr, paper.id)
                if cached is not None:
                    return cached
                usage = await self._reserve(None, paper.id, "tldr", _TLDR_TOKENS)
                if isinstance(usage, Message):
                    return None
                flight = self._launch(key, lambda f: self._generate_tldr(usage, paper, f))
        try:
            return await flight.follow(_ignore)
        except AssistantError as exc:
            log.warning("no TL;DR for %s: %s", paper.id, exc)
            return None

    async def _generate_tldr(self, usage: int, paper: Paper, flight: Flight[Any]) -> str:
        meter = Meter()
        ok = False
        try:
            async with self.queue.slot(2):  # behind every interactive request
                completion = await self.llm.complete(tldr_messages(paper), max_tokens=_TLDR_TOKENS, meter=meter)
            _check_finished(completion)
            ok = True
        finally:
            await self._settle(usage, meter, ok=ok)
        text = collapse_whitespace(completion.text).strip('"')
        await in_db_thread(self.store.save_tldr, paper.id, text, completion.model)
        return text

    # --- shared machinery -----------------------------------------------------------------------

    def _launch(self, key: tuple[str, ...], work: Callable[[Flight[Any]], Awaitable[Any]]) -> Flight[Any]:
        """Start one generation for `key` in a task of its own; followers join its `Flight`.

        The task is not tied to the chat that started it: if that handler is cancelled, everyone
        else still gets the answer, and it is still cached.
        """
        flight: Flight[Any] = Flight()
        self._flights[key] = flight

        async def run() -> None:
            try:
                flight.settle(await work(flight))
            except asyncio.CancelledError:
                flight.settle(error=LLMUnavailable("the bot is shutting down"))
                raise
            except AssistantError as exc:
                flight.settle(error=exc)
            except Exception as exc:  # anything else is a bug, but followers must still get an answer
                log.exception("generation %s failed", key)
                flight.settle(error=LLMUnavailable(f"internal error: {type(exc).__name__}"))
            finally:
                self._flights.pop(key, None)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return flight

    def _paper_budget(self) -> int:
        """Tokens of paper text a prompt may hold: the context less the FAQ's answers and the rest of the prompt.

        The same for FAQ and Ask, so both send the same paper turn (a provider's cache serves it).
        """
        spare = self.settings.llm.context_tokens - self._faq_max_tokens() - _PROMPT_OVERHEAD_TOKENS
        return max(_MIN_PAPER_TOKENS, spare)

    async def _paper_text(self, paper: Paper) -> tuple[str, str]:
        """The paper's text within the context budget, and where it came from (html, pdf or abstract)."""
        budget = self._paper_budget()
        try:
            text = await self.texts.get(paper.id)
        except NoFullText as exc:
            log.info("no full text for %s (%s); answering from the abstract", paper.id, exc)
            return f"## Abstract\n{_cut(paper.abstract, budget * CHARS_PER_TOKEN)}", "abstract"
        except FullTextUnavailable as exc:
            raise LLMUnavailable("arXiv could not be reached for the paper's full text.") from exc
        return fit_to_budget(text, budget), text.source

    def _start_lock(self, key: tuple[str, ...]) -> asyncio.Lock:
        """One caller at a time looks for `key`'s flight, reads its cache and launches it: one generation per key."""
        lock = self._starting.get(key)
        if lock is None:
            lock = self._starting[key] = asyncio.Lock()
        return lock

    async def _priority(self, paper: Paper) -> int:
        """0 (first in the LLM queue) for a paper of the latest announcement, else 1."""
        return 0 if await in_db_thread(self.store.announced_latest, paper.id) else 1

    def _today(self) -> dt.date:
        return self._clock().astimezone(dt.UTC).date()

    async def _reserve(self, chat_id: str | None, paper_id: str, kind: str, max_tokens: int) -> int | Message:
        """Reserve a call and its likely tokens before calling the LLM: the usage row, or the refusal to show.

        The token estimate is the most a call can send and receive: a full prompt and `max_tokens`.
        """
        llm = self.settings.llm
        estimate = (self._paper_budget() + _PROMPT_OVERHEAD_TOKENS if kind in {"faq", "ask"} else 4000) + max_tokens
        usage = await in_db_thread(
            self.store.reserve, chat_id=chat_id, paper_id=paper_id, kind=kind, day=self._today(), tokens=estimate,
            chat_calls=llm.daily_quota, daily_tokens=llm.daily_token_budget,
        )
        if usage == "quota":
            return render.quota_message(llm.daily_quota)
        if usage == "budget":
            log.warning("the daily token budget (llm.daily_token_budget = %d) is spent; %s refused",
                        llm.daily_token_budget, kind)
            return render.budget_message()
        return int(usage)

    async def _settle(self, usage: int, meter: Meter, *, ok: bool) -> None:
        """Record what a reserved call really cost."""
        await in_db_thread(
            self.store.settle, usage, calls=meter.calls, prompt_tokens=meter.prompt_tokens,
            completion_tokens=meter.completion_tokens,
            cached_tokens=meter.cached_tokens, ok=ok,
        )

    def _refusal(self, chat_id: str, question: str) -> Message | None:
        """Why a question cannot be asked at all (no LLM, no question), or None."""
        if not self.configured:
            return render.not_configured_message()
        if not question.strip():
            return render.usage_message(
                "Ask a question about the paper, e.g. /ask 2401.12345 What dataset do they use?")
        return None

    def _failure(self, kind: str, paper_id: str, exc: BaseException) -> Message:
        if isinstance(exc, LLMNotConfigured):
            return render.not_configured_message()
        log.warning("%s for %s failed: %s", kind, paper_id, exc)
        detail = ""
        if isinstance(exc, AnswerTimeout):
            detail = (f"It took longer than {self.settings.llm.answer_timeout_s:g} s (llm.answer_timeout_s) "
                      "and was stopped.")
        elif isinstance(exc, LLMUnavailable) and "arXiv" in str(exc):
            detail = str(exc)
        return render.failure_message(kind, paper_id, detail)


def _check_finished(completion: Completion) -> None:
    """An answer the provider stopped for safety, or an empty one, is a failure (never cached)."""
    if completion.finish_reason not in ("stop", "length") or not completion.text.strip():
        raise LLMUnavailable(f"the model returned no usable answer (finish_reason={completion.finish_reason})")


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "\n[… cut for length]"


async def show_status(stream: AnswerStream, line: str) -> None:
    """Show a status line; a stream without `status` shows it as text, and a failure to show is no error."""
    show = getattr(stream, "status", None) or stream.update
    await _quietly(show(line))


async def _quietly(preview: Awaitable[None]) -> None:
    """Show a preview; one that cannot be shown is not worth losing the answer for (the final message still goes)."""
    try:
        await preview
    except Exception as exc:
        log.debug("a preview could not be shown: %s", exc)


async def _ignore(_preview: str) -> None:
    return None
