"""Tests for digest.categories: Cool Papers' algebra, matching semantics and feed grouping."""

from __future__ import annotations

import dataclasses

import pytest

from digest.categories import CategoryExpr, merge_exprs, parse_expr
from digest.errors import BadInput, UnknownCategory
from digest.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def parse(taxonomy):
    return lambda text: parse_expr(text, taxonomy)


CS_COUNT = 40  # 40 categories listed in cs, all distinct after folding cs.NA/cs.SY


@pytest.mark.parametrize(
    ("text", "include", "exclude"),
    [
        ("cs.AI+cs.LG-cs.CY", {"cs.AI", "cs.LG"}, {"cs.CY"}),
        ("cs.CL cs.LG", {"cs.CL", "cs.LG"}, set()),
        ("cs.CL, cs.LG", {"cs.CL", "cs.LG"}, set()),
        ("cs.CL,cs.LG;stat.ML", {"cs.CL", "cs.LG", "stat.ML"}, set()),
        ("CS.cl + Cs.Lg", {"cs.CL", "cs.LG"}, set()),
        ("cs.LG -cs.CY", {"cs.LG"}, {"cs.CY"}),
        ("cs.LG - cs.CY", {"cs.LG"}, {"cs.CY"}),
        ("cs.LG-cs.CY-cs.CL", {"cs.LG"}, {"cs.CY", "cs.CL"}),
        ("cs.LG-cs.CY+cs.AI", {"cs.LG", "cs.AI"}, {"cs.CY"}),
        ("hep-th", {"hep-th"}, set()),
        ("hep-th-hep-ph", {"hep-th"}, {"hep-ph"}),
        ("hep-th+hep-ph", {"hep-th", "hep-ph"}, set()),
        ("cond-mat.mtrl-sci-physics.chem-ph", {"cond-mat.mtrl-sci"}, {"physics.chem-ph"}),
        ("math.MP", {"math-ph"}, set()),
        ("cs.SY+cs.NA", {"eess.SY", "math.NA"}, set()),
        ("stat.TH-math.IT", {"math.ST"}, {"cs.IT"}),
        ("cmp-lg", {"cs.CL"}, set()),
        ("cs.LG+cs.LG cs.lg", {"cs.LG"}, set()),
    ],
)
def test_parse_expr_reads_cool_papers_syntax(parse, text, include, exclude):
    expr = parse(text)
    assert expr.include == include
    assert expr.exclude == exclude


def test_whole_archive_expands_to_its_canonical_categories(parse):
    expr = parse("cs")
    assert len(expr.include) == CS_COUNT
    assert {"cs.AI", "cs.CL", "math.NA", "eess.SY"} <= expr.include
    assert "cs.NA" not in expr.include
    assert expr.archives == {"cs"}


def test_archive_with_exclusion_keeps_the_archive_and_drops_the_category(parse):
    expr = parse("cs-cs.CY")
    assert expr.archives == {"cs"}
    assert "cs.CY" not in expr.include
    assert len(expr.include) == CS_COUNT - 1
    assert expr.exclude == {"cs.CY"}


def test_excluding_a_whole_archive(parse):
    expr = parse("cs.LG+stat.ML-stat")
    assert expr.include == {"cs.LG"}
    assert expr.excluded_archives == {"stat"}
    assert "stat.ML" in expr.exclude


def test_exclusion_wins_over_inclusion_of_the_same_category(parse):
    assert parse("cs.AI+cs.CY-cs.CY").include == {"cs.AI"}


@pytest.mark.parametrize(
    ("text", "name", "first_suggestion"),
    [
        ("cs.LGG", "cs.LGG", "cs.LG"),
        ("cs.AI+cs.LGG", "cs.LGG", "cs.LG"),
        ("cs.AI-cs.LGG", "cs.LGG", "cs.LG"),
        ("cs.XX-cs.CY", "cs.XX", None),
        ("computation and language", "computation and language", "cs.CL"),
        ("cs.AI, machine learning", "machine learning", "cs.LG"),
        ("quant-pj", "quant-pj", "quant-ph"),
        ("cs.CL.", "cs.CL.", "cs.CL"),
        ("test", "test", None),
    ],
)
def test_unknown_names_raise_with_suggestions(parse, text, name, first_suggestion):
    with pytest.raises(UnknownCategory) as err:
        parse(text)
    assert err.value.name == name
    if first_suggestion is None:
        assert first_suggestion not in err.value.suggestions
    else:
        assert err.value.suggestions[0] == first_suggestion
        assert first_suggestion in str(err.value)


@pytest.mark.parametrize("text", ["", "   ", "+ , +", "-cs.CY", "cs-cs"])
def test_expressions_that_follow_nothing_are_bad_input(parse, text):
    with pytest.raises(BadInput) as err:
        parse(text)
    assert not isinstance(err.value, UnknownCategory)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cs.LG+cs.AI-cs.CY", "cs.AI+cs.LG-cs.CY"),
        ("cs.cl cs.lg", "cs.CL+cs.LG"),
        ("cs", "cs"),
        ("cs-cs.CY", "cs-cs.CY"),
        ("cs+cs.AI", "cs"),
        ("math.OC+cs", "cs+math.OC"),
        ("cs.LG-stat", "cs.LG-stat"),
        ("math.MP+hep-th", "hep-th+math-ph"),
        ("astro-ph", "astro-ph"),
    ],
)
def test_str_is_sorted_canonical_text(parse, text, canonical):
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    "text", ["cs.AI+cs.LG-cs.CY", "cs-cs.CY-cs.CL", "astro-ph+gr-qc", "cs.LG-stat", "cs.SY+math.MP", "eess+cs.SY"]
)
def test_str_parses_back_to_an_equal_expression(parse, text):
    expr = parse(text)
    assert parse(str(expr)) == expr


