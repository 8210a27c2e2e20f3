"""The retry policy of every pool: redis-py's ``Retry`` with exponential backoff, sync and asyncio.

On one server a command is retried ``REDIS_RETRIES`` times. Behind Sentinel a failover takes
seconds (the master must be seen down, then a replica promoted), so a command is retried until
``REDIS_STARTUP_WAIT`` has passed, each new connection asking the sentinels for the master;
then it raises :class:`ServerUnavailableError`. (On a cluster the drivers route and retry each
request themselves: see ``cluster.trips``; redis-py's cluster client counts its retries.)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio.retry
import redis.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, RedisError, TimeoutError

from .errors import ServerUnavailableError
from .settings import RedisSettings

T = TypeVar("T")

#: Errors after which a command is retried (the server was unreachable, restarting or loading).
RETRY_ON: tuple[type[RedisError], ...] = (ConnectionError, TimeoutError, BusyLoadingError)
#: Longest pause between two tries while the sentinels promote a replica.
FAILOVER_PAUSE_CAP = 0.5


def backoff(settings: RedisSettings) -> ExponentialBackoff:
    return ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base)


def sync_retry(settings: RedisSettings) -> redis.retry.Retry:
    if settings.sentinels and settings.retries > 0:
        return FailoverRetry(settings)
    return redis.retry.Retry(backoff(settings), settings.retries, RETRY_ON)


def async_retry(settings: RedisSettings) -> redis.asyncio.retry.Retry:
    if settings.sentinels and settings.retries > 0:
        return AsyncFailoverRetry(settings)
    return redis.asyncio.retry.Retry(backoff(settings), settings.retries, RETRY_ON)


class _Deadline:
    """Gives up once ``seconds`` passed since the first try, with a message saying why."""

    def __init__(self, settings: RedisSettings) -> None:
        self.seconds = settings.startup_wait
        self.where = settings.describe()

    def start(self) -> float:
        return time.monotonic() + self.seconds

    def check(self, deadline: float, error: Exception) -> None:
        if time.monotonic() >= deadline:
            raise ServerUnavailableError(
                f"no master reachable at {self.where} for {self.seconds:g}s "
                f"(REDIS_STARTUP_WAIT): {error or type(error).__name__}"
            ) from error


def _failover_backoff(settings: RedisSettings) -> ExponentialBackoff:
    return ExponentialBackoff(cap=min(settings.retry_backoff_cap, FAILOVER_PAUSE_CAP),
                              base=settings.retry_backoff_base)


class FailoverRetry(redis.retry.Retry):
    """redis-py's ``Retry``, bounded by time (``REDIS_STARTUP_WAIT``) instead of a count."""

    def __init__(self, settings: RedisSettings) -> None:
        super().__init__(_failover_backoff(settings), -1, RETRY_ON)
        self._deadline = _Deadline(settings)

    def call_with_retry(
        self, do: Callable[[], T], fail: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> T:
        deadline = self._deadline.start()

        def fail_or_give_up(error: Exception, *count: int) -> None:
            fail(error, *count)
            self._deadline.check(deadline, error)

        return super().call_with_retry(do, fail_or_give_up, *args, **kwargs)


class AsyncFailoverRetry(redis.asyncio.retry.Retry):
    """:class:`FailoverRetry` for asyncio (the pauses are ``asyncio.sleep``)."""

    def __init__(self, settings: RedisSettings) -> None:
        super().__init__(_failover_backoff(settings), -1, RETRY_ON)
        self._deadline = _Deadline(settings)

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> T:
        deadline = self._deadline.start()

        async def fail_or_give_up(error: Exception, *count: int) -> None:
            await fail(error, *count)
            self._deadline.check(deadline, error)

        return await super().call_with_retry(do, fail_or_give_up, *args, **kwargs)
