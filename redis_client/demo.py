"""``redis-client demo``: the README quickstart end to end, on the configured or an embedded Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .cli_common import wait_for_server
from .core import capabilities, keys, readiness
from .core.connector import Connector
from .core.drivers import SyncDriver
from .core.settings import RedisSettings, load_settings

DEMO_USER = "demo-alice"
DEMO_KEY = "demo:user:1001"


@contextmanager
def demo_server(say: Callable[[str], None]) -> Iterator[RedisSettings]:
    """The configured Redis; else localhost:6379 if it answers with the modules; else embedded."""
    settings = load_settings()
    if settings.is_configured():
        say(f"using Redis at {settings.describe()}")
        wait_for_server(settings, say)
        yield settings
        return
    if readiness.is_ready(settings, 0.5):
        connector = Connector(settings)
        caps = SyncDriver(connector).run(capabilities.probe(connector.database))
        if caps.models:
            say(f"using Redis at {settings.describe()}")
            yield settings
            return
        say(f"the Redis at {settings.describe()} {caps.problem()}: starting an embedded one")
    else:
        say("no Redis configured and none on localhost:6379: starting an embedded one")
    from .embedded import EmbeddedRedis

    with EmbeddedRedis() as server:
        say(f"embedded Redis with search+JSON on {server.url}")
        yield load_settings(url=server.url)
    say("embedded Redis stopped")


def run(settings: RedisSettings, say: Callable[[str], None]) -> None:
    """The quickstart: a JSON value, a post in both layouts, a model query. Cleans up after."""
    from redis_client import models
    from redis_client.models import Post

    from .db import RedisDB

    db = RedisDB(settings)
    models.bind(db)
    try:
        db.set(DEMO_KEY, {"name": "Alice", "active": True})
        say(f"db.set({DEMO_KEY!r}, ...) -> db.get returns {db.get(DEMO_KEY)!r}")

        post = Post(
            id=f"demo-{time.time_ns()}",
            text="Hello world!",
            sender_username=DEMO_USER,
            timestamp=int(time.time()),
        )
        db.add_user_post(DEMO_USER, post)
        say(f"db.add_user_post({DEMO_USER!r}, Post(id={post.id!r}, text='Hello world!', ...))")
        recent = db.get_user_posts(DEMO_USER)
        say(f"db.get_user_posts -> {len(recent)} post(s): {[p.text for p in recent]}")
        raw = db.r.zrange(keys.posted_tweets(DEMO_USER), 0, 0)[0].decode()
        say(f"legacy member in {keys.posted_tweets(DEMO_USER)}: {raw}")

        found = Post.find(Post.sender_username == DEMO_USER).sort_by("-timestamp").all()
        say(
            f"Post.find(Post.sender_username == {DEMO_USER!r}).sort_by('-timestamp') -> "
            f"{[(p.id, p.text, p.accounts) for p in found]}"
        )
        words = Post.find(Post.text % "hello").count()
        say(f"Post.find(Post.text % 'hello').count() -> {words}")
        asyncio.run(_run_async(settings, say))
    finally:
        db.remove_account(DEMO_USER)
        db.delete(DEMO_KEY)
        say("cleaned up the demo keys and records")
        models.bind(None)


async def _run_async(settings: RedisSettings, say: Callable[[str], None]) -> None:
    """The asyncio half of the quickstart: the same data through ``AsyncRedisDB``."""
    from redis_client.models import Post

    from .aio import AsyncRedisDB

    async with AsyncRedisDB(settings) as db:
        post = Post(id=f"demo-{time.time_ns()}", text="Hello from asyncio", sender_username=DEMO_USER,
                    timestamp=int(time.time()) + 1)
        await db.add_user_post(DEMO_USER, post)
        say(f"await aio db.add_user_post({DEMO_USER!r}, Post(text='Hello from asyncio', ...))")
        texts = [p.text for p in await db.get_user_posts(DEMO_USER)]
        say(f"await aio db.get_user_posts -> {texts}")
        newest = await Post.find(Post.sender_username == DEMO_USER).sort_by("-timestamp").afirst()
        say(f"await Post.find(...).sort_by('-timestamp').afirst() -> {newest.text!r}")


def main(say: Callable[[str], None] = print) -> int:
    with demo_server(say) as settings:
        run(settings, say)
    say("demo finished")
    return 0
