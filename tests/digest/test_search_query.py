"""The /search query language: words, phrases, exclusions, authors, categories, dates, ids."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.search_query import BadQuery, SearchQuery, parse_query


def test_words_phrases_exclusions_authors_and_categories_are_told_apart():
    q = parse_query('Diffusion "Video Generation" -survey -"user study" au:hinton au:"Yann LeCun" cat:cs.cv')
    assert q.words == ("diffusion",)
    assert q.phrases == ("video generation",)
    assert q.exclude == ("survey", "user study")
    assert q.authors == ("hinton", "Yann LeCun")
    assert q.categories == ("cs.CV",)
    assert q.paper_id is None


@pytest.mark.parametrize(("text", "after", "before"), [
    ("x after:2025-01-01", dt.date(2025, 1, 1), None),
    ("x before:2025-06-30", None, dt.date(2025, 6, 30)),
    ("x after:2025-03 before:2025-03", dt.date(2025, 3, 1), dt.date(2025, 3, 31)),
    ("x before:2024", None, dt.date(2024, 12, 31)),
    ("x date:2025-01..2025-03", dt.date(2025, 1, 1), dt.date(2025, 3, 31)),
    ("x date:2025-02", dt.date(2025, 2, 1), dt.date(2025, 2, 28)),
    ("x date:2025-05-01..", dt.date(2025, 5, 1), None),
    ("x date:..2025-05", None, dt.date(2025, 5, 31)),
])
def test_date_filters_are_inclusive_and_take_years_months_or_days(text, after, before):
    q = parse_query(text)
    assert (q.after, q.before) == (after, before)


@pytest.mark.parametrize("text", [
    "2501.01234", "arXiv:2501.01234v2", "https://arxiv.org/abs/2501.01234", "https://arxiv.org/pdf/2501.01234v3.pdf",
])
def test_an_arxiv_id_or_link_names_the_paper_instead_of_searching(text):
    assert parse_query(text) == SearchQuery(paper_id="2501.01234")


def test_an_id_among_other_words_is_just_a_word():
    q = parse_query("2501.01234 diffusion")
    assert q.paper_id is None and q.words == ("2501.01234", "diffusion")


@pytest.mark.parametrize(("text", "category"), [
    ("cat:cs.cl", "cs.CL"), ("cat:CS", "cs"), ("cat:q-bio.nc", "q-bio.NC"), ("cat:cond-mat.MES-HALL", "cond-mat.mes-hall"),
    ("cat:hep-th", "hep-th"),
])
def test_categories_are_written_the_way_arxiv_writes_them(text, category):
    assert parse_query(text).categories == (category,)


@pytest.mark.parametrize(("text", "message"), [
    ("", "What should I search for"),
    ("   ", "What should I search for"),
    ("x after:2025-13-01", "not a real date"),
    ("x after:yesterday", "not a date"),
    ("x after:2025-06-01 before:2025-01-01", "range is empty"),
    ("cat:cs..CL", "not a category"),
    ("au:", "au: needs a name"),
    ("-- ... !!", "could not find anything"),
    ("x " * 300, "keep it under"),
])
def test_mistakes_get_a_message_saying_what_is_wrong(text, message):
    with pytest.raises(BadQuery, match=message):
        parse_query(text)


def test_a_colon_that_is_no_filter_stays_text():
    assert parse_query("http://example.org c:foo").words == ("http://example.org", "c:foo")


def test_filters_alone_are_a_valid_query_without_text():
    q = parse_query("cat:cs.CL after:2025-06")
    assert not q.has_text and not q.is_empty


@pytest.mark.parametrize("text", [
    'diffusion "video generation" -survey -"user study" au:"yann lecun" cat:cs.CV after:2025-01-01 before:2025-03-31',
    "2501.01234",
    "cat:cs date:2025-02",
])
def test_the_canonical_form_parses_back_to_the_same_query(text):
    q = parse_query(text)
    assert parse_query(q.canonical()) == q


def test_repeated_terms_count_once_and_an_unclosed_quote_ends_the_phrase():
    q = parse_query('graph graph "neural networks')
    assert q.words == ("graph",) and q.phrases == ("neural networks",)
