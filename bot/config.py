"""Settings: one frozen, typed `Settings` (pydantic-settings) read once from TOML and the environment.

Where the file comes from: `--config PATH`, else `$PAPERBOY_CONFIG`, else `./paperboy.toml`, else
built-in defaults. Every key can be overridden by `PAPERBOY_<SECTION>__<KEY>` (for example
`PAPERBOY_DATABASE__URL`). The environment is a parameter, never read from `os.environ` elsewhere,
so tests build settings from a dict; `Settings()` alone is the built-in defaults and reads nothing.
A bad value raises `ConfigError` with one line naming the key.

Tokens and keys (`telegram.token`, `telegram.webhook_secret`, `discord.token`, `llm.api_key`) are
`SecretStr`: a repr, a log line or an error shows `**********`, and only the code that hands one to
its service calls `.get_secret_value()`. The password in `database.url` is masked in a repr too.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "PAPERBOY_"

log = logging.getLogger(__name__)

# Keys that older versions documented: still accepted (with a warning) so an old config file loads.
RETIRED_KEYS = {
    "telegram.bot_username": "the bot's @username comes from Telegram's getMe; remove the key",
}


class ConfigError(Exception):
    """The configuration is unusable; the message names the key and what is wrong."""


# --- value types: how a TOML value or an environment string becomes a setting ------------------------
# Each raises a "config" error whose message follows the key's name ("config key a.b <message>").


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("config", "{message}", {"message": message})


def _not_a(kind: str, raw: Any) -> PydanticCustomError:
    return _invalid(f"has value {raw!r}, which is not {kind}")


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise _not_a("true or false", raw)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise _not_a("a whole number", raw)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _not_a("a whole number", raw) from None


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise _not_a("a number", raw)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise _not_a("a number", raw) from None


def _to_str(raw: Any) -> str:
    if not isinstance(raw, (str, int, float)):
        raise _not_a("a string", raw)
    return str(raw)


def _to_names(raw: Any) -> tuple[str, ...]:
    """A list of strings: a TOML array, or one string of names separated by commas or spaces."""
    try:
        items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    except TypeError:
        raise _not_a("a list of strings", raw) from None
    return tuple(str(i) for i in items)


def _to_secret(raw: Any) -> SecretStr:
    """A secret string; the error never shows the value."""
    if isinstance(raw, SecretStr):
        return raw
    if not isinstance(raw, (str, int, float)):
        raise _invalid("has a value that is not a string (the value is secret and not shown)")
    return SecretStr(str(raw))


def _rule(ok: Callable[[Any], bool], message: str | Callable[[Any], str]) -> AfterValidator:
    """A check on a coerced value; `message` follows the key's name when it fails."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise _invalid(message(value) if callable(message) else message)
        return value

    return AfterValidator(check)


Flag = Annotated[bool, BeforeValidator(_to_bool)]
Whole = Annotated[int, BeforeValidator(_to_int)]
Number = Annotated[float, BeforeValidator(_to_float)]
Text = Annotated[str, BeforeValidator(_to_str)]
Names = Annotated[tuple[str, ...], BeforeValidator(_to_names)]
Secret = Annotated[SecretStr, BeforeValidator(_to_secret)]

_NO_SECRET = SecretStr("")
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_url_password(url: str) -> str:
    """`url` with the password of its `user:password@` part shown as `***`."""
    return _URL_PASSWORD.sub(r"\1***@", url)


class _Section(BaseModel):
    """One `[section]` of the TOML file: frozen, no unknown keys, values never echoed in errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


# --- the sections ------------------------------------------------------------------------------------


class DatabaseSettings(_Section):
    url: Text = "sqlite:///paperboy.sqlite3"

    def __repr_args__(self) -> Any:
        """The URL's password never shows in a repr, a log line or an error."""
        for name, value in super().__repr_args__():
            yield name, mask_url_password(value) if name == "url" else value


