"""``RedisDB``: the classic API, synchronous (thread-safe; lazily connected pools, per process)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from redis_client.models.post import Post

from . import posting
from .core import readiness
from .core.capabilities import Capabilities
from .core.drivers import SyncDriver
from .core.protocol import Models, Op
from .facade import Facade
from .ops import accounts, values
from .ops import posts as post_ops

T = TypeVar("T")


class RedisDB(Facade):
    """The original tool's API on the legacy keys, keeping the ``Post``/``TwitterAccount`` records in step.

    Nothing connects until the first command; that command waits up to ``startup_wait`` seconds
    for a server that is down or loading, then raises ``redis.ConnectionError``. The first
    command of a process also stores the prompt map under ``function_variables``. Picklable by
    settings. ``AsyncRedisDB`` (``redis_client.aio``) is the same API for asyncio code.
    """

    def _run(self, op: Op[T]) -> T:
        return SyncDriver(self.connector).run(self._with_first_write(op))

    @property
    def r(self) -> Any:
        """The underlying ``redis.Redis`` (bytes responses) on this process's pool."""
        return self.connector.client()

    @property
    def capabilities(self) -> Capabilities:
        """Which modules the server has (asked once per process; the indexes are made ready)."""
        SyncDriver(self.connector).run(_models())
        caps = self.connector.capabilities
        assert caps is not None
        return caps

    def wait_for_redis(self, timeout: float) -> bool:
        """True when the server answers within ``timeout`` seconds, else False (never raises).

        Settings that cannot work (credentials or certificate refused) give False at once.
        """
        return readiness.is_ready(self.settings, timeout)

    # --- values, sets, sorted sets, key patterns ---

    def get(self, key: str, default: Any = values.NO_DEFAULT) -> Any:
        """The JSON value at ``key``; ``default`` (when given) if missing or empty, else None."""
        return self._run(values.get(key, default))

    def __getitem__(self, key: str) -> Any:
        return self._run(values.get(key))

    def set(self, key: str, value: Any, log: bool = True, keep_ttl: bool = False) -> None:
        """Store ``value`` as JSON; ``None`` deletes the key."""
        self._run(values.set_(key, value, log, keep_ttl))

    def __setitem__(self, key: str, value: Any) -> None:
        self._run(values.set_(key, value))

    def setex(self, key: str, value: Any, ex: int, log: bool = True) -> None:
        """Store ``value`` as JSON for ``ex`` seconds; ``None`` deletes the key."""
        self._run(values.setex(key, value, ex, log))

    def set_default(self, key: str, value: Any) -> None:
        """Store ``value`` only when the key is missing or holds an empty string."""
        self._run(values.set_default(key, value))

    def delete(self, key: str, log: bool = True) -> None:
        self._run(values.delete(key, log))

    def __delitem__(self, key: str) -> None:
        self._run(values.delete(key))

    def parse_list(self, key: str) -> list[Any]:
        """The value as a list: a JSON list as is, a comma-separated string split, else []."""
        return self._run(values.parse_list(key))

    def get_keys_by_pattern(self, pattern: str) -> list[str]:
        """Keys matching a glob ``pattern``, by SCAN (does not block the server)."""
        return self._run(values.get_keys_by_pattern(pattern))

    def get_keys_by_pattern_blocking(self, pattern: str) -> list[str]:
        """Keys matching ``pattern``, by KEYS (blocks the server: small databases only)."""
        return self._run(values.get_keys_by_pattern_blocking(pattern))

    def add_to_set(self, key: str, value: str) -> None:
        self._run(values.add_to_set(key, value))

    def get_set(self, key: str) -> list[str]:
        return self._run(values.get_set(key))

    def add_to_sorted_set(self, key: str, score: float, value: str) -> None:
        self._run(values.add_to_sorted_set(key, score, value))

    def get_sorted_set(self, key: str, start: int = 0, end: int = -1) -> list[str]:
        return self._run(values.get_sorted_set(key, start, end))

    # --- posts ---

    def add_user_post(self, username: str, post: Any) -> None:
        """Validate, then write the legacy member and the ``Post`` record atomically.

        ``post`` may be a ``Post``, a dict, or any object with the post attributes. Adding the
        same post again changes nothing; the same id under another account adds that account
        to the record's ``accounts`` (the first content written stays in the record).
        """
        self._run(post_ops.add_user_post(username, post))

    def add_user_posts(self, username: str, posts: Iterable[Any]) -> int:
        """Add many posts of one account; all are validated before anything is written.

        Written in atomic batches, pipelined in one round trip. Returns how many members were
        new in the sorted set.
        """
        return self._run(post_ops.add_user_posts(username, posts))

    def get_user_posts(self, username: str) -> list[Post]:
        """The account's posts, oldest first, from the sorted set (malformed members skipped)."""
        return self._run(post_ops.get_user_posts(username))

    def get_user_posts_by_create_time(self, username: str, second_ago: int = 10800) -> list[Post]:
        """Posts of the last ``second_ago`` seconds, newest last."""
        return self._run(post_ops.get_user_posts_by_create_time(username, second_ago))

    # --- accounts ---

    def add_send_partnership(self, username: str, partner_user_id: str) -> None:
        self._run(accounts.add_send_partnership(username, partner_user_id))

    def get_send_partnership(self, username: str) -> list[str]:
        return self._run(accounts.get_send_partnership(username))

    def get_twitter_data_keys(self) -> list[str]:
        return self._run(accounts.get_twitter_data_keys())

    def get_active_twitter_accounts(self) -> list[str]:
        """Usernames with a ``twitter_data`` key (full names, ':' included)."""
        return self._run(accounts.get_active_twitter_accounts())

    def is_account_active(self, username: str) -> bool:
        return self._run(accounts.is_account_active(username))

    def get_account_last_action_time(self, username: str, action_type: str) -> float:
        """Seconds since epoch of the last such action; 0.0 when never recorded."""
        return self._run(accounts.get_account_last_action_time(username, action_type))

    def update_account_last_action_time(
        self, username: str, action_type: str, timestamp: float
    ) -> None:
        """Record the time; also in the account's ``TwitterAccount`` record when it exists."""
        self._run(accounts.update_account_last_action_time(username, action_type, timestamp))

    def remove_account(self, username: str) -> int:
        """Delete the account's legacy keys and records; posts shared with others stay theirs.

        Returns the number of keys deleted.
        """
        return self._run(accounts.remove_account(username))

    def get_function_variables(self) -> dict[str, list[str]]:
        """The prompt-variable map; also stored under ``function_variables``."""
        return self._run(accounts.get_function_variables(self.function_variables))

    def save_tweet_link(self, function_name: str, tweet_id: str) -> None:
        """Append the tweet's link to ``created_tweet:{function_name}``: one entry per call,
        retries of the call included."""
        self._run(accounts.save_tweet_link(function_name, tweet_id, self._link_token_ttl()))

    # --- pacing ---

    def posting_slot(self, username: str, delay: float | None = None) -> AbstractContextManager[float]:
        """``with db.posting_slot(username, delay) as waited:`` post in the block.

        Waits until the account's next posting slot is free (``delay`` seconds, a random 5-10 min
        when None, after its newest post and after the slot taken before), across every agent,
        and takes it. An exception in the block gives the slot back. ``waited``: seconds waited.
        """
        return posting.slot(self._run, username, delay)


def _models() -> Op[bool]:
    return bool((yield Models()))
