"""The arXiv client stays on arXiv and within its size (issue 10, problems 9 and 6).

The cases that found them: a redirect made the client fetch two paths from a server that was not
arXiv, and a 300 MB HTML full text took the process to 1,974 MiB and was stored whole.
"""

from __future__ import annotations

import httpx
import pytest

from digest.arxiv_http import MAX_REDIRECTS, ArxivHttp
from digest.errors import AnswerTooLarge, FeedUnavailable, FullTextUnavailable
from digest.fulltext import MAX_KEPT_CHARS, NoFullText, fetch_fulltext
from digest.rss import fetch_feed
from tests.fakes.fake_arxiv import FakeArxiv, Reply, rss_feed, rss_item

UA = "paperboy-tests/1.0 (mailto:tests@example.org)"
FIXTURE_HTML = "tests/fixtures/html/latexml_small.html"


@pytest.fixture
def elsewhere():
    """A second server on another port: not arXiv, whatever it serves."""
    with FakeArxiv() as other:
        yield other


async def test_a_redirect_off_arxiv_is_refused_and_nothing_is_fetched_there(fake_arxiv, arxiv_http, arxiv_settings, elsewhere):
    elsewhere.rss["cs.CL"] = rss_feed("cs.CL", [rss_item("2606.00001", categories=("cs.CL",))])
    fake_arxiv.script("/rss/cs.CL", Reply(302, headers={"Location": f"{elsewhere.base_url}/rss/cs.CL"}))
    with pytest.raises(FeedUnavailable, match="redirects off arXiv"):
        await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.CL")
    assert elsewhere.requests == []


async def test_a_redirect_within_arxiv_is_followed(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [rss_item("2606.00001", categories=("cs.CL",))])
    fake_arxiv.script("/rss/cs.LG", Reply(301, headers={"Location": "/rss/cs.CL"}))
    result = await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.LG")
    assert [a.paper.id for a in result.announcements] == ["2606.00001"]
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.LG", "/rss/cs.CL"]


async def test_a_redirect_loop_ends(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.script("/rss/cs.CL", *[Reply(302, headers={"Location": "/rss/cs.CL"})] * (MAX_REDIRECTS + 2))
    with pytest.raises(FeedUnavailable, match="redirects"):
        await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.CL")
    assert len(fake_arxiv.requests) == MAX_REDIRECTS + 1


async def test_a_redirect_to_another_scheme_or_a_lookalike_host_is_refused(fake_arxiv, arxiv_http, arxiv_settings):
    for target in ("file:///etc/passwd", "http://arxiv.org.evil.example/x", "ftp://arxiv.org/x"):
        fake_arxiv.script("/html/2401.00001", Reply(302, headers={"Location": target}))
        with pytest.raises(FullTextUnavailable, match="off arXiv"):
            await arxiv_http.get(f"{arxiv_settings.html_url}/2401.00001", error=FullTextUnavailable)


async def test_an_endless_body_is_stopped_at_max_bytes_without_reading_the_rest():
    produced = 0

    async def endless():
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 65536

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    async with httpx.AsyncClient(transport=transport) as client:
        http = ArxivHttp(user_agent=UA, min_interval_s=0, client=client)
        with pytest.raises(AnswerTooLarge, match="over the limit"):
            await http.get("https://arxiv.org/html/2401.00001", max_bytes=1_000_000)
    assert produced <= 20  # about 1 MB read, then the stream was closed


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.html["2401.00001"] = b"<html>" + b"x" * 200_000  # small enough not to break the server's write
    with pytest.raises(AnswerTooLarge, match="200,006 bytes"):
        await arxiv_http.get(f"{arxiv_settings.html_url}/2401.00001", max_bytes=100_000)


async def test_a_full_text_over_max_bytes_is_not_read_and_the_pdf_is_tried(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.html["2401.00001"] = b"<html>" + b"x" * 200_000
    fake_arxiv.pdf["2401.00001"] = b"%PDF" + b"y" * 200_000
    with pytest.raises(NoFullText, match="larger than fulltext.max_bytes"):
        await fetch_fulltext(arxiv_http, "2401.00001", html_url=arxiv_settings.html_url,
                             pdf_url=arxiv_settings.pdf_url, max_bytes=100_000)
    assert [r.path for r in fake_arxiv.requests] == ["/html/2401.00001", "/pdf/2401.00001"]


async def test_at_most_400k_characters_of_a_paper_are_kept(fake_arxiv, arxiv_http, arxiv_settings):
    from pathlib import Path

    page = Path(FIXTURE_HTML).read_text(encoding="utf-8")
    paragraph = '<div class="ltx_para"><p class="ltx_p">' + "Endless words of a long paper. " * 2000 + "</p></div>"
    fake_arxiv.html["2401.00001"] = page.replace('<div class="ltx_para" id="S1.p1">', paragraph * 12 + '<div class="ltx_para" id="S1.p1">').encode()
    text = await fetch_fulltext(arxiv_http, "2401.00001", html_url=arxiv_settings.html_url,
                                pdf_url=arxiv_settings.pdf_url)
    assert text.source == "html" and text.chars <= MAX_KEPT_CHARS
    assert text.chars > MAX_KEPT_CHARS * 0.9


def test_fulltext_max_bytes_is_a_setting_with_a_20_mb_default():
    from bot.config import load_settings

    assert load_settings(environ={}).fulltext.max_bytes == 20_000_000
    assert load_settings(environ={"PAPERBOY_FULLTEXT__MAX_BYTES": "1000"}).fulltext.max_bytes == 1000


async def test_an_oversized_feed_is_a_failed_fetch_not_a_crash(fake_arxiv, arxiv_http, arxiv_settings, monkeypatch):
    from digest import rss

    monkeypatch.setattr(rss, "MAX_FEED_BYTES", 2_000)
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [rss_item(f"2606.{i:05d}", categories=("cs.CL",)) for i in range(1, 30)])
    with pytest.raises(FeedUnavailable, match="over the limit"):
        await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.CL")
