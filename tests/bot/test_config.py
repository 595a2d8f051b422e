"""Settings come from TOML and PAPERBOY_<SECTION>__<KEY>; mistakes name the key, old keys still load."""

from __future__ import annotations

import logging

import pytest

from bot.config import ConfigError, Settings, load_settings


def _write(tmp_path, text: str):
    path = tmp_path / "paperboy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_is_an_error_that_names_it(tmp_path):
    with pytest.raises(ConfigError, match="telegram.tokn"):
        load_settings(_write(tmp_path, '[telegram]\ntokn = "x"\n'), environ={})


def test_a_retired_key_still_loads_with_a_warning(tmp_path, caplog):
    """`telegram.bot_username` was documented once: an old config file must not stop the bot."""
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = load_settings(_write(tmp_path, '[telegram]\nbot_username = "paperboy_bot"\n'), environ={})
    assert settings == Settings()
    assert "telegram.bot_username is no longer used" in caplog.text


def test_environment_overrides_the_file(tmp_path):
    path = _write(tmp_path, '[digest]\npage_size = 3\n')
    settings = load_settings(path, environ={"PAPERBOY_DIGEST__PAGE_SIZE": "7"})
    assert settings.digest.page_size == 7