class ArxivSettings(_Section):
    rss_url: Text = "https://rss.arxiv.org/rss"
    api_url: Text = "https://export.arxiv.org/api/query"
    html_url: Text = "https://arxiv.org/html"
    pdf_url: Text = "https://arxiv.org/pdf"
    abs_url: Text = "https://arxiv.org/abs"
    oai_url: Text = "https://oaipmh.arxiv.org/oai"  # OAI-PMH, for `paperboy backfill`
    min_interval_s: Annotated[Number, _rule(lambda v: v >= 0, "must be 0 or more")] = 3.0
    user_agent: Text = "paperboy-bot/0.1 (+https://github.com/paperboy-bot/paperboy; mailto:paperboy@example.org)"
    timeout_s: Number = 30.0
    retries: Whole = 4
    # A command that needs arXiv (/digest, a pasted link, /related) answers within this many seconds.
    interactive_timeout_s: Number = 8.0
    # Categories always ingested, on top of what subscriptions follow (Cool Papers-style browsing).
    categories: Names = ()


class ScheduleSettings(_Section):
    # Minutes after the RSS rebuild (midnight ET) to fetch a day, and how often to ask again while it is late.
    ingest_delay_min: Whole = 2
    ingest_retry_min: Whole = 5
    ingest_give_up_h: Whole = 8
    outbox_interval_s: Number = 5.0
    misfire_grace_s: Whole = 6 * 3600


class DigestSettings(_Section):
    default_time: Text = "08:00"
    default_timezone: Text = "UTC"
    default_max_papers: Whole = 5
    page_size: Whole = 10


class TelegramSettings(_Section):
    token: Secret = _NO_SECRET
    base_url: Text = "https://api.telegram.org/bot"
    base_file_url: Text = "https://api.telegram.org/file/bot"
    webhook_url: Text = ""
    webhook_secret: Secret = _NO_SECRET
    webhook_listen: Text = "0.0.0.0"
    webhook_port: Whole = 8443
    # messages/s for the whole fleet; 30 is Telegram's free limit (paid broadcasts: up to 1000)
    broadcast_per_s: Number = 30.0


class DiscordSettings(_Section):
    token: Secret = _NO_SECRET
    api_url: Text = "https://discord.com/api/v10"
    gateway_url: Text = ""
    shard_id: Whole = 0  # this bot process's shard, 0 .. shard_count - 1
    shard_count: Whole = 1  # gateway shards across all bot processes (Discord requires them past 2,500 servers)

    @model_validator(mode="after")
    def _shard_in_range(self) -> DiscordSettings:
        if not 0 <= self.shard_id < max(self.shard_count, 1):
            raise PydanticCustomError("config_line", "{message}", {"message": (
                f"config key discord.shard_id must be between 0 and discord.shard_count - 1 ({self.shard_count - 1})")})
        return self


class LLMSettings(_Section):
    base_url: Text = "https://api.openai.com/v1"
    api_key: Secret = _NO_SECRET
    model: Text = "gpt-4o-mini"
    max_concurrency: Annotated[Whole, _rule(lambda v: v >= 1, "must be at least 1")] = 4
    context_tokens: Whole = 32000
    timeout_s: Number = 120.0
    retries: Whole = 3
    daily_quota: Whole = 50  # LLM calls per chat per day, failed ones included; 0 = unlimited
    tldr: Flag = False
    # max_tokens of every request, per answer (an FAQ has six)
    max_answer_tokens: Annotated[Whole, _rule(lambda v: v >= 16, "must be at least 16")] = 1200
    # total time one answer may take, retries included
    answer_timeout_s: Annotated[Number, _rule(lambda v: v > 0, "must be more than 0")] = 120.0
    # tokens all chats together may spend a day (UTC); 0 = unlimited
    daily_token_budget: Annotated[Whole, _rule(lambda v: v >= 0, "must be 0 (unlimited) or more")] = 5_000_000
    # embeddings for Related and ranking, from the same provider's /v1/embeddings; "" = off (TF-IDF only)
    embedding_model: Text = ""
    # the `dimensions` asked of the embedding model (text-embedding-3 and later); 0 = the model's own
    embedding_dimensions: Annotated[Whole, _rule(lambda v: v >= 0, "must be 0 (the model's own) or more")] = 0


class FulltextSettings(_Section):
    # the largest HTML or PDF download of one paper (streamed, then dropped)
    max_bytes: Annotated[Whole, _rule(lambda v: v >= 1, "must be at least 1")] = 20_000_000


class SearchSettings(_Section):
    engine: Annotated[Text, _rule(lambda v: v in {"auto", "fts5", "postgres"},
                                  lambda v: f"has value {v!r}; use auto, fts5 or postgres")] = "auto"
    index_dir: Text = ""  # the persisted Related vectors; "" = beside the SQLite file (<file>.related)
    # the personal ranker's learnt term weights; "" = beside the SQLite file (<file>.termweights.npz)
    term_weights_file: Text = ""


