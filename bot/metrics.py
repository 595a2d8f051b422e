"""Prometheus metrics of one paperboy process, and the small HTTP server for /metrics and /healthz.

The counters and histograms live in prometheus-client's default registry, so any module records
into them without wiring (`metrics.MESSAGES_SENT.labels("tg").inc()`). Gauges that describe the
database (outbox depth) are read when Prometheus scrapes, by a collector `serve` installs, so
every process reports the same fleet-wide depth. `paperboy run` serves them on `metrics.port`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MESSAGES_SENT = Counter("paperboy_messages_sent", "Outbox messages delivered, per platform", ["platform"])
FLOODS = Counter("paperboy_flood_429", "429 (flood control) answers met, per platform", ["platform"])
SEND_FAILURES = Counter("paperboy_send_failures", "Outbox sends that failed and were rescheduled or dropped",
                        ["platform", "kind"])
FETCH_FAILURES = Counter("paperboy_fetch_failures", "arXiv feed fetches that failed")
LLM_TOKENS = Counter("paperboy_llm_tokens", "LLM tokens used, by kind", ["kind"])
LLM_LATENCY = Histogram("paperboy_llm_latency_seconds", "Duration of one LLM generation",
                        buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160))
DIGEST_BUILD = Histogram("paperboy_digest_build_seconds", "Building every due chat's digest in one sweep",
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))


class OutboxDepth(Collector):
    """`paperboy_outbox_depth{status}` and the age of the oldest pending row, read at scrape time."""

    def __init__(self, read: Callable[[], dict]) -> None:
        self.read = read

    def collect(self):  # type: ignore[no-untyped-def]
        depth = GaugeMetricFamily("paperboy_outbox_depth", "Outbox rows by status", labels=["status"])
        oldest = GaugeMetricFamily("paperboy_outbox_oldest_pending_seconds", "Age of the oldest pending outbox row")
        try:
            outbox = self.read()
        except Exception:  # the database is down: /healthz says so; metrics stay scrapeable
            log.warning("could not read the outbox for /metrics", exc_info=True)
            return
        for status, count in outbox["by_status"].items():
            depth.add_metric([status], count)
        oldest.add_metric([], outbox.get("oldest_pending_age_s") or 0.0)
        yield depth
        yield oldest


class _Handler(BaseHTTPRequestHandler):
    health: Callable[[], dict] = staticmethod(lambda: {"ok": True})  # type: ignore[assignment]

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/metrics":
            self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif self.path.split("?")[0] == "/healthz":
            report = type(self).health()
            self._answer(200 if report.get("ok") else 503, json.dumps(report, default=str).encode(), "application/json")
        else:
            self._answer(404, b"not found\n", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # scrapes every few seconds: not worth a log line
        pass


_collector: OutboxDepth | None = None


def serve(port: int, *, health: Callable[[], dict], outbox: Callable[[], dict],
          host: str = "0.0.0.0") -> Callable[[], None]:
    """Serve /metrics and /healthz in a daemon thread; returns the function that stops the server."""
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
    _collector = OutboxDepth(outbox)
    REGISTRY.register(_collector)
    handler = type("HealthHandler", (_Handler,), {"health": staticmethod(health)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, server.server_address[1])

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


def age_seconds(moment: dt.datetime | None, now: dt.datetime) -> float | None:
    """Seconds from a stored naive-UTC moment to `now` (aware)."""
    if moment is None:
        return None
    return max(0.0, (now.replace(tzinfo=None) - moment).total_seconds())
