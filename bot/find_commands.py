"""Finding papers in chat: /search, /related, /saved, /export, /seed and the Save/Related/👍/👎 buttons.

Searches are paged with `sp:<key>:<page>` buttons, the key standing for a query kept in
`bot.search_memory`; `/saved` pages with `sv:<page>`. The search index, the related-papers vectors
and the personal ranker come from the app (`app.finder`, `app.personal`), built by the composition root.
"""

from __future__ import annotations

import asyncio

from bot.app import NOT_ALLOWED, Paperboy
from bot.db_thread import in_db_thread
from bot.handlers import paper_cards
from bot.ports import ActionReply, ChatContext, Reply
from bot.registry import action, command
from bot.search_memory import recall_query, remember_query
from bot.untrusted import MAX_PAGE, payload_ints
from digest.bibtex import export_bibtex, export_links, parse_bibtex
from digest.cards import paper_card, paper_line
from digest.clean import echo
from digest.digest_store import latest_entry_for
from digest.errors import BadInput
from digest.feedback import add_likes, toggle_feedback
from digest.ids import find_ids
from digest.latex import to_unicode
from digest.message import Block, Button, Heading, Markdown, Message, Paragraph, Text, text
from digest.models import Paper
from digest.saved import saved_ids, toggle_saved
from digest.search import SearchPage
from digest.search_query import SearchQuery, parse_query

EXPORT_CHUNK = 3500  # characters per export message, under every platform's limit
RELATED_COUNT = 10


def _page_size(app: Paperboy) -> int:
    return max(1, app.settings.digest.page_size)


# --- rendering --------------------------------------------------------------------------------


def _list_message(app: Paperboy, title: str, papers: list[Paper], *, start: int, note: str | None = None,
                  paging: tuple[Button, ...] = (), reasons: dict[str, str] | None = None) -> Message:
    """A numbered list of papers with a number button per paper (opens its card) and paging buttons."""
    blocks: list[Block] = [Heading((Text(title),))]
    if note:
        blocks.append(Paragraph((Text(note, italic=True),)))
    for i, paper in enumerate(papers, start):
        blocks.append(paper_line(paper, urls=app.urls, index=i, reason=(reasons or {}).get(paper.id)))
    numbers = [Button(str(i), action=f"card:{p.id}") for i, p in enumerate(papers, start)]
    rows = [tuple(numbers[j : j + 5]) for j in range(0, len(numbers), 5)]
    if paging:
        rows.append(paging)
    return Message(blocks=tuple(blocks), buttons=tuple(rows))


def _paging(prefix: str, page: int, has_more: bool) -> tuple[Button, ...]:
    buttons = []
    if page > 0:
        buttons.append(Button("◀ Previous", action=f"{prefix}:{page - 1}"))
    if has_more:
        buttons.append(Button("Next ▶", action=f"{prefix}:{page + 1}"))
    return tuple(buttons)


# --- /search ----------------------------------------------------------------------------------


async def _search_page(app: Paperboy, ctx: ChatContext, query: SearchQuery, page: int) -> Message:
    finder = app.finder
    size = _page_size(app)
    result: SearchPage = await in_db_thread(finder.search.search, query, limit=size, offset=page * size)
    papers = await in_db_thread(app.store.get_papers, [h.id for h in result.hits])
    found = [papers[h.id] for h in result.hits if h.id in papers]
    shown = echo(query.canonical())
    if not found:
        return text(f"No stored paper matches {shown}." if page == 0 else "No more results.")
    key = await in_db_thread(remember_query, app.sessions, ctx.chat_id, query)
    note = "No paper has all these words; showing papers with some of them." if result.relaxed else None
    first = page * size + 1
    return _list_message(app, f"🔎 {shown} — results {first}–{first + len(found) - 1}", found, start=first,
                         note=note, paging=_paging(f"sp:{key}", page, result.has_more))


