"""Neutral `Message` -> Telegram payloads: HTML text split under 4096 UTF-16 units, plus a keyboard.

Telegram escaping, tag rules and size limits live here and nowhere else. The message is first laid
out as a string with a *style* (a stack of HTML tags) per character; HTML is produced from that
per part, closing and re-opening tags where the style changes. Because every part is rendered
from styles, not cut out of an HTML string, a split can never leave a tag open or cut an
`&amp;` apart: a quote that has to be split is simply re-opened in the next part.

Limits come from the Bot API, as PTB's `telegram.constants` spells them: text is counted in UTF-16
code units after entity parsing; at most 8 buttons a row and 100 in all; callback data is 1-64
bytes (`digest.message.MAX_ACTION_BYTES` keeps every button's action within it).
Model Markdown (LLM answers) has its maths turned into Unicode by `digest.latex` (the one LaTeX
converter every platform uses), then goes through telegramify-markdown, which returns text +
entities; the entities become the same per-character styles, so one code path renders and splits
everything.
"""

from __future__ import annotations

import bisect
import functools
import html
import logging
import re
import unicodedata
from dataclasses import dataclass, field

import telegramify_markdown
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardMarkupLimit, MessageLimit

from digest.latex import markdown_math_to_unicode
from digest.message import Button, Heading, Link, Markdown, Message, Paragraph, Quote, Span, Text

__all__ = ["MAX_TEXT", "TelegramPayload", "keyboard", "render", "render_plain", "utf16_len"]

log = logging.getLogger(__name__)

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
MAX_BUTTONS = int(InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER)  # 100
MAX_ROW = int(InlineKeyboardMarkupLimit.BUTTONS_PER_ROW)  # 8
EMPTY_TEXT = "👇"  # Telegram refuses empty text; a message that is only buttons points at them
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


@dataclass(frozen=True, slots=True)
class Tag:
    """One HTML tag Telegram accepts, with its attributes."""

    name: str
    attrs: tuple[tuple[str, str | None], ...] = ()

    def open(self) -> str:
        parts = [self.name]
        for key, value in self.attrs:
            parts.append(key if value is None else f'{key}="{html.escape(value, quote=True)}"')
        return "<" + " ".join(parts) + ">"

    def close(self) -> str:
        return f"</{self.name}>"


Style = tuple[Tag, ...]

BOLD, ITALIC, UNDERLINE, STRIKE, SPOILER, CODE, PRE = (
    Tag("b"), Tag("i"), Tag("u"), Tag("s"), Tag("tg-spoiler"), Tag("code"), Tag("pre")
)
QUOTE, QUOTE_EXPANDABLE = Tag("blockquote"), Tag("blockquote", (("expandable", None),))
# Outer to inner; a canonical order makes neighbouring runs share their tags.
_ORDER = {"blockquote": 0, "pre": 1, "a": 2, "b": 3, "i": 4, "u": 5, "s": 6, "tg-spoiler": 7, "code": 8}


@dataclass(frozen=True, slots=True)
class TelegramPayload:
    """One sendMessage worth of content: text, its parse mode and the inline keyboard (last part only)."""

    text: str
    parse_mode: str | None = "HTML"
    reply_markup: InlineKeyboardMarkup | None = None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts message length in."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def render(message: Message, *, limit: int = MAX_TEXT) -> list[TelegramPayload]:
    """The message as HTML parts of at most `limit` UTF-16 units each; buttons go on the last part."""
    return list(_render_cached(message, True, limit))


def render_plain(message: Message, *, limit: int = MAX_TEXT) -> list[TelegramPayload]:
    """The message as plain text (no parse mode): the fallback when Telegram rejects our markup."""
    return list(_render_cached(message, False, limit))


@functools.lru_cache(maxsize=1024)
def _render_cached(message: Message, rich: bool, limit: int) -> tuple[TelegramPayload, ...]:
    """A morning's fan-out sends the same paper card to many chats: render each message once."""
    parse_mode = "HTML" if rich else None
    return tuple(_payloads(_layout(message, rich=rich), parse_mode, keyboard(message), limit))


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    """The message's buttons as an inline keyboard: rows of at most 8, at most 100 buttons in all."""
    rows: list[list[InlineKeyboardButton]] = []
    count = 0
    for row in message.buttons:
        built = [_button(b) for b in row]
        for i in range(0, len(built), MAX_ROW):
            chunk = built[i : i + MAX_ROW][: MAX_BUTTONS - count]
            if chunk:
                rows.append(chunk)
                count += len(chunk)
    dropped = sum(len(r) for r in message.buttons) - count
    if dropped:
        log.warning("dropped %d buttons over Telegram's limit of %d", dropped, MAX_BUTTONS)
    return InlineKeyboardMarkup(rows) if rows else None


