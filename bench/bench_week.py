"""The simulated week (tests/fakes/week_sim.py) at scale: 5,000 chats by default.

Everything real but the clock: the scheduler's jobs, ingest over HTTP from the fake arXiv serving
the real June 2026 days (or small generated ones without ../shared), digests, the SQLite outbox,
a restart in the middle of a fan-out, an arXiv holiday, a feed 3 hours late and a 2-hour outage.

    python bench/bench_week.py                    # 5,000 chats
    python bench/bench_week.py --chats 500

Figures printed: digests delivered/expected, papers delivered/expected, duplicates, lateness
p50/p95/max (from the later of a chat's delivery time and its feed's arrival to the digest's
first message), late notes, rows resent after the restart, problems found, and the wall time.
Chats pick quarter-hour delivery times here (the test also uses :07 and :33), which keeps the
number of virtual minutes with something to do, and so the run, short.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import SHARED_DATA  # noqa: E402
from tests.fakes.week_sim import WeekSimulation  # noqa: E402


async def main(chats: int) -> int:
    # The database lives in memory-backed /dev/shm when there is one: the figures are about virtual
    # time (lateness, duplicates), and 5,000 chats' commits would otherwise mostly wait on fsync.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        started = time.monotonic()
        sim = WeekSimulation(Path(tmp), chats=chats, shared=SHARED_DATA if SHARED_DATA.is_dir() else None,
                             minutes=(0, 15, 30, 45))
        report = await sim.run()
        print(report.summary())
        print(f"wall time {time.monotonic() - started:.0f} s")
        for problem in report.problems[:20]:
            print("  problem:", problem)
        return 1 if report.problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=5000)
    logging.disable(logging.WARNING)  # the outage's retry warnings are expected
    sys.exit(asyncio.run(main(parser.parse_args().chats)))
