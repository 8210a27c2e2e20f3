"""Pools that follow the master Redis Sentinel names (redis-py's ``redis.sentinel``, sync and asyncio).

A connection asks the sentinels for the master's address when it connects; a ``READONLY``
reply (the node was demoted) closes it and is raised as a connection error, which the retry
policy (:func:`redis_client.core.retry.failover_retry`) turns into a new connection to the
master the sentinels name now. The pools block past ``max_connections`` like the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.backoff import NoBackoff

from .settings import RedisSettings


class MasterConnection(redis.sentinel.SentinelManagedConnection):
    """redis-py's sentinel-managed connection; a reconnect asks the sentinels again.

    redis-py 8.1 reconnects a dropped connection inside ``send_packed_command`` without asking the
    sentinels, so after a failover a retried command went back to the old master's address (and,
    once that node restarted, wrote to it until it was demoted: acknowledged writes lost).
    """

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:  # type: ignore[attr-defined]  # not in the stubs
            self.connect()
        super().send_packed_command(command, check_health)


class MasterSSLConnection(MasterConnection, redis.SSLConnection):
    """:class:`MasterConnection` over TLS."""


class AsyncMasterConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """:class:`MasterConnection` for asyncio."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()
        await super().send_packed_command(command, check_health)


class AsyncMasterSSLConnection(AsyncMasterConnection, redis.asyncio.SSLConnection):
    """:class:`AsyncMasterConnection` over TLS."""


class BlockingSentinelPool(redis.sentinel.SentinelConnectionPool, redis.BlockingConnectionPool):
    """redis-py's sentinel pool; callers beyond ``max_connections`` wait for a free connection."""


if TYPE_CHECKING:  # generic in the stubs only
    _AsyncSentinelPool = redis.asyncio.sentinel.SentinelConnectionPool[Any]
    _AsyncBlockingPool = redis.asyncio.BlockingConnectionPool[Any]
else:
    _AsyncSentinelPool = redis.asyncio.sentinel.SentinelConnectionPool
    _AsyncBlockingPool = redis.asyncio.BlockingConnectionPool


class AsyncBlockingSentinelPool(_AsyncSentinelPool, _AsyncBlockingPool):
    """The asyncio :class:`BlockingSentinelPool` (one per event loop, like every asyncio pool)."""


def sentinel_kwargs(settings: RedisSettings) -> dict[str, Any]:
    """How to reach the sentinels themselves: their own credentials, the timeouts, no retries (the
    master lookup asks the next sentinel instead)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "retry": redis.retry.Retry(NoBackoff(), 0),
    }
    if settings.sentinel_username:
        kwargs["username"] = settings.sentinel_username
    if settings.sentinel_password is not None:
        kwargs["password"] = settings.sentinel_password.get_secret_value()
    if settings.ssl:
        kwargs.update(ssl=True, **settings.tls_kwargs())
    return kwargs


def build_pool(settings: RedisSettings, kwargs: dict[str, Any]) -> BlockingSentinelPool:
    """A sync pool on the master of ``settings.sentinel_master``; ``kwargs``: the data nodes'
    connection options (no address: it comes from the sentinels)."""
    manager = redis.sentinel.Sentinel(list(settings.sentinels), sentinel_kwargs=sentinel_kwargs(settings))
    options = {**kwargs, "db": settings.db, "connection_class": MasterConnection}
    if settings.ssl:
        options.update(connection_class=MasterSSLConnection, **settings.tls_kwargs())
    return BlockingSentinelPool(settings.sentinel_master, manager, is_master=True, **options)


def build_async_pool(settings: RedisSettings, kwargs: dict[str, Any]) -> AsyncBlockingSentinelPool:
    """:func:`build_pool` for asyncio."""
    own = sentinel_kwargs(settings)
    own["retry"] = redis.asyncio.retry.Retry(NoBackoff(), 0)
    manager = redis.asyncio.sentinel.Sentinel(list(settings.sentinels), sentinel_kwargs=own)
    options = {**kwargs, "db": settings.db, "connection_class": AsyncMasterConnection}
    if settings.ssl:
        options.update(connection_class=AsyncMasterSSLConnection, **settings.tls_kwargs())
    return AsyncBlockingSentinelPool(settings.sentinel_master, manager, is_master=True, **options)
