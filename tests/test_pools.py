"""Pools from settings (``core.pools``): shared per process and mode, blocking past their size."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio

from redis_client.core import pools
from redis_client.core.settings import RedisSettings, load_settings


def test_one_sync_pool_per_settings_and_response_mode(redis_settings: RedisSettings) -> None:
    assert pools.get_pool(redis_settings) is pools.get_pool(redis_settings)
    assert pools.get_pool(redis_settings, decode=True) is not pools.get_pool(redis_settings)
    other = redis_settings.model_copy(update={"socket_timeout": 7.0})
    assert pools.get_pool(other) is not pools.get_pool(redis_settings)


def test_settings_that_differ_only_by_password_get_their_own_pools() -> None:
    a = load_settings(host="127.0.0.1", port=1, password="pw-a")
    b = load_settings(host="127.0.0.1", port=1, password="pw-b")
    assert a.model_dump_json() == b.model_dump_json()  # the password is masked there
    assert pools.get_pool(a) is not pools.get_pool(b)


def test_responses_are_bytes_or_text(redis_db: object, redis_settings: RedisSettings) -> None:
    pools.get_client(redis_settings).set("k", "é")
    assert pools.get_client(redis_settings).get("k") == "é".encode()
    assert pools.get_client(redis_settings, decode=True).get("k") == "é"


def test_pool_options_come_from_the_settings() -> None:
    settings = load_settings(
        host="127.0.0.1", port=1, username="bot", password="pw", max_connections=3, pool_timeout=0.5
    )
    kwargs = pools.pool_kwargs(settings, decode=False)
    assert kwargs["max_connections"] == 3 and kwargs["timeout"] == 0.5
    assert kwargs["username"] == "bot" and kwargs["password"] == "pw"
    assert "password" not in pools.pool_kwargs(load_settings(host="127.0.0.1", port=1), decode=False)
    pool = pools.build_pool(settings, decode=False)
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.connection_kwargs["host"] == "127.0.0.1" and pool.connection_kwargs["db"] == 0
    tls = pools.build_pool(settings.model_copy(update={"ssl": True}), decode=False)
    assert tls.connection_class is redis.SSLConnection


def test_a_caller_past_max_connections_waits_then_gets_a_clear_error(
    redis_db: object, redis_settings: RedisSettings
) -> None:
    settings = redis_settings.model_copy(update={"max_connections": 1, "pool_timeout": 0.1})
    pool = pools.build_pool(settings, decode=False)
    held = pool.get_connection()
    try:
        with pytest.raises(redis.ConnectionError, match="No connection available"):
            pool.get_connection()
    finally:
        pool.release(held)
    again = pool.get_connection()  # free again once released
    pool.release(again)
    pool.disconnect()


def test_an_async_pool_is_a_blocking_one_of_the_same_options(
    redis_db: object, redis_settings: RedisSettings
) -> None:
    async def roundtrip() -> bytes | None:
        pool = pools.build_async_pool(redis_settings, decode=False)
        assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
        client = redis.asyncio.Redis(connection_pool=pool)
        try:
            await client.set("a", "1")
            return await client.get("a")
        finally:
            await pool.disconnect()

    assert asyncio.run(roundtrip()) == b"1"


def test_reset_pools_forgets_every_pool(redis_settings: RedisSettings) -> None:
    before = pools.get_pool(redis_settings)
    pools.reset_pools()
    assert pools.get_pool(redis_settings) is not before
