"""Flood limits shared by every sender through PostgreSQL: two limiters (two "processes") together
stay under one overall limit and one per-chat limit. Skips without PAPERBOY_TEST_POSTGRES_URL."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from adapters.telegram.limits import RateLimits
from adapters.telegram.shared_limits import SharedRateLimiter
from bot.flood import SharedBuckets
from bot.migrate import init_db
from digest.db import make_engine


def most_in_any_window(moments: list[float], seconds: float) -> int:
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_senders_together_keep_the_overall_and_per_chat_limits(pg_url):
    init_db(make_engine(pg_url))
    limits = RateLimits(overall_per_s=40, chat_per_s=2, group_per_min=20)
    a, b = SharedRateLimiter(make_engine(pg_url), limits), SharedRateLimiter(make_engine(pg_url), limits)
    sent: list[tuple[int, float]] = []

    async def send(limiter: SharedRateLimiter, chat: int) -> None:
        permit = await limiter.acquire(chat, group=False)
        sent.append((chat, time.monotonic()))
        permit.release()

    # 2 x 60 requests for 20 chats, half through each limiter: alone, each would go at full speed.
    await asyncio.gather(*(send(a if i % 2 else b, i % 20) for i in range(120)))
    assert len(sent) == 120
    # Moments are taken when acquire returns, so event-loop lag on a busy machine blurs them a little;
    # two limiters that did not share their buckets would reach about 76 in a second.
    assert most_in_any_window([t for _, t in sent], 1.0) <= 42
    for chat in range(20):
        moments = sorted(t for c, t in sent if c == chat)
        assert min(y - x for x, y in zip(moments, moments[1:])) >= 1 / (2 * 0.95) - 0.1
    wall = max(t for _, t in sent) - min(t for _, t in sent)
    assert wall >= (120 - 40) / 40  # the limit held them back: no free-for-all


async def test_a_busy_chat_refuses_a_no_wait_request_from_another_sender(pg_url):
    init_db(make_engine(pg_url))
    limits = RateLimits(overall_per_s=100, chat_per_s=1)
    a, b = SharedRateLimiter(make_engine(pg_url), limits), SharedRateLimiter(make_engine(pg_url), limits)
    permit = await a.acquire(-100123, group=True, edit=True)
    permit.release()
    assert await b.acquire(-100123, group=True, edit=True, wait=False) is None  # would break the chat's limit


async def test_discord_buckets_space_requests_across_processes(pg_url):
    init_db(make_engine(pg_url))
    one, two = SharedBuckets(make_engine(pg_url)), SharedBuckets(make_engine(pg_url))
    moments: list[float] = []

    async def post(buckets: SharedBuckets) -> None:
        await buckets.wait_for([("dc:global", 0.05), ("dc:channel:1", 0.2)])
        moments.append(time.monotonic())

    await asyncio.gather(*(post(one if i % 2 else two) for i in range(8)))
    moments.sort()
    assert min(y - x for x, y in zip(moments, moments[1:])) >= 0.15


def test_a_sender_can_retake_the_chat_slot_it_let_pass_but_no_other_can(pg_url):
    init_db(make_engine(pg_url))
    buckets = SharedBuckets(make_engine(pg_url))
    chat = [("tg:chat:42", 1.0)]
    first = buckets.take_with(chat, ("tg:overall", 0.01))
    assert first is not None and len(first.anchors) == 1
    assert buckets.take_with(chat, ("tg:overall", 0.01)) is None  # the chat's next slot is a second away
    again = buckets.take_with(chat, ("tg:overall", 0.01), mine=first.anchors)  # its own unused anchor
    assert again is not None
    assert buckets.take_with(chat, ("tg:overall", 0.01), mine=first.anchors) is None  # that anchor is gone


def test_the_shared_row_comes_back_after_it_was_pruned(pg_url):
    engine = make_engine(pg_url)
    init_db(engine)
    buckets = SharedBuckets(engine)
    assert buckets.take_with([("tg:chat:1", 1.0)], ("tg:overall", 0.01)) is not None
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM flood_buckets WHERE key = 'tg:overall'"))  # idle for an hour
    taken = [buckets.take_with([(f"tg:chat:{i}", 1.0)], ("tg:overall", 0.01)) for i in range(2, 5)]
    assert taken[-1] is not None  # at worst the first try after the prune finds no row
