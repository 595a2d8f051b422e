"""RSS parsing on hand-written fixtures and on the real feeds in ../shared/data, and fetching via the fake arXiv."""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest

from digest.arxiv_http import ArxivHttp
from digest.errors import FeedUnavailable
from digest.models import AnnounceType
from digest.rss import feed_url, fetch_feed, parse_feed, split_authors
from tests.fakes.fake_arxiv import Reply, rss_feed, rss_item

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rss"
RENDERED = Path(__file__).resolve().parents[3] / "shared" / "data" / "rss" / "rendered"
RENDERED_NAMES = sorted(path.name for path in RENDERED.glob("*.xml")) if RENDERED.is_dir() else []


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_id(result):
    return {a.paper.id: a for a in result.announcements}


class TestNormalDay:
    def test_every_item_becomes_an_announcement_of_the_feed_day(self):
        result = parse_feed(fixture("normal_day.xml"), ["cs.LG"])
        assert result.feed_date == dt.date(2026, 6, 16)
        assert result.categories == ("cs.LG",)
        assert [a.announce_type for a in result.announcements] == [
            AnnounceType.NEW,
            AnnounceType.CROSS,
            AnnounceType.REPLACE,
            AnnounceType.REPLACE_CROSS,
        ]
        assert {a.day for a in result.announcements} == {dt.date(2026, 6, 16)}

    def test_papers_are_keyed_by_versionless_id_with_the_version_apart(self):
        items = by_id(parse_feed(fixture("normal_day.xml")))
        assert set(items) == {"2606.10001", "2606.10002", "2401.00123", "hep-th/9901001"}
        assert items["2401.00123"].paper.version == 3
        assert items["hep-th/9901001"].paper.version == 2

    def test_title_and_abstract_have_whitespace_collapsed(self):
        paper = by_id(parse_feed(fixture("normal_day.xml")))["2606.10001"].paper
        assert paper.title == "Sparse Gradient Descent for Very Wide Networks"
        assert paper.abstract == "We study sparse updates in wide networks. It works."

    def test_authors_are_split_on_commas_and_and_keeping_jr(self):
        paper = by_id(parse_feed(fixture("normal_day.xml")))["2606.10001"].paper
        assert paper.authors == ("Ada Lovelace", "Martin Luther King Jr.", "Grace Hopper", "Alan Turing")

    def test_categories_keep_feed_order_with_the_primary_first(self):
        cross = by_id(parse_feed(fixture("normal_day.xml")))["2606.10002"].paper
        assert cross.categories == ("q-bio.BM", "cs.LG")
        assert cross.primary == "q-bio.BM"

    def test_doi_journal_ref_and_license_are_kept(self):
        items = by_id(parse_feed(fixture("normal_day.xml")))
        replaced = items["2401.00123"].paper
        assert replaced.doi == "10.1000/xyz.2026.42"
        assert replaced.journal_ref == "J. Mach. Learn. Res. 27 (2026) 1-30"
        assert replaced.license == "http://creativecommons.org/licenses/by-sa/4.0/"
        assert items["2606.10001"].paper.doi is None


def test_markup_characters_and_latex_survive_as_raw_text_while_html_tags_become_text():
    paper = parse_feed(fixture("latex_title.xml")).announcements[0].paper
    assert paper.title == (
        r"Sub-$\sqrt{T}$ Regret for $x<y$ & $y>z$: Schr\"odinger Bridges in $\mathbb{R}^{d}$"
    )
    assert paper.abstract.startswith(r"We prove $\|x\|_2 < \epsilon$ whenever $a<b$ and not otherwise")
    assert paper.authors == (r"Paul Erd\H{o}s", r"Kurt G\"odel")


def test_the_same_paper_in_two_feeds_is_one_paper_with_two_announce_types():
    in_cl = parse_feed(fixture("same_paper_cs.CL.xml"), "cs.CL").announcements[0]
    in_ai = parse_feed(fixture("same_paper_cs.AI.xml"), "cs.AI").announcements[0]
    assert in_cl.paper == in_ai.paper
    assert (in_cl.announce_type, in_ai.announce_type) == (AnnounceType.NEW, AnnounceType.CROSS)


def test_a_weekend_feed_without_items_is_an_empty_result_not_an_error():
    result = parse_feed(fixture("empty_weekend.xml"), "cs.LG")
    assert result.announcements == ()
    assert result.feed_date == dt.date(2026, 6, 20)


