"""The subscription commands: welcome, help, what to follow, when, and browsing categories.

Each handler is a small `async def` registered with `bot.registry`; it takes the app, the chat and
the argument text, and returns the reply messages. Bad input raises `BadInput` with a message that
says what is accepted; `Paperboy` turns it into the reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

from bot.command_specs import COMMANDS
from bot.ports import ChatContext, ChatKind, Reply
from bot.registry import action, command
from bot.state import get_state, set_state
from digest.categories import parse_expr
from digest.clean import clip, collapse_whitespace, echo
from digest.errors import BadInput, UnknownCategory
from digest.ids import find_ids
from digest.layout import STYLES, page_rows
from digest.message import Button, Heading, Message, Paragraph, Text, text
from digest.subscriptions import (
    Subscription,
    check_limits,
    parse_authors,
    parse_max_papers,
    parse_switch,
    parse_terms,
    parse_time,
    parse_timezone,
    parse_weekdays,
)
from digest.taxonomy import load_taxonomy

MAX_CARDS_FOR_LINKS = 5
LISTED_CHARS = 1_000  # a list of keywords or authors shown in a reply, at most
OFF_WORDS = {"off", "none", "clear", "-"}


def _sub(app, ctx: ChatContext) -> Subscription:  # type: ignore[no-untyped-def]
    return app.subscriptions.get_or_default(ctx.chat_id, ctx.kind.value)


def _save(app, sub: Subscription) -> Subscription:  # type: ignore[no-untyped-def]
    """Save a change within the size limits; any change from the chat also lifts a pause (it is clearly reachable)."""
    check_limits(sub, _category_count(sub.categories))
    return app.subscriptions.save(replace(sub, paused=False, paused_reason=None))


def _listed(items: Iterable[str], limit: int = LISTED_CHARS) -> str:
    """Items joined with commas, shortened past `limit` characters with how many there are in all."""
    items = list(items)
    joined = ", ".join(items) or "none"
    return joined if len(joined) <= limit else f"{clip(joined, limit)} ({len(items)} in all)"


def _category_count(expr_text: str) -> int:
    """How many names (categories, archives, exclusions) a stored category expression holds."""
    if not expr_text.strip():
        return 0
    expr = parse_expr(expr_text, load_taxonomy())
    return len(expr.feed_names()) + len(expr.excluded_names())


# --- welcome and help ---------------------------------------------------------------------


@command("start")
async def start(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Welcome, or subscribe in one tap from a deep link (`/start cs_CL` or `/start cs_AI__q-bio_NC`)."""
    if args and ctx.can_manage:
        return await subscribe(app, ctx, deep_link_categories(args), reply)
    taxonomy = load_taxonomy()
    popular = [c.id for c in taxonomy.popular_categories()[:12]]
    buttons = [Button(cat, action=f"sub:{cat}") for cat in popular]
    rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
    sub = app.subscriptions.get(ctx.chat_id)
    following = f"\nThis chat follows: {sub.categories}." if sub and sub.categories else ""
    return [Message(
        blocks=(
            Heading((Text("👋 Hi, I'm paperboy."),)),
            Paragraph((Text(
                "Every morning I bring you the new arXiv papers in the fields you follow, each with "
                "buttons to get an AI-read FAQ, ask questions, save it or find related work." + following),)),
            Paragraph((Text("Tap a category to follow it, or type e.g. /subscribe cs.CL cs.LG. "
                            "/categories browses all of arXiv, /digest shows today's papers, "
                            "/help lists everything."),)),
        ),
        buttons=rows,
    )]


def deep_link_categories(payload: str) -> str:
    """Telegram deep-link payloads allow only `A-Za-z0-9_-`: `.` is written `_`, and `__` separates names."""
    return " ".join(part.replace("_", ".") for part in payload.split("__") if part)


@command("help")
async def help_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    lines = [Paragraph((Text(f"{spec.usage}", code=True), Text(f" — {spec.description}"))) for spec in COMMANDS]
    tail = Paragraph((Text("Paste any arXiv link or id (e.g. 2401.12345 or hep-th/9901001) and I'll show the paper."),))
    return [Message(blocks=(Heading((Text("What I can do"),)), *lines, tail))]


