"""A fake arXiv OAI-PMH interface: a real HTTP server on 127.0.0.1 that pages ListRecords like arXiv.

It holds `OaiRecord`s and answers `verb=ListRecords` with `metadataPrefix=arXiv` or `arXivRaw`,
`set` (archive sets: `cs`, `math`, `physics:hep-th`), `from`/`until` on the record datestamp, and
`resumptionToken` paging (`page_size` records a page, `completeListSize` and `cursor` on the
token, an empty token on the last page). `noRecordsMatch` and `badResumptionToken` come back as
OAI errors in a 200 answer, as arXiv sends them. Faults are scripted per request number:
`fail(3, 503, retry_after=1)` makes the third request a 503 with Retry-After. Every request is
recorded (`requests`: the query and the monotonic time) so tests can check pacing and resumption.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.fakes.servers import ThreadedHttpFake

__all__ = ["FakeOai", "OaiRecord"]


@dataclass
class OaiRecord:
    id: str
    title: str
    abstract: str
    authors: list[tuple[str, str]]  # (forenames, keyname)
    categories: str  # space-separated, primary first
    created: dt.date
    datestamp: dt.date
    versions: int = 1
    doi: str | None = None
    deleted: bool = False

    @property
    def archive_set(self) -> str:
        archive = self.categories.split()[0].split(".")[0]
        physics = {"hep-th", "hep-ph", "hep-ex", "hep-lat", "gr-qc", "quant-ph", "astro-ph", "cond-mat",
                   "math-ph", "nlin", "nucl-ex", "nucl-th", "physics"}
        return f"physics:{archive}" if archive in physics else archive

    def metadata(self, prefix: str) -> str:
        if prefix == "arXiv":
            authors = "".join(f"<author><keyname>{escape(k)}</keyname><forenames>{escape(f)}</forenames></author>"
                              for f, k in self.authors)
            doi = f"<doi>{escape(self.doi)}</doi>" if self.doi else ""
            return (f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{self.id}</id>'
                    f"<created>{self.created.isoformat()}</created><authors>{authors}</authors>"
                    f"<title>{escape(self.title)}</title><categories>{self.categories}</categories>{doi}"
                    f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
                    f"<abstract>  {escape(self.abstract)}\n</abstract></arXiv>")
        versions = "".join(
            f'<version version="v{i + 1}"><date>'
            f"{(dt.datetime.combine(self.created, dt.time(12)) + dt.timedelta(days=30 * i)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
            f"</date><size>10kb</size></version>" for i in range(self.versions))
        names = ", ".join(f"{f} {k}" for f, k in self.authors)
        return (f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{self.id}</id><submitter>x</submitter>'
                f"{versions}<title>{escape(self.title)}</title><authors>{escape(names)}</authors>"
                f"<categories>{self.categories}</categories><abstract>{escape(self.abstract)}</abstract></arXivRaw>")

    def xml(self, prefix: str) -> str:
        header = (f"<identifier>oai:arXiv.org:{self.id}</identifier><datestamp>{self.datestamp}</datestamp>"
                  f"<setSpec>{self.archive_set}</setSpec>")
        if self.deleted:
            return f'<record><header status="deleted">{header}</header></record>'
        return f"<record><header>{header}</header><metadata>{self.metadata(prefix)}</metadata></record>"


@dataclass
class Seen:
    query: dict[str, str]
    at: float


@dataclass
class FakeOai(ThreadedHttpFake):
    records: list[OaiRecord] = field(default_factory=list)
    page_size: int = 3
    requests: list[Seen] = field(default_factory=list)
    faults: dict[int, tuple[int, float | None]] = field(default_factory=dict)
    forget_tokens: bool = False

    def fail(self, request_number: int, status: int = 503, retry_after: float | None = None) -> None:
        """Make the n-th request (1-based, counted from now on too) answer `status`."""
        self.faults[request_number] = (status, retry_after)

    # --- serving ---------------------------------------------------------------------------------

    def answer(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(Seen(query, time.monotonic()))
        fault = self.faults.pop(len(self.requests), None)
        if fault is not None:
            status, retry_after = fault
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return status, headers, b"Retry later"
        if query.get("verb") != "ListRecords":
            return 200, {}, self._error("badVerb", "only ListRecords here")
        if "resumptionToken" in query:
            if self.forget_tokens:
                return 200, {}, self._error("badResumptionToken", "expired")
            prefix, oai_set, start, cursor = query["resumptionToken"].split("|")
        else:
            prefix, oai_set, start, cursor = (query.get("metadataPrefix", ""), query.get("set", ""),
                                              query.get("from", ""), "0")
        if prefix not in ("arXiv", "arXivRaw"):
            return 200, {}, self._error("cannotDisseminateFormat", prefix)
        matching = [r for r in sorted(self.records, key=lambda r: r.id)
                    if (not oai_set or r.archive_set == oai_set)
                    and (not start or r.datestamp >= dt.date.fromisoformat(start))]
        if not matching:
            return 200, {}, self._error("noRecordsMatch", "")
        at = int(cursor)
        page = matching[at : at + self.page_size]
        rest = at + self.page_size < len(matching)
        token_text = f"{prefix}|{oai_set}|{start}|{at + self.page_size}" if rest else ""
        token = f'<resumptionToken cursor="{at}" completeListSize="{len(matching)}">{token_text}</resumptionToken>'
        body = "".join(r.xml(prefix) for r in page)
        return 200, {}, self._envelope(f"<ListRecords>{body}{token}</ListRecords>")

    @staticmethod
    def _envelope(inner: str) -> bytes:
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                "<responseDate>2026-12-01T00:00:00Z</responseDate>"
                f'<request verb="ListRecords">http://fake/oai</request>{inner}</OAI-PMH>').encode()

    def _error(self, code: str, message: str) -> bytes:
        return self._envelope(f'<error code="{code}">{escape(message)}</error>')

    # --- server ----------------------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, headers, body = fake.answer(query)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    @property
    def url(self) -> str:
        """The OAI-PMH endpoint of the running server."""
        return f"{self.origin}/oai"
