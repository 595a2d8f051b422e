"""The one LLM client: an `AsyncOpenAI` on `llm.base_url`, streamed, retried by tenacity, bounded.

Any OpenAI-compatible server works (OpenAI, Moonshot/Kimi, DeepSeek, Ollama, vLLM, llama.cpp).
Retries: the SDK's own are turned off (`max_retries=0`) and tenacity retries timeouts, connection
errors, 429 and 5xx — and a stream that breaks, ends without a finish reason, or sends a chunk
that is not valid JSON — with exponential backoff, `llm.retries` times. One mechanism, so a
failure costs at most `retries + 1` calls. A retried stream starts over: `on_text` then receives
the new attempt's text from the start.

Every answer is bounded, whatever the server does:
- every request carries `max_tokens`, and a server that ignores it is cut off by us once the text
  passes what that many tokens could hold (`finish_reason="length"`);
- one deadline covers the whole answer, retries included (`llm.answer_timeout_s`); past it the
  answer fails with `AnswerTimeout`, and the stream is closed, which frees the caller's slot;
- `on_text` is called at most every `_EMIT_INTERVAL_S` (the first text at once), so thousands
  of tiny chunks cannot keep the event loop busy re-rendering previews;
- the model's text is cleaned of NUL, lone surrogates and other control characters.

What each attempt cost, failed or not, is added to a `Meter` the caller passes, so quotas and the
daily token budget count every call.

"Configured" means: `llm.api_key` is set, or `llm.base_url` points at this machine (Ollama, vLLM
and llama.cpp on localhost accept any key, so asking for one would only confuse). A remote server
without keys needs a placeholder key such as `PAPERBOY_LLM__API_KEY=none`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import openai
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.assistant.errors import AnswerTimeout, LLMNotConfigured, LLMUnavailable
from bot.config import LLMSettings
from bot.metrics import LLM_LATENCY

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["Completion", "LLMClient", "Meter", "clean_model_text", "estimate_tokens", "is_configured"]

log = logging.getLogger(__name__)

OnText = Callable[[str], Awaitable[None]]
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}
# A token is rarely more than 8 characters; past max_tokens * this, the server is ignoring max_tokens.
_MAX_CHARS_PER_TOKEN = 8
_EMIT_INTERVAL_S = 0.05
_YIELD_EVERY_CHUNKS = 16
_UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def is_configured(llm: LLMSettings) -> bool:
    """True when there is a key, or the server is local (keyless Ollama/vLLM/llama.cpp)."""
    if llm.api_key.get_secret_value().strip():
        return True
    host = (urlsplit(llm.base_url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def clean_model_text(text: str) -> str:
    """The model's text without NUL, lone surrogates or control characters (newlines and tabs stay)."""
    return _UNWANTED.sub("", text)


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """About how many prompt tokens `messages` make (4 characters a token, like the budgets)."""
    return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 4 * len(messages)


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


