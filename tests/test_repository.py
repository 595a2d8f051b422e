"""The repository holds source, not data: no database file may be committed by accident."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQLITE_MAGIC = b"SQLite format 3\x00"


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name]


def test_no_sqlite_database_is_committed():
    databases = []
    for path in _tracked_files():
        if path.is_file():
            with path.open("rb") as handle:
                if handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
                    databases.append(path.relative_to(ROOT))
    assert databases == []


@pytest.mark.parametrize("name", ["paperboy.sqlite3", "other.db", "x.sqlite", "paperboy.sqlite3-wal",
                                  "paperboy.sqlite3-shm", "paperboy.sqlite3-journal"])
def test_gitignore_covers_database_files(name):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT)
    assert result.returncode == 0, f"{name} is not ignored"
