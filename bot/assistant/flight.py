"""One generation that many chats follow: single flight with a shared, growing preview.

When 50 people press FAQ on the same paper, one task generates and all 50 streams show the same
text as it is written. A `Flight` holds the latest preview — a status line such as "2nd in line"
until answer text arrives, and it says which of the two it is — and the final result;
`follow()` forwards each new preview to one chat's callbacks, coalescing what it missed while
that chat was slow, and returns the result (or raises the generation's error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Flight"]

T = TypeVar("T")
Show = Callable[[str], Awaitable[None]]


class Flight(Generic[T]):
    """A result being produced, with a preview that followers see as it changes."""

    def __init__(self) -> None:
        self.preview = ""
        self.is_status = False
        self.version = 0
        self.result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()  # replaced after every change; followers wait on the current one

    def publish(self, preview: str, *, status: bool = False) -> None:
        """Show `preview` to every follower (latest wins; followers may skip intermediate ones).

        `status`: a status line ("Reading the paper…"), not answer text; adapters short of edits
        spend them on answer text first.
        """
        if (preview == self.preview and status == self.is_status) or self.result.done():
            return
        self.preview, self.is_status = preview, status
        self.version += 1
        self._wake()

    def settle(self, value: T) -> None:
        """End the flight with its value; wakes every follower."""
        if self.result.done():
            return
        self.result.set_result(value)
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the flight with an error, which every follower raises; wakes them."""
        if self.result.done():
            return
        self.result.set_exception(error)
        self.result.exception()  # retrieved: followers re-raise it themselves
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, update: Show, status: Show | None = None) -> T:
        """Forward previews to `update` (answer text) and `status` (status lines) until the result is in."""
        seen = 0
        while not self.result.done():
            if self.version == seen:
                await self._changed.wait()
                continue
            seen = self.version
            if self.preview:
                show = status if self.is_status and status is not None else update
                try:
                    await show(self.preview)
                except Exception:  # a preview that fails to show is not worth losing the answer for
                    pass
        return self.result.result()