@command("search")
async def search(app: Paperboy, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:
    """Search stored papers; an arXiv id or link shows that paper's card."""
    query = parse_query(args)
    if query.paper_id:
        return await paper_cards(app, ctx, [query.paper_id])
    return [await _search_page(app, ctx, query, 0)]


@action("sp")
async def search_page(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    """Another page of a search: `sp:<key>:<page>`; the list is edited in place."""
    key, _, page_text = args.partition(":")
    (page,) = payload_ints(page_text, MAX_PAGE)
    query = await in_db_thread(recall_query, app.sessions, ctx.chat_id, key)
    return ActionReply(edit=await _search_page(app, ctx, query, page))


# --- related ------------------------------------------------------------------------------------


async def _related_message(app: Paperboy, paper_id: str) -> Message:
    paper = await app.fetch_paper(paper_id)
    finder = app.finder
    hits = await asyncio.to_thread(finder.related.related, paper, RELATED_COUNT)  # ranking: CPU work
    papers = await in_db_thread(app.store.get_papers, [h.id for h in hits])
    found = [papers[h.id] for h in hits if h.id in papers]
    if not found:
        return text(f"I have no stored paper related to {paper_id} yet.")
    return _list_message(app, f"🔗 Related to {to_unicode(paper.title)}", found, start=1)


@command("related")
async def related(app: Paperboy, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:
    """The 10 stored papers most related to a paper (an id, a link, or a reply to a card)."""
    ids = find_ids(args)
    if not ids and reply is not None:
        ids = [a.partition(":")[2] for a in reply.actions if a.startswith(("rel:", "faq:", "save:"))][:1]
    if not ids:
        raise BadInput("Which paper? Usage: /related 2401.12345 (an arXiv id or link).")
    return [await _related_message(app, ids[0])]


@action("rel")
async def related_button(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    """The Related button under a card: the list arrives as a new message."""
    return ActionReply(replies=[await _related_message(app, args)])


# --- saved and export -------------------------------------------------------------------------


def _saved_page(app: Paperboy, ctx: ChatContext, page: int) -> Message:
    """One page of the chat's saved papers (reads the database: run it through `in_db_thread`)."""
    ids = saved_ids(app.sessions, ctx.chat_id)
    if not ids:
        return text("Nothing saved yet. Press ☆ Save under a paper to keep it here.")
    size = _page_size(app)
    page = max(0, min(page, (len(ids) - 1) // size))
    chunk = ids[page * size : (page + 1) * size]
    papers = app.store.get_papers(chunk)
    found = [papers[i] for i in chunk if i in papers]
    first = page * size + 1
    return _list_message(app, f"★ Saved papers {first}–{first + len(chunk) - 1} of {len(ids)}", found,
                         start=first, note="/export bibtex or /export links to take them with you.",
                         paging=_paging("sv", page, (page + 1) * size < len(ids)))


@command("saved")
async def saved(app: Paperboy, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:
    """The chat's saved papers, newest first, paged."""
    return [await in_db_thread(_saved_page, app, ctx, 0)]


@action("sv")
async def saved_page(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    (page,) = payload_ints(args, MAX_PAGE)
    return ActionReply(edit=await in_db_thread(_saved_page, app, ctx, page))


def _chunks(entries: list[str], limit: int = EXPORT_CHUNK, sep: str = "\n\n") -> list[str]:
    """Join entries into pieces under `limit` characters, never splitting an entry."""
    pieces: list[str] = []
    current = ""
    for entry in entries:
        if current and len(current) + len(entry) + len(sep) > limit:
            pieces.append(current)
            current = ""
        current = f"{current}{sep}{entry}" if current else entry
    if current:
        pieces.append(current)
    return pieces


@command("export")
async def export(app: Paperboy, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:
    """Saved papers as BibTeX (code blocks) or as a list of links."""
    kind = (args.strip().lower() or "bibtex")
    if kind in {"bib", "tex"}:
        kind = "bibtex"
    if kind not in {"bibtex", "links"}:
        raise BadInput("Usage: /export bibtex or /export links.")
    ids = await in_db_thread(saved_ids, app.sessions, ctx.chat_id)
    if not ids:
        return [text("Nothing saved yet. Press ☆ Save under a paper first.")]
    papers = await in_db_thread(app.store.get_papers, ids)
    ordered = [papers[i] for i in ids if i in papers]
    base = app.settings.arxiv.abs_url
    if kind == "links":
        lines = export_links(ordered, abs_base=base).splitlines()
        return [text(piece) for piece in _chunks(lines, sep="\n")]
    entries = export_bibtex(ordered, abs_base=base).strip().split("\n\n")
    return [Message(blocks=(Markdown(f"```bibtex\n{piece}\n```"),)) for piece in _chunks(entries)]


# --- save, feedback and seeding ---------------------------------------------------------------


@action("save")
async def save_button(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    """Toggle Save; the card is re-rendered with the new ★/☆ state."""
    paper = await app.fetch_paper(args)
    now_saved = await in_db_thread(toggle_saved, app.sessions, ctx.chat_id, paper.id)
    # keep the digest's number and reason
    found = await in_db_thread(latest_entry_for, app.sessions, ctx.chat_id, paper.id)
    number, entry = found if found else (None, {})
    sub = await in_db_thread(app.subscriptions.get_or_default, ctx.chat_id)
    announced = await in_db_thread(app.store.announced_days_of, [paper.id])
    card = paper_card(paper, urls=app.urls, saved=now_saved, index=number, reason=entry.get("reason"),
                      kind=entry.get("kind"), translate=sub.wants_translation, announced=announced.get(paper.id))
    return ActionReply(notice="Saved" if now_saved else "Removed", edit=card)


async def _feedback(app: Paperboy, ctx: ChatContext, paper_id: str, value: int) -> ActionReply:
    """👍/👎 teach the chat's ranking; in groups and channels that is the admins' call, like /seed."""
    if not ctx.can_manage:
        return ActionReply(notice=NOT_ALLOWED[:200], alert=True)
    paper = await app.fetch_paper(paper_id)  # stored, so the ranker can read it
    now = await in_db_thread(toggle_feedback, app.sessions, ctx.chat_id, paper.id, value)
    if now == 0:
        return ActionReply(notice="Feedback removed.")
    if now > 0:
        return ActionReply(notice="👍 Noted: papers like this will come first.")
    return ActionReply(notice="👎 Noted: papers like this will come later (never hidden).")


@action("up")
async def thumbs_up(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    return await _feedback(app, ctx, args, 1)


@action("down")
async def thumbs_down(app: Paperboy, ctx: ChatContext, args: str, message_id: str | None) -> ActionReply:
    return await _feedback(app, ctx, args, -1)


def _ids_from_bibtex(app: Paperboy, bib: str) -> tuple[list[str], list[str]]:
    """arXiv ids of a pasted .bib, entries without one looked up by exact title among stored papers.

    It searches the database: run it through `in_db_thread`.
    """
    ids: list[str] = []
    unknown: list[str] = []
    search = app.finder.search
    for entry in parse_bibtex(bib):
        if entry.arxiv_id:
            ids.append(entry.arxiv_id)
            continue
        found = None
        if entry.title:
            page = search.search(SearchQuery(phrases=(entry.title.lower(),)), limit=1)
            if page.hits:
                paper = app.store.get_paper(page.hits[0].id)
                if paper and _same_title(paper.title, entry.title):
                    found = paper.id
        if found:
            ids.append(found)
        else:
            unknown.append(entry.title or entry.key)
    return ids, unknown


def _same_title(a: str, b: str) -> bool:
    norm = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
    return norm(a) == norm(b)


@command("seed")
async def seed(app: Paperboy, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:
    """Teach the ranking with papers you like: ids, links, or a pasted BibTeX file."""
    unknown: list[str] = []
    if "@" in args and "{" in args:
        ids, unknown = await in_db_thread(_ids_from_bibtex, app, args)
        source = "bib"
    else:
        ids, source = find_ids(args), "seed"
    if not ids:
        raise BadInput("Usage: /seed 2401.12345 https://arxiv.org/abs/2402.00001 … or paste a BibTeX file.")
    papers = await app.fetch_papers(ids)  # stored, so the ranker can read them
    added = await in_db_thread(add_likes, app.sessions, ctx.chat_id, [i for i in ids if i in papers], source)
    lines = [f"🌱 Learned from {len(papers)} paper(s) ({added} new). Your digest will put similar papers first."]
    missing = [i for i in ids if i not in papers]
    if missing:
        lines.append(f"arXiv does not know: {', '.join(missing[:10])}.")
    if unknown:
        lines.append(f"No arXiv id found for {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'}: "
                     + "; ".join(u[:60] for u in unknown[:5]))
    return [text(*lines)]
