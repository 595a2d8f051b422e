"""What the bot is doing, for its operator: `paperboy status [--json]`, `/healthz`, and the error log.

Everything is read from the database, so `paperboy status` run anywhere shows the whole fleet:
the last ingest per category, the next announcement, the outbox, paused chats, today's LLM use,
the scheduler lease and the last errors any process logged (`ErrorRecorder`).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import traceback

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.lease import SCHEDULER_LEASE, lease_state
from bot.schema import RecentErrorRow
from digest.calendar import announcement_time, latest_announcement_day, next_announcement_day
from digest.schema import MailingRow, SubscriptionRow, as_stored

KEEP_ERRORS = 200
_RECORDED_LOGGERS = ("paperboy", "bot", "digest", "adapters")


class ErrorRecorder(logging.Handler):
    """A logging handler that keeps paperboy's warnings and errors in `recent_errors` (newest 200).

    Records are written by a background thread: a warning logged inside an open transaction (or on
    the event loop) never waits for the database. A failure to record is dropped, never logged, so
    a database outage cannot loop through this handler.
    """

    def __init__(self, sessions: sessionmaker[Session], level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.sessions = sessions
        self._queue: queue.SimpleQueue[tuple[dt.datetime, str, str] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_forever, name="error-recorder", daemon=True)
        self._writer.start()
        self._written = 0

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(_RECORDED_LOGGERS) or threading.current_thread() is self._writer:
            return
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += " | " + "".join(traceback.format_exception_only(record.exc_info[1])).strip()
        self._queue.put((as_stored(dt.datetime.now(dt.UTC)), record.name[:120],
                         f"{record.levelname}: {message}"[:2000]))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything logged so far is written (tests, shutdown)."""
        done = self._flushed = threading.Event()
        self._queue.put(None)
        done.wait(timeout)

    def _write_forever(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                getattr(self, "_flushed", threading.Event()).set()
                continue
            at, source, message = item
            try:
                with self.sessions.begin() as session:
                    session.add(RecentErrorRow(at=at, source=source, message=message))
                    self._written += 1
                    if self._written % 50 == 0:
                        newest = session.scalar(select(func.max(RecentErrorRow.id))) or 0
                        session.execute(delete(RecentErrorRow).where(RecentErrorRow.id <= newest - KEEP_ERRORS))
            except Exception:
                pass


def health(app) -> dict:  # type: ignore[no-untyped-def]
    """Ready when the database answers and the scheduler lease is fresh (some scheduler is alive)."""
    report: dict = {"ok": False, "database": False, "scheduler_lease": None}
    try:
        with app.sessions() as session:
            session.execute(text("SELECT 1"))
        report["database"] = True
        report["scheduler_lease"] = lease_state(app.sessions, SCHEDULER_LEASE, app.clock())
    except Exception as exc:
        report["error"] = type(exc).__name__
        return report
    report["ok"] = bool(report["scheduler_lease"] and report["scheduler_lease"]["fresh"])
    return report


def collect(app, errors: int = 10) -> dict:  # type: ignore[no-untyped-def]
    """The whole status report as plain data (what `--json` prints)."""
    now = app.clock()
    return {
        "now": now.isoformat(),
        "ingest": last_ingest_per_category(app.sessions),
        "next_announcement": next_announcement(now),
        "outbox": app.outbox.depth(),
        "paused_chats": paused_chats(app.sessions),
        "llm_today": llm_today(app.sessions, now),
        "scheduler_lease": lease_state(app.sessions, SCHEDULER_LEASE, now),
        "last_errors": last_errors(app.sessions, errors),
    }


def last_ingest_per_category(sessions: sessionmaker[Session]) -> dict[str, dict]:
    """For each category ever fetched: the newest attempt's day, result, papers and error."""
    newest: dict[str, dict] = {}
    with sessions() as session:
        rows = session.scalars(select(MailingRow).order_by(MailingRow.fetched_at))
        for row in rows:
            for category in row.feed.split("+"):
                newest[category] = {"day": row.day.isoformat(), "status": row.status, "items": row.items,
                                    "error": row.error, "fetched_at": row.fetched_at.isoformat()}
    return dict(sorted(newest.items()))


def next_announcement(now: dt.datetime) -> dict:
    latest = latest_announcement_day(now)
    day = next_announcement_day(latest)
    return {"day": day.isoformat(), "at": announcement_time(day).astimezone(dt.UTC).isoformat()}


def paused_chats(sessions: sessionmaker[Session]) -> list[dict]:
    with sessions() as session:
        columns = (SubscriptionRow.chat_id, SubscriptionRow.paused_reason, SubscriptionRow.updated_at)
        rows = session.execute(select(*columns).where(SubscriptionRow.paused.is_(True))
                               .order_by(SubscriptionRow.updated_at.desc()))
        return [{"chat_id": r.chat_id, "reason": r.paused_reason, "since": r.updated_at.isoformat()} for r in rows]


def llm_today(sessions: sessionmaker[Session], now: dt.datetime) -> dict:
    from bot.assistant.schema import UsageRow

    today = now.astimezone(dt.UTC).date()
    with sessions() as session:
        row = session.execute(select(
            func.coalesce(func.sum(UsageRow.calls), 0), func.coalesce(func.sum(UsageRow.prompt_tokens), 0),
            func.coalesce(func.sum(UsageRow.completion_tokens), 0),
        ).where(UsageRow.day == today)).one()
    return {"day": today.isoformat(), "calls": int(row[0]), "prompt_tokens": int(row[1]),
            "completion_tokens": int(row[2])}


def last_errors(sessions: sessionmaker[Session], limit: int) -> list[dict]:
    with sessions() as session:
        rows = session.scalars(select(RecentErrorRow).order_by(RecentErrorRow.id.desc()).limit(limit))
        return [{"at": r.at.isoformat(), "source": r.source, "message": r.message} for r in rows]


def render_text(report: dict) -> str:
    """The report for a terminal: one section per question an operator asks."""
    lines = [f"paperboy status at {report['now']}", ""]
    lease = report["scheduler_lease"]
    lines.append("Scheduler: " + (f"{lease['holder']} (lease until {lease['expires_at']}, "
                                  f"{'fresh' if lease['fresh'] else 'EXPIRED'})" if lease else "none has run yet"))
    nxt = report["next_announcement"]
    lines.append(f"Next announcement: {nxt['day']} (arXiv announces at {nxt['at']})")
    lines += ["", "Last ingest per category:"]
    if not report["ingest"]:
        lines.append("  nothing ingested yet")
    for category, info in report["ingest"].items():
        error = f"  error: {info['error']}" if info["error"] else ""
        lines.append(f"  {category:<14} {info['day']}  {info['status']:<9} {info['items']:>5} papers  "
                     f"(fetched {info['fetched_at']}){error}")
    outbox = report["outbox"]
    lines += ["", "Outbox: " + ", ".join(f"{n} {status}" for status, n in outbox["by_status"].items())]
    oldest = outbox["oldest_pending"]
    if oldest:
        lines.append(f"  oldest waiting: {oldest['key']} since {oldest['created_at']} "
                     f"({outbox['oldest_pending_age_s']:.0f} s, {oldest['attempts']} attempts)"
                     + (f", last error: {oldest['error']}" if oldest["error"] else ""))
    paused = report["paused_chats"]
    lines += ["", f"Chats paused as unreachable: {len(paused)}"]
    lines += [f"  {p['chat_id']}: {p['reason']} (since {p['since']})" for p in paused[:20]]
    llm = report["llm_today"]
    lines += ["", f"LLM today ({llm['day']}): {llm['calls']} calls, {llm['prompt_tokens']} prompt + "
                  f"{llm['completion_tokens']} completion tokens"]
    lines += ["", "Last errors:" if report["last_errors"] else "Last errors: none"]
    lines += [f"  {e['at']} {e['source']}: {e['message'][:300]}" for e in report["last_errors"]]
    return "\n".join(lines)
