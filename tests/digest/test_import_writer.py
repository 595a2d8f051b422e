"""The bulk import's writer: the index it builds is the triggers' index, and an interrupted import
leaves a consistent, searchable store that a second run completes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from digest.db import make_engine, make_sessionmaker
from digest.importer import import_jsonl
from digest.search import PaperSearch, rebuild_search_index
from digest.search_query import parse_query

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"


def index_terms(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Every (paper, column, term, position) of the FTS5 index, by paper id (docids may differ)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms USING fts5vocab(main, papers_fts, instance)"))
        rows = conn.execute(text("SELECT d.paper_id, t.col, t.term, t.offset FROM temp.terms t "
                                 "JOIN search_docs d ON d.docid = t.doc")).all()
    return sorted(tuple(r) for r in rows)


def snapshot_lines(count: int, start: int = 1) -> list[str]:
    lines = []
    for i in range(start, start + count):
        lines.append(json.dumps({
            "id": f"1501.{i:05d}", "authors": "Ann Lee, José Núñez and Bo Chen", "title": f"Paper number {i} on graphs",
            "abstract": f"We study graph {i} with spectral methods; Über-fast solvers. Topic t{i % 7}.",
            "categories": "math.CO cs.DM" if i % 2 else "hep-th", "comments": None,
            "versions": [{"version": "v1", "created": f"Mon, {1 + i % 28} Feb 2015 10:00:00 GMT"}],
            "update_date": "2015-03-01",
            "authors_parsed": [["Lee", "Ann", ""], ["Núñez", "José", ""], ["Chen", "Bo", ""]],
        }, ensure_ascii=False))
    return lines


@pytest.fixture(params=["thread", "process"])
def writer(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Each test runs with the writer in a thread (small imports) and in a process (large ones)."""
    import digest.importer

    monkeypatch.setattr(digest.importer, "PROCESS_MIN_BYTES", 0 if request.param == "process" else 1 << 60)
    return request.param


def test_the_imports_index_is_the_one_the_triggers_build(engine, tmp_path, writer):
    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(300)) + "\n", encoding="utf-8")
    import_jsonl([path, FIXTURES / "arxiv-metadata-oai-snapshot.json", FIXTURES / "corpus_sample.jsonl"],
                 make_sessionmaker(engine))
    imported = index_terms(engine)
    assert len({row[0] for row in imported}) > 300
    with engine.begin() as conn:
        rebuild_search_index(conn)  # the triggers' SQL, from the stored papers
    assert index_terms(engine) == imported


def test_reimporting_updates_the_index_through_the_update_trigger(engine, tmp_path):
    path = tmp_path / "snap.json"
    lines = snapshot_lines(20)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sessions = make_sessionmaker(engine)
    import_jsonl([path], sessions)
    changed = json.loads(lines[3])
    changed["title"] = "Origami folding"
    changed["versions"].append({"version": "v2", "created": "Tue, 3 Mar 2015 10:00:00 GMT"})
    path.write_text(json.dumps(changed) + "\n" + lines[4] + "\n", encoding="utf-8")
    report = import_jsonl([path], sessions)
    assert report.papers == 2
    search = PaperSearch(engine)
    assert [h.id for h in search.search(parse_query("origami")).hits] == [changed["id"]]
    assert search.search(parse_query('"paper number 4"')).hits == ()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_docs")).scalar_one() == 20
    before = index_terms(engine)
    with engine.begin() as conn:
        rebuild_search_index(conn)
    assert index_terms(engine) == before


def test_a_failed_chunk_leaves_the_chunks_before_it_stored_and_searchable(engine, tmp_path, monkeypatch, writer):
    import digest.importer

    monkeypatch.setattr(digest.importer, "CHUNK", 10)
    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(50)) + "\n", encoding="utf-8")
    with engine.begin() as conn:  # the database refuses the 25th paper: the third chunk fails whole
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON papers WHEN new.id = '1501.00025' "
                          "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"))
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        import_jsonl([path], make_sessionmaker(engine))
    assert_consistent(engine, papers=20)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    import_jsonl([path], make_sessionmaker(engine))
    assert_consistent(engine, papers=50)