@pytest.mark.parametrize(
    ("text", "categories", "expected"),
    [
        ("cs.AI+cs.LG-cs.CY", ["cs.LG"], True),
        ("cs.AI+cs.LG-cs.CY", ["stat.ML", "cs.LG"], True),  # a cross-list is in
        ("cs.AI+cs.LG-cs.CY", ["cs.LG", "cs.CY"], False),  # any excluded category removes it
        ("cs.AI+cs.LG-cs.CY", ["cs.CY", "cs.AI"], False),
        ("cs.AI+cs.LG-cs.CY", ["cs.CL"], False),
        ("cs.AI+cs.LG-cs.CY", [], False),
        ("cs", ["cs.RO"], True),
        ("cs", ["math.NA", "cs.NA"], True),
        ("cs-cs.CY", ["cs.CY"], False),
        ("math.NA", ["cs.NA"], True),  # an alias on the paper still matches
        ("cs.NA", ["math.NA"], True),
        ("eess-cs.SY", ["eess.SY"], False),  # the alias excludes its canonical
        ("astro-ph", ["astro-ph"], True),  # old papers carry the bare archive name
        ("astro-ph", ["astro-ph.CO"], True),
        ("hep-th", ["hep-th", "gr-qc"], True),
        ("hep-th-gr-qc", ["hep-th", "gr-qc"], False),
    ],
)
def test_matches_any_included_and_no_excluded_category(parse, text, categories, expected):
    assert parse(text).matches(categories) is expected


def test_feed_groups_use_archive_names_and_skip_exclusions(parse):
    assert parse("cs-cs.CY+math.OC").feed_groups() == ["cs+math.OC"]
    assert parse("cs.AI+cs.LG-cs.CY").feed_groups() == ["cs.AI+cs.LG"]


def test_feed_groups_never_ask_for_a_category_twice(parse):
    assert parse("cs+cs.AI+cs.SY").feed_groups() == ["cs"]


def test_feed_groups_split_long_lists(parse, taxonomy):
    every_math = "+".join(c.id for c in taxonomy.categories_in_archive("math"))
    groups = parse(every_math).feed_groups(per_request=10)
    names = [name for group in groups for name in group.split("+")]
    assert all(len(group.split("+")) <= 10 for group in groups)
    assert len(names) == len(set(names)) == len(parse(every_math).include)


def test_union_adds_and_lifts_exclusions_the_other_follows(parse):
    merged = parse("cs.AI-cs.CY").union(parse("cs.CY+cs.CL"))
    assert str(merged) == "cs.AI+cs.CL+cs.CY"
    assert str(parse("cs.AI-cs.CY").union(parse("cs.LG"))) == "cs.AI+cs.LG-cs.CY"
    assert str(parse("cs-cs.CY").union(parse("math.OC"))) == "cs+math.OC-cs.CY"


def test_minus_removes_categories_and_archives(parse):
    assert str(parse("cs.AI+cs.LG").minus(["cs.lg"])) == "cs.AI"
    assert str(parse("cs+math.OC-cs.CY").minus(["cs"])) == "math.OC"
    assert parse("cs.AI").minus(["cs.AI"]).is_empty


def test_minus_inside_a_followed_archive_becomes_an_exclusion(parse):
    expr = parse("cs").minus(["cs.CY"])
    assert str(expr) == "cs-cs.CY"
    assert not expr.matches(["cs.CY"])


def test_minus_accepts_aliases_and_rejects_unknown_names(parse):
    assert str(parse("math.NA+cs.LG").minus(["cs.NA"])) == "cs.LG"
    with pytest.raises(UnknownCategory):
        parse("cs.AI").minus(["cs.XX"])


def test_expressions_are_frozen_hashable_and_compare_by_content(parse):
    a, b = parse("cs.AI+cs.LG"), parse("cs.lg cs.ai")
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.include = frozenset()  # type: ignore[misc]


def test_merge_exprs_folds_categories_into_followed_archives(parse):
    exprs = [parse("cs.AI+cs.LG"), parse("cs-cs.CY"), parse("math.OC+stat.ML"), parse("hep-th")]
    assert merge_exprs(exprs) == ["cs+hep-th+math.OC+stat.ML"]


def test_merge_exprs_groups_names_per_request(parse, taxonomy):
    exprs = [parse(c.id) for c in taxonomy.categories_in_archive("math")] + [parse("cs.AI")]
    paths = merge_exprs(exprs, per_request=25)
    names = [name for path in paths for name in path.split("+")]
    assert [len(path.split("+")) for path in paths] == [25, 8]  # 32 math categories (cs.IT, math-ph folded) + cs.AI
    assert len(names) == len(set(names))
    assert "cs.AI" in names and "cs.IT" in names and "math-ph" in names


def test_merge_exprs_of_nothing_is_nothing():
    assert merge_exprs([]) == []


def test_category_expr_can_be_built_directly():
    expr = CategoryExpr(include=frozenset({"cs.CL"}))
    assert expr.matches(["cs.CL"]) and str(expr) == "cs.CL"
