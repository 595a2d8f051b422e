"""Who is talking, and where: a Telegram update -> the bot's `ChatContext` (and `Reply`).

The one judgement made here is `can_manage`: always in private chats and for channel posts (only
a channel's admins can post), and in groups only for administrators. Admin status comes from
`getChatMember`, cached for a minute per (chat, user) so a busy group costs one call a minute,
and dropped when a `chat_member` update says someone's status changed. A group's anonymous admin
writes "as the group" (`sender_chat` is the group itself), which counts as an admin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot, Chat, ChatMember, Message, User
from telegram.error import TelegramError

from adapters.telegram.sender import chat_ref
from bot.ports import ChatContext, ChatKind, Reply

__all__ = ["AdminCache", "chat_kind", "reply_of"]

log = logging.getLogger(__name__)

_ADMIN_STATUSES = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}


def chat_kind(chat: Chat) -> ChatKind:
    """Private chat, group (groups and supergroups) or channel."""
    if chat.type == Chat.PRIVATE:
        return ChatKind.PRIVATE
    if chat.type == Chat.CHANNEL:
        return ChatKind.CHANNEL
    return ChatKind.GROUP


class AdminCache:
    """Is this user an admin of this chat? Asked of Telegram at most once per `ttl_s`."""

    def __init__(self, bot: Bot, *, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        now = self._clock()
        known = self._known.get(key)
        if known is not None and known[1] > now:
            return known[0]
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("could not check admin status in chat %s: %s", chat_id, exc)
            return False
        admin = member.status in _ADMIN_STATUSES
        self._known[key] = (admin, now + self.ttl_s)
        if len(self._known) > 50_000:
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
        return admin

    def forget(self, chat_id: int, user_id: int) -> None:
        """Someone's status changed (a chat_member update): ask again next time."""
        self._known.pop((chat_id, user_id), None)

    async def context(self, chat: Chat, user: User | None, message: Message | None = None) -> ChatContext:
        """The ChatContext for `user` acting in `chat` (a message they wrote, or a button they pressed)."""
        kind = chat_kind(chat)
        name = user.full_name if user else (chat.title or None)
        user_id = str(user.id) if user else None
        if kind is ChatKind.PRIVATE:
            can_manage = True
        elif message is not None and message.sender_chat is not None:
            # Posted "as the chat": a channel post, or a group's anonymous admin. A linked channel's
            # automatic forward into its discussion group is neither.
            can_manage = message.sender_chat.id == chat.id and not message.is_automatic_forward
            user_id = None
        elif user is None:
            can_manage = False
        else:
            can_manage = await self.is_admin(chat.id, user.id)
        return ChatContext(chat_id=chat_ref(chat.id), kind=kind, user_id=user_id, can_manage=can_manage, user_name=name)


def reply_of(message: Message, bot_id: int) -> Reply | None:
    """The bot's message this one replies to, with the button payloads it carried."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None
    actions: list[str] = []
    if replied.reply_markup is not None:
        for row in replied.reply_markup.inline_keyboard:
            actions.extend(b.callback_data for b in row if isinstance(b.callback_data, str))
    return Reply(message_id=str(replied.message_id), actions=tuple(actions), text=replied.text or "")
