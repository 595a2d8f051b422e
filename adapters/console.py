"""The console adapter: `paperboy chat`, a terminal chat with the bot, and the reference renderer.

One chat ("console:local"). Every button gets a number in square brackets, and typing that
number presses it (URL buttons print their link). Scheduled digests arrive in the same terminal,
because this adapter is also a `Sender`.

It reads like a chat: the assistant's Markdown is rendered for a terminal by `rich` (LaTeX maths
through `digest.latex`, the converter every platform uses); an answer streams once, in place, in
a live region that the final message replaces (never printed twice); and after pressing 💬 Ask,
the text you type is the question about that paper, the way a reply is on Telegram.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown as RichMarkdown
from rich.style import Style
from rich.text import Text as RichText

from bot.ports import ChatContext, ChatKind, Reply, SentRef
from digest.ids import find_ids
from digest.latex import markdown_math_to_unicode
from digest.message import Heading, Link, Markdown, Message, Paragraph, Quote, Span, Text

CHAT_ID = "console:local"
PROMPT = "you> "
PLAIN_WIDTH = 100  # the width Markdown is wrapped to when the output is not a terminal
# How the assistant's status lines begin ("Reading the paper…", "2nd in line…", "Writing…"):
STATUS_MARKS = ("📄", "⏳", "✍️")


def _spans(spans: tuple[Span, ...], *, color: bool) -> RichText:
    """Spans as one rich Text: links keep their URL visible (`title <url>`), styles only in colour."""
    out = RichText()
    for span in spans:
        style = Style(bold=span.bold, italic=getattr(span, "italic", False)) if color else Style()
        if isinstance(span, Link):
            out.append(span.text, style=(style + Style(link=span.url)) if color else style)
            out.append(f" <{span.url}>", style=Style(dim=True) if color else Style())
        elif isinstance(span, Text) and span.code:
            out.append(f"`{span.text}`", style=(style + Style(color="cyan")) if color else style)
        else:
            out.append(span.text, style=style)
    return out


def _console(out: TextIO, *, color: bool, width: int | None = None) -> Console:
    return Console(file=out, force_terminal=color, color_system="auto" if color else None,
                   width=width or PLAIN_WIDTH, highlight=False, emoji=False, soft_wrap=False)


# Code and everything else; only the latter has its tag-like `<` escaped.
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!])")


def _prepared(markdown: str) -> str:
    """Maths as Unicode, and `<eos>`-like text kept (a Markdown parser would drop it as raw HTML)."""
    pieces = _CODE.split(markdown_math_to_unicode(markdown))
    return "".join(p if i % 2 else _TAG_LIKE.sub(r"\\<", p) for i, p in enumerate(pieces))


def render_markdown(text: str, *, color: bool = False, width: int = PLAIN_WIDTH) -> str:
    """The LLM's Markdown as terminal text: maths as Unicode, `**bold**` as bold, lists as bullets."""
    buffer = io.StringIO()
    _console(buffer, color=color, width=width).print(RichMarkdown(_prepared(text), hyperlinks=False))
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").split("\n"))


def render(message: Message, numbers: dict[int, str] | None = None, counter: itertools.count | None = None,
           *, color: bool = False, width: int = PLAIN_WIDTH) -> str:
    """A message as terminal text. With `numbers`, action buttons get numbers the user can type."""
    buffer = io.StringIO()
    console = _console(buffer, color=color, width=width)
    for block in message.blocks:
        if isinstance(block, Heading):
            title = _spans(block.spans, color=color)
            if color:
                title.stylize("bold")
            console.print(RichText("== ") + title + RichText(" =="), soft_wrap=True)
        elif isinstance(block, Quote):
            for line in _spans(block.spans, color=color).split("\n") or [RichText("")]:
                console.print(RichText("  │ ", style="dim" if color else "") + line, soft_wrap=True)
        elif isinstance(block, Markdown):
            buffer.write(render_markdown(block.text, color=color, width=width) + "\n")
        elif isinstance(block, Paragraph):
            console.print(_spans(block.spans, color=color), soft_wrap=True)
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
        buffer.write("   ".join(cells) + "\n")
    return buffer.getvalue().rstrip("\n")


