"""Discord adapter: slash commands, persistent buttons and embeds for paperboy (discord.py 2.x)."""

from adapters.discord.app import (
    DiscordBot,
    PaperboyClient,
    build_discord,
    configure_endpoints,
    run_discord,
    start_discord,
)
from adapters.discord.render import DiscordPayload, render
from adapters.discord.sender import DiscordSender

__all__ = [
    "DiscordBot",
    "DiscordPayload",
    "DiscordSender",
    "PaperboyClient",
    "build_discord",
    "configure_endpoints",
    "render",
    "run_discord",
    "start_discord",
]
