"""`paperboy search | related | rank`: JSON output for scripts, from the same code as the bot."""

from __future__ import annotations

import pytest

from tests.fakes.find_papers import by_topic, topical_papers


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """A database filled through `paperboy import` with the topical papers, for the CLI tests."""
    import json

    from bot.cli import main

    lines = [json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract, "authors": list(p.authors),
                         "categories": list(p.categories), "primary_category": p.primary,
                         "first_seen": p.published.isoformat()}) for p in topical_papers()]
    source = tmp_path / "papers.jsonl"
    source.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(source), "--quiet"]) == 0
    return tmp_path


def run_json(capsys, argv):  # type: ignore[no-untyped-def]
    import json

    from bot.cli import main

    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_search_prints_ids_and_scores_in_order(cli_db, capsys):
    hits = run_json(capsys, ["search", "speech recognition", "--limit", "3", "--json"])
    assert len(hits) == 3 and set(hits[0]) == {"id", "score", "title", "authors", "published", "url"}
    assert all(h["id"].startswith("2503.") for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    papers = {p.id: p for p in topical_papers()}
    for hit in hits:
        paper = papers[hit["id"]]
        assert hit["title"] == paper.title and hit["authors"] == list(paper.authors)
        assert hit["published"] == paper.published.isoformat()
        assert hit["url"].endswith(f"/abs/{paper.id}")


@pytest.mark.parametrize("command", [["search", "speech recognition", "--limit", "3"], ["related", "FIRST"]])
def test_cli_prints_a_readable_table_with_titles(cli_db, capsys, command):
    from bot.cli import main

    first = by_topic(topical_papers(), 1)[0]
    hits = run_json(capsys, [*(first.id if a == "FIRST" else a for a in command), "--json"])
    capsys.readouterr()
    assert main([first.id if a == "FIRST" else a for a in command]) == 0
    out = capsys.readouterr().out
    for column in ("id", "title", "first author", "date", "score"):
        assert column in out
    top = hits[0]
    assert top["id"] in out and top["title"].split()[0] in out and top["authors"][0].split()[-1] in out
    assert top["published"] in out and f"{top['score']:.4f}" in out


def test_cli_search_runs_a_file_of_queries_and_times_each(cli_db, capsys):
    queries = cli_db / "queries.txt"
    queries.write_text('video\n"chain of thought"\n\nx after:2025-13-01\n')
    runs = run_json(capsys, ["search", "--queries", str(queries), "--json"])
    assert [r["query"] for r in runs] == ["video", '"chain of thought"', "x after:2025-13-01"]
    assert all(set(r) >= {"query", "results", "ms"} and r["ms"] >= 0 for r in runs)
    assert runs[1]["results"][0]["id"] == "2502.00402"
    assert runs[2]["results"] == [] and "not a real date" in runs[2]["error"]


def test_cli_related_and_rank_use_the_bots_code(cli_db, capsys):
    grasp = by_topic(topical_papers(), 4)
    related = run_json(capsys, ["related", f"https://arxiv.org/abs/{grasp[0].id}", "--json"])
    assert {r["id"] for r in related[:4]} == {p.id for p in grasp[1:]}
    (cli_db / "likes.txt").write_text(f"{grasp[0].id}\n# a comment\n")
    (cli_db / "day.txt").write_text("\n".join(p.id for t in (1, 2, 3, 4) for p in by_topic(topical_papers(), t)[2:]))
    ranked = run_json(capsys, ["rank", "--likes", str(cli_db / "likes.txt"), "--candidates", str(cli_db / "day.txt"),
                               "--json"])
    assert len(ranked) == 12 and {r["id"] for r in ranked[:3]} == {p.id for p in grasp[2:]}
    assert all(r["title"] and r["url"] and "reason" in r for r in ranked)
    assert ranked[0]["reason"] and grasp[0].id in ranked[0]["reason"]
