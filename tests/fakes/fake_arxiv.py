"""A fake arXiv: a real HTTP server on 127.0.0.1 that serves RSS, API, HTML and PDF like arXiv.

Tests run the real httpx/feedparser code against it, so it fakes the boundary, not the insides
(see STYLE.md on httpx's MockTransport). It runs `http.server.ThreadingHTTPServer` in a thread,
on a random port, and:

- serves `/rss/<cats>` from `rss` (cats string such as `cs.AI+cs.CL` -> bytes, a `Reply`, or a
  callable taking the `Seen` request); unknown cats get an empty feed, like arXiv on a weekend;
- answers `/api/query?id_list=...` from `api_entries` (id, versioned or not -> one `<entry>` XML)
  with a proper Atom feed, and a 400 error feed for ids arXiv would reject (any other query gets
  an empty feed: paperboy asks the API for papers by id only);
- serves `/html/<id>`, `/pdf/<id>`, `/abs/<id>` from `html`, `pdf`, `abs`, 404 when absent;
- lets a test script faults per path: `script("/rss/cs.AI", Reply(503), Reply(503))` makes the
  first two requests fail and the third one be served normally; `Reply` can carry a
  `Retry-After`, a delay, or a garbage body;
- records every request (`requests`: path, query, headers, monotonic time, client port) and the
  most requests ever in flight at once (`max_in_flight`), so tests can assert spacing, the
  User-Agent, counts and one connection.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from tests.fakes.servers import ThreadedHttpFake

if TYPE_CHECKING:
    from bot.config import ArxivSettings

__all__ = [
    "FakeArxiv",
    "Reply",
    "Seen",
    "atom_entry",
    "atom_error",
    "atom_feed",
    "entries_from_feed",
    "rss_feed",
    "rss_item",
]

ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"

# What arXiv's API accepts in id_list: new-style or old-style ids, optionally versioned.
_API_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_ENTRY = re.compile(rb"<entry>.*?</entry>", re.DOTALL)
_ENTRY_ID = re.compile(rb"<id>\s*https?://arxiv\.org/abs/(\S+?)\s*</id>")
_VERSION = re.compile(r"v\d+$")


@dataclass
class Reply:
    """One scripted answer: status, body, headers, and how long to wait before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def retry_after(cls, seconds: float, status: int = 429) -> Reply:
        return cls(status, b"Rate exceeded.", {"Retry-After": f"{seconds:g}"})

    @classmethod
    def html_error(cls, status: int = 200) -> Reply:
        """What a broken proxy or maintenance page looks like: HTML where XML was expected."""
        body = b"<!DOCTYPE html><html><head><title>arXiv is down</title></head><body>Back soon</body></html>"
        return cls(status, body, content_type="text/html; charset=utf-8")


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it."""

    method: str
    path: str  # unquoted, without the query string
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    client_port: int

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


Handler = Callable[[Seen], "Reply | bytes"]


class FakeArxiv(ThreadedHttpFake):
    """The fake server; use as a context manager or call `start()`/`stop()`."""

    thread_name = "fake-arxiv"

    def __init__(self) -> None:
        self.rss: dict[str, bytes | Reply | Handler] = {}
        self.api_entries: dict[str, bytes] = {}
        self.html: dict[str, bytes] = {}
        self.pdf: dict[str, bytes] = {}
        self.abs: dict[str, bytes] = {}
        self.requests: list[Seen] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    @property
    def base_url(self) -> str:
        return self.origin

    def settings(self, **overrides: Any) -> ArxivSettings:
        """`ArxivSettings` pointing every arXiv URL here, with a tiny `min_interval_s`."""
        from bot.config import ArxivSettings

        base = self.base_url
        values: dict[str, Any] = {
            "rss_url": f"{base}/rss",
            "api_url": f"{base}/api/query",
            "html_url": f"{base}/html",
            "pdf_url": f"{base}/pdf",
            "abs_url": f"{base}/abs",
            "min_interval_s": 0.0,
            "timeout_s": 5.0,
            "retries": 2,
        }
        values.update(overrides)
        return ArxivSettings(**values)

    # -- configuration helpers -------------------------------------------------------------

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with `replies`, in order, before normal serving."""
        with self._lock:
            self._scripts[path].extend(replies)

    def add_api_feed(self, xml: bytes) -> None:
        """Serve every `<entry>` of a recorded API answer by id (versioned and versionless)."""
        self.api_entries.update(entries_from_feed(xml))

    def add_api_files(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.add_api_feed(path.read_bytes())

    def requests_to(self, prefix: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.startswith(prefix)]

    # -- serving ---------------------------------------------------------------------------

    def _record(self, seen: Seen) -> Reply | None:
        """Log the request; return its scripted reply if one is queued."""
        with self._lock:
            self.requests.append(seen)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            queue = self._scripts.get(seen.path)
            return queue.popleft() if queue else None

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _serve(self, seen: Seen) -> Reply:
        """The normal answer for a request, when nothing is scripted."""
        section, _, rest = seen.path.lstrip("/").partition("/")
        if section == "rss":
            return self._serve_rss(rest, seen)
        if seen.path == "/api/query":
            return self._serve_api(seen)
        stores = {"html": self.html, "pdf": self.pdf, "abs": self.abs}
        if section in stores and rest in stores[section]:
            kind = {"html": "text/html", "pdf": "application/pdf", "abs": "text/html"}[section]
            return Reply(200, stores[section][rest], content_type=kind)
        return Reply(404, b"Not Found")

    def _serve_rss(self, cats: str, seen: Seen) -> Reply:
        source = self.rss.get(cats)
        if source is None:
            return Reply(200, rss_feed(cats, []), content_type=RSS)
        return _as_reply(source(seen) if callable(source) else source, RSS)

    def _serve_api(self, seen: Seen) -> Reply:
        if seen.query.get("id_list"):
            return self._serve_id_list(seen.query["id_list"].split(","), seen)
        return Reply(200, atom_feed([]), content_type=ATOM)

    def _serve_id_list(self, ids: list[str], seen: Seen) -> Reply:
        for paper_id in ids:
            if not _API_ID.match(paper_id):
                return Reply(400, atom_error(f"incorrect id format for {paper_id}"), content_type=ATOM)
        start = int(seen.query.get("start", "0"))
        max_results = int(seen.query.get("max_results", "10"))
        found = [self._entry_for(paper_id) for paper_id in ids]
        entries = [entry for entry in found if entry is not None]
        return Reply(200, atom_feed(entries[start : start + max_results], total=len(entries)), content_type=ATOM)

    def _entry_for(self, paper_id: str) -> bytes | None:
        return self.api_entries.get(paper_id) or self.api_entries.get(_VERSION.sub("", paper_id))


def _as_reply(value: Reply | bytes, content_type: str) -> Reply:
    return value if isinstance(value, Reply) else Reply(200, value, content_type=content_type)


def _make_handler(fake: FakeArxiv) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so "one connection" is observable

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            seen = Seen(
                method="GET",
                path=unquote(parts.path),
                query=query,
                headers={key.lower(): value for key, value in self.headers.items()},
                at=time.monotonic(),
                client_port=self.client_address[1],
            )
            scripted = fake._record(seen)
            try:
                reply = scripted if scripted is not None else fake._serve(seen)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply)
            finally:
                fake._done()

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            headers = {"Content-Type": reply.content_type, **reply.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output clean; `fake.requests` is the log

    return _Handler


# -- building arXiv-shaped documents ---------------------------------------------------------


def entries_from_feed(xml: bytes) -> dict[str, bytes]:
    """Every `<entry>` of an API answer, keyed by its versioned id and its versionless id."""
    out: dict[str, bytes] = {}
    for match in _ENTRY.finditer(xml):
        entry = match.group(0)
        found = _ENTRY_ID.search(entry)
        if found is None:
            continue
        versioned = found.group(1).decode()
        out[versioned] = entry
        out.setdefault(_VERSION.sub("", versioned), entry)
    return out


def atom_entry(
    paper_id: str,
    title: str = "A paper",
    *,
    version: int = 1,
    authors: Iterable[str] = ("Ada Lovelace",),
    summary: str = "An abstract.",
    categories: Iterable[str] = ("cs.LG",),
    published: str = "2024-01-02T03:04:05Z",
    comment: str | None = None,
    journal_ref: str | None = None,
    doi: str | None = None,
) -> bytes:
    """One API `<entry>` in today's export.arxiv.org format."""
    cats = list(categories)
    lines = [
        "<entry>",
        f"<id>http://arxiv.org/abs/{paper_id}v{version}</id>",
        f"<title>{escape(title)}</title>",
        f"<updated>{published}</updated>",
        f'<link href="https://arxiv.org/abs/{paper_id}v{version}" rel="alternate" type="text/html"/>',
        f"<summary>{escape(summary)}</summary>",
        *(f'<category term="{cat}" scheme="http://arxiv.org/schemas/atom"/>' for cat in cats),
        f"<published>{published}</published>",
    ]
    if comment:
        lines.append(f"<arxiv:comment>{escape(comment)}</arxiv:comment>")
    if cats:
        lines.append(f'<arxiv:primary_category term="{cats[0]}"/>')
    if journal_ref:
        lines.append(f"<arxiv:journal_ref>{escape(journal_ref)}</arxiv:journal_ref>")
    lines.extend(f"<author><name>{escape(name)}</name></author>" for name in authors)
    if doi:
        lines.append(f"<arxiv:doi>{escape(doi)}</arxiv:doi>")
    lines.append("</entry>")
    return "\n".join(lines).encode()


def atom_feed(entries: Iterable[bytes], *, total: int | None = None) -> bytes:
    """An API answer holding `entries`, with opensearch counts."""
    body = list(entries)
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "<id>https://arxiv.org/api/fake</id><title>arXiv Query</title>"
        "<updated>2026-06-16T00:00:00Z</updated>\n"
        f"<opensearch:itemsPerPage>{len(body)}</opensearch:itemsPerPage>\n"
        f"<opensearch:totalResults>{len(body) if total is None else total}</opensearch:totalResults>\n"
        "<opensearch:startIndex>0</opensearch:startIndex>\n"
    )
    return head.encode() + b"\n".join(body) + b"\n</feed>\n"