@pytest.mark.parametrize("name", ["html_error.html", "truncated.xml"])
def test_documents_that_are_not_a_whole_feed_raise_feed_unavailable(name):
    with pytest.raises(FeedUnavailable):
        parse_feed(fixture(name))


def test_a_feed_cut_short_after_whole_items_is_unavailable_not_a_partial_day():
    xml = fixture("normal_day.xml")
    cut = xml[: xml.index(b"</item>", xml.index(b"</item>") + 1) + len(b"</item>")]
    with pytest.raises(FeedUnavailable, match="cut short"):
        parse_feed(cut)


@pytest.mark.parametrize("body", [b"", b"Rate exceeded.", b"\x00\x01\x02garbage"])
def test_garbage_raises_feed_unavailable(body):
    with pytest.raises(FeedUnavailable):
        parse_feed(body)


def test_malformed_items_are_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="digest.rss"):
        result = parse_feed(fixture("malformed_item.xml"))
    assert [a.paper.id for a in result.announcements] == ["2606.40001"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert any("withdrawn" in message for message in warnings)


def test_a_feed_whose_items_all_fail_is_unavailable_not_empty():
    broken = rss_item("2606.50001", announce_type="bogus")
    with pytest.raises(FeedUnavailable, match="none of"):
        parse_feed(rss_feed("cs.LG", [broken]))


def test_the_day_is_the_channel_date_in_new_york():
    # 02:00 UTC on the 17th is still the evening of the 16th in New York.
    xml = rss_feed("cs.LG", [rss_item("2606.50001")], pub_date="Wed, 17 Jun 2026 02:00:00 +0000")
    result = parse_feed(xml)
    assert result.feed_date == dt.date(2026, 6, 16)
    assert result.announcements[0].day == dt.date(2026, 6, 16)


def test_without_a_channel_date_the_item_date_then_the_callers_day_is_used():
    dated = rss_feed("cs.LG", [rss_item("2606.50001", pub_date="Thu, 18 Jun 2026 00:00:00 -0400")], pub_date="")
    assert parse_feed(dated).announcements[0].day == dt.date(2026, 6, 18)
    assert parse_feed(dated).feed_date is None
    undated = rss_feed("cs.LG", [rss_item("2606.50001", pub_date="")], pub_date="")
    assert parse_feed(undated, day=dt.date(2026, 6, 19)).announcements[0].day == dt.date(2026, 6, 19)


def test_the_announce_type_falls_back_to_the_description():
    item = rss_item("2606.50001", announce_type="replace").replace(
        "<arxiv:announce_type>replace</arxiv:announce_type>", ""
    )
    assert parse_feed(rss_feed("cs.LG", [item])).announcements[0].announce_type is AnnounceType.REPLACE


@pytest.mark.parametrize(
    ("creator", "authors"),
    [
        ("A. Smith, B. Jones and C. Brown", ("A. Smith", "B. Jones", "C. Brown")),
        ("A. Smith, B. Jones, and C. Brown", ("A. Smith", "B. Jones", "C. Brown")),
        ("Ann Lee and Bo Kim", ("Ann Lee", "Bo Kim")),
        ("  Anand Kumar ,  Brandon  Lee  ", ("Anand Kumar", "Brandon Lee")),
        ("John Smith, Jr., Jane Doe, III", ("John Smith Jr.", "Jane Doe III")),
        ("Single Author", ("Single Author",)),
        ("", ()),
    ],
)
def test_split_authors(creator, authors):
    assert split_authors(creator) == authors


def test_feed_url_joins_categories_with_plus():
    assert feed_url("https://rss.arxiv.org/rss/", ["cs.AI", "q-bio.NC"]) == "https://rss.arxiv.org/rss/cs.AI+q-bio.NC"
    assert feed_url("https://rss.arxiv.org/rss", "math.QA") == "https://rss.arxiv.org/rss/math.QA"


class TestFetchFeed:
    async def test_one_request_for_a_group_of_categories(self, fake_arxiv, arxiv_http, arxiv_settings):
        fake_arxiv.rss["cs.AI+cs.CL"] = fixture("same_paper_cs.AI.xml")
        result = await fetch_feed(arxiv_http, arxiv_settings.rss_url, ["cs.AI", "cs.CL"])
        assert [seen.path for seen in fake_arxiv.requests] == ["/rss/cs.AI+cs.CL"]
        assert result.categories == ("cs.AI", "cs.CL")
        assert [a.paper.id for a in result.announcements] == ["2606.30001"]

    async def test_an_html_page_with_status_200_is_unavailable(self, fake_arxiv, arxiv_http, arxiv_settings):
        fake_arxiv.rss["cs.LG"] = Reply.html_error()
        with pytest.raises(FeedUnavailable):
            await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.LG")

    async def test_a_failing_server_is_unavailable_after_retries(self, fake_arxiv, arxiv_http, arxiv_settings):
        fake_arxiv.script("/rss/cs.LG", *[Reply(503)] * 3)
        with pytest.raises(FeedUnavailable):
            await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.LG")
        assert len(fake_arxiv.requests) == 3

    async def test_a_503_then_the_feed_gives_the_feed(self, fake_arxiv, arxiv_http, arxiv_settings):
        fake_arxiv.rss["cs.LG"] = fixture("normal_day.xml")
        fake_arxiv.script("/rss/cs.LG", Reply(503))
        result = await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.LG")
        assert len(result.announcements) == 4

    async def test_a_404_is_unavailable_without_retry(self, fake_arxiv, arxiv_http, arxiv_settings):
        fake_arxiv.script("/rss/cs.XX", Reply(404))
        with pytest.raises(FeedUnavailable, match="404"):
            await fetch_feed(arxiv_http, arxiv_settings.rss_url, "cs.XX")
        assert len(fake_arxiv.requests) == 1

    async def test_an_empty_weekend_feed_is_fetched_as_empty(self, fake_arxiv, arxiv_settings):
        fake_arxiv.rss["cs.LG"] = fixture("empty_weekend.xml")
        async with ArxivHttp.from_settings(arxiv_settings) as http:
            result = await fetch_feed(http, arxiv_settings.rss_url, "cs.LG")
        assert result.announcements == ()
        assert result.feed_date == dt.date(2026, 6, 20)


# -- real feeds in ../shared/data (skipped when absent) -------------------------------------


@pytest.mark.parametrize("name", RENDERED_NAMES)
def test_every_rendered_day_parses_to_its_item_count_by_type(shared_data, name):
    xml = (shared_data / "rss" / "rendered" / name).read_bytes()
    expected = collections.Counter(m.decode() for m in re.findall(rb"Announce Type: ([\w-]+)", xml))
    assert sum(expected.values()) == len(re.findall(rb"<item>", xml))
    result = parse_feed(xml, name.split("_")[1])
    got = collections.Counter(a.announce_type.value for a in result.announcements)
    assert got == expected
    assert len({a.paper.id for a in result.announcements}) == len(result.announcements)
    assert result.feed_date == dt.date.fromisoformat(name.rsplit("_", 1)[1].removesuffix(".xml"))


def test_rendered_days_agree_with_the_crawls_behind_them(shared_data):
    """Authors, titles and categories match daily/*.jsonl (its "and X" last-author quirk aside)."""
    checked = 0
    for crawl in sorted((shared_data / "daily").glob("*.jsonl")):
        rows = {}
        for line in crawl.read_text().splitlines():
            row = json.loads(line)
            rows[row["id"]] = row
        feed = shared_data / "rss" / "rendered" / f"rss_cs.AI+cs.CL+cs.CV_{crawl.stem}.xml"
        for announcement in parse_feed(feed.read_bytes()).announcements:
            row, paper = rows[announcement.paper.id], announcement.paper
            authors = tuple(re.sub(r"^and ", "", " ".join(a.split())) for a in row["authors"])
            assert paper.authors == authors, paper.id
            assert paper.title == " ".join(row["title"].split()), paper.id
            assert paper.categories == tuple(row["categories"]), paper.id
            checked += 1
    assert checked > 2000


def test_the_real_trimmed_feed(shared_data):
    xml = (shared_data / "rss" / "real" / "rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed.xml").read_bytes()
    result = parse_feed(xml, "cs.LG+cs.AI+cs.CL+stat.ML")
    assert result.feed_date == dt.date(2026, 9, 24)
    assert [(a.paper.id, a.paper.version, a.announce_type.value) for a in result.announcements] == [
        ("2609.26811", 1, "new"),
        ("2609.26820", 1, "new"),
        ("2205.06398", 2, "cross"),
        ("2009.13987", 3, "replace"),
    ]
    items = by_id(result)
    assert items["2205.06398"].paper.doi == "10.1093/bioinformatics/btac431"
    assert items["2205.06398"].paper.authors == ("Pritam Dey", "Zhengwu Zhang", "David B. Dunson")
    assert items["2009.13987"].paper.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert items["2609.26811"].paper.license == "http://creativecommons.org/licenses/by-nc-sa/4.0/"
    assert items["2609.26811"].paper.abstract.startswith("Local learning trains each layer")
