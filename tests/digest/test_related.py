"""Related papers: whole-text TF-IDF cosine over every stored paper, and the Cool Papers baseline."""

from __future__ import annotations

import dataclasses
import json

import pytest

from digest.db import make_sessionmaker
from digest.related import PaperVectors, RelatedFinder
from digest.search import PaperSearch, create_search_index
from digest.store import PaperStore
from tests.fakes.find_papers import by_topic, topical_papers


@pytest.fixture
def sessions(engine):
    with engine.begin() as conn:
        create_search_index(conn)
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    return maker


@pytest.fixture
def finder(engine, sessions) -> RelatedFinder:
    return RelatedFinder(PaperVectors(sessions), PaperSearch(engine))


@pytest.mark.parametrize("topic", [1, 2, 3, 4])
def test_related_papers_are_the_other_papers_of_the_same_topic(finder, topic):
    papers = by_topic(topical_papers(), topic)
    hits = finder.related(papers[0], k=4)
    assert {h.id for h in hits} == {p.id for p in papers[1:]}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_paper_is_never_related_to_itself(finder):
    paper = topical_papers()[0]
    assert paper.id not in {h.id for h in finder.related(paper, k=50)}


def test_a_paper_that_is_not_stored_can_still_be_compared(finder):
    outsider = dataclasses.replace(topical_papers()[10], id="2512.99999", title="A new speech recognition encoder")
    hits = finder.related(outsider, k=3)
    assert {h.id for h in hits} <= {p.id for p in by_topic(topical_papers(), 3)}


def test_papers_stored_later_are_found_after_a_refresh(finder, sessions):
    paper = by_topic(topical_papers(), 4)[0]
    finder.related(paper)  # fits the vectors
    twin = dataclasses.replace(paper, id="2509.00001", title=paper.title + " (extended)")
    PaperStore(sessions).upsert_papers([twin])
    assert finder.related(paper, k=1)[0].id == twin.id


def test_the_cool_papers_baseline_queries_bm25_with_keywords(finder):
    papers = by_topic(topical_papers(), 2)
    assert len(finder.vectors.keywords(papers[0], 10)) == 10
    hits = finder.baseline(papers[0], k=4)
    assert papers[0].id not in {h.id for h in hits}
    assert {h.id for h in hits} <= {p.id for p in papers}


def test_an_empty_store_relates_nothing(engine):
    finder = RelatedFinder(PaperVectors(make_sessionmaker(engine)), PaperSearch(engine))
    assert finder.related(topical_papers()[0]) == []


def test_related_on_the_real_sample_keeps_to_the_topic(engine, shared_data):
    """On 1,000 real papers, a paper's related list shares its primary archive most of the time."""
    from digest.importer import paper_from_record

    lines = (shared_data / "corpus" / "sample_1000_cs_cv_cl_ai.jsonl").read_text().splitlines()
    papers = [paper_from_record(json.loads(line)) for line in lines]
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(papers)
    finder = RelatedFinder(PaperVectors(maker), PaperSearch(engine))
    same = total = 0
    for paper in papers[:40]:
        related = PaperStore(maker).get_papers([h.id for h in finder.related(paper, 10)])
        same += sum(p.primary == paper.primary for p in related.values())
        total += len(related)
    assert total == 400
    assert same / total > 0.6


def test_a_bot_started_on_an_empty_store_refits_once_papers_arrive(engine):
    maker = make_sessionmaker(engine)
    finder = RelatedFinder(PaperVectors(maker), PaperSearch(engine))
    assert finder.related(topical_papers()[0]) == []  # fitted on nothing
    PaperStore(maker).upsert_papers(topical_papers())
    papers = by_topic(topical_papers(), 2)
    assert {h.id for h in finder.related(papers[0], k=4)} == {p.id for p in papers[1:]}
