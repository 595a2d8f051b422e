"""`paperboy backfill`: arXiv's OAI-PMH history harvested politely, resumable, into the same store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.cli import main
from digest.oai import parse_page
from tests.fakes.fake_oai import FakeOai, OaiRecord

D = dt.date


def records() -> list[OaiRecord]:
    def rec(i: int, cats: str, created: D, stamp: D | None = None, **kw) -> OaiRecord:  # type: ignore[no-untyped-def]
        return OaiRecord(id=f"2401.{i:05d}", title=f"Paper {i} on {cats.split()[0]}",
                         abstract=f"Abstract {i}: transformers and rings.", authors=[("Ada", f"Author{i}"), ("B.", "Coauthor")],
                         categories=cats, created=created, datestamp=stamp or created, **kw)

    return [
        rec(1, "cs.CL cs.LG", D(2024, 1, 3), doi="10.1/x1"),
        rec(2, "cs.CV", D(2024, 1, 4)),
        rec(3, "math.RA", D(2024, 1, 5)),
        rec(4, "cs.CL", D(2024, 1, 6), versions=3),
        rec(5, "hep-th", D(2024, 1, 7)),
        rec(6, "cs.AI cs.CL", D(2024, 1, 8)),
        rec(7, "math.CO cs.DM", D(2024, 1, 9)),
        rec(8, "cs.CL", D(2019, 5, 1), stamp=D(2024, 1, 10)),  # an old paper revised: outside --from
        rec(9, "cs.CL", D(2024, 2, 20)),  # after --to in some tests
        rec(10, "cs.LG", D(2024, 1, 11), deleted=True),
    ]


@pytest.fixture
def oai():
    with FakeOai(records=records(), page_size=3) as fake:
        yield fake


def config(tmp_path: Path, url: str, name: str, *, interval: float = 0, retries: int = 0) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / name}.sqlite3"\n'
        f'[arxiv]\noai_url = "{url}"\nmin_interval_s = {interval}\nretries = {retries}\n'
        '[logging]\nlevel = "WARNING"\n', encoding="utf-8")
    return path


def stored(tmp_path: Path, name: str) -> list[tuple]:
    engine = create_engine(f"sqlite:///{tmp_path / name}.sqlite3")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, version, title, authors, abstract, categories, primary_category, doi, published "
            "FROM papers ORDER BY id")).all()
        found = conn.execute(text("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'transformers'")).scalar()
    engine.dispose()
    return [tuple(r) for r in rows] + [("searchable", found)]


def backfill(cfg: Path, *args: str) -> int:
    return main(["--config", str(cfg), "backfill", "--quiet", *args])


def test_an_interrupted_and_resumed_backfill_ends_with_the_same_store(tmp_path, oai, capsys):
    assert backfill(config(tmp_path, oai.url, "whole"), "--from", "2024-01-01") == 0
    whole = stored(tmp_path, "whole")
    assert [r[0] for r in whole[:-1]] == [f"2401.{i:05d}" for i in (1, 2, 3, 4, 5, 6, 7, 9)]
    capsys.readouterr()

    oai.requests.clear()
    oai.fail(3, 500)  # the third page fails and retries are off: the run stops there
    cfg = config(tmp_path, oai.url, "split")
    assert backfill(cfg, "--from", "2024-01-01") == 1
    assert "run the same command again to resume" in capsys.readouterr().err
    partial = stored(tmp_path, "split")
    assert 0 < len(partial) - 1 < len(whole) - 1
    asked_before = len(oai.requests)
    assert backfill(cfg, "--from", "2024-01-01") == 0
    assert "resumed" in capsys.readouterr().out
    resumed_first = oai.requests[asked_before].query
    assert "resumptionToken" in resumed_first and resumed_first["resumptionToken"].endswith("|6")
    assert stored(tmp_path, "split") == whole

    assert backfill(cfg, "--from", "2024-01-01") == 0  # finished: nothing asked again
    assert "already complete" in capsys.readouterr().out
    assert len(oai.requests) == asked_before + 2


def test_papers_are_stored_with_real_fields_and_a_search_index(tmp_path, oai):
    assert backfill(config(tmp_path, oai.url, "f"), "--from", "2024-01-01", "--to", "2024-01-31") == 0
    rows = {r[0]: r for r in stored(tmp_path, "f")[:-1]}
    assert "2401.00009" not in rows and "2401.00008" not in rows and "2401.00010" not in rows
    first = rows["2401.00001"]
    assert first[3] == '["Ada Author1", "B. Coauthor"]' and first[5] == '["cs.CL", "cs.LG"]'
    assert first[6] == "cs.CL" and first[7] == "10.1/x1" and first[8] == "2024-01-03"
    assert first[4] == "Abstract 1: transformers and rings."


def test_categories_choose_the_archive_sets_and_filter_within_them(tmp_path, oai):
    assert backfill(config(tmp_path, oai.url, "c"), "--from", "2024-01-01", "--categories", "cs.CL+math.RA") == 0
    assert sorted({r.query.get("set") for r in oai.requests if "set" in r.query}) == ["cs", "math"]
    assert [r[0] for r in stored(tmp_path, "c")[:-1]] == ["2401.00001", "2401.00003", "2401.00004",
                                                         "2401.00006", "2401.00009"]


def test_arxivraw_gives_versions_and_first_version_dates(tmp_path, oai):
    assert backfill(config(tmp_path, oai.url, "r"), "--from", "2024-01-01", "--metadata", "arXivRaw",
                    "--categories", "cs.CL") == 0
    rows = {r[0]: r for r in stored(tmp_path, "r")[:-1]}
    assert rows["2401.00004"][1] == 3 and rows["2401.00004"][8] == "2024-01-06"
    assert rows["2401.00001"][3] == '["Ada Author1", "B. Coauthor"]'
    assert {r.query.get("metadataPrefix") for r in oai.requests} <= {"arXivRaw", None}


def test_it_keeps_arxivs_pace_and_honours_retry_after(tmp_path, oai):
    oai.fail(2, 503, retry_after=1)
    cfg = config(tmp_path, oai.url, "p", interval=0.3, retries=2)
    assert backfill(cfg, "--from", "2024-01-01", "--categories", "cs") == 0
    times = [r.at for r in oai.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # the client spaces request *starts*; arrival times at the server jitter by a few ms under load
    assert len(times) >= 4 and min(gaps) >= 0.25
    assert gaps[1] >= 0.9  # after the 503, Retry-After: 1 was waited out
    assert oai.requests[2].query == oai.requests[1].query  # the same page asked again


def test_a_forgotten_resumption_token_restarts_that_set(tmp_path, oai, capsys):
    cfg = config(tmp_path, oai.url, "t")
    oai.fail(2, 500)
    assert backfill(cfg, "--from", "2024-01-01") == 1
    oai.forget_tokens = True
    oai.page_size = 100  # the restarted list fits one page, so no token is needed again
    assert backfill(cfg, "--from", "2024-01-01") == 0
    assert len(stored(tmp_path, "t")) - 1 == 8


def test_bad_dates_are_refused_clearly(tmp_path, oai, capsys):
    cfg = config(tmp_path, oai.url, "d")
    assert backfill(cfg, "--from", "2024-02-01", "--to", "2024-01-01") == 2
    assert "--to is before --from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        backfill(cfg, "--from", "last week")


def test_oai_errors_and_deletions_are_read():
    empty = parse_page(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                       b'<error code="noRecordsMatch">none</error></OAI-PMH>')
    assert empty.papers == () and empty.token is None
    from digest.oai import OaiUnavailable

    with pytest.raises(OaiUnavailable, match="badArgument"):
        parse_page(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="badArgument"/></OAI-PMH>')
    with pytest.raises(OaiUnavailable, match="not XML"):
        parse_page(b"<html>down for maintenance")
    page = parse_page(FakeOai(records=records(), page_size=20).answer(
        {"verb": "ListRecords", "metadataPrefix": "arXiv"})[2])
    assert page.deleted == ("2401.00010",) and len(page.papers) == 9 and page.token is None