@dataclass
class ConsoleStream:
    """An answer being written. In a terminal it grows in one live region that the final message
    replaces; elsewhere (a pipe, a log) each status line prints once and the answer prints once,
    when it is complete. Either way nothing is printed twice."""

    console: ConsoleSender
    live: Live | None = None
    last_status: str = ""

    async def update(self, text_so_far: str) -> None:
        if _is_status(text_so_far):
            await self.status(text_so_far)
            return
        if self.live is not None:
            self.live.update(RichMarkdown(_prepared(text_so_far), hyperlinks=False))

    async def status(self, line: str) -> None:
        """A line about the answer (reading the paper, place in the queue), not the answer itself."""
        if line == self.last_status:
            return
        self.last_status = line
        if self.live is not None:
            self.live.update(RichText(line, style="dim"))
        else:
            self.console.write(f"({line.strip()})")

    async def finish(self, message: Message) -> SentRef:
        self._stop()
        return await self.console.send(CHAT_ID, message)

    async def fail(self, message: Message) -> SentRef:
        self._stop()
        return await self.console.send(CHAT_ID, message)

    def _stop(self) -> None:
        if self.live is not None:
            self.live.update(RichText(""))
            self.live.stop()
            self.live = None


def _is_status(text: str) -> bool:
    return text.startswith(STATUS_MARKS) and "\n" not in text.strip()


@dataclass
class ConsoleSender:
    """A `Sender` that prints to a stream and remembers which number is which button.

    `color` (default: whether the output is a terminal) turns on rich styles and live streaming.
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    numbers: dict[int, str] = field(default_factory=dict)
    color: bool | None = None
    asking: str | None = None  # the paper typed text asks about, after 💬 Ask
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        if self.color is None:
            self.color = bool(getattr(self.out, "isatty", lambda: False)())

    @property
    def width(self) -> int:
        return Console(file=self.out).width if self.color else PLAIN_WIDTH

    def write(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        self.write("\n" + render(message, self.numbers, self._counter, color=bool(self.color), width=self.width))
        return SentRef(chat_id, str(next(self._ids)))

    async def edit(self, ref: SentRef, message: Message) -> None:
        self.write(f"\n(message {ref.message_id} updated)\n"
                   + render(message, self.numbers, self._counter, color=bool(self.color), width=self.width))

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> ConsoleStream:
        self.write("")
        live = None
        if self.color:
            live = Live(RichText(""), console=Console(file=self.out, force_terminal=True), transient=True,
                        refresh_per_second=8, vertical_overflow="visible")
            live.start()
        return ConsoleStream(self, live=live)


ASK_HINT = "(Type your question about {paper} and press Enter; it goes to that paper. A /command ends this.)"


async def handle_line(app, sender: ConsoleSender, line: str) -> None:  # type: ignore[no-untyped-def]
    """One line typed by the user: a button number, a question after 💬 Ask, or text for the bot."""
    ctx = ChatContext(chat_id=CHAT_ID, kind=ChatKind.PRIVATE, user_id="local", can_manage=True)
    line = line.strip()
    if not line:
        return
    if line.isdigit() and len(line) <= 9 and int(line) in sender.numbers:  # int() of 5,000+ digits raises
        action = sender.numbers[int(line)]
        sender.asking = None
        reply = await app.handle_action(ctx, action)
        if reply.notice:
            sender.write(f"({reply.notice})")
        if reply.edit is not None:
            await sender.send(CHAT_ID, reply.edit)
        for message in reply.replies:
            await sender.send(CHAT_ID, message)
        verb, _, paper = action.partition(":")
        if verb == "ask" and paper and reply.replies:
            sender.asking = paper
            sender.write(ASK_HINT.format(paper=paper))
        return
    replied = None
    if line.startswith("/"):
        sender.asking = None
    elif sender.asking and not find_ids(line):
        # The console has no replies: after 💬 Ask, what you type is the reply to that paper.
        replied = Reply(message_id="", actions=(f"ask:{sender.asking}",))
    for message in await app.handle_text(ctx, line, reply=replied):
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
