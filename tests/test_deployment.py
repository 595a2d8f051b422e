"""The deployment files say what the README promises: a dependency layer before the source, a
health check, a non-root user, a .dockerignore, and a compose file with PostgreSQL, one scheduler,
two senders and a bot. `docker compose config` (or docker-compose 1.x) validates it where present."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_dockerfile_installs_dependencies_before_copying_the_source():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    first = lambda prefix: next(i for i, line in enumerate(lines) if line.startswith(prefix))  # noqa: E731
    assert first("COPY pyproject.toml") < first('&& pip install --no-cache-dir ".[all,postgres]"') < first("COPY digest")
    assert first("COPY bot") < first("RUN pip install --no-cache-dir --no-deps .")
    assert first("HEALTHCHECK") and "/healthz" in lines[first("HEALTHCHECK") + 1]
    assert first("USER paperboy") < first("ENTRYPOINT")


def test_the_dockerignore_keeps_secrets_and_clutter_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "paperboy.toml", ".env", "*.sqlite3"} <= ignored


def test_the_compose_file_has_postgres_one_scheduler_two_senders_and_a_bot():
    text = (ROOT / "docker-compose.yml").read_text()
    services = re.findall(r"^  ([a-z0-9-]+):$", text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0], re.M)
    assert services == ["postgres", "scheduler", "sender-1", "sender-2", "bot"]
    assert text.count('"--role", "scheduler"') == 1 and text.count('"--role", "sender"') == 2
    assert text.count('"--role", "bot"') == 1 and "pgdata:/var/lib/postgresql/data" in text
    assert "PAPERBOY_OUTBOX__SENDER_ID: sender-1" in text and "PAPERBOY_OUTBOX__SENDER_ID: sender-2" in text
    assert text.count("healthcheck:") == 2  # postgres's own, and the one every paperboy service shares


def compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_validates_the_file():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed here")
    done = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
