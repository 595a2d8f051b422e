"""ArxivHttp against the fake arXiv server: politeness (spacing, one connection, User-Agent) and retries."""

from __future__ import annotations

import asyncio
import socket

import pytest

from digest.arxiv_http import ArxivHttp
from digest.errors import FeedUnavailable, FullTextUnavailable, SourceError
from tests.fakes.fake_arxiv import FakeArxiv, Reply

UA = "paperboy-tests/1.0 (mailto:tests@example.org)"


class FakeTime:
    """A monotonic clock that only moves when someone sleeps, so waits are measured, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


def make_http(fake: FakeArxiv, time: FakeTime, **kwargs) -> ArxivHttp:
    options = {"user_agent": UA, "min_interval_s": 0.0, "timeout_s": 5.0, "retries": 2, "backoff_s": 2.0}
    options.update(kwargs)
    return ArxivHttp(clock=time.clock, sleep=time.sleep, **options)


async def test_every_request_carries_the_configured_user_agent(fake_arxiv):
    fake_arxiv.html["2401.00001"] = b"<html>paper</html>"
    async with ArxivHttp.from_settings(fake_arxiv.settings(user_agent=UA)) as http:
        await http.get(f"{fake_arxiv.base_url}/html/2401.00001")
        await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
    assert [seen.user_agent for seen in fake_arxiv.requests] == [UA, UA]


async def test_user_agent_is_sent_even_with_a_client_passed_in(fake_arxiv):
    import httpx

    async with httpx.AsyncClient() as client:
        http = ArxivHttp(user_agent=UA, min_interval_s=0, client=client)
        await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
        await http.aclose()
        assert not client.is_closed, "a client we were given is the caller's to close"
    assert fake_arxiv.requests[0].user_agent == UA


def test_an_empty_user_agent_is_refused():
    with pytest.raises(ValueError, match="User-Agent"):
        ArxivHttp(user_agent="  ")


async def test_two_503s_then_ok_returns_the_ok_answer(fake_arxiv, arxiv_http):
    fake_arxiv.html["2401.00001"] = b"<html>paper</html>"
    fake_arxiv.script("/html/2401.00001", Reply(503), Reply(503))
    response = await arxiv_http.get(f"{fake_arxiv.base_url}/html/2401.00001")
    assert response.status_code == 200
    assert response.content == b"<html>paper</html>"
    assert len(fake_arxiv.requests) == 3


async def test_backoff_doubles_between_retries(fake_arxiv):
    time = FakeTime()
    fake_arxiv.script("/rss/cs.AI", Reply(500), Reply(502), Reply(503))
    async with make_http(fake_arxiv, time, retries=3) as http:
        response = await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
    assert response.status_code == 200
    assert time.sleeps == [2.0, 4.0, 8.0]


async def test_exhausted_retries_raise_the_callers_error(fake_arxiv, arxiv_http):
    fake_arxiv.script("/rss/cs.AI", *[Reply(503)] * 5)
    with pytest.raises(FeedUnavailable, match="503"):
        await arxiv_http.get(f"{fake_arxiv.base_url}/rss/cs.AI", error=FeedUnavailable)
    assert len(fake_arxiv.requests) == 3  # the first try and arxiv_settings' 2 retries


async def test_429_waits_for_retry_after_then_succeeds(fake_arxiv):
    time = FakeTime()
    fake_arxiv.script("/rss/cs.AI", Reply.retry_after(7))
    async with make_http(fake_arxiv, time, min_interval_s=3.0) as http:
        response = await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
    assert response.status_code == 200
    assert time.sleeps == [7.0]
    assert len(fake_arxiv.requests) == 2


async def test_a_huge_retry_after_is_capped(fake_arxiv):
    time = FakeTime()
    fake_arxiv.script("/rss/cs.AI", Reply.retry_after(3600))
    async with make_http(fake_arxiv, time, retry_after_cap_s=120.0) as http:
        await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
    assert time.sleeps == [120.0]


async def test_retry_after_also_holds_back_the_next_request(fake_arxiv):
    time = FakeTime()
    fake_arxiv.script("/rss/cs.AI", Reply.retry_after(30))
    async with make_http(fake_arxiv, time, retries=0, min_interval_s=3.0) as http:
        with pytest.raises(SourceError):
            await http.get(f"{fake_arxiv.base_url}/rss/cs.AI")
        await http.get(f"{fake_arxiv.base_url}/rss/cs.CL")
    assert time.sleeps == [30.0]  # not the 3 s spacing: arXiv asked for 30


async def test_404_is_returned_at_once_without_retry(fake_arxiv, arxiv_http):
    response = await arxiv_http.get(f"{fake_arxiv.base_url}/html/2401.99999")
    assert response.status_code == 404
    assert len(fake_arxiv.requests) == 1


async def test_400_is_returned_at_once_without_retry(fake_arxiv, arxiv_http):
    fake_arxiv.script("/api/query", Reply(400, b"bad query"))
    response = await arxiv_http.get(f"{fake_arxiv.base_url}/api/query", {"search_query": "x"})
    assert response.status_code == 400
    assert len(fake_arxiv.requests) == 1


async def test_unreachable_server_is_retried_then_raises_the_callers_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again on leaving: nothing listens there
    time = FakeTime()
    http = ArxivHttp(user_agent=UA, min_interval_s=0, retries=2, clock=time.clock, sleep=time.sleep)
    async with http:
        with pytest.raises(FullTextUnavailable, match="could not reach arXiv"):
            await http.get(f"http://127.0.0.1:{port}/pdf/2401.00001", error=FullTextUnavailable)
    assert time.sleeps == [2.0, 4.0]  # two retries after the first failure


async def test_a_timeout_is_retried(fake_arxiv):
    fake_arxiv.script("/pdf/2401.00001", Reply(200, b"late", delay_s=1.5))
    fake_arxiv.pdf["2401.00001"] = b"%PDF-1.7"
    async with ArxivHttp.from_settings(fake_arxiv.settings(timeout_s=0.5), backoff_s=0) as http:
        response = await http.get(f"{fake_arxiv.base_url}/pdf/2401.00001")
    assert response.content == b"%PDF-1.7"
    assert len(fake_arxiv.requests) == 2


async def test_requests_are_spaced_by_min_interval_measured_at_the_server(fake_arxiv):
    interval = 0.15
    async with ArxivHttp.from_settings(fake_arxiv.settings(min_interval_s=interval)) as http:
        await http.get(f"{fake_arxiv.base_url}/rss/warm-up")  # so connecting does not blur the first gap
        await asyncio.gather(*(http.get(f"{fake_arxiv.base_url}/rss/cs.{n}") for n in "ABCD"))
    arrivals = [seen.at for seen in fake_arxiv.requests]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert len(gaps) == 4
    # Each request leaves at least `interval` after the one before; arrival times carry network and
    # scheduling jitter (one late arrival shortens only the next gap), so each arrival is checked
    # against its slot counted from the first. Without spacing they would all arrive within ~1 ms.
    for k, arrival in enumerate(arrivals):
        assert arrival - arrivals[0] >= k * interval - 0.03, (k, gaps)


async def test_spacing_is_measured_start_to_start_across_callers(fake_arxiv):
    time = FakeTime()
    async with make_http(fake_arxiv, time, min_interval_s=3.0) as http:
        await asyncio.gather(*(http.get(f"{fake_arxiv.base_url}/rss/cs.{n}") for n in "ABC"))
    assert time.sleeps == [3.0, 3.0]


async def test_concurrent_callers_share_one_connection_and_never_overlap(fake_arxiv):
    for n in "ABCDE":
        fake_arxiv.script(f"/rss/cs.{n}", Reply(200, b"<rss/>", delay_s=0.05))
    async with ArxivHttp.from_settings(fake_arxiv.settings(min_interval_s=0)) as http:
        await asyncio.gather(*(http.get(f"{fake_arxiv.base_url}/rss/cs.{n}") for n in "ABCDE"))
    assert len(fake_arxiv.requests) == 5
    assert fake_arxiv.max_in_flight == 1
    assert len({seen.client_port for seen in fake_arxiv.requests}) == 1


async def test_a_misconfigured_url_fails_at_once_without_retry():
    time = FakeTime()
    async with ArxivHttp(user_agent=UA, min_interval_s=0, retries=3, clock=time.clock, sleep=time.sleep) as http:
        with pytest.raises(SourceError, match="could not reach arXiv"):
            await http.get("ftp://export.arxiv.org/api/query")
    assert time.sleeps == []
