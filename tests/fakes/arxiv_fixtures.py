"""pytest fixtures for the fake arXiv; enable with `pytest_plugins = ["tests.fakes.arxiv_fixtures"]`.

- `fake_arxiv`: a started `FakeArxiv` (fresh per test, stopped afterwards).
- `arxiv_settings`: `ArxivSettings` pointing at it, `min_interval_s=0`, 2 retries.
- `arxiv_http`: an `ArxivHttp` built from those settings whose backoff sleeps are skipped
  (spacing still uses real time), closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from digest.arxiv_http import ArxivHttp
from tests.fakes.fake_arxiv import FakeArxiv


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    with FakeArxiv() as fake:
        yield fake


@pytest.fixture
def arxiv_settings(fake_arxiv: FakeArxiv):
    return fake_arxiv.settings()


@pytest.fixture
async def arxiv_http(arxiv_settings) -> AsyncIterator[ArxivHttp]:
    async with ArxivHttp.from_settings(arxiv_settings, backoff_s=0.0, retry_after_cap_s=0.05) as http:
        yield http
