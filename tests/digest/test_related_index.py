"""The persisted Related index: opened at start-up (never refitted there), kept current as papers
arrive, refitted in the background without ever making an answer wait."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from digest.db import make_sessionmaker
from digest.related import PaperVectors, RelatedFinder, default_index_dir
from digest.search import PaperSearch, create_search_index
from digest.store import PaperStore
from digest.vector_index import SMALL_SEGMENTS_MERGED, VectorIndex
from tests.fakes.find_papers import by_topic, topical_papers


@pytest.fixture
def sessions(engine):
    with engine.begin() as conn:
        create_search_index(conn)
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    return maker


def finder(engine, sessions, folder, **kwargs) -> RelatedFinder:  # type: ignore[no-untyped-def]
    return RelatedFinder(PaperVectors(sessions, index_dir=folder, **kwargs), PaperSearch(engine))


def answers(related: RelatedFinder) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 5)) for h in related.related(p, k=4)] for p in topical_papers()]


def test_a_restart_opens_the_index_instead_of_refitting(engine, sessions, tmp_path):
    first = finder(engine, sessions, tmp_path / "idx")
    before = answers(first)
    assert first.vectors.fits == 1 and (tmp_path / "idx" / "CURRENT").is_file()

    restarted = finder(engine, sessions, tmp_path / "idx")
    assert answers(restarted) == before
    assert restarted.vectors.fits == 0


def test_papers_that_arrive_are_added_without_a_refit_and_persist(engine, sessions, tmp_path):
    first = finder(engine, sessions, tmp_path / "idx")
    paper = by_topic(topical_papers(), 4)[0]
    first.related(paper)
    twin = dataclasses.replace(paper, id="2509.00001", title=paper.title + " (extended)")
    PaperStore(sessions).upsert_papers([twin])
    assert first.related(paper, k=1)[0].id == twin.id
    assert first.vectors.fits == 1

    restarted = finder(engine, sessions, tmp_path / "idx")
    assert restarted.related(paper, k=1)[0].id == twin.id
    assert restarted.vectors.fits == 0
    assert VectorIndex.open(tmp_path / "idx").contains(twin.id)


def test_a_large_fit_runs_in_the_background_and_answers_do_not_wait(engine, sessions, tmp_path):
    related = finder(engine, sessions, tmp_path / "idx", sync_limit=5)
    gate = threading.Event()
    fit = related.vectors._fit

    def slow_fit() -> int:
        gate.wait(10)
        return fit()

    related.vectors._fit = slow_fit  # type: ignore[method-assign]
    papers = by_topic(topical_papers(), 2)
    early = related.related(papers[0], k=4)  # no index yet: answered from the search index, at once
    assert related.vectors.busy and not related.vectors.ready
    assert papers[0].id not in {h.id for h in early}
    assert {h.id for h in early} <= {p.id for p in topical_papers()}
    gate.set()
    related.vectors.wait()
    assert not related.vectors.busy
    assert {h.id for h in related.related(papers[0], k=4)} == {p.id for p in papers[1:]}


def test_the_store_doubling_brings_a_new_vocabulary(engine, tmp_path):
    maker = make_sessionmaker(engine)
    related = finder(engine, maker, tmp_path / "idx")
    assert related.related(topical_papers()[0]) == []  # an empty store: an empty index
    PaperStore(maker).upsert_papers(topical_papers())
    papers = by_topic(topical_papers(), 2)
    assert {h.id for h in related.related(papers[0], k=4)} == {p.id for p in papers[1:]}
    assert related.vectors.fits == 2


def test_many_small_arrivals_are_merged_into_one_segment(engine, sessions, tmp_path):
    related = finder(engine, sessions, tmp_path / "idx")
    paper = by_topic(topical_papers(), 1)[0]
    related.related(paper)
    for i in range(SMALL_SEGMENTS_MERGED + 3):
        PaperStore(sessions).upsert_papers([dataclasses.replace(paper, id=f"2509.{i:05d}", title=f"{paper.title} {i}")])
        related.related(paper)
    index = VectorIndex.open(tmp_path / "idx")
    assert index is not None and len(index.segments) <= SMALL_SEGMENTS_MERGED + 1
    assert index.size == len(topical_papers()) + SMALL_SEGMENTS_MERGED + 3
    assert sorted(p.name for p in (index.folder).glob("seg-*")) == sorted(s.name for s in index.segments)
    assert {h.id for h in related.related(paper, k=3)} <= {f"2509.{i:05d}" for i in range(20)}


def test_the_index_lives_where_the_configuration_says():
    assert str(default_index_dir("sqlite:///data/pb.sqlite3")) == "data/pb.sqlite3.related"
    assert str(default_index_dir("sqlite:///data/pb.sqlite3", "/srv/idx")) == "/srv/idx"
    assert default_index_dir("sqlite:///:memory:") is None
    assert str(default_index_dir("postgresql+psycopg://u:p@h/db")) == "paperboy-related"


@pytest.mark.parametrize("ngrams", [1, 2])
def test_the_index_reads_texts_exactly_as_scikit_learn_does(ngrams):
    from sklearn.feature_extraction.text import CountVectorizer

    from digest.vector_index import Vocabulary

    texts = [f"{p.title}. {p.abstract}" for p in topical_papers()]
    texts.append("Ça c'est l'Été: naïve Schrödinger co-training, 3D-aware GPT-4o and the 2nd U.S. model's résumé")
    vocabulary = Vocabulary.fit(texts, ngrams)
    reference = CountVectorizer(ngram_range=(1, ngrams), stop_words="english", strip_accents="unicode",
                                token_pattern=r"(?u)\b[^\W\d_][\w-]*\w\b|\b\d*[^\W\d_]\w*\b",
                                vocabulary=vocabulary.terms)
    assert (vocabulary.counts(texts) != reference.transform(texts)).nnz == 0


async def test_papers_stored_by_the_bot_reach_the_index_without_a_related_call(app):
    from digest.vector_index import VectorIndex

    app.store.upsert_papers(topical_papers())
    paper = by_topic(topical_papers(), 3)[0]
    app.finder.related.related(paper)  # builds the index
    twin = dataclasses.replace(paper, id="2509.00042", title=paper.title + " (journal version)")
    app.store.upsert_papers([twin])
    app.papers_stored([twin.id])
    await app.wait_idle()
    index = VectorIndex.open(app.finder.vectors.index_dir)
    assert index is not None and index.contains(twin.id)
    assert app.finder.vectors.fits == 1
