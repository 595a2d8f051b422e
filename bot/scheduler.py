"""The one APScheduler of the process: ingest after each announcement, deliver, flush the outbox.

All three jobs are idempotent checks ("is anything due?"), so a restart, a late feed or a missed
run just means the next run does the work. Jobs coalesce, never overlap, and have a generous
`misfire_grace_time` (APScheduler's default of 1 s would silently skip them after a pause).
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery import deliver_due, ingest_if_due

log = logging.getLogger(__name__)

DELIVERY_SWEEP_S = 60


def build_scheduler(app, *, flush_outbox: bool = True) -> AsyncIOScheduler:  # type: ignore[no-untyped-def]
    """A scheduler with paperboy's jobs; start it only once the adapters are ready.

    `paperboy run` passes flush_outbox=False: there the sender role flushes the outbox, in every
    sender process, while these jobs run in the one process holding the scheduler lease.
    """
    schedule = app.settings.schedule
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": schedule.misfire_grace_s},
    )
    now = dt.datetime.now(dt.timezone.utc)
    # arXiv announces at 20:00 New York time, Sunday to Thursday; the RSS feed dated the next day
    # (Monday to Friday) is rebuilt around midnight New York time.
    delay = min(schedule.ingest_delay_min, 23 * 60)
    scheduler.add_job(_run, CronTrigger(day_of_week="mon-fri", hour=delay // 60, minute=delay % 60,
                                        timezone="America/New_York"),
                      args=[ingest_if_due, app], id="ingest-announcement", name="ingest after the announcement")
    scheduler.add_job(_run, IntervalTrigger(minutes=schedule.ingest_retry_min), args=[ingest_if_due, app],
                      id="ingest-retry", name="retry a late or failed feed", next_run_time=now)
    scheduler.add_job(_run, IntervalTrigger(seconds=DELIVERY_SWEEP_S), args=[deliver_due, app],
                      id="deliver", name="deliver due digests", next_run_time=now + dt.timedelta(seconds=5))
    if flush_outbox:
        scheduler.add_job(_run, IntervalTrigger(seconds=schedule.outbox_interval_s), args=[_flush, app],
                          id="outbox", name="flush the outbox")
    return scheduler


async def _flush(app) -> int:  # type: ignore[no-untyped-def]
    return await app.deliver_pending()


async def _run(job, app) -> None:  # type: ignore[no-untyped-def]
    """Run a job and log its failure; a failing job must never stop the scheduler."""
    try:
        await job(app)
    except Exception:
        log.exception("scheduled job %s failed", getattr(job, "__name__", job))
