"""A ``Follower`` used after it was stopped raises the public ``FollowerStoppedError``, never the
private signal its passes use internally."""

from __future__ import annotations

import threading

import pytest
import redis
from follow_helpers import FAST, following, record, wait_until, zadd

from redis_client.core.settings import RedisSettings
from redis_client.errors import FollowerError, FollowerStoppedError, RedisClientError
from redis_client.follow import Follower

pytestmark = pytest.mark.usefixtures("redis_db")


def test_every_entry_point_refuses_after_stop(raw: redis.Redis, redis_settings: RedisSettings) -> None:
    with following(redis_settings) as follower:
        zadd(raw, "alice", "p1")
        wait_until(lambda: record(raw, "p1"), what="the record of p1")
    assert issubclass(FollowerStoppedError, FollowerError)
    assert issubclass(FollowerStoppedError, RedisClientError)
    for call in (follower.reconcile, follower.start, lambda: follower.run(threading.Event())):
        with pytest.raises(FollowerStoppedError, match="create a new Follower"):
            call()
    zadd(raw, "alice", "p2")
    assert Follower(redis_settings, FAST).reconcile().in_step  # a new one works
    assert record(raw, "p2")


def test_a_run_ended_by_its_event_is_stopped_too(redis_settings: RedisSettings) -> None:
    follower = Follower(redis_settings, FAST)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,))
    thread.start()
    assert follower.ready.wait(20)
    stop.set()
    thread.join(20)
    with pytest.raises(FollowerStoppedError):
        follower.reconcile()


def test_stop_before_start(redis_settings: RedisSettings) -> None:
    follower = Follower(redis_settings, FAST)
    follower.stop()
    with pytest.raises(FollowerStoppedError):
        follower.start()
