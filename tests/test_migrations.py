"""Migrations: frozen scripts that bring any database, empty or at an older revision, to head.

Each check runs on SQLite and, when PAPERBOY_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bot.migrate import MIGRATIONS, init_db

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = MIGRATIONS / "versions"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"
    return request.getfixturevalue("pg_url")


def _alembic(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.cmd_opts = type("Opts", (), {"x": [f"url={url}"]})()
    return config


def _revisions() -> list[str]:
    """Every revision from the first to head, in order."""
    script = ScriptDirectory(str(MIGRATIONS))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _current(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    engine.dispose()
    return version


def test_one_linear_history():
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1, "migrations must form one line: re-chain down_revision"
    assert len(script.get_bases()) == 1


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_migrations_import_no_live_project_code(path):
    """A migration is frozen: if it imported digest/ or bot/, it would change when they do."""
    tree = ast.parse(path.read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.split(".")[0] in {"digest", "bot", "adapters"}]


def test_empty_database_upgrades_to_head(database_url):
    engine = create_engine(database_url)
    init_db(engine)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"papers", "subscriptions", "outbox", "digests"} <= tables
    assert _current(database_url) == _revisions()[-1]


def test_database_at_first_revision_upgrades_to_head_keeping_its_data(database_url):
    first = _revisions()[0]
    command.upgrade(_alembic(database_url), first)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO papers (id, version, title, abstract, authors, categories, primary_category, "
            "updated_at) VALUES ('2401.00001', 1, 'Kept across upgrades', 'An abstract.', '[\"A. Author\"]', "
            "'[\"cs.CL\"]', 'cs.CL', CURRENT_TIMESTAMP)"))
    init_db(engine)
    with engine.connect() as conn:
        title = conn.execute(text("SELECT title FROM papers WHERE id = '2401.00001'")).scalar_one()
    engine.dispose()
    assert title == "Kept across upgrades"
    assert _current(database_url) == _revisions()[-1]


def test_downgrade_to_base_and_back(database_url):
    config = _alembic(database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(database_url)
    assert "papers" not in inspect(engine).get_table_names()
    engine.dispose()
    command.upgrade(config, "head")
    assert _current(database_url) == _revisions()[-1]


def test_alembic_command_works_from_the_project_root(tmp_path):
    """`alembic history` and `alembic upgrade head` work with the shipped alembic.ini."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {**os.environ, "PAPERBOY_DATABASE__URL": url}
    alembic = [sys.executable, "-m", "alembic"]
    history = subprocess.run([*alembic, "history"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert history.returncode == 0, history.stderr
    assert _revisions()[0] in history.stdout
    upgrade = subprocess.run([*alembic, "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    assert _current(url) == _revisions()[-1]
