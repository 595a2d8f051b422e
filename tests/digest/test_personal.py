"""Personal ranking: likes, saves, 👍/👎 and seeds reorder a chat's papers, and say why."""

from __future__ import annotations

import time

import pytest

from digest.db import make_sessionmaker
from digest.feedback import add_likes, chat_signal, toggle_feedback
from digest.personal import PersonalRanker, rank_papers
from digest.saved import toggle_saved
from digest.store import PaperStore
from tests.fakes.find_papers import by_topic, topical_papers

CHAT = "console:alice"
OTHER = "console:bob"


@pytest.fixture
def sessions(engine):
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    return maker


@pytest.fixture
def ranker(sessions) -> PersonalRanker:
    return PersonalRanker(sessions)


def order(scores: dict[str, tuple[float, str | None]]) -> list[str]:
    return sorted(scores, key=lambda pid: -scores[pid][0])


def candidates() -> list:
    """Every topic's last three papers: the day's list."""
    return [p for t in (1, 2, 3, 4) for p in by_topic(topical_papers(), t)[2:]]


def test_a_chat_without_any_signal_gets_no_scores(ranker):
    assert ranker.scores(CHAT, candidates()) == {}


def test_a_saved_paper_brings_its_topic_to_the_top_with_a_reason(ranker, sessions):
    liked = by_topic(topical_papers(), 3)[0]
    toggle_saved(sessions, CHAT, liked.id)
    scores = ranker.scores(CHAT, candidates())
    speech = {p.id for p in by_topic(topical_papers(), 3)[2:]}
    assert set(order(scores)[:3]) == speech
    assert set(scores) == {p.id for p in candidates()}  # nothing is left out, only ordered
    top = scores[order(scores)[0]]
    assert top[1] is not None and liked.id in top[1] and "saved" in top[1]


def test_thumbs_up_and_down_change_the_order(ranker, sessions):
    toggle_feedback(sessions, CHAT, by_topic(topical_papers(), 4)[0].id, +1)
    robot_first = order(ranker.scores(CHAT, candidates()))
    assert robot_first[0].startswith("2504.")
    toggle_feedback(sessions, CHAT, by_topic(topical_papers(), 1)[1].id, +1)
    toggle_feedback(sessions, CHAT, by_topic(topical_papers(), 4)[1].id, -1)  # no more robots like this one
    after = ranker.scores(CHAT, candidates())
    assert order(after)[0].startswith("2501.")
    assert "👍" in (after[order(after)[0]][1] or "")


def test_seeds_count_as_likes_but_never_override_an_opinion(sessions, ranker):
    disliked = topical_papers()[0].id
    toggle_feedback(sessions, CHAT, disliked, -1)
    assert add_likes(sessions, CHAT, [disliked, by_topic(topical_papers(), 2)[0].id], "seed") == 1
    signal = chat_signal(sessions, CHAT)
    assert signal.likes == {by_topic(topical_papers(), 2)[0].id: "seed"}
    assert disliked in signal.dislikes
    scores = ranker.scores(CHAT, candidates())
    assert order(scores)[0].startswith("2502.")
    assert "seeded" in (scores[order(scores)[0]][1] or "")


def test_one_chats_likes_do_not_reorder_another_chat(sessions, ranker):
    toggle_saved(sessions, CHAT, topical_papers()[0].id)
    assert ranker.scores(OTHER, candidates()) == {}


def test_a_paper_by_an_author_of_a_liked_paper_says_so():
    papers = by_topic(topical_papers(), 1)
    scores = rank_papers([papers[0]], by_topic(topical_papers(), 2) + [papers[2]])
    assert scores[papers[2].id][1] == f"by Ana Video, as your saved {papers[0].id}"
    assert order(scores)[0] == papers[2].id


def test_unrelated_papers_get_a_score_but_no_reason():
    scores = rank_papers([by_topic(topical_papers(), 1)[0]], by_topic(topical_papers(), 3))
    assert all(reason is None for _, reason in scores.values())


def test_rank_lists_candidates_best_first(ranker):
    likes = by_topic(topical_papers(), 2)[:2]
    ranked = ranker.rank(likes, candidates())
    assert {p.id for p, _, _ in ranked[:3]} == {p.id for p in by_topic(topical_papers(), 2)[2:]}
    scores = [s for _, s, _ in ranked]
    assert scores == sorted(scores, reverse=True)


def test_chats_without_signal_cost_next_to_nothing(ranker):
    papers = candidates()
    started = time.perf_counter()
    for i in range(500):
        assert ranker.scores(f"console:{i}", papers) == {}
    assert (time.perf_counter() - started) / 500 < 0.005


def test_the_vector_cache_can_overflow_between_and_within_rankings():
    from digest.term_counts import HashedTermCounts

    vectors = HashedTermCounts(limit=3)
    likes = by_topic(topical_papers(), 1)[:2]
    first = rank_papers(likes, candidates(), vectors=vectors)
    again = rank_papers(likes, candidates(), vectors=vectors)
    assert first == again and order(first)[0].startswith("2501.")


def test_a_liked_paper_on_the_list_says_it_is_yours_not_close_to_itself():
    liked = by_topic(topical_papers(), 2)[0]
    scores = rank_papers([liked], [liked, *by_topic(topical_papers(), 2)[1:]], sources={liked.id: "up"})
    assert scores[liked.id][1] == "in your 👍 papers"
    assert all(liked.id in (reason or liked.id) for pid, (_, reason) in scores.items() if pid != liked.id)
