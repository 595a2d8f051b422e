"""One chat's updates are handled in the order they came; different chats still run in parallel."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from typing import Any

from telegram import Chat, Message as TgMessage, Update, User

from adapters.discord.interactions import InteractionHandler
from adapters.ordering import ChatTurns
from adapters.telegram.app import ChatOrderedProcessor
from digest.message import text


async def test_turns_keep_one_chats_order_and_let_other_chats_pass():
    turns = ChatTurns()
    done: list[str] = []

    async def work(key: str, name: str, delay: float) -> None:
        async with turns.take(key) as turn:
            await turn.wait()
            await asyncio.sleep(delay)
            done.append(name)

    await asyncio.gather(work("a", "a1", 0.05), work("a", "a2", 0.0), work("b", "b1", 0.0), work("a", "a3", 0.0))
    assert done == ["b1", "a1", "a2", "a3"]
    assert len(turns) == 0  # nothing is kept once a chat's line is empty


async def test_a_failed_update_does_not_block_the_next_one_of_its_chat():
    turns = ChatTurns()
    done: list[str] = []

    async def fails() -> None:
        async with turns.take("a") as turn:
            await turn.wait()
            raise RuntimeError("boom")

    async def works() -> None:
        async with turns.take("a") as turn:
            await turn.wait()
            done.append("second")

    results = await asyncio.gather(fails(), works(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and done == ["second"]


def _update(update_id: int, chat_id: int, text_in: str) -> Update:
    chat = Chat(id=chat_id, type=Chat.PRIVATE)
    user = User(id=chat_id, first_name="R", is_bot=False)
    message = TgMessage(message_id=update_id, date=dt.datetime.now(dt.timezone.utc), chat=chat, from_user=user, text=text_in)
    return Update(update_id=update_id, message=message)


async def test_telegram_processes_one_chats_updates_in_order_and_chats_in_parallel():
    processor = ChatOrderedProcessor(32)
    done: list[str] = []

    async def handle(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done.append(name)

    # What PTB does: one task per update, started in the order the updates arrived.
    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 42, "/subscribe cs.CL"), handle("42:/subscribe", 0.05))),
        asyncio.create_task(processor.process_update(_update(2, 42, "/digest"), handle("42:/digest", 0.0))),
        asyncio.create_task(processor.process_update(_update(3, 7, "/help"), handle("7:/help", 0.0))),
    ]
    await asyncio.gather(*tasks)
    assert done == ["7:/help", "42:/subscribe", "42:/digest"]


class _Response:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.deferred = False

    async def defer(self, **kwargs: Any) -> None:
        self.deferred = True
        self.log.append("defer")

    def is_done(self) -> bool:
        return self.deferred


class _Followup:
    def __init__(self, log: list[str], channel: int) -> None:
        self.log, self.channel = log, channel

    async def send(self, **kwargs: Any) -> None:
        self.log.append(f"{self.channel}:{kwargs.get('content') or kwargs['embeds'][0].description}")


def _interaction(log: list[str], channel: int) -> Any:
    return SimpleNamespace(
        channel_id=channel, guild_id=None, user=SimpleNamespace(id=1, display_name="R"),
        permissions=SimpleNamespace(manage_channels=True), response=_Response(log),
        followup=_Followup(log, channel), data={}, id=1,
    )


async def test_discord_runs_one_channels_interactions_in_order_and_acknowledges_each_at_once():
    log: list[str] = []

    class Core:
        async def handle_text(self, ctx, text_in, *, reply=None):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.05 if text_in.startswith("/subscribe") else 0.0)
            return [text(f"answer to {text_in}")]

        async def handle_action(self, ctx, action, *, message_id=None):  # type: ignore[no-untyped-def]
            raise AssertionError("no buttons here")

    handler = InteractionHandler(Core())  # type: ignore[arg-type]
    await asyncio.gather(
        handler.run_command(_interaction(log, 5), "/subscribe cs.CL"),
        handler.run_command(_interaction(log, 5), "/digest"),
        handler.run_command(_interaction(log, 6), "/help"),
    )
    answers = [line for line in log if line != "defer"]
    assert log[:3] == ["defer", "defer", "defer"]  # nobody waits for its turn to acknowledge
    assert [a for a in answers if a.startswith("5:")] == ["5:answer to /subscribe cs.CL", "5:answer to /digest"]
    assert answers[0] == "6:answer to /help"
