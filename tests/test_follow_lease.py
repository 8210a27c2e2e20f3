"""Several followers at once: with the lease one follows and the other takes over; without it both
follow, and the records are still exact (every write is idempotent)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import redis
from follow_helpers import FAST, T0, following, member, member_ids, post_ids_of, record, wait_until, zadd

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.follow import Follower, FollowOptions

pytestmark = pytest.mark.usefixtures("redis_db")


def test_one_follows_the_other_stands_by_then_takes_over(raw: redis.Redis, redis_settings: RedisSettings):
    with following(redis_settings) as first:
        second = Follower(redis_settings, FAST)
        second.start()
        try:
            time.sleep(0.5)
            assert first.leading.is_set() and not second.leading.is_set()
            assert second.mode == "standby"
            zadd(raw, "alice", "p1", "p2")
            wait_until(lambda: record(raw, "p2"), what="p2")
            first.stop(10)  # releases the lease: the standby takes it at once
            wait_until(lambda: second.leading.is_set() and second.ready.is_set(), what="takeover")
            zadd(raw, "alice", "p3", ts=T0 + 5)
            raw.zrem(keys.posted_tweets("alice"), member("p1", "alice", T0))
            wait_until(lambda: post_ids_of(raw, "alice") == {"p2", "p3"}, what="followed by the second")
        finally:
            second.stop(10)
    assert second.stats.snapshot()["passes"] >= 1 and first.stats.snapshot()["passes"] >= 1


def test_a_lease_lost_to_another_holder_makes_the_follower_stand_down(raw: redis.Redis, redis_settings):
    with following(redis_settings) as follower:
        raw.set(keys.FOLLOW_LEASE, b"someone-else", px=1500)  # the lock expired and another took it
        wait_until(lambda: not follower.leading.is_set(), what="standing down")
        wait_until(
            lambda: follower.leading.is_set() and follower.ready.is_set(),
            timeout=10,
            what="leading again once the other's lease expired",
        )
        zadd(raw, "alice", "after")
        wait_until(lambda: record(raw, "after"), what="after")


def test_two_followers_without_lease_double_nothing(raw: redis.Redis, redis_settings: RedisSettings):
    both = FollowOptions(**{**FAST.__dict__, "lease": False})
    users = ["u1", "u2", "shared:x"]
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _i in range(300):
            user = rng.choice(users)
            pid = f"p{rng.randrange(120)}"  # the same ids again and again, under several accounts
            ts = T0 + rng.randrange(1000)
            raw.zadd(keys.posted_tweets(user), {member(pid, user, ts): ts})
            if rng.random() < 0.3:
                victim = raw.zrandmember(keys.posted_tweets(user))
                if victim:
                    raw.zrem(keys.posted_tweets(user), victim)
            if stop.is_set():
                return

    with following(redis_settings, both) as a, following(redis_settings, both) as b:
        assert a.leading.is_set() and b.leading.is_set()
        threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for user in users:
            wait_until(
                lambda u=user: post_ids_of(raw, u) == member_ids(raw, u), timeout=20, what=f"{user} in step"
            )
    stop.set()
    for key in raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX)):
        accounts = json.loads(raw.execute_command("JSON.GET", key))["accounts"]
        assert accounts and len(accounts) == len(set(accounts)), accounts
