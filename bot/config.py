"""Settings: one frozen `Settings` read once from TOML and the environment.

Where the file comes from: `--config PATH`, else `$PAPERBOY_CONFIG`, else `./paperboy.toml`, else
built-in defaults. Every key can be overridden by `PAPERBOY_<SECTION>__<KEY>` (for example
`PAPERBOY_DATABASE__URL`). The environment is a parameter, never read from `os.environ` elsewhere,
so tests build settings from a dict. A bad value raises `ConfigError` with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "PAPERBOY_"

log = logging.getLogger(__name__)

# Keys that older versions documented: still accepted (with a warning) so an old config file loads.
RETIRED_KEYS = {
    "telegram.bot_username": "the bot's @username comes from Telegram's getMe; remove the key",
}


class ConfigError(Exception):
    """The configuration is unusable; the message names the key and what is wrong."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///paperboy.sqlite3"


@dataclass(frozen=True)
class ArxivSettings:
    rss_url: str = "https://rss.arxiv.org/rss"
    api_url: str = "https://export.arxiv.org/api/query"
    html_url: str = "https://arxiv.org/html"
    pdf_url: str = "https://arxiv.org/pdf"
    abs_url: str = "https://arxiv.org/abs"
    oai_url: str = "https://oaipmh.arxiv.org/oai"  # OAI-PMH, for `paperboy backfill`
    min_interval_s: float = 3.0
    user_agent: str = "paperboy-bot/0.1 (+https://github.com/paperboy-bot/paperboy; mailto:paperboy@example.org)"
    timeout_s: float = 30.0
    retries: int = 4
    # A command that needs arXiv (/digest, a pasted link, /related) answers within this many seconds.
    interactive_timeout_s: float = 8.0
    # Categories always ingested, on top of what subscriptions follow (Cool Papers-style browsing).
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleSettings:
    # Minutes after the RSS rebuild (midnight ET) to fetch a day, and how often to ask again while it is late.
    ingest_delay_min: int = 2
    ingest_retry_min: int = 5
    ingest_give_up_h: int = 8
    outbox_interval_s: float = 5.0
    misfire_grace_s: int = 6 * 3600


@dataclass(frozen=True)
class DigestSettings:
    default_time: str = "08:00"
    default_timezone: str = "UTC"
    default_max_papers: int = 5
    page_size: int = 10


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    # messages/s for the whole fleet; 30 is Telegram's free limit (paid broadcasts: up to 1000)
    broadcast_per_s: float = 30.0


@dataclass(frozen=True)
class DiscordSettings:
    token: str = ""
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str = ""
    shard_id: int = 0  # this bot process's shard, 0 .. shard_count - 1
    shard_count: int = 1  # gateway shards across all bot processes (Discord requires them past 2,500 servers)


@dataclass(frozen=True)
class LLMSettings:
    base_url: str = "https://api.openai.com/v1"
    api_key: str = ""
    model: str = "gpt-4o-mini"
    max_concurrency: int = 4
    context_tokens: int = 32000
    timeout_s: float = 120.0
    retries: int = 3
    daily_quota: int = 50  # LLM calls per chat per day, failed ones included; 0 = unlimited
    tldr: bool = False
    max_answer_tokens: int = 1200  # max_tokens of every request, per answer (an FAQ has six)
    answer_timeout_s: float = 120.0  # total time one answer may take, retries included
    daily_token_budget: int = 5_000_000  # tokens all chats together may spend a day (UTC); 0 = unlimited


@dataclass(frozen=True)
class FulltextSettings:
    max_bytes: int = 20_000_000  # the largest HTML or PDF download of one paper (streamed, then dropped)


@dataclass(frozen=True)
class SearchSettings:
    engine: str = "auto"  # auto | fts5 | postgres
    index_dir: str = ""  # the persisted Related vectors; "" = beside the SQLite file (<file>.related)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"  # text | json (one JSON object a line, for log collectors)


