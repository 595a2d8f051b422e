"""The one LLM client: an `AsyncOpenAI` on `llm.base_url`, streamed, retried by tenacity.

Any OpenAI-compatible server works (OpenAI, Moonshot/Kimi, DeepSeek, Ollama, vLLM, llama.cpp).
Retries: the SDK's own are turned off (`max_retries=0`) and tenacity retries timeouts, connection
errors, 429 and 5xx — and a stream that breaks or ends without a finish reason — with exponential
backoff, `llm.retries` times. One mechanism, so a failure costs at most `retries + 1` calls.
A retried stream starts over: `on_text` then receives the new attempt's text from the start.

"Configured" means: `llm.api_key` is set, or `llm.base_url` points at this machine (Ollama, vLLM
and llama.cpp on localhost accept any key, so asking for one would only confuse). A remote server
without keys needs a placeholder key such as `PAPERBOY_LLM__API_KEY=none`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.assistant.errors import LLMNotConfigured, LLMUnavailable
from bot.config import LLMSettings
from bot.metrics import LLM_LATENCY

__all__ = ["Completion", "LLMClient", "is_configured"]

log = logging.getLogger(__name__)

OnText = Callable[[str], Awaitable[None]]
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}


def is_configured(llm: LLMSettings) -> bool:
    """True when there is a key, or the server is local (keyless Ollama/vLLM/llama.cpp)."""
    if llm.api_key.strip():
        return True
    host = (urlsplit(llm.base_url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class Completion:
    """One finished answer and what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str = "stop"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class _Transient(Exception):
    """An attempt failed in a way worth retrying; `cause` is the SDK error or a description."""


class LLMClient:
    """Chat completions with streaming and retries; build one per app, close with `aclose()`."""

    def __init__(self, llm: LLMSettings, *, retry_wait_s: float = 1.0) -> None:
        self.settings = llm
        self.model = llm.model
        self.configured = is_configured(llm)
        self._retry_wait_s = retry_wait_s
        self._client = openai.AsyncOpenAI(
            base_url=llm.base_url,
            api_key=llm.api_key.strip() or "unused",
            timeout=llm.timeout_s,
            max_retries=0,  # tenacity retries instead; never both
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        on_text: OnText | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.3,
    ) -> Completion:
        """The model's answer to `messages`; streamed to `on_text` (text so far) when given.

        Raises `LLMNotConfigured`, or `LLMUnavailable` once the retries are spent.
        """
        if not self.configured:
            raise LLMNotConfigured("set llm.api_key and llm.base_url")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=wait_exponential(multiplier=self._retry_wait_s, max=max(self._retry_wait_s * 30, 0.001)),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        started = time.perf_counter()
        try:
            async for attempt in retrying:
                with attempt:
                    completion = await self._attempt(messages, on_text, max_tokens, temperature)
                    LLM_LATENCY.observe(time.perf_counter() - started)
                    return completion
        except _Transient as exc:
            raise LLMUnavailable(f"the LLM failed {self.settings.retries + 1} times: {exc}") from exc.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, messages: list[dict[str, Any]], on_text: OnText | None, max_tokens: int | None, temperature: float
    ) -> Completion:
        extra: dict[str, Any] = {}
        if max_tokens is not None:
            extra["max_tokens"] = max_tokens
        try:
            if on_text is None:
                response = await self._client.chat.completions.create(
                    model=self.model, messages=messages, temperature=temperature, **extra  # type: ignore[arg-type]
                )
                return _from_response(response, self.model)
            return await self._stream(messages, on_text, temperature, extra)
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            log.warning("LLM call failed (%s); may retry", type(exc).__name__)
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise _Transient(f"HTTP {exc.status_code}") from exc
            raise LLMUnavailable(f"the LLM server refused the request (HTTP {exc.status_code}): {exc.message}") from exc
        except openai.APIError as exc:  # an error event inside a stream
            log.warning("LLM stream broke (%s); may retry", exc)
            raise _Transient(f"stream error: {exc}") from exc

    async def _stream(
        self, messages: list[dict[str, Any]], on_text: OnText, temperature: float, extra: dict[str, Any]
    ) -> Completion:
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=temperature,
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        parts: list[str] = []
        finish: str | None = None
        usage: Any = None
        model = self.model
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    piece = choice.delta.content if choice.delta else None  # reasoning_content is ignored
                    if piece:
                        parts.append(piece)
                        await on_text("".join(parts))
        text = "".join(parts)
        if finish is None:
            raise _Transient("the stream ended without a finish reason (cut off)")
        return _completion(text, model, usage, finish, messages)


def _from_response(response: Any, model: str) -> Completion:
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content or "") if choice else ""
    finish = (choice.finish_reason if choice else None) or "stop"
    return _completion(text, response.model or model, response.usage, finish, None)


def _completion(text: str, model: str, usage: Any, finish: str, messages: list[dict[str, Any]] | None) -> Completion:
    if usage is None:  # some servers send no usage: estimate, so budgets and quotas still see a cost
        prompt = sum(len(str(m.get("content", ""))) for m in messages or []) // 4
        return Completion(text, model, prompt, len(text) // 4, 0, finish)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Completion(text, model, usage.prompt_tokens or 0, usage.completion_tokens or 0, cached, finish)
