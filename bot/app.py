"""The chat-agnostic bot: what adapters call for every incoming message and button press.

`Paperboy` is built once by `bot.cli.build_app` (the composition root), which hands it every part
it uses: the database, the arXiv client, the stores, the LLM assistant, the personal ranker, the
search and related-papers finder, and the tables of command and button handlers. Adapters attach
their `Sender`s to it, turn a platform event into `handle_text` or `handle_action`, and render the
`Message`s that come back. Handlers live in feature modules that register with `bot.registry`;
this class only dispatches, guards (who may change a group's subscription) and turns errors into
polite answers. It imports no feature module: they import it (for `Paperboy` in their signatures).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Assistant
from bot.command_specs import COMMANDS_BY_NAME
from bot.config import Settings
from bot.db_thread import in_db_thread
from bot.embedder import Embedder
from bot.feed_watch import FeedWatch
from bot.finder import Finder
from bot.outbox import Outbox
from bot.ports import ActionReply, ChatContext, Reply, Sender
from bot.untrusted import BUTTON_EXPIRED, ExpiredButton, clean_action, clean_message
from digest.arxiv_api import fetch_by_ids
from digest.arxiv_http import ArxivHttp
from digest.cards import ArxivUrls
from digest.errors import ApiUnavailable, BadArxivId, BadInput, PaperboyError, PaperNotFound
from digest.message import Message, text
from digest.models import Paper
from digest.personal import PersonalRanker
from digest.store import PaperStore
from digest.subscriptions import SubscriptionConflict, SubscriptionStore

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def utc_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


CommandHandler = Callable[["Paperboy", ChatContext, str, Reply | None], Awaitable[list[Message]]]
"""`async def f(app, ctx, args, reply) -> list[Message]`: the handler of one `/command`."""

ActionHandler = Callable[["Paperboy", ChatContext, str, str | None], Awaitable[ActionReply]]
"""`async def f(app, ctx, args, message_id) -> ActionReply`: the handler of button payloads `verb:<args>`."""

R = TypeVar("R")

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
NOT_ALLOWED = "Only this chat's admins can change what it follows. Ask one of them, or talk to me in private."


class Paperboy:
    """The bot's brain, shared by every adapter of the process."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        http: ArxivHttp,
        store: PaperStore,
        subscriptions: SubscriptionStore,
        assistant: Assistant,
        personal: PersonalRanker,
        finder: Finder,
        feed_watch: FeedWatch,
        commands: Mapping[str, CommandHandler],
        actions: Mapping[str, ActionHandler],
        clock: Clock = utc_clock,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.http = http
        self.clock = clock
        self.store = store
        self.subscriptions = subscriptions
        self.assistant = assistant
        self.personal = personal
        self.finder = finder
        self.embedder = embedder  # provider embeddings (llm.embedding_model), or None when off
        self.commands = commands
        self.actions = actions
        self.urls = ArxivUrls(settings.arxiv.abs_url, settings.arxiv.pdf_url, settings.arxiv.html_url)
        self.senders: dict[str, Sender] = {}
        self.feed_watch = feed_watch  # when to ask arXiv for a feed again
        # The one part built here: the outbox delivers through the senders that adapters attach to
        # this app as they start (`attach_sender`), and pauses or moves chats in its subscriptions.
        self.outbox = Outbox(
            sessions,
            sender_for=self.sender_for,
            clock=clock,
            on_unreachable=subscriptions.pause,
            on_moved=subscriptions.move,
            platforms=lambda: list(self.senders),
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        # per chat and paper: when its latest assistant press is answered (bot.assistant.commands keeps order)
        self.assistant_turns: dict[str, asyncio.Future[None]] = {}

    # --- wiring ----------------------------------------------------------------------------

    def attach_sender(self, platform: str, sender: Sender) -> None:
        """Let the bot and the outbox send to chats of `platform` ("tg", "dc", "console")."""
        self.senders[platform] = sender

    def sender_for(self, chat_id: str) -> Sender | None:
        return self.senders.get(chat_id.split(":", 1)[0])

    def spawn(self, coro: Coroutine[Any, Any, R]) -> asyncio.Task[R]:
        """Run slow work (an LLM answer) after a button press has been answered; errors are logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait for background tasks (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.assistant.aclose()
        if self.embedder is not None:
            await self.embedder.aclose()
        await self.http.aclose()
        self.engine.dispose()

    # --- papers ------------------------------------------------------------------------------

    async def fetch_papers(self, ids: list[str]) -> dict[str, Paper]:
        """Papers by id: the store first, the arXiv API for the rest (and they are kept)."""
        found = await in_db_thread(self.store.get_papers, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            fetched = await self._ask_arxiv_for(missing)
            if fetched:
                await in_db_thread(self.store.upsert_papers, fetched.values())
                self.papers_stored(list(fetched))
                self.embed_new(list(fetched))
            found.update(fetched)
        return found

    async def _ask_arxiv_for(self, ids: list[str]) -> dict[str, Paper]:
        """The arXiv API's answer within `arxiv.interactive_timeout_s`: someone is waiting for it."""
        deadline = self.settings.arxiv.interactive_timeout_s
        try:
            async with asyncio.timeout(deadline):
                return await fetch_by_ids(self.http, self.settings.arxiv.api_url, ids)
        except TimeoutError:
            raise ApiUnavailable(f"the arXiv API did not answer within {deadline:g} s") from None

    async def fetch_paper(self, paper_id: str) -> Paper:
        """One paper by id; `PaperNotFound` when arXiv does not know it."""
        paper = (await self.fetch_papers([paper_id])).get(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        return paper

    def papers_stored(self, ids: list[str]) -> None:
        """Papers were added or changed: they go into the persisted Related index, in a worker thread
        (never in the way of an answer); before the index exists, the first Related call or start-up builds it."""
        try:
            if not self.finder.vectors.ready:
                return
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a one-shot command: the next Related call catches up
        except Exception:
            log.exception("keeping the Related index current failed")
            return
        self.spawn(asyncio.to_thread(self.finder.vectors.refresh))

    def embed_new(self, ids: list[str]) -> None:
        """Papers arrived: ask the provider for their embeddings in a background task, when
        `llm.embedding_model` is set (nothing waits for it; a failure leaves them to TF-IDF)."""
        if self.embedder is None or not self.embedder.enabled or not ids:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.spawn(self.embedder.embed_new(ids))

    # --- incoming ----------------------------------------------------------------------------

    async def handle_text(self, ctx: ChatContext, text_in: str, *, reply: Reply | None = None) -> list[Message]:
        """Answer anything a user wrote: a command, arXiv links, or a reply to a paper."""
        line = clean_message(text_in).strip()
        if line.startswith("/"):
            name, _, args = line[1:].partition(" ")
            name = name.split("@", 1)[0].lower()
            return await self._run_command(ctx, name, args.strip(), reply)
        paper_id = _paper_in_reply(reply)
        if paper_id and "ask" in self.commands:
            return await self._run_command(ctx, "ask", f"{paper_id} {line}", reply)
        return await self._run_command(ctx, "_links", line, reply)

    async def _run_command(self, ctx: ChatContext, name: str, args: str, reply: Reply | None) -> list[Message]:
        handler = self.commands.get(name)
        spec = COMMANDS_BY_NAME.get(name)
        if handler is None or (spec is None and not name.startswith("_")):
            return [text(unknown_command_answer(name))]
        # Anyone may look at a setting (no argument shows it); only managers change it.
        if spec is not None and spec.manages and not ctx.can_manage and (args or name == "unsubscribe"):
            return [text(NOT_ALLOWED)]
        return await self._guarded(lambda: handler(self, ctx, args, reply), lambda m: [text(m)])

    async def handle_action(self, ctx: ChatContext, action: str, *, message_id: str | None = None) -> ActionReply:
        """Answer a button press. Payloads are untrusted: forged, unknown or stale ones get `BUTTON_EXPIRED`."""
        cleaned = clean_action(action)
        verb, _, args = (cleaned or "").partition(":")
        handler = self.actions.get(verb)
        if handler is None:
            return ActionReply(notice=BUTTON_EXPIRED)

        async def press() -> ActionReply:
            try:
                return await handler(self, ctx, args, message_id)
            except BadArxivId:  # our buttons carry ids we checked; anything else was forged
                raise ExpiredButton() from None

        return await self._guarded(press, lambda m: ActionReply(notice=m[:200]))

    async def _guarded(self, call: Callable[[], Awaitable[R]], wrap: Callable[[str], R]) -> R:
        try:
            return await _redo_on_conflict(call)
        except SubscriptionConflict:
            return wrap("This chat's settings were being changed from elsewhere at the same moment. Please try again.")
        except ExpiredButton:
            return wrap(BUTTON_EXPIRED)
        except BadInput as exc:
            return wrap(str(exc))
        except PaperNotFound as exc:
            return wrap(str(exc))
        except ApiUnavailable as exc:
            log.info("arXiv API unavailable: %s", exc)
            return wrap("arXiv can't be reached right now. Please try again in a few minutes.")
        except PaperboyError as exc:
            log.warning("request failed: %s", exc)
            return wrap(str(exc) or APOLOGY)
        except Exception:
            log.exception("handler failed")
            return wrap(APOLOGY)

    async def chat_moved(self, old_chat_id: str, new_chat_id: str) -> None:
        """A group changed id (Telegram supergroup migration): its subscription follows."""
        await in_db_thread(self.subscriptions.move, old_chat_id, new_chat_id)

    async def chat_unreachable(self, chat_id: str, reason: str) -> None:
        """The bot was blocked or removed: stop scheduled digests until someone talks to it again."""
        await in_db_thread(self.subscriptions.pause, chat_id, reason)

    # --- scheduled work (implemented in bot.delivery) -----------------------------------------

    async def deliver_pending(self) -> int:
        """Send what is waiting in the outbox."""
        return await self.outbox.deliver()


CONFLICT_ATTEMPTS = 20


async def _redo_on_conflict(call: Callable[[], Awaitable[R]]) -> R:
    """Run a handler again (from a fresh read) when its subscription write met a concurrent change."""
    for attempt in range(1, CONFLICT_ATTEMPTS):
        try:
            return await call()
        except SubscriptionConflict:
            await asyncio.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))  # let the other writer finish
    return await call()  # the last attempt: a conflict now reaches the caller


def unknown_command_answer(name: str) -> str:
    """'I don't know /subscibe. Did you mean /subscribe?', with the nearest command when one is close."""
    shown = name[:40]
    close = difflib.get_close_matches(name.lower(), list(COMMANDS_BY_NAME), n=1, cutoff=0.6)
    if close:
        return f"I don't know /{shown}. Did you mean /{close[0]}? /help lists what I can do."
    return f"I don't know /{shown}. /help lists what I can do."


def _paper_in_reply(reply: Reply | None) -> str | None:
    """The paper a replied-to message is about, from its FAQ/Ask buttons."""
    if reply is None:
        return None
    for act in reply.actions:
        verb, _, args = act.partition(":")
        if verb in {"faq", "ask"} and args:
            return args
    return None

