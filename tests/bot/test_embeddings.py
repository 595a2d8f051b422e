"""Provider embeddings (`llm.embedding_model`): papers are embedded as they arrive, once; Related and
ranking use the vectors; a provider that fails leaves everything on TF-IDF; `paperboy embed` embeds
the history and resumes. The real openai SDK talks real HTTP to the fake server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

import bot.embedder
from bot.cli import build_app, main
from bot.config import load_settings
from bot.delivery import ingest
from bot.embedder import Embedder
from bot.ports import ChatContext
from digest.db import make_sessionmaker
from digest.embeddings import PaperEmbeddings, model_key
from digest.personal import rank_papers
from digest.related import PaperVectors, RelatedFinder
from digest.search import PaperSearch, create_search_index
from digest.store import PaperStore
from tests.bot.test_delivery import TUE, serve_day
from tests.fakes.assistant_fixtures import app_settings_with_llm
from tests.fakes.fake_arxiv import rss_feed, rss_item
from tests.fakes.fake_openai import FakeOpenAI, Fault
from tests.fakes.find_papers import by_topic, topical_papers

MODEL = "fake-embed"
CHAT = ChatContext(chat_id="console:alice")
ABSTRACTS = {
    "2606.00001": "Graph neural networks for molecule property prediction.",
    "2606.00002": "Graph neural networks for traffic forecasting on road graphs.",
    "2606.00003": "A survey of pasta cooking techniques in Italian kitchens.",
}


@pytest.fixture
def llm():
    with FakeOpenAI() as fake:
        yield fake


def embed_settings(tmp_path, fake_arxiv, llm, **overrides):  # type: ignore[no-untyped-def]
    return app_settings_with_llm(tmp_path, fake_arxiv, llm).replace("llm", **{"embedding_model": MODEL, **overrides})


@pytest.fixture
async def app(tmp_path, fake_arxiv, llm, clock, sender):
    application = build_app(embed_settings(tmp_path, fake_arxiv, llm), clock=clock)
    application.attach_sender("console", sender)
    yield application
    await application.wait_idle()
    await application.aclose()


def serve_papers(fake_arxiv, abstracts: dict[str, str] = ABSTRACTS, version: int = 1) -> None:  # type: ignore[no-untyped-def]
    pub = "Tue, 16 Jun 2026 00:00:00 -0400"
    items = [rss_item(pid, f"Paper {pid}", abstract=text, categories=("cs.CL",), version=version,
                      announce_type="new" if version == 1 else "replace", pub_date=pub)
             for pid, text in abstracts.items()]
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", items, pub_date=pub)


def stored(app) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    return app.embedder.embeddings.vectors(list(ABSTRACTS))


# --- papers are embedded as they arrive, once ------------------------------------------------------


async def test_papers_ingested_get_their_vectors_in_one_batched_request(app, fake_arxiv, llm):
    serve_papers(fake_arxiv)
    report = await ingest(app, TUE, "cs.CL")
    await app.wait_idle()
    assert report.status == "announced"
    vectors = stored(app)
    assert set(vectors) == set(ABSTRACTS)
    assert all(v.shape == (64,) and abs(float(np.linalg.norm(v)) - 1) < 1e-2 for v in vectors.values())
    assert llm.calls == 1 and sorted(llm.embedded) == sorted(f"Paper {p}\n\n{a}" for p, a in ABSTRACTS.items())
    assert llm.requests[0]["model"] == MODEL and llm.requests[0]["encoding_format"] == "base64"
    graph, traffic, pasta = (vectors[p] for p in ABSTRACTS)
    assert float(graph @ traffic) > float(graph @ pasta) + 0.2  # the fake's vectors follow shared words


async def test_nothing_is_embedded_twice_and_a_new_abstract_is_embedded_again(app, fake_arxiv, llm):
    serve_papers(fake_arxiv)
    await ingest(app, TUE, "cs.CL")
    await app.wait_idle()
    app.embed_new(list(ABSTRACTS))  # the same papers again: nothing to do
    await app.wait_idle()
    assert len(llm.embedded) == 3 and llm.calls == 1
    before = stored(app)["2606.00002"]
    changed = dict(ABSTRACTS, **{"2606.00002": "Diffusion models for weather forecasting."})
    serve_papers(fake_arxiv, changed, version=2)
    app.store.upsert_papers([dataclasses.replace(app.store.get_paper("2606.00002"), version=2,
                                                 abstract=changed["2606.00002"])])
    app.embed_new(list(ABSTRACTS))
    await app.wait_idle()
    assert llm.embedded[3:] == ["Paper 2606.00002\n\nDiffusion models for weather forecasting."]
    assert not np.allclose(stored(app)["2606.00002"], before)


async def test_a_restart_embeds_nothing_again(tmp_path, fake_arxiv, llm, clock):
    settings = embed_settings(tmp_path, fake_arxiv, llm)
    serve_papers(fake_arxiv)
    first = build_app(settings, clock=clock)
    await ingest(first, TUE, "cs.CL")
    await first.wait_idle()
    await first.aclose()
    again = build_app(settings, clock=clock)  # start-up itself asks the provider for nothing
    try:
        assert llm.calls == 1
        again.embed_new(list(ABSTRACTS))
        await again.wait_idle()
        assert await again.embedder.embed_history() == 0
        assert len(llm.embedded) == 3 and set(again.embedder.embeddings.vectors(list(ABSTRACTS))) == set(ABSTRACTS)
    finally:
        await again.aclose()


async def test_dimensions_are_asked_for_and_a_new_size_re_embeds(tmp_path, fake_arxiv, llm, clock):
    serve_papers(fake_arxiv)
    small = build_app(embed_settings(tmp_path, fake_arxiv, llm, embedding_dimensions=16), clock=clock)
    try:
        await ingest(small, TUE, "cs.CL")
        await small.wait_idle()
        assert llm.requests[-1]["dimensions"] == 16
        assert {v.shape for v in small.embedder.embeddings.vectors(list(ABSTRACTS)).values()} == {(16,)}
        assert small.embedder.embeddings.model == model_key(MODEL, 16) == "fake-embed@16"
    finally:
        await small.aclose()
    full = build_app(embed_settings(tmp_path, fake_arxiv, llm), clock=clock)
    try:
        assert await full.embedder.embed_history() == 3  # another size is another model: embedded again
        assert {v.shape for v in full.embedder.embeddings.vectors(list(ABSTRACTS)).values()} == {(64,)}
    finally:
        await full.aclose()


def test_embeddings_are_off_by_default_and_set_from_the_environment():
    assert load_settings(environ={}).llm.embedding_model == ""
    settings = load_settings(environ={"PAPERBOY_LLM__EMBEDDING_MODEL": "text-embedding-3-small",
                                      "PAPERBOY_LLM__EMBEDDING_DIMENSIONS": "256"})
    assert (settings.llm.embedding_model, settings.llm.embedding_dimensions) == ("text-embedding-3-small", 256)


# --- a failing provider leaves everything on TF-IDF -------------------------------------------------


FAILURES = {
    "500": [Fault("status", 500)],
    "429": [Fault("status", 429)],
    "timeout": [Fault("slow", delay_s=1.5)],
}


@pytest.mark.parametrize("failure", [*FAILURES, "down"])
async def test_a_failing_provider_breaks_neither_ingest_nor_related_nor_the_digest(
        tmp_path, fake_arxiv, llm, clock, sender, caplog, failure):
    overrides = {"timeout_s": 0.5}
    if failure == "down":
        overrides["base_url"] = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    app = build_app(embed_settings(tmp_path, fake_arxiv, llm, **overrides), clock=clock)
    app.attach_sender("console", sender)
    try:
        serve_day(fake_arxiv, TUE, [("2606.00001", 1, "new"), ("2606.00002", 1, "new")])
        llm.script(*FAILURES.get(failure, []) * 3)  # every request of both rounds fails
        for _ in range(2):  # two failing rounds: one warning
            with caplog.at_level(logging.WARNING, logger="bot.embedder"):
                report = await ingest(app, TUE, "cs.CL")
                app.embed_new(["2606.00001", "2606.00002"])
                await app.wait_idle()
        assert report.status == "announced" and llm.calls == (0 if failure == "down" else 3)
        assert app.embedder.embeddings.vectors(["2606.00001", "2606.00002"]) == {}
        assert len([r for r in caplog.records if r.name == "bot.embedder" and r.levelno == logging.WARNING]) == 1
        paper = app.store.get_paper("2606.00001")
        assert [h.id for h in app.finder.related.related(paper, 5)] == ["2606.00002"]
        await app.handle_text(CHAT, "/subscribe cs.CL")
        answer = await app.handle_text(CHAT, "/digest")
        assert "2606.00002" in "".join(m.plain_text() for m in answer)
        if failure != "down":  # the provider is back: the next ingest's papers (and these) are embedded
            app.embed_new(["2606.00001", "2606.00002"])
            await app.wait_idle()
            assert set(app.embedder.embeddings.vectors(["2606.00001", "2606.00002"])) == {"2606.00001", "2606.00002"}
    finally:
        await app.aclose()


async def test_a_transient_failure_is_retried(tmp_path, fake_arxiv, llm, clock):
    settings = embed_settings(tmp_path, fake_arxiv, llm, retries=2)
    app = build_app(settings, clock=clock)
    try:
        app.store.upsert_papers(topical_papers()[:3])
        embedder = Embedder(settings.llm, app.embedder.embeddings, retry_wait_s=0.0)
        llm.script(Fault("status", 503), Fault("status", 429))
        assert await embedder.embed_new([p.id for p in topical_papers()[:3]]) == 3
        assert llm.calls == 3
        await embedder.aclose()
    finally:
        await app.aclose()


# --- Related and ranking use the vectors ------------------------------------------------------------


@pytest.fixture
def sessions(engine):
    with engine.begin() as conn:
        create_search_index(conn)
    maker = make_sessionmaker(engine)
    PaperStore(maker).upsert_papers(topical_papers())
    return maker


def unit(*values: float) -> list[float]:
    vector = np.zeros(8)
    vector[: len(values)] = values
    return list(vector / np.linalg.norm(vector))


def test_related_blends_the_embedding_cosine_into_its_order(engine, sessions):
    paper = by_topic(topical_papers(), 1)[0]
    plain = RelatedFinder(PaperVectors(sessions), PaperSearch(engine))
    tfidf_order = [h.id for h in plain.related(paper, 4)]
    last = tfidf_order[-1]
    embeddings = PaperEmbeddings(sessions, MODEL)
    texts = {p.id: p.title for p in topical_papers()}
    # the paper and TF-IDF's fourth choice mean the same; TF-IDF's first three mean something else
    embeddings.save([(paper.id, texts[paper.id], unit(1)), (last, texts[last], unit(1)),
                     *[(pid, texts[pid], unit(0, 1)) for pid in tfidf_order[:3]]])
    blended = RelatedFinder(PaperVectors(sessions), PaperSearch(engine), embeddings)
    order = [h.id for h in blended.related(paper, 4)]
    assert order[0] == last and set(order) == set(tfidf_order)
    # a paper without a vector is answered by TF-IDF alone
    other = by_topic(topical_papers(), 2)[0]
    assert [h.id for h in blended.related(other, 4)] == [h.id for h in plain.related(other, 4)]


def test_ranking_adds_the_embedding_affinity_to_the_likes():
    liked = by_topic(topical_papers(), 1)[0]
    text_first, meant = by_topic(topical_papers(), 1)[1], by_topic(topical_papers(), 4)[1]
    candidates = [text_first, meant]
    without = rank_papers([liked], candidates, use_authors=False)
    assert without[text_first.id][0] > without[meant.id][0]
    vectors = {liked.id: np.array(unit(1), dtype=np.float32), meant.id: np.array(unit(1), dtype=np.float32),
               text_first.id: np.array(unit(-1, 0.2), dtype=np.float32)}
    scored = rank_papers([liked], candidates, use_authors=False, embeddings=vectors)
    assert scored[meant.id][0] > scored[text_first.id][0]
    # a candidate without a vector keeps its text score plus the others' mean affinity
    partial = rank_papers([liked], candidates, use_authors=False, embeddings={k: v for k, v in vectors.items()
                                                                             if k != text_first.id})
    assert partial[text_first.id][0] - without[text_first.id][0] == pytest.approx(
        partial[meant.id][0] - without[meant.id][0])


async def test_the_personal_ranker_reads_the_stored_vectors(app):
    papers = topical_papers()
    app.store.upsert_papers(papers)
    liked = by_topic(papers, 1)[0]
    text_first, meant = by_topic(papers, 1)[1], by_topic(papers, 4)[1]
    assert app.personal.rank([liked], [text_first, meant])[0][0].id == text_first.id
    app.embedder.embeddings.save([(liked.id, "x", unit(1)), (meant.id, "x", unit(1)), (text_first.id, "x", unit(-1))])
    assert app.personal.rank([liked], [text_first, meant])[0][0].id == meant.id


# --- paperboy embed: the history, on request, resumable ---------------------------------------------


@pytest.fixture
def cli_config(tmp_path, fake_arxiv, llm, monkeypatch):
    path = tmp_path / "paperboy.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "cli.sqlite3"}"\n'
        f'[llm]\nbase_url = "{llm.base_url}"\napi_key = "test-key"\nretries = 0\ntimeout_s = 5\n'
        f'embedding_model = "{MODEL}"\n[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("PAPERBOY_CONFIG", str(path))
    return path


def store_history(cli_config) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(cli_config, environ={})
    from bot.migrate import init_db
    from digest.db import make_engine

    engine = make_engine(settings.database.url)
    init_db(engine)
    PaperStore(make_sessionmaker(engine)).upsert_papers(topical_papers())
    engine.dispose()


def test_paperboy_embed_embeds_the_history_and_resumes_after_a_failure(cli_config, llm, capsys, monkeypatch):
    store_history(cli_config)
    monkeypatch.setattr(bot.embedder, "BATCH", 4)  # five requests for the 20 papers
    assert main(["embed", "--limit", "6", "--quiet"]) == 0
    assert "embedded 6 papers (2 requests" in capsys.readouterr().out
    llm.script(Fault("ok"), Fault("status", 500))  # the second request of the next run fails
    assert main(["embed", "--quiet"]) == 1
    assert "run the same command again to resume" in capsys.readouterr().err
    assert main(["embed", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "embedded 10 papers" in out and "; 0 stored papers have no vector yet" in out
    assert sorted(llm.embedded) == sorted(set(llm.embedded)) and len(llm.embedded) == 20
    assert main(["embed", "--quiet"]) == 0
    assert "embedded 0 papers" in capsys.readouterr().out and len(llm.embedded) == 20


def test_paperboy_embed_without_a_model_says_how_to_turn_it_on(cli_config, capsys, monkeypatch):
    monkeypatch.setenv("PAPERBOY_LLM__EMBEDDING_MODEL", "")
    assert main(["embed"]) == 2
    assert "llm.embedding_model" in capsys.readouterr().err

