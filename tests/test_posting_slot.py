"""``posting_slot`` and the reservation behind it, on the session's server: giving a slot back,
cancelled callers, retries, the reservation's layout, and its slot on a Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from redis_client import main
from redis_client.aio import AsyncRedisDB
from redis_client.core import keys, scripts
from redis_client.core.drivers import SyncDriver
from redis_client.db import RedisDB
from redis_client.embedded_cluster import EmbeddedCluster
from redis_client.ops import pacing


def go_of(raw: redis.Redis, username: str) -> bytes | None:
    value = raw.hget(keys.posting_slot(username), "go")
    return None if value is None else bytes(value)


# --- giving the slot back when the post failed ---


def test_a_failed_post_gives_its_slot_back(redis_db: RedisDB, raw: redis.Redis) -> None:
    delay = 1.0
    with redis_db.posting_slot("alice", delay) as first:
        pass  # posted
    posted = go_of(raw, "alice")
    with pytest.raises(RuntimeError, match="rejected"), redis_db.posting_slot("alice", delay) as second:
        raise RuntimeError("rejected by X")
    assert first == 0.0 and second > 0.9
    assert go_of(raw, "alice") == posted  # the slot before counts again
    with redis_db.posting_slot("alice", delay) as third:
        pass
    assert third == 0.0  # `delay` after the post that happened, not after the one that failed


def test_a_failed_async_post_gives_its_slot_back(async_redis_db: AsyncRedisDB, raw: redis.Redis) -> None:
    delay = 1.0

    async def scenario() -> tuple[float, float, float]:
        async with async_redis_db.posting_slot("bob", delay) as first:
            pass
        with pytest.raises(RuntimeError, match="rejected"):
            async with async_redis_db.posting_slot("bob", delay) as second:
                raise RuntimeError("rejected by X")
        async with async_redis_db.posting_slot("bob", delay) as third:
            pass
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first == 0.0 and second > 0.9 and third == 0.0


def test_the_first_slot_given_back_leaves_no_reservation(redis_db: RedisDB, raw: redis.Redis) -> None:
    with pytest.raises(RuntimeError), redis_db.posting_slot("carol", 60):
        raise RuntimeError("rejected")
    assert not raw.exists(keys.posting_slot("carol"))
    with redis_db.posting_slot("carol", 60) as waited:
        assert waited == 0.0


def test_a_slot_taken_since_is_not_given_back(redis_db: RedisDB, raw: redis.Redis) -> None:
    with pytest.raises(RuntimeError), redis_db.posting_slot("dave", 0):
        with redis_db.posting_slot("dave", 0):  # another caller took the next slot meanwhile
            taken = go_of(raw, "dave")
        raise RuntimeError("rejected")
    assert taken is not None and go_of(raw, "dave") == taken


# --- cancelled callers ---


def test_a_cancelled_waiter_does_not_delay_the_next_caller(
    async_redis_db: AsyncRedisDB, raw: redis.Redis
) -> None:
    delay = 1.0

    async def scenario() -> tuple[float, float]:
        async with async_redis_db.posting_slot("erin", delay):
            first = time.monotonic()
        held = raw.hgetall(keys.posting_slot("erin"))
        waiter = asyncio.create_task(main.ensure_delay_between_posts("erin", delay))
        await asyncio.sleep(0.3)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        assert raw.hgetall(keys.posting_slot("erin")) == held  # the waiter held nothing
        await main.ensure_delay_between_posts("erin", delay)
        return first, time.monotonic()

    first, next_one = asyncio.run(scenario())
    # The next caller comes one slot after the first, as if the cancelled waiter never was.
    assert delay <= next_one - first < pacing.spacing(delay) + 0.5


def test_a_caller_cancelled_once_its_slot_was_taken_gives_it_back(
    async_redis_db: AsyncRedisDB, raw: redis.Redis
) -> None:
    """Cancelled after the server took the slot for it, before its reply arrived."""

    async def scenario() -> None:
        await main.ensure_delay_between_posts("warm", 60)  # connected, and the script known
        raw.client_pause(300, all=False)  # writes (the reservation script) wait on the server
        task = asyncio.create_task(main.ensure_delay_between_posts("fay", 60))
        await asyncio.sleep(0.1)  # its request is sent: the caller waits for the reply
        deadline = time.monotonic() + 5
        while not raw.exists(keys.posting_slot("fay")):  # blocks the loop: the reply stays unread
            assert time.monotonic() < deadline
            time.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert not raw.exists(keys.posting_slot("fay"))  # given back
    # Without the give-back, this caller would wait 60 s.
    assert asyncio.run(asyncio.wait_for(main.ensure_delay_between_posts("fay", 60), 10)) == 0.0


# --- the reservation ---


def test_a_retry_of_the_call_that_took_the_slot_is_told_go_again(redis_db: RedisDB) -> None:
    driver = SyncDriver(redis_db.connector)
    assert driver.run(pacing.reserve("gil", 5, "call-1")) == 0.0
    assert driver.run(pacing.reserve("gil", 5, "call-1")) == 0.0  # its reply was lost: retried
    assert 4.9 < driver.run(pacing.reserve("gil", 5, "call-2")) <= pacing.spacing(5)


def test_the_reservation_holds_the_servers_time_and_lives_at_most_its_lifetime(
    redis_db: RedisDB, raw: redis.Redis
) -> None:
    key = keys.posting_slot("hal")
    with redis_db.posting_slot("hal", 0):
        pass
    seconds, micros = raw.time()
    first = raw.hgetall(key)
    assert abs(int(first[b"go"]) - (seconds * 1_000_000 + micros)) < 1_000_000
    assert first[b"prev"] == b"" and first[b"prev_until"] == b""
    assert 590_000 < raw.pttl(key) <= pacing.lifetime_ms(0)
    until = raw.pexpiretime(key)
    with redis_db.posting_slot("hal", 0):
        pass
    second = raw.hgetall(key)
    assert second[b"prev"] == first[b"go"] and int(second[b"prev_until"]) == until
    assert int(second[b"go"]) >= int(first[b"go"]) and second[b"token"] != first[b"token"]


def test_the_default_delay_holds_the_next_caller_5_to_10_minutes(redis_db: RedisDB) -> None:
    assert asyncio.run(main.ensure_delay_between_posts("ivy")) == 0.0
    wait = SyncDriver(redis_db.connector).run(pacing.reserve("ivy", pacing.check("ivy", None), "next"))
    assert 299 < wait <= pacing.spacing(600)


def test_a_posts_key_of_another_type_is_an_error_and_nothing_is_written(
    redis_db: RedisDB, raw: redis.Redis
) -> None:
    raw.set("posted_tweets:jay", "not a sorted set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        asyncio.run(main.ensure_delay_between_posts("jay", 1))
    assert not raw.exists(keys.posting_slot("jay")) and raw.get("posted_tweets:jay") == b"not a sorted set"


# --- Redis Cluster: one slot for the posts and the reservation ---


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with EmbeddedCluster(1, 0, data_dir=tmp_path_factory.mktemp("pacing-cluster")) as nodes:
        client = RedisCluster(nodes.nodes[0].host, nodes.nodes[0].port)
        yield client
        client.close()


@pytest.mark.parametrize("username", ["alice", "{alice}", "a}b", "}{", "{x}y", "é{漢}"])
def test_the_scripts_run_on_a_cluster_whatever_the_username(cluster: RedisCluster, username: str) -> None:
    posts, slot = keys.posted_tweets(username), keys.posting_slot(username)
    cluster.zadd(posts, {"m": time.time()})
    reserve = (scripts.POSTING_RESERVE.text, 2, posts, slot, 0, 0, "t1", 600_000)
    assert cluster.eval(*reserve) == 0  # one slot: no CROSSSLOT
    assert cluster.eval(scripts.POSTING_RELEASE.text, 1, slot, "t1") == 1
    assert not cluster.exists(slot)
