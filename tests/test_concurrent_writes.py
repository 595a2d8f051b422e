"""Two `paperboy chat` processes changing one chat's subscription at once lose none of each other's
changes: every write is checked against the row version it was based on and redone on a conflict.
On SQLite, and on PostgreSQL when PAPERBOY_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from digest.taxonomy import load_taxonomy
from tests.fakes.processes import ROOT, arxiv_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'writes.sqlite3'}"
    return request.getfixturevalue("pg_url")


def test_two_chat_processes_lose_none_of_each_others_changes(database_url, fake_arxiv):
    from bot.cli import build_app
    from bot.config import Settings

    build_app(Settings().replace("database", url=database_url)).engine.dispose()  # migrated before both start
    taxonomy = load_taxonomy()
    categories = sorted(c for c, cat in taxonomy.categories.items()
                        if c.startswith(("math.", "physics.")) and cat.canonical == c)[:30]
    first, second = categories[::2], categories[1::2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env |= arxiv_env(fake_arxiv) | {"PAPERBOY_DATABASE__URL": database_url, "PAPERBOY_LOGGING__LEVEL": "ERROR"}
    scripts = [
        "".join(f"/subscribe {cat}\n/days mon-fri\n/days daily\n" for cat in first),
        "".join(f"/subscribe {cat}\n/max {n % 9 + 1}\n/max 7\n" for n, cat in enumerate(second)),
    ]
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", "--no-schedule"], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in scripts]
    outputs: list[list[str]] = [[], []]
    readers = [threading.Thread(target=lambda p=p, out=out: out.extend(p.stdout), daemon=True)
               for p, out in zip(procs, outputs)]
    for reader in readers:
        reader.start()
    for proc in procs:  # both are up and answering before the changes start, so they overlap
        proc.stdin.write("/help\n")
        proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not all(outputs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc, script in zip(procs, scripts):
        proc.stdin.write(script)
        proc.stdin.flush()
    for proc in procs:
        proc.stdin.close()
    for proc, reader in zip(procs, readers):
        proc.wait(timeout=150)
        reader.join(timeout=10)
    assert [p.returncode for p in procs] == [0, 0], outputs

    app = build_app(Settings().replace("database", url=database_url))
    try:
        sub = app.subscriptions.get("console:local")
    finally:
        app.engine.dispose()
    followed = set(sub.categories.replace("+", " ").split())
    complaints = [line for out in outputs for line in out if "elsewhere" in line or "rror" in line]
    assert set(categories) <= followed, f"lost: {sorted(set(categories) - followed)}; {complaints[:5]}"
    assert sub.max_papers == 7 and sub.weekdays.count(",") == 6  # each process's last word survived too
