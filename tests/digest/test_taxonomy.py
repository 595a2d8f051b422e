"""Tests for digest.taxonomy: the shipped categories, alias folding, search and suggestions."""

from __future__ import annotations

import dataclasses
import json

import pytest

from digest.data import make_taxonomy
from digest.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def test_ships_the_155_active_categories_in_20_archives(taxonomy):
    assert len(taxonomy.categories) == 155
    assert len(taxonomy.archives()) == 20
    assert {c.archive for c in taxonomy.categories.values()} == {a.id for a in taxonomy.archives()}


def test_load_taxonomy_reads_once(taxonomy):
    assert load_taxonomy() is taxonomy


def test_taxonomy_is_frozen(taxonomy):
    with pytest.raises(dataclasses.FrozenInstanceError):
        taxonomy.popular = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        taxonomy.categories["cs.XX"] = taxonomy.categories["cs.AI"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("cs.CL", "cs.CL"),
        ("cs.cl", "cs.CL"),
        ("CS.CL", "cs.CL"),
        ("  cs.LG ", "cs.LG"),
        ("hep-th", "hep-th"),
        ("HEP-TH", "hep-th"),
        ("cond-mat.mtrl-sci", "cond-mat.mtrl-sci"),
        ("math.MP", "math-ph"),
        ("stat.TH", "math.ST"),
        ("math.IT", "cs.IT"),
        ("q-fin.EC", "econ.GN"),
        ("cs.SY", "eess.SY"),
        ("cs.NA", "math.NA"),
        ("math-ph", "math-ph"),
        ("eess.SY", "eess.SY"),
        ("cmp-lg", "cs.CL"),
        ("alg-geom", "math.AG"),
    ],
)
def test_canonical_folds_case_aliases_and_retired_archives(taxonomy, spelling, canonical):
    assert taxonomy.canonical(spelling) == canonical


@pytest.mark.parametrize("name", ["cs", "math", "astro-ph", "cs.XX", "", "nonsense", "cs.LGG"])
def test_canonical_is_none_for_archives_and_unknown_names(taxonomy, name):
    assert taxonomy.canonical(name) is None


def test_aliases_fold_in_both_directions_to_one_id(taxonomy):
    for alias, canonical in [("math.MP", "math-ph"), ("cs.NA", "math.NA"), ("cs.SY", "eess.SY")]:
        assert taxonomy.aliases_of(canonical) == frozenset({alias, canonical})
    assert taxonomy.aliases_of("cs.LG") == frozenset({"cs.LG"})


def test_six_aliases_leave_149_distinct_categories(taxonomy):
    assert len({c.canonical for c in taxonomy.categories.values()}) == 149


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cs", True), ("CS", True), ("hep-th", True), ("astro-ph", True), ("cs.AI", False), ("cmp-lg", False), ("test", False)],
)
def test_is_archive(taxonomy, name, expected):
    assert taxonomy.is_archive(name) is expected


def test_single_category_archive_is_both_archive_and_category(taxonomy):
    assert taxonomy.is_archive("hep-th")
    assert [c.id for c in taxonomy.categories_in_archive("hep-th")] == ["hep-th"]
    assert taxonomy.categories["hep-th"].archive == "hep-th"


def test_categories_in_archive_lists_aliases_of_that_archive(taxonomy):
    ids = [c.id for c in taxonomy.categories_in_archive("cs")]
    assert len(ids) == 40
    assert {"cs.AI", "cs.NA", "cs.SY"} <= set(ids)
    assert ids == sorted(ids)
    assert taxonomy.categories_in_archive("nope") == []


def test_archives_come_in_arxiv_home_page_order(taxonomy):
    ids = [a.id for a in taxonomy.archives()]
    assert ids[0] == "astro-ph"
    assert ids.index("quant-ph") < ids.index("math") < ids.index("cs") < ids.index("q-bio") < ids.index("econ")
    assert taxonomy.archive_map["cs"].group == "Computer Science"


