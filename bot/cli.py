"""The `paperboy` command line, and `build_app`, the one place where concrete parts are chosen.

    paperboy chat                       a terminal chat with the bot (scheduled digests appear too)
    paperboy run [--role R]             every configured adapter plus the scheduler (or one role of them)
    paperboy status [--json]            what the bot is doing: ingests, outbox, paused chats, errors
    paperboy ingest [--date D] [--categories EXPR]
    paperboy digest --categories EXPR [--keywords ...] [--date D] [--format text|json]
    paperboy import FILE [FILE ...]     paper metadata from JSONL / JSONL.gz (arXiv's snapshot too)
    paperboy backfill --from DATE        arXiv's history over OAI-PMH, resumable
    paperboy embed [--limit N]          provider embeddings of stored papers that have none (llm.embedding_model)
    paperboy search | related | rank    see `paperboy <command> --help`

Every subcommand takes `--config PATH` (else $PAPERBOY_CONFIG, else ./paperboy.toml, else defaults).
Being the composition root, this is the one module of `bot/` that starts adapters (imported lazily,
so `paperboy digest` never loads a platform library).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import features
from bot.app import Paperboy, utc_clock
from bot.assistant import Assistant
from bot.cli_find import add_find_commands
from bot.config import ConfigError, Settings, load_settings
from bot.db_thread import in_db_thread
from bot.embedder import Embedder
from bot.feed_watch import FeedWatch
from bot.finder import Finder
from bot.migrate import init_db, wait_for_schema
from digest.arxiv_http import ArxivHttp
from digest.db import make_engine, make_sessionmaker
from digest.embeddings import PaperEmbeddings, model_key
from digest.errors import PaperboyError
from digest.personal import PersonalRanker
from digest.store import PaperStore
from digest.subscriptions import Subscription, SubscriptionStore
from digest.term_weights import TermWeights, default_weights_file

if TYPE_CHECKING:
    from digest.importer import ImportReport

log = logging.getLogger("paperboy")


def build_app(settings: Settings, *, clock: Callable[[], dt.datetime] | None = None, migrate: bool = True) -> Paperboy:
    """The bot with its database (migrated), arXiv client, stores, LLM assistant, rankers and handlers.

    With `migrate=False` (sender and bot processes) it waits for the scheduler to migrate instead.
    """
    clock = clock or utc_clock
    engine = make_engine(settings.database.url)
    if migrate:
        init_db(engine)
    else:
        wait_for_schema(engine)
    sessions = make_sessionmaker(engine)
    http = ArxivHttp.from_settings(settings.arxiv)
    store = PaperStore(sessions, clock)
    embeddings = _embeddings(settings, sessions)
    defaults = Subscription(chat_id="", delivery_time=settings.digest.default_time,
                            timezone=settings.digest.default_timezone, max_papers=settings.digest.default_max_papers)
    return Paperboy(
        settings,
        engine=engine,
        sessions=sessions,
        http=http,
        store=store,
        subscriptions=SubscriptionStore(sessions, defaults=defaults, clock=clock),
        assistant=Assistant(settings, sessions, http, clock),
        personal=PersonalRanker(sessions, term_weights=TermWeights(sessions, default_weights_file(
            engine.url.render_as_string(), settings.search.term_weights_file)), embeddings=embeddings),
        finder=Finder.build(engine, sessions, settings.search.engine, settings.search.index_dir, embeddings),
        feed_watch=FeedWatch(settings.schedule.ingest_retry_min),
        commands=features.COMMAND_HANDLERS,
        actions=features.ACTION_HANDLERS,
        clock=clock,
        embedder=Embedder(settings.llm, embeddings, in_db=in_db_thread) if embeddings is not None else None,
    )


def _embeddings(settings: Settings, sessions: sessionmaker[Session]) -> PaperEmbeddings | None:
    """The stored provider embeddings of `llm.embedding_model`, or None when the option is off."""
    if not settings.llm.embedding_model:
        return None
    return PaperEmbeddings(sessions, model_key(settings.llm.embedding_model, settings.llm.embedding_dimensions))


def warm_up(app: Paperboy) -> None:
    """Open (or, the first time, fit) the Related index and the ranker's term weights in the background,
    so no press waits for them."""
    app.spawn(asyncio.to_thread(app.finder.vectors.refresh))
    if app.personal.term_weights is not None:  # opened, or learnt in a thread of its own: nothing waits
        app.spawn(asyncio.to_thread(app.personal.term_weights.current))


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns at every start that voice libraries are missing; paperboy has no voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage() and "davey" not in record.getMessage()


class JsonLogFormatter(logging.Formatter):
    """`logging.format = "json"`: one JSON object a line (time, level, logger, message, exception)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    from bot.redact import install_redaction

    logging.basicConfig(level=settings.logging.level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction(settings)  # every configured secret becomes *** in every record, on every handler
    if settings.logging.format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())
    logging.getLogger("discord.client").addFilter(_NoVoiceWarnings())
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler", "telegram.ext.Updater", "discord.gateway"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def route_logs(log_file: str | None, *, conversation: bool = False) -> None:
    """Keep log lines out of the conversation: into `log_file` when given, else on stderr.

    The file handler takes over the stderr handler's format and filters. In the terminal chat
    without a log file, a terminal's stderr shows only errors, so lines like "arXiv request
    failed, retrying" never land between the bot's answers (a redirected stderr gets them all).
    """
    root = logging.getLogger()
    console = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        for old in console:
            if old.formatter is not None:
                handler.setFormatter(old.formatter)
            for log_filter in old.filters:
                handler.addFilter(log_filter)
            root.removeHandler(old)
        root.addHandler(handler)
    elif conversation and sys.stderr.isatty():
        for old in console:
            old.setLevel(max(old.level, logging.ERROR))


