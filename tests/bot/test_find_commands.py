"""/search, /related, /saved, /export, /seed and the Save, Related, 👍/👎 and paging buttons, end to end."""

from __future__ import annotations

import pytest

from bot.search_memory import SearchQueryRow
from bot.ports import ChatContext, ChatKind
from digest.message import Markdown, Message
from digest.search import create_search_index
from tests.fakes.find_papers import by_topic, topical_papers

ALICE = ChatContext(chat_id="console:alice", kind=ChatKind.PRIVATE, user_id="alice")
BOB = ChatContext(chat_id="console:bob", kind=ChatKind.PRIVATE, user_id="bob")


@pytest.fixture(autouse=True)
def papers(app):
    """The topical collection in the app's store, with the search index and query table in place."""
    SearchQueryRow.__table__.create(app.engine, checkfirst=True)
    with app.engine.begin() as conn:
        create_search_index(conn)
    app.store.upsert_papers(topical_papers())
    return topical_papers()


def said(messages: list[Message]) -> str:
    return "\n".join(m.plain_text() for m in messages)


def actions(message: Message) -> list[str]:
    return [b.action for row in message.buttons for b in row if b.action]


def labels(message: Message) -> list[str]:
    return [b.label for row in message.buttons for b in row]


async def test_search_lists_matches_with_card_buttons(app):
    [message] = await app.handle_text(ALICE, "/search speech recognition")
    speech = by_topic(topical_papers(), 3)
    text = said([message])
    assert "speech recognition" in text
    assert all(p.title in text for p in speech if "Speech Recognition" in p.title)
    assert {a for a in actions(message) if a.startswith("card:")} == {f"card:{p.id}" for p in speech}
    assert not any(a.startswith("sp:") for a in actions(message))  # one page only


async def test_search_results_page_with_buttons_that_edit_the_list(app):
    [first] = await app.handle_text(ALICE, "/search cat:cs")
    nexts = [a for a in actions(first) if a.startswith("sp:")]
    assert len(nexts) == 1 and nexts[0].endswith(":1") and len(nexts[0].encode()) <= 64
    assert "results 1–10" in said([first])
    reply = await app.handle_action(ALICE, nexts[0])
    assert reply.edit is not None
    in_cs = [p for p in topical_papers() if any(c.startswith("cs.") for c in p.categories)]
    assert f"results 11–{len(in_cs)}" in said([reply.edit])
    assert [a for a in actions(reply.edit) if a.startswith("sp:")] == [nexts[0][:-1] + "0"]  # only Previous
    first_ids = {a for a in actions(first) if a.startswith("card:")}
    second_ids = {a for a in actions(reply.edit) if a.startswith("card:")}
    assert not first_ids & second_ids and first_ids | second_ids == {f"card:{p.id}" for p in in_cs}


async def test_another_chat_cannot_page_someone_elses_search(app):
    [first] = await app.handle_text(ALICE, "/search cat:cs")
    nxt = next(a for a in actions(first) if a.startswith("sp:"))
    reply = await app.handle_action(BOB, nxt)
    assert reply.edit is None and "expired" in reply.notice


@pytest.mark.parametrize("payload", ["sp:nope:1", "sp:abc", "sp::", "sv:x", "sv:"])
async def test_forged_paging_buttons_get_a_notice(app, payload):
    reply = await app.handle_action(ALICE, payload)
    assert reply.edit is None and reply.notice


async def test_searching_an_id_shows_the_card(app):
    [card] = await app.handle_text(ALICE, "/search https://arxiv.org/abs/2503.00003v2")
    assert "2503.00003" in said([card]) and "save:2503.00003" in actions(card)


@pytest.mark.parametrize(("line", "expected"), [
    ("/search", "What should I search for"),
    ("/search x after:2025-13-01", "not a real date"),
    ("/search zebra giraffe", "No stored paper matches"),
])
async def test_bad_or_empty_searches_say_so(app, line, expected):
    assert expected in said(await app.handle_text(ALICE, line))


async def test_save_toggles_and_redraws_the_card(app):
    paper = topical_papers()[0]
    reply = await app.handle_action(ALICE, f"save:{paper.id}")
    assert reply.notice == "Saved" and "★ Saved" in labels(reply.edit)
    assert paper.title in said(await app.handle_text(ALICE, "/saved"))
    reply = await app.handle_action(ALICE, f"save:{paper.id}")
    assert reply.notice == "Removed" and "☆ Save" in labels(reply.edit)
    assert "Nothing saved yet" in said(await app.handle_text(ALICE, "/saved"))


async def test_saved_papers_page(app):
    for paper in topical_papers()[:12]:
        await app.handle_action(ALICE, f"save:{paper.id}")
    [first] = await app.handle_text(ALICE, "/saved")
    assert "1–10 of 12" in said([first]) and "sv:1" in actions(first)
    reply = await app.handle_action(ALICE, "sv:1")
    assert "11–12 of 12" in said([reply.edit]) and "sv:0" in actions(reply.edit)
    assert "Nothing saved yet" in said(await app.handle_text(BOB, "/saved"))


