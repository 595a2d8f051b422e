"""Operating a fleet, tested against real `paperboy run` processes: /healthz, /metrics, `paperboy
status [--json]`, structured logs, and the one-scheduler lease with its takeover."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.processes import ROOT, PaperboyProcess, arxiv_env, free_port, seed_due_chats

pytestmark = pytest.mark.timeout(180)


async def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def status(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "status", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def newest_mailing(url: str, category: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, select

    from digest.schema import MailingRow

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(MailingRow).order_by(MailingRow.fetched_at)).all()
    finally:
        engine.dispose()
    return [r for r in rows if category in r.feed.split("+")][-1]


def metric(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
              or line.startswith(name + "{") and line.split(" ")[0] == name]
    assert values, f"{name} not in /metrics"
    return values[0]


async def test_status_healthz_and_metrics_of_a_running_bot(tmp_path, fake_arxiv):
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    await seed_due_chats(url, fake_arxiv, ["tg:501", "tg:502", "tg:-100777"])
    port = free_port()
    with FakeTelegram() as tg:
        env = arxiv_env(fake_arxiv) | {
            "PAPERBOY_DATABASE__URL": url, "PAPERBOY_METRICS__PORT": str(port),
            "PAPERBOY_TELEGRAM__TOKEN": tg.token, "PAPERBOY_TELEGRAM__BASE_URL": tg.base_url,
            "PAPERBOY_SCHEDULE__OUTBOX_INTERVAL_S": "0.5", "PAPERBOY_LOGGING__FORMAT": "json",
        }
        tg.block(502)  # one chat has blocked the bot: it shows as paused, with an error logged
        bot = PaperboyProcess(["run"], env, tmp_path / "run.log").start()
        try:
            await wait_until(lambda: (r := get(f"http://127.0.0.1:{port}/healthz")) is not None and r.status_code == 200,
                             60, "/healthz to say ready")
            health = get(f"http://127.0.0.1:{port}/healthz").json()
            assert health["database"] and health["scheduler_lease"]["fresh"]
            await wait_until(lambda: len([c for c in tg.calls_to("sendMessage") if c.status == 200]) >= 4, 60,
                             "the digests of the two reachable chats")
            await asyncio.sleep(1.0)
            metrics = get(f"http://127.0.0.1:{port}/metrics").text
            report = json.loads(await asyncio.to_thread(status, bot.env, "--json"))
            text = await asyncio.to_thread(status, bot.env)
        finally:
            bot.stop()
        assert (await asyncio.to_thread(get, f"http://127.0.0.1:{port}/healthz")) is None  # stopped with the process

    assert metric(metrics, 'paperboy_messages_sent_total{platform="tg"}') >= 4
    assert metric(metrics, 'paperboy_outbox_depth{status="sent"}') >= 4
    assert metric(metrics, 'paperboy_outbox_depth{status="dead"}') >= 1
    assert metric(metrics, "paperboy_digest_build_seconds_count") >= 1
    for name in ("paperboy_flood_429_total", "paperboy_fetch_failures_total", "paperboy_llm_tokens_total",
                 "paperboy_llm_latency_seconds", "paperboy_outbox_oldest_pending_seconds"):
        assert f"# TYPE {name.removesuffix('_total')}" in metrics

    # The newest attempt: the running scheduler asked for today's feed (the fake still serves June's).
    newest = newest_mailing(url, "cs.CL")
    assert report["ingest"]["cs.CL"]["day"] == newest.day.isoformat() > "2026-06-16"
    assert report["ingest"]["cs.CL"]["status"] == newest.status
    assert report["outbox"]["by_status"]["sent"] >= 4 and report["outbox"]["by_status"]["dead"] >= 1
    assert [p["chat_id"] for p in report["paused_chats"]] == ["tg:502"]
    assert report["llm_today"]["calls"] == 0
    assert report["next_announcement"]["day"] > "2026-06-16"
    assert report["scheduler_lease"]["holder"].endswith(f":{bot.pid}")
    assert any("unreachable" in e["message"] for e in report["last_errors"])
    for heading in ("Last ingest per category:", "Outbox:", "Chats paused as unreachable: 1", "LLM today",
                    "Last errors:", "Next announcement:"):
        assert heading in text
    log_lines = [line for line in bot.log().splitlines() if line.startswith("{")]
    assert log_lines and all({"time", "level", "logger", "message"} <= set(json.loads(line)) for line in log_lines)


async def test_a_second_scheduler_waits_and_takes_over_when_the_first_dies(tmp_path, fake_arxiv):
    url = f"sqlite:///{tmp_path / 'lease.sqlite3'}"
    await seed_due_chats(url, fake_arxiv, [])
    env = arxiv_env(fake_arxiv) | {"PAPERBOY_DATABASE__URL": url}
    first = PaperboyProcess(["run", "--role", "scheduler"], env, tmp_path / "first.log").start()
    second = PaperboyProcess(["run", "--role", "scheduler"], env, tmp_path / "second.log")
    try:
        await wait_until(lambda: "holding the scheduler lease" in first.log(), 60, "the first scheduler")
        second.start()
        await wait_until(lambda: "standing by" in second.log(), 60, "the second scheduler to stand by")
        assert json.loads(status(env, "--json"))["scheduler_lease"]["holder"].endswith(f":{first.pid}")
        first.kill()
        killed_at = time.monotonic()
        await wait_until(lambda: "holding the scheduler lease" in second.log(), 40, "the takeover")
        assert time.monotonic() - killed_at < 25  # a dead holder on this host is replaced at the next renewal (10 s)
        assert json.loads(status(env, "--json"))["scheduler_lease"]["holder"].endswith(f":{second.pid}")
    finally:
        first.stop()
        second.stop()