# --- subcommands -------------------------------------------------------------------------------


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.console import run_chat
    from bot.scheduler import build_scheduler

    if logging.getLogger().level == logging.INFO:
        logging.getLogger().setLevel(logging.WARNING)  # INFO lines would interleave with the conversation
    app = build_app(settings)
    warm_up(app)
    scheduler = build_scheduler(app) if not args.no_schedule else None
    try:
        if scheduler:
            scheduler.start()
        await run_chat(app)
    finally:
        if scheduler:
            scheduler.shutdown(wait=False)
        await app.aclose()
    return 0


NO_PLATFORM = """No chat platform is configured, so there is nothing to run.
Set a token and run again:
  Telegram: telegram.token in paperboy.toml, or PAPERBOY_TELEGRAM__TOKEN=123:abc (from @BotFather)
  Discord:  discord.token in paperboy.toml,  or PAPERBOY_DISCORD__TOKEN=...       (Developer Portal -> Bot)
Or try the bot in your terminal right away:  paperboy chat"""


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one role (see `bot.roles`), or all of them, until SIGINT or SIGTERM."""
    from bot import roles
    from bot.lease import holder_id
    from bot.outbox import default_sender_id

    role = args.role
    if role != "scheduler" and not settings.telegram.token and not settings.discord.token:
        print(NO_PLATFORM, file=sys.stderr)
        return 2
    app = build_app(settings, migrate=roles.runs(role, "scheduler"))
    app.outbox.sender_id = settings.outbox.sender_id or default_sender_id(role)
    record_errors(app)
    if roles.runs(role, "bot"):
        warm_up(app)
    stoppers: list[Callable[[], object]] = []
    tasks: list[asyncio.Task] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starts: list[asyncio.Task[bool]] = []
    waiting = asyncio.ensure_future(stop.wait())
    try:
        if settings.metrics.port:
            from bot import metrics
            from bot.status import health

            stoppers.append(metrics.serve(settings.metrics.port, health=lambda: health(app),
                                          outbox=app.outbox.depth))
        starts = [asyncio.create_task(roles.start_platform(app, name, platform, start, stoppers))
                  for name, platform, start in roles.platform_starts(app, settings, role)]
        if roles.runs(role, "scheduler"):
            tasks.append(loop.create_task(roles.run_scheduler_with_lease(app, holder_id(), stop)))
        if roles.runs(role, "sender"):
            tasks.append(loop.create_task(roles.flush_outbox_forever(app, settings.schedule.outbox_interval_s, stop)))
        log.info("paperboy is running (role: %s); Ctrl-C stops it", role)
        pending = set(starts)
        while pending and not waiting.done() and not any(t.result() for t in starts if t.done()):
            done, _ = await asyncio.wait([*pending, waiting], return_when=asyncio.FIRST_COMPLETED)
            pending -= done
        if starts and not waiting.done() and not pending and not any(task.result() for task in starts):
            print("paperboy: no chat platform could start; see the log above.", file=sys.stderr)
            return 1
        await waiting
    finally:
        stop.set()
        waiting.cancel()
        for task in starts:
            task.cancel()
        await asyncio.gather(waiting, *starts, *tasks, return_exceptions=True)
        for stopper in reversed(stoppers):
            result = stopper()
            if asyncio.iscoroutine(result):
                await result
        await app.aclose()
    return 0


def record_errors(app: Paperboy) -> None:
    """Keep this process's warnings and errors in the database, for `paperboy status`."""
    from bot.status import ErrorRecorder

    recorder = ErrorRecorder(app.sessions)
    root = logging.getLogger()
    for handler in root.handlers:  # the same filters as the console (secret redaction, whatever is set up)
        for log_filter in handler.filters:
            recorder.addFilter(log_filter)
    root.addHandler(recorder)


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.status import collect, render_text

    app = build_app(settings)
    try:
        report = await in_db_thread(collect, app)
    finally:
        await app.aclose()
    print(json.dumps(report, indent=2, default=str) if args.json else render_text(report))
    return 0