# --- what to follow -------------------------------------------------------------------------


def _describe(expr_text: str) -> str:
    """'cs.AI+q-bio.NC-cs.CY' as names, from the parsed expression (names may contain '-': hep-th)."""
    taxonomy = load_taxonomy()
    expr = parse_expr(expr_text, taxonomy)
    names = [f"{cat} ({taxonomy.name_of(cat) or cat})" for cat in expr.feed_names()]
    names += [f"-{cat} ({taxonomy.name_of(cat) or cat})" for cat in expr.excluded_names()]
    return ", ".join(names)


@command("subscribe")
async def subscribe(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Add categories (Cool Papers' algebra works: cs.AI+cs.LG-cs.CY, or a whole archive like cs)."""
    if not args.strip():
        current = _sub(app, ctx).categories
        shown = _describe(current) if current else "nothing yet"
        return [text(f"This chat follows: {shown}.",
                     "Usage: /subscribe cs.CL cs.LG, or cs.AI+cs.LG-cs.CY, or a whole archive like cs. "
                     "/categories lists them all.")]
    taxonomy = load_taxonomy()
    try:
        added = parse_expr(args, taxonomy)
    except UnknownCategory as exc:
        raise BadInput(f"{exc} /categories lists all categories, /categories <words> searches them.") from None
    sub = _sub(app, ctx)
    merged = parse_expr(sub.categories, taxonomy).union(added) if sub.categories.strip() else added
    sub = _save(app, replace(sub, categories=str(merged)))
    when = f"{sub.delivery_time} {sub.timezone}"
    return [Message(
        blocks=(
            Paragraph((Text("✅ Following: ", bold=True), Text(_describe(str(merged))))),
            Paragraph((Text(f"Your digest arrives each announcement day at {when} (change with /time). "
                            "Refine with /keywords, /authors and /exclude; /settings shows everything."),)),
        ),
        buttons=((Button("📬 Show the latest papers now", action="dg:now"),),),
    )]


@action("sub")
async def subscribe_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    from bot.app import NOT_ALLOWED, ActionReply

    if not ctx.can_manage:
        return ActionReply(notice=NOT_ALLOWED[:200], alert=True)
    replies = await subscribe(app, ctx, args, None)
    return ActionReply(notice=f"Following {args}", replies=replies)


@command("unsubscribe")
async def unsubscribe(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Drop categories, lift exclusions (`-cs.CY`, or `cs.CY` when only its exclusion is left), or stop."""
    sub = app.subscriptions.get(ctx.chat_id)
    if sub is None or not sub.categories:
        return [text("This chat doesn't follow any categories. /subscribe cs.CL starts a digest.")]
    if not args.strip():
        _save(app, replace(sub, categories=""))
        return [text("Done: no more digests here. Your keywords, authors and saved papers are kept; "
                     "/subscribe brings the digest back.")]
    taxonomy = load_taxonomy()
    current = parse_expr(sub.categories, taxonomy)
    names = args.replace("+", " ").replace(",", " ").split()
    try:
        # An exclusion is lifted when named with '-', or when it is all that is left of that name.
        lifted = [n.lstrip("-") for n in names
                  if n.startswith("-") or (_is_name(n, taxonomy) and current.excludes(n)
                                           and not _follows(current, n, taxonomy))]
        dropped = [n for n in names if not n.startswith("-") and n not in lifted]
        left = current.without_exclusions(lifted) if lifted else current
        if dropped:
            drop = parse_expr(" ".join(dropped), taxonomy)
            left = left.minus(drop.include | drop.archives)  # archives by name, too
    except UnknownCategory as exc:
        raise BadInput(f"{exc} /settings shows what this chat follows.") from None
    if str(left) == str(current):
        return [text(f"This chat doesn't follow {' '.join(names)[:80]}, so nothing changed. "
                     f"It follows: {_describe(str(current))}.")]
    _save(app, replace(sub, categories=str(left) if left.include else ""))
    if not left.include:
        return [text("Done: that was the last category, so no more digests here. /subscribe brings them back.")]
    return [text(f"Done. Still following: {_describe(str(left))}.")]


def _is_name(name: str, taxonomy) -> bool:  # type: ignore[no-untyped-def]
    return taxonomy.canonical(name) is not None or taxonomy.is_archive(name)


def _follows(expr, name: str, taxonomy) -> bool:  # type: ignore[no-untyped-def]
    """Whether `name` is itself followed (so `/unsubscribe name` means drop it, not lift its exclusion)."""
    canonical = taxonomy.canonical(name)
    if canonical is not None:
        return canonical in expr.include
    return name.strip().lower() in expr.archives


def _terms_command(field_name: str, label: str, explain: str):  # type: ignore[no-untyped-def]
    async def handler(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
        sub = _sub(app, ctx)
        current = getattr(sub, field_name)
        if not args.strip():
            shown = _listed(f"“{t}”" for t in current)
            return [text(f"{label}: {shown}.", explain)]
        changes: dict = {}
        words = args.strip()
        if words.lower() in OFF_WORDS:
            changes[field_name] = ()
            changes.update({"keywords_only": False} if field_name == "keywords" else {})
        else:
            if field_name == "keywords":
                first, _, rest = words.partition(" ")
                changes["keywords_only"] = first.lower() == "only"
                words = rest if changes["keywords_only"] else words
            if field_name == "authors" and needs_split_confirmation(words):
                return ask_author_split(app, ctx, words)
            parse = parse_authors if field_name == "authors" else parse_terms
            changes[field_name] = parse(words)
            if not changes[field_name]:
                raise BadInput(explain)
        sub = _save(app, replace(sub, **changes))
        shown = _listed(f"“{t}”" for t in getattr(sub, field_name))
        suffix = " (only these are shown)" if field_name == "keywords" and sub.keywords_only else ""
        return [text(f"{label}: {shown}{suffix}.")]

    return handler


command("keywords")(_terms_command(
    "keywords", "Keywords",
    'Papers with these words come first. Use quotes for phrases: /keywords diffusion "language model". '
    "/keywords only <words> shows only matching papers; /keywords off clears them."))
command("exclude")(_terms_command(
    "exclude", "Excluded words",
    'Papers with these words are left out: /exclude survey "position paper". /exclude off clears them.'))
command("authors")(_terms_command(
    "authors", "Followed authors",
    "Papers by these authors always come first, whatever their category: "
    "/authors Yann LeCun, Fei-Fei Li. /authors off clears them."))


def needs_split_confirmation(words: str) -> bool:
    """More than two words and no comma or semicolon: one long name, or several names run together?"""
    return not any(sep in words for sep in ",;\n") and len(words.split()) > 2


def split_names(words: str) -> list[str]:
    """A guess at several names typed without commas: two words each (the last takes any odd word)."""
    parts = words.split()
    names = [" ".join(parts[i : i + 2]) for i in range(0, len(parts) - len(parts) % 2, 2)]
    if len(parts) % 2:
        names[-1] += " " + parts[-1]
    return names


PENDING_AUTHORS = "authors-pending:{chat_id}"


def ask_author_split(app, ctx: ChatContext, words: str) -> list[Message]:  # type: ignore[no-untyped-def]
    """Show how the names were split and let the chat confirm; nothing changes until it does."""
    names = split_names(words)
    one = collapse_whitespace(words)
    check_limits(replace(_sub(app, ctx), authors=tuple(names)), 0)  # refuse at once what could not be saved
    set_state(app.sessions, PENDING_AUTHORS.format(chat_id=ctx.chat_id), json.dumps({"split": names, "one": one}))
    listed = "; ".join(f"“{n}”" for n in names)
    return [Message(
        blocks=(Paragraph((Text(f"Separate names with commas. Did you mean {len(names)} authors: {listed}?"),)),
                Paragraph((Text(f"Or one author, “{one}”? Or type e.g. /authors {', '.join(names)}.", italic=True),))),
        buttons=((Button(f"✅ {len(names)} authors", action="au:split"), Button("One author", action="au:one")),),
    )]


@action("au")
async def author_split_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """`au:split` / `au:one`: the chat's answer to the /authors question."""
    from bot.app import NOT_ALLOWED, ActionReply

    if not ctx.can_manage:
        return ActionReply(notice=NOT_ALLOWED[:200], alert=True)
    pending = get_state(app.sessions, PENDING_AUTHORS.format(chat_id=ctx.chat_id))
    if not pending or args not in ("split", "one"):
        return ActionReply(notice="This question has expired. Send /authors again.")
    choice = json.loads(pending)
    names = tuple(choice["split"]) if args == "split" else (choice["one"],)
    sub = _save(app, replace(_sub(app, ctx), authors=names))
    shown = ", ".join(f"“{t}”" for t in sub.authors)
    set_state(app.sessions, PENDING_AUTHORS.format(chat_id=ctx.chat_id), "")
    return ActionReply(notice="Authors saved", edit=text(f"Followed authors: {shown}."))


def _current(label: str, value: str, usage: str) -> list[Message]:
    """The answer to a setter sent without an argument: its current value and how to change it."""
    return [Message(blocks=(Paragraph((Text(f"{label}: ", bold=True), Text(value))),
                            Paragraph((Text(usage, italic=True),))))]


@command("time")
async def set_time(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    parts = args.split()
    if not parts:
        sub = _sub(app, ctx)
        return _current("Delivery time", f"{sub.delivery_time} ({sub.timezone})",
                        "Usage: /time HH:MM [Area/City], e.g. /time 08:30 Europe/Berlin.")
    if len(parts) > 2:
        raise BadInput("Usage: /time HH:MM [Area/City], e.g. /time 08:30 Europe/Berlin.")
    when = parse_time(parts[0])
    sub = _sub(app, ctx)
    zone = parse_timezone(parts[1]) if len(parts) == 2 else sub.timezone
    _save(app, replace(sub, delivery_time=when, timezone=zone))
    return [text(f"⏰ Your digest will arrive at {when} ({zone}) on each day with a new arXiv announcement.")]


@command("days")
async def set_days(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    if not args.strip():
        return _current("Delivery days", _sub(app, ctx).weekdays.replace(",", ", "),
                        "Usage: /days mon-fri (or daily, weekends, mon,wed,fri).")
    days = parse_weekdays(args)
    _save(app, replace(_sub(app, ctx), weekdays=days))
    return [text(f"Digests will arrive on: {days.replace(',', ', ')}. "
                 "A day without delivery rolls its papers into the next digest.")]


@command("cross")
async def set_cross(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    if not args.strip():
        return _current("Cross-listed papers", "included" if _sub(app, ctx).include_cross else "left out",
                        "Usage: /cross on or /cross off.")
    on = parse_switch(args)
    _save(app, replace(_sub(app, ctx), include_cross=on))
    state = "included." if on else "left out; only papers whose main category you follow."
    return [text("Cross-listed papers are " + state)]


@command("replacements")
async def set_replacements(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    if not args.strip():
        return _current("New versions of older papers", "included" if _sub(app, ctx).include_replacements
                        else "left out", "Usage: /replacements on or /replacements off.")
    on = parse_switch(args)
    _save(app, replace(_sub(app, ctx), include_replacements=on))
    return [text("New versions of older papers are " + ("included (once per paper)." if on else "left out."))]


@command("max")
async def set_max(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    if not args.strip():
        return _current("Cards per digest", str(_sub(app, ctx).max_papers),
                        "Usage: /max <0-50>: how many papers show as full cards before the paged list "
                        "(in the cards style; /style).")
    n = parse_max_papers(args)
    _save(app, replace(_sub(app, ctx), max_papers=n))
    if n == 0:
        return [text("Digests will show a compact numbered list; tap a number for the full card.")]
    return [text(f"Digests will show the top {n} papers as cards; the rest come in a paged list.")]


STYLE_WORDS = {
    "compact": "one or two lines a paper; a number opens its card",
    "cards": "the top papers as full cards (see /max), then a compact list of the rest",
    "auto": "compact on days with more than 30 papers, cards otherwise",
}


def describe_style(style: str) -> str:
    return f"{style if style in STYLE_WORDS else 'auto'} ({STYLE_WORDS.get(style, STYLE_WORDS['auto'])})"


@command("style")
async def set_style(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """/style compact|cards|auto: how this chat's digest is laid out."""
    word = args.strip().lower()
    if not word:
        return _current("Digest style", describe_style(_sub(app, ctx).style),
                        "Usage: /style compact, /style cards or /style auto.")
    if word not in (*STYLES, "auto"):
        raise BadInput(f"'{args.strip()[:30]}' is not a style. Use /style compact, /style cards or /style auto.")
    _save(app, replace(_sub(app, ctx), style=word))
    return [text(f"Digest style: {describe_style(word)}.")]


@command("settings")
async def settings_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    sub = _sub(app, ctx)
    def line(label: str, value: str, how: str) -> Paragraph:
        return Paragraph((Text(f"{label}: ", bold=True), Text(value), Text(f"  {how}", italic=True)))
    keywords = _listed(sub.keywords)
    if sub.keywords and sub.keywords_only:
        keywords += " (only these)"
    blocks = [
        Heading((Text("⚙️ This chat's digest"),)),
        line("Categories", _describe(sub.categories) if sub.categories else "none", "/subscribe, /unsubscribe"),
        line("Keywords", keywords, "/keywords"),
        line("Excluded words", _listed(sub.exclude), "/exclude"),
        line("Authors", _listed(sub.authors), "/authors"),
        line("Delivery", f"{sub.delivery_time} {sub.timezone}, {sub.weekdays.replace(',', ' ')}", "/time, /days"),
        line("Cross-lists", "included" if sub.include_cross else "left out", "/cross on|off"),
        line("Replacements", "included" if sub.include_replacements else "left out", "/replacements on|off"),
        line("Style", describe_style(sub.style), "/style compact|cards"),
        line("Cards per digest", str(sub.max_papers), "/max"),
        line("Answer language", sub.language, "/language"),
    ]
    if sub.paused:
        paused = f"⏸ Paused: {sub.paused_reason or 'unreachable'}. Any change here resumes it."
        blocks.append(Paragraph((Text(paused),)))
    return [Message(blocks=tuple(blocks))]


# --- browsing --------------------------------------------------------------------------------


CATEGORIES_PER_PAGE = 12


@command("categories")
async def categories_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Browse arXiv: the archives, one archive's categories, or a search; long lists page."""
    taxonomy = load_taxonomy()
    words = args.strip()
    if not words:
        lines = [Paragraph((Text(a.id, code=True), Text(f" — {a.name}"))) for a in taxonomy.archives()]
        return [Message(blocks=(Heading((Text("arXiv archives"),)), *lines,
                                Paragraph((Text("/categories cs lists an archive; /categories language searches."),))))]
    return [categories_page(app, ctx, words, 0)]


def categories_page(app, ctx: ChatContext, words: str, page: int) -> Message:  # type: ignore[no-untyped-def]
    """One page of an archive's categories or of a search, ✓ on those the chat follows."""
    taxonomy = load_taxonomy()
    if taxonomy.is_archive(words):
        found = [c for c in taxonomy.categories_in_archive(words) if not c.is_alias]
        title = f"{taxonomy.name_of(words)} ({words.lower()})"
    else:
        found = taxonomy.search(words, limit=60)
        title = f"Categories matching “{echo(words)}”"
    if not found:
        return text(f"No category matches “{echo(words)}”. Try a broader word, or /categories for the archives.")
    sub = app.subscriptions.get(ctx.chat_id)
    followed = parse_expr(sub.categories, taxonomy) if sub and sub.categories else None
    pages = (len(found) + CATEGORIES_PER_PAGE - 1) // CATEGORIES_PER_PAGE
    page = min(max(page, 0), pages - 1)
    chunk = found[page * CATEGORIES_PER_PAGE : (page + 1) * CATEGORIES_PER_PAGE]
    follows = {c.id for c in chunk if followed is not None and followed.matches([c.id])}
    if pages > 1:
        title += f" · page {page + 1}/{pages}"
    lines = [Paragraph(((Text("✓ "),) if c.id in follows else ()) + (Text(c.id, code=True), Text(f" — {c.name}")))
             for c in chunk]
    buttons = [Button(f"✓ {c.id}" if c.id in follows else f"+ {c.id}", action=f"sub:{c.id}") for c in chunk]
    rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)] if ctx.can_manage else []
    rows.extend(page_rows(f"cats:{_clip_bytes(words, 40)}", page, pages))
    blocks = [Heading((Text(title),)), *lines]
    if follows:
        blocks.append(Paragraph((Text("✓ = this chat follows it.", italic=True),)))
    return Message(blocks=tuple(blocks), buttons=tuple(rows))


def _clip_bytes(words: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of `words`, so a paging button's action stays within 64 bytes."""
    return words.encode()[:limit].decode(errors="ignore").replace(":", " ")


@action("cats")
async def categories_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """`cats:<words>:<page>` turns a /categories list's page in place."""
    from bot.app import ActionReply
    from bot.untrusted import MAX_PAGE, ExpiredButton, payload_ints

    words, _, page_text = args.rpartition(":")
    if not words.strip():
        raise ExpiredButton()
    (page,) = payload_ints(page_text, MAX_PAGE)
    return ActionReply(edit=categories_page(app, ctx, words.strip(), page))


@command("paper")
async def paper_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    ids = find_ids(args)
    if not ids:
        from digest.ids import parse_id

        ids = [parse_id(args.strip())[0]] if args.strip() else []
    if not ids:
        raise BadInput("Usage: /paper <arXiv id or link>, e.g. /paper 2401.12345.")
    return await paper_cards(app, ctx, ids)


async def paper_cards(app, ctx: ChatContext, ids: list[str]) -> list[Message]:  # type: ignore[no-untyped-def]
    """Cards for papers named by id; unknown ids are said so, not silently dropped."""
    from digest.cards import paper_card
    from digest.saved import saved_among

    ids = ids[:MAX_CARDS_FOR_LINKS]
    papers = await app.fetch_papers(ids)
    saved = saved_among(app.sessions, ctx.chat_id, list(papers))
    translate = app.subscriptions.get_or_default(ctx.chat_id).wants_translation
    announced = app.store.announced_days_of(list(papers))
    out = [paper_card(papers[i], urls=app.urls, saved=i in saved, translate=translate, announced=announced.get(i))
           for i in ids if i in papers]
    missing = [i for i in ids if i not in papers]
    if missing:
        out.append(text(f"arXiv has no paper {', '.join(missing)}."))
    return out


@command("_links")
async def links(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Free text: arXiv ids and links get paper cards (the chat form of Cool Papers' redirector)."""
    ids = find_ids(args)
    if ids:
        return await paper_cards(app, ctx, ids)
    if ctx.kind is ChatKind.PRIVATE:
        return [text("Send me an arXiv link or id and I'll show the paper, or try /help.")]
    return []


@action("card")
async def card_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """A number in a compact list: the paper's full card, with its number and why it is in the digest."""
    from bot.app import ActionReply
    from digest.cards import paper_card
    from digest.digest_store import latest_entry_for
    from digest.saved import saved_among

    found = latest_entry_for(app.sessions, ctx.chat_id, args)
    if found is None:
        return ActionReply(replies=await paper_cards(app, ctx, [args]))
    number, entry = found
    paper = await app.fetch_paper(args)
    card = paper_card(paper, urls=app.urls, saved=bool(saved_among(app.sessions, ctx.chat_id, [paper.id])),
                      index=number, reason=entry.get("reason"), kind=entry.get("kind"),
                      translate=app.subscriptions.get_or_default(ctx.chat_id).wants_translation,
                      announced=app.store.announced_days_of([paper.id]).get(paper.id))
    return ActionReply(replies=[card])
