"""Bulk import of paper metadata from JSONL files (plain or gzipped), fast enough for all of arXiv.

Three formats are understood, recognised line by line:
- arXiv's metadata snapshot (`arxiv-metadata-oai-snapshot.json`, the bulk dump researchers
  download): `{id, submitter, authors: "A, B and C", title, comments, journal-ref, doi, report-no,
  categories: "math.RA cs.LG", license, abstract, versions: [{version, created}], update_date,
  authors_parsed: [[keyname, forenames, suffix]]}`. The first version's `created` date becomes the
  paper's `published` date (what `/search` date filters use); the snapshot says nothing about
  announcement days, so no announcement rows are invented for it;
- the corpus format: `{id, title, abstract, authors[], categories[], primary_category, comment,
  first_seen, seen_dates[]}`; each paper is recorded as announced on `first_seen`;
- the daily-crawl format: `{id, pdf, abs, authors[], title, categories[], comment, summary}`, in a
  file named `<YYYY-MM-DD>.jsonl`; every paper is recorded as announced that day. The crawler
  lists a paper once per category page, so duplicates in a file collapse to one paper.

Every line is validated before anything is stored: a line that fits none of these formats is
*refused* with its line number and the field at fault (`Refusal`), and never half-stored. Blank
lines and repeats of a paper already read from the same file are *skipped*; the rest are *taken*.

Validated papers are stored in chunks by a writer thread (`digest.import_writer`) while the next
chunk is read: one upsert per chunk, search index included, in one transaction, so an import
stopped at any moment leaves a consistent store. The file is read as a stream (gzip included), so
memory stays flat whatever its size.

Every record is cleaned like a feed item (`digest.paper_cleaning.clean_paper`: control characters out, HTML
to text, titles and abstracts capped, categories unknown to the taxonomy dropped); a record left
without a title is refused, one left without a category arXiv's taxonomy knows is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import gzip
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from digest.clean import collapse_whitespace
from digest.errors import BadInput
from digest.ids import parse_id
from digest.import_writer import ChunkWriter, write_papers
from digest.models import Paper
from digest.paper_cleaning import clean_paper

log = logging.getLogger(__name__)

__all__ = ["ImportReport", "NotKept", "Refusal", "Refused", "import_jsonl", "paper_from_record",
           "read_records", "write_papers"]

CHUNK = 5000  # papers a transaction (the writer stores one while the next is read)
# from this much input on, the writer runs in a process of its own (a second to start, then the
# reading and the writing each get a core; see digest.import_writer.ChunkWriter)
PROCESS_MIN_BYTES = 16 * 1024 * 1024  # on disk: some 8,000 papers plain, 30,000 gzipped
REFUSALS_KEPT = 100  # refusals listed in the report; the count covers all of them
_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
# arXiv category names, current and retired: cs.CL, math-ph, hep-th, astro-ph.GA, q-bio.NC, cmp-lg
_CATEGORY = re.compile(r"^(?=..)[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]{2,}(?:-[A-Za-z]+)?)?$")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_PARENTHESES = re.compile(r"\([^()]*\)")
_OPTIONAL_TEXT = ("comments", "journal-ref", "doi", "license", "report-no", "submitter", "comment")


class Refused(ValueError):
    """A line that fits no known format; `field` names the part at fault."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused line, as the import reports it."""

    path: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    lines: int = 0
    taken: int = 0
    skipped: int = 0
    refused: int = 0
    papers: int = 0  # distinct papers written (a paper read from two files counts twice)
    announcements: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    interrupted: bool = False  # stopped on request before the end of the files

    def summary(self) -> str:
        text = (f"Imported {self.papers} papers ({self.announcements} new announcement listings) "
                f"from {self.lines} lines: {self.taken} taken, {self.skipped} skipped, {self.refused} refused.")
        if self.interrupted:
            text += " Interrupted: the papers above are stored and searchable; run the same command again to finish."
        return text


# --- reading ----------------------------------------------------------------------------------------