@dataclass
class Meter:
    """What the calls of one request cost, failed attempts included (the server read the prompt)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def add(self, prompt: int, completion: int, cached: int = 0) -> None:
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cached_tokens += cached

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class _Transient(Exception):
    """An attempt failed in a way worth retrying; `cause` is the SDK error or a description."""


class LLMClient:
    """Chat completions with streaming, retries and bounds; build one per app, close with `aclose()`."""

    def __init__(self, llm: LLMSettings, *, retry_wait_s: float = 1.0) -> None:
        self.settings = llm
        self.model = llm.model
        self.configured = is_configured(llm)
        self._retry_wait_s = retry_wait_s
        self._client = openai.AsyncOpenAI(
            base_url=llm.base_url,
            api_key=llm.api_key.get_secret_value().strip() or "unused",
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
        meter: Meter | None = None,
    ) -> Completion:
        """The model's answer to `messages`; streamed to `on_text` (text so far) when given.

        `max_tokens` defaults to `llm.max_answer_tokens`. Raises `LLMNotConfigured`,
        `AnswerTimeout` past `llm.answer_timeout_s`, or `LLMUnavailable` once the retries are spent.
        """
        if not self.configured:
            raise LLMNotConfigured("set llm.api_key and llm.base_url")
        limit = max_tokens or self.settings.max_answer_tokens
        meter = meter if meter is not None else Meter()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=wait_exponential(multiplier=self._retry_wait_s, max=max(self._retry_wait_s * 30, 0.001)),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        deadline = self.settings.answer_timeout_s
        started = time.perf_counter()
        try:
            async with asyncio.timeout(deadline if deadline > 0 else None):
                async for attempt in retrying:
                    with attempt:
                        completion = await self._attempt(messages, on_text, limit, temperature, meter)
                        LLM_LATENCY.observe(time.perf_counter() - started)
                        return completion
        except _Transient as exc:
            raise LLMUnavailable(f"the LLM failed {self.settings.retries + 1} times: {exc}") from exc.__cause__
        except TimeoutError as exc:
            raise AnswerTimeout(f"the answer took longer than llm.answer_timeout_s = {deadline:g} s") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, messages: list[dict[str, Any]], on_text: OnText | None, max_tokens: int, temperature: float, meter: Meter
    ) -> Completion:
        progress = _Progress()
        try:
            if on_text is None:
                response = await self._client.chat.completions.create(
                    model=self.model, messages=messages, temperature=temperature, max_tokens=max_tokens,  # type: ignore[arg-type]
                )
                completion = _from_response(response, self.model, messages, max_tokens)
            else:
                completion = await self._stream(messages, on_text, temperature, max_tokens, progress)
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:
            self._charge(meter, messages, progress, exc)
            log.warning("LLM call failed (%s); may retry", type(exc).__name__)
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            self._charge(meter, messages, progress, exc)
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise _Transient(f"HTTP {exc.status_code}") from exc
            raise LLMUnavailable(f"the LLM server refused the request (HTTP {exc.status_code}): {exc.message}") from exc
        except openai.APIError as exc:  # an error event inside a stream
            self._charge(meter, messages, progress, exc)
            log.warning("LLM stream broke (%s); may retry", exc)
            raise _Transient(f"stream error: {exc}") from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a chunk that is not JSON, or not a chunk
            self._charge(meter, messages, progress, exc)
            log.warning("LLM stream sent a malformed chunk (%s); may retry", type(exc).__name__)
            raise _Transient(f"malformed stream chunk: {type(exc).__name__}") from exc
        except _Transient:
            self._charge(meter, messages, progress, None)
            raise
        except BaseException:  # the deadline, or shutdown: the server still read the prompt
            self._charge(meter, messages, progress, None)
            raise
        meter.add(completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens)
        return completion

    @staticmethod
    def _charge(meter: Meter, messages: list[dict[str, Any]], progress: _Progress, exc: BaseException | None) -> None:
        """Count a failed attempt: a refused connection costs nothing, anything else its prompt and text."""
        if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
            meter.calls += 1
            return
        meter.add(estimate_tokens(messages), progress.chars // 4)

    async def _stream(
        self, messages: list[dict[str, Any]], on_text: OnText, temperature: float, max_tokens: int, progress: _Progress
    ) -> Completion:
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=temperature,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        finish: str | None = None
        usage: Any = None
        model = self.model
        cap = max_tokens * _MAX_CHARS_PER_TOKEN
        emitted_at = float("-inf")
        dirty = False
        chunks = 0
        async with stream:
            async for chunk in stream:
                chunks += 1
                if chunks % _YIELD_EVERY_CHUNKS == 0:
                    await asyncio.sleep(0)  # let other chats run between bursts of buffered chunks
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    piece = choice.delta.content if choice.delta else None  # reasoning_content is ignored
                    if piece:
                        piece = clean_model_text(piece)
                        parts.append(piece)
                        progress.chars += len(piece)
                        dirty = True
                if progress.chars >= cap:  # the server ignores max_tokens: stop reading
                    log.warning("LLM answer passed %d characters (max_tokens=%d); cut", cap, max_tokens)
                    finish = "length"
                    break
                now = time.monotonic()
                if dirty and now - emitted_at >= _EMIT_INTERVAL_S:
                    emitted_at, dirty = now, False
                    await on_text("".join(parts))
        text = "".join(parts)[:cap]
        if dirty:
            await on_text(text)
        if finish is None:
            raise _Transient("the stream ended without a finish reason (cut off)")
        if finish == "length" and progress.chars >= cap:
            usage = None  # the server's own figures (if any) never came: estimate
        return _completion(text, model, usage, finish, messages)


@dataclass
class _Progress:
    """How much text an attempt received before it ended, for charging failed attempts."""

    chars: int = 0


def _from_response(response: Any, model: str, messages: list[dict[str, Any]], max_tokens: int) -> Completion:
    choice = response.choices[0] if response.choices else None
    text = clean_model_text((choice.message.content or "") if choice else "")
    finish = (choice.finish_reason if choice else None) or "stop"
    cap = max_tokens * _MAX_CHARS_PER_TOKEN
    if len(text) > cap:
        text, finish = text[:cap], "length"
    return _completion(text, response.model or model, response.usage, finish, messages)


def _completion(text: str, model: str, usage: Any, finish: str, messages: list[dict[str, Any]] | None) -> Completion:
    if usage is None:  # some servers send no usage: estimate, so budgets and quotas still see a cost
        return Completion(text, model, estimate_tokens(messages or []), len(text) // 4, 0, finish)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Completion(text, model, usage.prompt_tokens or 0, usage.completion_tokens or 0, cached, finish)