async def test_export_gives_bibtex_in_a_code_block_and_links(app):
    for paper in topical_papers()[:3]:
        await app.handle_action(ALICE, f"save:{paper.id}")
    messages = await app.handle_text(ALICE, "/export bibtex")
    block = messages[0].blocks[0]
    assert isinstance(block, Markdown) and block.text.startswith("```bibtex\n@misc{")
    for paper in topical_papers()[:3]:
        assert f"eprint = {{{paper.id}}}" in block.text
        assert f"url = {{{app.settings.arxiv.abs_url}/{paper.id}}}" in block.text
    links = said(await app.handle_text(ALICE, "/export links"))
    assert f"1. {topical_papers()[2].title} — " in links  # newest save first
    assert all(f"{app.settings.arxiv.abs_url}/{p.id}" in links for p in topical_papers()[:3])
    assert "Usage: /export" in said(await app.handle_text(ALICE, "/export pdf"))
    assert "Nothing saved yet" in said(await app.handle_text(BOB, "/export"))


async def test_a_long_export_is_split_between_entries(app):
    for paper in topical_papers():
        await app.handle_action(ALICE, f"save:{paper.id}")
    import bot.find_commands as fc

    pieces = fc._chunks(["x" * 1500] * 5, 3500)
    assert [len(p) for p in pieces] == [3002, 3002, 1500]
    messages = await app.handle_text(ALICE, "/export")
    text = "".join(m.blocks[0].text for m in messages)
    assert text.count("@misc{") == len(topical_papers())


async def test_thumbs_reorder_the_chats_ranking_and_seed_teaches_it(app):
    day = [p for t in (1, 2, 3, 4) for p in by_topic(topical_papers(), t)[2:]]
    assert app.personal.scores(ALICE.chat_id, day) == {}
    robots = by_topic(topical_papers(), 4)
    reply = await app.handle_action(ALICE, f"up:{robots[0].id}")
    assert "👍" in reply.notice
    scores = app.personal.scores(ALICE.chat_id, day)
    assert max(scores, key=lambda i: scores[i][0]).startswith("2504.")
    await app.handle_action(ALICE, f"up:{robots[0].id}")  # pressed again: cleared
    answer = said(await app.handle_text(ALICE, f"/seed {by_topic(topical_papers(), 3)[0].id} arXiv:{by_topic(topical_papers(), 3)[1].id}"))
    assert "Learned from 2 paper(s)" in answer
    scores = app.personal.scores(ALICE.chat_id, day)
    best = max(scores, key=lambda i: scores[i][0])
    assert best.startswith("2503.") and "seeded" in scores[best][1]
    reply = await app.handle_action(ALICE, f"down:{best}")
    assert "👎" in reply.notice


async def test_seed_reads_a_pasted_bibtex_file(app):
    rag = by_topic(topical_papers(), 2)
    bib = ("@misc{a, title={Whatever}, eprint={%s}, archivePrefix={arXiv}}\n"
           "@inproceedings{b, title={%s}}\n@inproceedings{c, title={A Paper Nobody Has}}") % (rag[0].id, rag[1].title)
    answer = said(await app.handle_text(ALICE, f"/seed {bib}"))
    assert "Learned from 2 paper(s)" in answer and "A Paper Nobody Has" in answer
    day = by_topic(topical_papers(), 1) + rag[2:]
    scores = app.personal.scores(ALICE.chat_id, day)
    assert max(scores, key=lambda i: scores[i][0]).startswith("2502.")


async def test_seed_without_ids_explains_usage(app):
    assert "Usage: /seed" in said(await app.handle_text(ALICE, "/seed my favourite papers"))


async def test_related_lists_the_papers_of_the_same_topic(app):
    grasp = by_topic(topical_papers(), 4)
    [message] = await app.handle_text(ALICE, f"/related {grasp[0].id}")
    cards = {a for a in actions(message) if a.startswith("card:")}
    assert {f"card:{p.id}" for p in grasp[1:]} <= cards
    reply = await app.handle_action(ALICE, f"rel:{grasp[0].id}")
    assert reply.replies and all(p.title in said(reply.replies) for p in grasp[1:])
    assert "Which paper" in said(await app.handle_text(ALICE, "/related"))


async def test_the_related_heading_shows_the_title_with_latex_converted(app):
    from digest.models import Paper

    grasp = by_topic(topical_papers(), 4)[0]
    app.store.upsert_papers([Paper(id=grasp.id, title=r"\textsc{DiARC}: PM$_{2.5}$ grasping", authors=grasp.authors,
                                   abstract=grasp.abstract, categories=grasp.categories, published=grasp.published)])
    [message] = await app.handle_text(ALICE, f"/related {grasp.id}")
    assert message.plain_text().startswith("🔗 Related to DiARC: PM₂.₅ grasping")


async def test_searches_older_than_a_month_expire(app):
    import datetime as dt

    from bot.search_memory import QUERY_TTL
    from digest.schema import utcnow

    with app.sessions.begin() as session:
        session.add(SearchQueryRow(key="old0000000", chat_id=ALICE.chat_id, query="video",
                                   created=utcnow() - QUERY_TTL - dt.timedelta(days=1)))
    await app.handle_text(ALICE, "/search cat:cs")
    reply = await app.handle_action(ALICE, "sp:old0000000:1")
    assert reply.edit is None and "expired" in reply.notice

