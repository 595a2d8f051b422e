"""The one polite HTTP client for every arXiv request: RSS, API, HTML and PDF alike.

arXiv's terms ask for at most one request every 3 seconds and one connection at a time, summed
over everything we run, with a descriptive User-Agent. That is only enforceable if every request
goes through one object, so `ArxivHttp` is that object: build one per process and hand it to the
RSS, API and full-text code.

- Spacing: an `asyncio.Lock` plus a monotonic clock. A request starts no sooner than
  `min_interval_s` after the previous one *started*, and the lock is held for the whole request,
  so requests never overlap either.
- One connection: the client is built with `httpx.Limits(max_connections=1)`.
- Retries (tenacity): network errors, 429 and 5xx, with exponential backoff; a `Retry-After`
  header is honoured (capped) and also holds back every other caller of the instance, because
  arXiv asks *us* to slow down, not one request. Other 4xx (404 for a paper without HTML, 400 for
  a malformed API query) are returned at once: the caller knows what they mean.
- Errors: when retries run out, the caller's `SourceError` subclass is raised (`FeedUnavailable`,
  `ApiUnavailable`, `FullTextUnavailable`), so nobody outside catches httpx's types.
- Redirects stay on arXiv: one is followed (at most `MAX_REDIRECTS`) only to a host in
  `allowed_hosts` (the hosts of the configured arXiv URLs); a redirect anywhere else is refused
  with the caller's error, and nothing is fetched from that host.
- Bodies are bounded: with `max_bytes`, the answer is streamed and refused (`AnswerTooLarge`) as
  soon as it grows past the limit, so a 300 MB page never sits in memory (`fulltext.max_bytes`).

The clock and the sleep function are parameters so tests can check a 3-second spacing instantly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from digest.calendar import parse_rfc822
from digest.errors import AnswerTooLarge, SourceError

__all__ = ["MAX_REDIRECTS", "ArxivHttp", "HttpSettings", "arxiv_hosts"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MAX_REDIRECTS = 5
# arXiv's own hosts, always allowed as redirect targets besides the configured ones.
_ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org", "rss.arxiv.org", "browse.arxiv.org"})


# Worth another try: the network or the server hiccuped. A bad URL or a proxy misconfiguration is not.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


class HttpSettings(Protocol):
    """The keys `ArxivHttp` reads; `bot.config.ArxivSettings` satisfies it (digest never imports bot)."""

    min_interval_s: float
    user_agent: str
    timeout_s: float
    retries: int


class _Refused(Exception):
    """An answer we will not take (a redirect off arXiv); not retried."""


class _RetryableStatus(Exception):
    """A 429 or 5xx answer: worth another try, maybe after the server's Retry-After."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