@dataclass(frozen=True)
class MetricsSettings:
    port: int = 0  # /metrics and /healthz of `paperboy run`; 0 = off


@dataclass(frozen=True)
class OutboxSettings:
    sender_id: str = ""  # unique per live sender; empty = "<hostname>:<role>"


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    arxiv: ArxivSettings = field(default_factory=ArxivSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    fulltext: FulltextSettings = field(default_factory=FulltextSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)

    def replace(self, section: str, **changes: Any) -> Settings:
        """A copy with some keys of one section changed (handy in tests and the CLI)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


def all_keys() -> list[str]:
    """Every `section.key` name, for docs and the docs test."""
    return [f"{name}.{key.name}" for name, cls in get_type_hints(Settings).items() for key in fields(cls)]


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
    hints = get_type_hints(Settings)
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section not in hints:
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(hints)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys")
        cls = hints[section]
        types = get_type_hints(cls)
        kwargs = {}
        for key, raw in values.items():
            if f"{section}.{key}" in RETIRED_KEYS:
                log.warning("config key %s.%s is no longer used: %s", section, key, RETIRED_KEYS[f"{section}.{key}"])
                continue
            if key not in types:
                raise ConfigError(f"unknown config key {section}.{key} (known: {', '.join(types)})")
            kwargs[key] = _coerce(f"{section}.{key}", raw, types[key])
        sections[section] = cls(**kwargs)
    settings = Settings(**sections)
    _validate(settings)
    return settings


def _coerce(key: str, raw: Any, typ: Any) -> Any:
    try:
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).strip().lower() in {"1", "true", "yes", "on"}:
                return True
            if str(raw).strip().lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if typ is int:
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if typ is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if typ is str:
            if not isinstance(raw, (str, int, float)):
                raise ValueError
            return str(raw)
        if typ == tuple[str, ...]:
            items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
            return tuple(str(i) for i in items)
    except (TypeError, ValueError):
        pass
    else:
        raise ConfigError(f"config key {key} has an unsupported type")
    kinds = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    kind = kinds.get(typ, "a list of strings")
    raise ConfigError(f"config key {key} has value {raw!r}, which is not {kind}")


def _validate(settings: Settings) -> None:
    if settings.arxiv.min_interval_s < 0:
        raise ConfigError("config key arxiv.min_interval_s must be 0 or more")
    if settings.fulltext.max_bytes < 1:
        raise ConfigError("config key fulltext.max_bytes must be at least 1")
    if settings.llm.max_concurrency < 1:
        raise ConfigError("config key llm.max_concurrency must be at least 1")
    if settings.llm.max_answer_tokens < 16:
        raise ConfigError("config key llm.max_answer_tokens must be at least 16")
    if settings.llm.answer_timeout_s <= 0:
        raise ConfigError("config key llm.answer_timeout_s must be more than 0")
    if settings.llm.daily_token_budget < 0:
        raise ConfigError("config key llm.daily_token_budget must be 0 (unlimited) or more")
    if settings.search.engine not in {"auto", "fts5", "postgres"}:
        raise ConfigError(f"config key search.engine has value {settings.search.engine!r}; use auto, fts5 or postgres")
    if settings.logging.level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"config key logging.level has value {settings.logging.level!r}; "
                          "use DEBUG, INFO, WARNING or ERROR")
    if not 0 <= settings.discord.shard_id < max(settings.discord.shard_count, 1):
        raise ConfigError(f"config key discord.shard_id must be between 0 and discord.shard_count - 1 "
                          f"({settings.discord.shard_count - 1})")
    if settings.logging.format not in {"text", "json"}:
        raise ConfigError(f"config key logging.format has value {settings.logging.format!r}; use text or json")
    if not 0 <= settings.metrics.port <= 65535:
        raise ConfigError(f"config key metrics.port has value {settings.metrics.port}; use a port number, or 0 for off")
