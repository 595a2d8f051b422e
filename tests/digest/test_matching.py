"""Which papers a subscription gets, in what order and why: the rules a reader relies on."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.day_index import DayIndex, AuthorName
from digest.matching import build_digest
from digest.models import AnnounceType, Paper
from digest.subscriptions import Subscription

DAY = dt.date(2026, 6, 16)


def paper(pid: str, cats: tuple[str, ...], title: str = "A study", abstract: str = "", authors=("Ada Lovelace",)) -> Paper:
    return Paper(id=pid, title=title, authors=tuple(authors), abstract=abstract, categories=cats)


def day(*items: tuple[Paper, AnnounceType]) -> DayIndex:
    return DayIndex.build(list(items))


NEW, CROSS, REPLACE = AnnounceType.NEW, AnnounceType.CROSS, AnnounceType.REPLACE


@pytest.fixture
def index() -> DayIndex:
    return day(
        (paper("2606.00001", ("cs.CL",), "Diffusion language models", authors=("Yann LeCun", "B. Author")), NEW),
        (paper("2606.00002", ("cs.LG", "cs.CL"), "Scaling laws for <&> tokens"), NEW),
        (paper("2606.00003", ("cs.CV",), "Vision transformers", "We study self-supervised learning."), NEW),
        (paper("2606.00004", ("cs.CL",), "An old paper, version 2"), REPLACE),
        (paper("2606.00005", ("cs.CY", "cs.CL"), "Ethics of chatbots"), NEW),
        (paper("2606.00006", ("math.NA",), "Numerical analysis", authors=("Fei-Fei Li",)), NEW),
    )


def ids(digest) -> list[str]:
    return [e.paper.id for e in digest.entries]


def test_new_papers_and_cross_lists_are_in_replacements_are_not_by_default(index):
    digest = build_digest(index, Subscription("c", categories="cs.CL"), DAY)
    assert set(ids(digest)) == {"2606.00001", "2606.00002", "2606.00005"}
    kinds = {e.paper.id: e.kind for e in digest.entries}
    assert kinds == {"2606.00001": "new", "2606.00002": "cross", "2606.00005": "cross"}
    assert (digest.counts.new, digest.counts.cross, digest.counts.matched, digest.counts.replaced) == (1, 2, 3, 1)


def test_switches_for_cross_lists_and_replacements(index):
    no_cross = build_digest(index, Subscription("c", categories="cs.CL", include_cross=False), DAY)
    assert ids(no_cross) == ["2606.00001"]
    with_replacements = build_digest(index, Subscription("c", categories="cs.CL", include_replacements=True), DAY)
    assert "2606.00004" in ids(with_replacements)
    assert with_replacements.entries[-1].kind == "replace"


def test_category_algebra_excludes_and_whole_archives(index):
    digest = build_digest(index, Subscription("c", categories="cs.CL-cs.CY"), DAY)
    assert "2606.00005" not in ids(digest)
    whole_cs = build_digest(index, Subscription("c", categories="cs"), DAY)
    # math.NA is cs.NA under another name, so a whole-`cs` subscription gets it too
    assert set(ids(whole_cs)) == {"2606.00001", "2606.00002", "2606.00003", "2606.00005", "2606.00006"}


def test_alias_categories_fold_together(index):
    digest = build_digest(index, Subscription("c", categories="cs.NA"), DAY)
    assert ids(digest) == ["2606.00006"]


def test_keyword_hits_come_first_with_their_reason(index):
    digest = build_digest(index, Subscription("c", categories="cs.CL", keywords=("scaling law",)), DAY)
    assert ids(digest)[0] == "2606.00002"
    assert digest.entries[0].reason == "matches “scaling law”"
    assert digest.counts.matched == 3  # nothing hidden, only ordered


def test_keywords_only_shows_just_the_matches(index):
    digest = build_digest(index, Subscription("c", categories="cs", keywords=("self-supervised",), keywords_only=True), DAY)
    assert ids(digest) == ["2606.00003"]


def test_followed_authors_come_first_from_any_category(index):
    digest = build_digest(index, Subscription("c", categories="cs.CV", authors=("Y. LeCun", "Fei-Fei Li")), DAY)
    assert ids(digest)[:2] == ["2606.00001", "2606.00006"]
    assert digest.entries[0].reason == "by Y. LeCun"
    assert ids(digest)[2] == "2606.00003"


def test_excluded_words_remove_papers_but_not_followed_authors(index):
    sub = Subscription("c", categories="cs.CL", exclude=("diffusion", "chatbots"), authors=("Yann LeCun",))
    digest = build_digest(index, sub, DAY)
    assert ids(digest) == ["2606.00001", "2606.00002"]
    assert digest.counts.excluded == 1


def test_papers_already_shown_never_come_again(index):
    digest = build_digest(index, Subscription("c", categories="cs.CL"), DAY, seen={"2606.00001"})
    assert "2606.00001" not in ids(digest)
    assert digest.counts.seen_before == 1


def test_personal_scores_order_papers_within_their_group(index):
    def personal(chat_id, papers):
        return {"2606.00005": (0.9, "close to your saved 2501.01234")}

    digest = build_digest(index, Subscription("c", categories="cs.CL"), DAY, personal=personal)
    assert ids(digest)[0] == "2606.00005"
    assert digest.entries[0].reason == "close to your saved 2501.01234"


def test_new_papers_come_before_cross_lists_and_every_entry_has_a_reason(index):
    digest = build_digest(index, Subscription("c", categories="cs.CL"), DAY)
    assert digest.entries[0].kind == "new"
    assert all(e.reason for e in digest.entries)
    assert digest.entries[0].reason == "new in cs.CL"


def test_a_subscription_with_only_keywords_searches_the_whole_day(index):
    digest = build_digest(index, Subscription("c", keywords=("vision",)), DAY)
    assert ids(digest) == ["2606.00003"]


def test_keyword_phrases_need_the_words_together():
    index = day(
        (paper("1", ("cs.CL",), "Large language models"), NEW),
        (paper("2", ("cs.CL",), "Language and large models"), NEW),
    )
    digest = build_digest(index, Subscription("c", categories="cs.CL", keywords=("large language model",), keywords_only=True), DAY)
    assert ids(digest) == ["1"]


def test_latex_in_titles_does_not_hide_keywords():
    index = day((paper("1", ("cs.LG",), r"Sub-$\sqrt{T}$ regret for Schr\"odinger bridges"), NEW))
    digest = build_digest(index, Subscription("c", categories="cs.LG", keywords=("schrödinger",), keywords_only=True), DAY)
    assert ids(digest) == ["1"]


@pytest.mark.parametrize(
    ("wanted", "candidate", "same"),
    [
        ("Yann LeCun", "Y. LeCun", True),
        ("Yann LeCun", "Yann LeCun", True),
        ("Yann LeCun", "Yves LeCun", False),
        ("LeCun, Yann", "Yann LeCun", True),
        ("José García", "Jose Garcia", True),
        ("Li", "Fei-Fei Li", True),
    ],
)
def test_author_names_match_with_initials_and_accents(wanted, candidate, same):
    assert AuthorName.parse(wanted).compatible(AuthorName.parse(candidate)) is same
