"""`paperboy digest`: a digest printed without any chat, as text or JSON for scripts.

It uses the same matcher and ranking as chats (a throw-away subscription, nothing marked as
shown), fetching the day from arXiv first when the store does not have it yet. The JSON holds
`date`, `counts` {`new`, `cross`, `matched`} and `papers` [{`id`, `title`, `authors`,
`categories`, `announce_type`, `reason`, `abstract`, `comment`, `url`}], plus `status` and `note`
saying which day this is. Titles, abstracts and comments are LaTeX-converted (`digest.latex`).
When arXiv cannot be reached within `arxiv.interactive_timeout_s`, it still prints (JSON stays
JSON) with `status: "unreachable"` and a `note`, and exits with 1.
"""

from __future__ import annotations

import argparse
import json

from bot.app import Paperboy
from bot.db_thread import in_db_thread
from bot.delivery import fetch_day
from bot.feed_watch import day_is_in, expected_day, uncovered_feeds
from digest.calendar import is_announcement_day, next_announcement_day
from digest.categories import parse_expr
from digest.day_index import DayIndex
from digest.errors import BadInput
from digest.ids import abs_url
from digest.latex import to_unicode
from digest.matching import Digest, build_digest
from digest.subscriptions import Subscription
from digest.taxonomy import load_taxonomy


def _subscription(args: argparse.Namespace) -> Subscription:
    expr = parse_expr(args.categories, load_taxonomy())  # raises a clear error for unknown names
    return Subscription(
        chat_id="cli",
        categories=str(expr),
        keywords=tuple(args.keywords),
        keywords_only=args.keywords_only,
        exclude=tuple(args.exclude),
        authors=tuple(args.authors),
        include_cross=not args.no_cross,
        include_replacements=args.replacements,
    )


async def print_digest(app: Paperboy, args: argparse.Namespace) -> int:
    """Print the digest; 0 when it could be made, 1 when arXiv could not be reached for the day.

    With `--format json` even a bad argument answers in JSON (`status: "bad_input"`), so a script
    reading stdout always gets a document.
    """
    try:
        sub = _subscription(args)
    except BadInput as exc:
        if args.format != "json":
            raise
        print(json.dumps({"date": None, "status": "bad_input", "note": str(exc),
                          "counts": {"new": 0, "cross": 0, "matched": 0}, "papers": []}, ensure_ascii=False, indent=2))
        return 1
    due = expected_day(app)
    day = args.date or due
    status, note = "announced", None
    outcome = None
    if not await in_db_thread(day_is_in, app, sub, day):
        feeds = await in_db_thread(uncovered_feeds, app, day, parse_expr(sub.categories, load_taxonomy()))
        outcome = await fetch_day(app, day, feeds, asked_by_user=True) if feeds else None
    papers = await in_db_thread(app.store.announced_on, day)
    if outcome in ("failed", "unreachable") and not await in_db_thread(day_is_in, app, sub, day):
        status = "unreachable"
        note = (f"arXiv can't be reached right now, so {day:%a %Y-%m-%d} could not be fetched; "
                "try again in a few minutes.")
        papers = []
    elif not papers:
        if not is_announcement_day(day):
            status = "no_announcement"
            note = f"No arXiv announcement on {day:%a %Y-%m-%d}; the next is {next_announcement_day(day):%a %Y-%m-%d}."
        else:
            status = "not_announced_yet"
            note = f"arXiv has not announced {day:%a %Y-%m-%d} yet (or those papers are not in the store)."
    digest = build_digest(DayIndex.build(papers), sub, day)
    if papers and not digest.entries:
        status, note = "nothing_matched", "Nothing matched your filters."
    if args.format == "json":
        print(json.dumps(digest_json(digest, status, note, abs_base=app.settings.arxiv.abs_url),
                         ensure_ascii=False, indent=2))
    else:
        print(digest_text(digest, note))
    return 1 if status == "unreachable" else 0


def digest_json(digest: Digest, status: str, note: str | None, *, abs_base: str = "https://arxiv.org/abs") -> dict:
    return {
        "date": digest.day.isoformat(),
        "status": status,
        "note": note,
        "counts": {"new": digest.counts.new, "cross": digest.counts.cross, "matched": digest.counts.matched},
        "papers": [
            {
                "id": e.paper.id,
                "title": to_unicode(e.paper.title),
                "authors": list(e.paper.authors),
                "categories": list(e.paper.categories),
                "announce_type": e.kind,
                "reason": e.reason,
                "abstract": to_unicode(e.paper.abstract),
                "comment": to_unicode(e.paper.comment) if e.paper.comment else None,
                "url": abs_url(e.paper.id, abs_base),
            }
            for e in digest.entries
        ],
    }


def digest_text(digest: Digest, note: str | None) -> str:
    c = digest.counts
    lines = [f"arXiv digest for {digest.day:%a %Y-%m-%d}: {c.new} new, {c.cross} cross-listed, {c.matched} matched"]
    if note:
        lines.append(note)
    for number, entry in enumerate(digest.entries, start=1):
        authors = ", ".join(to_unicode(a) for a in entry.paper.authors[:4])
        if len(entry.paper.authors) > 4:
            authors += f" +{len(entry.paper.authors) - 4}"
        lines.append(f"\n{number:3}. {to_unicode(entry.paper.title)}  [{entry.paper.id}, {entry.kind}]")
        lines.append(f"     {authors}")
        lines.append(f"     why: {entry.reason}")
    return "\n".join(lines)
