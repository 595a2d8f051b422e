"""Neutral `Message` -> Discord payloads (content or embeds, and persistent buttons), within limits.

Paper cards and digests (anything with a heading or a quote) become embeds: a heading made of one
link (optionally after a number) is the embed's title and URL, everything else its description.
Plain replies become message content. Whatever does not fit Discord's limits (content 2000,
description 4096, title 256, 10 embeds and 6000 characters a message, 5 rows of 5 buttons) is
split into several payloads, cut at paragraph boundaries; the buttons go under the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
from discord.utils import escape_markdown

from adapters.discord.components import build_view
from adapters.discord.markdown import clip, convert_llm_markdown, escape, split_text
from digest.message import Block, Heading, Link, Markdown, Message, Paragraph, Quote, Span, Text

__all__ = ["CONTENT_LIMIT", "DESCRIPTION_LIMIT", "EMBED_COLOUR", "DiscordPayload", "render", "render_preview"]

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
MESSAGE_EMBED_CHARS = 6000
MAX_EMBEDS = 10
EMBED_COLOUR = 0xB31B1B  # arXiv red


@dataclass
class DiscordPayload:
    """One Discord message: what `Messageable.send` / `Message.edit` take."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `send` (nothing empty is passed)."""
        kwargs: dict[str, Any] = {}
        if self.content:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = self.embeds
        if self.view is not None:
            kwargs["view"] = self.view
        if self.content and not self.embeds and "](" in self.content:
            kwargs["suppress_embeds"] = True  # a list of paper links should not grow link previews
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `edit`: every field is set, so old content or buttons disappear."""
        return {"content": self.content, "embeds": self.embeds, "view": self.view}

    def text(self) -> str:
        """Everything a reader sees, for tests and logs."""
        pieces = [self.content or ""]
        for embed in self.embeds:
            pieces += [embed.title or "", embed.description or ""]
        return "\n".join(p for p in pieces if p)


def render(message: Message) -> list[DiscordPayload]:
    """The Discord messages that show `message`: one normally, several when it is too long."""
    title, url, blocks = _title(message.blocks)
    body = _join(blocks)
    as_embed = title is not None or any(isinstance(b, (Heading, Quote)) for b in blocks) or len(body) > CONTENT_LIMIT
    payloads = _embed_payloads(title, url, body) if as_embed else _content_payloads(body)
    views = build_view(message.buttons)
    if not payloads and not views:
        payloads = [DiscordPayload(content="\u200b")]  # Discord refuses an empty message
    if views:
        if not payloads:
            payloads.append(DiscordPayload())
        payloads[-1].view = views[0]
        payloads.extend(DiscordPayload(view=v) for v in views[1:])
    return payloads


def render_preview(text_so_far: str) -> DiscordPayload:
    """A streamed answer while it is being written: the LLM's Markdown so far, clipped to one embed."""
    body = convert_llm_markdown(text_so_far).strip() or "…"
    if len(body) <= CONTENT_LIMIT - 2:
        return DiscordPayload(content=body + " ▌")
    return DiscordPayload(embeds=[_embed(description=clip(body, DESCRIPTION_LIMIT - 2) + " ▌")])


# --- blocks -> Discord Markdown ----------------------------------------------------------------


def _title(blocks: tuple[Block, ...]) -> tuple[str | None, str | None, tuple[Block, ...]]:
    """A leading heading of one link (optionally after plain text like "3. ") becomes the title."""
    if not blocks or not isinstance(blocks[0], Heading):
        return None, None, blocks
    spans = blocks[0].spans
    links = [s for s in spans if isinstance(s, Link)]
    if len(links) != 1 or not all(isinstance(s, Text) for s in spans if s is not links[0]):
        return None, None, blocks
    title = "".join(s.text for s in spans)
    return clip(escape_markdown(title), TITLE_LIMIT), links[0].url, blocks[1:]


def _join(blocks: tuple[Block, ...]) -> str:
    """Blocks one per line; a blank line where the kind of block changes (before a quote, ...)."""
    out = ""
    previous: Block | None = None
    for block in blocks:
        shown = _block(block)
        if not shown:
            continue
        if out:
            same = isinstance(block, Paragraph) and isinstance(previous, Paragraph)
            out += "\n" if same else "\n\n"
        out += shown
        previous = block
    return out


def _block(block: Block) -> str:
    if isinstance(block, Markdown):
        return convert_llm_markdown(block.text).strip()
    text = _spans(block.spans)
    if isinstance(block, Heading):
        return f"**{text}**" if text else ""
    if isinstance(block, Quote):
        return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
    return text


def _spans(spans: tuple[Span, ...]) -> str:
    return "".join(_span(s) for s in spans)


def _span(span: Span) -> str:
    if isinstance(span, Link):
        label = escape(span.text).replace("]", "\\]") or span.url
        out = f"[{label}]({span.url})" if " " not in span.url and ")" not in span.url else escape(span.text)
        return f"**{out}**" if span.bold else out
    if span.code:
        return f"`{span.text.replace('`', 'ˋ')}`" if span.text else ""
    out = escape(span.text)
    if not out.strip():
        return out
    lead = out[: len(out) - len(out.lstrip())]
    trail = out[len(out.rstrip()):]
    core = out.strip()
    if span.bold:
        core = f"**{core}**"
    if span.italic:
        core = f"*{core}*"
    return lead + core + trail


# --- packing into Discord's limits -------------------------------------------------------------


def _content_payloads(body: str) -> list[DiscordPayload]:
    return [DiscordPayload(content=part) for part in split_text(body, CONTENT_LIMIT)]


def _embed_payloads(title: str | None, url: str | None, body: str) -> list[DiscordPayload]:
    first_budget = DESCRIPTION_LIMIT
    chunks = split_text(body, first_budget) or [""]
    payloads: list[DiscordPayload] = []
    current: list[discord.Embed] = []
    used = 0
    for index, chunk in enumerate(chunks):
        embed = _embed(title=title if index == 0 else None, url=url if index == 0 else None, description=chunk)
        size = len(embed)
        if current and (used + size > MESSAGE_EMBED_CHARS or len(current) == MAX_EMBEDS):
            payloads.append(DiscordPayload(embeds=current))
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        payloads.append(DiscordPayload(embeds=current))
    return payloads


def _embed(*, title: str | None = None, url: str | None = None, description: str | None = None) -> discord.Embed:
    return discord.Embed(title=title, url=url if title else None, description=description or None, colour=EMBED_COLOUR)
