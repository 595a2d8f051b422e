"""The base install (`pip install -e .`, no platform extra) runs the terminal chat, and a platform
token without its extra is one clear line naming the extra to install.

The platform libraries are installed in the test environment, so each test runs `paperboy` in a
child process whose import system refuses them, as on a machine that never installed them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# What only the extras install: the platforms' libraries and what they alone pull in.
PLATFORM_LIBRARIES = ("telegram", "discord", "telegramify_markdown", "pyromark", "aiohttp", "tornado")


@pytest.fixture
def without_platforms(tmp_path: Path) -> dict[str, str]:
    """An environment for a child `paperboy` in which the platform libraries cannot be imported."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys

        class RefusePlatforms:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {PLATFORM_LIBRARIES!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, RefusePlatforms())
    """))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAPERBOY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(hook), str(Path(__file__).resolve().parents[1])])
    env["PAPERBOY_DATABASE__URL"] = f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"
    return env


def paperboy(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=90)


def test_the_refusing_hook_really_hides_the_platform_libraries(without_platforms, tmp_path):
    probe = subprocess.run([sys.executable, "-c", "import telegram"], env=without_platforms, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'telegram'" in probe.stderr


def test_the_terminal_chat_runs_without_any_platform_library(without_platforms, tmp_path):
    done = paperboy(["chat"], without_platforms, tmp_path, stdin="/subscribe cs.CL\n")
    assert done.returncode == 0, done.stderr
    assert "Following: cs.CL" in done.stdout


@pytest.mark.parametrize(("platform", "extra"), [("TELEGRAM", "telegram"), ("DISCORD", "discord")])
def test_a_token_without_its_platform_library_names_the_extra_to_install(without_platforms, tmp_path,
                                                                         platform, extra):
    env = {**without_platforms, f"PAPERBOY_{platform}__TOKEN": "123:not-a-real-token"}
    done = paperboy(["run"], env, tmp_path)
    assert done.returncode == 1
    assert f'pip install "paperboy-bot[{extra}]"' in done.stderr
    assert "Traceback" not in done.stderr
