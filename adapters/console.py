"""The console adapter: `paperboy chat`, a terminal chat with the bot, and the reference renderer.

One chat ("console:local"). Messages print as plain text; every button gets a number in square
brackets, and typing that number presses it (URL buttons print their link). Scheduled digests
arrive in the same terminal, because this adapter is also a `Sender`.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from bot.ports import ChatContext, ChatKind, SentRef
from digest.message import Heading, Link, Markdown, Message, Paragraph, Quote, Span, Text

CHAT_ID = "console:local"
PROMPT = "you> "


def _spans(spans: tuple[Span, ...]) -> str:
    out = []
    for span in spans:
        if isinstance(span, Link):
            out.append(f"{span.text} <{span.url}>")
        elif isinstance(span, Text) and span.code:
            out.append(f"`{span.text}`")
        else:
            out.append(span.text)
    return "".join(out)


def render(message: Message, numbers: dict[int, str] | None = None, counter: itertools.count | None = None) -> str:
    """A message as terminal text. With `numbers`, action buttons get numbers the user can type."""
    lines: list[str] = []
    for block in message.blocks:
        if isinstance(block, Heading):
            lines.append(f"== {_spans(block.spans)} ==")
        elif isinstance(block, Quote):
            lines.extend("  │ " + line for line in _spans(block.spans).splitlines() or [""])
        elif isinstance(block, Markdown):
            lines.append(block.text)
        elif isinstance(block, Paragraph):
            lines.append(_spans(block.spans))
    counter = counter or itertools.count(1)
    for row in message.buttons:
        cells = []
        for button in row:
            if button.url:
                cells.append(f"{button.label} <{button.url}>")
                continue
            number = next(counter)
            if numbers is not None:
                numbers[number] = button.action or ""
            cells.append(f"[{number}] {button.label}")
        lines.append("   ".join(cells))
    return "\n".join(lines)


@dataclass
class ConsoleStream:
    """Prints an answer as it grows, then the final message."""

    console: "ConsoleSender"
    shown: int = 0

    async def update(self, text_so_far: str) -> None:
        self.console.write(text_so_far[self.shown:], end="")
        self.shown = len(text_so_far)

    async def finish(self, message: Message) -> SentRef:
        self.console.write("")
        return await self.console.send(CHAT_ID, message)

    async def fail(self, message: Message) -> SentRef:
        self.console.write("")
        return await self.console.send(CHAT_ID, message)


@dataclass
class ConsoleSender:
    """A `Sender` that prints to a stream and remembers which number is which button."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    numbers: dict[int, str] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def write(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        self.write("\n" + render(message, self.numbers, self._counter))
        return SentRef(chat_id, str(next(self._ids)))

    async def edit(self, ref: SentRef, message: Message) -> None:
        self.write(f"\n(message {ref.message_id} updated)\n" + render(message, self.numbers, self._counter))

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> ConsoleStream:
        self.write("")
        return ConsoleStream(self)


async def handle_line(app, sender: ConsoleSender, line: str) -> None:  # type: ignore[no-untyped-def]
    """One line typed by the user: a button number, or text for the bot."""
    ctx = ChatContext(chat_id=CHAT_ID, kind=ChatKind.PRIVATE, user_id="local", can_manage=True)
    line = line.strip()
    if not line:
        return
    if line.isdigit() and int(line) in sender.numbers:
        reply = await app.handle_action(ctx, sender.numbers[int(line)])
        if reply.notice:
            sender.write(f"({reply.notice})")
        if reply.edit is not None:
            await sender.send(CHAT_ID, reply.edit)
        for message in reply.replies:
            await sender.send(CHAT_ID, message)
        return
    for message in await app.handle_text(ctx, line):
        await sender.send(CHAT_ID, message)


async def run_chat(app, *, stdin: TextIO | None = None, out: TextIO | None = None) -> None:  # type: ignore[no-untyped-def]
    """The terminal chat loop; ends on EOF, `/quit` or Ctrl-C.

    Input is read by its own thread the whole time, so typing is never blocked by a slow answer
    (an unreachable arXiv, an LLM). In a terminal each line starts once the line before it is
    answered or has taken `OVERTAKE_AFTER_S`, so a quick `/subscribe` then `/digest` keep their
    order while a slow `/digest` does not hold up `/help`. Piped input (a script) is handled
    strictly line by line, each answer complete before the next line, so its output is in order.
    """
    stdin = stdin or sys.stdin
    sender = ConsoleSender(out=out or sys.stdout)
    app.attach_sender("console", sender)
    sender.write("paperboy chat. Type /start to begin, a number to press a button, /quit to leave.")
    interactive = stdin.isatty()
    lines = _read_lines_in_background(stdin)
    running: set[asyncio.Task] = set()
    previous: asyncio.Task | None = None
    while True:
        if interactive:
            sender.write(PROMPT, end="")
        line = await lines.get()
        if line is None or line.strip() in {"/quit", "/exit"}:
            break
        if interactive:
            previous = asyncio.create_task(_answer_after(previous, app, sender, line))
            running.add(previous)
            previous.add_done_callback(running.discard)
        else:
            await _answer(app, sender, line)
            await app.wait_idle()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
    await app.wait_idle()


OVERTAKE_AFTER_S = 1.0


async def _answer_after(previous: asyncio.Task | None, app, sender: ConsoleSender, line: str) -> None:  # type: ignore[no-untyped-def]
    if previous is not None:
        await asyncio.wait({previous}, timeout=OVERTAKE_AFTER_S)
    await _answer(app, sender, line)


async def _answer(app, sender: ConsoleSender, line: str) -> None:  # type: ignore[no-untyped-def]
    try:
        await handle_line(app, sender, line)
    except Exception as exc:  # the chat must survive anything
        sender.write(f"(error: {exc})")


def _read_lines_in_background(stdin: TextIO) -> asyncio.Queue[str | None]:
    """A queue fed by a daemon thread reading `stdin`; None marks the end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError):
            pass  # stdin closed under us
        finally:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except RuntimeError:
                pass  # the loop is gone: the chat already ended

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return queue
