"""The follower on a Redis Cluster: notifications and passes on every primary, a failover and
slots moved while it follows, ``sync --once``; never a legacy key written.

Real clusters from the project's launcher (``redis_client.embedded_cluster``); the test writes
the legacy keys with redis-py's cluster client or a plain client of one node, as other services
do, and waits (with a deadline) for the records. ``LIVE`` passes once at the start only: what
arrives later arrives by the notifications of the primary that holds the key.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster
from cluster_helpers import flush
from follow_helpers import (
    FAST,
    T0,
    account,
    accounts_of,
    following,
    legacy_dump,
    member,
    member_ids,
    post_ids_of,
    record,
    wait_until,
    zadd,
)

from redis_client.core import keys, slots
from redis_client.core.add_posts import add_posts_call, in_slots
from redis_client.core.connector import Connector
from redis_client.core.drivers import SyncDriver
from redis_client.core.protocol import Pipeline
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.embedded_cluster import EmbeddedCluster
from redis_client.follow import Follower, FollowOptions, removals
from redis_client.follow.fingerprint import parse_read, read_call

ROOT = Path(__file__).resolve().parent.parent
#: No periodic pass while a test runs: a record that appears came from a notification.
LIVE = FollowOptions(**{**FAST.__dict__, "interval": 300.0, "full_interval": None})
DATA = {"access_token": "tok-NOT-COPIED", "name": "N", "id": "7", "expires_at": "1700000000"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(3, 1, data_dir=tmp_path_factory.mktemp("cluster-follow")) as nodes:
        yield nodes


@pytest.fixture
def raw(cluster: EmbeddedCluster) -> Iterator[redis.cluster.RedisCluster]:
    """Another service's cluster client, on a flushed cluster."""
    client = redis.cluster.RedisCluster.from_url(cluster.url)
    flush(client)
    yield client
    client.close()


def settings_of(cluster: EmbeddedCluster) -> RedisSettings:
    return load_settings(url=cluster.url, cluster=True, startup_wait=10)


def on_each_primary(cluster: EmbeddedCluster, key_of: Callable[[str], str], stem: str = "u") -> list[str]:
    """One username per primary, whose key ``key_of(username)`` that primary serves."""
    found: dict[int, str] = {}
    for i in itertools.count():
        user = f"{stem}{i}"
        found.setdefault(cluster.node_for_slot(slots.slot_of(key_of(user))).port, user)
        if len(found) == len(cluster.primaries()):
            return [found[port] for port in sorted(found)]
    raise AssertionError("unreachable")


def members_only(settings: RedisSettings, user: str, pid: str, ts: int = T0) -> None:
    """What a cluster ``add_user_post`` killed between its two steps leaves: the member (its
    first single-slot step), no record."""
    call = add_posts_call(keys.posted_tweets(user), user, [member(pid, user, ts)], [ts],
                          [keys.model_key(keys.POST_PREFIX, pid)])
    first, _records = in_slots(call)
    assert first is not None
    SyncDriver(Connector(settings)).perform(first)


