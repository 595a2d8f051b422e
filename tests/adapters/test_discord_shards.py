"""A bot process configured as one gateway shard identifies as that shard (discord.shard_id of
discord.shard_count), so several `paperboy run --role bot` processes split Discord between them."""

from __future__ import annotations

from adapters.discord import DiscordBot, configure_endpoints
from bot.config import DatabaseSettings, DiscordSettings, Settings
from tests.fakes.fake_discord import FakeDiscord


async def test_a_bot_process_identifies_as_its_shard(tmp_path, app):
    async with FakeDiscord() as fake:
        settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'shards.sqlite3'}"),
                            discord=DiscordSettings(token="t", api_url=fake.api_url, gateway_url=fake.gateway_url,
                                                    shard_id=1, shard_count=2))
        bot = DiscordBot(app, settings)
        try:
            await bot.start()
            await fake.wait_for(lambda: fake.identifies)
        finally:
            await bot.stop()
            configure_endpoints(DiscordSettings())
    assert fake.identifies[0]["shard"] == [1, 2]
