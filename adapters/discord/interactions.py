"""Discord interactions -> paperboy: slash commands, button presses, the Ask modal, one error sink.

Discord wants every interaction acknowledged within 3 seconds, and paperboy's work (a digest, an
LLM answer) can take longer, so each handler acknowledges first (`defer`) and answers with
follow-ups. Follow-ups are webhook messages of the application: they work in DMs and need no
channel permission. A button press becomes `Paperboy.handle_action`, whose `ActionReply` maps to:
`edit` -> edit the message that carried the button, `notice` -> an ephemeral note, `replies` ->
new messages. "ask:<id>" opens a modal for the question instead, and the question is then run as
`/ask <id> <question>`. Every failure goes to `apologize`: log with the traceback, then a short
note to the user.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import discord

from adapters.discord.render import render
from adapters.ordering import ChatTurns, Turn
from bot.app import ActionReply
from bot.ports import ChatContext, ChatKind
from digest.message import Message

__all__ = ["APOLOGY", "AskModal", "InteractionHandler", "PaperboyCore", "context_of"]

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
MODAL_TITLE_LIMIT = 45


class PaperboyCore(Protocol):
    """The part of `bot.app.Paperboy` this adapter calls."""

    async def handle_text(self, ctx: ChatContext, text: str, *, reply: Any = None) -> list[Message]: ...

    async def handle_action(self, ctx: ChatContext, action: str, *, message_id: str | None = None) -> ActionReply: ...


def context_of(interaction: discord.Interaction[Any]) -> ChatContext:
    """Who acts where: the channel (or DM) is the chat; Manage Channels there lets one manage it."""
    in_guild = interaction.guild_id is not None
    user = interaction.user
    return ChatContext(
        chat_id=f"dc:{interaction.channel_id}",
        kind=ChatKind.GROUP if in_guild else ChatKind.PRIVATE,
        user_id=f"dc:{user.id}" if user else None,
        can_manage=(not in_guild) or interaction.permissions.manage_channels,
        user_name=user.display_name if user else None,
    )


class InteractionHandler:
    """Runs interactions against paperboy and answers them within Discord's deadlines."""

    def __init__(self, paperboy: PaperboyCore) -> None:
        self.paperboy = paperboy
        self.turns = ChatTurns()  # one channel's interactions run in the order they arrived

    async def run_command(self, interaction: discord.Interaction[Any], text: str) -> None:
        """A slash command, forwarded as the text command it stands for ("/time 08:30 Europe/Berlin")."""
        async with self.turns.take(interaction.channel_id) as turn:
            await interaction.response.defer(thinking=True)  # within Discord's 3 s, whatever waits before us
            await turn.wait()
            await self._run_command(interaction, text)

    async def _run_command(self, interaction: discord.Interaction[Any], text: str) -> None:
        sent = 0
        try:
            messages = await self.paperboy.handle_text(context_of(interaction), text)
            if not messages:  # the answer went elsewhere (the outbox, a stream): drop "thinking…"
                await interaction.delete_original_response()
            for message in messages:
                sent += await self._send(interaction, message)
        except Exception as exc:
            if sent:
                await self.apologize(interaction, exc)
                return
            _log_failure(interaction, exc)  # the apology takes the place of "thinking…"
            await interaction.edit_original_response(content=APOLOGY, embeds=[], view=None)

    async def run_button(self, interaction: discord.Interaction[Any], action: str) -> None:
        """A press on a paperboy button, in its channel's turn; errors end in `apologize`."""
        async with self.turns.take(interaction.channel_id) as turn:
            await self._run_button(interaction, action, turn)

    async def _run_button(self, interaction: discord.Interaction[Any], action: str, turn: Turn) -> None:
        try:
            verb, _, args = action.partition(":")
            if verb == "ask" and args:
                await interaction.response.send_modal(AskModal(self, args))
                return
            await interaction.response.defer()  # an invisible acknowledgement; the answer follows
            await turn.wait()
            message_id = str(interaction.message.id) if interaction.message else None
            reply = await self.paperboy.handle_action(context_of(interaction), action, message_id=message_id)
            await self.apply(interaction, reply)
        except Exception as exc:  # the one place a press can fail; discord.py would only log it
            await self.apologize(interaction, exc)

    async def run_ask(self, interaction: discord.Interaction[Any], paper_id: str, question: str) -> None:
        """The Ask modal was submitted: show the question in the chat, then let paperboy answer it."""
        asked = discord.utils.escape_markdown(question)
        await interaction.response.send_message(f"**Question about {paper_id}:** {asked}")
        messages = await self.paperboy.handle_text(context_of(interaction), f"/ask {paper_id} {question}")
        if messages:
            await self.send_followups(interaction, messages)

    async def apply(self, interaction: discord.Interaction[Any], reply: ActionReply) -> None:
        """Carry out an `ActionReply` after a deferred button press."""
        if reply.edit is not None:
            first, *more = render(reply.edit)
            await interaction.edit_original_response(**first.edit_kwargs())
            for payload in more:
                await interaction.followup.send(**payload.send_kwargs())
        if reply.notice:
            await interaction.followup.send(reply.notice, ephemeral=True)
        if reply.replies:
            await self.send_followups(interaction, reply.replies)

    async def send_followups(self, interaction: discord.Interaction[Any], messages: list[Message]) -> None:
        """Each message as one or more follow-up messages (the first fills a deferred response)."""
        for message in messages:
            await self._send(interaction, message)

    async def _send(self, interaction: discord.Interaction[Any], message: Message) -> int:
        payloads = render(message)
        for payload in payloads:
            await interaction.followup.send(**payload.send_kwargs(), wait=True)
        return len(payloads)

    async def apologize(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        """The error sink: log with the traceback, then tell the user briefly (never the details)."""
        _log_failure(interaction, error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(APOLOGY, ephemeral=True)
            else:
                await interaction.response.send_message(APOLOGY, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not send the apology for interaction %s", interaction.id, exc_info=True)


class AskModal(discord.ui.Modal):
    """"Ask" on a paper card: one text box for the question about that paper."""

    question: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
        label="Your question", style=discord.TextStyle.paragraph, max_length=1000,
        placeholder="e.g. What is new compared with earlier work?",
    )

    def __init__(self, handler: InteractionHandler, paper_id: str) -> None:
        title = f"Ask about {paper_id}"
        super().__init__(title=title[:MODAL_TITLE_LIMIT], timeout=900)
        self.handler = handler
        self.paper_id = paper_id

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.handler.run_ask(interaction, self.paper_id, self.question.value.strip())

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:
        await self.handler.apologize(interaction, error)


def _log_failure(interaction: discord.Interaction[Any], error: BaseException) -> None:
    original = getattr(error, "original", error)  # app_commands wraps the callback's exception
    log.error("Discord interaction %s failed", _describe(interaction), exc_info=original)


def _describe(interaction: discord.Interaction[Any]) -> str:
    data = interaction.data or {}
    what = data.get("name") or data.get("custom_id") or interaction.type.name
    return f"{what!r} in channel {interaction.channel_id}"
