"""The terminal chat reads like a chat: answers stream once and are never printed twice, Markdown
and LaTeX are rendered for a terminal, and after 💬 Ask the typed text asks that paper."""

from __future__ import annotations

import io

import pytest

from adapters.console import ConsoleSender, handle_line, render, render_markdown
from bot.config import Settings
from digest.message import Markdown, Message
from tests.fakes.assistant_fixtures import HTML, PAPER
from tests.fakes.fake_openai import FakeOpenAI

ANSWER = "The widgets are **sparse**: cost grows as $O(n^2)$ and $\\alpha$-tuned.\n\n- one point\n- another point"


def markdown_answer(body):  # type: ignore[no-untyped-def]
    return ANSWER


@pytest.fixture
def fake_llm():
    with FakeOpenAI(markdown_answer, chunk_chars=5) as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, fake_arxiv, fake_llm) -> Settings:
    """The app's settings with the LLM on the fake server (overrides the shared fixture)."""
    base = Settings()
    return Settings(
        database=base.database.__class__(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=fake_arxiv.settings(),
    ).replace("llm", base_url=fake_llm.base_url, api_key="test-key", timeout_s=5.0, retries=0)


@pytest.fixture
async def console_app(app, fake_arxiv):
    """The app with the console as its sender (as `paperboy chat` wires it), and the paper stored."""
    app.assistant.llm._retry_wait_s = 0.0
    app.store.upsert_papers([PAPER])
    fake_arxiv.html[PAPER.id] = HTML
    out = io.StringIO()
    console = ConsoleSender(out=out)
    app.attach_sender("console", console)
    return app, console, out


async def type_line(app, console, line: str) -> None:  # type: ignore[no-untyped-def]
    await handle_line(app, console, line)
    await app.wait_idle()


async def test_an_answer_is_printed_once_rendered_for_a_terminal(console_app):
    app, console, out = console_app
    await type_line(app, console, f"/ask {PAPER.id} How expensive are they?")
    shown = out.getvalue()
    assert shown.count("The widgets are") == 1  # streamed, then never printed a second time
    assert "**" not in shown and "$" not in shown  # Markdown and LaTeX rendered, not raw
    assert "O(n²)" in shown and "α-tuned" in shown
    assert "• one point" in shown
    assert "Reading the paper" in shown  # the status line is its own line, not mixed into the answer
    assert "Reading the paper" not in shown.split("The widgets are")[1]


async def test_typing_after_pressing_ask_asks_that_paper(console_app, fake_llm):
    app, console, out = console_app
    await type_line(app, console, PAPER.id)  # the paper's card, with its buttons
    ask = next(n for n, action in console.numbers.items() if action == f"ask:{PAPER.id}")
    await type_line(app, console, str(ask))
    assert f"Type your question about {PAPER.id}" in out.getvalue()
    await type_line(app, console, "Which dataset do they use?")
    assert fake_llm.calls >= 1
    assert "Which dataset do they use?" in fake_llm.requests[-1]["messages"][-1]["content"]
    assert out.getvalue().count("The widgets are") == 1

    # A follow-up goes to the same paper; a command ends the question mode.
    await type_line(app, console, "And on GPUs?")
    assert "And on GPUs?" in fake_llm.requests[-1]["messages"][-1]["content"]
    calls = fake_llm.calls
    await type_line(app, console, "/help")
    await type_line(app, console, "hello there")
    assert fake_llm.calls == calls and console.asking is None


async def test_without_ask_plain_text_is_not_a_question(console_app, fake_llm):
    app, console, out = console_app
    await type_line(app, console, "What is this?")
    assert fake_llm.calls == 0 and "arXiv link" in out.getvalue()


def test_colour_output_styles_markdown_instead_of_showing_its_marks():
    shown = render(Message(blocks=(Markdown("A **bold** claim about $x^2$."),)), color=True)
    assert "\x1b[" in shown and "**" not in shown and "x²" in shown


def test_markdown_code_keeps_its_dollars_and_underscores():
    shown = render_markdown("Run `cost_$x$` then:\n\n```\na_b = $y$\n```")
    assert "cost_$x$" in shown and "a_b = $y$" in shown


async def test_in_a_terminal_the_answer_grows_in_a_live_region_that_the_final_message_replaces(console_app):
    app, _, _ = console_app
    out = io.StringIO()
    console = ConsoleSender(out=out, color=True)
    app.attach_sender("console", console)
    await type_line(app, console, f"/ask {PAPER.id} How expensive are they?")
    shown = out.getvalue()
    final = shown.rsplit("\x1b[2K", 1)[-1]  # what stays on screen after the live region is erased
    assert "The widgets are" in final and "O(n²)" in final and "**" not in final
    assert final.count("The widgets are") == 1


def test_markdown_links_keep_their_address_in_a_terminal():
    assert "the paper (https://arxiv.org/abs/2401.00001)" in render_markdown("See [the paper](https://arxiv.org/abs/2401.00001).")