@pytest.mark.parametrize(
    ("name", "display"),
    [
        ("cs.CL", "Computation and Language"),
        ("cs.cl", "Computation and Language"),
        ("math.MP", "Mathematical Physics"),
        ("cs", "Computer Science"),
        ("hep-th", "High Energy Physics - Theory"),
        ("nope", None),
    ],
)
def test_name_of_categories_and_archives(taxonomy, name, display):
    assert taxonomy.name_of(name) == display


def test_categories_carry_group_and_description(taxonomy):
    cl = taxonomy.categories["cs.CL"]
    assert cl.group == "Computer Science"
    assert "natural language" in cl.description.lower()
    assert taxonomy.categories["quant-ph"].description == ""


def test_popular_list_starts_with_ai_and_is_all_real_categories(taxonomy):
    assert taxonomy.popular[:4] == ("cs.AI", "cs.CL", "cs.CV", "cs.LG")
    assert 10 <= len(taxonomy.popular) <= 16
    assert [c.id for c in taxonomy.popular_categories()] == list(taxonomy.popular)
    assert all(taxonomy.canonical(cid) == cid for cid in taxonomy.popular)


@pytest.mark.parametrize(
    ("words", "first"),
    [
        ("language", "cs.CL"),
        ("Computation and Language", "cs.CL"),
        ("cs.CL", "cs.CL"),
        ("computer vision", "cs.CV"),
        ("quantum", "quant-ph"),
        ("robotics", "cs.RO"),
        ("nlp", "cs.CL"),
        ("neuroscience", "q-bio.NC"),
        ("dark matter", "astro-ph.CO"),
    ],
)
def test_search_ranks_the_obvious_category_first(taxonomy, words, first):
    assert taxonomy.search(words)[0].id == first


def test_search_requires_every_word_and_skips_aliases(taxonomy):
    assert taxonomy.search("numerical analysis")[0].id == "math.NA"
    assert "cs.NA" not in [c.id for c in taxonomy.search("numerical analysis")]
    assert taxonomy.search("quantum zebra") == []
    assert taxonomy.search("") == []


def test_search_finds_both_machine_learning_categories(taxonomy):
    assert [c.id for c in taxonomy.search("machine learning")][:2] == ["cs.LG", "stat.ML"]


@pytest.mark.parametrize(
    ("bad", "expected_first"),
    [
        ("cs.cl", ["cs.CL"]),
        ("computation and language", ["cs.CL"]),
        ("cs.LGG", ["cs.LG"]),
        ("machine learning", ["cs.LG", "stat.ML"]),
        ("cs cl", ["cs.CL"]),
        ("cs_cl", ["cs.CL"]),
        ("cscv", ["cs.CV"]),
        ("quant-pj", ["quant-ph"]),
        ("hep-tj", ["hep-th"]),
        ("Computer Science", ["cs"]),
        ("astro", ["astro-ph"]),
        ("ml", ["cs.LG", "stat.ML"]),
    ],
)
def test_suggest_offers_what_was_probably_meant(taxonomy, bad, expected_first):
    suggestions = taxonomy.suggest(bad)
    assert suggestions[: len(expected_first)] == expected_first
    assert len(suggestions) <= 5
    assert len(suggestions) == len(set(suggestions))


@pytest.mark.parametrize("bad", ["xyzzy", "", "   ", "!!!"])
def test_suggest_offers_nothing_for_gibberish(taxonomy, bad):
    assert taxonomy.suggest(bad) == []


def test_suggestions_are_always_known_names(taxonomy):
    for bad in ["cs.A", "mathh", "physic", "stat.m", "eess", "quantum physics", "q-fin.XX"]:
        for suggestion in taxonomy.suggest(bad):
            assert taxonomy.canonical(suggestion) == suggestion or taxonomy.is_archive(suggestion)


def test_shipped_json_matches_a_fresh_build_from_arxivs_export(shared_data):
    fresh = make_taxonomy.build(shared_data / "taxonomy")
    shipped = json.loads(make_taxonomy.OUTPUT.read_text(encoding="utf-8"))
    assert fresh == shipped
