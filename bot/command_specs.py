"""The list of chat commands: names, arguments and one-line descriptions, shared by every platform.

Telegram registers them with setMyCommands, Discord turns them into slash commands (a parameter's
`complete` names the autocompletion it wants), `/help` lists them. The names are public interface.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    required: bool = False
    complete: str | None = None  # "category" | "timezone" | "language" | None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str  # <= 100 chars (Discord's limit), starts with a verb
    params: tuple[Param, ...] = ()
    manages: bool = False  # changes the chat's subscription: admins only in groups

    @property
    def usage(self) -> str:
        args = " ".join(f"<{p.name}>" if p.required else f"[{p.name}]" for p in self.params)
        return f"/{self.name} {args}".rstrip()


# A command that sets something takes its argument optionally: without one it shows the current value.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Welcome and a short how-to"),
    CommandSpec("help", "List the commands"),
    CommandSpec("subscribe", "Follow arXiv categories, e.g. cs.CL or cs.AI+cs.LG-cs.CY",
                (Param("categories", "Categories, e.g. cs.CL cs.LG or cs.AI+cs.LG-cs.CY", False, "category"),),
                manages=True),
    CommandSpec("unsubscribe", "Stop following some categories, or everything",
                (Param("categories", "Categories to drop (none = stop all digests)", False, "category"),),
                manages=True),
    CommandSpec("settings", "Show what this chat follows and when"),
    CommandSpec("keywords", "Only or first show papers with these words (quotes for phrases)",
                (Param("keywords", 'Words or "quoted phrases"; "off" clears', False),), manages=True),
    CommandSpec("exclude", "Hide papers with these words",
                (Param("keywords", 'Words or "quoted phrases"; "off" clears', False),), manages=True),
    CommandSpec("authors", "Follow authors: their papers come first",
                (Param("names", "Author names, comma separated; \"off\" clears", False),), manages=True),
    CommandSpec("time", "Set when the digest arrives, e.g. 08:30 Europe/Berlin",
                (Param("time", "HH:MM, 24-hour", False),
                 Param("zone", "IANA time zone, e.g. Asia/Shanghai", False, "timezone")),
                manages=True),
    CommandSpec("days", "Set the weekdays the digest arrives, e.g. mon-fri",
                (Param("days", "e.g. mon-fri, mon,wed,fri, daily", False),), manages=True),
    CommandSpec("cross", "Include cross-listed papers (on/off)", (Param("switch", "on or off", False),), manages=True),
    CommandSpec("replacements", "Include new versions of older papers (on/off)",
                (Param("switch", "on or off", False),), manages=True),
    CommandSpec("max", "Set how many papers show as cards before the rest pages", (Param("number", "0-50", False),),
                manages=True),
    CommandSpec("style", "Set the digest style: compact (a line a paper) or cards",
                (Param("style", "compact, cards or auto", False),), manages=True),
    CommandSpec("digest", "Show the latest digest now, or an earlier day's",
                (Param("day", "YYYY-MM-DD or yesterday", False),)),
    CommandSpec("paper", "Show a paper card", (Param("paper", "arXiv id or URL", True),)),
    CommandSpec("categories", "Browse or search arXiv categories", (Param("words", "e.g. cs or language", False),)),
    CommandSpec("faq", "The LLM's FAQ for a paper", (Param("paper", "arXiv id or URL", True),)),
    CommandSpec("ask", "Ask the LLM about a paper",
                (Param("paper", "arXiv id or URL", True), Param("question", "Your question", True))),
    CommandSpec("language", "Set the language of LLM answers, e.g. zh",
                (Param("code", "e.g. en, zh, de, fr, ja", False, "language"),), manages=True),
    CommandSpec("search", "Search stored papers, e.g. diffusion au:hinton cat:cs.CL",
                (Param("query", "words, \"phrases\", -exclude, au:name, cat:cs.CL, after:2025-01-01", True),)),
    CommandSpec("related", "Papers related to one", (Param("paper", "arXiv id or URL", True),)),
    CommandSpec("saved", "List saved papers"),
    CommandSpec("export", "Export saved papers as BibTeX or links", (Param("format", "bibtex or links", False),)),
    CommandSpec("seed", "Teach your ranking with papers you like", (Param("papers", "arXiv ids or links", True),),
                manages=True),  # a group's ranking is its admins', like its subscription
)

COMMANDS_BY_NAME = {spec.name: spec for spec in COMMANDS}
