"""Chat handlers of the paper assistant: /faq, /ask, /language and the faq/ask/retry/tr buttons.

Button presses are answered at once with a short notice; the slow part (reading the paper,
the LLM) runs in `app.spawn(...)` and streams into the chat through the adapter's
`open_stream`, threaded under the message whose button was pressed. `app.assistant` is the
`Assistant` the composition root built.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bot.app import ActionReply
from bot.assistant import render
from bot.assistant.prompts import LANGUAGES, language_name, normalise_language
from bot.db_thread import in_db_thread
from bot.ports import ChatContext, Reply
from bot.registry import action, command
from bot.untrusted import BUTTON_EXPIRED
from digest.errors import BadArxivId, BadInput, PaperboyError
from digest.ids import parse_id
from digest.message import Message, text

log = logging.getLogger(__name__)

ASK_USAGE = "Usage: /ask <arXiv id> <question>, or reply to a paper's card or FAQ with your question."
FAQ_USAGE = "Usage: /faq <arXiv id or link>, or reply /faq to a paper's card."


def _paper_from_reply(reply: Reply | None) -> str | None:
    for act in reply.actions if reply else ():
        verb, _, args = act.partition(":")
        if verb in {"faq", "ask", "tr"} and args:
            return args
    return None


def _split_id(args: str) -> tuple[str | None, str]:
    """(paper id, rest) when `args` starts with an arXiv id or link, else (None, args)."""
    first, _, rest = args.strip().partition(" ")
    if not first:
        return None, ""
    try:
        paper_id, _ = parse_id(first)
    except BadArxivId:
        return None, args.strip()
    return paper_id, rest.strip()


def _unavailable(app: Any) -> Message | None:
    """Why the assistant cannot answer at all (not built, not configured, no sender), or None."""
    assistant = getattr(app, "assistant", None)
    if assistant is None:
        return text("The paper assistant is not available on this bot.")
    if not assistant.configured:
        return render.not_configured_message()
    return None


def _refused_press(app: Any) -> ActionReply | None:
    """The answer to an assistant button pressed while the assistant cannot answer, or None."""
    problem = _unavailable(app)
    return None if problem is None else ActionReply(notice="The assistant is not configured.", replies=[problem])


async def _language(app: Any, chat_id: str) -> str:
    return await in_db_thread(app.assistant.store.chat_language, chat_id)


def _stream_factory(app: Any, ctx: ChatContext, reply_to: str | None):  # type: ignore[no-untyped-def]
    sender = app.sender_for(ctx.chat_id)
    if sender is None:
        raise PaperboyError(f"no adapter is attached for {ctx.platform}")
    return lambda: sender.open_stream(ctx.chat_id, reply_to=reply_to)


async def _in_background(app: Any, ctx: ChatContext, kind: str, paper_id: str, reply_to: str | None,
                         **extra: Any) -> None:
    """Run the assistant; a thread's questions are answered in the order they came (database calls may not be)."""
    if kind in {"ask", "retry:ask"}:
        async with app.assistant.thread_turn(ctx.chat_id, paper_id):  # taken before the first await
            await _run(app, ctx, kind, paper_id, reply_to, **extra)
    else:
        await _run(app, ctx, kind, paper_id, reply_to, **extra)


async def _run(app: Any, ctx: ChatContext, kind: str, paper_id: str, reply_to: str | None, **extra: Any) -> None:
    """Fetch the paper, then run the assistant; failures end as a message in the chat, never silence."""
    open_stream = _stream_factory(app, ctx, reply_to)
    try:
        paper = await app.fetch_paper(paper_id)
    except PaperboyError as exc:
        stream = await open_stream()
        await stream.fail(text(str(exc) or "That paper could not be found."))
        return
    assistant = app.assistant
    language = await _language(app, ctx.chat_id)
    if kind == "faq":
        await assistant.faq(ctx.chat_id, paper, language, open_stream)
    elif kind == "ask":
        await assistant.ask(ctx.chat_id, paper, extra["question"], language, open_stream)
    elif kind in {"retry:faq", "retry:ask", "retry:tr"}:
        reply = await assistant.retry(ctx.chat_id, kind.split(":", 1)[1], paper, language, open_stream)
        if reply is not None:
            await app.sender_for(ctx.chat_id).send(ctx.chat_id, reply)
    elif kind == "tr":
        message = await assistant.translate(ctx.chat_id, paper, language)
        await app.sender_for(ctx.chat_id).send(ctx.chat_id, message)


