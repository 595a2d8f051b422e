"""Ask (threads per chat and paper), translation, TL;DR and the queue, against the fake LLM."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.assistant import FAQ_QUESTIONS
from bot.assistant.llm import is_configured
from bot.assistant.prompts import normalise_language
from bot.assistant.queue import LLMQueue, ordinal
from bot.assistant.schema import AskTurnRow, TldrRow, TranslationRow
from bot.config import LLMSettings
from tests.fakes.assistant_fixtures import PAPER, assistant_rig
from tests.fakes.fake_openai import Fault
from tests.fakes.fake_stream import FakeStreamFactory

# --- Ask --------------------------------------------------------------------------------------


async def test_a_follow_up_keeps_the_conversation(rig):
    await rig.assistant.ask("test:1", PAPER, "Which optimiser do they use?", "en", FakeStreamFactory())
    second = FakeStreamFactory()
    await rig.assistant.ask("test:1", PAPER, "And how long does training take?", "en", second)
    messages = rig.llm.requests[1]["messages"]
    contents = [m["content"] for m in messages]
    assert any("Which optimiser do they use?" in c for c in contents)
    assert any(
        m["role"] == "assistant" and m["content"].startswith("Answer about: Which optimiser do they use?") for m in messages
    )  # the first answer, as an assistant turn
    assert "And how long does training take?" in contents[-1]
    assert second.last.final is not None
    assert second.last.actions() == [f"ask:{PAPER.id}"]


async def test_threads_are_kept_per_chat(rig):
    await rig.assistant.ask("test:1", PAPER, "A private question?", "en", FakeStreamFactory())
    await rig.assistant.ask("test:2", PAPER, "Another chat's question?", "en", FakeStreamFactory())
    contents = [m["content"] for m in rig.llm.requests[1]["messages"]]
    assert not any("A private question?" in c for c in contents)


async def test_ask_rests_on_the_paper_and_the_cached_faq_with_the_faq_prefix(rig):
    await rig.assistant.faq("test:1", PAPER, "en", FakeStreamFactory())
    await rig.assistant.ask("test:1", PAPER, "What is a widget?", "en", FakeStreamFactory())
    faq, ask = rig.llm.requests[0]["messages"], rig.llm.requests[1]["messages"]
    assert ask[: len(faq)] == faq  # same prefix: the provider's cache covers paper and FAQ
    assert ask[len(faq)]["role"] == "assistant"  # the six FAQ answers, as the model wrote them
    assert all(f"Answer about: {q}" in ask[len(faq)]["content"] for q in FAQ_QUESTIONS)
    assert "name the sections" in ask[-1]["content"]
    assert "(§3 Method)" in ask[0]["content"]  # the system prompt asks for section citations


async def test_a_failed_answer_offers_retry_which_asks_the_same_question_again(tmp_path):
    async with assistant_rig(tmp_path, retries=0) as rig:
        rig.llm.script(Fault("status", 500))
        failed = FakeStreamFactory()
        await rig.assistant.ask("test:1", PAPER, "What is the main result?", "en", failed)
        assert failed.last.actions() == [f"retry:ask:{PAPER.id}"]
        assert rig.assistant.store.thread("test:1", PAPER.id) == []
        again = FakeStreamFactory()
        await rig.assistant.retry("test:1", "ask", PAPER, "en", again)
        assert "What is the main result?" in again.last.final.plain_text()
        [(question, answer)] = rig.assistant.store.thread("test:1", PAPER.id)
        assert question == "What is the main result?"
        assert answer.startswith("Answer about: What is the main result?")
        assert rig.count(AskTurnRow) == 1  # the retry answered the stored question, not a new one


async def test_ask_streams_its_answer(rig):
    rig.llm.chunk_delay_s = 0.03
    factory = FakeStreamFactory()
    await rig.assistant.ask("test:1", PAPER, "Is this streamed?", "en", factory)
    growing = [u for u in factory.last.updates if u.startswith("Answer")]
    assert len(growing) >= 3 and growing == sorted(growing, key=len)


async def test_reasoning_deltas_are_not_shown_or_kept(rig):
    rig.llm.reasoning = "SECRET-CHAIN-OF-THOUGHT"
    factory = FakeStreamFactory()
    await rig.assistant.ask("test:1", PAPER, "Why?", "en", factory)
    assert factory.last.final.plain_text().count("Answer about: Why?") == 1
    assert not any("SECRET" in u for u in factory.last.updates)
    assert "SECRET" not in factory.last.final.plain_text()


async def test_ask_counts_against_the_daily_quota(tmp_path):
    async with assistant_rig(tmp_path, daily_quota=2) as rig:
        for question in ("One?", "Two?"):
            await rig.assistant.ask("test:1", PAPER, question, "en", FakeStreamFactory())
        refused = FakeStreamFactory()
        await rig.assistant.ask("test:1", PAPER, "Three?", "en", refused)
        assert "used its 2 assistant calls" in refused.last.failed.plain_text()
        assert rig.llm.calls == 2


# --- translation and TL;DR --------------------------------------------------------------------


async def test_translation_is_made_once_per_language_and_shared(rig):
    rig.llm.answer = lambda body: "Title: 稀疏小部件\n\n我们介绍稀疏小部件。"
    first = await rig.assistant.translate("test:1", PAPER, "zh")
    second = await rig.assistant.translate("test:2", PAPER, "zh")
    assert first == second
    assert "稀疏小部件" in first.plain_text() and "我们介绍稀疏小部件。" in first.plain_text()
    assert rig.llm.calls == 1
    assert rig.count(TranslationRow) == 1
    assert rig.llm.requests[0]["messages"][0]["role"] == "system"
    assert "We introduce sparse widgets." not in rig.llm.requests[0]["messages"][0]["content"]


async def test_translating_into_english_needs_no_llm(rig):
    message = await rig.assistant.translate("test:1", PAPER, "en")
    assert "/language" in message.plain_text()
    assert rig.llm.calls == 0


async def test_tldr_is_off_by_default(rig):
    assert await rig.assistant.tldr(PAPER) is None
    assert rig.llm.calls == 0


async def test_tldr_is_written_once_per_paper_for_every_digest(tmp_path):
    async with assistant_rig(tmp_path, tldr=True) as rig:
        rig.llm.answer = lambda body: "  Sparse widgets make small test suites ten times faster.\n"
        results = await asyncio.gather(*(rig.assistant.tldr(PAPER) for _ in range(10)))
        assert set(results) == {"Sparse widgets make small test suites ten times faster."}
        assert await rig.assistant.tldr(PAPER) == results[0]
        assert rig.llm.calls == 1 and rig.count(TldrRow) == 1
        assert rig.assistant.store.tokens(paper_id=PAPER.id)["calls"] == 1


async def test_tldr_failure_is_none_not_an_error(tmp_path):
    async with assistant_rig(tmp_path, tldr=True, retries=0) as rig:
        rig.llm.script(Fault("status", 500))
        assert await rig.assistant.tldr(PAPER) is None
        assert rig.count(TldrRow) == 0


# --- the queue --------------------------------------------------------------------------------


async def test_waiting_users_are_told_their_place_in_line(tmp_path):
    async with assistant_rig(tmp_path, max_concurrency=1) as rig:
        rig.llm.chunk_delay_s = 0.03  # about 0.3 s an answer
        papers = [dataclasses.replace(PAPER, id=f"2401.0000{n}") for n in range(1, 4)]
        for paper in papers:
            rig.arxiv.html[paper.id] = rig.arxiv.html[PAPER.id]
        factories = [FakeStreamFactory(f"test:{n}") for n in range(3)]

        async def until(arrived) -> None:  # type: ignore[no-untyped-def]
            for _ in range(500):
                if arrived():
                    return
                await asyncio.sleep(0.01)

        def in_line(factory: FakeStreamFactory) -> bool:
            return bool(factory.streams) and any("in line" in u for u in factory.last.updates)

        # Arrive in order, each once the one before is being written or waiting (database calls run in
        # threads, so a fixed pause would not say who reaches the queue first on a loaded machine).
        tasks = [asyncio.create_task(rig.assistant.ask(factories[0].chat_id, papers[0], "Why?", "en", factories[0]))]
        await until(lambda: rig.llm.calls >= 1)
        tasks.append(asyncio.create_task(rig.assistant.ask(factories[1].chat_id, papers[1], "Why?", "en", factories[1])))
        await until(lambda: in_line(factories[1]))
        tasks.append(asyncio.create_task(rig.assistant.ask(factories[2].chat_id, papers[2], "Why?", "en", factories[2])))
        await asyncio.gather(*tasks)
        assert not any("in line" in u for u in factories[0].last.updates)
        assert any("1st in line" in u for u in factories[1].last.updates)
        assert any("2nd in line" in u for u in factories[2].last.updates)
        assert any("1st in line" in u for u in factories[2].last.updates)  # moved up
        for factory in factories:  # the stream port is told which lines are status and which are answer text
            stream = factory.last
            assert all(is_status == ("in line" in u or "Reading" in u or "Writing" in u) for u, is_status in zip(stream.updates, stream.statuses))
            assert stream.texts and all(t.startswith("Answer") for t in stream.texts)
        assert rig.llm.max_in_flight == 1
        assert all(f.last.final is not None for f in factories)


async def test_queue_serves_todays_papers_first():
    queue = LLMQueue(1)
    order: list[str] = []
    gate = asyncio.Event()

    async def job(name: str, priority: int) -> None:
        async with queue.slot(priority):
            order.append(name)
            await gate.wait()

    first = asyncio.create_task(job("running", 1))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(job(name, p)) for name, p in [("old-1", 1), ("old-2", 1), ("today", 0)]]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, *waiting)
    assert order == ["running", "today", "old-1", "old-2"]


async def test_a_cancelled_waiter_leaves_the_line():
    queue = LLMQueue(1)
    places: list[int] = []
    gate = asyncio.Event()

    async def hold() -> None:
        async with queue.slot():
            await gate.wait()

    async def wait(record: bool) -> None:
        async def on_place(n: int) -> None:
            if record:
                places.append(n)

        async with queue.slot(on_place=on_place):
            pass

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    leaver = asyncio.create_task(wait(False))
    stayer = asyncio.create_task(wait(True))
    await asyncio.sleep(0.01)
    leaver.cancel()
    await asyncio.sleep(0.01)
    assert places == [2, 1]
    gate.set()
    await asyncio.gather(holder, stayer)
    assert queue.running == 0 and queue.waiting == 0


@pytest.mark.parametrize("n,text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (22, "22nd")])
def test_ordinal(n, text):
    assert ordinal(n) == text


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url,key,configured",
    [
        ("https://api.openai.com/v1", "", False),
        ("https://api.openai.com/v1", "sk-x", True),
        ("http://localhost:11434/v1", "", True),
        ("http://127.0.0.1:8000/v1", "", True),
        ("https://llm.example.org/v1", "", False),
    ],
)
def test_configured_means_a_key_or_a_local_server(base_url, key, configured):
    assert is_configured(LLMSettings(base_url=base_url, api_key=key)) is configured


@pytest.mark.parametrize("raw,code", [("zh", "zh"), ("ZH-CN", "zh"), ("Chinese", "zh"), ("de-AT", "de"), ("xx", None), ("", None)])
def test_language_names_and_codes_are_normalised(raw, code):
    assert normalise_language(raw) == code


def test_there_are_six_faq_questions_in_cool_papers_order():
    assert FAQ_QUESTIONS[0].startswith("What problem") and FAQ_QUESTIONS[-1] == "Summarise the paper."
