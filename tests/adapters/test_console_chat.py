"""The terminal chat's input loop: typing is never blocked, answers keep their order, logs stay out."""

from __future__ import annotations

import io
import os
import time

from adapters.console import run_chat
from bot.config import Settings
from tests.fakes.fake_arxiv import Reply


class _Terminal(io.TextIOWrapper):
    """A pipe that says it is a terminal, like a person typing."""

    def isatty(self) -> bool:
        return True


def _typed(lines: list[str], *, tty: bool) -> io.TextIOBase:
    read_end, write_end = os.pipe()
    os.write(write_end, "".join(f"{line}\n" for line in lines).encode())
    os.close(write_end)
    raw = io.open(read_end, "rb", buffering=0)
    return _Terminal(io.BufferedReader(raw), encoding="utf-8") if tty else io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8")


async def _app_with_hanging_arxiv(tmp_path, fake_arxiv, clock):  # type: ignore[no-untyped-def]
    from bot.cli import build_app

    settings = Settings(
        database=Settings().database.__class__(url=f"sqlite:///{tmp_path / 'chat.sqlite3'}"),
        arxiv=fake_arxiv.settings(interactive_timeout_s=1.0),
    )
    fake_arxiv.rss["cs.CL"] = Reply(200, b"", delay_s=3)
    return build_app(settings, clock=clock)


async def test_a_slow_answer_does_not_block_what_is_typed_next(tmp_path, fake_arxiv, clock):
    app = await _app_with_hanging_arxiv(tmp_path, fake_arxiv, clock)
    out = io.StringIO()
    try:
        started = time.monotonic()
        await run_chat(app, stdin=_typed(["/subscribe cs.CL", "/digest", "/help"], tty=True), out=out)
        elapsed = time.monotonic() - started
    finally:
        await app.aclose()
    text = out.getvalue()
    following, unreachable, help_ = text.index("Following: cs.CL"), text.index("can't be reached"), text.index("What I can do")
    assert following < help_ < unreachable  # /help answered while /digest waited for arXiv
    assert "I'll try again at" in text
    assert elapsed < 2.5  # the /digest answer came within the interactive deadline, not the 3 s hang


async def test_piped_lines_are_answered_in_order_and_within_the_deadline(tmp_path, fake_arxiv, clock):
    app = await _app_with_hanging_arxiv(tmp_path, fake_arxiv, clock)
    out = io.StringIO()
    try:
        await run_chat(app, stdin=_typed(["/subscribe cs.CL", "/digest", "/help"], tty=False), out=out)
    finally:
        await app.aclose()
    text = out.getvalue()
    assert text.index("Following: cs.CL") < text.index("can't be reached") < text.index("What I can do")
    assert "WARNING" not in text and "retrying" not in text  # log lines never enter the conversation
