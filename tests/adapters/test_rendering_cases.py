"""One set of rendering cases every renderer passes: the console (the reference), Telegram and Discord.

Each case is a neutral `Message` (a paper card, an LLM answer, a digest) and what a reader must see
in it, whatever the platform: LaTeX as Unicode (through the one converter, `digest.latex`),
Markdown as formatting rather than marks, `<&>` exactly as written, long titles within the
platform's limits, and a 300-paper day that pages with every paper reachable and every message
within limits.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import importlib

from adapters.console import render as console_render
from adapters.discord.components import MAX_PER_ROW, MAX_ROWS
from digest.cards import ArxivUrls, paper_card
from digest.layout import digest_messages, list_page
from digest.matching import Digest, DigestCounts, DigestEntry
from digest.message import Markdown, Message
from digest.models import Paper

URLS = ArxivUrls()
# The packages re-export their `render` function under the module's name; take the modules themselves.
telegram_render = importlib.import_module("adapters.telegram.render")
discord_render = importlib.import_module("adapters.discord.render")


@dataclass(frozen=True)
class Rendered:
    """What one renderer made of a message: the text a reader sees, and whether limits held."""

    text: str
    within_limits: bool
    button_rows: list[list[str]]  # the action of every button, row by row, as the platform lays them out


def _console(message: Message) -> Rendered:
    numbers: dict[int, str] = {}
    shown = console_render(message, numbers)
    rows = [[numbers[int(n)] for n in re.findall(r"\[(\d+)\]", line)] for line in shown.splitlines()
            if re.search(r"\[\d+\]", line)]
    return Rendered(shown, True, rows)


def _telegram(message: Message) -> Rendered:
    payloads = telegram_render.render(message)
    texts, ok, rows = [], True, []
    for payload in payloads:
        ok &= telegram_render.utf16_len(_visible_html(payload.text)) <= telegram_render.MAX_TEXT
        ok &= _balanced_html(payload.text)
        texts.append(_visible_html(payload.text))
        if payload.reply_markup is not None:
            keyboard = payload.reply_markup.inline_keyboard
            ok &= sum(len(r) for r in keyboard) <= telegram_render.MAX_BUTTONS
            ok &= all(len(r) <= telegram_render.MAX_ROW for r in keyboard)
            rows += [[b.callback_data for b in r if b.callback_data] for r in keyboard]
    return Rendered("\n".join(texts), ok, [r for r in rows if r])


def _visible_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _balanced_html(text: str) -> bool:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^>]*>", text):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def _discord(message: Message) -> Rendered:
    payloads = discord_render.render(message)
    texts, ok, rows = [], True, []
    for payload in payloads:
        ok &= len(payload.content or "") <= discord_render.CONTENT_LIMIT
        for embed in payload.embeds:
            ok &= len(embed.title or "") <= 256 and len(embed.description or "") <= discord_render.DESCRIPTION_LIMIT
        texts.append(_visible_discord(payload.text()))
        if payload.view is not None:
            by_row: dict[int, list[str]] = {}
            for item in payload.view.children:
                by_row.setdefault(item._rendered_row or 0, []).append(  # type: ignore[attr-defined]
                    item.custom_id.removeprefix("pb:").split("#")[0] if getattr(item, "custom_id", None) else "")
            ok &= len(by_row) <= MAX_ROWS and all(len(r) <= MAX_PER_ROW for r in by_row.values())
            rows += [[a for a in r if a] for _, r in sorted(by_row.items())]
    return Rendered("\n".join(texts), ok, [r for r in rows if r])


def _visible_discord(text: str) -> str:
    """Discord Markdown as a reader sees it: marks gone, escapes resolved; code spans untouched."""
    pieces = re.split(r"(`[^`\n]*`)", text)
    return "".join(piece if i % 2 else _visible_discord_prose(piece) for i, piece in enumerate(pieces))


def _visible_discord_prose(text: str) -> str:
    text = re.sub(r"\[((?:\\.|[^\]])*)\]\([^)]*\)", r"\1", text)  # masked links show their text
    text = re.sub(r"(\*\*|__|(?<!\\)\*|~~)", "", text)
    return re.sub(r"\\(.)", r"\1", text)


RENDERERS: dict[str, Callable[[Message], Rendered]] = {"console": _console, "telegram": _telegram, "discord": _discord}
platforms = pytest.mark.parametrize("platform", list(RENDERERS))


def paper(paper_id: str = "2606.00001", title: str = "A paper", abstract: str = "An abstract.", **extra) -> Paper:  # type: ignore[no-untyped-def]
    return Paper(id=paper_id, title=title, authors=("Ada Lovelace", "Alan Turing"), abstract=abstract,
                 categories=("cs.LG",), **extra)


# --- LaTeX --------------------------------------------------------------------------------------------


@platforms
def test_latex_in_a_card_reads_as_unicode(platform):
    card = paper_card(paper(title=r"\textsc{DiARC}: PM$_{2.5}$ forecasting with $\alpha$-nets",
                            abstract=r"Sub-$\sqrt{T}$ regret, $x^2$ growth, Schr\"odinger bridges.",
                            comment=r"12 pages; accepted at \emph{ACL 2026}", version=3,
                            published=dt.date(2026, 6, 12)), urls=URLS, announced=dt.date(2026, 6, 16))
    seen = RENDERERS[platform](card).text
    for expected in ("DiARC: PM₂.₅ forecasting with α-nets", "Sub-√(T) regret, x² growth, Schrödinger bridges",
                     "12 pages; accepted at ACL 2026", "2606.00001v3", "Submitted 12 Jun 2026", "announced 16 Jun 2026"):
        assert expected in seen, (platform, expected, seen)
    assert "\\textsc" not in seen and "$" not in seen


@platforms
def test_latex_in_an_answer_reads_the_same_on_every_platform(platform):
    answer = Message(blocks=(Markdown("The bound is $O(n^2 \\log n)$ and $\\alpha_i$ is \\(\\beta^{2}\\)."),))
    seen = RENDERERS[platform](answer).text
    assert "O(n² log n)" in seen and "β²" in seen and "αᵢ" in seen
    assert "$" not in seen and "\\(" not in seen


# --- Markdown -----------------------------------------------------------------------------------------


@platforms
def test_markdown_is_formatting_not_marks(platform):
    answer = Message(blocks=(Markdown("**Problem.** Widgets are *slow*.\n\n- first\n- second\n\nUse `a_b*c` here."),))
    seen = RENDERERS[platform](answer).text
    assert "Problem." in seen and "Widgets are slow." in seen and "first" in seen and "second" in seen
    assert "**" not in seen and "*slow*" not in seen
    assert "a_b*c" in seen  # code keeps its characters


# --- <&> ----------------------------------------------------------------------------------------------


@platforms
def test_angle_brackets_and_ampersands_show_exactly_as_written(platform):
    card = paper_card(paper(title="Q&A over <tags> & 5 < 6 > 4", abstract="Tokens like <eos> & <pad>; AT&T."), urls=URLS)
    seen = RENDERERS[platform](card).text
    assert "Q&A over <tags> & 5 < 6 > 4" in seen and "Tokens like <eos> & <pad>; AT&T." in seen
    answer = RENDERERS[platform](Message(blocks=(Markdown("Mask the <eos> token & the <pad> one."),))).text
    assert "Mask the <eos> token & the <pad> one." in answer


# --- long titles ----------------------------------------------------------------------------------------


@platforms
def test_a_long_title_stays_within_the_platforms_limits(platform):
    title = " ".join(["Scaling"] + ["very-long-words"] * 60) + " Revisited"
    rendered = RENDERERS[platform](paper_card(paper(title=title, abstract="x " * 3000), urls=URLS))
    assert rendered.within_limits
    assert "Scaling very-long-words" in rendered.text
    assert any("faq:2606.00001" in row for row in rendered.button_rows)  # the buttons survive


# --- a 300-paper day -------------------------------------------------------------------------------------


def _day_of(n: int) -> Digest:
    entries = tuple(DigestEntry(paper(f"2606.{i:05d}", title=f"Paper number {i} on $\\alpha$-things & <more>"),
                                kind="new", reason="new in cs.LG") for i in range(1, n + 1))
    return Digest(chat_id="c", day=dt.date(2026, 6, 16), entries=entries,
                  counts=DigestCounts(new=n, cross=0, matched=n), covers=(dt.date(2026, 6, 16),))


@platforms
def test_a_300_paper_day_is_compact_within_limits_and_every_paper_is_reachable(platform):
    day = _day_of(300)
    messages = digest_messages(day, urls=URLS, digest_id=7, max_cards=5, page_size=10, style="auto")
    assert len(messages) == 2  # the header, then the compact list: no wall of cards
    header, first = (RENDERERS[platform](m) for m in messages)
    assert "300 new" in header.text and "300 for you" in header.text
    reachable: set[str] = set()
    page, pages_seen = first, 0
    while True:
        assert page.within_limits
        actions = [a for row in page.button_rows for a in row]
        reachable |= {a.split(":", 1)[1] for a in actions if a.startswith("card:")}
        assert "Paper number" in page.text and "α-things & <more>" in page.text
        following = [a for a in actions if a.startswith("pg:") and int(a.split(":")[2]) == pages_seen + 1]
        pages_seen += 1
        if not following:
            break
        page = RENDERERS[platform](list_page(day.entries, urls=URLS, digest_id=7, first=0, page=pages_seen,
                                             page_size=10))
    assert pages_seen == 30 and len(reachable) == 300
    assert "pg:7:29:0" in [a for row in first.button_rows for a in row]  # the last page is one press away
