"""BibTeX in and out: export saved papers as `@misc` entries or links, read a .bib file for seeding.

Export follows what arXiv's own "Export BibTeX citation" gives (`@misc` with `eprint`,
`archivePrefix`, `primaryClass`, `url`, and `doi` when known), so the entries work with biblatex
and with natbib styles alike. arXiv metadata is LaTeX source already (`$\\alpha$`, `\\'e`), so it
is kept, and only the characters that would break a .bib file or LaTeX outside math are escaped.

Import is lenient: a reference manager's export holds arXiv ids in many places (`eprint`,
`url = {https://arxiv.org/abs/...}`, `journal = {arXiv preprint arXiv:2401.12345}`, arXiv DOIs
10.48550/arXiv.*). Entries without any id keep their title, so the caller can look it up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from digest.clean import collapse_whitespace
from digest.ids import abs_url, find_ids
from digest.latex import to_unicode
from digest.models import Paper

__all__ = ["BibEntry", "export_bibtex", "export_links", "parse_bibtex"]

_ID_FIELDS = ("eprint", "arxivid", "arxiv", "url", "doi", "journal", "note", "howpublished", "pdf", "link")


@dataclass(frozen=True, slots=True)
class BibEntry:
    """One entry of an imported .bib file: its key, title and the arXiv id found in it (if any)."""

    key: str
    title: str
    arxiv_id: str | None


# --- export ------------------------------------------------------------------------------------


def export_bibtex(papers: Iterable[Paper], *, abs_base: str = "https://arxiv.org/abs") -> str:
    """Every paper as a `@misc` entry with a unique key, in the given order."""
    used: set[str] = set()
    return "\n\n".join(_entry(paper, _unique_key(paper, used), abs_base) for paper in papers) + "\n"


def export_links(papers: Iterable[Paper], *, abs_base: str = "https://arxiv.org/abs") -> str:
    """A numbered list: `1. Title — https://arxiv.org/abs/<id>`."""
    lines = [f"{i}. {to_unicode(p.title)} — {abs_url(p.id, abs_base)}" for i, p in enumerate(papers, 1)]
    return "\n".join(lines) + ("\n" if lines else "")


def _entry(paper: Paper, key: str, abs_base: str) -> str:
    fields = [
        ("title", "{" + latex_escape(collapse_whitespace(paper.title)) + "}"),  # inner braces keep capitals
        ("author", " and ".join(latex_escape(collapse_whitespace(a)) for a in paper.authors) or "Unknown"),
        ("year", str(_year(paper))),
        ("eprint", paper.id),
        ("archivePrefix", "arXiv"),
    ]
    if paper.primary:
        fields.append(("primaryClass", paper.primary))
    fields.append(("url", abs_url(paper.id, abs_base)))
    if paper.doi:
        fields.append(("doi", paper.doi))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def _year(paper: Paper) -> int:
    """The year of the first version: the stored date, else what the id says (YYMM or archive/YYMMNNN)."""
    if paper.published:
        return paper.published.year
    digits = paper.id.split("/")[-1][:2]
    if digits.isdigit():
        yy = int(digits)
        return 1900 + yy if yy >= 91 else 2000 + yy
    return 2000


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", plain).lower()


_SKIP_TITLE_WORDS = {"a", "an", "the", "on", "of", "for", "to", "in", "and", "with", "towards", "toward"}


def _unique_key(paper: Paper, used: set[str]) -> str:
    """`lastnameYEARfirstword`, like Google Scholar's keys, with a/b/c… appended on collisions."""
    # Keys come from what a reader sees (LaTeX converted): `\textsc{DiARC}` gives `diarc`, not `textsc`.
    author = to_unicode(paper.authors[0]) if paper.authors else ""
    surname = _ascii_word(author.split()[-1]) if author.split() else ""
    words = [_ascii_word(w) for w in re.findall(r"[^\W_]+", to_unicode(paper.title))]
    first = next((w for w in words if w and w not in _SKIP_TITLE_WORDS), "")
    base = f"{surname or 'arxiv'}{_year(paper)}{first}" or _ascii_word(paper.id)
    key, n = base, 0
    while key in used:
        key = base + _suffix(n)
        n += 1
    used.add(key)
    return key


def _suffix(n: int) -> str:
    letters = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters


