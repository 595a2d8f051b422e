"""Scaled fan-out benchmark: four `paperboy run --role sender` processes share one PostgreSQL outbox.

The fake Telegram Bot API runs in its own process and enforces the limits it is given (default
300 messages/s overall, 1/s per chat, 20/minute per group) with 429 answers. The senders are the
real command (`paperboy run --role sender`), each with its own sender id; `telegram.broadcast_per_s`
tells them the overall limit, and the flood buckets in PostgreSQL make the four of them keep it
together. Figures printed: achieved rate (first to last accepted message) against the allowed
rate (target >= 0.9), 429 answers (target 0), messages sent twice (target 0).

    python bench/bench_fleet_fanout.py --postgres postgresql+psycopg://paperboy:paperboy@127.0.0.1/postgres
    python bench/bench_fleet_fanout.py --postgres URL --senders 4 --chats 6000 --overall 300

The URL names a server where the user may create databases; the benchmark makes its own and drops it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bench.bench_telegram_fanout import DIGEST, chat_ids  # noqa: E402
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def serve_fake(limits: FakeLimits, conn) -> None:  # type: ignore[no-untyped-def]
    """Child process: the fake Bot API until told to stop; then what it accepted and refused."""
    with FakeTelegram(limits=limits) as fake:
        conn.send((fake.token, fake.base_url))
        conn.recv()
        sends = fake.calls_to("sendMessage")
        conn.send({"accepted": [(c.at, int(c.params["chat_id"])) for c in sends if c.status == 200],
                   "floods": fake.flood_count})


def fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"paperboy_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def enqueue_fanout(url: str, chats: list[int]) -> None:
    from bot.migrate import init_db
    from bot.outbox import Outgoing, enqueue
    from digest.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    init_db(engine)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with make_sessionmaker(engine).begin() as session:
        enqueue(session, [Outgoing(f"digest:tg:{c}:2026-06-16:0", f"tg:{c}", DIGEST) for c in chats], now)
    engine.dispose()


def pending(url: str) -> int:
    from bot.schema import OutboxRow

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(OutboxRow).where(OutboxRow.status != "sent")).scalar_one()
    engine.dispose()
    return int(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("PAPERBOY_TEST_POSTGRES_URL", ""))
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--chats", type=int, default=6000)
    parser.add_argument("--groups", type=float, default=0.1, help="share of the chats that are groups")
    parser.add_argument("--overall", type=float, default=300.0, help="allowed messages/s overall")
    parser.add_argument("--profile", action="store_true", help="run the first sender under cProfile (sender-1.prof)")
    args = parser.parse_args()
    if not args.postgres:
        parser.error("--postgres URL (or PAPERBOY_TEST_POSTGRES_URL) is required: the senders share PostgreSQL")

    url, name = fresh_database(args.postgres)
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve_fake, args=(FakeLimits(overall_per_s=args.overall), there), daemon=True)
    server.start()
    token, base_url = here.recv()
    logs = Path(tempfile.mkdtemp(prefix="paperboy-fleet-"))
    procs: list[subprocess.Popen] = []
    try:
        chats = chat_ids(args.chats, args.groups)
        enqueue_fanout(url, chats)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | {
            "PAPERBOY_DATABASE__URL": url, "PAPERBOY_TELEGRAM__TOKEN": token, "PAPERBOY_TELEGRAM__BASE_URL": base_url,
            "PAPERBOY_TELEGRAM__BROADCAST_PER_S": str(args.overall), "PAPERBOY_SCHEDULE__OUTBOX_INTERVAL_S": "0.2",
            "PAPERBOY_LOGGING__LEVEL": "WARNING",
        }
        started = time.monotonic()
        for i in range(args.senders):
            profile = ["-m", "cProfile", "-o", str(logs / "sender-1.prof")] if args.profile and i == 0 else []
            with open(logs / f"sender-{i + 1}.log", "wb") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, *profile, "-m", "bot.cli", "run", "--role", "sender"], cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT, env=env | {"PAPERBOY_OUTBOX__SENDER_ID": f"bench-sender-{i + 1}"}))
        while pending(url):
            if time.monotonic() - started > 600:
                print("gave up after 600 s")
                break
            time.sleep(0.5)
        wall = time.monotonic() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        here.send("stop")
        stats = here.recv()
        server.join(timeout=10)
        drop_database(args.postgres, name)

    accepted = sorted(at for at, _ in stats["accepted"])
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    achieved = (len(accepted) - 1) / span if span else float("nan")
    twice = sum(n - 1 for n in Counter(chat for _, chat in stats["accepted"]).values() if n > 1)
    ratio = achieved / args.overall
    print(f"{args.senders} sender processes, PostgreSQL outbox, {args.chats} chats ({int(args.chats * args.groups)} groups)")
    print(f"server accepted {len(accepted)} messages; wall time {wall:.1f} s (process start-up included)")
    print(f"achieved rate: {achieved:.1f} msg/s   allowed: {args.overall:.0f} msg/s   ratio: {ratio:.3f}")
    print(f"429 answers: {stats['floods']}   messages sent twice: {twice}")
    ok = ratio >= 0.9 and stats["floods"] == 0 and twice == 0 and len(accepted) == args.chats
    print("target (ratio >= 0.9, zero 429s, nothing twice, every chat served):", "met" if ok else "NOT met")
    print(f"sender logs: {logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
