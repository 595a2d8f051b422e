"""A chat's opinions of papers: 👍/👎 toggle, seeds never override, a save outweighs an old 👎."""

from __future__ import annotations

import pytest

from digest.db import make_sessionmaker
from digest.feedback import add_likes, chat_signal, has_signal, toggle_feedback
from digest.saved import toggle_saved
from digest.store import PaperStore
from tests.fakes.find_papers import topical_papers

CHAT = "console:alice"
OTHER = "console:bob"


@pytest.fixture
def sessions(engine):
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    return maker


def test_pressing_the_same_feedback_twice_clears_it(sessions):
    paper = topical_papers()[0].id
    assert toggle_feedback(sessions, CHAT, paper, +1) == 1
    assert toggle_feedback(sessions, CHAT, paper, +1) == 0
    assert chat_signal(sessions, CHAT).empty
    assert toggle_feedback(sessions, CHAT, paper, -1) == -1
    assert chat_signal(sessions, CHAT).dislikes == {paper}


def test_a_save_outweighs_an_old_thumbs_down(sessions):
    paper = topical_papers()[0].id
    toggle_feedback(sessions, CHAT, paper, -1)
    toggle_saved(sessions, CHAT, paper)
    signal = chat_signal(sessions, CHAT)
    assert signal.likes == {paper: "saved"} and not signal.dislikes


def test_has_signal_tells_chats_that_said_something_from_those_that_did_not(sessions):
    first, second = topical_papers()[0].id, topical_papers()[1].id
    assert not has_signal(sessions, CHAT)
    toggle_feedback(sessions, CHAT, first, -1)
    assert has_signal(sessions, CHAT) and not has_signal(sessions, OTHER)
    toggle_feedback(sessions, CHAT, first, -1)  # cleared again
    assert not has_signal(sessions, CHAT)
    toggle_saved(sessions, OTHER, second)
    assert has_signal(sessions, OTHER)


def test_add_likes_counts_only_new_papers_once(sessions):
    papers = [p.id for p in topical_papers()[:3]]
    assert add_likes(sessions, CHAT, [papers[0], papers[1], papers[0]], "bib") == 2
    assert add_likes(sessions, CHAT, papers, "seed") == 1
    assert chat_signal(sessions, CHAT).likes == {papers[0]: "bib", papers[1]: "bib", papers[2]: "seed"}