async def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.delivery import ingest

    app = build_app(settings)
    try:
        report = await ingest(app, args.date, args.categories or "")
        await app.wait_idle()  # the new papers' embeddings (when on) are asked for before the process ends
    finally:
        await app.aclose()
    if report is None:
        print("Nothing to ingest: no chat follows a category. Use --categories, e.g. --categories cs.CL")
        return 1
    print(report.summary())
    return 0 if report.status in ("announced", "not_yet") else 1


async def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.digest_printing import print_digest

    app = build_app(settings)
    try:
        return await print_digest(app, args)
    finally:
        await app.aclose()


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    app = build_app(settings)
    try:
        missing = [p for p in args.files if not Path(p).is_file()]
        if missing:
            print(f"No such file: {', '.join(missing)}", file=sys.stderr)
            return 2
        stop = threading.Event()
        importing = asyncio.ensure_future(in_db_thread(_bulk_import, app, [Path(p) for p in args.files],
                                                       args.quiet, stop))
        try:
            report = await asyncio.shield(importing)
        except asyncio.CancelledError:  # Ctrl-C: the chunk being written is committed, then it stops
            print("Stopping: storing the papers read so far...", file=sys.stderr)
            stop.set()
            report = await importing
        for refusal in report.refusals:
            print(f"refused {refusal}", file=sys.stderr)
        if report.refused > len(report.refusals):
            print(f"... and {report.refused - len(report.refusals)} more refused lines", file=sys.stderr)
        print(report.summary())
        if report.interrupted:
            return 130
    except PaperboyError as exc:
        print(f"paperboy import: {exc}", file=sys.stderr)
        return 1
    finally:
        await app.aclose()
    return 0


def _bulk_import(app: Paperboy, files: list[Path], quiet: bool, stop: threading.Event) -> ImportReport:
    """Import, search index included: each chunk of papers is committed with its index entries, so
    an interrupted import leaves a consistent, searchable store (see digest/import_writer.py)."""
    from tqdm import tqdm

    from digest.importer import import_jsonl

    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, unit="B", unit_scale=True, disable=quiet or not sys.stderr.isatty(),
              mininterval=0.5, desc="import") as bar:
        return import_jsonl(files, app.sessions, progress=bar.update, stop=stop)


async def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.backfill import backfill, forget_progress, make_selection

    if args.to is not None and args.to < getattr(args, "from"):
        print("paperboy backfill: --to is before --from", file=sys.stderr)
        return 2
    app = build_app(settings)
    try:
        selection = make_selection(getattr(args, "from"), args.to, args.categories, args.metadata)
        if args.restart:
            forget_progress(app.sessions, selection)
        with tqdm(unit=" records", disable=args.quiet or not sys.stderr.isatty(), desc="backfill") as bar:
            def progress(records: int, total: int | None) -> None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(records)

            report = await backfill(app.http, settings.arxiv.oai_url, app.sessions, selection,
                                    progress=progress, on_stored=app.papers_stored)
    except PaperboyError as exc:
        print(f"paperboy backfill: {exc}\nWhat was harvested is stored; run the same command again to resume.",
              file=sys.stderr)
        return 1
    finally:
        await app.aclose()
    if report.pages == 0:
        print("This backfill is already complete; add --restart to harvest it again.")
    else:
        print(report.summary())
    return 0


