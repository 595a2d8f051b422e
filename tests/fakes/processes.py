"""Run `paperboy` as real separate processes in tests: start, watch, SIGKILL, stop.

Each process gets its settings the way an operator gives them (PAPERBOY_<SECTION>__<KEY>
variables), and its output goes to a log file in the test's folder for when an assertion fails.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def arxiv_env(fake_arxiv) -> dict[str, str]:  # type: ignore[no-untyped-def]
    base = fake_arxiv.base_url
    return {"PAPERBOY_ARXIV__RSS_URL": f"{base}/rss", "PAPERBOY_ARXIV__API_URL": f"{base}/api/query",
            "PAPERBOY_ARXIV__ABS_URL": f"{base}/abs", "PAPERBOY_ARXIV__PDF_URL": f"{base}/pdf",
            "PAPERBOY_ARXIV__HTML_URL": f"{base}/html", "PAPERBOY_ARXIV__MIN_INTERVAL_S": "0",
            "PAPERBOY_ARXIV__RETRIES": "0"}


class PaperboyProcess:
    """`paperboy <args>` in its own process, with `env` on top of a clean PAPERBOY_-free environment."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self, extra_env: dict[str, str] | None = None) -> PaperboyProcess:
        log = open(self.log_path, "ab")
        log.write(f"\n--- start {' '.join(self.args)} {extra_env or ''}\n".encode())
        log.flush()
        # Run beside its log (a test's temporary directory), so whatever it writes relative to its
        # working directory (./paperboy-related on PostgreSQL) never lands in the repository.
        env = self.env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *self.args], cwd=self.log_path.parent,
                                     env=env | (extra_env or {}), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a power cut or the OOM killer."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop); returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def current_announcement() -> tuple[dt.date, str]:
    """The announcement day a `paperboy run` started now (on the real clock) delivers, and its feed date."""
    from digest.calendar import NEW_YORK, RSS_DELAY, latest_announcement_day

    day = latest_announcement_day(dt.datetime.now(dt.UTC), delay=RSS_DELAY)
    return day, email.utils.format_datetime(dt.datetime.combine(day, dt.time(0, 0), tzinfo=NEW_YORK))


async def seed_due_chats(url: str, fake_arxiv, chats: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The current announcement stored (one cs.CL paper) and `chats` following cs.CL whose delivery time
    for it has passed: a `paperboy run` started now delivers it at once."""
    from bot.cli import build_app
    from bot.config import Settings
    from bot.delivery import ingest
    from digest.calendar import feed_time
    from digest.subscriptions import Subscription
    from tests.fakes.fake_arxiv import rss_feed, rss_item

    day, pub = current_announcement()
    # Delivered at the feed's own time (00:00 or 01:00 UTC by the season): due at once, at any hour.
    at = feed_time(day).astimezone(dt.UTC)
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [
        rss_item("2606.00001", "Crash-safe fan-out", categories=("cs.CL",), authors="Ada Lovelace", pub_date=pub),
    ], pub_date=pub)
    app = build_app(Settings(arxiv=fake_arxiv.settings()).replace("database", url=url))
    try:
        await ingest(app, day, "cs.CL")
        for chat in chats:
            kind = "group" if chat.startswith("tg:-") else "private"
            app.subscriptions.save(Subscription(chat_id=chat, chat_kind=kind, categories="cs.CL",
                                                delivery_time=f"{at:%H:%M}", created_at=dt.datetime(2026, 1, 1)))
    finally:
        await app.aclose()
