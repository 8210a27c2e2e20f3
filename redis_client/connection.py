"""Connection pools built from settings, with redis-py's Retry/backoff and a bounded startup wait.

One pool per process for each (settings, response mode): bytes for ``db.r``, text for the models.
Pools are created lazily, so importing never connects and forked or unpickled copies get their own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
from redis.retry import Retry

from .settings import RedisSettings

log = logging.getLogger(__name__)

#: Errors after which a command is retried (the server was unreachable, restarting or loading).
RETRY_ON: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, BusyLoadingError)

_lock = threading.Lock()
_pools: dict[tuple[int, str, bool], redis.ConnectionPool] = {}


def make_retry(settings: RedisSettings, retries: int | None = None) -> Retry:
    backoff = ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base)
    return Retry(backoff, settings.retries if retries is None else retries, RETRY_ON)


def _pool_kwargs(settings: RedisSettings, decode: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "decode_responses": decode,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "health_check_interval": settings.health_check_interval,
        "retry": make_retry(settings),
        "retry_on_error": list(RETRY_ON),
    }
    if settings.max_connections:
        kwargs["max_connections"] = settings.max_connections
    if settings.username:
        kwargs["username"] = settings.username
    if settings.password is not None:
        kwargs["password"] = settings.password.get_secret_value()
    return kwargs


def _ssl_kwargs(settings: RedisSettings) -> dict[str, Any]:
    return {
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_cert_reqs": settings.ssl_cert_reqs,
    }


def build_pool(settings: RedisSettings, decode: bool) -> redis.ConnectionPool:
    """A new pool for ``settings`` (no connection is opened yet)."""
    kwargs = _pool_kwargs(settings, decode)
    if settings.url:
        if settings.url.startswith("rediss://"):
            kwargs.update(_ssl_kwargs(settings))
        return redis.ConnectionPool.from_url(settings.url, **kwargs)
    kwargs.update(host=settings.host, port=settings.port, db=settings.db)
    if settings.ssl:
        kwargs.update(_ssl_kwargs(settings))
        kwargs["connection_class"] = redis.SSLConnection
    return redis.ConnectionPool(**kwargs)


def get_pool(settings: RedisSettings, decode: bool = False) -> redis.ConnectionPool:
    """The process-wide pool for these settings and response mode."""
    key = (os.getpid(), settings.model_dump_json(), decode)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = build_pool(settings, decode)
        return pool


def get_client(settings: RedisSettings, decode: bool = False) -> redis.Redis:
    """A client on the shared pool (cheap to create; the pool is what is shared)."""
    return redis.Redis(connection_pool=get_pool(settings, decode))


def reset_pools() -> None:
    """Disconnect and forget every pool of this process (tests, after a fork)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.disconnect()


def wait_until_ready(settings: RedisSettings, timeout: float) -> bool:
    """PING until the server answers (and has finished loading) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    # A private pool whose commands are not retried: each PING is one attempt of the loop below.
    pool = build_pool(settings.model_copy(update={"retries": 0}), decode=False)
    client = redis.Redis(connection_pool=pool)
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.02), -1, RETRY_ON)

    def give_up_after_deadline(error: Exception) -> None:
        pool.disconnect()
        if time.monotonic() >= deadline:
            raise error

    try:
        retry.call_with_retry(client.ping, give_up_after_deadline)
        return True
    except RETRY_ON:
        return False
    finally:
        pool.disconnect()