def sync_once(cluster: EmbeddedCluster) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_CLUSTER": "true", "REDIS_URL": cluster.url, "REDIS_STARTUP_WAIT": "10"}
    return subprocess.run([sys.executable, "-m", "redis_client", "sync", "--once"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_raw_writes_on_every_primary_reach_the_records_by_notifications(
    cluster: EmbeddedCluster, raw: Any
) -> None:
    users = on_each_primary(cluster, keys.posted_tweets)
    settings = settings_of(cluster)
    with following(settings, LIVE) as follower:
        assert follower.mode == "notifications"
        for user in users:
            zadd(raw, user, f"{user}-a", f"{user}-b")
        for user in users:
            wait_until(lambda u=user: accounts_of(raw, f"{u}-b") == [u], what=f"{user}'s records")
        first, second, third = users[:3]
        zadd(raw, second, f"{first}-a")  # one post, two accounts on two primaries
        wait_until(lambda: accounts_of(raw, f"{first}-a") == [first, second], what="a second account")
        members_only(settings, third, "half")  # an add_user_post killed after its first step
        wait_until(lambda: accounts_of(raw, "half") == [third], what="the missing record written")
        before = legacy_dump(raw)
        raw.zrem(keys.posted_tweets(first), member(f"{first}-a", first, T0))
        raw.delete(keys.posted_tweets(third))
        after = legacy_dump(raw)
        wait_until(lambda: accounts_of(raw, f"{first}-a") == [second], what="the account taken out")
        wait_until(lambda: post_ids_of(raw, third) == set(), what="the deleted key's records")
        assert follower.stats.snapshot()["passes"] == 1, "everything came by notifications"
    assert before != after and legacy_dump(raw) == after, "the follower wrote no legacy key"
    assert record(raw, f"{third}-a") is None and record(raw, "half") is None
    assert post_ids_of(raw, first) == {f"{first}-b"} and post_ids_of(raw, second) == {
        f"{second}-a", f"{second}-b", f"{first}-a"}


def test_accounts_and_action_times_on_every_primary(cluster: EmbeddedCluster, raw: Any) -> None:
    users = on_each_primary(cluster, keys.twitter_data, "d")
    timed = on_each_primary(cluster, lambda u: keys.action_time(u, "last_likes_time"), "t")
    with following(settings_of(cluster), LIVE) as follower:
        for user in users + timed:
            raw.hset(keys.twitter_data(user), mapping={**DATA, "username": user})
        for user in users + timed:
            wait_until(lambda u=user: account(raw, u), what=f"{user}'s account record")
        for n, user in enumerate(timed):
            raw.set(keys.action_time(user, "last_likes_time"), str(1_700_000_100 + n))
        for n, user in enumerate(timed):
            wait_until(lambda u=user, t=1_700_000_100 + n: account(raw, u)["last_likes_time"] == t,
                       what=f"{user}'s action time")
        raw.hset(keys.twitter_data(users[0]), "name", "Renamed")
        raw.delete(keys.twitter_data(users[1]))
        after = legacy_dump(raw)
        wait_until(lambda: account(raw, users[0])["name"] == "Renamed", what="a refreshed account")
        wait_until(lambda: account(raw, users[1]) is None, what="a removed account")
        assert follower.stats.snapshot()["passes"] == 1, "everything came by notifications"
    assert legacy_dump(raw) == after
    assert "tok-NOT-COPIED" not in str([account(raw, u) for u in users + timed])


def test_sync_once_reconciles_every_primary(cluster: EmbeddedCluster, raw: Any) -> None:
    users = on_each_primary(cluster, keys.posted_tweets, "o")
    settings = settings_of(cluster)
    for user in users:
        zadd(raw, user, *[f"{user}-{i}" for i in range(5)])
        raw.hset(keys.twitter_data(user), mapping={**DATA, "username": user})
        raw.set(keys.action_time(user, "last_likes_time"), "1700000050")
    before = legacy_dump(raw)
    done = sync_once(cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "in step" in done.stdout and f"{len(users)} seen" in done.stdout
    assert legacy_dump(raw) == before, "the follower wrote no legacy key"
    for user in users:
        assert post_ids_of(raw, user) == {f"{user}-{i}" for i in range(5)}
        assert account(raw, user)["last_likes_time"] == 1_700_000_050
    # While nothing followed: a removal, a deleted key, a gone account, members without records.
    first, second, third = users[:3]
    raw.zrem(keys.posted_tweets(first), member(f"{first}-1", first, T0 + 1))
    raw.delete(keys.posted_tweets(second))
    raw.delete(keys.twitter_data(third))
    for user in users:
        members_only(settings, user, f"{user}-half", T0 + 50)
    before = legacy_dump(raw)
    result = Follower(settings, FAST).reconcile()
    assert result.in_step and result.keys_marked == len(users)
    assert legacy_dump(raw) == before
    assert post_ids_of(raw, first) == {f"{first}-{i}" for i in (0, 2, 3, 4)} | {f"{first}-half"}
    assert post_ids_of(raw, second) == {f"{second}-half"} and record(raw, f"{second}-0") is None
    assert account(raw, third) is None and account(raw, first) is not None
    for user in users:
        assert post_ids_of(raw, user) == member_ids(raw, user)
    again = Follower(settings, FAST).reconcile()
    assert again.in_step and again.keys_marked == 0 and again.counts.posts_written == 0


def raced(driver: SyncDriver, op: Any, after: int, writer: Callable[[], None]) -> Any:
    """Run ``op``, with ``writer`` run once right after the op's ``after``-th pipeline: another
    service racing the op's next single-slot step."""
    result: Any = None
    pipelines = 0
    while True:
        try:
            request = op.send(result)
        except StopIteration as stop:
            return stop.value
        result = driver.perform(request)
        if isinstance(request, Pipeline):
            pipelines += 1
            if pipelines == after:
                writer()


def test_removals_raced_by_a_writer_are_healed_by_the_next_pass(cluster: EmbeddedCluster, raw: Any) -> None:
    settings = settings_of(cluster)
    user = "racer"
    zadd(raw, user, "p1", "p2")
    raw.hset(keys.twitter_data(user), mapping=DATA)
    assert Follower(settings, FAST).reconcile().in_step
    driver = SyncDriver(Connector(settings))
    zkey = keys.posted_tweets(user).encode()
    stored = raw.hget(keys.FOLLOW_FINGERPRINTS, zkey)
    raw.zrem(zkey, member("p2", user, T0 + 1))
    now = parse_read(driver.perform(read_call(zkey))).fingerprint
    job = removals.Unlink(zkey, user, now, ["p2"], stored)
    # p2 added back (the same member) between the records' step and the set's second read
    (done,) = raced(driver, removals.unlink([job]), 2, lambda: zadd(raw, user, "p2", ts=T0 + 1))
    assert done.changed and done.forgotten and record(raw, "p2") is None
    assert raw.hget(keys.FOLLOW_FINGERPRINTS, zkey) is None, "the next pass compares the set"
    raw.delete(keys.twitter_data(user))
    (dropped,) = raced(driver, removals.drop_accounts([user]), 1,
                       lambda: raw.hset(keys.twitter_data(user), mapping=DATA))
    assert dropped.removed == 1 and dropped.back and account(raw, user) is None
    # The follower stopped there (it would compare the set and the account again at once).
    result = Follower(settings, FAST).reconcile()
    assert result.in_step and result.keys_marked == 1
    assert accounts_of(raw, "p2") == [user] and account(raw, user) is not None


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A cluster of this test's own (its topology changes)."""
    with EmbeddedCluster(3, 1, data_dir=tmp_path_factory.mktemp("cluster-change")) as nodes:
        yield nodes


def test_a_primary_failed_over_while_following(own_cluster: EmbeddedCluster) -> None:
    raw = redis.cluster.RedisCluster.from_url(own_cluster.url)
    user = on_each_primary(own_cluster, keys.posted_tweets, "f")[0]
    victim = own_cluster.node_for_slot(slots.slot_of(keys.posted_tweets(user)))
    with following(settings_of(own_cluster), LIVE) as follower:
        zadd(raw, user, "before")
        wait_until(lambda: record(raw, "before"), what="a record before the failover")
        victim.kill()
        promoted = own_cluster.wait_for_promotion(victim)
        node = redis.Redis(promoted.host, promoted.port)
        zadd(node, user, "after", ts=T0 + 1)  # a raw write on the new primary
        wait_until(lambda: record(raw, "after"), timeout=40, what="the record of a write after the failover")
        wait_until(lambda: follower.mode == "notifications", timeout=40,
                   what="the follower to follow the new primary's notifications")
        events = follower.stats.snapshot()["events"]
        zadd(node, user, "live", ts=T0 + 2)
        wait_until(lambda: record(raw, "live"), what="a record after the failover, live")
        assert follower.stats.snapshot()["events"] > events, "it came by a notification"
        assert "K" in str(node.config_get("notify-keyspace-events")["notify-keyspace-events"])
    assert post_ids_of(raw, user) == {"before", "after", "live"} == member_ids(raw, user)
    node.close()
    raw.close()


def linked(raw: Any, user: str) -> bool:
    """Every member of ``user``'s set has its record, listing ``user`` (one round trip)."""
    ids = member_ids(raw, user)
    pipe = raw.pipeline(transaction=False)
    for pid in ids:
        pipe.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, pid), "$.accounts")
    return bool(ids) and all(doc is not None and user in json.loads(doc)[0] for doc in pipe.execute())


def records_by_account(raw: Any) -> dict[str, set[str]]:
    """The ids of the records listing each account (one SCAN of every record)."""
    out: dict[str, set[str]] = {}
    found = list(raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX), count=1000))
    pipe = raw.pipeline(transaction=False)
    for key in found:
        pipe.execute_command("JSON.GET", key)
    for doc in pipe.execute():
        if doc is not None:
            record = json.loads(doc)
            for user in record["accounts"]:
                out.setdefault(user, set()).add(record["id"])
    return out