def _button(button: Button) -> InlineKeyboardButton:
    label = button.label.strip() or "·"
    if button.url is not None:
        return InlineKeyboardButton(label, url=button.url)
    return InlineKeyboardButton(label, callback_data=button.action)


# --- layout: a string with one style per character -------------------------------------------


@dataclass
class _Doc:
    chars: list[str] = field(default_factory=list)
    styles: list[Style] = field(default_factory=list)
    block_ends: list[int] = field(default_factory=list)  # preferred split points

    def add(self, text: str, style: Style = ()) -> None:
        self.chars.extend(text)
        self.styles.extend([style] * len(text))

    def end_block(self) -> None:
        self.add("\n\n")
        self.block_ends.append(len(self.chars))


def _layout(message: Message, *, rich: bool) -> _Doc:
    doc = _Doc()
    for block in message.blocks:
        if isinstance(block, Markdown):
            _add_markdown(doc, block.text, rich=rich)
        elif isinstance(block, Heading):
            _add_spans(doc, block.spans, (BOLD,), rich=rich)
        elif isinstance(block, Quote):
            outer = (QUOTE_EXPANDABLE if block.expandable else QUOTE,)
            _add_spans(doc, block.spans, outer, rich=rich)
        elif isinstance(block, Paragraph):
            _add_spans(doc, block.spans, (), rich=rich)
        doc.end_block()
    return doc


def _add_spans(doc: _Doc, spans: tuple[Span, ...], outer: Style, *, rich: bool) -> None:
    for span in spans:
        if isinstance(span, Link):
            if not rich:
                same = span.text.strip() == span.url or not span.text.strip()
                doc.add(span.url if same else f"{span.text} ({span.url})")
                continue
            tags = list(outer)
            if span.url.startswith(_SAFE_SCHEMES):
                tags.append(Tag("a", (("href", span.url),)))
            if span.bold:
                tags.append(BOLD)
            doc.add(span.text, _normalize(tags) if rich else ())
        elif isinstance(span, Text):
            tags = list(outer)
            if span.bold:
                tags.append(BOLD)
            if span.italic:
                tags.append(ITALIC)
            if span.code:
                tags.append(CODE)
            doc.add(span.text, _normalize(tags) if rich else ())


_ENTITY_TAGS = {
    "bold": BOLD, "italic": ITALIC, "underline": UNDERLINE, "strikethrough": STRIKE,
    "spoiler": SPOILER, "code": CODE, "blockquote": QUOTE, "expandable_blockquote": QUOTE_EXPANDABLE,
}  # fmt: skip


# Code, maths and everything else; only the last is touched by `_keep_angle_brackets`.
_PROTECTED = re.compile(r"(```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$)", re.DOTALL)
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!])")


def _keep_angle_brackets(markdown: str) -> str:
    """Escape tag-like `<` (LLMs write `<eos>`), which the Markdown parser would drop as raw HTML."""
    pieces = _PROTECTED.split(markdown)
    return "".join(p if i % 2 else _TAG_LIKE.sub(r"\\<", p) for i, p in enumerate(pieces))


def _add_markdown(doc: _Doc, markdown: str, *, rich: bool) -> None:
    prepared = _keep_angle_brackets(markdown_math_to_unicode(markdown))
    text, entities = telegramify_markdown.convert(prepared, latex_escape=False)
    if not rich:
        doc.add(text)
        return
    # Entity offsets are UTF-16; map them to Python indices.
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + (2 if ord(ch) > 0xFFFF else 1))
    per_char: list[list[Tag]] = [[] for _ in text]
    for entity in sorted(entities, key=lambda e: (e.offset, -e.length)):
        tags = _entity_tags(entity)
        if not tags:
            continue
        lo = bisect.bisect_left(starts, entity.offset)
        hi = bisect.bisect_left(starts, entity.offset + entity.length)
        for i in range(lo, min(hi, len(text))):
            per_char[i].extend(tags)
    for ch, tags in zip(text, per_char):
        doc.add(ch, _normalize(tags))


