"""The classic entry point: ``from redis_client.main import db``. Importing never connects."""

from __future__ import annotations

from redis_client.models.post import Post

from .aio import ensure_delay_between_posts
from .core.codec import decode_redis
from .core.connector import shared
from .db import RedisDB

__all__ = ["Post", "RedisDB", "db", "decode_redis", "ensure_delay_between_posts", "get_redis_db"]

#: The shared instance; connects on first use with the settings of the environment.
db = RedisDB(connector=shared())


def get_redis_db() -> RedisDB:
    """The shared :data:`db`."""
    return db
