"""Start and stop for the fake servers: each listens on a free loopback port, in a thread of its own.

`ThreadedHttpFake` is the base of the fakes built on `http.server` (arXiv, OpenAI, OAI-PMH): a
subclass says how to answer (`handler_class`) and gets `start()`/`stop()`, `with fake:` and
`origin`. `serve_aiohttp` is the same start for the fakes built on aiohttp (Telegram, Discord),
which need a WebSocket or many concurrent long requests.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from aiohttp import web

__all__ = ["ThreadedHttpFake", "serve_aiohttp"]

LOOPBACK = "127.0.0.1"


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a download stopped at its size limit) is not an error here."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class ThreadedHttpFake:
    """A fake HTTP server on `http.server`; use as a context manager or call `start()`/`stop()`."""

    thread_name = "fake-server"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler that answers for this fake."""
        raise NotImplementedError

    def start(self) -> Self:
        server = _QuietServer((LOOPBACK, 0), self.handler_class())
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>` of the running server."""
        assert self._server is not None, f"start() the {type(self).__name__} first"
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"


async def serve_aiohttp(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """Serve `app` on a free loopback port; returns the runner (`await runner.cleanup()` stops it) and the port."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0, backlog=1024)
    await site.start()
    return runner, runner.addresses[0][1]
