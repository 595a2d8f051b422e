"""The paper assistant: an LLM that has read the whole paper, behind FAQ, Ask and Translate.

The composition root builds one `Assistant(settings, sessions, http, clock)` and sets it as
`app.assistant`; `bot.assistant.commands` registers the chat handlers (/faq, /ask, /language and
the faq/ask/retry/tr buttons). Tables live in `bot.assistant.schema` (and `digest.fulltext_cache`
for extracted text): import both where migrations collect the metadata.
"""

from bot.assistant.errors import AssistantError, LLMNotConfigured, LLMUnavailable
from bot.assistant.llm import Completion, LLMClient, is_configured
from bot.assistant.prompts import FAQ_QUESTIONS, LANGUAGES, normalise_language
from bot.assistant.service import Assistant

__all__ = [
    "FAQ_QUESTIONS",
    "LANGUAGES",
    "Assistant",
    "AssistantError",
    "Completion",
    "LLMClient",
    "LLMNotConfigured",
    "LLMUnavailable",
    "is_configured",
    "normalise_language",
]
