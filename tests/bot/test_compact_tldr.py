"""With `llm.tldr` on, the compact digest's first page carries a TL;DR under each paper (one
generation per paper); later pages show the TL;DRs already written and never generate new ones."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.ports import ChatContext
from tests.bot.test_digest_command import TUE, feed
from tests.fakes.fake_openai import FakeOpenAI

CHAT = ChatContext(chat_id="console:alice")


def tldr_answer(body):  # type: ignore[no-untyped-def]
    title = body["messages"][-1]["content"].split("Title: ", 1)[1].split("\n", 1)[0]
    return f"In short: {title.lower()}."


@pytest.fixture
def fake_llm():
    with FakeOpenAI(tldr_answer) as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, fake_arxiv, fake_llm) -> Settings:
    base = Settings()
    return Settings(
        database=base.database.__class__(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=fake_arxiv.settings(),
    ).replace("llm", base_url=fake_llm.base_url, api_key="test-key", timeout_s=5.0, retries=0, tldr=True)


async def test_the_first_compact_page_has_tldrs_and_turning_pages_generates_none(app, fake_arxiv, fake_llm):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 45)
    await app.handle_text(CHAT, "/subscribe cs.CL")
    header, listing = await app.handle_text(CHAT, "/digest")
    lines = listing.plain_text().split("\n\n")[1:]
    assert len(lines) == 10
    for line in lines:
        title = line.split(". ", 1)[1].split(" — ")[0]
        assert line.endswith(f"\n   In short: {title.lower()}.")
    assert fake_llm.calls == 10  # one TL;DR per paper on the first page, not 45
    page = next(b.action for row in listing.buttons for b in row if b.label == "Next ▶")
    turned = (await app.handle_action(CHAT, page)).edit
    assert "In short" not in turned.plain_text() and fake_llm.calls == 10
    back = next(b.action for row in turned.buttons for b in row if b.label == "◀ Previous")
    again = (await app.handle_action(CHAT, back)).edit
    assert again.plain_text().count("In short:") == 10 and fake_llm.calls == 10  # written ones are shown again