class ArxivHttp:
    """Serialises, spaces and retries every arXiv request of the process."""

    def __init__(
        self,
        *,
        user_agent: str,
        min_interval_s: float = 3.0,
        timeout_s: float = 30.0,
        retries: int = 4,
        client: httpx.AsyncClient | None = None,
        backoff_s: float = 2.0,
        backoff_max_s: float = 60.0,
        retry_after_cap_s: float = 120.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        """`retries` counts the tries after the first; a passed-in `client` is not closed by us.

        Redirects are followed to arXiv's own hosts and to `allowed_hosts` (host or host:port).
        """
        if not user_agent.strip():
            raise ValueError("arXiv asks for a descriptive User-Agent; user_agent is empty")
        self.user_agent = user_agent
        self.min_interval_s = max(0.0, min_interval_s)
        self.retries = max(0, retries)
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._retry_after_cap_s = retry_after_cap_s
        self._clock = clock
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client if client is not None else _make_client(user_agent, timeout_s)
        self.allowed_hosts = _ARXIV_HOSTS | {h.lower() for h in allowed_hosts}
        self._lock = asyncio.Lock()
        self._last_start: float | None = None
        self._not_before = float("-inf")

    @classmethod
    def from_settings(cls, settings: HttpSettings, **kwargs: Any) -> ArxivHttp:
        """Build from `bot.config.ArxivSettings` (or anything with the same four keys).

        The hosts of its arXiv URLs (`rss_url`, `api_url`, ...) are the allowed redirect targets.
        """
        kwargs.setdefault("allowed_hosts", arxiv_hosts(settings))
        return cls(
            user_agent=settings.user_agent,
            min_interval_s=settings.min_interval_s,
            timeout_s=settings.timeout_s,
            retries=settings.retries,
            **kwargs,
        )

    async def __aenter__(self) -> ArxivHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client if we created it."""
        if self._owns_client:
            await self._client.aclose()

    async def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        error: type[SourceError] = SourceError,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """GET `url`, politely; any answer but 429/5xx is returned, status unchecked.

        Raises `error` (a `SourceError` subclass of the caller's choosing) once the retries for
        network errors, 429 and 5xx are spent, and at once for a redirect off arXiv. A body over
        `max_bytes` (when given) raises `AnswerTooLarge`.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait_before_retry,
            retry=retry_if_exception_type((*_RETRYABLE_ERRORS, _RetryableStatus)),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(url, params, max_bytes)
        except _Refused as exc:
            raise error(str(exc)) from None
        except _RetryableStatus as exc:
            raise error(
                f"arXiv answered HTTP {exc.response.status_code} for {url} "
                f"{self.retries + 1} times; giving up for now"
            ) from None
        except httpx.HTTPError as exc:
            raise error(f"could not reach arXiv at {url}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover

    async def _attempt(self, url: str, params: Mapping[str, str | int] | None,
                       max_bytes: int | None) -> httpx.Response:
        """One request in its turn; 429 and 5xx become `_RetryableStatus`."""
        response = await self._send_in_turn(url, params, max_bytes)
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                retry_after = min(retry_after, self._retry_after_cap_s)
                self._not_before = max(self._not_before, self._clock() + retry_after)
            raise _RetryableStatus(response, retry_after)
        return response

    async def _send_in_turn(self, url: str, params: Mapping[str, str | int] | None,
                            max_bytes: int | None) -> httpx.Response:
        """Wait for our slot, then send (following arXiv-only redirects) while holding the lock."""
        async with self._lock:
            await self._wait_for_slot()
            self._last_start = self._clock()
            request = self._client.build_request("GET", url, params=params, headers={"User-Agent": self.user_agent})
            for _ in range(MAX_REDIRECTS + 1):
                response = await self._read(request, max_bytes)
                location = response.headers.get("Location")
                if not (response.is_redirect and location):
                    return response
                target = request.url.join(location)
                if not self._may_follow(target):
                    raise _Refused(f"arXiv's answer for {url} redirects off arXiv, to {target.host!r}; not followed")
                request = self._client.build_request("GET", target, headers={"User-Agent": self.user_agent})
            raise _Refused(f"more than {MAX_REDIRECTS} redirects for {url}")

    def _may_follow(self, target: httpx.URL) -> bool:
        host = (target.host or "").lower()
        with_port = f"{host}:{target.port}" if target.port else host
        allowed = with_port in self.allowed_hosts or (target.port is None and host in self.allowed_hosts)
        return target.scheme in ("http", "https") and allowed

    async def _read(self, request: httpx.Request, max_bytes: int | None) -> httpx.Response:
        """Send one request and read its body, refusing it as soon as it passes `max_bytes`."""
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            if max_bytes is None:
                await response.aread()
                return response
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise AnswerTooLarge(f"{request.url} is {int(declared):,} bytes, over the limit of {max_bytes:,}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise AnswerTooLarge(f"{request.url} is over the limit of {max_bytes:,} bytes; download stopped")
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    async def _wait_for_slot(self) -> None:
        """Sleep until `min_interval_s` after the last start and past any Retry-After."""
        earliest = self._not_before
        if self._last_start is not None:
            earliest = max(earliest, self._last_start + self.min_interval_s)
        delay = earliest - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _wait_before_retry(self, state: RetryCallState) -> float:
        """Retry-After when arXiv gave one, else exponential backoff."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
            return exc.retry_after
        return min(self._backoff_max_s, self._backoff_s * 2 ** (state.attempt_number - 1))


def _make_client(user_agent: str, timeout_s: float) -> httpx.AsyncClient:
    """A client that can only ever hold one connection to arXiv."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"User-Agent": user_agent},
        follow_redirects=False,  # `ArxivHttp` follows redirects itself, to arXiv hosts only
    )


def arxiv_hosts(settings: Any) -> frozenset[str]:
    """The `host[:port]` of every arXiv URL in the settings (those of its keys ending in `_url`)."""
    hosts: set[str] = set()
    for name in ("rss_url", "api_url", "html_url", "pdf_url", "abs_url"):
        parts = urlsplit(getattr(settings, name, "") or "")
        if parts.hostname:
            hosts.add(f"{parts.hostname.lower()}:{parts.port}" if parts.port else parts.hostname.lower())
    return frozenset(hosts)


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = parse_rfc822(value)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds()) if when else None


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("arXiv request failed (%s), try %d; retrying in %.1fs", exc, state.attempt_number, wait)
