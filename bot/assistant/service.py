"""`Assistant`: the paper assistant behind the FAQ, Ask and Translate buttons and the TL;DR line.

It ties together the full text (`digest.fulltext_cache`), the LLM client, the bounded queue and
the caches. The guarantees, and where each is kept:

- one FAQ generation per (paper, language), ever: answers are read from `llm_faq_answers` first;
  concurrent presses in this process join one `Flight` (an asyncio future map keyed by
  (paper, language)); across processes a `llm_leases` row (primary key, expiry renewed per
  question) makes the others wait for the answers instead of generating. Limit, stated honestly:
  a process that dies mid-generation holds the others back until its lease expires
  (`_lease_ttl_s`, a few minutes), after which one of them takes over;
- a failed or partial FAQ is never cached: the six answers are stored in one transaction after
  the sixth succeeds;
- today's papers first, at most `llm.max_concurrency` generations at once (`LLMQueue`);
- quotas: a chat may make `llm.daily_quota` successful LLM-backed requests a day (UTC); cached
  answers and joining another chat's generation are free.
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
from bot.assistant.errors import AssistantError, LLMNotConfigured, LLMUnavailable
from bot.assistant.flight import Flight
from bot.assistant.llm import Completion, LLMClient
from bot.assistant.prompts import (
    FAQ_QUESTIONS,
    ask_turn,
    faq_conversation,
    split_translation,
    tldr_messages,
    translate_messages,
)
from bot.assistant.queue import LLMQueue, ordinal
from bot.assistant.store import AssistantStore
from bot.config import Settings
from bot.ports import AnswerStream
from digest.errors import FullTextUnavailable
from digest.fulltext import NoFullText, fit_to_budget
from digest.fulltext_cache import FullTextCache
from digest.message import Message
from digest.models import Paper

__all__ = ["Assistant"]

log = logging.getLogger(__name__)

StreamFactory = Callable[[], Awaitable[AnswerStream]]
Clock = Callable[[], dt.datetime]

# Tokens kept free of paper text: system prompt, six questions and answers, a short Ask thread,
# and the answer being written.
_RESERVED_TOKENS = 6000
_MIN_PAPER_TOKENS = 1500
_THREAD_TURNS = 6


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
                                   max_bytes=settings.fulltext.max_bytes)
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
        cached = self.store.faq_answers(paper.id, language, len(FAQ_QUESTIONS))
        if cached is not None:
            source = self.store.faq_source(paper.id, language)
            await stream.finish(render.faq_message(paper, cached, abs_url=self._abs_url, source=source))
            return
        key = ("faq", paper.id, language)
        flight = self._flights.get(key)
        if flight is None:
            if self._over_quota(chat_id):
                await stream.fail(render.quota_message(self.settings.llm.daily_quota))
                return
            flight = self._launch(key, lambda f: self._generate_faq(chat_id, paper, language, f))
        try:
            answers, source = await flight.follow(stream.update)
        except AssistantError as exc:
            await stream.fail(self._failure("faq", paper.id, exc))
            return
        await stream.finish(render.faq_message(paper, answers, abs_url=self._abs_url, source=source))

    async def _generate_faq(self, chat_id: str, paper: Paper, language: str, flight: Flight[Any]) -> tuple[list[str], str]:
        lease = f"faq:{paper.id}:{language}"
        while not self.store.acquire_lease(lease, self._owner, self._clock(), self._lease_ttl_s):
            flight.publish("⏳ Another worker is writing this FAQ…")
            await asyncio.sleep(self._lease_poll_s)
            done = self.store.faq_answers(paper.id, language, len(FAQ_QUESTIONS))
            if done is not None:
                return done, self.store.faq_source(paper.id, language)
        completions: list[Completion] = []
        try:
            done = self.store.faq_answers(paper.id, language, len(FAQ_QUESTIONS))
            if done is not None:  # written while we took the lease
                return done, self.store.faq_source(paper.id, language)
            if self.texts.cached(paper.id) is None:  # a status only when it means a wait: it costs a group edit
                flight.publish("📄 Reading the paper…")
            body, source = await self._paper_text(paper)

            async def show_place(place: int) -> None:
                flight.publish(f"⏳ Waiting for the language model: {ordinal(place)} in line…")
                self.store.acquire_lease(lease, self._owner, self._clock(), self._lease_ttl_s)

            async with self.queue.slot(self._priority(paper), on_place=show_place):
                for _ in FAQ_QUESTIONS:
                    self.store.acquire_lease(lease, self._owner, self._clock(), self._lease_ttl_s)  # renew
                    answers = [c.text for c in completions]
                    messages = faq_conversation(paper, body, language, answers)

                    async def show(text: str, answers: list[str] = answers) -> None:
                        flight.publish(render.faq_markdown(answers, text))

                    completion = await self.llm.complete(messages, on_text=show)
                    _check_finished(completion)
                    completions.append(completion)
            self.store.save_faq(paper.id, language, completions, source)
            self._record(chat_id, paper.id, "faq", completions, ok=True)
            return [c.text for c in completions], source
        except BaseException:
            if completions:
                self._record(chat_id, paper.id, "faq", completions, ok=False)
            raise
        finally:
            self.store.release_lease(lease, self._owner)

    # --- Ask ------------------------------------------------------------------------------------

    async def ask(self, chat_id: str, paper: Paper, question: str, language: str, stream_factory: StreamFactory) -> None:
        """Answer a free question about `paper`, continuing this chat's thread on it."""
        stream = await stream_factory()
        if not self._may_generate(chat_id) or not question.strip():
            await stream.fail(self._refusal(chat_id, question))
            return
        turn = self.store.add_question(chat_id, paper.id, language, question.strip())
        async with self._thread_lock(chat_id, paper.id):
            await self._answer(chat_id, paper, turn, question.strip(), language, stream)

    async def retry(self, chat_id: str, kind: str, paper: Paper, language: str, stream_factory: StreamFactory) -> Message | None:
        """The Retry button: write again what failed ("faq", "ask" or "tr"). Returns a reply for "tr"."""
        if kind == "tr":
            return await self.translate(chat_id, paper, language)
        if kind == "ask":
            pending = self.store.pending_question(chat_id, paper.id)
            if pending is not None:
                stream = await stream_factory()
                if not self._may_generate(chat_id):
                    await stream.fail(self._refusal(chat_id, pending[1]))
                    return None
                async with self._thread_lock(chat_id, paper.id):
                    await self._answer(chat_id, paper, pending[0], pending[1], language, stream)
                return None
            return render.usage_message("There is no unanswered question to retry; reply to the paper with a new one.")
        await self.faq(chat_id, paper, language, stream_factory)
        return None

    def _thread_lock(self, chat_id: str, paper_id: str) -> asyncio.Lock:
        """One answer at a time per thread, so a quick follow-up sees the answer before it."""
        lock = self._threads.get((chat_id, paper_id))
        if lock is None:
            lock = self._threads[(chat_id, paper_id)] = asyncio.Lock()
        return lock

    async def _answer(self, chat_id: str, paper: Paper, turn: int, question: str, language: str, stream: AnswerStream) -> None:
        completion: Completion | None = None
        try:
            if self.texts.cached(paper.id) is None:
                await _quietly(stream.update("📄 Reading the paper…"))
            body, _source = await self._paper_text(paper)
            faq = self.store.faq_answers(paper.id, language, len(FAQ_QUESTIONS)) or []
            # the FAQ conversation (same prefix as the FAQ's calls, so a provider's cache applies), then the thread
            messages = faq_conversation(paper, body, language, faq)
            if len(faq) < len(FAQ_QUESTIONS):
                messages = messages[:3]
            for old_question, old_answer in self.store.thread(chat_id, paper.id, _THREAD_TURNS):
                messages += [ask_turn(old_question), {"role": "assistant", "content": old_answer}]
            messages.append(ask_turn(question))

            async def show_place(place: int) -> None:
                await _quietly(stream.update(f"⏳ Waiting for the language model: {ordinal(place)} in line…"))

            async with self.queue.slot(self._priority(paper), on_place=show_place):
                completion = await self.llm.complete(messages, on_text=stream.update)
            _check_finished(completion)
        except AssistantError as exc:
            self._record(chat_id, paper.id, "ask", [completion] if completion else [], ok=False)
            await stream.fail(self._failure("ask", paper.id, exc))
            return
        self.store.answer_question(turn, completion.text, completion.model)
        self._record(chat_id, paper.id, "ask", [completion], ok=True)
        await stream.finish(render.ask_message(paper, question, completion.text, abs_url=self._abs_url))

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
        cached = self.store.translation(paper.id, language)
        if cached is not None:
            return render.translation_message(paper, *cached, language, abs_url=self._abs_url)
        key = ("tr", paper.id, language)
        flight = self._flights.get(key)
        if flight is None:
            if self._over_quota(chat_id):
                return render.quota_message(self.settings.llm.daily_quota)
            flight = self._launch(key, lambda f: self._generate_translation(chat_id, paper, language, f))
        try:
            title, abstract = await flight.follow(_ignore)
        except AssistantError as exc:
            return self._failure("tr", paper.id, exc)
        return render.translation_message(paper, title, abstract, language, abs_url=self._abs_url)

    async def _generate_translation(self, chat_id: str, paper: Paper, language: str, flight: Flight[Any]) -> tuple[str, str]:
        async with self.queue.slot(self._priority(paper)):
            try:
                completion = await self.llm.complete(translate_messages(paper, language))
                _check_finished(completion)
            except AssistantError:
                self._record(chat_id, paper.id, "translate", [], ok=False)
                raise
        title, abstract = split_translation(completion.text)
        self.store.save_translation(paper.id, language, title, abstract, completion.model)
        self._record(chat_id, paper.id, "translate", [completion], ok=True)
        return title, abstract

    async def tldr(self, paper: Paper) -> str | None:
        """A one-line TL;DR for digests when `llm.tldr` is on; None when off, unconfigured or failing."""
        if not self.settings.llm.tldr or not self.configured:
            return None
        cached = self.store.tldr(paper.id)
        if cached is not None:
            return cached
        key = ("tldr", paper.id)
        flight = self._flights.get(key) or self._launch(key, lambda f: self._generate_tldr(paper, f))
        try:
            return await flight.follow(_ignore)
        except AssistantError as exc:
            log.warning("no TL;DR for %s: %s", paper.id, exc)
            return None

    async def _generate_tldr(self, paper: Paper, flight: Flight[Any]) -> str:
        async with self.queue.slot(2):  # behind every interactive request
            completion = await self.llm.complete(tldr_messages(paper), max_tokens=80)
        _check_finished(completion)
        text = " ".join(completion.text.split()).strip('"')
        self.store.save_tldr(paper.id, text, completion.model)
        self._record(None, paper.id, "tldr", [completion], ok=True)
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

    async def _paper_text(self, paper: Paper) -> tuple[str, str]:
        """The paper's text within the context budget, and where it came from (html, pdf or abstract)."""
        budget = max(_MIN_PAPER_TOKENS, self.settings.llm.context_tokens - _RESERVED_TOKENS)
        try:
            text = await self.texts.get(paper.id)
        except NoFullText as exc:
            log.info("no full text for %s (%s); answering from the abstract", paper.id, exc)
            return f"## Abstract\n{paper.abstract}", "abstract"
        except FullTextUnavailable as exc:
            raise LLMUnavailable("arXiv could not be reached for the paper's full text.") from exc
        return fit_to_budget(text, budget), text.source

    def _priority(self, paper: Paper) -> int:
        return 0 if self.store.announced_latest(paper.id) else 1

    def _today(self) -> dt.date:
        return self._clock().astimezone(dt.timezone.utc).date()

    def _over_quota(self, chat_id: str) -> bool:
        quota = self.settings.llm.daily_quota
        return quota > 0 and self.store.requests_today(chat_id, self._today()) >= quota

    def _may_generate(self, chat_id: str) -> bool:
        return self.configured and not self._over_quota(chat_id)

    def _refusal(self, chat_id: str, question: str) -> Message:
        if not self.configured:
            return render.not_configured_message()
        if not question.strip():
            return render.usage_message("Ask a question about the paper, e.g. /ask 2401.12345 What dataset do they use?")
        return render.quota_message(self.settings.llm.daily_quota)

    def _record(self, chat_id: str | None, paper_id: str, kind: str, completions: list[Completion], *, ok: bool) -> None:
        self.store.record_usage(chat_id=chat_id, paper_id=paper_id, kind=kind, day=self._today(), completions=completions, ok=ok)

    def _failure(self, kind: str, paper_id: str, exc: BaseException) -> Message:
        if isinstance(exc, LLMNotConfigured):
            return render.not_configured_message()
        log.warning("%s for %s failed: %s", kind, paper_id, exc)
        detail = str(exc) if isinstance(exc, LLMUnavailable) and "arXiv" in str(exc) else ""
        return render.failure_message(kind, paper_id, detail)


def _check_finished(completion: Completion) -> None:
    """An answer the provider stopped for safety, or an empty one, is a failure (never cached)."""
    if completion.finish_reason not in ("stop", "length") or not completion.text.strip():
        raise LLMUnavailable(f"the model returned no usable answer (finish_reason={completion.finish_reason})")


async def _ignore(_preview: str) -> None:
    return None


async def _quietly(awaitable: Awaitable[Any]) -> None:
    """Show a status line; a preview that cannot be shown is not an error."""
    try:
        await awaitable
    except Exception:
        pass