class _Progress:
    """Reports bytes read from the file on disk (compressed bytes for .gz), for a progress bar."""

    def __init__(self, raw: IO[bytes], callback: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.callback = callback
        self.seen = 0

    def tick(self) -> None:
        if self.callback is None:
            return
        position = self.raw.tell()
        if position > self.seen:
            self.callback(position - self.seen)
            self.seen = position


def _lines(path: Path, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    with open(path, "rb") as raw:
        meter = _Progress(raw, progress)
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Iterable[bytes] = gzip.GzipFile(fileobj=raw) if is_gzip else raw
        for number, line in enumerate(stream, 1):
            if number % 2000 == 0:
                meter.tick()
            yield line
        meter.tick()


def _json(line: bytes) -> Any:
    """One line's JSON. orjson reads it (and checks it is UTF-8) in a third less time than `json`;
    what orjson refuses goes through `json`, which accepts a little more (an escaped lone surrogate,
    NaN; cleaned or refused later) and words the refusal, so results are as with `json` alone.
    A line that is not UTF-8 raises UnicodeDecodeError, as the whole file is then unreadable."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line.decode("utf-8", errors="strict"))


def _date(value: object) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _text(record: dict, name: str, *, required: bool = False) -> str | None:
    """A string field, checked: the right type, and no NUL or lone surrogate a database would choke on."""
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise Refused(name, "missing or empty")
        return None
    if not isinstance(value, str):
        raise Refused(name, f"expected a string, got {type(value).__name__}")
    return value


def _check_characters(paper: Paper) -> None:
    """The last guard: no NUL or lone surrogate left in any text (PostgreSQL refuses NUL).
    One check over all the text at once; the field is looked for only when it fails."""
    texts = (paper.title, paper.abstract, paper.comment or "", paper.doi or "", paper.journal_ref or "",
             paper.license or "", *paper.authors, *paper.categories)
    joined = "\n".join(texts)
    try:
        joined.encode("utf-8")
        if "\x00" not in joined:
            return
    except UnicodeEncodeError:
        pass
    for name in ("title", "abstract", "comment", "doi", "journal_ref", "license", "authors", "categories"):
        for text in _strings(getattr(paper, name)):
            if "\x00" in text:
                raise Refused(name, "contains a NUL character")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused(name, "contains an unpaired surrogate") from None


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _paper_id(record: dict) -> tuple[str, int | None]:
    raw = record.get("id")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raise Refused("id", f"a number ({raw!r}); arXiv ids are strings such as \"0704.0001\"")
    text = _text(record, "id", required=True)
    try:
        return parse_id(str(text))
    except (BadInput, ValueError):
        raise Refused("id", f"{str(text)[:40]!r} is not an arXiv id") from None


def _category_list(names: Iterable[object], *, free_text_after_first: bool = False) -> tuple[str, ...]:
    """The categories, checked.

    With `free_text_after_first` (crawled listings, whose subject line also carries MSC/ACM classes
    and free text after the arXiv categories), strings after the first that are no category are dropped.
    """
    result = []
    for position, name in enumerate(names):
        if free_text_after_first and position and isinstance(name, str) and not _CATEGORY.match(name):
            continue
        if not isinstance(name, str) or not _CATEGORY.match(name):
            raise Refused("categories", f"{str(name)[:30]!r} is not an arXiv category")
        result.append(name)
    if not result:
        raise Refused("categories", "no category")
    return tuple(dict.fromkeys(result))


def _string_list(record: dict, name: str) -> tuple[str, ...]:
    value = record.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused(name, "expected a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _format_of(record: dict) -> str:
    if isinstance(record.get("categories"), str) or "versions" in record or "authors_parsed" in record \
            or "update_date" in record:
        return "snapshot"
    if "first_seen" in record or "primary_category" in record or "abstract" in record:
        return "corpus"
    if "summary" in record or "pdf" in record or "abs" in record:
        return "daily"
    raise Refused("format", "fits no known format (snapshot, corpus or daily crawl)")


class NotKept(ValueError):
    """A well-formed record that is not stored: it has no category arXiv's taxonomy knows."""


def paper_from_record(record: Any) -> Paper:
    """A clean Paper from one JSON record of any known format.

    Raises `Refused` (naming the field at fault) for a record that fits no format, `NotKept` for a
    well-formed one whose categories arXiv's taxonomy does not know.
    """
    if not isinstance(record, dict):
        raise Refused("line", f"expected a JSON object, got {type(record).__name__}")
    parsed = _snapshot_paper(record) if _format_of(record) == "snapshot" else _listing_paper(record)
    # control characters, NUL and lone surrogates out, HTML to text, lengths capped (digest.clean)
    paper = clean_paper(parsed)
    if not paper.title:
        raise Refused("title", "empty once control characters and markup are removed")
    if not paper.categories:
        raise NotKept(f"no category arXiv's taxonomy knows in {', '.join(parsed.categories)[:60]}")
    _check_characters(paper)
    return paper


def _listing_paper(record: dict) -> Paper:
    """The corpus and daily-crawl formats: lists for authors and categories."""
    paper_id, version = _paper_id(record)
    if not isinstance(record.get("categories"), list):
        raise Refused("categories", "expected a list of arXiv categories")
    categories = _category_list(record["categories"], free_text_after_first=True)
    primary = _text(record, "primary_category") or categories[0]
    if not _CATEGORY.match(primary):
        raise Refused("primary_category", f"{primary[:30]!r} is not an arXiv category")
    if primary not in categories:
        categories = (primary, *categories)
    abstract_field = "abstract" if "abstract" in record else "summary"
    return Paper(
        id=paper_id,
        version=version or 1,
        title=_text(record, "title", required=True) or "",
        authors=_string_list(record, "authors"),
        abstract=_text(record, abstract_field) or "",
        categories=categories,
        primary_category=primary,
        comment=_text(record, "comment"),
        doi=_text(record, "doi"),
        journal_ref=_text(record, "journal_ref"),
        published=_date(record.get("first_seen") or record.get("published")),
    )


def _snapshot_paper(record: dict) -> Paper:
    """arXiv's metadata snapshot: strings for authors and categories, dates in `versions`."""
    paper_id, version = _paper_id(record)
    if not isinstance(record.get("categories"), str):
        raise Refused("categories", "expected a space-separated string such as \"math.RA cs.LG\"")
    categories_text = _text(record, "categories", required=True)
    categories = _category_list(str(categories_text).split())
    for name in _OPTIONAL_TEXT:
        _text(record, name)
    versions, first_created = _versions(record.get("versions"))
    if record.get("update_date") is not None and _date(_text(record, "update_date")) is None:
        raise Refused("update_date", "expected a date such as 2008-11-13")
    authors_text = _text(record, "authors")
    authors = _parsed_authors(record.get("authors_parsed")) or _split_authors(authors_text or "")
    return Paper(
        id=paper_id,
        version=max(version or 1, versions),
        title=_text(record, "title", required=True) or "",
        authors=authors,
        abstract=_text(record, "abstract") or "",
        categories=categories,
        primary_category=categories[0],
        comment=_text(record, "comments"),
        doi=_text(record, "doi"),
        journal_ref=_text(record, "journal-ref"),
        license=_text(record, "license"),
        published=first_created,
    )


def _versions(value: object) -> tuple[int, dt.date | None]:
    """(how many versions, the first version's date) from `[{"version": "v1", "created": "Mon, 2 Apr 2007 ..."}]`."""
    if value is None:
        return 1, None
    if not isinstance(value, list) or not value:
        raise Refused("versions", "expected a non-empty list of {version, created}")
    dates = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("created"), str):
            raise Refused("versions", "each version needs a `created` date")
        try:
            dates.append(_created_date(item["created"]))
        except (TypeError, ValueError, IndexError):
            raise Refused("versions", f"{item['created'][:40]!r} is not a date") from None
    return len(value), min(dates)


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# how arXiv writes every `created`: "Mon, 2 Apr 2007 19:18:42 GMT"
_CREATED = re.compile(r"[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) \d{2}:\d{2}:\d{2} GMT")


def _created_date(text: str) -> dt.date:
    """The date of a version's `created` (RFC 2822). arXiv's own spelling is read directly (a
    seventh of the email parser's cost); anything else goes to `email.utils`, which decides."""
    match = _CREATED.fullmatch(text)
    if match and match.group(2) in _MONTHS:
        try:
            return dt.date(int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)))
        except ValueError:
            pass
    return email.utils.parsedate_to_datetime(text).date()