async def cmd_embed(settings: Settings, args: argparse.Namespace) -> int:
    """Embed the stored papers that have no vector yet (history), with a progress bar; resumable."""
    from tqdm import tqdm

    from bot.embedder import EmbeddingsUnavailable

    if not settings.llm.embedding_model:
        print("paperboy embed: embeddings are off; set llm.embedding_model (e.g. text-embedding-3-small)",
              file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("paperboy embed: --limit must be at least 1", file=sys.stderr)
        return 2
    app = build_app(settings)
    assert app.embedder is not None
    try:
        if not app.embedder.enabled:
            print("paperboy embed: set llm.api_key (or a local llm.base_url) to reach the provider", file=sys.stderr)
            return 2
        todo = await in_db_thread(app.embedder.embeddings.count_missing)
        total = todo if args.limit is None else min(todo, args.limit)
        with tqdm(total=total, unit=" papers", disable=args.quiet or not sys.stderr.isatty(), desc="embed") as bar:
            try:
                done = await app.embedder.embed_history(limit=args.limit, progress=bar.update)
            except EmbeddingsUnavailable as exc:
                print(f"paperboy embed: {exc}\nWhat was embedded is stored; run the same command again to resume.",
                      file=sys.stderr)
                return 1
    finally:
        await app.aclose()
    left = todo - done
    print(f"embedded {done} papers ({app.embedder.requests} requests, {app.embedder.tokens} tokens); "
          f"{left} stored papers have no vector yet")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from None


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperboy", description="Your morning arXiv papers, in chat.")
    parser.add_argument("--config", help="TOML settings file (default: $PAPERBOY_CONFIG or ./paperboy.toml)")
    parser.add_argument("--log-file", metavar="PATH", help=LOG_FILE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--no-schedule", action="store_true", help="do not ingest or deliver in the background")
    chat.set_defaults(run=cmd_chat)

    run = sub.add_parser("run", help="run the configured chat platforms and the scheduler")
    run.add_argument("--role", choices=["scheduler", "sender", "bot", "all"], default="all",
                     help="scheduler (exactly one, by a lease), sender (outbox), bot (serve chats), or all (default)")
    run.set_defaults(run=cmd_run)

    status = sub.add_parser("status", help="what the bot is doing: ingests, outbox, paused chats, LLM use, errors")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=cmd_status)

    ingest = sub.add_parser("ingest", help="fetch an announcement from arXiv's RSS feeds into the store")
    ingest.add_argument("--date", type=_date, help="the announcement day expected (default: the latest due)")
    ingest.add_argument("--categories", help="categories to fetch, e.g. cs.CL+cs.LG (default: all subscribed)")
    ingest.set_defaults(run=cmd_ingest)

    digest = sub.add_parser("digest", help="print a digest without any chat")
    digest.add_argument("--categories", required=True, help="e.g. cs.CL, cs.AI+cs.LG-cs.CY, cs")
    digest.add_argument("--keywords", nargs="*", default=[], help="words or phrases that come first")
    digest.add_argument("--keywords-only", action="store_true", help="show only keyword matches")
    digest.add_argument("--exclude", nargs="*", default=[], help="words that leave a paper out")
    digest.add_argument("--authors", nargs="*", default=[], help="followed authors (quote each name)")
    digest.add_argument("--no-cross", action="store_true", help="leave out cross-lists")
    digest.add_argument("--replacements", action="store_true", help="include new versions of older papers")
    digest.add_argument("--date", type=_date, help="announcement day (default: the latest)")
    digest.add_argument("--format", choices=["text", "json"], default="text")
    digest.set_defaults(run=cmd_digest)

    imp = sub.add_parser("import", help="import paper metadata from JSONL or JSONL.gz files")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(run=cmd_import)

    backfill = sub.add_parser("backfill", help="fill the store with arXiv's history over OAI-PMH (resumable)")
    backfill.add_argument("--from", required=True, type=_date, metavar="DATE",
                          help="first submission date to harvest, YYYY-MM-DD")
    backfill.add_argument("--to", type=_date, metavar="DATE", help="last submission date (default: today)")
    backfill.add_argument("--categories", metavar="EXPR", help="e.g. cs.CL+cs.LG or math (default: all of arXiv)")
    backfill.add_argument("--metadata", choices=["arXiv", "arXivRaw"], default="arXiv",
                          help="OAI-PMH metadata format (arXivRaw also lists every version)")
    backfill.add_argument("--restart", action="store_true", help="forget an earlier run's progress, start over")
    backfill.add_argument("--quiet", action="store_true", help="no progress bar")
    backfill.set_defaults(run=cmd_backfill)

    embed = sub.add_parser("embed", help="embed stored papers that have no embedding yet (llm.embedding_model)")
    embed.add_argument("--limit", type=int, metavar="N", help="embed at most N papers (default: all)")
    embed.add_argument("--quiet", action="store_true", help="no progress bar")
    embed.set_defaults(run=cmd_embed)

    add_find_commands(sub, build_app)
    for command in sub.choices.values():  # `paperboy chat --log-file x` as well as `paperboy --log-file x chat`
        command.add_argument("--log-file", metavar="PATH", default=argparse.SUPPRESS, help=LOG_FILE_HELP)
    return parser


LOG_FILE_HELP = "write log lines to this file instead of stderr"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    try:
        route_logs(getattr(args, "log_file", None), conversation=args.command == "chat")
    except OSError as exc:
        print(f"paperboy: cannot write the log file: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(args.run(settings, args)) or 0
    except KeyboardInterrupt:
        return 130
    except PaperboyError as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"paperboy: cannot use the database at database.url: {str(exc.orig).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
