"""The one APScheduler of the process: ingest after each announcement, deliver, flush the outbox.

All three jobs are idempotent checks ("is anything due?"), so a restart, a late feed or a missed
run just means the next run does the work. At start-up the ingest check runs at once, which is
the catch-up after downtime or a late start. Jobs coalesce, never overlap, and have a generous
`misfire_grace_time` (APScheduler's default of 1 s would silently skip them after a pause).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery import deliver_due, ingest_if_due

log = logging.getLogger(__name__)

INGEST_CHECK_S = 60
DELIVERY_SWEEP_S = 60


@dataclass(frozen=True)
class Job:
    """One periodic job: what it runs and how often (the week simulation ticks the same list)."""

    id: str
    name: str
    run: Callable[[Any], Awaitable[Any]]
    every_s: float
    first_after_s: float = 0.0


def jobs(app, *, flush_outbox: bool = True) -> list[Job]:  # type: ignore[no-untyped-def]
    """paperboy's periodic jobs, in the order they run when due at the same moment.

    Ingest first: at start-up and every minute it makes sure the latest announcement of every
    followed category is in (a cheap check when it is), fetching what is missing within the
    backoff; then delivery, which sends only days that are in; then the outbox (unless
    `flush_outbox` is False: under `paperboy run` every sender process flushes it, while these jobs
    run in the one process holding the scheduler lease).
    """
    periodic = [
        Job("ingest", "make sure the latest announcement is in", ingest_if_due, INGEST_CHECK_S),
        Job("deliver", "deliver due digests", deliver_due, DELIVERY_SWEEP_S, first_after_s=5),
        Job("outbox", "flush the outbox", _flush, app.settings.schedule.outbox_interval_s,
            first_after_s=app.settings.schedule.outbox_interval_s),
    ]
    return periodic if flush_outbox else [job for job in periodic if job.id != "outbox"]


def build_scheduler(app, *, flush_outbox: bool = True) -> AsyncIOScheduler:  # type: ignore[no-untyped-def]
    """A scheduler with paperboy's jobs; start it only once the adapters are ready."""
    schedule = app.settings.schedule
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": schedule.misfire_grace_s},
    )
    now = dt.datetime.now(dt.UTC)
    for job in jobs(app, flush_outbox=flush_outbox):
        scheduler.add_job(run_job, IntervalTrigger(seconds=job.every_s), args=[job.run, app], id=job.id,
                          name=job.name, next_run_time=now + dt.timedelta(seconds=job.first_after_s))
    return scheduler


async def _flush(app) -> int:  # type: ignore[no-untyped-def]
    return await app.deliver_pending()


async def run_job(job, app) -> None:  # type: ignore[no-untyped-def]
    """Run a job and log its failure; a failing job must never stop the scheduler."""
    try:
        await job(app)
    except asyncio.CancelledError:  # shutting down mid-job: every job is safe to redo at the next start
        log.info("scheduled job %s stopped by the shutdown", getattr(job, "__name__", job))
    except Exception:
        log.exception("scheduled job %s failed", getattr(job, "__name__", job))
