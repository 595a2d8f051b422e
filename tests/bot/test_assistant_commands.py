"""The assistant's chat surface through the real `Paperboy`: /faq, /ask, replies, /language, buttons."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.ports import ChatContext, ChatKind, Reply
from tests.fakes.assistant_fixtures import HTML, PAPER
from tests.fakes.fake_openai import FakeOpenAI, Fault

CTX = ChatContext("console:local")


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, fake_arxiv, fake_llm) -> Settings:
    """The app's settings with the LLM on the fake server (overrides the shared fixture)."""
    base = Settings()
    return Settings(
        database=base.database.__class__(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=fake_arxiv.settings(),
    ).replace("llm", base_url=fake_llm.base_url, api_key="test-key", timeout_s=5.0, retries=0)


@pytest.fixture
async def assistant_app(app, fake_arxiv):
    app.assistant.llm._retry_wait_s = 0.0
    app.store.upsert_papers([PAPER])
    fake_arxiv.html[PAPER.id] = HTML
    return app


async def test_faq_command_streams_the_faq_into_the_chat(assistant_app, sender, fake_llm):
    assert await assistant_app.handle_text(CTX, f"/faq {PAPER.id}") == []
    await assistant_app.wait_idle()
    [stream] = sender.streams
    assert "**1. What problem does the paper try to solve?**" in stream.final.plain_text()
    assert stream.updates  # shown while being written
    assert fake_llm.calls == 1


async def test_faq_button_is_answered_at_once_and_the_faq_follows(assistant_app, sender):
    reply = await assistant_app.handle_action(CTX, f"faq:{PAPER.id}", message_id="41")
    assert reply.notice and not reply.replies
    await assistant_app.wait_idle()
    assert sender.streams[0].final is not None


async def test_ask_command_with_id_and_question(assistant_app, sender, fake_llm):
    await assistant_app.handle_text(CTX, f"/ask {PAPER.id} What dataset do they use?")
    await assistant_app.wait_idle()
    assert "What dataset do they use?" in sender.streams[0].final.plain_text()
    assert "What dataset do they use?" in fake_llm.requests[0]["messages"][-1]["content"]


async def test_a_plain_reply_to_a_card_asks_about_that_paper(assistant_app, sender, fake_llm):
    card = Reply("17", actions=(f"faq:{PAPER.id}", f"ask:{PAPER.id}", f"save:{PAPER.id}"))
    await assistant_app.handle_text(CTX, "Does it work on GPUs?", reply=card)
    await assistant_app.handle_text(CTX, "/ask And on TPUs?", reply=Reply("18", actions=(f"ask:{PAPER.id}",)))
    await assistant_app.wait_idle()
    assert [s.final is not None for s in sender.streams] == [True, True]
    follow_up = [m["content"] for m in fake_llm.requests[-1]["messages"]]
    assert any("Does it work on GPUs?" in c for c in follow_up) and "And on TPUs?" in follow_up[-1]


async def test_ask_button_asks_for_a_reply_that_names_the_paper(assistant_app):
    reply = await assistant_app.handle_action(CTX, f"ask:{PAPER.id}")
    [prompt] = reply.replies
    assert "Reply to this message" in prompt.plain_text()
    assert f"ask:{PAPER.id}" in [b.action for row in prompt.buttons for b in row]


async def test_ask_without_a_paper_explains_usage(assistant_app):
    [answer] = await assistant_app.handle_text(CTX, "/ask what is this?")
    assert "Usage: /ask" in answer.plain_text()


async def test_language_is_stored_on_the_chat_and_used_for_answers(assistant_app, sender, fake_llm):
    [answer] = await assistant_app.handle_text(CTX, "/language zh")
    assert "Simplified Chinese" in answer.plain_text()
    assert assistant_app.subscriptions.get(CTX.chat_id).language == "zh"
    await assistant_app.handle_text(CTX, f"/faq {PAPER.id}")
    await assistant_app.wait_idle()
    assert "Simplified Chinese" in fake_llm.requests[0]["messages"][0]["content"]


async def test_an_unknown_language_is_refused_with_the_choices(assistant_app):
    [answer] = await assistant_app.handle_text(CTX, "/language klingon")
    assert "not a language I know" in answer.plain_text() and "zh" in answer.plain_text()


async def test_only_admins_change_a_groups_language(assistant_app):
    member = ChatContext("console:group", kind=ChatKind.GROUP, can_manage=False)
    [answer] = await assistant_app.handle_text(member, "/language de")
    assert assistant_app.subscriptions.get("console:group") is None
    assert "admins" in answer.plain_text()


async def test_retry_button_after_a_failure(assistant_app, sender, fake_llm):
    fake_llm.script(Fault("status", 500))
    await assistant_app.handle_action(CTX, f"faq:{PAPER.id}")
    await assistant_app.wait_idle()
    failed = sender.streams[0].failed
    [[retry]] = failed.buttons
    assert retry.action == f"retry:faq:{PAPER.id}"
    await assistant_app.handle_action(CTX, retry.action)
    await assistant_app.wait_idle()
    assert sender.streams[1].final is not None


async def test_translate_button_sends_the_translation(assistant_app, sender, fake_llm):
    fake_llm.answer = lambda body: "Titel: Dünne Widgets\n\nWir stellen dünne Widgets vor."
    await assistant_app.handle_text(CTX, "/language de")
    reply = await assistant_app.handle_action(CTX, f"tr:{PAPER.id}")
    assert reply.notice
    await assistant_app.wait_idle()
    assert any("Wir stellen dünne Widgets vor." in t for t in sender.texts(CTX.chat_id))


async def test_an_unknown_paper_ends_in_a_message_not_silence(assistant_app, sender, fake_arxiv):
    await assistant_app.handle_action(CTX, "faq:2401.99999")
    await assistant_app.wait_idle()
    assert "2401.99999" in sender.streams[0].failed.plain_text()


@pytest.mark.parametrize("press", ["/faq 2401.00001", "button"])
async def test_without_an_llm_the_bot_says_how_to_configure_one(app, sender, press, tmp_path):
    app.assistant.llm.configured = False
    if press == "button":
        replies = (await app.handle_action(CTX, f"faq:{PAPER.id}")).replies
    else:
        replies = await app.handle_text(CTX, press)
    assert "PAPERBOY_LLM__API_KEY" in replies[0].plain_text()
    assert sender.streams == []
