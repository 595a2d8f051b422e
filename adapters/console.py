"""The console adapter: `paperboy chat`, a terminal chat with the bot, and the reference renderer.

One chat ("console:local"). Messages print as plain text; every button gets a number in square
brackets, and typing that number presses it (URL buttons print their link). Scheduled digests
arrive in the same terminal, because this adapter is also a `Sender`.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
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

    async def status(self, line: str) -> None:
        """A status line ("Reading the paper…") on a line of its own, only before the answer starts."""
        if not self.shown:
            self.console.write(line)

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
    """The terminal chat loop; ends on EOF, `/quit` or Ctrl-C."""
    stdin = stdin or sys.stdin
    sender = ConsoleSender(out=out or sys.stdout)
    app.attach_sender("console", sender)
    sender.write("paperboy chat. Type /start to begin, a number to press a button, /quit to leave.")
    loop = asyncio.get_running_loop()
    while True:
        if stdin.isatty():
            sender.write(PROMPT, end="")
        line = await loop.run_in_executor(None, stdin.readline)
        if not line or line.strip() in {"/quit", "/exit"}:
            break
        try:
            await handle_line(app, sender, line)
        except Exception as exc:  # the chat must survive anything
            sender.write(f"(error: {exc})")
        await app.wait_idle()