def _parsed_authors(value: object) -> tuple[str, ...]:
    """Names from `authors_parsed` ([keyname, forenames, suffix], accents already decoded)."""
    if value is None:
        return ()
    wrong = Refused("authors_parsed", "expected a list of [keyname, forenames, suffix] lists")
    if not isinstance(value, list):
        raise wrong
    names = []
    for parts in value:
        if not isinstance(parts, list) or not parts:
            raise wrong
        keyname = parts[0]
        forenames = parts[1] if len(parts) > 1 else ""
        suffix = parts[2] if len(parts) > 2 else ""
        if type(keyname) is not str or type(forenames) is not str or type(suffix) is not str:
            raise wrong
        name = f"{forenames} {keyname} {suffix}".strip()
        if name:
            names.append(collapse_whitespace(name) if "  " in name else name)
    return tuple(names)


def _split_authors(text: str) -> tuple[str, ...]:
    """Names from the `authors` string: "A. One, B. Two (MIT) and C. Three"."""
    text = _PARENTHESES.sub(" ", collapse_whitespace(text))
    return tuple(n.strip() for n in _AUTHOR_SPLIT.split(text) if n.strip())


@dataclass(frozen=True, slots=True)
class _Taken:
    paper: Paper
    day: dt.date | None


def read_records(path: Path, progress: Callable[[int], None] | None = None,
                 ) -> Iterator[_Taken | Refusal | None]:
    """For each line: the paper (with its announcement day), a `Refusal`, or None for a blank line."""
    name_day = _date(m.group(1)) if (m := _DAY_IN_NAME.search(path.name)) else None
    try:
        for number, line in enumerate(_lines(path, progress), 1):
            if not line.strip():
                yield None
                continue
            try:
                record = _json(line)
                paper = paper_from_record(record)
            except NotKept as exc:
                log.debug("%s:%d not kept: %s", path, number, exc)
                yield None
                continue
            except Refused as exc:
                yield Refusal(str(path), number, exc.field, exc.reason)
                continue
            except ValueError as exc:  # json.JSONDecodeError
                yield Refusal(str(path), number, "line", f"not JSON ({exc})")
                continue
            day = _date(record.get("first_seen")) or name_day
            if paper.published is None and day is not None:  # a daily file: the paper appeared that day
                paper = dataclasses.replace(paper, published=day)
            yield _Taken(paper, day)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc})") from None
    except (OSError, EOFError) as exc:
        raise BadInput(f"{path}: cannot be read ({exc})") from None


