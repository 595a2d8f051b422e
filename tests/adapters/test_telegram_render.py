"""Telegram rendering: escaping, LaTeX, keyboards, and splitting that never breaks a tag or a character.

Every rendered part is checked with the fake Bot API's HTML parser, which refuses what Telegram
refuses (unknown or unclosed tags, bare `&` or `<`, nested blockquotes). The property-style tests
draw random messages from a seeded generator (hypothesis is not a dependency).
"""

from __future__ import annotations

import random

import pytest

from adapters.telegram.render import MAX_TEXT, keyboard, render, render_plain, utf16_len
from digest.message import Button, Heading, Link, Markdown, Message, Paragraph, Quote, Text
from tests.fakes.fake_telegram import parse_html


def visible(message: Message, limit: int = MAX_TEXT) -> list[str]:
    """What a user sees of each part, after Telegram parses it (raises like Telegram on bad HTML)."""
    return [parse_html(p.text).strip() for p in render(message, limit=limit)]


def squash(s: str) -> str:
    return "".join(ch for ch in s if not ch.isspace())


@pytest.mark.parametrize("raw", ["a < b", "x && y", "<b>not bold</b>", "1 > 0 & 2 < 3", "&amp; stays literal", "<<>>&&"])
def test_text_with_html_characters_is_escaped_and_shown_verbatim(raw):
    message = Message((Heading((Text(raw),)), Paragraph((Link(raw, "https://example.org/?a=1&b=<2>"),)), Quote((Text(raw),))))
    [shown] = visible(message)
    assert shown.split("\n\n") == [raw, raw, raw]


def test_blocks_use_only_telegram_tags():
    message = Message((
        Heading((Link("Title", "https://arxiv.org/abs/2401.00001"),)),
        Paragraph((Text("bold", bold=True), Text(" "), Text("it", italic=True), Text(" "), Text("x=1", code=True))),
        Quote((Text("abstract"),)),
    ))
    [part] = render(message)
    assert part.parse_mode == "HTML"
    assert '<a href="https://arxiv.org/abs/2401.00001"><b>Title</b></a>' in part.text
    assert "<b>bold</b> <i>it</i> <code>x=1</code>" in part.text
    assert "<blockquote expandable>abstract</blockquote>" in part.text


def test_unsafe_link_schemes_render_as_plain_text():
    [part] = render(Message((Paragraph((Link("click", "javascript:alert(1)"),)),)))
    assert "href" not in part.text and "click" in part.text


def test_markdown_latex_becomes_unicode():
    [shown] = visible(Message((Markdown(r"Regret is $O(\sqrt{T})$ with $\alpha \leq \beta$ and **bold**."),)))
    assert "√" in shown and "α" in shown and "≤" in shown
    assert "$" not in shown and "\\" not in shown


def test_markdown_code_blocks_and_quotes_stay_valid_html():
    md = "# Answer\n\n> quoted <tag>\n\n```python\nif a < b & c:\n    pass\n```\n\n- one\n- two [link](https://arxiv.org)"
    [shown] = visible(Message((Markdown(md),)))
    assert "if a < b & c:" in shown and "quoted <tag>" in shown


def test_split_prefers_block_boundaries():
    blocks = tuple(Paragraph((Text(f"paper {i} " + "x" * 30),)) for i in range(10))
    parts = visible(Message(blocks), limit=100)
    assert all(p.startswith("paper") for p in parts)
    assert all(utf16_len(p) <= 100 for p in parts)


def test_split_inside_a_quote_reopens_it_in_the_next_part():
    parts = render(Message((Quote((Text("word " * 100),)),)), limit=120)
    assert len(parts) > 1
    assert all(p.text.startswith("<blockquote expandable>") and p.text.endswith("</blockquote>") for p in parts)


def test_emoji_count_double_and_are_never_cut():
    text = "👩‍💻🚀" * 200  # each pair is 3 + 2 code points, 5 + 2 UTF-16 units
    parts = visible(Message((Paragraph((Text(text),)),)), limit=101)
    assert all(utf16_len(p) <= 101 for p in parts)
    assert "".join(parts) == text
    assert not any(p.startswith(("\u200d", "💻")) or p.endswith("\u200d") for p in parts)


def test_buttons_go_to_the_last_part_only():
    message = Message(tuple(Paragraph((Text("y" * 90),)) for i in range(5)), buttons=((Button("FAQ", action="faq:1"),),))
    parts = render(message, limit=100)
    assert [p.reply_markup is not None for p in parts] == [False] * (len(parts) - 1) + [True]


def test_keyboard_wraps_rows_at_eight_and_stops_at_one_hundred():
    numbers = tuple(Button(str(i), action=f"card:{i}") for i in range(120))
    markup = keyboard(Message((), buttons=(numbers,)))
    rows = markup.inline_keyboard
    assert all(len(r) <= 8 for r in rows)
    assert sum(len(r) for r in rows) == 100


def test_url_and_action_buttons():
    markup = keyboard(Message((), buttons=((Button("PDF", url="https://arxiv.org/pdf/1"), Button("Save", action="save:1")),)))
    pdf, save = markup.inline_keyboard[0]
    assert pdf.url == "https://arxiv.org/pdf/1" and pdf.callback_data is None
    assert save.callback_data == "save:1"


def test_message_of_only_buttons_still_has_text():
    [part] = render(Message((), buttons=((Button("Next", action="pg:1:2"),),)))
    assert part.text.strip()


def test_plain_fallback_has_no_markup_and_spells_out_links():
    message = Message((Heading((Link("A <b> title", "https://arxiv.org/abs/1"),)), Quote((Text("x & y"),))))
    [part] = render_plain(message)
    assert part.parse_mode is None
    assert part.text == "A <b> title (https://arxiv.org/abs/1)\n\nx & y"


# --- property-style: random messages always render to valid, complete, short-enough parts -------

ALPHABET = ["a", "b", " ", " ", "\n", "<", ">", "&", '"', "é", "ü\u0301", "😀", "👩‍💻", "λ", "&amp;", "<b>", "x" * 12]


def random_spans(rng: random.Random) -> tuple:
    spans = []
    for _ in range(rng.randint(1, 6)):
        content = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40)))
        if rng.random() < 0.2:
            spans.append(Link(content, "https://arxiv.org/abs/2401.0000" + str(rng.randint(0, 9)), bold=rng.random() < 0.5))
        else:
            spans.append(Text(content, bold=rng.random() < 0.3, italic=rng.random() < 0.3, code=rng.random() < 0.1))
    return tuple(spans)


def random_message(rng: random.Random) -> Message:
    kinds = [Heading, Paragraph, Quote]
    return Message(tuple(rng.choice(kinds)(random_spans(rng)) for _ in range(rng.randint(1, 12))))


@pytest.mark.parametrize("seed", range(150))
def test_random_messages_render_to_valid_complete_parts(seed):
    rng = random.Random(seed)
    message = random_message(rng)
    limit = rng.choice([16, 40, 97, 300, MAX_TEXT])
    parts = visible(message, limit=limit)  # parse_html raises on any unclosed or misnested tag
    assert all(0 < utf16_len(p) <= limit for p in parts)
    expected = "".join(span.text for block in message.blocks for span in block.spans)
    assert squash("".join(parts)) == squash(expected)


def test_every_neutral_button_action_fits_telegrams_callback_data():
    from telegram.constants import InlineKeyboardButtonLimit

    from digest.message import MAX_ACTION_BYTES

    assert InlineKeyboardButtonLimit.MIN_CALLBACK_DATA <= 1 <= MAX_ACTION_BYTES
    assert MAX_ACTION_BYTES <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
