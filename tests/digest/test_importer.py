"""The importer: arXiv's metadata snapshot read right, every line validated, nothing malformed stored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from digest.db import make_sessionmaker
from digest.importer import Refused, import_jsonl, paper_from_record
from digest.store import PaperStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"
SNAPSHOT = FIXTURES / "arxiv-metadata-oai-snapshot.json"


@pytest.mark.parametrize("name", [SNAPSHOT.name, SNAPSHOT.name + ".gz"])
def test_a_snapshot_is_imported_with_real_lists_and_dates(engine, name):
    sessions = make_sessionmaker(engine)
    report = import_jsonl([FIXTURES / name], sessions)
    assert (report.lines, report.taken, report.skipped, report.refused) == (10, 3, 1, 6)
    papers = PaperStore(sessions).get_papers(["0704.0001", "0704.0002", "math/0703001"])
    first = papers["0704.0001"]
    assert first.categories == ("hep-ph",)
    assert first.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert first.published == dt.date(2007, 4, 2) and first.version == 2
    assert first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert first.doi == "10.1103/PhysRevD.76.013009" and first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.comment == "37 pages, 15 figures; published version"
    second = papers["0704.0002"]
    assert second.categories == ("math.CO", "cs.CG") and second.primary == "math.CO"
    assert second.published == dt.date(2007, 3, 31)
    # no authors_parsed: the string is split, affiliations dropped
    assert papers["math/0703001"].authors == ("A. Author", "B. Writer", "C. Scribe")


def test_each_refused_line_names_its_number_and_field(engine):
    report = import_jsonl([SNAPSHOT], make_sessionmaker(engine))
    assert [(r.line, r.field) for r in report.refusals] == [
        (5, "categories"), (6, "versions"), (7, "authors"), (8, "id"), (9, "format"), (10, "line")]
    assert all(r.path == str(SNAPSHOT) and r.reason for r in report.refusals)


def test_nothing_malformed_is_stored(engine):
    sessions = make_sessionmaker(engine)
    import_jsonl([SNAPSHOT], sessions)
    stored = PaperStore(sessions).get_papers(["0704.0004", "0704.0005", "0704.0006", "0704.0007"])
    assert stored == {}
    for paper in PaperStore(sessions).get_papers(["0704.0001", "0704.0002", "math/0703001"]).values():
        assert all(len(c) > 1 for c in paper.categories) and all(len(a) > 1 for a in paper.authors)


def test_searching_imported_history_by_date_works(engine):
    from digest.search import PaperSearch, rebuild_search_index
    from digest.search_query import parse_query

    import_jsonl([SNAPSHOT], make_sessionmaker(engine))
    with engine.begin() as connection:
        rebuild_search_index(connection)
    search = PaperSearch(engine)
    assert [h.id for h in search.search(parse_query("cat:math.CO")).hits] == ["0704.0002"]
    hits = search.search(parse_query("cat:hep-ph"), limit=5).hits
    assert [h.id for h in hits] == ["0704.0001"]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": "0704.0001", "title": "t", "categories": "math.CO", "authors": "A", "versions": []}, "versions"),
        ({"id": "0704.0001", "title": "", "categories": "math.CO", "authors": "A"}, "title"),
        ({"id": "0704.0001", "title": "t", "categories": "math CO!", "authors": "A"}, "categories"),
        ({"id": "0704.0001", "title": "\x00\x1b", "categories": "math.CO", "authors": "A"}, "title"),
        ({"id": "0704.0001", "title": "t", "categories": "math.CO", "authors": "A", "doi": 5}, "doi"),
        ({"id": "0704.0001", "title": "t", "categories": "math.CO", "authors": "A", "update_date": "soon"},
         "update_date"),
        ({"id": "0704.0001", "title": "t", "categories": "math.CO", "authors_parsed": [["x", 1]]}, "authors_parsed"),
        ({"id": "nope", "title": "t", "categories": "math.CO", "authors": "A"}, "id"),
        ({"id": "2606.00001", "title": "t", "categories": ["cs.CL", 3], "first_seen": "2026-06-15"}, "categories"),
        ({"id": "2606.00001", "title": "t", "categories": ["cs.CL"], "authors": "A B", "first_seen": "x"}, "authors"),
    ],
)
def test_malformed_records_are_refused_with_the_field_at_fault(record, field):
    with pytest.raises(Refused) as caught:
        paper_from_record(record)
    assert caught.value.field == field


def test_progress_counts_bytes_of_the_file(engine):
    seen = []
    import_jsonl([FIXTURES / (SNAPSHOT.name + ".gz")], make_sessionmaker(engine), progress=seen.append)
    assert sum(seen) == (FIXTURES / (SNAPSHOT.name + ".gz")).stat().st_size


def test_nul_and_lone_surrogates_are_cleaned_out_and_unknown_categories_skipped(engine, tmp_path):
    good = {"id": "0704.0002", "title": "Fine 😀", "categories": "math.CO", "authors": "A B",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(good) + "\n"
                    + json.dumps({**good, "id": "0704.0003", "abstract": "bad \x00x"}) + "\n"
                    + json.dumps({**good, "id": "0704.0004", "comments": "lone \ud800"}) + "\n"
                    + json.dumps({**good, "id": "0704.0005", "categories": "zz.ZZ"}) + "\n")
    sessions = make_sessionmaker(engine)
    report = import_jsonl([path], sessions)
    assert (report.taken, report.skipped, report.refused) == (3, 1, 0)
    papers = PaperStore(sessions).get_papers(["0704.0002", "0704.0003", "0704.0004", "0704.0005"])
    assert sorted(papers) == ["0704.0002", "0704.0003", "0704.0004"]
    assert papers["0704.0002"].title == "Fine 😀" and papers["0704.0003"].abstract == "bad x"
    assert papers["0704.0004"].comment == "lone"
