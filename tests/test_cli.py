"""The `paperboy` command line, run in-process against the fake arXiv, plus the console adapter.

Every command gets its settings the way a user gives them: a TOML file named by PAPERBOY_CONFIG
(or --config) and PAPERBOY_<SECTION>__<KEY> variables.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.fake_arxiv import rss_feed, rss_item

FIXTURES = Path(__file__).parent / "fixtures" / "import"
TUE_PUB = "Tue, 16 Jun 2026 00:00:00 -0400"


@pytest.fixture
def config(tmp_path, fake_arxiv, monkeypatch) -> Path:
    """A TOML file pointing the database at tmp_path and arXiv at the fake; named by PAPERBOY_CONFIG."""
    for name in ("PAPERBOY_TELEGRAM__TOKEN", "PAPERBOY_DISCORD__TOKEN", "PAPERBOY_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    base = fake_arxiv.base_url
    path = tmp_path / "paperboy.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "cli.sqlite3"}"\n'
        f'[arxiv]\nrss_url = "{base}/rss"\napi_url = "{base}/api/query"\nabs_url = "{base}/abs"\n'
        f'pdf_url = "{base}/pdf"\nhtml_url = "{base}/html"\nmin_interval_s = 0\nretries = 0\n'
        '[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("PAPERBOY_CONFIG", str(path))
    return path


def serve_cs_cl(fake_arxiv) -> None:  # type: ignore[no-untyped-def]
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [
        rss_item("2606.00001", "Language models & <tags>", categories=("cs.CL",), authors="Ada Lovelace, Alan Turing",
                 pub_date=TUE_PUB),
        rss_item("2606.00002", "Diffusion for text", categories=("cs.CL", "cs.LG"), authors="Grace Hopper", pub_date=TUE_PUB),
        rss_item("2606.00003", "A cross-listed vision paper", categories=("cs.CV", "cs.CL"), announce_type="cross",
                 authors="Fei-Fei Li", pub_date=TUE_PUB),
    ], pub_date=TUE_PUB)


def run_json(capsys, *args: str) -> dict:
    assert main(["digest", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


# --- digest ----------------------------------------------------------------------------------------


def test_digest_json_has_the_date_counts_and_papers(config, fake_arxiv, capsys):
    serve_cs_cl(fake_arxiv)
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16")
    assert data["date"] == "2026-06-16"
    assert data["counts"] == {"new": 2, "cross": 1, "matched": 3}
    assert [p["id"] for p in data["papers"]] == ["2606.00001", "2606.00002", "2606.00003"]  # new first, then cross
    first = next(p for p in data["papers"] if p["id"] == "2606.00001")
    assert first == {
        "id": "2606.00001",
        "title": "Language models & <tags>",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.CL"],
        "announce_type": "new",
        "reason": first["reason"],
        "abstract": "An abstract.",
        "comment": None,  # the RSS feed carries no comment; the API and imports do
        "url": f"{fake_arxiv.base_url}/abs/2606.00001",
    }
    assert first["reason"]
    cross = next(p for p in data["papers"] if p["id"] == "2606.00003")
    assert cross["announce_type"] == "cross"
    assert len(fake_arxiv.requests_to("/rss")) == 1


def test_digest_keywords_put_matching_papers_first_with_the_reason(config, fake_arxiv, capsys):
    serve_cs_cl(fake_arxiv)
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16", "--keywords", "diffusion")
    assert data["papers"][0]["id"] == "2606.00002"
    assert "diffusion" in data["papers"][0]["reason"].lower()
    assert data["counts"]["matched"] == 3


def test_digest_keywords_only_and_no_cross_narrow_the_list(config, fake_arxiv, capsys):
    serve_cs_cl(fake_arxiv)
    only = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16", "--keywords", "diffusion", "--keywords-only")
    assert [p["id"] for p in only["papers"]] == ["2606.00002"]
    no_cross = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16", "--no-cross")
    assert "2606.00003" not in [p["id"] for p in no_cross["papers"]]


def test_digest_text_names_the_day_and_counts(config, fake_arxiv, capsys):
    serve_cs_cl(fake_arxiv)
    assert main(["digest", "--categories", "cs.CL", "--date", "2026-06-16"]) == 0
    out = capsys.readouterr().out
    assert "Tue 2026-06-16" in out and "2 new, 1 cross-listed, 3 matched" in out
    assert "Language models & <tags>" in out


def test_digest_on_a_weekend_says_there_was_no_announcement(config, fake_arxiv, capsys):
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-20")
    assert data["status"] == "no_announcement" and data["papers"] == []
    assert "2026-06-23" in data["note"]


def test_digest_when_arxiv_fails_says_it_could_not_fetch(config, fake_arxiv, capsys):
    from tests.fakes.fake_arxiv import Reply

    fake_arxiv.script("/rss/cs.CL", Reply.html_error())
    assert main(["digest", "--categories", "cs.CL", "--date", "2026-06-16", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert "could not fetch" in captured.err and captured.out == ""


def test_digest_before_the_feed_is_out_says_not_announced_yet(config, fake_arxiv, capsys):
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [], pub_date=TUE_PUB)
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16")
    assert data["status"] == "not_announced_yet" and data["papers"] == []


def test_digest_with_an_unknown_category_fails_with_a_suggestion(config, capsys):
    assert main(["digest", "--categories", "computation and language"]) == 1
    assert "cs.CL" in capsys.readouterr().err


# --- ingest -----------------------------------------------------------------------------------------


def test_ingest_fetches_the_named_categories_and_reports(config, fake_arxiv, capsys):
    serve_cs_cl(fake_arxiv)
    assert main(["ingest", "--categories", "cs.CL", "--date", "2026-06-16"]) == 0
    out = capsys.readouterr().out
    assert "2026-06-16: announced" in out and "2 new" in out and "1 cross" in out
    assert [r.path for r in fake_arxiv.requests_to("/rss")] == ["/rss/cs.CL"]
    # the papers are now in the store: a digest needs no second fetch
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16")
    assert data["counts"]["matched"] == 3 and len(fake_arxiv.requests_to("/rss")) == 1


def test_ingest_with_nothing_followed_says_how_to_choose(config, capsys):
    assert main(["ingest"]) == 1
    assert "--categories" in capsys.readouterr().out


# --- import -----------------------------------------------------------------------------------------


def imported(capsys) -> str:  # type: ignore[no-untyped-def]
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["corpus_sample.jsonl", "corpus_sample.jsonl.gz"])
def test_import_reads_the_corpus_format_plain_or_gzipped(config, capsys, name):
    assert main(["import", "--quiet", str(FIXTURES / name)]) == 0
    out = imported(capsys)
    assert "Imported 3 papers" in out and "1 unreadable lines skipped" in out and "from 5 lines" in out
    data = run_json(capsys, "--categories", "cs.CL+cs.CV+cs.AI", "--date", "2026-06-15")
    assert sorted(p["id"] for p in data["papers"]) == ["2606.10001", "2606.10002"]
    data = run_json(capsys, "--categories", "cs.AI", "--date", "2026-06-16")
    assert [p["title"] for p in data["papers"]] == ["Planning Agents with α-Search"]


def test_importing_both_corpus_files_collapses_duplicates(config, capsys):
    assert main(["import", "--quiet", str(FIXTURES / "corpus_sample.jsonl"), str(FIXTURES / "corpus_sample.jsonl.gz")]) == 0
    assert "(3 new announcement listings)" in imported(capsys)
    data = run_json(capsys, "--categories", "cs.CL+cs.CV+cs.AI", "--date", "2026-06-15")
    assert len(data["papers"]) == 2


def test_import_reads_the_daily_format_with_the_day_from_the_file_name(config, capsys):
    assert main(["import", "--quiet", str(FIXTURES / "2026-06-16.jsonl")]) == 0
    assert "Imported 3 papers (3 new announcement listings) from 4 lines" in imported(capsys)
    data = run_json(capsys, "--categories", "cs.CL", "--date", "2026-06-16")
    assert sorted(p["id"] for p in data["papers"]) == ["2606.20001", "2606.20003"]
    assert data["counts"]["new"] == 2


def test_import_of_a_missing_file_says_so(config, capsys, tmp_path):
    assert main(["import", str(tmp_path / "nope.jsonl")]) == 2
    assert "No such file" in capsys.readouterr().err


# --- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "env", "named"),
    [
        ("[arxiv]\nspeed = 3\n", {}, "arxiv.speed"),
        ("[arxiv]\nmin_interval_s = \"fast\"\n", {}, "arxiv.min_interval_s"),
        ("[nonsense]\nx = 1\n", {}, "[nonsense]"),
        ("", {"PAPERBOY_ARXIV__RETRIES": "lots"}, "arxiv.retries"),
        ("", {"PAPERBOY_LOGGING__LEVEL": "LOUD"}, "logging.level"),
        ("[arxiv\n", {}, "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_line_naming_the_key_and_exit_code_2(tmp_path, monkeypatch, capsys, toml, env, named):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    monkeypatch.setenv("PAPERBOY_CONFIG", str(path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["ingest", "--categories", "cs.CL"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and err.startswith("paperboy: ")


def test_a_missing_config_file_is_named(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "absent.toml"), "ingest"]) == 2
    assert "absent.toml" in capsys.readouterr().err


def test_environment_variables_override_the_file(config, fake_arxiv, monkeypatch, tmp_path, capsys):
    other = tmp_path / "other.sqlite3"
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", f"sqlite:///{other}")
    serve_cs_cl(fake_arxiv)
    assert main(["ingest", "--categories", "cs.CL", "--date", "2026-06-16"]) == 0
    assert other.is_file() and not (tmp_path / "cli.sqlite3").exists()


def test_run_without_any_platform_token_says_how_to_set_one(config, capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "PAPERBOY_TELEGRAM__TOKEN" in err and "PAPERBOY_DISCORD__TOKEN" in err and "paperboy chat" in err


# --- the console adapter -------------------------------------------------------------------------------


async def test_typing_a_button_number_in_the_console_presses_it(app):
    from adapters.console import CHAT_ID, ConsoleSender, handle_line

    out = io.StringIO()
    console = ConsoleSender(out=out)
    await handle_line(app, console, "/start")
    shown = out.getvalue()
    assert "[1]" in shown
    pressed = console.numbers[1]
    assert pressed.startswith("sub:")
    await handle_line(app, console, "1")
    assert app.subscriptions.get(CHAT_ID).categories == pressed.split(":", 1)[1]
    assert "Following" in out.getvalue()[len(shown):]


async def test_console_numbers_keep_counting_and_unknown_numbers_are_plain_text(app):
    from adapters.console import ConsoleSender, handle_line

    out = io.StringIO()
    console = ConsoleSender(out=out)
    await handle_line(app, console, "/start")
    first_batch = max(console.numbers)
    await handle_line(app, console, "/start")
    assert max(console.numbers) == 2 * first_batch  # a later message never reuses an earlier number
    before = out.getvalue()
    await handle_line(app, console, "999")
    assert "arXiv link" in out.getvalue()[len(before):]


async def test_console_prints_link_buttons_as_urls(app, fake_arxiv):
    from adapters.console import ConsoleSender, handle_line
    from tests.fakes.fake_arxiv import atom_entry, atom_feed

    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.12345", "Console paper")]))
    out = io.StringIO()
    await handle_line(app, ConsoleSender(out=out), "2401.12345")
    shown = out.getvalue()
    assert "Console paper" in shown and f"{fake_arxiv.base_url}/pdf/2401.12345" in shown

