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
    with pytest.raises(ConfigError, match=r"telegram\.tokn"):
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


@pytest.mark.parametrize(("env", "message"), [
    ({"PAPERBOY_DIGEST__PAGE_SIZE": "ten"}, "config key digest.page_size has value 'ten', which is not a whole number"),
    ({"PAPERBOY_ARXIV__TIMEOUT_S": "soon"}, "config key arxiv.timeout_s has value 'soon', which is not a number"),
    ({"PAPERBOY_LLM__TLDR": "maybe"}, "config key llm.tldr has value 'maybe', which is not true or false"),
    ({"PAPERBOY_ARXIV__MIN_INTERVAL_S": "-1"}, "config key arxiv.min_interval_s must be 0 or more"),
    ({"PAPERBOY_LLM__MAX_ANSWER_TOKENS": "8"}, "config key llm.max_answer_tokens must be at least 16"),
    ({"PAPERBOY_SEARCH__ENGINE": "lucene"}, "config key search.engine has value 'lucene'; use auto, fts5 or postgres"),
    ({"PAPERBOY_METRICS__PORT": "70000"}, "config key metrics.port has value 70000; use a port number, or 0 for off"),
    ({"PAPERBOY_DISCORD__SHARD_ID": "2", "PAPERBOY_DISCORD__SHARD_COUNT": "2"},
     "config key discord.shard_id must be between 0 and discord.shard_count - 1 (1)"),
    ({"PAPERBOY_LLM__APIKEY": "x"}, "unknown config key llm.apikey"),
    ({"PAPERBOY_CHAT__MODE": "x"}, "unknown config section [chat]"),
])
def test_a_bad_value_is_one_line_that_names_the_key(env, message):
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ=env)
    assert str(raised.value).startswith(message)


def test_values_from_the_environment_are_typed():
    settings = load_settings(None, environ={"PAPERBOY_LLM__TLDR": "on", "PAPERBOY_ARXIV__CATEGORIES": "cs.LG, math.AG",
                                            "PAPERBOY_DIGEST__PAGE_SIZE": "7", "PAPERBOY_ARXIV__TIMEOUT_S": "2.5"})
    assert settings.llm.tldr is True and settings.arxiv.categories == ("cs.LG", "math.AG")
    assert settings.digest.page_size == 7 and settings.arxiv.timeout_s == 2.5


SECRETS = {
    "PAPERBOY_TELEGRAM__TOKEN": "123456:tg-SECRET-token",
    "PAPERBOY_TELEGRAM__WEBHOOK_SECRET": "hook-SECRET",
    "PAPERBOY_DISCORD__TOKEN": "dc-SECRET-token",
    "PAPERBOY_LLM__API_KEY": "sk-SECRET-key",
    "PAPERBOY_DATABASE__URL": "postgresql+psycopg://paperboy:db-SECRET-pw@127.0.0.1/paperboy",
}


def _shows_a_secret(text: str) -> bool:
    return "SECRET" in text


def test_secrets_load_and_are_readable_where_they_are_used():
    settings = load_settings(None, environ=SECRETS)
    assert settings.telegram.token.get_secret_value() == "123456:tg-SECRET-token"
    assert settings.llm.api_key.get_secret_value() == "sk-SECRET-key"
    assert settings.database.url == SECRETS["PAPERBOY_DATABASE__URL"]  # the engine needs the real URL


def test_secrets_never_show_in_repr_or_str():
    settings = load_settings(None, environ=SECRETS)
    for shown in (repr(settings), str(settings), repr(settings.telegram), str(settings.llm), repr(settings.database),
                  f"{settings.discord}", repr(settings.replace("llm", api_key="sk-SECRET-again"))):
        assert not _shows_a_secret(shown), shown
    assert "paperboy:***@127.0.0.1" in repr(settings.database)


def test_secrets_never_show_in_a_log_line(caplog):
    settings = load_settings(None, environ=SECRETS)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("paperboy.test").info("settings: %s / %r / %s", settings, settings, settings.llm)
    assert "settings:" in caplog.text and not _shows_a_secret(caplog.text)


@pytest.mark.parametrize("bad", [{"PAPERBOY_LLM__MAX_CONCURRENCY": "none"}, {"PAPERBOY_DISCORD__SHARD_ID": "5"}])
def test_an_error_about_another_key_shows_no_secret(bad):
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={**SECRETS, **bad})
    assert not _shows_a_secret(str(raised.value))


def test_a_bad_secret_names_its_key_but_not_its_value(tmp_path):
    path = _write(tmp_path, '[llm]\napi_key = ["sk-SECRET-in-a-list"]\n')
    with pytest.raises(ConfigError, match=r"llm\.api_key") as raised:
        load_settings(path, environ={})
    assert not _shows_a_secret(str(raised.value))


def test_a_validation_error_of_a_section_built_in_code_shows_no_secret():
    from pydantic import ValidationError

    from bot.config import LLMSettings

    with pytest.raises(ValidationError) as raised:
        LLMSettings(api_key="sk-SECRET-key", max_concurrency="many")
    assert "max_concurrency" in str(raised.value) and not _shows_a_secret(str(raised.value))
    with pytest.raises(ConfigError, match=r"llm\.max_concurrency") as replaced:
        Settings().replace("llm", api_key="sk-SECRET-key", max_concurrency=0)
    assert not _shows_a_secret(str(replaced.value))


def test_settings_alone_are_the_defaults_whatever_the_environment(monkeypatch):
    """Only `load_settings` reads the environment, and only the one it is given."""
    monkeypatch.setenv("PAPERBOY_DIGEST__PAGE_SIZE", "3")
    assert Settings().digest.page_size == 10
    assert load_settings(None, environ={}).digest.page_size == 10
