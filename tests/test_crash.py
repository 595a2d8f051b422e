"""The crash test: a fan-out to 1,000 chats survives SIGKILLs of its sender and of its scheduler.

Real processes (`paperboy run --role scheduler` and `--role sender`) talk to the fake Telegram Bot
API and the fake Discord over HTTP. The scheduler is killed once between building the digests and
enqueueing them (a failpoint), then restarted; the sender is killed with SIGKILL at random moments
of the fan-out, five times, and restarted each time. At the end every chat has its digest, exactly
as enqueued; duplicates are counted and reported: none on Discord (the nonce), at most one per kill
on Telegram (one unrecorded send at a time); and after every restart delivery resumed within 30 s.
Runs on SQLite, and on PostgreSQL when PAPERBOY_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.fakes.processes import PaperboyProcess, arxiv_env, seed_due_chats

TG_PRIVATE, TG_GROUPS, DC_CHANNELS = 600, 100, 300  # 1,000 chats
SENDER_KILLS = 5
RESUME_LIMIT_S = 30.0

pytestmark = pytest.mark.timeout(300)


def chat_ids() -> tuple[list[int], list[int]]:
    telegram = [10_000 + i for i in range(TG_PRIVATE)] + [-(1_000_000_000_000 + i) for i in range(TG_GROUPS)]
    discord = [1_200_000_000_000_000_000 + i for i in range(DC_CHANNELS)]
    return telegram, discord


def outbox_counts(url: str) -> Counter:
    from bot.schema import OutboxRow
    from digest.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all()))
    finally:
        engine.dispose()


def rows_per_chat(url: str) -> Counter:
    from bot.schema import OutboxRow
    from digest.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(select(OutboxRow.chat_id, func.count()).group_by(OutboxRow.chat_id)).all()))
    finally:
        engine.dispose()


async def wait_until(predicate, timeout: float, what: str, poll: float = 0.1) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(poll)
    return time.monotonic() - started


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    return request.getfixturevalue("pg_url")


async def test_sigkills_lose_no_chat_and_repeat_at_most_one_telegram_message_per_kill(
        database_url, fake_arxiv, tmp_path, capsys):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    telegram, discord = chat_ids()
    await seed_due_chats(database_url, fake_arxiv, [f"tg:{c}" for c in telegram] + [f"dc:{c}" for c in discord])

    with FakeTelegram(limits=FakeLimits(overall_per_s=1000, chat_per_s=1, group_per_min=20)) as tg:
        async with FakeDiscord() as dc:
            env = arxiv_env(fake_arxiv) | {
                "PAPERBOY_DATABASE__URL": database_url, "PAPERBOY_LOGGING__LEVEL": "INFO",
                "PAPERBOY_TELEGRAM__TOKEN": tg.token, "PAPERBOY_TELEGRAM__BASE_URL": tg.base_url,
                "PAPERBOY_TELEGRAM__BROADCAST_PER_S": "150",  # the fan-out lasts > 9 s: time for 5 kills
                "PAPERBOY_DISCORD__TOKEN": "fake-discord-token", "PAPERBOY_DISCORD__API_URL": dc.api_url,
                "PAPERBOY_DISCORD__GATEWAY_URL": dc.gateway_url,
                "PAPERBOY_SCHEDULE__OUTBOX_INTERVAL_S": "0.5", "PAPERBOY_OUTBOX__SENDER_ID": "crash-test-sender",
            }
            scheduler = PaperboyProcess(["run", "--role", "scheduler"], env, tmp_path / "scheduler.log")
            sender = PaperboyProcess(["run", "--role", "sender"], env, tmp_path / "sender.log")

            def tg_sent() -> list:
                return [c for c in tg.calls_to("sendMessage") if c.status == 200]

            def dc_posts() -> int:
                return sum(1 for r in dc.requests if r.method == "POST" and r.path.endswith("/messages"))

            def deliveries() -> int:
                return len(tg_sent()) + dc_posts()

            try:
                # 1. The scheduler dies between building the digests and enqueueing them.
                scheduler.start({"PAPERBOY_FAILPOINT": "digests-built"})
                await wait_until(lambda: not scheduler.alive(), 60, "the scheduler to reach its failpoint")
                assert scheduler.proc.returncode == -9, scheduler.log()
                assert sum(outbox_counts(database_url).values()) == 0  # nothing half-enqueued

                # 2. Restarted, it enqueues every digest; the sender fans them out and is killed 5 times.
                sender.start()
                scheduler.start()
                await wait_until(lambda: outbox_counts(database_url).get("pending", 0) + deliveries() > 0, 60,
                                 "the digests to be enqueued")
                resume_times: list[float] = []
                kills = 0
                await wait_until(lambda: deliveries() > 0, 60, "the first delivery")
                while kills < SENDER_KILLS:
                    await asyncio.sleep(rng.uniform(0.1, 1.5))
                    if not outbox_counts(database_url).get("pending", 0) and kills < SENDER_KILLS:
                        break  # the fan-out finished before all kills: the assertion below says so
                    sender.kill()
                    kills += 1
                    before = deliveries()
                    sender.start()
                    resume_times.append(await wait_until(lambda: deliveries() > before, 60,
                                                         f"delivery to resume after kill {kills}", poll=0.05))

                counts = await asyncio.to_thread(outbox_counts, database_url)
                await wait_until(lambda: set(outbox_counts(database_url)) == {"sent"}, 120,
                                 "every outbox row to be sent", poll=0.5)
            finally:
                sender.stop()
                scheduler.stop()

            expected = await asyncio.to_thread(rows_per_chat, database_url)
            polled, identified = tg.calls_to("getUpdates"), list(dc.identifies)
            tg_per_chat = Counter(int(c.params["chat_id"]) for c in tg_sent())
            tg_texts = Counter((int(c.params["chat_id"]), c.params.get("text")) for c in tg_sent())
            dc_per_chat = Counter(int(m["channel_id"]) for m in dc.messages.values())
            tg_duplicates = sum(n - 1 for n in tg_texts.values() if n > 1)
            dc_duplicates = sum(max(0, dc_per_chat[c] - expected[f"dc:{c}"]) for c in discord)
            print(f"\ncrash test ({database_url.split(':')[0]}, seed {seed}): {len(telegram) + len(discord)} chats, "
                  f"{sum(expected.values())} messages, {kills} sender kills + 1 scheduler kill; "
                  f"duplicates: Telegram {tg_duplicates}, Discord {dc_duplicates}; "
                  f"resumed after {', '.join(f'{t:.1f}' for t in resume_times)} s; outbox before the end: {dict(counts)}")

    assert kills == SENDER_KILLS, "the fan-out ended before every kill; make it longer"
    assert polled == [] and identified == []  # scheduler and sender roles never take updates (REST only)
    assert len(expected) == len(telegram) + len(discord)
    missing = [c for c in telegram if tg_per_chat[c] < expected[f"tg:{c}"]]
    missing += [c for c in discord if dc_per_chat[c] < expected[f"dc:{c}"]]
    assert missing == [], f"chats without their whole digest: {missing[:10]}"
    assert dc_duplicates == 0
    assert tg_duplicates <= kills
    assert max(resume_times) < RESUME_LIMIT_S
