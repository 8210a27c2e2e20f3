"""The retry policy of every pool: redis-py's ``Retry`` with exponential backoff, sync and asyncio."""

from __future__ import annotations

import redis.asyncio.retry
import redis.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, RedisError, TimeoutError

from .settings import RedisSettings

#: Errors after which a command is retried (the server was unreachable, restarting or loading).
RETRY_ON: tuple[type[RedisError], ...] = (ConnectionError, TimeoutError, BusyLoadingError)


def backoff(settings: RedisSettings) -> ExponentialBackoff:
    return ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base)


def sync_retry(settings: RedisSettings) -> redis.retry.Retry:
    return redis.retry.Retry(backoff(settings), settings.retries, RETRY_ON)


def async_retry(settings: RedisSettings) -> redis.asyncio.retry.Retry:
    return redis.asyncio.retry.Retry(backoff(settings), settings.retries, RETRY_ON)