def assert_consistent(engine, papers: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM papers")).scalar_one() == papers
        assert conn.execute(text("SELECT count(*) FROM search_docs")).scalar_one() == papers
        triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND name LIKE 'papers_fts_%'")).scalars().all()
        assert sorted(triggers) == ["papers_fts_delete", "papers_fts_insert", "papers_fts_update"]
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        conn.execute(text("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)"))
        # the import merges nothing while it writes; FTS5's usual merging is back after every chunk
        config = dict(conn.execute(text("SELECT k, v FROM papers_fts_config")).all())
        assert (config["automerge"], config["crisismerge"]) == (8, 16)
        matched = "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH :m"
        assert conn.execute(text(matched), {"m": "graphs AND authors: nunez"}).scalar_one() == papers
    hits = PaperSearch(engine).search(parse_query('"paper number 7 on graphs" au:"jose nunez" cat:math.CO')).hits
    assert [h.id for h in hits] == ["1501.00007"]


_KILLED_IMPORT = """
import multiprocessing, os, signal, sys
from pathlib import Path
import digest.importer
from digest.db import make_engine, make_sessionmaker
digest.importer.CHUNK = 500
digest.importer.PROCESS_MIN_BYTES = int(sys.argv[4])
read = 0
def progress(n):  # a power cut once half the file is read, the writer somewhere in its chunks
    global read
    read += n
    if read > int(sys.argv[3]):
        Path(sys.argv[5]).write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()))
        os.kill(os.getpid(), signal.SIGKILL)
digest.importer.import_jsonl([Path(sys.argv[2])], make_sessionmaker(make_engine(sys.argv[1])), progress=progress)
"""


@pytest.mark.parametrize("process", [False, True], ids=["writer thread", "writer process"])
def test_an_import_killed_midway_leaves_a_valid_store_and_a_rerun_completes_it(engine, tmp_path, process):
    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(6000)) + "\n", encoding="utf-8")
    url = str(engine.url)
    engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = tmp_path / "children"
    command = [sys.executable, "-c", _KILLED_IMPORT, url, str(path), str(path.stat().st_size // 2),
               "0" if process else str(1 << 60), str(children)]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(pid) for pid in children.read_text().split()]
    assert len(pids) == (1 if process else 0)
    for pid in pids:  # the orphaned writer sees the reader gone and stops after its chunk
        wait_until_gone(pid, timeout=30)
    again = make_engine(url)
    with again.begin() as conn:
        stored = conn.execute(text("SELECT count(*) FROM papers")).scalar_one()
    assert stored % 500 == 0 and stored < 6000  # whole chunks only
    assert_consistent(again, papers=stored)
    report = import_jsonl([path], make_sessionmaker(again))
    assert report.papers == 6000
    assert_consistent(again, papers=6000)
    again.dispose()


def wait_until_gone(pid: int, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z":
            return  # a zombie: finished, waiting for init to reap it
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still running after {timeout} s")


def test_a_writer_process_that_fails_reports_its_error_and_stops(tmp_path):
    from digest.import_writer import ChunkWriter
    from digest.importer import read_records

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no tables: every chunk fails
    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(30)) + "\n", encoding="utf-8")
    papers = {item.paper.id: item.paper for item in read_records(path) if hasattr(item, "paper")}
    written: list[int] = []
    with pytest.raises(sqlite3.OperationalError, match="no such table"), \
            ChunkWriter(make_sessionmaker(engine), lambda papers, _: written.append(papers), process=True) as writer:
        for _ in range(5):
            writer.submit(papers, {})
    assert written == []
    assert not writer.worker.is_alive()


def test_on_postgres_the_imports_index_is_the_triggers_and_the_trigger_still_indexes_other_writes(pg_url, tmp_path):
    import dataclasses

    from bot.migrate import init_db
    from digest.store import PaperStore

    engine = make_engine(pg_url)
    init_db(engine)
    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(40)) + "\n", encoding="utf-8")
    sessions = make_sessionmaker(engine)
    import_jsonl([path, FIXTURES / "arxiv-metadata-oai-snapshot.json"], sessions)
    documents = "SELECT paper_id, document::text, title_doc::text, facets::text FROM paper_search ORDER BY paper_id"
    with engine.begin() as conn:
        imported = conn.execute(text(documents)).all()
        assert len(imported) == conn.execute(text("SELECT count(*) FROM papers")).scalar_one() == 43
        rebuild_search_index(conn)  # the trigger's functions, row by row from the stored papers
        assert conn.execute(text(documents)).all() == imported
        # an import of a tenth of the store or more leaves it vacuumed and analyzed, ready to search
        vacuumed = conn.execute(text("SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL "
                                     "AND last_analyze IS NOT NULL ORDER BY relname")).scalars().all()
        assert {"paper_search", "papers"} <= set(vacuumed)
    store = PaperStore(sessions)
    store.upsert_papers([dataclasses.replace(store.get_paper("1501.00003"), title="Origami folding")])
    assert [h.id for h in PaperSearch(engine).search(parse_query("origami")).hits] == ["1501.00003"]
    engine.dispose()


def test_ctrl_c_stops_paperboy_import_within_a_chunk_and_a_rerun_completes_it(tmp_path):
    """A user's Ctrl-C on a long import: it stops in about a second, says what it stored, exits 130."""
    import time

    path = tmp_path / "snap.json"
    path.write_text("\n".join(snapshot_lines(60000)) + "\n", encoding="utf-8")  # 27 MB: the writer is a process
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOY_DATABASE__URL": url}
    importing = subprocess.Popen([sys.executable, "-m", "bot.cli", "import", "--quiet", str(path)], cwd=tmp_path,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine = make_engine(url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stored_papers(engine) < 5000:
        time.sleep(0.05)
    importing.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = importing.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert importing.returncode == 130, err
    assert "Interrupted" in out and "run the same command again" in out
    stored = stored_papers(engine)
    assert 5000 <= stored < 60000
    assert f"Imported {stored} papers" in out
    assert_consistent(engine, papers=stored)
    report = import_jsonl([path], make_sessionmaker(engine))
    assert not report.interrupted and report.papers == 60000
    assert_consistent(engine, papers=60000)
    engine.dispose()


def stored_papers(engine) -> int:  # type: ignore[no-untyped-def]
    try:
        with engine.begin() as conn:
            return conn.execute(text("SELECT count(*) FROM papers")).scalar_one()
    except Exception:  # the store is still being created
        return 0
