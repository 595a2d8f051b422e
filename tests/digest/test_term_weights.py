"""The ranker's text views and learnt term weights: learnt from authors, persisted, refitted in the background."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from digest import term_weights as tw
from digest.db import make_sessionmaker
from digest.models import Paper
from digest.personal import rank_papers
from digest.store import PaperStore
from digest.term_counts import HashedTermCounts
from digest.term_weights import TermWeights, default_weights_file, learn_weights
from tests.fakes.find_papers import by_topic, topical_papers

FILLER = ["model", "data", "results", "method", "approach", "network", "training", "evaluation"]


def column(word: str) -> int:
    row = HashedTermCounts().counts([Paper(id="x", title=word, authors=(), abstract="", categories=("cs.AI",))])
    return int(row.indices[0])


def group_papers(n_groups: int = 40, per_group: int = 4) -> list[Paper]:
    """Each group repeats its own made-up word ("zorblaxN"); "quintessential" is as frequent but random."""
    papers = []
    for g in range(n_groups):
        for i in range(per_group):
            k = g * per_group + i
            extra = "quintessential" if k % per_group == (g % per_group) else ""
            papers.append(Paper(
                id=f"2601.{k:05d}", title=f"zorblax{g} {FILLER[k % 8]}",
                authors=(f"Author {g}", f"Student {k}"),
                abstract=f"We study {FILLER[(k + 3) % 8]} and {FILLER[(k + 5) % 8]} {extra}",
                categories=("cs.AI",),
            ))
    return papers


def test_a_word_an_author_repeats_weighs_more_than_an_equally_frequent_one():
    papers = group_papers()
    weights = learn_weights(papers)
    assert weights is not None and weights.shape == (2**20,)
    assert weights[column("zorblax3")] > 2 * weights[column("quintessential")]
    assert (weights >= tw.FLOOR).all()


def test_too_few_same_author_pairs_learn_nothing():
    assert learn_weights(topical_papers()[:2]) is None
    assert learn_weights(group_papers(), exclude_authors={f"Author {g}" for g in range(40)}) is None


def test_the_weights_file_is_named_by_the_configuration():
    assert str(default_weights_file("sqlite:///data/pb.sqlite3")) == "data/pb.sqlite3.termweights.npz"
    assert str(default_weights_file("sqlite:///data/pb.sqlite3", "/srv/w.npz")) == "/srv/w.npz"
    assert default_weights_file("sqlite:///:memory:") is None
    assert str(default_weights_file("postgresql+psycopg://u:p@h/db")) == "paperboy-termweights.npz"


@pytest.fixture
def sessions(engine):
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(group_papers())
    return maker


def test_learnt_once_then_a_restart_opens_the_file_and_never_refits(sessions, tmp_path):
    path = tmp_path / "weights.npz"
    first = TermWeights(sessions, path)
    assert first.refresh(wait=True)
    assert first.fits == 1 and path.is_file() and first.fitted_on == 160
    restarted = TermWeights(sessions, path)
    weights = restarted.current()
    restarted.wait()
    assert restarted.fits == 0 and not restarted.busy
    assert weights is not None and np.allclose(weights, first.current(), atol=0.01)


def test_a_grown_store_is_relearnt_in_the_background_and_no_answer_waits(sessions, tmp_path, monkeypatch):
    path = tmp_path / "weights.npz"
    TermWeights(sessions, path).refresh(wait=True)
    before = path.stat().st_mtime_ns
    grown = [dataclasses.replace(p, id=p.id.replace("2601.", "2602.")) for p in group_papers()[:40]]
    PaperStore(sessions).upsert_papers(grown)  # 200 papers: 25% more than at the fit

    release, started = threading.Event(), threading.Event()
    real = tw.learn_weights

    def slow(papers, **kwargs):
        started.set()
        release.wait(10)
        return real(papers, **kwargs)

    monkeypatch.setattr(tw, "learn_weights", slow)
    weights = TermWeights(sessions, path)
    old = weights.current()  # the file's weights at once; the refit starts in a thread
    assert old is not None and started.wait(5) and weights.busy
    assert weights.current() is old  # asked again while the fit runs: the old weights, no waiting
    release.set()
    weights.wait()
    assert weights.fits == 1 and weights.fitted_on == 200 and not weights.busy
    assert path.stat().st_mtime_ns != before
    reopened = TermWeights(sessions, path)
    reopened._open()
    assert reopened.fitted_on == 200


def test_a_store_that_has_not_grown_is_checked_rarely_and_not_relearnt(sessions, tmp_path):
    clock = [0.0]
    weights = TermWeights(sessions, tmp_path / "w.npz", clock=lambda: clock[0])
    weights.refresh(wait=True)
    assert not weights.refresh()  # checked within `check_every_s`: not even counted
    clock[0] += tw.CHECK_EVERY_S + 1
    assert not weights.refresh()  # counted: the store has not grown
    weights.wait()
    assert weights.fits == 1


def test_an_unreadable_file_is_relearnt_not_fatal(sessions, tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"not a numpy file")
    weights = TermWeights(sessions, path)
    weights.current()  # answers (without weights) while they are learnt again
    weights.wait()
    assert weights.fits == 1 and weights.current() is not None


def day_list() -> list[Paper]:
    """40 papers: the four topics twice over (new ids), some with a comment naming a code site."""
    papers = []
    for copy in range(2):
        for p in topical_papers():
            comment = f"Code: https://github.com/{p.authors[0].split()[0].lower()}-lab/x" if copy else None
            papers.append(dataclasses.replace(p, id=p.id.replace("250", f"26{copy}"), comment=comment))
    return papers


def test_on_a_day_list_every_view_keeps_the_liked_topic_first():
    likes = by_topic(topical_papers(), 3)[:2]
    day = day_list()
    weights = learn_weights(group_papers())
    for kwargs in ({}, {"term_weights": weights}, {"views": False}):
        scores = rank_papers(likes, day, use_authors=False, **kwargs)
        top = sorted(scores, key=lambda pid: -scores[pid][0])[:8]
        assert all(pid[3] == "3" for pid in top), (kwargs, top)


def test_the_days_character_matrix_is_built_once_and_serves_every_chats_share_of_the_day():
    vectors = HashedTermCounts()
    day = day_list()
    rank_papers(by_topic(topical_papers(), 1)[:1], day[:30], vectors=vectors)
    built, _ = vectors.day_matrix(day[:30], "chars")
    rank_papers(by_topic(topical_papers(), 2)[:1], day[5:25], vectors=vectors)  # a share already held
    assert vectors.day_matrix(day[5:25], "chars")[0] is built
    grown, rows = vectors.day_matrix(day[10:], "chars")  # mostly held: merged into one matrix of the day
    assert grown is not built and len(grown.papers) == 40
    assert [grown.papers[r].id for r in rows] == [p.id for p in day[10:]]
    assert vectors.day_matrix(day[:3], "chars")[0] is grown
    other = [dataclasses.replace(p, id=p.id.replace("26", "27", 1)) for p in day[:25]]
    assert vectors.day_matrix(other, "chars")[0].papers == tuple(other)  # another day: a matrix of its own


def test_ranking_a_share_of_a_cached_day_equals_ranking_it_alone():
    shared, alone = HashedTermCounts(), HashedTermCounts()
    day, likes = day_list(), by_topic(topical_papers(), 4)[:2]
    rank_papers(likes, day, vectors=shared)
    share = day[:25]
    first, second = rank_papers(likes, share, vectors=shared), rank_papers(likes, share, vectors=alone)
    assert sorted(first, key=lambda p: -first[p][0])[:5] == sorted(second, key=lambda p: -second[p][0])[:5]


async def test_the_app_keeps_its_weights_in_the_configured_file(app, settings, tmp_path):
    assert app.personal.term_weights.path == tmp_path / "paperboy.sqlite3.termweights.npz"
    assert default_weights_file(settings.database.url, "/srv/w.npz") == type(tmp_path)("/srv/w.npz")