# --- the import ------------------------------------------------------------------------------------


def import_jsonl(
    paths: Iterable[Path],
    sessions: sessionmaker[Session],
    *,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> ImportReport:
    """Import every file; `progress(n)` is called with the bytes of the file read since the last call.

    Setting `stop` (Ctrl-C in `paperboy import`) ends the import within a chunk: what was read is
    stored, the report says `interrupted`, and running the import again completes it.

    Lines are read and validated here while a writer thread stores the previous chunk, search index
    included, one transaction a chunk (`digest.import_writer`).
    """
    report = ImportReport()

    def written(papers: int, announcements: int) -> None:
        report.papers += papers
        report.announcements += announcements

    paths = [Path(p) for p in paths]
    process = sum(p.stat().st_size for p in paths if p.is_file()) >= PROCESS_MIN_BYTES
    with ChunkWriter(sessions, written, process=process) as writer:
        for path in paths:
            _import_file(Path(path), writer, report, progress, stop or threading.Event())
            if report.interrupted:
                writer.interrupted = True
                break
    return report


def _import_file(path: Path, writer: ChunkWriter, report: ImportReport,
                 progress: Callable[[int], None] | None, stop: threading.Event) -> None:
    papers: dict[str, Paper] = {}
    days: dict[str, dt.date] = {}
    seen: set[str] = set()  # ids read from this file: a repeat is skipped unless it is a newer version
    for item in read_records(path, progress):
        if stop.is_set():
            report.interrupted = True
            break
        report.lines += 1
        if item is None:
            report.skipped += 1
            continue
        if isinstance(item, Refusal):
            report.refused += 1
            if len(report.refusals) < REFUSALS_KEPT:
                report.refusals.append(item)
            log.debug("refused %s", item)
            continue
        paper = item.paper
        kept = papers.get(paper.id)
        if paper.id in seen and (kept is None or paper.version <= kept.version):
            report.skipped += 1
            continue
        report.taken += 1
        seen.add(paper.id)
        papers[paper.id] = paper
        if item.day is not None:
            days.setdefault(paper.id, item.day)
        if len(papers) >= CHUNK:
            writer.submit(papers, days)
            papers, days = {}, {}
    if papers:
        writer.submit(papers, days)