def _entity_tags(entity: telegramify_markdown.MessageEntity) -> list[Tag]:
    if entity.type == "text_link" and entity.url and entity.url.startswith(_SAFE_SCHEMES):
        return [Tag("a", (("href", entity.url),))]
    if entity.type == "pre":
        if entity.language:
            return [PRE, Tag("code", (("class", f"language-{entity.language}"),))]
        return [PRE]
    tag = _ENTITY_TAGS.get(entity.type)
    return [tag] if tag else []


def _normalize(tags: list[Tag]) -> Style:
    """A style Telegram accepts: no duplicates, one blockquote, nothing inside code or pre."""
    seen: dict[str, Tag] = {}
    for tag in tags:
        seen.setdefault(tag.name, tag)
    if "code" in seen or "pre" in seen:
        seen = {k: v for k, v in seen.items() if k in ("blockquote", "pre", "code")}
    return tuple(sorted(seen.values(), key=lambda t: _ORDER[t.name]))


# --- splitting and HTML ----------------------------------------------------------------------


def _payloads(doc: _Doc, parse_mode: str | None, markup: InlineKeyboardMarkup | None,
              limit: int) -> list[TelegramPayload]:
    parts = [_html(doc, a, b) if parse_mode else "".join(doc.chars[a:b]) for a, b in _split(doc, limit)]
    parts = [p for p in parts if p] or [EMPTY_TEXT]
    payloads = [TelegramPayload(p, parse_mode) for p in parts]
    payloads[-1] = TelegramPayload(payloads[-1].text, parse_mode, markup)
    return payloads


def _split(doc: _Doc, limit: int) -> list[tuple[int, int]]:
    """Character ranges, each with visible text of at most `limit` UTF-16 units, whitespace trimmed.

    Prefers block boundaries, then line ends, then spaces, then any code point that does not
    start a combining mark or continue an emoji sequence.
    """
    chars = doc.chars
    n = len(chars)
    cost = [0]
    for ch in chars:
        cost.append(cost[-1] + (2 if ord(ch) > 0xFFFF else 1))
    lines = [i + 1 for i, ch in enumerate(chars) if ch == "\n"]
    spaces = [i + 1 for i, ch in enumerate(chars) if ch == " "]
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < n:
        while start < n and chars[start].isspace():
            start += 1
        if start >= n:
            break
        # furthest end whose cost fits
        furthest = bisect.bisect_right(cost, cost[start] + limit) - 1
        if furthest >= n:
            end = n
        else:
            best = _best_break(start, furthest, (doc.block_ends, lines, spaces))
            end = furthest if best is None else best
            if best is None:
                while end > start + 1 and (_joins_previous(chars[end]) or chars[end - 1] == "\u200d"):
                    end -= 1
        stop = end
        while stop > start and chars[stop - 1].isspace():
            stop -= 1
        ranges.append((start, stop))
        start = end
    return ranges


def _best_break(start: int, furthest: int, levels: tuple[list[int], ...]) -> int | None:
    for points in levels:
        i = bisect.bisect_right(points, furthest) - 1
        if i >= 0 and points[i] > start:
            return points[i]
    return None


def _joins_previous(ch: str) -> bool:
    return unicodedata.combining(ch) > 0 or ch in "\u200d\ufe0f\ufe0e" or 0x1F3FB <= ord(ch) <= 0x1F3FF


def _html(doc: _Doc, start: int, stop: int) -> str:
    out: list[str] = []
    open_: Style = ()
    i = start
    while i < stop:
        style = doc.styles[i]
        j = i
        while j < stop and doc.styles[j] == style:
            j += 1
        common = 0
        while common < min(len(open_), len(style)) and open_[common] == style[common]:
            common += 1
        out.extend(t.close() for t in reversed(open_[common:]))
        out.extend(t.open() for t in style[common:])
        out.append(html.escape("".join(doc.chars[i:j]), quote=False))
        open_ = style
        i = j
    out.extend(t.close() for t in reversed(open_))
    return "".join(out)
