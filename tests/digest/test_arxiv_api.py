"""The arXiv API client: recorded answers in ../shared/data, and batching/retries against the fake arXiv."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.arxiv_api import MAX_IDS_PER_REQUEST, fetch_by_ids, parse_api_feed
from digest.errors import ApiUnavailable, BadArxivId
from tests.fakes.fake_arxiv import Reply, atom_entry, atom_error, atom_feed


def recorded(shared_data, prefix: str) -> bytes:
    (path,) = (shared_data / "api" / "recorded").glob(f"{prefix}*.xml")
    return path.read_bytes()


# -- parsing recorded answers ----------------------------------------------------------------


class TestRecordedAnswers:
    def test_a_new_style_paper(self, shared_data):
        page = parse_api_feed(recorded(shared_data, "id_1605.08386_"))
        (paper,) = page.papers
        assert page.total == 1
        assert (paper.id, paper.version) == ("1605.08386", 1)
        assert paper.title == "Heat-bath random walks with Markov bases"
        assert paper.authors == ("Caprice Stanley", "Tobias Windisch")
        assert paper.categories == ("math.CO", "math.ST")
        assert paper.primary_category == "math.CO"
        assert paper.comment == "20 pages, 3 figures"
        assert paper.published == dt.date(2016, 5, 26)
        assert paper.abstract.startswith("Graphs on lattice points are studied")

    def test_an_old_style_paper_with_journal_ref(self, shared_data):
        (paper,) = parse_api_feed(recorded(shared_data, "id_astro-ph_0601001_")).papers
        assert paper.id == "astro-ph/0601001"
        assert paper.categories == ("astro-ph",)
        assert paper.journal_ref == "ActaAstron.56:1-50,2006"
        assert paper.authors[-1] == "Andrzej Udalski"
        assert paper.abstract.startswith("We derive the frequencies")  # leading spaces gone
        assert "V_max<17.5" in paper.abstract

    def test_a_versioned_old_style_lookup(self, shared_data):
        (paper,) = parse_api_feed(recorded(shared_data, "id_quant-ph_0201082v1_")).papers
        assert (paper.id, paper.version) == ("quant-ph/0201082", 1)
        assert paper.categories == ("quant-ph", "cs.PL")

    def test_a_versioned_new_style_lookup(self, shared_data):
        (paper,) = parse_api_feed(recorded(shared_data, "id_2104.12255v1_")).papers
        assert (paper.id, paper.version, paper.title) == ("2104.12255", 1, "0")
        assert paper.comment is None

    def test_two_ids_one_unknown_gives_one_paper(self, shared_data):
        page = parse_api_feed(recorded(shared_data, "id_0808.05394_1707.08567_"))
        assert [p.id for p in page.papers] == ["1707.08567"]
        assert "Dirk Wübben" in page.papers[0].authors

    def test_an_unknown_id_is_an_empty_page(self, shared_data):
        page = parse_api_feed(recorded(shared_data, "id_0000.0000_"))
        assert page.papers == ()
        assert page.total == 0

    def test_the_400_error_feed_is_a_bad_id(self, shared_data):
        with pytest.raises(BadArxivId, match="'abc'"):
            parse_api_feed(recorded(shared_data, "id_abc_"))

    def test_the_2019_format(self, shared_data):
        page = parse_api_feed(recorded(shared_data, "ewan-m_old-api-format_"))
        assert len(page.papers) == 10
        assert page.total == 120839
        first, second = page.papers[:2]
        assert first.id == "1501.05039"
        assert first.primary_category == "cs.DB"
        assert first.categories == ("cs.DB", "cs.CY")
        assert "\n" not in second.title and "  " not in second.title
        assert second.title.startswith("Report on a Boston University Conference December 7-8, 2012")

    def test_doi_and_journal_ref(self, shared_data):
        paper = parse_api_feed(recorded(shared_data, "laya-reader_")).papers[0]
        assert paper.doi == "10.1007/978-3-032-39150-6_7"
        assert paper.journal_ref.startswith("Experimental IR Meets Multilinguality")

    def test_search_pages_keep_every_entry(self, shared_data):
        page = parse_api_feed(recorded(shared_data, "q_testing_s0_m100_"))
        assert len(page.papers) == 100
        assert page.total > 100
        assert len({paper.id for paper in page.papers}) == 100
        assert all(paper.primary_category and paper.authors and paper.abstract for paper in page.papers)


def test_a_non_feed_answer_is_api_unavailable():
    with pytest.raises(ApiUnavailable):
        parse_api_feed(b"<html><body>Service Unavailable</body></html>")


def test_a_truncated_answer_is_api_unavailable():
    xml = atom_feed([atom_entry("2401.00001")])
    with pytest.raises(ApiUnavailable):
        parse_api_feed(xml[: len(xml) // 2])


def test_other_api_errors_are_api_unavailable():
    with pytest.raises(ApiUnavailable, match="max_results"):
        parse_api_feed(atom_error("max_results must be non-negative"))


# -- fetch_by_ids against the fake arXiv ------------------------------------------------------


async def test_fetch_by_ids_keys_papers_by_versionless_id(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.api_entries["2401.00001"] = atom_entry("2401.00001", "First", version=2)
    fake_arxiv.api_entries["hep-th/9901001"] = atom_entry("hep-th/9901001", "Old", categories=["hep-th"])
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001", "hep-th/9901001"])
    assert set(papers) == {"2401.00001", "hep-th/9901001"}
    assert (papers["2401.00001"].title, papers["2401.00001"].version) == ("First", 2)
    assert fake_arxiv.requests[0].query["id_list"] == "2401.00001,hep-th/9901001"


async def test_fetch_by_ids_accepts_links_and_versions(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.api_entries["2104.12255v1"] = atom_entry("2104.12255", "Zero", version=1)
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["https://arxiv.org/abs/2104.12255v1"])
    assert papers["2104.12255"].version == 1
    assert fake_arxiv.requests[0].query["id_list"] == "2104.12255v1"


async def test_fetch_by_ids_serves_recorded_answers(fake_arxiv, arxiv_http, arxiv_settings, shared_data):
    fake_arxiv.add_api_files((shared_data / "api" / "recorded").glob("id_*.xml"))
    papers = await fetch_by_ids(
        arxiv_http, arxiv_settings.api_url, ["astro-ph/0601001", "1605.08386", "quant-ph/0201082v1"]
    )
    assert papers["astro-ph/0601001"].journal_ref == "ActaAstron.56:1-50,2006"
    assert papers["1605.08386"].primary_category == "math.CO"
    assert papers["quant-ph/0201082"].categories == ("quant-ph", "cs.PL")
    assert len(fake_arxiv.requests) == 1


async def test_ids_go_out_in_batches_of_at_most_100(fake_arxiv, arxiv_http, arxiv_settings):
    ids = [f"2401.{n:05d}" for n in range(1, 251)]
    for paper_id in ids:
        fake_arxiv.api_entries[paper_id] = atom_entry(paper_id)
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ids)
    assert set(papers) == set(ids)
    sizes = [len(seen.query["id_list"].split(",")) for seen in fake_arxiv.requests]
    assert sizes == [MAX_IDS_PER_REQUEST, MAX_IDS_PER_REQUEST, 50]


async def test_duplicate_ids_are_asked_once(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.api_entries["2401.00001"] = atom_entry("2401.00001")
    await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001", "arXiv:2401.00001", "2401.00001"])
    assert fake_arxiv.requests[0].query["id_list"] == "2401.00001"


async def test_an_unknown_id_is_missing_after_asking_twice(fake_arxiv, arxiv_http, arxiv_settings):
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.99999"])
    assert papers == {}
    assert len(fake_arxiv.requests) == 2  # an empty page can be a glitch: asked once more


async def test_an_empty_page_glitch_is_retried(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.api_entries["2401.00001"] = atom_entry("2401.00001", "Found on the second try")
    fake_arxiv.script("/api/query", Reply(200, atom_feed([]), content_type="application/atom+xml"))
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])
    assert papers["2401.00001"].title == "Found on the second try"


async def test_a_partly_found_batch_is_not_asked_again(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.api_entries["2401.00001"] = atom_entry("2401.00001")
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001", "2401.99999"])
    assert set(papers) == {"2401.00001"}
    assert len(fake_arxiv.requests) == 1


async def test_a_malformed_id_fails_before_any_request(fake_arxiv, arxiv_http, arxiv_settings):
    with pytest.raises(BadArxivId):
        await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001", "abc"])
    assert fake_arxiv.requests == []


async def test_the_apis_400_error_feed_becomes_bad_arxiv_id(fake_arxiv, arxiv_http, arxiv_settings, shared_data):
    body = recorded(shared_data, "id_abc_")
    fake_arxiv.script("/api/query", Reply(400, body, content_type="application/atom+xml"))
    with pytest.raises(BadArxivId, match="'abc'"):
        await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])
    assert len(fake_arxiv.requests) == 1


async def test_a_400_without_an_error_feed_is_api_unavailable(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.script("/api/query", Reply(400, b"Bad Request"))
    with pytest.raises(ApiUnavailable):
        await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])


async def test_a_failing_api_is_api_unavailable_after_retries(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.script("/api/query", *[Reply(503)] * 3)
    with pytest.raises(ApiUnavailable):
        await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])
    assert len(fake_arxiv.requests) == 3


async def test_a_garbage_answer_is_api_unavailable(fake_arxiv, arxiv_http, arxiv_settings):
    fake_arxiv.script("/api/query", Reply(200, b"\x00\x01 not xml at all"))
    with pytest.raises(ApiUnavailable):
        await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])
