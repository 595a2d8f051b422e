"""Paper embeddings from the configured provider (`llm.embedding_model`): asked for, stored, never in the way.

The same OpenAI-compatible server as the assistant (`llm.base_url`, `llm.api_key`), through the
openai SDK's `embeddings.create`, 100 papers a request (title and abstract, at most 4,000
characters each), `dimensions` when `llm.embedding_dimensions` is set. Retries as the assistant's
calls: the SDK's own are off, tenacity retries timeouts, connection errors, 429 and 5xx
`llm.retries` times with exponential backoff, each request bounded by `llm.timeout_s` (at most 30 s).

When it runs: `embed_new(ids)` after each ingest and each paper fetched by link (a background task:
no digest or answer waits for it), and `embed_history()` only when the operator asks
(`paperboy embed`). Never at start-up. A paper is embedded once per model and text: papers that
already have a vector of the current model and text are skipped, so a restart or a re-run costs
nothing, and an interrupted `paperboy embed` resumes where it stopped.

A failure never breaks anything: the papers stay without vectors, Related and ranking use TF-IDF
for them, a warning is logged once until the provider answers again, and the next ingest (or
`paperboy embed`) embeds them. Embedding tokens are not counted against `llm.daily_token_budget`:
that budget guards chat answers, which cost 10-100 times more per token; the tokens embedded are
counted here (`tokens`) and printed by `paperboy embed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import openai
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.assistant.llm import is_configured
from bot.config import LLMSettings
from digest.embeddings import PaperEmbeddings
from digest.errors import PaperboyError

__all__ = ["BATCH", "Embedder", "EmbeddingsUnavailable"]

log = logging.getLogger(__name__)

BATCH = 100  # texts per request: ~30k tokens, far under the providers' per-request limits
TIMEOUT_CAP_S = 30.0  # a request of 100 abstracts takes seconds; llm.timeout_s (120 s) is sized for answers

InDb = Callable[..., Awaitable[Any]]


class EmbeddingsUnavailable(PaperboyError):
    """The embeddings endpoint failed after the retries, refused the request, or answered nonsense."""


class _Transient(Exception):
    """An attempt failed in a way worth retrying."""


class Embedder:
    """Asks the provider for paper vectors and stores them; build one per app, close with `aclose()`."""

    def __init__(self, llm: LLMSettings, embeddings: PaperEmbeddings, *, retry_wait_s: float = 1.0,
                 in_db: InDb = asyncio.to_thread) -> None:
        self.settings = llm
        self.embeddings = embeddings
        self.enabled = bool(llm.embedding_model) and is_configured(llm)
        self.tokens = 0  # tokens the provider reported for this process's requests
        self.requests = 0
        self._in_db = in_db
        self._retry_wait_s = retry_wait_s
        self._failing = False  # a failure was logged; quiet until the provider answers again
        self._lock = asyncio.Lock()  # one embedding job at a time: two ingests never embed a paper twice
        self._client = openai.AsyncOpenAI(
            base_url=llm.base_url,
            api_key=llm.api_key.get_secret_value().strip() or "unused",
            timeout=min(llm.timeout_s, TIMEOUT_CAP_S),
            max_retries=0,  # tenacity retries instead; never both
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def embed_new(self, ids: Sequence[str]) -> int:
        """Embed the papers among `ids` that need it (new, new version, other model); how many were.

        Never raises: a provider failure is logged (once) and the papers are left for next time.
        """
        if not self.enabled or not ids:
            return 0
        async with self._lock:
            todo = await self._in_db(self.embeddings.stale, list(ids))
            done = 0
            for start in range(0, len(todo), BATCH):
                try:
                    done += await self._embed_batch(todo[start : start + BATCH])
                except EmbeddingsUnavailable as exc:
                    self._log_failure(exc, len(todo) - done)
                    break
            return done

    async def embed_history(self, *, limit: int | None = None,
                            progress: Callable[[int], None] | None = None) -> int:
        """Embed stored papers that have no vector, by id, at most `limit`; raises `EmbeddingsUnavailable`.

        Each batch is stored as soon as it comes back, so an interruption loses at most one batch.
        """
        if not self.enabled:
            raise EmbeddingsUnavailable("set llm.embedding_model (and llm.api_key) to embed papers")
        done, after = 0, ""
        async with self._lock:
            while limit is None or done < limit:
                size = BATCH if limit is None else min(BATCH, limit - done)
                batch = await self._in_db(self.embeddings.missing, size, after)
                if not batch:
                    break
                done += await self._embed_batch(batch)
                after = batch[-1][0]
                if progress is not None:
                    progress(len(batch))
        return done

    async def _embed_batch(self, batch: Sequence[tuple[str, str]]) -> int:
        vectors = await self._vectors([text for _, text in batch])
        await self._in_db(self.embeddings.save, [(pid, text, vec) for (pid, text), vec in zip(batch, vectors)])
        if self._failing:
            log.info("embeddings: the provider answers again")
            self._failing = False
        return len(batch)

    async def _vectors(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, from one request (retried)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=wait_exponential(multiplier=self._retry_wait_s, max=max(self._retry_wait_s * 30, 0.001)),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(texts)
        except _Transient as exc:
            raise EmbeddingsUnavailable(f"the embeddings endpoint failed {self.settings.retries + 1} times: "
                                        f"{exc}") from exc.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, texts: list[str]) -> list[list[float]]:
        extra: dict[str, Any] = {}
        if self.settings.embedding_dimensions:
            extra["dimensions"] = self.settings.embedding_dimensions
        self.requests += 1
        try:
            response = await self._client.embeddings.create(model=self.settings.embedding_model, input=texts, **extra)
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:
            raise _Transient(type(exc).__name__) from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise _Transient(f"HTTP {exc.status_code}") from exc
            raise EmbeddingsUnavailable(f"the embeddings endpoint refused the request "
                                        f"(HTTP {exc.status_code}): {exc.message}") from exc
        except (openai.APIError, ValueError, TypeError) as exc:  # a body that is not an embeddings answer
            raise _Transient(f"malformed answer: {type(exc).__name__}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts) or len({len(item.embedding) for item in data}) != 1:
            raise EmbeddingsUnavailable(f"the embeddings endpoint sent {len(data)} vectors of mixed or "
                                        f"missing sizes for {len(texts)} texts")
        usage = getattr(response, "usage", None)
        self.tokens += int(getattr(usage, "total_tokens", 0) or getattr(usage, "prompt_tokens", 0) or 0)
        return [list(item.embedding) for item in data]

    def _log_failure(self, exc: Exception, left: int) -> None:
        if not self._failing:
            log.warning("embeddings: %s; %d papers left without vectors (Related and ranking use TF-IDF for "
                        "them; they are embedded at the next ingest or by `paperboy embed`)", exc, left)
            self._failing = True
        else:
            log.debug("embeddings still failing: %s", exc)
