"""One chat's updates handled one after another, in the order they arrived; other chats in parallel.

`/subscribe cs.CL` followed quickly by `/digest` must be answered in that order even though the
platforms hand paperboy many updates at once. `ChatTurns` gives each update a turn per chat key
the moment it arrives (synchronously, before any await), and the update waits for the turns
before it. Telegram's update processor and Discord's interaction handler both use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType

__all__ = ["ChatTurns", "Turn"]


class Turn:
    """One update's place in its chat's line: `async with turn:` ... `await turn.wait()` ... ."""

    def __init__(self, turns: ChatTurns, key: Hashable, previous: asyncio.Future[None] | None,
                 mine: asyncio.Future[None]) -> None:
        self._turns, self._key, self._previous, self._mine = turns, key, previous, mine

    async def wait(self) -> None:
        """Wait until every earlier update of the same chat is done (failed or cancelled counts)."""
        if self._previous is not None:
            await asyncio.shield(self._previous)

    async def __aenter__(self) -> Turn:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self._previous or self._previous.done():
            self._done()
        else:  # we gave up early (cancelled): the next one still waits for the earlier ones
            self._previous.add_done_callback(lambda _: self._done())

    def _done(self) -> None:
        if not self._mine.done():
            self._mine.set_result(None)
        self._turns._release(self._key, self._mine)


class ChatTurns:
    """Hands out turns per chat key; keys with nobody waiting are forgotten."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def take(self, key: Hashable) -> Turn:
        """A turn after every update of `key` that arrived before; call it before any await."""
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        previous = self._tails.get(key)
        self._tails[key] = mine
        return Turn(self, key, previous, mine)

    def _release(self, key: Hashable, future: asyncio.Future[None]) -> None:
        if self._tails.get(key) is future:
            del self._tails[key]

    def __len__(self) -> int:
        return len(self._tails)