class LoggingSettings(_Section):
    level: Annotated[Text, _rule(lambda v: v.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
                                 lambda v: f"has value {v!r}; use DEBUG, INFO, WARNING or ERROR")] = "INFO"
    # text | json (one JSON object a line, for log collectors)
    format: Annotated[Text, _rule(lambda v: v in {"text", "json"},
                                  lambda v: f"has value {v!r}; use text or json")] = "text"


class MetricsSettings(_Section):
    # /metrics and /healthz of `paperboy run`; 0 = off
    port: Annotated[Whole, _rule(lambda v: 0 <= v <= 65535,
                                 lambda v: f"has value {v}; use a port number, or 0 for off")] = 0


class OutboxSettings(_Section):
    sender_id: Text = ""  # unique per live sender; empty = "<hostname>:<role>"


class Settings(BaseSettings):
    """Every setting, one section per TOML table; frozen. Build it with `load_settings`.

    `Settings()` alone is the built-in defaults: its only source is the values it is given
    (`settings_customise_sources`), because `load_settings` reads the file and the environment
    mapping it is passed (`PAPERBOY_<SECTION>__<KEY>`, lower-cased into `[section] key`), so no
    test and no library call ever picks up the process's environment by surprise.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    fulltext: FulltextSettings = Field(default_factory=FulltextSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given (see the class docstring)."""
        return (init_settings,)

    def replace(self, section: str, **changes: Any) -> Settings:
        """A copy with some keys of one section changed (handy in tests and the CLI)."""
        current = getattr(self, section)
        try:
            updated = type(current)(**{**dict(current), **changes})
        except ValidationError as exc:
            raise _config_error(exc, prefix=(section,)) from None
        return self.model_copy(update={section: updated})


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation for name, info in Settings.model_fields.items()  # type: ignore[misc]
}


def all_keys() -> list[str]:
    """Every `section.key` name, for docs and the docs test."""
    return [f"{name}.{key}" for name, cls in SECTIONS.items() for key in cls.model_fields]


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the chosen TOML file (if any), then apply environment overrides."""
    environ = os.environ if environ is None else environ
    data = _read_toml(_choose_file(path, environ))
    _apply_env(data, environ)
    return _build(data)


def _choose_file(path: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    if path is not None:
        chosen = Path(path)
        if not chosen.is_file():
            raise ConfigError(f"config file {chosen} does not exist")
        return chosen
    if environ.get("PAPERBOY_CONFIG"):
        chosen = Path(environ["PAPERBOY_CONFIG"])
        if not chosen.is_file():
            raise ConfigError(f"PAPERBOY_CONFIG points to {chosen}, which does not exist")
        return chosen
    default = Path("paperboy.toml")
    return default if default.is_file() else None


def _read_toml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == "PAPERBOY_CONFIG":
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise ConfigError(f"{name}: [{section}] is not a section")
        data[section][key] = value  # a string; coerced with the file's values below


def _build(data: dict[str, Any]) -> Settings:
    """`Settings` from `{section: {key: value}}`; unknown names are errors, retired ones warnings."""
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys")
        known = SECTIONS[section].model_fields
        kept = {}
        for key, raw in values.items():
            if f"{section}.{key}" in RETIRED_KEYS:
                log.warning("config key %s.%s is no longer used: %s", section, key, RETIRED_KEYS[f"{section}.{key}"])
                continue
            if key not in known:
                raise ConfigError(f"unknown config key {section}.{key} (known: {', '.join(known)})")
            kept[key] = raw
        sections[section] = kept
    try:
        return Settings(**sections)
    except ValidationError as exc:
        raise _config_error(exc) from None


def _config_error(exc: ValidationError, prefix: tuple[str, ...] = ()) -> ConfigError:
    """One line naming the key, for the first problem pydantic found (never showing a secret)."""
    error = exc.errors(include_input=False)[0]
    key = ".".join(str(part) for part in (*prefix, *error["loc"]))
    if error["type"] == "config_line":
        return ConfigError(error["msg"])
    if error["type"] == "config":
        return ConfigError(f"config key {key} {error['msg']}")
    if error["type"] == "extra_forbidden":
        return ConfigError(f"unknown config key {key}")
    if len(error["loc"]) + len(prefix) == 1:
        return ConfigError(f"[{key}] must be a table of keys")
    return ConfigError(f"config key {key}: {error['msg']}")