_SPECIAL = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Escape what breaks LaTeX outside math (& % # _ ~ ^), keep `$...$` math and commands as written;
    unbalanced braces (which would break the whole .bib) are escaped."""
    out: list[str] = []
    in_math = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])  # an escape or command start stays as written
            i += 2
            continue
        if ch == "$":
            in_math = not in_math
        elif not in_math and ch in _SPECIAL:
            out.append(_SPECIAL[ch])
            i += 1
            continue
        out.append(ch)
        i += 1
    if in_math:  # a lone $ would swallow the rest of the document
        out = [r"\$" if piece == "$" else piece for piece in out]
    escaped = "".join(out)
    return escaped if _balanced(escaped) else _escape_braces(escaped)


def _balanced(text: str) -> bool:
    depth = 0
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth < 0:
            return False
        i += 1
    return depth == 0


def _escape_braces(text: str) -> str:
    return re.sub(r"(?<!\\)([{}])", r"\\\1", text)


# --- import ------------------------------------------------------------------------------------


def parse_bibtex(text: str) -> list[BibEntry]:
    """Every entry of a .bib file (comments, @string and @preamble skipped), with its arXiv id if any."""
    entries: list[BibEntry] = []
    for kind, body in _raw_entries(text):
        if kind in {"comment", "string", "preamble"}:
            continue
        key, fields = _fields(body)
        title = _clean(fields.get("title", ""))
        arxiv_id = None
        for name in _ID_FIELDS:
            value = fields.get(name)
            if not value:
                continue
            if name == "eprint" and "archiveprefix" in fields and "arxiv" not in fields["archiveprefix"].lower():
                continue
            ids = find_ids(value if name != "doi" else value.replace("arXiv.", "arxiv:"))
            if ids:
                arxiv_id = ids[0]
                break
        entries.append(BibEntry(key=key, title=title, arxiv_id=arxiv_id))
    return entries


def _raw_entries(text: str) -> Iterable[tuple[str, str]]:
    """(entry type, body between the outer braces) for each `@type{...}` / `@type(...)`."""
    for match in re.finditer(r"@\s*([A-Za-z]+)\s*([{(])", text):
        opener = match.group(2)
        closer = "}" if opener == "{" else ")"
        depth, i = 1, match.end()
        while i < len(text) and depth:
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == opener:
                depth += 1
            elif text[i] == closer:
                depth -= 1
            i += 1
        yield match.group(1).lower(), text[match.end() : i - 1 if depth == 0 else i]


def _fields(body: str) -> tuple[str, dict[str, str]]:
    key, _, rest = body.partition(",")
    fields: dict[str, str] = {}
    pos = 0
    pattern = re.compile(r"\s*([A-Za-z][\w:-]*)\s*=\s*")
    while pos < len(rest):
        match = pattern.match(rest, pos)
        if not match:
            nxt = rest.find(",", pos)
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        value, pos = _value(rest, match.end())
        fields[match.group(1).lower()] = value
        while pos < len(rest) and rest[pos] in " \t\r\n,":
            pos += 1
    return key.strip(), fields


def _value(text: str, pos: int) -> tuple[str, int]:
    """A field value: {braced}, "quoted" or a bare word/number, with `#` concatenation."""
    parts: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "{":
            depth, start = 1, pos + 1
            pos += 1
            while pos < len(text) and depth:
                if text[pos] == "\\":
                    pos += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[pos], 0)
                pos += 1
            parts.append(text[start : pos - 1 if depth == 0 else pos])
        elif ch == '"':
            start = pos + 1
            pos += 1
            depth = 0
            while pos < len(text) and not (text[pos] == '"' and depth == 0):
                depth += {"{": 1, "}": -1}.get(text[pos], 0)
                pos += 2 if text[pos] == "\\" else 1
            parts.append(text[start:pos])
            pos += 1
        else:
            match = re.compile(r"[^,#}\s]+").match(text, pos)
            if match:
                parts.append(match.group(0))
                pos = match.end()
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos < len(text) and text[pos] == "#":
            pos += 1
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            continue
        break
    return "".join(parts), pos


def _clean(value: str) -> str:
    value = re.sub(r"\\([&%#_$])", r"\1", value)
    return collapse_whitespace(value.replace("{", "").replace("}", ""))
