"""Full-text search: BM25 ranking, every filter, paging, and an index that follows the papers table."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import delete

from digest.db import make_engine, make_sessionmaker
from digest.schema import PaperRow
from digest.search import (
    PaperSearch,
    create_search_index,
    drop_search_index,
    ensure_search_index,
    rebuild_search_index,
    search_index_exists,
    suspend_search_index,
)
from digest.search_query import parse_query
from digest.store import PaperStore
from tests.fakes.find_papers import by_topic, topical_papers


def _load(engine) -> PaperStore:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        create_search_index(conn)
    store = PaperStore(make_sessionmaker(engine))
    store.upsert_papers(topical_papers())
    return store


@pytest.fixture
def store(engine) -> PaperStore:
    return _load(engine)


@pytest.fixture
def search(engine, store) -> PaperSearch:
    return PaperSearch(engine)


def ids(search: PaperSearch, query: str, **kw) -> list[str]:
    return [h.id for h in search.search(parse_query(query), **kw).hits]


def test_words_find_their_topic_and_a_title_match_ranks_first(search):
    found = ids(search, "speech recognition")
    speech = {p.id for p in by_topic(topical_papers(), 3)}
    assert set(found) == speech
    titled = [p.id for p in by_topic(topical_papers(), 3) if "Speech Recognition" in p.title]
    assert set(found[: len(titled)]) == set(titled)


def test_words_are_stemmed(search):
    assert set(ids(search, "grasps")) == set(ids(search, "grasping"))


def test_a_phrase_must_appear_in_order(search):
    assert ids(search, '"chain of thought"') == ["2502.00402"]
    assert ids(search, '"thought chain"') == []


def test_excluded_words_drop_papers(search):
    every = ids(search, "speech")
    kept = ids(search, "speech -survey")
    assert len(kept) == len(every) - 1
    assert all("Survey" not in p.title for p in topical_papers() if p.id in kept)


def test_an_author_filter_matches_names_including_accents_and_middle_order(search):
    assert set(ids(search, "au:gripper")) == {p.id for p in topical_papers() if "Gus Gripper" in p.authors}
    assert ids(search, 'au:"jose nunez"') == ["2502.00002"]
    assert ids(search, 'au:"Núñez José"') == ["2502.00002"]


def test_plain_words_also_match_authors(search):
    assert "2502.00002" in ids(search, "nunez")


@pytest.mark.parametrize(("query", "expected"), [
    ("cat:cs.RO", {p.id for p in by_topic(topical_papers(), 4)}),
    ("cat:eess", {p.id for p in by_topic(topical_papers(), 3)}),
    ("video cat:cs.AI", {p.id for p in by_topic(topical_papers(), 1) if "cs.AI" in p.categories}),
    ("cat:cs.CL cat:cs.RO", {p.id for p in topical_papers() if p.primary in {"cs.CL", "cs.RO"}}),
])
def test_category_filters_keep_primary_and_cross_listed_papers(search, query, expected):
    assert set(ids(search, query, limit=50)) == expected


def test_date_filters_are_inclusive(search):
    found = ids(search, "after:2025-02-11 before:2025-03-10", limit=50)
    assert set(found) == {p.id for p in topical_papers()
                          if p.published and "2025-02-11" <= p.published.isoformat() <= "2025-03-10"}
    assert set(ids(search, "date:2025-04", limit=50)) == {p.id for p in by_topic(topical_papers(), 4)}


def test_filters_without_words_list_the_newest_first(search):
    found = ids(search, "cat:cs.RO", limit=50)
    dates = [p.published for p in sorted(by_topic(topical_papers(), 4), key=lambda p: found.index(p.id))]
    assert dates == sorted(dates, reverse=True)


def test_when_no_paper_has_every_word_any_word_is_enough(search):
    page = search.search(parse_query("tactile zebra"), limit=10)
    assert page.relaxed and page.hits
    assert not search.search(parse_query("tactile robot"), limit=10).relaxed


def test_pages_follow_each_other_without_overlap(search):
    query = parse_query("cat:cs")
    first = search.search(query, limit=4, offset=0)
    second = search.search(query, limit=4, offset=4)
    everything = search.search(query, limit=100)
    assert first.has_more and second.has_more and not everything.has_more
    assert [h.id for h in first.hits + second.hits] == [h.id for h in everything.hits][:8]


def test_ranked_pages_keep_the_ranking_order(search):
    query = parse_query("generation")
    pages = [search.search(query, limit=3, offset=o).hits for o in (0, 3, 6)]
    joined = [h for page in pages for h in page]
    assert [h.id for h in joined] == [h.id for h in search.search(query, limit=9).hits]
    scores = [h.score for h in joined]
    assert scores == sorted(scores, reverse=True)


def test_a_very_broad_query_ranks_the_papers_with_the_words_in_their_title(engine, store):
    """Above `broad_matches` matches, only title matches are ranked (the same rule on every page)."""
    narrow = PaperSearch(engine, broad_matches=3, title_matches=2)
    titled = {p.id for p in topical_papers() if "diffusion" in p.title.lower()}
    everything = {p.id for p in topical_papers() if "diffusion" in (p.title + p.abstract).lower()}
    assert titled < everything
    pages = [[h.id for h in narrow.search(parse_query("diffusion"), limit=2, offset=o).hits] for o in (0, 2, 4)]
    assert set(pages[0] + pages[1] + pages[2]) == titled
    assert len(pages[0] + pages[1] + pages[2]) == len(titled)
    assert set(ids(PaperSearch(engine), "diffusion", limit=50)) == everything


def test_an_id_query_returns_that_paper(search):
    page = search.search(parse_query("https://arxiv.org/abs/2503.00003"))
    assert [h.id for h in page.hits] == ["2503.00003"]


def test_the_index_follows_inserts_updates_and_deletes(engine, store, search):
    paper = by_topic(topical_papers(), 4)[0]
    store.upsert_papers([dataclasses.replace(paper, title="Quantum Origami Folding", version=2)])
    assert ids(search, "origami") == [paper.id]
    assert ids(search, '"tactile feedback"') == []
    with make_sessionmaker(engine).begin() as session:
        session.execute(delete(PaperRow).where(PaperRow.id == paper.id))
    assert ids(search, "origami") == []


def test_a_rebuild_gives_the_same_answers_as_the_triggers(engine, search):
    before = {q: ids(search, q, limit=50) for q in ("video", "au:grasp", '"speech recognition"', "retrieval -dense")}
    with engine.begin() as conn:
        assert rebuild_search_index(conn) == len(topical_papers())
    assert {q: ids(search, q, limit=50) for q in before} == before


def test_a_suspended_index_is_brought_up_to_date_by_ensure_search_index(engine, store, search):
    with engine.begin() as conn:
        suspend_search_index(conn)
    paper = by_topic(topical_papers(), 1)[0]
    store.upsert_papers([dataclasses.replace(paper, id="2509.00009", title="Origami Robots")])
    assert ids(search, "origami") == []
    assert ensure_search_index(engine) == len(topical_papers()) + 1
    assert ids(search, "origami") == ["2509.00009"]
    store.upsert_papers([dataclasses.replace(paper, id="2509.00010", title="Origami Again")])
    assert set(ids(search, "origami")) == {"2509.00009", "2509.00010"}  # triggers are back


def test_ensure_search_index_creates_a_missing_index_and_drop_removes_it(engine):
    PaperStore(make_sessionmaker(engine)).upsert_papers(topical_papers())
    with engine.begin() as conn:
        drop_search_index(conn)
        assert not search_index_exists(conn)
    assert ensure_search_index(engine) == len(topical_papers())
    assert ids(PaperSearch(engine), "video", limit=50)
    assert ensure_search_index(engine) == 0


def test_a_forced_engine_must_match_the_database(engine):
    with pytest.raises(ValueError, match="postgres"):
        PaperSearch(engine, "postgres")


@pytest.mark.parametrize(("odd", "plain"), [
    ("NEAR", "near"),
    ("AND OR NOT", "and or not"),
    ("video*", "video"),
    ("title:video", "\"title video\""),  # one token to the tokenizer: a phrase, not a column filter
    ("{title}", "title"),
    ("x^2 (y)", "x 2 y"),
])
def test_odd_user_input_is_searched_literally_not_as_fts_syntax(search, odd, plain):
    """FTS5 operators typed by a user are words, not syntax: no error, and the same hits as plain words."""
    assert ids(search, odd) == ids(search, plain)


def test_a_star_is_not_a_prefix_operator(search):
    assert ids(search, "video*")  # the word itself is found...
    assert ids(search, "vid*") == []  # ...but "vid*" does not expand to "video"


@pytest.fixture
def pg_engine(pg_url):
    eng = make_engine(pg_url)
    from bot.migrate import init_db

    init_db(eng)
    yield eng
    eng.dispose()


def test_postgres_full_text_answers_the_same_kinds_of_queries(pg_engine):
    _load(pg_engine)
    search = PaperSearch(pg_engine)
    assert set(ids(search, "speech recognition")) == {p.id for p in by_topic(topical_papers(), 3)}
    assert ids(search, '"chain of thought"') == ["2502.00402"]
    assert ids(search, 'au:"jose nunez"') == []  # PostgreSQL keeps accents: the user must type them
    assert ids(search, 'au:"josé núñez"') == ["2502.00002"]
    assert set(ids(search, "cat:cs.RO", limit=50)) == {p.id for p in by_topic(topical_papers(), 4)}
    assert len(ids(search, "speech -survey")) == 4
    assert search.search(parse_query("tactile zebra")).relaxed
    narrow = PaperSearch(pg_engine, broad_matches=3, title_matches=2)
    titled = {p.id for p in topical_papers() if "diffusion" in p.title.lower()}
    assert {h.id for h in narrow.search(parse_query("diffusion"), limit=50).hits} == titled


def test_a_broad_postgres_search_ranks_recent_matches_first_then_older_ones(pg_engine, monkeypatch):
    import digest.search

    papers = topical_papers()
    titled = [p for p in papers if "diffusion" in p.title.lower()]
    moved = {p.id: dataclasses.replace(p, published=dt.date(2025, 4, 20 + i)) for i, p in enumerate(titled[:2])}
    papers = [moved.get(p.id, p) for p in papers]
    with pg_engine.begin() as conn:
        create_search_index(conn)
    PaperStore(make_sessionmaker(pg_engine)).upsert_papers(papers)
    monkeypatch.setattr(digest.search, "_RECENT_PAPERS", 5)  # "recent": the months of the 6 newest papers
    floor = sorted((p.published for p in papers), reverse=True)[5]
    titled = [p for p in papers if "diffusion" in p.title.lower()]
    recent = {p.id for p in titled if (p.published.year, p.published.month) >= (floor.year, floor.month)}
    assert 0 < len(recent) < len(titled)
    every = PaperSearch(pg_engine, broad_matches=3, title_matches=2, window_matches=1000)
    assert {h.id for h in every.search(parse_query("diffusion"), limit=50).hits} == {p.id for p in titled}
    few = PaperSearch(pg_engine, broad_matches=3, title_matches=2, window_matches=len(recent))
    assert {h.id for h in few.search(parse_query("diffusion"), limit=50).hits} == recent
    older = parse_query(f"diffusion before:{floor.replace(day=1) - dt.timedelta(days=1)}")
    found = {h.id for h in few.search(older, limit=50).hits}  # ends before the recent months: no window
    assert found and not found & recent
    assert all(p.published < floor.replace(day=1) for p in papers if p.id in found)


def test_postgres_suspended_and_dropped_indexes_are_rebuilt_at_set_up_and_a_current_one_is_left_alone(pg_engine):
    _load(pg_engine)
    assert ensure_search_index(pg_engine) == 0
    with pg_engine.begin() as conn:
        suspend_search_index(conn)
    assert ensure_search_index(pg_engine) == len(topical_papers())
    with pg_engine.begin() as conn:
        drop_search_index(conn)
    assert ensure_search_index(pg_engine) == len(topical_papers())
    assert ensure_search_index(pg_engine) == 0


def test_filters_are_index_terms_so_broad_filtered_searches_rank_only_what_passes(engine, store):
    """With tiny broad thresholds every query is "broad": results must still pass every filter."""
    import datetime as dt

    from digest.search import facet_terms

    narrow = PaperSearch(engine, broad_matches=1, title_matches=1)
    for text in ("model cat:cs.CV", "retrieval cat:cs.CL after:2025-02-01", "speech cat:eess before:2025-12-31"):
        query = parse_query(text)
        hits = narrow.search(query, limit=20).hits
        papers = store.get_papers([h.id for h in hits])
        assert all(any(c.startswith(query.categories[0]) for c in p.categories) for p in papers.values()), text
        if query.after:
            assert all(p.published >= query.after for p in papers.values())
    assert facet_terms(parse_query("x cat:cs.CV cat:hep-th after:2025-11-15"), today=dt.date(2026, 2, 3)) == [
        ["catcscv", "cathepth", "archepth"], ["m202511", "m202512", "y2026", "y2027"]]
    from digest.search_query import SearchQuery

    empty = SearchQuery(words=("x",), after=dt.date(2026, 3, 1), before=dt.date(2026, 1, 1))
    assert facet_terms(empty, today=dt.date(2026, 2, 3)) == [["m000000"]]


def test_an_index_of_the_old_layout_is_rebuilt_by_the_migration(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from bot.migrate import _config, init_db
    from digest.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as conn:  # the schema at the revision before the facets index
        command.upgrade(_config(conn), "issue13_updated_at")
    PaperStore(make_sessionmaker(engine)).upsert_papers(topical_papers())
    with engine.connect() as conn:
        assert "facets" not in conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'")).scalar()
    init_db(engine)
    with engine.connect() as conn:
        assert "facets" in conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'")).scalar()
    assert PaperSearch(engine).search(parse_query("speech cat:eess")).hits
    engine.dispose()