def _start(app: Any, ctx: ChatContext, kind: str, paper_id: str, reply_to: str | None, **extra: Any) -> None:
    _stream_factory(app, ctx, reply_to)  # fail now, not in the background, when no adapter is attached
    app.spawn(_in_background(app, ctx, kind, paper_id, reply_to, **extra))


# --- commands -------------------------------------------------------------------------------


@command("faq")
async def faq_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """/faq <id>: the six-question FAQ, streamed; written once per paper and language for everyone."""
    paper_id, _ = _split_id(args)
    paper_id = paper_id or _paper_from_reply(reply)
    if paper_id is None:
        return [text(FAQ_USAGE)]
    problem = _unavailable(app)
    if problem is not None:
        return [problem]
    _start(app, ctx, "faq", paper_id, reply.message_id if reply else None)
    return []


@command("ask")
async def ask_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """/ask <id> <question>, /ask <question> in reply to a paper, or a plain reply to a card or answer."""
    paper_id, question = _split_id(args)
    if paper_id is None:
        paper_id = _paper_from_reply(reply)
    if paper_id is None:
        return [text(ASK_USAGE)]
    problem = _unavailable(app)
    if problem is not None:
        return [problem]
    if not question:
        paper = await app.fetch_paper(paper_id)
        return [render.ask_prompt_message(paper, abs_url=app.settings.arxiv.abs_url)]
    _start(app, ctx, "ask", paper_id, reply.message_id if reply else None, question=question)
    return []


@command("language")
async def language_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """/language <code>: the language FAQ and Ask answers are written in (English by default)."""
    current = await in_db_thread(app.subscriptions.get_or_default, ctx.chat_id, ctx.kind.value)
    if not args.strip():
        codes = ", ".join(LANGUAGES)
        return [text(f"Answers in this chat are written in {language_name(current.language)} ({current.language}).",
                     f"Change with /language <code>, one of: {codes}.")]
    code = normalise_language(args)
    if code is None:
        raise BadInput(f"'{args.strip()[:30]}' is not a language I know. Try one of: {', '.join(LANGUAGES)}.")
    await in_db_thread(app.subscriptions.save, replace(current, language=code))
    return [text(f"FAQ and Ask answers in this chat will now be written in {language_name(code)}.")]


# --- buttons --------------------------------------------------------------------------------


@action("faq")
async def faq_button(app, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:  # type: ignore[no-untyped-def]
    """The FAQ button on a card: answer the press now, stream the FAQ under the card."""
    if (refusal := _refused_press(app)) is not None:
        return refusal
    _start(app, ctx, "faq", args, message_id)
    return ActionReply(notice="📖 Reading the paper…")


@action("ask")
async def ask_button(app, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:  # type: ignore[no-untyped-def]
    """The Ask button: a message to reply to with the question (its buttons name the paper)."""
    if (refusal := _refused_press(app)) is not None:
        return refusal
    paper = await app.fetch_paper(args)
    return ActionReply(replies=[render.ask_prompt_message(paper, abs_url=app.settings.arxiv.abs_url)])


@action("retry")
async def retry_button(app, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:  # type: ignore[no-untyped-def]
    """Retry a failed FAQ, answer or translation ("retry:faq:<id>", "retry:ask:<id>", "retry:tr:<id>")."""
    kind, _, paper_id = args.partition(":")
    if kind not in {"faq", "ask", "tr"} or not paper_id:
        return ActionReply(notice=BUTTON_EXPIRED)
    if (refusal := _refused_press(app)) is not None:
        return refusal
    _start(app, ctx, f"retry:{kind}", paper_id, message_id)
    return ActionReply(notice="🔁 Trying again…")


@action("tr")
async def translate_button(app, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:  # type: ignore[no-untyped-def]
    """Translate a paper's title and abstract into the chat's language (cached for everyone)."""
    if (refusal := _refused_press(app)) is not None:
        return refusal
    _start(app, ctx, "tr", args, message_id)
    return ActionReply(notice="🌐 Translating…")
