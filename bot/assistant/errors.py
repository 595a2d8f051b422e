"""Everything the assistant raises, under `digest.errors.PaperboyError`, so nobody catches openai's types.

The SDK's errors are mapped once, in `bot.assistant.llm`, with `raise ... from exc`.
"""

from __future__ import annotations

from digest.errors import PaperboyError

__all__ = ["AnswerTimeout", "AssistantError", "LLMNotConfigured", "LLMUnavailable"]


class AssistantError(PaperboyError):
    """Base of the assistant's errors."""


class LLMNotConfigured(AssistantError):
    """No LLM endpoint is configured (llm.api_key is empty and llm.base_url is not a local server)."""


class LLMUnavailable(AssistantError):
    """The LLM failed (timeouts, 5xx, an error or a cut in the stream) after the retries."""


class AnswerTimeout(LLMUnavailable):
    """An answer was still being written when its deadline (`llm.answer_timeout_s`) passed; it was cut."""