def test_slots_moved_while_following_miss_nothing(own_cluster: EmbeddedCluster) -> None:
    moved = range(0, 40)
    users = [u for u in (f"m{i}" for i in range(20_000)) if slots.slot_of(keys.posted_tweets(u)) in moved][:4]
    source = own_cluster.node_for_slot(0)
    target = next(p for p in own_cluster.primaries() if p.port != source.port)
    raw = redis.cluster.RedisCluster.from_url(own_cluster.url)
    stop = threading.Event()
    written: list[tuple[str, str]] = []

    def writer() -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            user = users[i % len(users)]
            try:
                zadd(raw, user, f"{user}-{i}", ts=T0 + i)
            except redis.RedisError:
                continue  # not acknowledged: the agent would retry
            written.append((user, f"{user}-{i}"))
            stop.wait(0.005)

    with following(settings_of(own_cluster), LIVE) as follower:
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert own_cluster.move_slots(moved, target) > 0
        finally:
            stop.set()
            thread.join(30)
        for user in users:
            wait_until(lambda u=user: linked(raw, u), timeout=40, what=f"{user}'s records after the move")
        wait_until(lambda: follower.mode == "notifications", what="notifications after the move")
        events = follower.stats.snapshot()["events"]
        zadd(raw, users[0], "moved-live", ts=T0 + 100_000)  # now on the target
        wait_until(lambda: record(raw, "moved-live"), what="a live record on the target")
        assert follower.stats.snapshot()["events"] > events
    assert own_cluster.node_for_slot(slots.slot_of(keys.posted_tweets(users[0]))).port == target.port
    listed = records_by_account(raw)
    for user in users:
        assert listed[user] == member_ids(raw, user)
        assert {pid for u, pid in written if u == user} <= member_ids(raw, user)
    raw.close()
