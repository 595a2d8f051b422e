"""Neutral messages -> Discord payloads: titles, escaping, LaTeX, buttons, and splitting within limits.

Every payload is checked with the fake Discord's validator, which mirrors Discord's documented
limits, so "renders" here means "Discord would accept it".
"""

from __future__ import annotations

import json

import pytest

from adapters.discord.markdown import convert_llm_markdown, escape, split_text
from adapters.discord.render import DiscordPayload, render, render_preview
from digest.cards import ArxivUrls, paper_card
from digest.message import Button, Heading, Link, Markdown, Message, Paragraph, Quote, Text, text
from digest.models import Paper
from tests.fakes.fake_discord import validate_message

URLS = ArxivUrls()


def as_body(payload: DiscordPayload) -> dict:
    body: dict = {}
    if payload.content:
        body["content"] = payload.content
    if payload.embeds:
        body["embeds"] = [e.to_dict() for e in payload.embeds]
    if payload.view is not None:
        body["components"] = payload.view.to_components()
    return body


def assert_accepted(payloads: list[DiscordPayload]) -> None:
    assert payloads
    for payload in payloads:
        problem = validate_message(as_body(payload))
        assert problem is None, problem


def custom_ids(payloads: list[DiscordPayload]) -> list[str]:
    return [c["custom_id"] for p in payloads if p.view for row in p.view.to_components()
            for c in row["components"] if "custom_id" in c]


def paper(**changes) -> Paper:
    base = dict(id="2501.01234", title="Sub-$\\sqrt{T}$ regret for *bandits*", authors=("Ada_Lovelace", "B. Riemann"),
                abstract="We show # that\n1. bounds hold > always.", categories=("cs.LG", "stat.ML"))
    base.update(changes)
    return Paper(**base)


def test_card_title_is_the_linked_heading_and_buttons_persist():
    [payload] = render(paper_card(paper(), urls=URLS, index=3))
    embed = payload.embeds[0]
    assert embed.title.startswith("3. Sub-√(T) regret for \\*bandits\\*")
    assert embed.url == "https://arxiv.org/abs/2501.01234"
    assert "Ada\\_Lovelace" in embed.description
    assert "> We show # that" in embed.description
    ids = custom_ids([payload])
    assert ids[:4] == ["pb:faq:2501.01234", "pb:ask:2501.01234", "pb:save:2501.01234", "pb:rel:2501.01234"]
    links = [c for row in payload.view.to_components() for c in row["components"] if c.get("url")]
    assert links[0]["url"] == "https://arxiv.org/pdf/2501.01234"
    assert_accepted([payload])


def test_very_long_title_is_clipped_to_the_embed_limit():
    [payload] = render(paper_card(paper(title="Deep " * 200), urls=URLS))
    assert len(payload.embeds[0].title) <= 256
    assert payload.embeds[0].title.endswith("…")
    assert_accepted([payload])


@pytest.mark.parametrize("raw", ["**bold** _it_ ~~s~~ `c` ||spoiler||", "# Header", "> quote", "- item", "12. item"])
def test_user_text_markdown_is_escaped(raw):
    [payload] = render(text(raw))
    shown = payload.content
    assert shown != raw
    assert shown.replace("\\", "") == raw


def test_plain_replies_are_content_and_long_ones_split_at_paragraphs():
    short = render(text("Subscribed to cs.CL."))
    assert short[0].content == "Subscribed to cs.CL." and not short[0].embeds
    paragraphs = [f"Paragraph {i}: " + "word " * 300 for i in range(12)]
    payloads = render(Message(blocks=tuple(Markdown(p) for p in paragraphs)))
    assert len(payloads) > 1
    assert_accepted(payloads)
    joined = "\n".join(e.description for p in payloads for e in p.embeds)
    for i in range(12):
        assert f"Paragraph {i}:" in joined


def test_llm_markdown_keeps_code_converts_latex_and_tables():
    converted = convert_llm_markdown(
        "The bound is $O(\\sqrt{T})$ and $$\\alpha_i$$ holds, $x_{\\max}$ too; costs $5 and $6.\n"
        "Keep `$x$` as is.\n```python\nprint('$y$')\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n#### Deep header"
    )
    assert "O(√(T))" in converted
    assert "αᵢ" in converted  # simple subscripts become Unicode
    assert "x\\_max" in converted  # other converted maths is escaped so `_` is not italics
    assert "$5 and $6" in converted
    assert "`$x$`" in converted and "print('$y$')" in converted
    assert "```\n| a | b |" in converted
    assert "**Deep header**" in converted


def test_split_reopens_a_code_block_cut_in_two():
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(400)) + "\n```"
    parts = split_text(code, 1000)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 1000
        assert part.count("```") % 2 == 0, part[:40]
    assert parts[1].startswith("```python")


def test_many_buttons_spread_over_messages_with_unique_ids():
    numbers = tuple(Button(str(i), action=f"card:{i}") for i in range(1, 31))
    message = Message(blocks=(Heading((Text("Today"),)), Paragraph((Text("list"),))),
                      buttons=(numbers, (Button("Next", action="pg:1:2"), Button("Next", action="pg:1:2"))))
    payloads = render(message)
    assert_accepted(payloads)
    ids = custom_ids(payloads)
    assert len(ids) == 32
    assert "pb:pg:1:2" in ids and "pb:pg:1:2#1" in ids


def test_links_in_content_do_not_grow_previews_and_empty_messages_are_valid():
    [payload] = render(Message(blocks=(Paragraph((Link("paper", "https://arxiv.org/abs/1"),)),)))
    assert payload.send_kwargs()["suppress_embeds"] is True
    assert_accepted(render(Message(blocks=())))


def test_preview_of_a_long_stream_fits_one_message():
    assert_accepted([render_preview("token " * 3000)])
    assert render_preview("").content


def test_quote_lines_are_all_quoted():
    [payload] = render(Message(blocks=(Quote((Text("line one\nline two"),)),)))
    assert payload.embeds[0].description == "> line one\n> line two"


def test_every_card_of_a_real_day_is_accepted(shared_data):
    lines = (shared_data / "daily" / "2026-06-16.jsonl").read_text(encoding="utf-8").splitlines()
    seen: set[str] = set()
    count = 0
    for line in lines:
        row = json.loads(line)
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        card = paper_card(Paper(id=row["id"], title=row["title"], authors=tuple(row["authors"]),
                                abstract=row["summary"], categories=tuple(row["categories"])),
                          urls=URLS, reason="matches your keyword “diffusion”")
        payloads = render(card)
        assert len(payloads) == 1, row["id"]
        assert_accepted(payloads)
        count += 1
    assert count > 500


def test_escape_leaves_ids_and_numbers_alone():
    assert escape("2501.01234 and 3.5") == "2501.01234 and 3.5"