def atom_error(message: str) -> bytes:
    """The feed arXiv's API sends with an HTTP 400 (see shared/data/api/recorded/id_abc_*.xml)."""
    slug = re.sub(r"\W+", "_", message)
    entry = (
        "<entry>"
        f"<id>https://arxiv.org/api/errors#{slug}</id><title>Error</title>"
        "<updated>2026-06-16T00:00:00Z</updated>"
        f"<summary>{escape(message)}</summary><author><name>arXiv api core</name></author>"
        "</entry>"
    ).encode()
    return atom_feed([entry])


def rss_item(
    paper_id: str,
    title: str = "A paper",
    *,
    version: int = 1,
    announce_type: str = "new",
    categories: Iterable[str] = ("cs.LG",),
    authors: str = "Ada Lovelace",
    abstract: str = "An abstract.",
    pub_date: str = "Tue, 16 Jun 2026 00:00:00 -0400",
) -> str:
    """One item in rss.arxiv.org's format."""
    cats = "".join(f"<category>{cat}</category>" for cat in categories)
    return (
        f"<item><title>{escape(title)}</title><link>https://arxiv.org/abs/{paper_id}</link>"
        f"<description>arXiv:{paper_id}v{version} Announce Type: {announce_type} \n"
        f"Abstract: {escape(abstract)}</description>"
        f'<guid isPermaLink="false">oai:arXiv.org:{paper_id}v{version}</guid>{cats}'
        f"<pubDate>{pub_date}</pubDate><arxiv:announce_type>{announce_type}</arxiv:announce_type>"
        "<dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>"
        f"<dc:creator>{escape(authors)}</dc:creator></item>"
    )


def rss_feed(cats: str, items: Iterable[str], *, pub_date: str = "Tue, 16 Jun 2026 00:00:00 -0400") -> bytes:
    """A whole feed for `cats`; with no items it is a valid empty (weekend) feed."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'version="2.0"><channel>'
        f"<title>{cats} updates on arXiv.org</title><link>http://rss.arxiv.org/rss/{cats}</link>"
        f"<description>{cats} updates on the arXiv.org e-print archive.</description>"
        f"<pubDate>{pub_date}</pubDate>"
        "<skipDays><day>Sunday</day><day>Saturday</day></skipDays>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()
