"""The Telegram rate limiter on a virtual clock: overall pacing, per-chat spacing, group windows."""

from __future__ import annotations

import asyncio

from adapters.telegram.limits import RateLimiter, RateLimits


class VirtualTime:
    """A clock that only moves when the limiter sleeps, so the test runs instantly and exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def limiter(time: VirtualTime, **limits: float) -> RateLimiter:
    return RateLimiter(RateLimits(safety=1.0, **limits), clock=time.clock, sleep=time.sleep)


async def sent_at(time: VirtualTime, lim: RateLimiter, chat: int, *, group: bool = False, edit: bool = False) -> float:
    permit = await lim.acquire(chat, group=group, edit=edit)
    permit.release()  # answered at once
    return time.now


async def test_one_chat_gets_one_message_per_second():
    time = VirtualTime()
    lim = limiter(time)
    times = [await sent_at(time, lim, 42) for _ in range(4)]
    assert times == [0.0, 1.0, 2.0, 3.0]


async def test_a_group_gets_at_most_twenty_messages_a_minute():
    time = VirtualTime()
    lim = limiter(time, chat_per_s=100, overall_per_s=1000)
    times = [await sent_at(time, lim, -100, group=True) for _ in range(25)]
    assert all(t < 1 for t in times[:20])
    assert times[20] >= 60.0


async def test_group_edits_have_their_own_budget():
    time = VirtualTime()
    lim = limiter(time, chat_per_s=100, overall_per_s=1000, group_per_min=2, group_edits_per_min=3)
    sends = [await sent_at(time, lim, -100, group=True) for _ in range(2)]
    edits = [await sent_at(time, lim, -100, group=True, edit=True) for _ in range(3)]
    assert max(sends + edits) < 1


async def test_overall_rate_is_paced_evenly_across_many_chats():
    time = VirtualTime()
    lim = limiter(time, overall_per_s=30)
    times = [await sent_at(time, lim, chat) for chat in range(1, 61)]
    assert times[-1] >= 59 / 30 - 1e-9
    assert all(b - a >= 1 / 30 - 1e-3 for a, b in zip(times, times[1:]))


async def test_a_busy_chat_does_not_hold_up_the_others():
    """Real time: chat 42 queues 22 messages at 20/s while chat 7 gets its one at once."""
    lim = RateLimiter(RateLimits(overall_per_s=1000, chat_per_s=20, safety=1.0))
    loop = asyncio.get_running_loop()
    start = loop.time()
    done: dict[str, float] = {}

    async def send(name: str, chat: int) -> None:
        permit = await lim.acquire(chat, group=False)
        permit.release()
        done[name] = loop.time() - start

    await asyncio.gather(*(send(f"busy{i}", 42) for i in range(22)), send("other", 7))
    assert done["busy21"] >= 0.99
    assert done["other"] < 0.5  # far ahead of the busy chat's 1 s


async def test_without_waiting_a_limited_request_is_refused():
    time = VirtualTime()
    lim = limiter(time)
    (await lim.acquire(42, group=False, wait=False)).release()
    assert await lim.acquire(42, group=False, wait=False) is None


async def test_a_request_counts_until_a_window_after_its_answer():
    """Telegram counts arrivals, somewhere before the answer: a slow answer pushes the next send back."""
    time = VirtualTime()
    lim = limiter(time)
    permit = await lim.acquire(42, group=False)
    time.now = 5.0  # the answer took five seconds
    assert await lim.acquire(42, group=False, wait=False) is None  # still in flight
    permit.release()
    assert await sent_at(time, lim, 42) == 6.0


async def test_overall_cap_counts_requests_in_flight():
    time = VirtualTime()
    lim = limiter(time, overall_per_s=10)
    permits = [await lim.acquire(chat, group=False) for chat in range(1, 11)]
    assert time.now < 1.0
    waiter = asyncio.ensure_future(lim.acquire(99, group=False))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not waiter.done()  # ten requests unanswered: an eleventh could arrive with them
    for permit in permits:
        permit.release()
    (await waiter).release()
    assert time.now >= 1.0
