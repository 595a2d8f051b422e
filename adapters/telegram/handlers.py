"""PTB handlers: each turns one kind of Telegram update into a call on the chat-agnostic core.

- commands (every name in `bot.command_specs.COMMANDS`, in messages and channel posts; unknown
  commands only in private chats, since in groups they may be meant for another bot);
- text: pasted arXiv links or ids, or a reply to one of the bot's messages (a question about
  that paper). In groups only when the bot is addressed (mention, reply) or the message is
  nothing but links, so the bot never chatters;
- button presses: answered at once (answerCallbackQuery with the core's notice), then the edit and
  any new messages. The context comes from the chat the button is in, so a button forwarded or
  pressed elsewhere acts on that chat only; the core checks payloads (forged data acts on nothing);
- membership: bot added to a group -> greeting; kicked or blocked -> `chat_unreachable`;
  a group's migration to a supergroup -> `chat_moved`; admin changes drop the admin cache;
- one error handler: logs with exc_info, then a short neutral apology.

With BotFather's privacy mode on (the default), Telegram shows a bot only commands, mentions and
replies in groups; a message of nothing but links reaches it only when privacy mode is off.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque

from telegram import Chat, ChatMember, ChatMemberUpdated, Message, MessageEntity, Update
from telegram.constants import CallbackQueryLimit
from telegram.ext import ApplicationHandlerStop, ContextTypes

from adapters.telegram.context import AdminCache, chat_kind, reply_of
from adapters.telegram.sender import TelegramSender, chat_ref
from bot.app import APOLOGY, Paperboy
from bot.ports import ChatContext, ChatKind, ChatMoved, ChatUnreachable, SendError, SentRef
from bot.updates import first_delivery
from digest.ids import find_ids
from digest.message import Message as OutMessage
from digest.message import text as text_message

__all__ = ["TelegramHandlers"]

log = logging.getLogger(__name__)

ANSWER_WITHIN_S = 2.0  # Telegram shows a spinner on the button until the query is answered
_GONE = {ChatMember.BANNED, ChatMember.LEFT}
_PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


class TelegramHandlers:
    """The update callbacks, sharing the core, the sender and the admin cache."""

    def __init__(self, paperboy: Paperboy, sender: TelegramSender, admins: AdminCache, *,
                 webhook: bool = False) -> None:
        self.paperboy = paperboy
        self.sender = sender
        self.admins = admins
        self.webhook = webhook  # several bot processes may share a webhook: duplicates are checked in the database
        self._seen_updates: deque[int] = deque(maxlen=2048)

    @property
    def bot_username(self) -> str:
        return (self.sender.bot.username or "").lower()

    # --- plumbing -------------------------------------------------------------------------------

    async def drop_duplicates(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Webhooks redeliver an update that was not acknowledged; handle each update_id once.

        With a webhook, several bot processes may share the load, so the database decides too.
        """
        if isinstance(update, Update):
            if update.update_id in self._seen_updates:
                raise ApplicationHandlerStop
            self._seen_updates.append(update.update_id)
            if self.webhook and not await asyncio.to_thread(
                    first_delivery, self.paperboy.sessions, f"tg:{update.update_id}", self.paperboy.clock()):
                raise ApplicationHandlerStop

    async def deliver(self, ctx: ChatContext, messages: list[OutMessage], *, reply_to: int | None = None) -> None:
        """Send the core's replies; the first one answers the user's message in groups."""
        for i, message in enumerate(messages):
            target = str(reply_to) if reply_to and i == 0 and ctx.kind is ChatKind.GROUP else None
            try:
                await self.sender.send(ctx.chat_id, message, reply_to=target)
            except ChatUnreachable as exc:
                await self.paperboy.chat_unreachable(ctx.chat_id, str(exc))
                return
            except ChatMoved as exc:
                await self.paperboy.chat_moved(ctx.chat_id, exc.new_chat_id)
                return

    # --- messages -------------------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A known command, in a private chat, a group or a channel post."""
        message = update.effective_message
        if message is None or not message.text or update.effective_chat is None:
            return
        ctx = await self.admins.context(update.effective_chat, message.from_user, message)
        replies = await self.paperboy.handle_text(ctx, message.text, reply=reply_of(message, self.sender.bot.id))
        await self.deliver(ctx, replies, reply_to=message.message_id)

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An unknown command in a private chat: the core answers with a pointer to /help."""
        await self.on_command(update, context)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Links, ids or a reply to the bot; in groups only when addressed or when it is only links."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or not message.text or chat is None or chat.type == Chat.CHANNEL:
            return
        reply = reply_of(message, self.sender.bot.id)
        text = message.text
        if chat.type != Chat.PRIVATE:
            mentioned = self._mentions_bot(message)
            if not (mentioned or reply is not None or _only_links(text)):
                return
            text = re.sub(rf"@{re.escape(self.bot_username)}\b", "", text, flags=re.IGNORECASE).strip()
            if not text:
                return
        ctx = await self.admins.context(chat, message.from_user, message)
        replies = await self.paperboy.handle_text(ctx, text, reply=reply)
        await self.deliver(ctx, replies, reply_to=message.message_id)

    def _mentions_bot(self, message: Message) -> bool:
        try:
            entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        except UnicodeError:  # a lone surrogate: PTB cannot cut UTF-16 offsets; look for the name itself
            return bool(re.search(rf"@{re.escape(self.bot_username)}\b", message.text or "", re.IGNORECASE))
        for entity, value in entities.items():
            if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == self.sender.bot.id:
                return True
            if value.lstrip("@").lower() == self.bot_username:
                return True
        return False

    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The group became a supergroup: its subscription moves to the new id."""
        message = update.effective_message
        if message is not None and message.migrate_to_chat_id:
            await self.paperboy.chat_moved(chat_ref(message.chat.id), chat_ref(message.migrate_to_chat_id))

    # --- buttons --------------------------------------------------------------------------------

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: answer the query first, then apply the core's edit and replies."""
        query = update.callback_query
        if query is None:
            return
        message = query.message
        if message is None or not isinstance(query.data, str) or not query.data:
            await query.answer()
            return
        ctx = await self.admins.context(message.chat, query.from_user)
        work = asyncio.ensure_future(self.paperboy.handle_action(ctx, query.data, message_id=str(message.message_id)))
        try:
            reply = await asyncio.wait_for(asyncio.shield(work), ANSWER_WITHIN_S)
        except TimeoutError:
            await query.answer()  # stop the spinner; the result follows as messages
            reply = await work
        else:
            notice = (reply.notice or "")[:CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH] or None
            await query.answer(notice, show_alert=bool(reply.alert and notice))
        if reply.edit is not None:
            try:
                await self.sender.edit(SentRef(ctx.chat_id, str(message.message_id)), reply.edit)
            except SendError as exc:
                log.warning("could not update the message under a button in %s: %s", ctx.chat_id, exc)
        await self.deliver(ctx, list(reply.replies))

    # --- membership -----------------------------------------------------------------------------

    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was added, removed or blocked."""
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        old, new = change.old_chat_member.status, change.new_chat_member.status
        chat = change.chat
        if new in _GONE and old not in _GONE:
            reason = "blocked by the user" if chat.type == Chat.PRIVATE else "removed from the chat"
            log.info("chat %s: bot %s", chat.id, reason)
            await self.paperboy.chat_unreachable(chat_ref(chat.id), reason)
        elif new in _PRESENT and old in _GONE and chat_kind(chat) is ChatKind.GROUP:
            ctx = await self.admins.context(chat, change.from_user)
            await self.deliver(ctx, await self.paperboy.handle_text(ctx, "/start"))

    async def on_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone else's status changed (promoted, demoted, left): forget their cached admin status."""
        change = update.chat_member
        if change is not None:
            self.admins.forget(change.chat.id, change.new_chat_member.user.id)

    # --- errors ---------------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error sink: log with the traceback, then a short neutral apology."""
        log.error("error while handling a Telegram update", exc_info=context.error)
        if not isinstance(update, Update):
            return
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(APOLOGY[:CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH])
            elif update.effective_chat is not None:
                await self.sender.send(chat_ref(update.effective_chat.id), text_message(APOLOGY))
        except Exception:  # the apology is best effort; the log line above is what matters
            log.debug("could not send the apology", exc_info=True)


def _only_links(text: str) -> bool:
    """True when every word of the message is an arXiv link or id (a paste meant for the bot)."""
    words = text.split()
    return bool(words) and all(find_ids(word) for word in words)
