"""A fake OpenAI-compatible server: a real HTTP server on 127.0.0.1 for the real `openai` SDK.

The SDK (3.x) talks through httpx2, so transport mocks cannot see it; this server fakes the boundary
instead. It serves `POST /v1/chat/completions`, plain or streamed (`stream: true` -> SSE chunks
`data: {...}`, then `data: [DONE]`, usage in a last chunk when `stream_options.include_usage`), and:

- `answer(body) -> str` decides the reply (default: echoes the last user message's first words,
  and answers a request that lists questions as "[Qn] question" lines with one "[Qn] ..." answer
  each, the way a model follows the FAQ prompt);
- `calls` counts requests, `requests` keeps every request body (to check roles and messages),
  `max_in_flight` the most requests served at once, `first_token_at[i]` when request i's first
  text chunk went out (monotonic clock, for latency benchmarks);
- `script(Fault(...), ...)` makes the next requests fail: an HTTP status (500, 429), a delay before
  answering (to trigger client timeouts), an error event in the middle of a stream, or a stream
  cut off without a finish reason;
- `chunk_chars` / `chunk_delay_s` set how the answer is streamed (tokens at a realistic rate);
  `reasoning` is streamed before it as `reasoning_content` deltas, as reasoning models do;
- usage counts ~4 characters a token, and reports as `cached_tokens` the longest prefix of
  messages it has seen before, the way providers' prompt caches do.

It also serves `POST /v1/embeddings` with deterministic vectors (`fake_embedding`): a hashed bag of
words projected into `dimensions` (default `embedding_dim`) and normalised, so texts that share
words get close vectors and the same text always gets the same vector. `input` may be a string or
a list; `encoding_format` "base64" (what the openai SDK asks for by default: little-endian
float32) or "float". `embedded` keeps every text embedded, in order; faults apply here too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from tests.fakes.servers import ThreadedHttpFake

__all__ = ["FakeOpenAI", "Fault", "echo_answer", "fake_embedding"]

_WORD = re.compile(r"[a-z0-9]+")


def fake_embedding(text: str, dimensions: int) -> np.ndarray:
    """A unit vector for `text`: each word adds +-1 to three dimensions chosen by its hash."""
    vector = np.zeros(dimensions, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=12).digest()
        for i in range(3):
            slot = int.from_bytes(digest[4 * i : 4 * i + 4], "little")
            vector[slot % dimensions] += 1.0 if slot & 0x80000000 else -1.0
    norm = np.linalg.norm(vector)
    if norm == 0:
        vector[0] = 1.0
        return vector.astype(np.float32)
    return (vector / norm).astype(np.float32)


@dataclass
class Fault:
    """One scripted misbehaviour for the next request.

    kind: "status" (answer `status` with an error body), "slow" (wait `delay_s`, then answer
    normally), "error_mid_stream" (stream part of the answer, then an error event), "cut"
    (stream part of the answer, then close without finish_reason or [DONE]), "malformed" (stream
    part of the answer, then a chunk that is not JSON, then keep the connection open), "endless"
    (stream text forever, ignoring max_tokens, one chunk every `delay_s`, until the client hangs
    up), "html" (a 200 answer that is an HTML page, as a captive portal or proxy sends), "empty"
    (a stream whose chunks have no choices and that ends without a finish reason), "ok" (behave:
    lets a script fail the n-th request only).
    """

    kind: str = "status"
    status: int = 500
    delay_s: float = 0.0


_LISTED_QUESTION = re.compile(r"^\[Q(\d)\] (.+)$", re.M)


def echo_answer(body: dict[str, Any]) -> str:
    """The default answer: names the question it was asked, so tests can tell turns apart.

    A request listing questions as "[Qn] question" lines (the FAQ prompt) gets one answer per
    question, each after its marker, in one reply.
    """
    last = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
    content = last.get("content", "")
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    listed = _LISTED_QUESTION.findall(str(content))
    if len(listed) > 1:
        return "\n\n".join(f"[Q{n}] Answer about: {question}" for n, question in listed)
    words = " ".join(str(content).split()[:12])
    return f"Answer about: {words}"


class FakeOpenAI(ThreadedHttpFake):
    """A local chat-completions server; use as a context manager or start()/stop()."""

    thread_name = "fake-openai"

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], str] = echo_answer,
        *,
        chunk_chars: int = 6,
        chunk_delay_s: float = 0.0,
        first_token_delay_s: float = 0.0,
        reasoning: str = "",
        embedding_dim: int = 64,
    ) -> None:
        self.answer = answer
        self.embedding_dim = embedding_dim
        self.embedded: list[str] = []  # every text /v1/embeddings was asked to embed, in order
        self.reasoning = reasoning  # streamed first as `reasoning_content` deltas, as DeepSeek/Kimi do
        self.chunk_chars = chunk_chars
        self.chunk_delay_s = chunk_delay_s
        self.first_token_delay_s = first_token_delay_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.calls = 0
        self.first_token_at: dict[int, float] = {}  # request index -> monotonic time its first text went out
        self.max_in_flight = 0
        self._in_flight = 0
        self._faults: deque[Fault] = deque()
        self._seen_prefixes: set[str] = set()
        self._lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    # --- test controls --------------------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Make the next len(faults) requests misbehave, in order."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests and counts (the prompt-cache memory too)."""
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self.calls = 0
            self.embedded.clear()
            self.first_token_at.clear()
            self.max_in_flight = 0
            self._seen_prefixes.clear()

    # --- what the handler calls -----------------------------------------------------------------

    def _begin(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Fault | None, dict[str, int]]:
        with self._lock:
            index = self.calls
            self.calls += 1
            self.requests.append(body)
            self.headers.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            fault = self._faults.popleft() if self._faults else None
            usage_base = self._prompt_usage(body.get("messages", []))
        return index, fault, usage_base

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _prompt_usage(self, messages: list[dict[str, Any]]) -> dict[str, int]:
        """Prompt tokens, and how many of them a prefix cache would have seen before."""
        total = 0
        cached = 0
        digest = hashlib.sha256()
        for message in messages:
            text = json.dumps(message, sort_keys=True, ensure_ascii=False)
            total += _tokens(str(message.get("content", "")))
            digest.update(text.encode())
            key = digest.hexdigest()
            if key in self._seen_prefixes and cached == total - _tokens(str(message.get("content", ""))):
                cached = total
            self._seen_prefixes.add(key)
        return {"prompt_tokens": total, "cached_tokens": cached}


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes: simplest SSE

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") == "/v1/embeddings":
                self._embeddings(raw)
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                return
            index, fault, usage = fake._begin(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                self._answer(index, body, fault, usage)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)
            finally:
                fake._end()

        def _embeddings(self, raw: bytes) -> None:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                return
            _, fault, _ = fake._begin(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                self._embed(body, fault)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                fake._end()

        def _embed(self, body: dict[str, Any], fault: Fault | None) -> None:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay_s)
            if fault is not None and fault.kind == "status":
                self._json(fault.status, {"error": {"message": f"injected HTTP {fault.status}", "type": "server_error"}})
                return
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not body.get("model") or not isinstance(texts, list) or not texts \
                    or not all(isinstance(t, str) and t for t in texts):
                self._json(400, {"error": {"message": "model and a non-empty input are required",
                                           "type": "invalid_request_error"}})
                return
            dimensions = int(body.get("dimensions") or fake.embedding_dim)
            fmt = body.get("encoding_format") or "float"
            with fake._lock:
                fake.embedded.extend(texts)
            data = []
            for i, text in enumerate(texts):
                vector = fake_embedding(text, dimensions)
                encoded: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode() if fmt == "base64"
                                else vector.tolist())
                data.append({"object": "embedding", "index": i, "embedding": encoded})
            tokens = sum(_tokens(t) for t in texts)
            self._json(200, {"object": "list", "data": data, "model": body["model"],
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

        def _answer(self, index: int, body: dict[str, Any], fault: Fault | None, usage: dict[str, int]) -> None:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay_s)
            if fault is not None and fault.kind == "endless":
                self._endless(body, fault)
                return
            if fault is not None and fault.kind == "html":
                page = b"<html><body><h1>Proxy error</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            if fault is not None and fault.kind == "empty":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self._event(_chunk("chatcmpl-empty", body.get("model", "fake"), None))
                self.wfile.write(b"data: [DONE]\n\n")
                return
            if fault is not None and fault.kind == "status":
                self._json(fault.status, {"error": {"message": f"injected HTTP {fault.status}", "type": "server_error"}})
                return
            text = fake.answer(body)
            completion = _tokens(text)
            full_usage = {
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": completion,
                "total_tokens": usage["prompt_tokens"] + completion,
                "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
            }
            if not body.get("stream"):
                self._json(200, _completion(body, text, full_usage))
                return
            self._stream(index, body, text, fault, full_usage)

        def _stream(self, index: int, body: dict[str, Any], text: str, fault: Fault | None, usage: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            cid = f"chatcmpl-{fake.calls}"
            model = body.get("model", "fake")
            self._event(_chunk(cid, model, {"role": "assistant", "content": ""}))
            if fake.first_token_delay_s:
                time.sleep(fake.first_token_delay_s)
            for i in range(0, len(fake.reasoning), fake.chunk_chars):
                self._event(_chunk(cid, model, {"reasoning_content": fake.reasoning[i : i + fake.chunk_chars]}))
            pieces = [text[i : i + fake.chunk_chars] for i in range(0, len(text), fake.chunk_chars)] or [""]
            broken = fault is not None and fault.kind in {"error_mid_stream", "cut", "malformed"}
            if broken:
                pieces = pieces[: max(1, len(pieces) // 2)]
            for n, piece in enumerate(pieces):
                if n and fake.chunk_delay_s:
                    time.sleep(fake.chunk_delay_s)
                self._event(_chunk(cid, model, {"content": piece}))
                if n == 0:
                    fake.first_token_at.setdefault(index, time.monotonic())
            if broken:
                if fault.kind == "error_mid_stream":  # type: ignore[union-attr]
                    self._event({"error": {"message": "injected failure mid-stream", "type": "server_error"}})
                if fault.kind == "malformed":  # type: ignore[union-attr]
                    self.wfile.write(b'data: {"id": "x", "choices": [{"delta": {"content": "unterminated\n\n')
                    self.wfile.flush()
                    time.sleep(0.5)  # and no end of stream for a while, as the proxy that found it did
                return  # "cut": the connection closes with no finish_reason and no [DONE]
            self._event(_chunk(cid, model, {}, finish="stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                final = _chunk(cid, model, None)
                final["usage"] = usage
                self._event(final)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _endless(self, body: dict[str, Any], fault: Fault) -> None:
            """Text forever, ignoring max_tokens, until the client closes the connection."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            model = body.get("model", "fake")
            n = 0
            while fake.running:
                self._event(_chunk("chatcmpl-endless", model, {"content": f"word{n} "}))
                n += 1
                if fault.delay_s:
                    time.sleep(fault.delay_s)

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return _Handler


def _chunk(cid: str, model: str, delta: dict[str, Any] | None, *, finish: str | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model, "choices": choices}


def _completion(body: dict[str, Any], text: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}],
        "usage": usage,
    }
