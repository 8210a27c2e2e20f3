"""The classic API for asyncio code: ``from redis_client.aio import db`` then ``await db.get(...)``.

``AsyncRedisDB`` has every ``RedisDB`` method as a coroutine, on the same keys with the same
validation, errors and atomicity, so both APIs work on the same data. Its connections belong
to the event loop that opened them: the shared ``db`` works from any loop of the process. The
models' asyncio queries are ``aall()``, ``afirst()``, ``acount()``, ``apage()`` and ``aget()``.
Importing never connects.
"""

from __future__ import annotations

from redis_client.models.post import Post

from .core.connector import shared
from .facade import AsyncFacade, Methods
from .ops.delay import ensure_delay

__all__ = ["AsyncRedisDB", "Post", "db", "ensure_delay_between_posts", "get_redis_db"]


class AsyncRedisDB(Methods, AsyncFacade):
    """``RedisDB`` for asyncio: every method is a coroutine; ``db.r`` is a ``redis.asyncio.Redis``.

    ``await db.aclose()`` (or ``async with AsyncRedisDB() as db``) releases the connections of
    the running loop. Picklable by settings, like ``RedisDB``.
    """


#: The shared instance; same server as ``redis_client.main.db`` (one connector).
db = AsyncRedisDB(connector=shared())


def get_redis_db() -> AsyncRedisDB:
    """The shared :data:`db`."""
    return db


async def ensure_delay_between_posts(username: str, delay: float | None = None) -> float:
    """Sleep until ``delay`` seconds (random 5-10 min when None) passed since the account's newest
    post; returns the seconds waited. The read is asynchronous: other tasks keep running."""
    return await ensure_delay(db.connector, username, delay)
