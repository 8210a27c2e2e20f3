"""``REDIS_WAIT_REPLICAS``: writes wait for replicas in the same round trip; reads never do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from redis_client.aio import AsyncRedisDB
from redis_client.core import durability, scripts
from redis_client.core.errors import ReplicationTimeoutError
from redis_client.core.protocol import Call, Pipeline, Script
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB

WAIT_1 = load_settings(wait_replicas=1, wait_timeout_ms=50)


@pytest.mark.parametrize(
    ("request_", "waits"),
    [
        (Call("set", ("k", "v")), True),
        (Call("zadd", ("k", {"m": 1})), True),
        (Call("execute_command", ("JSON.SET", "k", "$", "{}")), True),
        (Script(scripts.ADD_POSTS, ["k"], []), True),
        (Call("get", ("k",)), False),
        (Call("zrange", ("k", 0, -1)), False),
        (Call("execute_command", ("JSON.GET", "k")), False),
        (Call("execute_command", ("FT.SEARCH", "idx", "*")), False),
        (Script(scripts.FOLLOW_READ, ["k"], []), False),
        (Pipeline([Call("get", ("a",)), Call("set", ("b", 1))]), True),
        (Pipeline([Call("get", ("a",)), Call("exists", ("b",))]), False),
    ],
)
def test_which_requests_wait(request_: Any, waits: bool) -> None:
    wait = durability.wait_call(request_, WAIT_1)
    assert (wait is not None) is waits
    if wait is not None:
        assert wait == Call("execute_command", ("WAIT", 1, 50))


def test_nothing_waits_when_the_setting_is_zero() -> None:
    assert durability.wait_call(Call("set", ("k", "v")), load_settings()) is None


def test_a_write_resent_in_a_second_round_trip_counts_its_own_wait() -> None:
    assert durability.least(2, 1) == 1
    error = redis.ResponseError("NOREPLICAS")
    assert durability.least(error, 1) is error and durability.least(1, error) is error


def test_only_scripts_marked_no_writes_are_reads() -> None:
    assert [s.name for s in scripts.ALL if not s.writes] == ["FOLLOW_READ"]


def test_unwrap_keeps_the_write_s_own_error_and_result() -> None:
    call = Call("set", ("k", "v"))
    assert durability.unwrap(call, [True, 1], WAIT_1) is True
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        durability.unwrap(call, [redis.ResponseError("WRONGTYPE x"), 1], WAIT_1)
    with pytest.raises(ReplicationTimeoutError, match="0 of the 1 replicas"):
        durability.unwrap(call, [True, 0], WAIT_1)
    pipe = Pipeline([call, Call("get", ("k",))])
    assert durability.unwrap(pipe, [True, b"v", 1], WAIT_1) == [True, b"v"]


def _without_replicas(redis_settings: RedisSettings) -> RedisSettings:
    return redis_settings.model_copy(update={"wait_replicas": 1, "wait_timeout_ms": 100})


def test_a_write_no_replica_acknowledges_raises_and_reads_still_work(
    redis_db: RedisDB, redis_settings: RedisSettings
) -> None:
    db = RedisDB(_without_replicas(redis_settings))
    with pytest.raises(ReplicationTimeoutError) as caught:
        db.add_user_post("alice", {"id": "1", "text": "SECRET-TEXT", "sender_username": "alice",
                                   "timestamp": 1})
    assert "REDIS_WAIT_REPLICAS" in str(caught.value) and "SECRET" not in str(caught.value)
    assert [p.id for p in db.get_user_posts("alice")] == ["1"], "on the master, not acknowledged"
    assert db.get("missing", default=7) == 7


def test_asyncio_writes_wait_too(redis_db: RedisDB, redis_settings: RedisSettings) -> None:
    async def main() -> None:
        async with AsyncRedisDB(_without_replicas(redis_settings)) as db:
            with pytest.raises(ReplicationTimeoutError):
                await db.set("k", 1)
            assert await db.get("k") == 1

    asyncio.run(main())
