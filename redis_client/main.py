"""The classic entry point: ``from redis_client.main import db``. Importing never connects."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from models.post import Post

from . import keys
from .codec import decode_redis
from .db import RedisDB

__all__ = ["Post", "RedisDB", "db", "decode_redis", "ensure_delay_between_posts", "get_redis_db"]

log = logging.getLogger("redis_client")

#: The shared instance; connects on first use with the settings of the environment.
db = RedisDB()


def get_redis_db() -> RedisDB:
    """The shared :data:`db`."""
    return db


async def ensure_delay_between_posts(username: str, delay: float | None = None) -> float:
    """Sleep until ``delay`` seconds (random 5-10 min when None) passed since the newest post.

    Reads the account's real posts. Returns the seconds waited (0 when no wait was needed).
    """
    newest = db.r.zrange(keys.posted_tweets(username), -1, -1, withscores=True)
    if not newest:
        return 0.0
    if delay is None:  # 0 means no delay, not the default
        delay = random.randint(5 * 60, 10 * 60)
    elapsed = time.time() - newest[0][1]
    if elapsed >= delay:
        return 0.0
    wait = delay - elapsed
    log.info("waiting %.0fs before the next post of this account", wait)
    await asyncio.sleep(wait)
    return wait
