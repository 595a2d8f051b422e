"""The docs keep up with the code: every setting, chat command and CLI command is documented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.cli import make_parser
from bot.command_specs import COMMANDS
from bot.config import Settings, _build, all_keys

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config.example.toml"


@pytest.mark.parametrize("key", all_keys())
def test_every_setting_is_in_the_readme_and_the_example(key):
    section, name = key.split(".")
    assert f"`{key}`" in README, f"{key} is not documented in README.md"
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert name in example.get(section, {}), f"{key} is missing from config.example.toml"


def test_the_example_config_holds_exactly_the_defaults():
    assert _build(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))) == Settings()


@pytest.mark.parametrize("name", [spec.name for spec in COMMANDS])
def test_every_chat_command_is_in_the_readme(name):
    assert re.search(rf"`/{name}[ `]", README), f"/{name} is not documented in README.md"


def test_every_cli_command_is_in_the_readme():
    subparsers = next(a for a in make_parser()._actions if a.dest == "command")
    for name in subparsers.choices:
        assert f"`paperboy {name}" in README, f"paperboy {name} is not documented in README.md"
