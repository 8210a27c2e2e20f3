"""Connection pools built from settings, for redis-py's sync and asyncio clients.

Sync pools are shared per process by every user of the same settings and response mode (bytes
for ``db.r``, text for the models); they are created lazily, so importing never connects and a
forked or unpickled copy gets its own. Asyncio pools belong to one event loop each and are owned
by a :class:`~redis_client.core.connector.Connector`, which makes them per loop.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from typing import Any

import redis
import redis.asyncio

from . import retry, sentinel
from .settings import RedisSettings

_lock = threading.Lock()
_pools: dict[tuple[int, str, str, bool], redis.ConnectionPool] = {}


@functools.cache
def _driver_kwargs() -> dict[str, Any]:
    """One client identity (CLIENT SETINFO) for every connection of the process: redis-py 8 would
    otherwise build it for each new connection, reading the package metadata (~0.5 ms) each time."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # redis-py before 7: nothing to share
        return {}
    return {"driver_info": DriverInfo()}


def pool_kwargs(settings: RedisSettings, decode: bool) -> dict[str, Any]:
    """Pool options common to both APIs (no retry object: each API has its own class).

    Pools are blocking: past ``max_connections``, a caller waits up to ``pool_timeout`` for a
    connection instead of failing at once.
    """
    kwargs: dict[str, Any] = {
        "decode_responses": decode,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "health_check_interval": settings.health_check_interval,
        "retry_on_error": list(retry.RETRY_ON),
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
        **_driver_kwargs(),
    }
    if settings.username:
        kwargs["username"] = settings.username
    if settings.password is not None:
        kwargs["password"] = settings.password.get_secret_value()
    return kwargs


def _where(settings: RedisSettings) -> tuple[str | None, dict[str, Any], bool]:
    """(URL or None, host/port/db and TLS options, whether TLS is on without a URL)."""
    if settings.url:
        tls = settings.tls_kwargs() if settings.url.startswith("rediss://") else {}
        return settings.url, tls, False
    kwargs: dict[str, Any] = {"host": settings.host, "port": settings.port, "db": settings.db}
    if settings.ssl:
        kwargs.update(settings.tls_kwargs())
    return None, kwargs, settings.ssl


def build_pool(settings: RedisSettings, decode: bool) -> redis.ConnectionPool:
    """A new sync pool for ``settings`` (no connection is opened yet)."""
    kwargs = pool_kwargs(settings, decode)
    kwargs["retry"] = retry.sync_retry(settings)
    if settings.sentinels:
        return sentinel.build_pool(settings, kwargs)
    url, where, tls = _where(settings)
    kwargs.update(where)
    if url:
        return redis.BlockingConnectionPool.from_url(url, **kwargs)
    if tls:
        kwargs["connection_class"] = redis.SSLConnection
    return redis.BlockingConnectionPool(**kwargs)


def build_async_pool(settings: RedisSettings, decode: bool) -> redis.asyncio.ConnectionPool[Any]:
    """A new asyncio pool for ``settings``; it must be used from one event loop only."""
    kwargs = pool_kwargs(settings, decode)
    kwargs["retry"] = retry.async_retry(settings)
    if settings.sentinels:
        return sentinel.build_async_pool(settings, kwargs)
    url, where, tls = _where(settings)
    kwargs.update(where)
    if url:
        return redis.asyncio.BlockingConnectionPool.from_url(url, **kwargs)
    if tls:
        kwargs["connection_class"] = redis.asyncio.SSLConnection
    return redis.asyncio.BlockingConnectionPool(**kwargs)


def get_pool(settings: RedisSettings, decode: bool = False) -> redis.ConnectionPool:
    """The process-wide sync pool for these settings and response mode."""
    key = (os.getpid(), settings.model_dump_json(), _secret_digest(settings), decode)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = build_pool(settings, decode)
        return pool


def _secret_digest(settings: RedisSettings) -> str:
    """Tells apart settings that differ only by password (``model_dump_json`` masks both)."""
    given = (settings.password, settings.sentinel_password)
    text = "\0".join([*(s.get_secret_value() if s is not None else "" for s in given), settings.url or ""])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def reset_pools() -> None:
    """Disconnect and forget every sync pool of this process (tests, after a fork)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.disconnect()


def get_client(settings: RedisSettings, decode: bool = False) -> redis.Redis[Any]:
    """A sync client on the process-wide pool (cheap; the pool is what is shared). No wait."""
    return redis.Redis(connection_pool=get_pool(settings, decode))
