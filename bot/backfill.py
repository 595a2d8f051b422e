"""`paperboy backfill`: arXiv's history into the store, over OAI-PMH, resumable after any interruption.

A backfill is a *selection* (metadata format, date range, categories) harvested set by set: one OAI
set per archive the categories live in (`cs.CL+math.RA` -> `cs`, `math`; no categories -> all of
arXiv, no set). Each page of records is written in one transaction together with where the
harvest stands (the page's resumption token, in `bot_state` under a key naming the selection), so
a harvest killed at any moment (Ctrl-C, a crash, arXiv down for longer than the retries) starts
again from the first page it had not stored, and the store ends exactly as after an uninterrupted
run: writes are upserts, so a page stored twice changes nothing.

Dates: OAI-PMH selects records by *datestamp* (when arXiv last changed them), so the harvest asks
for everything changed since `--from` (a paper's datestamp is never before its first version) and
keeps the papers whose first version is within `--from`..`--to`. Records outside the categories
(an archive's set holds all of its categories) are dropped here as well.

Pace: every request goes through the process's `ArxivHttp`, so arXiv's one-request-every-3-seconds
rule and 503 + Retry-After hold here as everywhere. A resumption token arXiv no longer knows
(they expire after a while) restarts that set from its first page: idempotent writes make it safe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.schema import BotStateRow
from digest.arxiv_http import ArxivHttp
from digest.categories import CategoryExpr, parse_expr
from digest.importer import write_papers
from digest.models import Paper
from digest.oai import BadResumptionToken, fetch_page, set_of
from digest.schema import utcnow
from digest.taxonomy import load_taxonomy

log = logging.getLogger(__name__)

STATE_PREFIX = "backfill:"


@dataclass
class BackfillReport:
    """What a backfill run did; `complete` is False when it stopped early (run it again to resume)."""

    pages: int = 0
    records: int = 0
    stored: int = 0
    out_of_range: int = 0
    deleted: int = 0
    sets_done: list[str] = field(default_factory=list)
    resumed: bool = False
    complete: bool = False
    stored_ids: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        how = "resumed and " if self.resumed else ""
        state = "finished" if self.complete else "stopped early; run the same command again to resume"
        return (f"Backfill {how}{state}: {self.stored} papers stored from {self.records} records "
                f"on {self.pages} pages ({self.out_of_range} outside the dates or categories, "
                f"{self.deleted} deleted records).")


@dataclass(frozen=True)
class Selection:
    """What to harvest: the OAI sets, the date range and the categories kept."""

    start: dt.date
    end: dt.date | None
    metadata: str
    expr: CategoryExpr | None

    @property
    def sets(self) -> Sequence[str | None]:
        if self.expr is None:
            return [None]
        taxonomy = self.expr.taxonomy
        return sorted({set_of(name, taxonomy) for name in self.expr.feed_names()})

    def state_key(self, oai_set: str | None) -> str:
        cats = str(self.expr) if self.expr else "all"
        whole = f"{self.metadata}|{oai_set or 'all'}|{cats}|{self.start}|{self.end or ''}"
        digest = hashlib.blake2b(whole.encode(), digest_size=8).hexdigest()
        return f"{STATE_PREFIX}{self.metadata}|{oai_set or 'all'}|{self.start}|{digest}"

    def keeps(self, paper: Paper) -> bool:
        if self.expr is not None and not self.expr.matches(paper.categories):
            return False
        if paper.published is None:
            return True  # a record without a date is kept: the datestamp already put it in range
        return paper.published >= self.start and (self.end is None or paper.published <= self.end)


def make_selection(start: dt.date, end: dt.date | None, categories: str | None, metadata: str) -> Selection:
    expr = parse_expr(categories, load_taxonomy()) if categories and categories.strip() else None
    return Selection(start=start, end=end, metadata=metadata, expr=expr)


def _load_position(sessions: sessionmaker[Session], key: str) -> dict:
    with sessions() as session:
        row = session.get(BotStateRow, key)
        return json.loads(row.value) if row else {}


def _save_position(session: Session, key: str, position: dict) -> None:
    row = session.get(BotStateRow, key)
    value = json.dumps(position)
    if row is None:
        session.add(BotStateRow(key=key, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()


async def backfill(
    http: ArxivHttp,
    oai_url: str,
    sessions: sessionmaker[Session],
    selection: Selection,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    on_stored: Callable[[list[str]], None] | None = None,
) -> BackfillReport:
    """Harvest every set of the selection, resuming where an earlier run stopped.

    `progress(records, total)` is called after each page; `on_stored(ids)` after each stored page
    (the persisted indexes listen). Raises `SourceError` when arXiv stays unreachable; what was
    stored until then stays stored, and the next run resumes from there.
    """
    report = BackfillReport()
    for oai_set in selection.sets:
        key = selection.state_key(oai_set)
        position = _load_position(sessions, key)
        if position.get("done"):
            report.sets_done.append(oai_set or "all")
            continue
        report.resumed = report.resumed or bool(position.get("token"))
        await _harvest_set(http, oai_url, sessions, selection, oai_set, key, position, report, progress, on_stored)
        report.sets_done.append(oai_set or "all")
    report.complete = True
    return report


async def _harvest_set(http: ArxivHttp, oai_url: str, sessions: sessionmaker[Session], selection: Selection,
                       oai_set: str | None, key: str, position: dict[str, Any], report: BackfillReport,
                       progress: Callable[[int, int | None], None] | None,
                       on_stored: Callable[[list[str]], None] | None) -> None:
    token: str | None = position.get("token")
    while True:
        try:
            page = await fetch_page(http, oai_url, metadata=selection.metadata, oai_set=oai_set,
                                    start=selection.start, token=token)
        except BadResumptionToken:
            log.warning("arXiv forgot the resumption token of set %s; starting that set again", oai_set or "all")
            token, position = None, {}
            continue
        kept = {p.id: p for p in page.papers if selection.keeps(p)}
        position = {"token": page.token, "done": page.token is None, "total": page.complete_size,
                    "harvested": (page.cursor or 0) + len(page.papers) + len(page.deleted)}
        with sessions.begin() as session:
            if kept:
                write_papers(session, kept, {})
            _save_position(session, key, position)
        report.pages += 1
        report.records += len(page.papers)
        report.stored += len(kept)
        report.out_of_range += len(page.papers) - len(kept)
        report.deleted += len(page.deleted)
        if kept:
            report.stored_ids.extend(kept)
            if on_stored is not None:
                on_stored(list(kept))
        if progress is not None:
            progress(len(page.papers) + len(page.deleted), page.complete_size)
        if page.token is None:
            return
        token = page.token


def forget_progress(sessions: sessionmaker[Session], selection: Selection) -> None:
    """Drop what earlier runs of this selection remembered, so it is harvested again from the start."""
    with sessions.begin() as session:
        for oai_set in selection.sets:
            row = session.get(BotStateRow, selection.state_key(oai_set))
            if row is not None:
                session.delete(row)


__all__ = ["BackfillReport", "Selection", "backfill", "forget_progress", "make_selection"]
