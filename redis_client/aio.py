"""The classic API for asyncio code: ``from redis_client.aio import db`` then ``await db.get(...)``.

``AsyncRedisDB`` has every ``RedisDB`` method as a coroutine, on the same keys with the same
validation, errors and atomicity, so both APIs work on the same data. Its connections belong
to the event loop that opened them: the shared ``db`` works from any loop of the process. The
models' asyncio queries are ``aall()``, ``afirst()``, ``acount()``, ``apage()`` and ``aget()``.
Importing never connects.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from redis_client.models.post import Post

from . import posting
from .core import readiness
from .core.connector import shared
from .core.drivers import arun
from .core.protocol import Op
from .facade import Facade
from .ops import accounts, values
from .ops import posts as post_ops

__all__ = ["AsyncRedisDB", "Post", "db", "ensure_delay_between_posts", "get_redis_db"]

T = TypeVar("T")


class AsyncRedisDB(Facade):
    """``RedisDB`` for asyncio: every method is a coroutine; ``db.r`` is a ``redis.asyncio.Redis``.

    ``await db.aclose()`` (or ``async with AsyncRedisDB() as db``) releases the connections of
    the running loop. Picklable by settings, like ``RedisDB``.
    """

    async def _arun(self, op: Op[T]) -> T:
        return await arun(self.connector, self._with_first_write(op))

    async def _arun_pausing(self, op: Op[T]) -> T:
        return await posting.arun_pausing(self.connector, self._with_first_write(op))

    @property
    def r(self) -> Any:
        """The running loop's ``redis.asyncio.Redis`` (bytes responses); connects on first await."""
        return self.connector.async_client_nowait()

    async def wait_for_redis(self, timeout: float) -> bool:
        """True when the server answers within ``timeout`` seconds, else False (never raises).

        Settings that cannot work (credentials or certificate refused) give False at once.
        """
        return await readiness.ais_ready(self.settings, timeout)

    async def aclose(self) -> None:
        """Close this instance's connector's connections of the running loop (for the shared ``db``,
        those of the shared connector, which the models' async queries use too); a later call
        reconnects."""
        await self.connector.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("an AsyncRedisDB cannot assign with db[key] = value: use await db.set(key, value)")

    def __delitem__(self, key: str) -> None:
        raise TypeError("an AsyncRedisDB cannot delete with del db[key]: use await db.delete(key)")

    # --- values, sets, sorted sets, key patterns ---

    async def get(self, key: str, default: Any = values.NO_DEFAULT) -> Any:
        """The JSON value at ``key``; ``default`` (when given) if missing or empty, else None."""
        return await self._arun(values.get(key, default))

    async def __getitem__(self, key: str) -> Any:
        return await self._arun(values.get(key))

    async def set(self, key: str, value: Any, log: bool = True, keep_ttl: bool = False) -> None:
        """Store ``value`` as JSON; ``None`` deletes the key."""
        await self._arun(values.set_(key, value, log, keep_ttl))

    async def setex(self, key: str, value: Any, ex: int, log: bool = True) -> None:
        """Store ``value`` as JSON for ``ex`` seconds; ``None`` deletes the key."""
        await self._arun(values.setex(key, value, ex, log))

    async def set_default(self, key: str, value: Any) -> None:
        """Store ``value`` only when the key is missing or holds an empty string."""
        await self._arun(values.set_default(key, value))

    async def delete(self, key: str, log: bool = True) -> None:
        await self._arun(values.delete(key, log))

    async def parse_list(self, key: str) -> list[Any]:
        """The value as a list: a JSON list as is, a comma-separated string split, else []."""
        return await self._arun(values.parse_list(key))

    async def get_keys_by_pattern(self, pattern: str) -> list[str]:
        """Keys matching a glob ``pattern``, by SCAN (does not block the server)."""
        return await self._arun(values.get_keys_by_pattern(pattern))

    async def get_keys_by_pattern_blocking(self, pattern: str) -> list[str]:
        """Keys matching ``pattern``, by KEYS (blocks the server: small databases only)."""
        return await self._arun(values.get_keys_by_pattern_blocking(pattern))

    async def add_to_set(self, key: str, value: str) -> None:
        await self._arun(values.add_to_set(key, value))

    async def get_set(self, key: str) -> list[str]:
        return await self._arun(values.get_set(key))

    async def add_to_sorted_set(self, key: str, score: float, value: str) -> None:
        await self._arun(values.add_to_sorted_set(key, score, value))

    async def get_sorted_set(self, key: str, start: int = 0, end: int = -1) -> list[str]:
        return await self._arun(values.get_sorted_set(key, start, end))

    # --- posts ---

    async def add_user_post(self, username: str, post: Any) -> None:
        """Validate, then write the legacy member and the ``Post`` record atomically.

        ``post`` may be a ``Post``, a dict, or any object with the post attributes. Adding the
        same post again changes nothing; the same id under another account adds that account
        to the record's ``accounts`` (the first content written stays in the record).
        """
        await self._arun(post_ops.add_user_post(username, post))

    async def add_user_posts(self, username: str, posts: Iterable[Any]) -> int:
        """Add many posts of one account; all are validated before anything is written.

        Written in atomic batches, pipelined in one round trip. Returns how many members were
        new in the sorted set.
        """
        return await self._arun(post_ops.add_user_posts(username, posts))

    async def get_user_posts(self, username: str) -> list[Post]:
        """The account's posts, oldest first, from the sorted set (malformed members skipped)."""
        return await self._arun(post_ops.get_user_posts(username))

    async def get_user_posts_by_create_time(self, username: str, second_ago: int = 10800) -> list[Post]:
        """Posts of the last ``second_ago`` seconds, newest last."""
        return await self._arun(post_ops.get_user_posts_by_create_time(username, second_ago))

    # --- accounts ---

    async def add_send_partnership(self, username: str, partner_user_id: str) -> None:
        await self._arun(accounts.add_send_partnership(username, partner_user_id))

    async def get_send_partnership(self, username: str) -> list[str]:
        return await self._arun(accounts.get_send_partnership(username))

    async def get_twitter_data_keys(self) -> list[str]:
        return await self._arun(accounts.get_twitter_data_keys())

    async def get_active_twitter_accounts(self) -> list[str]:
        """Usernames with a ``twitter_data`` key (full names, ':' included)."""
        return await self._arun(accounts.get_active_twitter_accounts())

    async def is_account_active(self, username: str) -> bool:
        return await self._arun(accounts.is_account_active(username))

    async def get_account_last_action_time(self, username: str, action_type: str) -> float:
        """Seconds since epoch of the last such action; 0.0 when never recorded."""
        return await self._arun(accounts.get_account_last_action_time(username, action_type))

    async def update_account_last_action_time(
        self, username: str, action_type: str, timestamp: float
    ) -> None:
        """Record the time; also in the account's ``TwitterAccount`` record when it exists."""
        await self._arun(accounts.update_account_last_action_time(username, action_type, timestamp))

    async def remove_account(self, username: str) -> int:
        """Delete the account's legacy keys and records; posts shared with others stay theirs.

        Returns the number of keys deleted.
        """
        return await self._arun(accounts.remove_account(username))

    async def get_function_variables(self) -> dict[str, list[str]]:
        """The prompt-variable map; also stored under ``function_variables``."""
        return await self._arun(accounts.get_function_variables(self.function_variables))

    async def save_tweet_link(self, function_name: str, tweet_id: str) -> None:
        """Append the tweet's link to ``created_tweet:{function_name}``: one entry per call,
        retries of the call included."""
        await self._arun(accounts.save_tweet_link(function_name, tweet_id, self._link_token_ttl()))

    # --- pacing ---

    def posting_slot(self, username: str, delay: float | None = None) -> AbstractAsyncContextManager[float]:
        """``async with db.posting_slot(username, delay) as waited:`` post in the block.

        Waits until the account's next posting slot is free (``delay`` seconds, a random 5-10 min
        when None, after its newest post and after the slot taken before), across every agent,
        and takes it. An exception in the block gives the slot back. ``waited``: seconds waited.
        """
        return posting.aslot(self._arun_pausing, self._arun, username, delay)


#: The shared instance; same server as ``redis_client.main.db`` (one connector).
db = AsyncRedisDB(connector=shared())


def get_redis_db() -> AsyncRedisDB:
    """The shared :data:`db`."""
    return db


async def ensure_delay_between_posts(username: str, delay: float | None = None) -> float:
    """Wait (``asyncio.sleep``: other tasks keep running) until the account may post: ``delay``
    seconds (random 5-10 min when None) after its newest post and after the previous caller's
    return, across every agent (``db.posting_slot``, kept); returns the seconds waited."""
    async with db.posting_slot(username, delay) as waited:
        return waited
