"""The platform-neutral message model that `digest/` and `bot/` build and adapters render.

A `Message` is a sequence of blocks (headings, paragraphs of spans, quotes, model Markdown) plus
a keyboard of buttons. Nothing here knows about HTML, embeds or entities: every adapter has a
`render(message)` that turns this into its platform's payload, and the console renderer is the
reference. Messages round-trip through JSON (`to_dict`/`from_dict`) so the outbox can store them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ACTION_BYTES = 64


@dataclass(frozen=True, slots=True)
class Text:
    """A run of plain text with optional emphasis."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A run of text that links to a URL."""

    text: str
    url: str
    bold: bool = False


Span = Text | Link


@dataclass(frozen=True, slots=True)
class Heading:
    """A bold title line; when it is a single Link, adapters may use it as a card's title."""

    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A line or paragraph of spans. Newlines inside Text are kept."""

    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    """A quoted block, collapsed by default where the platform can (abstracts)."""

    spans: tuple[Span, ...]
    expandable: bool = True


@dataclass(frozen=True, slots=True)
class Markdown:
    """Markdown written by the LLM; each adapter converts it (LaTeX included) for its platform."""

    text: str


Block = Heading | Paragraph | Quote | Markdown


@dataclass(frozen=True, slots=True)
class Button:
    """A button: either an action sent back to the bot (<= 64 bytes) or a URL to open."""

    label: str
    action: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.action is None) == (self.url is None):
            raise ValueError("a Button has exactly one of action or url")
        if self.action is not None and not 0 < len(self.action.encode()) <= MAX_ACTION_BYTES:
            raise ValueError(f"button action {self.action!r} must be 1-{MAX_ACTION_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message: blocks of content and rows of buttons under it."""

    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = field(default=())

    def plain_text(self) -> str:
        """The message as plain text (for logs, tests and the fallback when rich text fails)."""
        return "\n\n".join(_block_text(b) for b in self.blocks)


def text(*lines: str) -> Message:
    """A message of plain paragraphs, the most common reply."""
    return Message(blocks=tuple(Paragraph((Text(line),)) for line in lines))


def _spans_text(spans: tuple[Span, ...]) -> str:
    return "".join(s.text for s in spans)


def _block_text(block: Block) -> str:
    if isinstance(block, Markdown):
        return block.text
    return _spans_text(block.spans)


# --- JSON round trip (the outbox stores messages as JSON) -------------------------------------

_SPANS = {"text": Text, "link": Link}
_BLOCKS = {"heading": Heading, "paragraph": Paragraph, "quote": Quote, "markdown": Markdown}


def _span_to_dict(span: Span) -> dict[str, Any]:
    kind = "link" if isinstance(span, Link) else "text"
    data = {k: getattr(span, k) for k in span.__slots__}  # type: ignore[union-attr]
    return {"t": kind, **data}


def to_dict(message: Message) -> dict[str, Any]:
    """A JSON-safe dict for a message."""
    blocks: list[dict[str, Any]] = []
    for block in message.blocks:
        kind = next(k for k, cls in _BLOCKS.items() if isinstance(block, cls))
        if isinstance(block, Markdown):
            blocks.append({"t": kind, "text": block.text})
        else:
            entry: dict[str, Any] = {"t": kind, "spans": [_span_to_dict(s) for s in block.spans]}
            if isinstance(block, Quote):
                entry["expandable"] = block.expandable
            blocks.append(entry)
    buttons = [[{"label": b.label, "action": b.action, "url": b.url} for b in row] for row in message.buttons]
    return {"blocks": blocks, "buttons": buttons}


def from_dict(data: dict[str, Any]) -> Message:
    """The message a `to_dict` result describes."""
    blocks: list[Block] = []
    for entry in data["blocks"]:
        cls = _BLOCKS[entry["t"]]
        if cls is Markdown:
            blocks.append(Markdown(entry["text"]))
            continue
        spans = tuple(_SPANS[s["t"]](**{k: v for k, v in s.items() if k != "t"}) for s in entry["spans"])
        if cls is Quote:
            blocks.append(Quote(spans, expandable=entry.get("expandable", True)))
        else:
            blocks.append(cls(spans))
    buttons = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", []))
    return Message(blocks=tuple(blocks), buttons=buttons)
