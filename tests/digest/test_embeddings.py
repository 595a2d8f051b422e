"""The stored paper embeddings: compact, one per paper and model, found when missing or stale; on
SQLite and, when PAPERBOY_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.migrate import init_db
from digest.db import make_engine, make_sessionmaker
from digest.embeddings import PaperEmbeddings, embedding_text, pack, unpack
from digest.store import PaperStore
from tests.fakes.find_papers import topical_papers


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'e.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    init_db(engine)
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    yield maker
    engine.dispose()


def text_of(paper) -> str:  # type: ignore[no-untyped-def]
    return embedding_text(paper.title, paper.abstract)


def test_a_vector_is_stored_as_unit_length_float16():
    blob = pack([3.0, 4.0])
    assert len(blob) == 4
    assert np.allclose(unpack(blob), [0.6, 0.8], atol=1e-3)


def test_papers_without_a_vector_are_missing_until_saved(sessions):
    embeddings = PaperEmbeddings(sessions, "m")
    papers = sorted(topical_papers(), key=lambda p: p.id)
    assert embeddings.count_missing() == 20
    first = embeddings.missing(5)
    assert [pid for pid, _ in first] == [p.id for p in papers[:5]] and first[0][1] == text_of(papers[0])
    embeddings.save([(pid, text, np.ones(4)) for pid, text in first])
    assert embeddings.count_missing() == 15
    assert [pid for pid, _ in embeddings.missing(100)] == [p.id for p in papers[5:]]
    assert [pid for pid, _ in embeddings.missing(2, after=papers[10].id)] == [papers[11].id, papers[12].id]
    assert set(embeddings.vectors(p.id for p in papers)) == {p.id for p in papers[:5]}


def test_stale_means_missing_of_another_model_or_of_another_text(sessions):
    papers = topical_papers()[:3]
    embeddings = PaperEmbeddings(sessions, "m")
    embeddings.save([(p.id, text_of(p), np.ones(4)) for p in papers])
    assert embeddings.stale([p.id for p in papers]) == []
    revised = dataclasses.replace(papers[1], version=2, abstract="A wholly new abstract.")
    PaperStore(sessions).upsert_papers([revised])
    assert embeddings.stale([p.id for p in papers]) == [(revised.id, text_of(revised))]
    other = PaperEmbeddings(sessions, "m@256")
    assert {pid for pid, _ in other.stale([p.id for p in papers])} == {p.id for p in papers}
    assert other.vectors(p.id for p in papers) == {}


def test_saving_again_replaces_the_vector_and_the_cache(sessions):
    paper = topical_papers()[0]
    embeddings = PaperEmbeddings(sessions, "m")
    embeddings.save([(paper.id, text_of(paper), [1.0, 0.0])])
    assert np.allclose(embeddings.vectors([paper.id])[paper.id], [1, 0])  # now cached
    embeddings.save([(paper.id, text_of(paper), [0.0, 1.0])])
    assert np.allclose(embeddings.vectors([paper.id])[paper.id], [0, 1])
    assert np.allclose(PaperEmbeddings(sessions, "m").vectors([paper.id])[paper.id], [0, 1])
