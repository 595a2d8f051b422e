"""The assistant's replies as neutral `Message`s: answers, previews, and the clear failure notes.

The model's text stays Markdown (a `Markdown` block); each adapter converts it for its platform.
Every answer carries an "Ask follow-up" button ("ask:<id>"), so replying to it continues the
thread; every failure that can be retried carries "retry:<kind>:<id>".
"""

from __future__ import annotations

from bot.assistant.prompts import FAQ_QUESTIONS, language_name
from digest.latex import to_unicode
from digest.message import Button, Heading, Link, Markdown, Message, Paragraph, Quote, Text
from digest.models import Paper

__all__ = [
    "ask_message",
    "ask_prompt_message",
    "budget_message",
    "failure_message",
    "faq_markdown",
    "faq_message",
    "not_configured_message",
    "quota_message",
    "translation_message",
    "usage_message",
]

NOT_CONFIGURED = (
    "The paper assistant is not configured on this bot, so FAQ and Ask cannot answer yet.\n"
    "To enable it, the bot's operator sets `llm.api_key` (environment: PAPERBOY_LLM__API_KEY) and, "
    "for a provider other than OpenAI, `llm.base_url` and `llm.model` "
    "(e.g. https://api.deepseek.com, https://api.moonshot.ai/v1, or a local Ollama at "
    "http://localhost:11434/v1, which needs no key)."
)


def _title(paper: Paper, abs_url: str) -> Heading:
    return Heading((Link(to_unicode(paper.title), f"{abs_url.rstrip('/')}/{paper.id}"),))


def _ask_button(paper_id: str) -> Button:
    return Button("💬 Ask a follow-up", action=f"ask:{paper_id}")


def faq_markdown(answers: list[str], current: str | None = None) -> str:
    """The FAQ as Markdown: numbered questions in bold, answers under them; `current` is being written."""
    parts = []
    for index, answer in enumerate([*answers, *([current] if current is not None else [])]):
        parts.append(f"**{index + 1}. {FAQ_QUESTIONS[index]}**\n{answer.strip()}")
    return "\n\n".join(parts)


CUT_NOTE = "(The answer reached its length limit, llm.max_answer_tokens, and was cut here.)"


def faq_message(paper: Paper, answers: list[str], *, abs_url: str, source: str = "", cut: bool = False) -> Message:
    """The finished FAQ of a paper; `cut`: it reached the length limit (shown, not cached, Retry offered)."""
    blocks: list = [_title(paper, abs_url), Markdown(faq_markdown(answers))]
    if source == "abstract":
        note = "(arXiv has no readable full text for this paper: answers rest on the abstract.)"
        blocks.append(Paragraph((Text(note, italic=True),)))
    buttons: tuple = (_ask_button(paper.id),)
    if cut:
        blocks.append(Paragraph((Text(CUT_NOTE, italic=True),)))
        buttons = (*buttons, Button("🔁 Retry", action=f"retry:faq:{paper.id}"))
    return Message(blocks=tuple(blocks), buttons=(buttons,))


def ask_message(paper: Paper, question: str, answer: str, *, abs_url: str, cut: bool = False) -> Message:
    """An answer to a free question, with the question quoted above it; `cut`: it reached the length limit."""
    blocks: tuple = (_title(paper, abs_url), Quote((Text(question.strip()),), expandable=False), Markdown(answer))
    if cut:
        blocks = (*blocks, Paragraph((Text(CUT_NOTE, italic=True),)))
    return Message(blocks=blocks, buttons=((_ask_button(paper.id),),))


def ask_prompt_message(paper: Paper, *, abs_url: str) -> Message:
    """What the Ask button answers: reply to this message with a question (its button names the paper)."""
    return Message(
        blocks=(
            _title(paper, abs_url),
            Paragraph((Text("Reply to this message with your question about the paper, or send "),
                       Text(f"/ask {paper.id} <question>", code=True), Text(".")),),
        ),
        buttons=((Button("❓ FAQ", action=f"faq:{paper.id}"), Button("💬 Ask", action=f"ask:{paper.id}")),),
    )


def failure_message(kind: str, paper_id: str, detail: str = "") -> Message:
    """A failed answer: what happened in one line, and a Retry button."""
    what = {"faq": "The FAQ", "ask": "The answer", "tr": "The translation"}.get(kind, "The answer")
    lines = [f"⚠️ {what} could not be written: the language model did not respond properly."]
    if detail:
        lines.append(detail)
    lines.append("Nothing was saved; press Retry to try again.")
    return Message(
        blocks=(Paragraph((Text("\n".join(lines)),)),),
        buttons=((Button("🔁 Retry", action=f"retry:{kind}:{paper_id}"),),),
    )


def not_configured_message() -> Message:
    return Message(blocks=(Paragraph((Text(NOT_CONFIGURED),)),))


def quota_message(quota: int) -> Message:
    return Message(
        blocks=(Paragraph((Text(
            f"This chat has used its {quota} assistant calls for today (llm.daily_quota; failed calls and "
            "retries count too). Answers already written (FAQs others asked for) are still free; new ones "
            "can be asked again tomorrow (UTC)."
        ),)),)
    )


def budget_message() -> Message:
    """New answers are refused because the bot's daily token budget is spent."""
    return Message(
        blocks=(Paragraph((Text(
            "The assistant has used this bot's token budget for today (llm.daily_token_budget), so it "
            "cannot write new answers until tomorrow (UTC). FAQs and translations already written are "
            "still served."
        ),)),)
    )


def translation_message(paper: Paper, title: str, abstract: str, language: str, *, abs_url: str) -> Message:
    """A paper's title and abstract in the chat's language, with a link to the original."""
    return Message(
        blocks=(
            Heading((Link(title or to_unicode(paper.title), f"{abs_url.rstrip('/')}/{paper.id}"),)),
            Quote((Text(abstract),), expandable=True),
            Paragraph((Text(f"Machine translation into {language_name(language)}.", italic=True),)),
        ),
        buttons=((Button("❓ FAQ", action=f"faq:{paper.id}"), _ask_button(paper.id)),),
    )


def usage_message(text: str) -> Message:
    """A one-paragraph reply (usage hints, confirmations)."""
    return Message(blocks=(Paragraph((Text(text),)),))
